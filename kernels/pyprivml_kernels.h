/*
 * pyprivml kernels: exact arithmetic in the prime field F_p (2 <= p < 2**32) and quantisation
 * between the reals and F_p (seed 004, eqs. 3-7), in portable C99.
 *
 * Conventions
 *  - Field elements enter as uint32_t in [0, p); results leave as int64_t in [0, p).
 *  - Matrices are row-major with a leading dimension (distance in elements between rows), so a
 *    caller may pass a block of a larger matrix; every leading dimension must be >= the row length.
 *  - Callers own every buffer: kernels never allocate and never read outside the given shapes.
 *  - Products are accumulated in uint64_t and reduced modulo p once per block of terms that cannot
 *    overflow (delayed reduction), so results equal the integer result modulo p bit for bit.
 *  - Kernels are single-threaded and reentrant: callers may run them concurrently on disjoint
 *    outputs (the Python bindings release the GIL around each call).
 */
#ifndef PYPRIVML_KERNELS_H
#define PYPRIVML_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* floor((2**64 - 1) / (p - 1)**2): products of two elements that sum in 64 bits without wrapping
 * (UINT64_MAX for p = 2). Matches pyprivml.field.max_delayed_terms. */
uint64_t ppml_max_delayed_terms(uint32_t p);

/* Which build of the dispatched kernels this CPU runs: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3,
 * AVX2), 1 (baseline x86-64), or 0 when the library was built without run-time dispatch. */
int ppml_dispatch_level(void);
/* Whether modmatmul's 4 x 4 tiles run on AVX-512 IFMA (for p < 2**26, where the CPU has it):
 * enable = 1 turns it on where the CPU allows, 0 off, -1 only asks. Returns the state. */
int ppml_ifma_route(int enable);

/* C = A Bt^T mod p: A is n x k (leading dimension lda), Bt is B transposed, m x k (ldb), C is
 * n x m (ldc). Passing B transposed makes both operands of every inner product contiguous. */
void ppml_matmul(size_t n, size_t m, size_t k,
                 const uint32_t *A, size_t lda,
                 const uint32_t *Bt, size_t ldb,
                 uint32_t p, int64_t *C, size_t ldc);

/* y = A x mod p for A n x k (lda) and x of length k; y has length n. */
void ppml_matvec(size_t n, size_t k, const uint32_t *A, size_t lda,
                 const uint32_t *x, uint32_t p, int64_t *y);

/* y = A^T x mod p for A n x k (lda) and x of length n; y has length k. */
void ppml_matvec_t(size_t n, size_t k, const uint32_t *A, size_t lda,
                   const uint32_t *x, uint32_t p, int64_t *y);

/* Out = Cf X mod p for a small coefficient matrix Cf (n x k, ldcf) and a few long rows X (k x L,
 * ldx); Out is n x L (ldo). The encoding shape of Lagrange coding (seed 004 eq. 9): X is streamed
 * once in column chunks that stay in cache while all n combinations are formed. */
void ppml_combine(size_t n, size_t k, size_t L,
                  const uint32_t *Cf, size_t ldcf,
                  const uint32_t *X, size_t ldx,
                  uint32_t p, int64_t *out, size_t ldo);

/* Entry-wise out[i] = a[i * inca] op b[i * incb] mod p for i < count, op one of +, -, * (elements
 * in [0, p); results in [0, p), exact for every p < 2**32 since (p - 1)**2 < 2**64). The usual
 * increments are 1 (a contiguous operand) and 0 (one element repeated: an array and a constant);
 * neither operand is read when count = 0. `out` may not overlap the operands. */
void ppml_add(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
              uint32_t p, int64_t *out);
void ppml_sub(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
              uint32_t p, int64_t *out);
void ppml_mul(size_t count, const uint32_t *a, size_t inca, const uint32_t *b, size_t incb,
              uint32_t p, int64_t *out);

/* out[i] = phi(Round(scale * x[i])) (eqs. 3-5; Round sends ties up). Returns max |scale * x[i]|:
 * NaN if any scaled value is NaN, else +inf if any is infinite, 0 for count = 0. Entries whose
 * rounded value is not finite or exceeds 2**62 in magnitude are written as 0 (callers reject them
 * through the returned maximum). */
double ppml_quantize(size_t count, const double *x, double scale, uint32_t p, int64_t *out);

/* `copies` independent phi(Round_stoc(scale * w[i])) (eqs. 6-7): out[i * copies + c] rounds up iff
 * u_j < frac(scale * w[i]) for the stream index j = (first + i) * copies + c, where u_j is
 * ppml_uniform(key, j). `first` lets callers split one stream across threads. Returns max
 * |scale * w[i]| as ppml_quantize does. */
double ppml_quantize_stochastic(size_t count, const double *w, double scale, uint32_t p,
                                uint64_t key, size_t copies, uint64_t first, int64_t *out);

/* The counter-based uniform stream (SplitMix64, Steele, Lea and Flood 2014):
 * u_j = (mix64(key + (j + 1) * 0x9E3779B97F4A7C15) >> 11) * 2**-53, for j = start .. start+count-1. */
void ppml_uniforms(uint64_t key, uint64_t start, size_t count, double *u);

/* The SplitMix64 finaliser (exposed for tests and for deriving stream keys). */
uint64_t ppml_mix64(uint64_t z);

/* -- GradientCoin proof of work (pow_nonce.c) -------------------------------------------------
 * The nonce search of a 112-byte block header: sha256d(prefix || nonce as 4 little-endian bytes),
 * the digest read as a little-endian 256-bit integer, must be <= target (32 little-endian bytes).
 * Routes: the portable C SHA-256 of FIPS 180-4, and the x86 SHA extensions (chosen by CPUID at
 * run time; compiled only on x86-64 with GCC or Clang). AUTO picks SHA-NI where the CPU has it. */
#define PPML_POW_ROUTE_AUTO 0
#define PPML_POW_ROUTE_PORTABLE 1
#define PPML_POW_ROUTE_SHANI 2
#define PPML_POW_ERR_ROUTE (-1) /* a route this build or this CPU does not have */

/* Bit (1 << route) set for each route this CPU can run (PORTABLE always). */
unsigned int ppml_pow_routes(void);

/* The route AUTO, PORTABLE or SHANI stands for on this CPU, or PPML_POW_ERR_ROUTE. */
int ppml_pow_resolve_route(int route);

/* Try nonces start_nonce, start_nonce + 1, ... in order, at most `count` of them and never past
 * 2**32 - 1 (count is clamped to 2**32 - start_nonce), with `prefix` the header's first 108 bytes.
 * Returns 1 and sets *nonce_out to the first nonce that meets the target (and, when hash_out is not
 * NULL, its 32-byte digest in hashlib's byte order), 0 when none of them does, or
 * PPML_POW_ERR_ROUTE. *tried_out receives the number of nonces hashed (the found one included). */
int ppml_pow_search(const uint8_t prefix[108], const uint8_t target[32], uint32_t start_nonce,
                    uint64_t count, int route, uint32_t *nonce_out, uint64_t *tried_out,
                    uint8_t hash_out[32]);

/* sha256d(prefix || nonce) by the given route, through the same code as ppml_pow_search (which it
 * calls with the largest target and count 1). Returns 0, or PPML_POW_ERR_ROUTE. */
int ppml_pow_hash(const uint8_t prefix[108], uint32_t nonce, int route, uint8_t hash_out[32]);

#ifdef __cplusplus
}
#endif

#endif /* PYPRIVML_KERNELS_H */
