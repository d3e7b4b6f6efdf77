/*
 * Exactness of the modular matrix kernels against a slow reference that reduces every product on
 * its own (pure C99: (a b) mod p with a, b < 2**32 fits in uint64). Covers p from 2 to the largest
 * prime below 2**32, inner lengths at the delayed-reduction bound and one either side, entries all
 * equal to p - 1 (the largest partial sums), empty shapes, and leading dimensions wider than the
 * rows (blocks of larger matrices), with guard cells that must stay untouched.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "modarith.h"
#include "pyprivml_kernels.h"

#define GUARD INT64_C(-7777777)

enum fill { RANDOM, ALL_MAX, MIXED };

static void fill_u32(uint32_t *a, size_t count, uint32_t p, enum fill how)
{
    for (size_t i = 0; i < count; ++i) {
        uint32_t r = (uint32_t)(test_next() % p);
        if (how == ALL_MAX || (how == MIXED && test_next() % 4 != 0))
            r = p - 1;
        a[i] = r;
    }
}

static uint64_t ref_dot(size_t k, const uint32_t *a, size_t sa, const uint32_t *b, size_t sb,
                        uint64_t p)
{
    uint64_t s = 0;
    for (size_t t = 0; t < k; ++t)
        s = (s + ((uint64_t)a[t * sa] * b[t * sb]) % p) % p;
    return s;
}

/* C = A B with A (n x k, lda), B (k x m) given as Bt (m x k, ldb), C with ldc = m + 3 (guards). */
static void check_matmul(size_t n, size_t m, size_t k, uint32_t p, enum fill how)
{
    const size_t lda = k + 2, ldb = k + 1, ldc = m + 3;
    uint32_t *A = malloc((n * lda + 1) * sizeof *A);
    uint32_t *Bt = malloc((m * ldb + 1) * sizeof *Bt);
    int64_t *C = malloc((n * ldc + 1) * sizeof *C);
    fill_u32(A, n * lda, p, how);
    fill_u32(Bt, m * ldb, p, how);
    for (size_t i = 0; i < n * ldc + 1; ++i)
        C[i] = GUARD;
    ppml_matmul(n, m, k, A, lda, Bt, ldb, p, C, ldc);
    int bad = 0, guard_bad = 0;
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < ldc; ++j) {
            int64_t got = C[i * ldc + j];
            if (j >= m) {
                guard_bad += got != GUARD;
                continue;
            }
            uint64_t want = ref_dot(k, A + i * lda, 1, Bt + j * ldb, 1, p);
            if ((uint64_t)got != want && bad++ < 3)
                fprintf(stderr, "  C[%zu][%zu] = %lld, want %llu\n", i, j, (long long)got,
                        (unsigned long long)want);
        }
    }
    guard_bad += C[n * ldc] != GUARD;
    CHECK(bad == 0, "matmul n=%zu m=%zu k=%zu p=%u fill=%d: %d wrong entries", n, m, k, p, how, bad);
    CHECK(guard_bad == 0, "matmul n=%zu m=%zu k=%zu p=%u wrote outside its output", n, m, k, p);
    free(A);
    free(Bt);
    free(C);
}

static void check_matvec(size_t n, size_t k, uint32_t p, enum fill how)
{
    const size_t lda = k + 5;
    uint32_t *A = malloc((n * lda + 1) * sizeof *A);
    uint32_t *x = malloc((n > k ? n : k) * sizeof *x + sizeof *x);
    int64_t *y = malloc(((n > k ? n : k) + 1) * sizeof *y);
    fill_u32(A, n * lda, p, how);
    fill_u32(x, n > k ? n : k, p, how);
    int bad = 0;

    for (size_t i = 0; i <= n; ++i)
        y[i] = GUARD;
    ppml_matvec(n, k, A, lda, x, p, y);
    for (size_t i = 0; i < n; ++i)
        bad += (uint64_t)y[i] != ref_dot(k, A + i * lda, 1, x, 1, p);
    CHECK(bad == 0, "matvec n=%zu k=%zu p=%u: %d wrong entries", n, k, p, bad);
    CHECK(y[n] == GUARD, "matvec n=%zu k=%zu wrote past its output", n, k);

    bad = 0;
    for (size_t j = 0; j <= k; ++j)
        y[j] = GUARD;
    ppml_matvec_t(n, k, A, lda, x, p, y);
    for (size_t j = 0; j < k; ++j)
        bad += (uint64_t)y[j] != ref_dot(n, A + j, lda, x, 1, p);
    CHECK(bad == 0, "matvec_t n=%zu k=%zu p=%u: %d wrong entries", n, k, p, bad);
    CHECK(y[k] == GUARD, "matvec_t n=%zu k=%zu wrote past its output", n, k);
    free(A);
    free(x);
    free(y);
}

/* Out (n x L, ldo = L + 2) = Cf (n x k, ldcf = k + 1) X (k x L, ldx = L + 3). */
static void check_combine(size_t n, size_t k, size_t L, uint32_t p, enum fill how)
{
    const size_t ldcf = k + 1, ldx = L + 3, ldo = L + 2;
    uint32_t *Cf = malloc((n * ldcf + 1) * sizeof *Cf);
    uint32_t *X = malloc((k * ldx + 1) * sizeof *X);
    int64_t *out = malloc((n * ldo + 1) * sizeof *out);
    fill_u32(Cf, n * ldcf, p, how);
    fill_u32(X, k * ldx, p, how);
    for (size_t i = 0; i < n * ldo + 1; ++i)
        out[i] = GUARD;
    ppml_combine(n, k, L, Cf, ldcf, X, ldx, p, out, ldo);
    int bad = 0, guard_bad = out[n * ldo] != GUARD;
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < ldo; ++j) {
            if (j >= L)
                guard_bad += out[i * ldo + j] != GUARD;
            else
                bad += (uint64_t)out[i * ldo + j] != ref_dot(k, Cf + i * ldcf, 1, X + j, ldx, p);
        }
    }
    CHECK(bad == 0, "combine n=%zu k=%zu L=%zu p=%u fill=%d: %d wrong entries", n, k, L, p, how, bad);
    CHECK(guard_bad == 0, "combine n=%zu k=%zu L=%zu wrote outside its output", n, k, L);
    free(Cf);
    free(X);
    free(out);
}

