/*
 * Quantisation between the reals and F_p (seed 004): deterministic Round (eq. 3, ties go up),
 * stochastic Round_stoc (eq. 6) with a counter-based SplitMix64 stream, and the embedding phi of
 * eq. (5). Bit-identical to pyprivml/backends/numpy_backend.py, which computes the same float64
 * operations in the same order (x = w * scale, f = floor(x), then x - f; floor is computed exactly
 * without libm, see floor_exact).
 *
 * The maximum |x| is tracked on the IEEE bit patterns with the sign cleared: for non-negative
 * doubles the integer order is the numeric order, infinities sit just above every finite value and
 * NaNs above them, so one integer max gives NumPy's np.max(np.abs(x)) including NaN propagation,
 * and it vectorises.
 */
#include <math.h>
#include <string.h>

#include "modarith.h"
#include "pyprivml_kernels.h"

#define GOLDEN_GAMMA UINT64_C(0x9E3779B97F4A7C15)
#define ABS_MASK UINT64_C(0x7FFFFFFFFFFFFFFF)
#define INF_BITS UINT64_C(0x7FF0000000000000)

/* Internal so that it inlines into the loops: in a shared library (-fPIC) calls to the exported
 * ppml_mix64 could be interposed, which would keep gcc from inlining and vectorising them. */
static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

uint64_t ppml_mix64(uint64_t z) { return mix64(z); }

static inline double uniform_at(uint64_t key, uint64_t j)
{
    /* (z >> 11) < 2**53 converts exactly; the signed conversion vectorises more widely. */
    return (double)(int64_t)(mix64(key + (j + 1u) * GOLDEN_GAMMA) >> 11) * 0x1p-53;
}

PPML_DISPATCH void ppml_uniforms(uint64_t key, uint64_t start, size_t count, double *u)
{
    for (size_t i = 0; i < count; ++i)
        u[i] = uniform_at(key, start + i);
}

static inline uint64_t abs_bits(double x)
{
    union { double d; uint64_t u; } bits; /* a union (not memcpy) lets gcc vectorise the loop */
    bits.d = x;
    return bits.u & ABS_MASK;
}

/* floor(v), exactly, from adds and compares only: gcc vectorises libm's floor only under
 * -fno-trapping-math. For |v| < 2**52, (v + 2**52) - 2**52 (signs matched) is v rounded to an
 * integer; step down if that went up. Larger magnitudes are integers already (NaN stays NaN). */
static inline double floor_exact(double v)
{
    const double m = copysign(0x1p52, v);
    const double r = (v + m) - m;
    const double f = r > v ? r - 1.0 : r;
    return fabs(v) < 0x1p52 ? f : v;
}

PPML_HOT double bits_to_max(uint64_t bits)
{
    if (bits > INF_BITS)
        return NAN;
    double m;
    memcpy(&m, &bits, sizeof m);
    return m;
}

/* phi (eq. 5) of an integer-valued double: negatives map to p + r. Values no valid input can
 * produce (non-finite, beyond 2**62) become 0 rather than an undefined conversion. */
static inline int64_t embed(double r, int64_t p)
{
    const double s = fabs(r) <= 0x1p62 ? r : 0.0;
    const int64_t v = (int64_t)s;
    return v + (v < 0 ? p : 0);
}

PPML_DISPATCH double ppml_quantize(size_t count, const double *restrict x, double scale, uint32_t p,
                     int64_t *restrict out)
{
    const int64_t pp = (int64_t)p;
    uint64_t max_bits = 0;
    for (size_t i = 0; i < count; ++i) {
        const double v = x[i] * scale;
        const uint64_t b = abs_bits(v);
        max_bits = b > max_bits ? b : max_bits;
        const double f = floor_exact(v);
        out[i] = embed(f + (v - f >= 0.5 ? 1.0 : 0.0), pp);
    }
    return bits_to_max(max_bits);
}

PPML_DISPATCH double ppml_quantize_stochastic(size_t count, const double *restrict w, double scale, uint32_t p,
                                uint64_t key, size_t copies, uint64_t first,
                                int64_t *restrict out)
{
    const int64_t pp = (int64_t)p;
    uint64_t max_bits = 0;
    if (copies == 1) {
        for (size_t i = 0; i < count; ++i) {
            const double v = w[i] * scale;
            const uint64_t b = abs_bits(v);
            max_bits = b > max_bits ? b : max_bits;
            const double f = floor_exact(v);
            const double u = uniform_at(key, first + i);
            out[i] = embed(f + (u < v - f ? 1.0 : 0.0), pp);
        }
        return bits_to_max(max_bits);
    }
    for (size_t i = 0; i < count; ++i) {
        const double v = w[i] * scale;
        const uint64_t b = abs_bits(v);
        max_bits = b > max_bits ? b : max_bits;
        const double f = floor_exact(v), frac = v - f;
        const uint64_t j0 = (first + i) * copies;
        int64_t *o = out + i * copies;
        for (size_t c = 0; c < copies; ++c)
            o[c] = embed(f + (uniform_at(key, j0 + c) < frac ? 1.0 : 0.0), pp);
    }
    return bits_to_max(max_bits);
}
