/*
 * The streaming products over F_p: the encoding shape Out = Cf X (a few long rows X combined with
 * a small coefficient matrix, seed 004 eq. 9) and y = A^T x. Both read their long operand once.
 *
 * combine holds a block of RB output rows x W columns in uint64 accumulators (registers, once
 * gcc vectorises the fixed-width loops) while it walks the k rows of X, so every element of X is
 * loaded once per RB outputs and every output is written once, already reduced.
 *
 * matvec_t accumulates x_t A[t][:] row after row into a uint64 row buffer on the stack (A is read
 * in its storage order), four rows per pass.
 *
 * Partial sums are reduced whenever the next product could wrap (delayed reduction); for p above
 * about 2**29.5 every product is reduced on its own (see modarith.h).
 */
#include <string.h>

#include "modarith.h"
#include "pyprivml_kernels.h"

enum {
    W = 32,   /* columns per block: 4 AVX-512 (8 AVX2) vectors of uint64 per output row */
    RB = 3,   /* output rows per block: 3 x 4 accumulator vectors plus 4 for X fit 32 registers */
    LB = 2048, /* matvec_t: columns per pass; the uint64 row buffer is 16 KiB (L1) */
    X_PANEL_BYTES = 256 * 1024 /* combine: columns of X per pass, all k rows, stay in L2 */
};

#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* out[r][0:width] = sum_t c[r][t] X[t][0:width] mod p for r < rows. Inlined with constant rows
 * and width, so the accumulators s become vector registers. */
ALWAYS_INLINE void combine_block(int rows, size_t width, size_t k,
                                 const uint32_t *restrict c, size_t ldc,
                                 const uint32_t *restrict X, size_t ldx,
                                 int64_t *restrict out, size_t ldo, const ppml_modulus *md)
{
    uint64_t s[RB][W];
    for (int r = 0; r < rows; ++r)
        for (size_t jj = 0; jj < width; ++jj)
            s[r][jj] = 0;
    size_t t = 0;
    while (t < k) {
        const size_t end = k - t > md->block ? t + (size_t)md->block : k;
        for (; t < end; ++t) {
            const uint32_t *x = X + t * ldx;
            for (int r = 0; r < rows; ++r) {
                const uint64_t cr = c[r * ldc + t];
                for (size_t jj = 0; jj < width; ++jj)
                    s[r][jj] += cr * x[jj];
            }
        }
        if (t < k) /* fold before the next block of products could wrap */
            for (int r = 0; r < rows; ++r)
                for (size_t jj = 0; jj < width; ++jj)
                    s[r][jj] = REDUCE(s[r][jj], md);
    }
    for (int r = 0; r < rows; ++r)
        for (size_t jj = 0; jj < width; ++jj)
            out[r * ldo + jj] = (int64_t)REDUCE(s[r][jj], md);
}

PPML_HOT void combine_rows(int rows, size_t k, size_t L, const uint32_t *c, size_t ldc,
                         const uint32_t *X, size_t ldx, int64_t *out, size_t ldo,
                         const ppml_modulus *md)
{
    size_t j = 0;
    switch (rows) {
    case 3:
        for (; j + W <= L; j += W)
            combine_block(3, W, k, c, ldc, X + j, ldx, out + j, ldo, md);
        break;
    case 2:
        for (; j + W <= L; j += W)
            combine_block(2, W, k, c, ldc, X + j, ldx, out + j, ldo, md);
        break;
    default:
        for (; j + W <= L; j += W)
            combine_block(1, W, k, c, ldc, X + j, ldx, out + j, ldo, md);
        break;
    }
    if (j < L)
        combine_block(rows, L - j, k, c, ldc, X + j, ldx, out + j, ldo, md);
}

/* For p too large for delayed reduction: each product's 32-bit halves summed apart (as
 * dot_per_product in modmatmul.c), the halves folded every PPML_PER_PRODUCT_CHUNK terms. */
