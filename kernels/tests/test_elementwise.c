/*
 * Exactness of the entry-wise kernels against plain uint64 arithmetic with the % operator: every
 * p from 2 to the largest prime below 2**32, operands at 0 and p - 1 (the largest sum and
 * product), both increments (contiguous and a repeated element) and a wider stride, count 0 (no
 * operand read) and guard cells past the end of the output that must stay untouched.
 */
#include "check.h"
#include "pyprivml_kernels.h"

#define GUARD INT64_C(-7777777)
#define N 300

typedef void (*entrywise_fn)(size_t, const uint32_t *, size_t, const uint32_t *, size_t,
                             uint32_t, int64_t *);

static uint64_t ref(char op, uint64_t x, uint64_t y, uint64_t p)
{
    if (op == '+')
        return (x + y) % p;
    if (op == '-')
        return (x + p - y) % p;
    return (x * y) % p;
}

static void fill(uint32_t *a, size_t count, uint32_t p)
{
    for (size_t i = 0; i < count; ++i) {
        const uint64_t r = test_next();
        a[i] = (uint32_t)(r % 4 == 0 ? p - 1 : r % 4 == 1 ? 0 : (r >> 8) % p);
    }
}

static void check_op(char op, entrywise_fn fn, uint32_t p)
{
    static uint32_t a[3 * N], b[3 * N];
    static int64_t out[N + 4];
    fill(a, 3 * N, p);
    fill(b, 3 * N, p);
    a[0] = b[0] = p - 1;
    a[1] = 0;
    b[2] = 0;
    static const size_t incs[][2] = {{1, 1}, {0, 1}, {1, 0}, {0, 0}, {3, 2}, {1, 3}};
    for (size_t c = 0; c < sizeof incs / sizeof *incs; ++c) {
        const size_t ia = incs[c][0], ib = incs[c][1];
        for (size_t i = 0; i < N + 4; ++i)
            out[i] = GUARD;
        fn(N, a, ia, b, ib, p, out);
        int bad = 0;
        for (size_t i = 0; i < N && !bad; ++i) {
            const uint64_t want = ref(op, a[i * ia], b[i * ib], p);
            if ((uint64_t)out[i] != want) {
                bad = 1;
                CHECK(0, "p = %lu, %c, increments (%zu, %zu), entry %zu: %lu %c %lu gave %lld, want %llu",
                      (unsigned long)p, op, ia, ib, i, (unsigned long)a[i * ia], op,
                      (unsigned long)b[i * ib], (long long)out[i], (unsigned long long)want);
            }
        }
        CHECK(!bad, "p = %lu, %c, increments (%zu, %zu)", (unsigned long)p, op, ia, ib);
        CHECK(out[N] == GUARD && out[N + 3] == GUARD, "%c wrote past the end", op);
    }
    out[0] = GUARD;
    fn(0, NULL, 1, NULL, 0, p, out); /* count 0: the operands are not read */
    CHECK(out[0] == GUARD, "%c with count 0 wrote its output", op);
}

int main(void)
{
    static const uint32_t primes[] = {2u, 3u, 97u, 65521u, 33554393u, 2147483647u, 4294967291u};
    for (size_t q = 0; q < sizeof primes / sizeof *primes; ++q) {
        check_op('+', ppml_add, primes[q]);
        check_op('-', ppml_sub, primes[q]);
        check_op('*', ppml_mul, primes[q]);
    }
    /* The extremes spelled out: (p - 1)**2 mod p = 1 at p = 2**32 - 5, whose square is ~2**64. */
    const uint32_t p = 4294967291u, x = p - 1, zero = 0;
    int64_t r;
    ppml_mul(1, &x, 1, &x, 1, p, &r);
    CHECK(r == 1, "(p - 1)**2 mod p = %lld, want 1", (long long)r);
    ppml_add(1, &x, 1, &x, 1, p, &r);
    CHECK(r == (int64_t)p - 2, "(p - 1) + (p - 1) mod p = %lld, want p - 2", (long long)r);
    ppml_sub(1, &zero, 1, &x, 1, p, &r);
    CHECK(r == 1, "0 - (p - 1) mod p = %lld, want 1", (long long)r);
    return check_report("test_elementwise");
}
