/*
 * Reduction of 64-bit sums modulo a 32-bit p without a division instruction, written so that
 * compilers vectorise it (internal to the kernels).
 *
 * x = hi * 2**32 + lo is folded to y = hi * (2**32 mod p) + lo, which is congruent to x and below
 * (2**32 - 1) * p < 2**64. The quotient y / p < 2**32 is then estimated in double precision with
 * relative error below 2**-50, so the estimate is off by at most one and r = y - q p lies in
 * [-p, 2p): one conditional correction each way gives y mod p exactly.
 */
#ifndef PYPRIVML_MODARITH_H
#define PYPRIVML_MODARITH_H

#include <stddef.h>
#include <stdint.h>

/* Run-time dispatch. The library is compiled for the baseline x86-64 target; every exported hot
 * kernel carries PPML_DISPATCH, so GCC builds it three times (x86-64-v4 = AVX-512 F/BW/CD/DQ/VL,
 * x86-64-v3 = AVX2/FMA/BMI2, and the baseline) and the dynamic loader picks the best clone for
 * the CPU it runs on (an ifunc resolver reading CPUID). The loops' helpers are PPML_HOT: forced
 * inline, so they are compiled into each clone with its instruction set. Elsewhere (Clang, ARM,
 * non-glibc systems, or -DPPML_NO_DISPATCH) the kernels are plain portable C for the build target.
 * ppml_dispatch_level() says which clone this CPU gets. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && !defined(PPML_NO_DISPATCH)
#define PPML_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PPML_DISPATCH
#endif
#define PPML_HOT static inline __attribute__((always_inline))
/* The AVX-512 IFMA tiles (modmatmul.c) exist where GCC on x86-64 can target them at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(PPML_NO_DISPATCH)
#define PPML_HAVE_IFMA 1
#else
#define PPML_HAVE_IFMA 0
#endif

/* Below this many delayed terms (p above about 2**29.5) every product is reduced on its own. */
#define PPML_SMALL_BLOCK 32
/* Sums of products' 32-bit halves (each < 2**32) are folded before 2**31 of them pile up. */
#define PPML_PER_PRODUCT_CHUNK ((size_t)1 << 31)

typedef struct {
    uint64_t p;
    uint64_t two32; /* 2**32 mod p */
    double inv;     /* 1 / p, rounded */
    uint64_t block; /* products of two elements addable to a residue (< p) without wrapping */
} ppml_modulus;

static inline ppml_modulus ppml_modulus_make(uint32_t p)
{
    ppml_modulus m;
    uint64_t pm1 = (uint64_t)p - 1u;
    m.p = p;
    m.two32 = ((uint64_t)1 << 32) % p;
    m.inv = 1.0 / (double)p;
    /* residue + block * (p-1)**2 <= (p-1) + block * (p-1)**2 <= 2**64 - 1; p (p-1) < 2**64 so
     * block >= 1 for every p < 2**32. */
    m.block = pm1 <= 1u ? UINT64_MAX : (UINT64_MAX - pm1) / (pm1 * pm1);
    return m;
}

static inline uint64_t ppml_reduce(uint64_t x, uint64_t p, uint64_t two32, double inv)
{
    uint64_t y = (x >> 32) * two32 + (x & 0xFFFFFFFFu);
    uint64_t q = (uint64_t)(int64_t)((double)y * inv); /* < 2**33: the signed conversion is exact */
    int64_t r = (int64_t)(y - q * p);
    r += r < 0 ? (int64_t)p : 0;
    r -= r >= (int64_t)p ? (int64_t)p : 0;
    return (uint64_t)r;
}

#define REDUCE(v, md) ppml_reduce((v), (md)->p, (md)->two32, (md)->inv)

/* (hi 2**32 + lo) mod p for any 64-bit hi and lo: the sums of products' high and low halves that
 * the per-product paths keep. REDUCE(hi) < p and 2**32 mod p < p, so their product fits. */
static inline uint64_t ppml_fold_halves(uint64_t hi, uint64_t lo, const ppml_modulus *md)
{
    return REDUCE(REDUCE(REDUCE(hi, md) * md->two32, md) + REDUCE(lo, md), md);
}

static inline size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

#endif /* PYPRIVML_MODARITH_H */