static void test_max_delayed_terms(void)
{
    /* Values computed with Python integers: (2**64 - 1) // (p - 1)**2. */
    CHECK(ppml_max_delayed_terms(2) == UINT64_MAX, "p=2");
    CHECK(ppml_max_delayed_terms(3) == UINT64_C(4611686018427387903), "p=3");
    CHECK(ppml_max_delayed_terms(97) == UINT64_C(2001599834386887), "p=97");
    CHECK(ppml_max_delayed_terms(33554393) == 16384, "p=2**25-39");
    CHECK(ppml_max_delayed_terms(2147483647) == 4, "p=2**31-1");
    CHECK(ppml_max_delayed_terms(4294967291u) == 1, "p=2**32-5");
    CHECK(ppml_max_delayed_terms(759250111) == 32, "p=759250111");
}

/* The division-free reduction against %, at multiples of p and either side of them (where a
 * quotient estimate off by one shows), at the ends of the 64-bit range and at random. */
static void check_reduce(uint32_t p)
{
    const ppml_modulus md = ppml_modulus_make(p);
    int bad = 0;
    for (int i = 0; i < 200000; ++i) {
        uint64_t x;
        switch (i % 4) {
        case 0: x = test_next(); break;
        case 1: x = (test_next() % (UINT64_MAX / p + 1)) * p; break;
        case 2: x = (UINT64_MAX / p - (uint64_t)(i % 1000)) * p + (uint64_t)(i % 3); break;
        default: x = (test_next() >> (i % 64)) * p - 1; break;
        }
        bad += ppml_reduce(x, md.p, md.two32, md.inv) != x % p;
    }
    static const uint64_t edges[] = {0, 1, UINT64_C(0xFFFFFFFF), UINT64_C(0x100000000),
                                     UINT64_C(1) << 63, UINT64_MAX, UINT64_MAX - 1};
    for (size_t e = 0; e < sizeof edges / sizeof *edges; ++e)
        bad += ppml_reduce(edges[e], md.p, md.two32, md.inv) != edges[e] % p;
    CHECK(bad == 0, "ppml_reduce modulo %u: %d wrong", p, bad);
}

int main(void)
{
    /* Primes: tiny, the default 2**25 - 39, ones whose delayed block is 1000, 33, 32 and 31
     * terms (either side of the switch to per-product reduction), 2**31 - 1 and 2**32 - 5. */
    static const uint32_t primes[] = {2u, 3u, 97u, 33554393u, 135818779u, 747657829u,
                                      759250111u, 771398857u, 2147483647u, 4294967291u};
    static const size_t sizes[][3] = {{1, 1, 1}, {4, 4, 4}, {5, 7, 3}, {9, 6, 13}, {3, 17, 33},
                                      {8, 8, 64}, {13, 11, 70}, {2, 70, 5}, {70, 2, 9}};
    test_max_delayed_terms();
    for (size_t q = 0; q < sizeof primes / sizeof *primes; ++q) {
        const uint32_t p = primes[q];
        check_reduce(p);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; ++s) {
            check_matmul(sizes[s][0], sizes[s][1], sizes[s][2], p, RANDOM);
            check_matmul(sizes[s][0], sizes[s][1], sizes[s][2], p, MIXED);
            check_matvec(sizes[s][0], sizes[s][2], p, MIXED);
            check_combine(sizes[s][0], sizes[s][2], sizes[s][1] * 90, p, MIXED);
        }
        /* Inner length at the delayed-reduction bound of this p and one either side (capped so
         * the reference stays fast), all entries p - 1: the largest sums the kernels can see. */
        uint64_t bound = ppml_max_delayed_terms(p);
        if (bound > 4000)
            bound = 2100; /* beyond two 1024-term cache chunks */
        for (uint64_t k = bound > 1 ? bound - 1 : 1; k <= bound + 1; ++k) {
            check_matmul(5, 6, (size_t)k, p, ALL_MAX);
            check_matmul(4, 4, (size_t)k, p, MIXED);
            check_matvec(6, (size_t)k, p, ALL_MAX);
            check_combine(3, (size_t)k, 37, p, ALL_MAX);
        }
        /* Empty shapes: nothing written (n or m zero) or all zeros (k zero). */
        check_matmul(0, 5, 4, p, RANDOM);
        check_matmul(5, 0, 4, p, RANDOM);
        check_matmul(5, 6, 0, p, RANDOM);
        check_matvec(0, 3, p, RANDOM);
        check_matvec(3, 0, p, RANDOM);
        check_combine(0, 3, 10, p, RANDOM);
        check_combine(3, 0, 10, p, RANDOM);
        check_combine(3, 4, 0, p, RANDOM);
    }
    /* The default prime at its own bound, 16384 terms (and one either side), all entries p - 1. */
    for (size_t k = 16383; k <= 16385; ++k) {
        check_matmul(5, 5, k, 33554393u, ALL_MAX);
        check_combine(2, k, 9, 33554393u, ALL_MAX);
    }
    return check_report("test_modmatmul");
}
