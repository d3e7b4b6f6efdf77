/*
 * Entry-wise arithmetic in F_p: out[i] = a[i] + b[i], a[i] - b[i] or a[i] b[i] modulo p.
 *
 * Elements are uint32 in [0, p) with p < 2**32, so a + b < 2**33 and a b <= (p - 1)**2 < 2**64
 * are exact in uint64: a sum or difference needs one conditional correction by p, a product one
 * division-free reduction (modarith.h). Every result equals the integer result modulo p.
 *
 * Broadcasting is the caller's (the Python bindings expand operands to the output's shape), except
 * for the one case that would cost a copy of the whole output: an increment of 0 repeats a single
 * element (an array times a constant). Increments 1 and 0 get their own loops, which gcc -O3
 * vectorises; any other increment takes a plain strided loop.
 */
#include "modarith.h"
#include "pyprivml_kernels.h"

static inline uint64_t add_op(uint64_t x, uint64_t y, const ppml_modulus *md)
{
    const uint64_t s = x + y; /* < 2p < 2**33 */
    return s >= md->p ? s - md->p : s;
}

static inline uint64_t sub_op(uint64_t x, uint64_t y, const ppml_modulus *md)
{
    return x >= y ? x - y : x + md->p - y; /* x + p - y lies in (0, p) */
}

static inline uint64_t mul_op(uint64_t x, uint64_t y, const ppml_modulus *md)
{
    return REDUCE(x * y, md); /* x y <= (p - 1)**2 < 2**64 */
}

/* The four loops of one operation: contiguous operands, a repeated a, a repeated b, strides. */
#define PPML_ENTRYWISE(name, OP)                                                           \
    PPML_DISPATCH void name(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb, \
              uint32_t p, int64_t *out)                                                     \
    {                                                                                       \
        if (count == 0)                                                                     \
            return;                                                                         \
        const ppml_modulus md = ppml_modulus_make(p);                                       \
        if (inca == 1 && incb == 1) {                                                       \
            for (size_t i = 0; i < count; ++i)                                              \
                out[i] = (int64_t)OP(a[i], b[i], &md);                                      \
        } else if (inca == 0 && incb == 1) {                                                \
            const uint64_t x = a[0];                                                        \
            for (size_t i = 0; i < count; ++i)                                              \
                out[i] = (int64_t)OP(x, b[i], &md);                                         \
        } else if (inca == 1 && incb == 0) {                                                \
            const uint64_t y = b[0];                                                        \
            for (size_t i = 0; i < count; ++i)                                              \
                out[i] = (int64_t)OP(a[i], y, &md);                                         \
        } else {                                                                            \
            for (size_t i = 0; i < count; ++i)                                              \
                out[i] = (int64_t)OP(a[i * inca], b[i * incb], &md);                        \
        }                                                                                   \
    }

PPML_ENTRYWISE(ppml_add, add_op)
PPML_ENTRYWISE(ppml_sub, sub_op)
PPML_ENTRYWISE(ppml_mul, mul_op)
