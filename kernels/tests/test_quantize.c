/*
 * Quantisation kernels: Round sends ties up (seed 004 eq. 3), phi embeds negatives as p + x
 * (eq. 5), the maximum propagates NaN and infinity like np.max, and the stochastic stream equals
 * SplitMix64 reference values computed with Python integers.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "pyprivml_kernels.h"

#define KEY UINT64_C(0x0123456789ABCDEF)

static void test_stream(void)
{
    /* mix64 and u_j = (mix64(key + (j + 1) * 0x9E3779B97F4A7C15) >> 11) * 2**-53, from Python. */
    CHECK(ppml_mix64(0) == 0, "mix64(0)");
    CHECK(ppml_mix64(1) == UINT64_C(0x5692161D100B05E5), "mix64(1)");
    CHECK(ppml_mix64(UINT64_MAX) == UINT64_C(0xB4D055FCF2CBBD7B), "mix64(2**64 - 1)");
    static const struct { uint64_t key, j, top53; } ref[] = {
        {0, 0, UINT64_C(7956156453446585)},
        {0, 1, UINT64_C(3886858653415212)},
        {0, 2, UINT64_C(238094247788840)},
        {0, 1000, UINT64_C(1582497417153125)},
        {0, UINT64_C(1) << 40, UINT64_C(887180520247730)},
        {KEY, 0, UINT64_C(755669446988277)},
        {KEY, 1, UINT64_C(7510121083475002)},
        {KEY, 2, UINT64_C(1673555042577849)},
        {KEY, 1000, UINT64_C(4586405582983513)},
        {KEY, UINT64_C(1) << 40, UINT64_C(2540271872400866)},
    };
    for (size_t r = 0; r < sizeof ref / sizeof *ref; ++r) {
        double u;
        ppml_uniforms(ref[r].key, ref[r].j, 1, &u);
        CHECK(u == (double)ref[r].top53 * 0x1p-53, "u_%llu for key %llx: got %.17g",
              (unsigned long long)ref[r].j, (unsigned long long)ref[r].key, u);
    }
    double block[8], one;
    ppml_uniforms(KEY, 995, 8, block);
    ppml_uniforms(KEY, 1000, 1, &one);
    CHECK(block[5] == one, "a block of the stream starting at 995 agrees with u_1000");
}

static void test_round(void)
{
    const uint32_t p = 97;
    /* scale 1: ties go up (eq. 3), unlike round-half-to-even; phi(-k) = p - k. */
    const double x[] = {0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.0, 3.75, -3.75,
                        48.0, -48.0};
    const int64_t want[] = {1, 0, 2, 96, 3, 95, 0, 0, 4, 93, 48, 49};
    int64_t out[12];
    double m = ppml_quantize(12, x, 1.0, p, out);
    for (int i = 0; i < 12; ++i)
        CHECK(out[i] == want[i], "Round(%g) embedded: got %lld, want %lld", x[i],
              (long long)out[i], (long long)want[i]);
    CHECK(m == 48.0, "max |x| = %g, want 48", m);

    /* scale 2**l multiplies first: 2**3 * 0.0625 = 0.5 -> 1; 2**3 * -0.3 = -2.4 -> -2. */
    const double y[] = {0.0625, -0.3, 1e-300};
    int64_t outy[3];
    m = ppml_quantize(3, y, 8.0, p, outy);
    CHECK(outy[0] == 1 && outy[1] == 95 && outy[2] == 0, "scaled rounding: %lld %lld %lld",
          (long long)outy[0], (long long)outy[1], (long long)outy[2]);
    CHECK(m == 2.4, "max |8 y| = %.17g, want 2.4", m);

    /* Large integers pass through floor unchanged (|x| >= 2**52). */
    const double big[] = {0x1p52 + 2.0, -(0x1p53)};
    int64_t outb[2];
    ppml_quantize(2, big, 1.0, 4294967291u, outb);
    CHECK(outb[0] == (int64_t)((UINT64_C(1) << 52) + 2), "2**52 + 2 rounds to itself (phi only, no reduction): got %lld",
          (long long)outb[0]);
    CHECK(outb[1] == -(INT64_C(1) << 53) + 4294967291, "phi(-2**53) = p - 2**53");

    /* Empty input: max 0. NaN anywhere gives NaN; infinity without NaN gives infinity. */
    CHECK(ppml_quantize(0, x, 1.0, p, out) == 0.0, "empty max");
    const double with_nan[] = {1.0, NAN, INFINITY, -2.0};
    CHECK(isnan(ppml_quantize(4, with_nan, 1.0, p, out)), "NaN propagates to the max");
    CHECK(out[0] == 1 && out[3] == 95, "finite entries still quantised next to NaN");
    CHECK(out[1] == 0 && out[2] == 0, "non-finite entries written as 0");
    const double with_inf[] = {1.0, -INFINITY, 3.0};
    CHECK(isinf(ppml_quantize(3, with_inf, 1.0, p, out)), "infinity gives an infinite max");
    const double huge[] = {1e300};
    CHECK(isinf(ppml_quantize(1, huge, 0x1p62, p, out)) && out[0] == 0,
          "overflow to infinity in the scaling is reported, the entry written as 0");
}

