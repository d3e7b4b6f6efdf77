/*
 * Exact modular matrix products over F_p with delayed reduction (DESIGN.md, "Finite field
 * conventions"): products of uint32 elements accumulate in uint64 and are reduced modulo p only
 * when one more block of products could wrap, i.e. once per inner product for the default
 * p < 2**25 and k <= 16384.
 *
 * matmul keeps 4 x 4 output tiles in sixteen uint64 accumulators and walks both operands (A and
 * B transposed) contiguously, so gcc -O3 turns the inner loop into 32 x 32 -> 64-bit vector
 * multiplies (vpmuludq). k is cut into chunks that keep a 4-row panel of A in L1 and a block of
 * B's rows in L2; partial sums live in the output buffer between chunks.
 *
 * For p close to 2**32 fewer than PPML_SMALL_BLOCK products fit in 64 bits; then every product is
 * reduced on its own before it is added (still exact, slower).
 *
 * The streaming products (A^T x and the encoding shape) are in combine.c.
 */
#include <string.h>

#include "modarith.h"
#include "pyprivml_kernels.h"

enum {
    KC = 1024, /* inner-dimension chunk: 4 rows of A = 16 KiB stay in L1 */
    JB = 64    /* rows of Bt per block: JB x KC x 4 bytes = 256 KiB stay in L2 */
};

int ppml_dispatch_level(void)
{
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(PPML_NO_DISPATCH)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return 4;
    if (__builtin_cpu_supports("x86-64-v3"))
        return 3;
    return 1;
#else
    return 0;
#endif
}

uint64_t ppml_max_delayed_terms(uint32_t p)
{
    uint64_t pm1 = (uint64_t)p - 1u;
    if (pm1 <= 1u)
        return UINT64_MAX;
    return UINT64_MAX / (pm1 * pm1);
}

/* c[r][q] += sum_t a_r[t] b_q[t] for a 4 x 4 tile; reduced modulo p when `reduce` is set. */
PPML_HOT void tile4x4(size_t len, const uint32_t *restrict a, size_t lda,
                    const uint32_t *restrict b, size_t ldb,
                    uint64_t *restrict c, size_t ldc, const ppml_modulus *md, int reduce)
{
    const uint32_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    const uint32_t *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
    uint64_t s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
    uint64_t s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
    for (size_t t = 0; t < len; ++t) {
        const uint64_t x0 = a0[t], x1 = a1[t], x2 = a2[t], x3 = a3[t];
        const uint64_t y0 = b0[t], y1 = b1[t], y2 = b2[t], y3 = b3[t];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
    }
    const uint64_t s[16] = {s00, s01, s02, s03, s10, s11, s12, s13,
                            s20, s21, s22, s23, s30, s31, s32, s33};
    for (int r = 0; r < 4; ++r) {
        for (int q = 0; q < 4; ++q) {
            uint64_t v = c[r * ldc + q] + s[4 * r + q];
            c[r * ldc + q] = reduce ? REDUCE(v, md) : v;
        }
    }
}

/* c[r * cs] += sum_t a_r[t] v[t] for four rows a_r: a 4 x 1 tile, or a 1 x 4 tile with the
 * operands' roles swapped. */
PPML_HOT void tile4x1(size_t len, const uint32_t *restrict a, size_t lda,
                    const uint32_t *restrict v, uint64_t *restrict c, size_t cs,
                    const ppml_modulus *md, int reduce)
{
    const uint32_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t t = 0; t < len; ++t) {
        const uint64_t y = v[t];
        s0 += a0[t] * y; s1 += a1[t] * y; s2 += a2[t] * y; s3 += a3[t] * y;
    }
    const uint64_t s[4] = {s0, s1, s2, s3};
    for (int r = 0; r < 4; ++r) {
        uint64_t w = c[r * cs] + s[r];
        c[r * cs] = reduce ? REDUCE(w, md) : w;
    }
}

PPML_HOT void tile1x1(size_t len, const uint32_t *restrict a, const uint32_t *restrict b,
                    uint64_t *restrict c, const ppml_modulus *md, int reduce)
{
    uint64_t s = 0;
    for (size_t t = 0; t < len; ++t)
        s += (uint64_t)a[t] * b[t];
    s += *c;
    *c = reduce ? REDUCE(s, md) : s;
}