PPML_HOT void combine_per_product(size_t n, size_t k, size_t L, const uint32_t *Cf, size_t ldcf,
                                const uint32_t *X, size_t ldx, int64_t *out, size_t ldo,
                                const ppml_modulus *md)
{
    uint64_t hi[LB], lo[LB], total[LB];
    for (size_t j0 = 0; j0 < L; j0 += LB) {
        const size_t len = min_size(LB, L - j0);
        for (size_t i = 0; i < n; ++i) {
            memset(total, 0, len * sizeof *total);
            for (size_t t0 = 0; t0 < k; t0 += PPML_PER_PRODUCT_CHUNK) {
                const size_t end = min_size(k, t0 + PPML_PER_PRODUCT_CHUNK);
                memset(hi, 0, len * sizeof *hi);
                memset(lo, 0, len * sizeof *lo);
                for (size_t t = t0; t < end; ++t) {
                    const uint64_t c = Cf[i * ldcf + t];
                    const uint32_t *restrict x = X + t * ldx + j0;
                    for (size_t j = 0; j < len; ++j) {
                        const uint64_t prod = c * x[j];
                        hi[j] += prod >> 32;
                        lo[j] += prod & 0xFFFFFFFFu;
                    }
                }
                for (size_t j = 0; j < len; ++j)
                    total[j] = REDUCE(total[j] + ppml_fold_halves(hi[j], lo[j], md), md);
            }
            for (size_t j = 0; j < len; ++j)
                out[i * ldo + j0 + j] = (int64_t)total[j];
        }
    }
}

PPML_DISPATCH void ppml_combine(size_t n, size_t k, size_t L,
                  const uint32_t *Cf, size_t ldcf,
                  const uint32_t *X, size_t ldx,
                  uint32_t p, int64_t *out, size_t ldo)
{
    const ppml_modulus md = ppml_modulus_make(p);
    if (md.block < PPML_SMALL_BLOCK) {
        combine_per_product(n, k, L, Cf, ldcf, X, ldx, out, ldo, &md);
        return;
    }
    /* A panel of X (all k rows, `panel` columns) is read from memory once and reused from L2
     * by every group of RB output rows. */
    size_t panel = X_PANEL_BYTES / (sizeof *X * (k > 0 ? k : 1)) / W * W;
    panel = panel < W ? W : panel;
    for (size_t j0 = 0; j0 < L; j0 += panel) {
        const size_t len = min_size(panel, L - j0);
        size_t i = 0;
        for (; i + RB <= n; i += RB)
            combine_rows(RB, k, len, Cf + i * ldcf, ldcf, X + j0, ldx, out + i * ldo + j0, ldo, &md);
        if (i < n)
            combine_rows((int)(n - i), k, len, Cf + i * ldcf, ldcf, X + j0, ldx, out + i * ldo + j0,
                         ldo, &md);
    }
}

/* acc[j] += c0 x0[j] + c1 x1[j] + c2 x2[j] + c3 x3[j]: four terms per pass over acc. */
PPML_HOT void axpy4(size_t len, uint64_t *restrict acc, const uint32_t *c,
                  const uint32_t *restrict x, size_t ldx)
{
    const uint64_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    const uint32_t *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    for (size_t j = 0; j < len; ++j)
        acc[j] += c0 * x0[j] + c1 * x1[j] + c2 * x2[j] + c3 * x3[j];
}

PPML_HOT void axpy1(size_t len, uint64_t *restrict acc, uint64_t c, const uint32_t *restrict x)
{
    for (size_t j = 0; j < len; ++j)
        acc[j] += c * x[j];
}

PPML_HOT void reduce_row(size_t len, uint64_t *restrict acc, const ppml_modulus *md)
{
    for (size_t j = 0; j < len; ++j)
        acc[j] = REDUCE(acc[j], md);
}

PPML_DISPATCH void ppml_matvec_t(size_t n, size_t k, const uint32_t *A, size_t lda,
                   const uint32_t *x, uint32_t p, int64_t *y)
{
    const ppml_modulus md = ppml_modulus_make(p);
    if (md.block < PPML_SMALL_BLOCK) {
        /* (A^T x)^T = x^T A: one combination of A's rows. */
        combine_per_product(1, n, k, x, n, A, lda, y, k, &md);
        return;
    }
    uint64_t acc[LB];
    for (size_t j0 = 0; j0 < k; j0 += LB) {
        const size_t len = min_size(LB, k - j0);
        const uint32_t *a = A + j0;
        memset(acc, 0, len * sizeof *acc);
        uint64_t since = 0; /* products added to acc since it was last reduced */
        size_t t = 0;
        for (; t + 4 <= n; t += 4) {
            if (since + 4 > md.block) {
                reduce_row(len, acc, &md);
                since = 0;
            }
            axpy4(len, acc, x + t, a + t * lda, lda);
            since += 4;
        }
        for (; t < n; ++t) {
            if (since + 1 > md.block) {
                reduce_row(len, acc, &md);
                since = 0;
            }
            axpy1(len, acc, x[t], a + t * lda);
            since += 1;
        }
        for (size_t j = 0; j < len; ++j)
            y[j0 + j] = (int64_t)REDUCE(acc[j], &md);
    }
}