static void test_stochastic(void)
{
    /* w, scale 4, p 97, 3 copies, KEY: expected values from Python integers (see file header). */
    const double w[] = {0.3, -1.7, 2.5, 0.0, -0.25, 0.1};
    const int64_t want[] = {2, 1, 2, 90, 91, 91, 10, 10, 10, 0, 0, 0, 96, 96, 96, 0, 1, 1};
    int64_t out[18];
    double m = ppml_quantize_stochastic(6, w, 4.0, 97, KEY, 3, 0, out);
    for (int j = 0; j < 18; ++j)
        CHECK(out[j] == want[j], "stochastic out[%d] = %lld, want %lld", j, (long long)out[j],
              (long long)want[j]);
    CHECK(m == 10.0, "max |4 w| = %g, want 10", m);

    /* Splitting the stream with `first` gives the same bits (what threads do). */
    int64_t part[18];
    ppml_quantize_stochastic(2, w, 4.0, 97, KEY, 3, 0, part);
    ppml_quantize_stochastic(4, w + 2, 4.0, 97, KEY, 3, 2, part + 6);
    CHECK(memcmp(part, out, sizeof out) == 0, "stream split at element 2 agrees");

    /* copies = 1 takes its own loop; it must read the same stream positions. */
    int64_t single[6];
    ppml_quantize_stochastic(6, w, 4.0, 97, KEY, 1, 0, single);
    double u[6];
    ppml_uniforms(KEY, 0, 6, u);
    for (int i = 0; i < 6; ++i) {
        double x = w[i] * 4.0, f = floor(x);
        int64_t r = (int64_t)(f + (u[i] < x - f ? 1.0 : 0.0));
        CHECK(single[i] == (r < 0 ? r + 97 : r), "copies=1 entry %d", i);
    }

    /* Integers never move; rounding is up or down by one step only, and unbiased on average. */
    enum { N = 200000 };
    static double v[N];
    static int64_t o[N];
    for (int i = 0; i < N; ++i)
        v[i] = 0.25;
    ppml_quantize_stochastic(N, v, 1.0, 97, KEY, 1, 0, o);
    long ups = 0;
    int other = 0;
    for (int i = 0; i < N; ++i) {
        ups += o[i] == 1;
        other += o[i] != 0 && o[i] != 1;
    }
    CHECK(other == 0, "0.25 rounds to 0 or 1 only");
    /* Binomial(N, 1/4): standard deviation ~194, so 6 sigma is ~1160. */
    CHECK(ups > N / 4 - 1200 && ups < N / 4 + 1200, "rounded up %ld of %d times", ups, N);
    const double ints[] = {-3.0, 0.0, 5.0};
    int64_t oi[6];
    ppml_quantize_stochastic(3, ints, 1.0, 97, KEY, 2, 0, oi);
    CHECK(oi[0] == 94 && oi[1] == 94 && oi[2] == 0 && oi[3] == 0 && oi[4] == 5 && oi[5] == 5,
          "integers are left as they are");

    const double bad[] = {NAN, 1.0};
    CHECK(isnan(ppml_quantize_stochastic(2, bad, 1.0, 97, KEY, 2, 0, oi)), "NaN max");
}

int main(void)
{
    test_stream();
    test_round();
    test_stochastic();
    return check_report("test_quantize");
}
