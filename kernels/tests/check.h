/* A minimal test harness for the C kernels: CHECK records a failure and carries on. */
#ifndef PYPRIVML_CHECK_H
#define PYPRIVML_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        ++check_count;                                                        \
        if (!(cond)) {                                                        \
            ++check_failures;                                                 \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

static int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

/* SplitMix64 as a plain test-data generator. */
static uint64_t test_rng_state = 0x853C49E6748FEA9BULL;

static inline uint64_t test_next(void)
{
    uint64_t z = (test_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