/* The AVX-512 IFMA tile: vpmadd52luq adds the low 52 bits of a 52 x 52-bit product to a 64-bit
 * lane in one instruction, where the portable tile needs a multiply (vpmuludq) and an add. For
 * p < 2**26 every product (p-1)**2 < 2**52, so the low 52 bits are the whole product and the
 * sums are exactly those of tile4x4; the same delayed-reduction blocks apply. Compiled for IFMA
 * only and called only where the CPU has it (ppml_ifma_route). */
#if PPML_HAVE_IFMA
#include <immintrin.h>

#define PPML_IFMA_MAX_P ((uint64_t)1 << 26)

static int ifma_enabled = -1; /* -1: not yet read from CPUID */

static int cpu_has_ifma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

int ppml_ifma_route(int enable)
{
    if (enable == 0)
        ifma_enabled = 0;
    else if (enable == 1 || ifma_enabled < 0)
        ifma_enabled = cpu_has_ifma();
    return ifma_enabled;
}

__attribute__((target("avx512f,avx512ifma"), noinline))
static void tile4x4_ifma(size_t len, const uint32_t *restrict a, size_t lda,
                         const uint32_t *restrict b, size_t ldb,
                         uint64_t *restrict c, size_t ldc, const ppml_modulus *md, int reduce)
{
    const uint32_t *ar[4] = {a, a + lda, a + 2 * lda, a + 3 * lda};
    const uint32_t *br[4] = {b, b + ldb, b + 2 * ldb, b + 3 * ldb};
    __m512i s[16];
    for (int i = 0; i < 16; ++i)
        s[i] = _mm512_setzero_si512();
    size_t t = 0;
    for (; t + 8 <= len; t += 8) {
        __m512i x[4], y[4];
        for (int r = 0; r < 4; ++r) {
            x[r] = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(ar[r] + t)));
            y[r] = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(br[r] + t)));
        }
        for (int r = 0; r < 4; ++r)
            for (int q = 0; q < 4; ++q)
                s[4 * r + q] = _mm512_madd52lo_epu64(s[4 * r + q], x[r], y[q]);
    }
    uint64_t sums[16];
    for (int i = 0; i < 16; ++i)
        sums[i] = (uint64_t)_mm512_reduce_add_epi64(s[i]);
    for (; t < len; ++t)
        for (int r = 0; r < 4; ++r)
            for (int q = 0; q < 4; ++q)
                sums[4 * r + q] += (uint64_t)ar[r][t] * br[q][t];
    for (int r = 0; r < 4; ++r) {
        for (int q = 0; q < 4; ++q) {
            uint64_t v = c[r * ldc + q] + sums[4 * r + q];
            c[r * ldc + q] = reduce ? REDUCE(v, md) : v;
        }
    }
}
#else
int ppml_ifma_route(int enable)
{
    (void)enable;
    return 0;
}
#endif

/* sum_t a[t] b[t] mod p, for primes too large for delayed reduction (p above about 2**29.5, where
 * a 64-bit sum holds fewer than PPML_SMALL_BLOCK products). Each product (< 2**64) is split into
 * its 32-bit halves, summed in two 64-bit accumulators that hold 2**32 halves each; the total is
 * hi 2**32 + lo (ppml_fold_halves), folded every PPML_PER_PRODUCT_CHUNK terms. Two adds, a shift
 * and a mask per product, all in 64-bit lanes, instead of reducing every product. */
PPML_HOT uint64_t dot_per_product(size_t len, const uint32_t *restrict a,
                                const uint32_t *restrict b, const ppml_modulus *md)
{
    uint64_t total = 0;
    for (size_t t0 = 0; t0 < len; t0 += PPML_PER_PRODUCT_CHUNK) {
        size_t end = min_size(len, t0 + PPML_PER_PRODUCT_CHUNK);
        uint64_t hi = 0, lo = 0;
        for (size_t t = t0; t < end; ++t) {
            const uint64_t prod = (uint64_t)a[t] * b[t];
            hi += prod >> 32;
            lo += prod & 0xFFFFFFFFu;
        }
        total = REDUCE(total + ppml_fold_halves(hi, lo, md), md);
    }
    return total;
}

PPML_HOT void matmul_per_product(size_t n, size_t m, size_t k, const uint32_t *A, size_t lda,
                               const uint32_t *Bt, size_t ldb, const ppml_modulus *md,
                               int64_t *C, size_t ldc)
{
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < m; ++j)
            C[i * ldc + j] = (int64_t)dot_per_product(k, A + i * lda, Bt + j * ldb, md);
}

/* One chunk of the inner dimension, [k0, k0 + len), added into the partial sums in acc; the full
 * 4 x 4 tiles through IFMA when `ifma` is set. */
PPML_HOT void matmul_chunk(size_t n, size_t m, size_t k0, size_t len,
                         const uint32_t *A, size_t lda, const uint32_t *Bt, size_t ldb,
                         uint64_t *acc, size_t ldc, const ppml_modulus *md, int reduce, int ifma)
{
    (void)ifma;
    for (size_t j0 = 0; j0 < m; j0 += JB) {
        const size_t jend = min_size(m, j0 + JB);
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            const uint32_t *a = A + i * lda + k0;
            size_t j = j0;
            for (; j + 4 <= jend; j += 4) {
#if PPML_HAVE_IFMA
                if (ifma) {
                    tile4x4_ifma(len, a, lda, Bt + j * ldb + k0, ldb, acc + i * ldc + j, ldc, md, reduce);
                    continue;
                }
#endif
                tile4x4(len, a, lda, Bt + j * ldb + k0, ldb, acc + i * ldc + j, ldc, md, reduce);
            }
            for (; j < jend; ++j)
                tile4x1(len, a, lda, Bt + j * ldb + k0, acc + i * ldc + j, ldc, md, reduce);
        }
        for (; i < n; ++i) {
            const uint32_t *a = A + i * lda + k0;
            size_t j = j0;
            for (; j + 4 <= jend; j += 4)
                tile4x1(len, Bt + j * ldb + k0, ldb, a, acc + i * ldc + j, 1, md, reduce);
            for (; j < jend; ++j)
                tile1x1(len, a, Bt + j * ldb + k0, acc + i * ldc + j, md, reduce);
        }
    }
}

PPML_DISPATCH void ppml_matmul(size_t n, size_t m, size_t k,
                 const uint32_t *A, size_t lda,
                 const uint32_t *Bt, size_t ldb,
                 uint32_t p, int64_t *C, size_t ldc)
{
    if (n == 0 || m == 0)
        return;
    const ppml_modulus md = ppml_modulus_make(p);
    if (md.block < PPML_SMALL_BLOCK && k > 0) {
        matmul_per_product(n, m, k, A, lda, Bt, ldb, &md, C, ldc);
        return;
    }
    /* int64_t and uint64_t may alias (C99 6.5p7): the output holds the uint64 partial sums. */
    uint64_t *acc = (uint64_t *)C;
    for (size_t i = 0; i < n; ++i)
        memset(acc + i * ldc, 0, m * sizeof *acc);
#if PPML_HAVE_IFMA
    const int ifma = p < PPML_IFMA_MAX_P && ppml_ifma_route(-1);
#else
    const int ifma = 0;
#endif
    const size_t kc = (size_t)(md.block < KC ? md.block : KC);
    uint64_t since = 0; /* products added since the last reduction */
    for (size_t k0 = 0; k0 < k; k0 += kc) {
        const size_t len = min_size(kc, k - k0);
        const size_t next = min_size(kc, k - k0 - len);
        since += len;
        const int reduce = next == 0 || since + next > md.block;
        matmul_chunk(n, m, k0, len, A, lda, Bt, ldb, acc, ldc, &md, reduce, ifma);
        if (reduce)
            since = 0;
    }
}

PPML_DISPATCH void ppml_matvec(size_t n, size_t k, const uint32_t *A, size_t lda,
                 const uint32_t *x, uint32_t p, int64_t *y)
{
    /* A x is A (x^T)^T: a matmul with one row of Bt. */
    ppml_matmul(n, 1, k, A, lda, x, k, p, y, 1);
}
