/*
 * Micro-benchmark of the C kernels, single-threaded: medians of several runs in the calling
 * thread's CPU time, which other jobs on a shared machine disturb far less than wall-clock time.
 * Kernels: modmatmul n x n x n for each n on the command line (default 512 1024), the encoding shape
 *   U (50 x 20) X (20 x L), matvec 564 x 3073, and stochastic quantisation of 10M values.
 * With PYPRIVML_BENCH_BLAS=/path/to/libopenblas.so (NumPy ships one in numpy.libs) it also times
 * float64 dgemm / dgemv of the same shapes on one thread and prints the throughput ratios.
 *   build/c/bench_kernels 512 1024
 * Not run by ctest: timings are not tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyprivml_kernels.h"

#define P_DEFAULT 33554393u /* 2**25 - 39 */
#define REPEATS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int count)
{
    qsort(t, (size_t)count, sizeof *t, cmp_double);
    return t[count / 2];
}

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static uint32_t next_u32(uint32_t p)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % p);
}

static void *xmalloc(size_t bytes)
{
    void *ptr = malloc(bytes ? bytes : 1);
    if (!ptr) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(2);
    }
    return ptr;
}

/* Optional BLAS, loaded at run time so the build needs none. ILP64 symbols end in "64_". */
typedef void (*dgemm32_fn)(int, int, int, int, int, int, double, const double *, int,
                           const double *, int, double, double *, int);
typedef void (*dgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, double, const double *,
                           int64_t, const double *, int64_t, double, double *, int64_t);
typedef void (*dgemv32_fn)(int, int, int, int, double, const double *, int, const double *, int,
                           double, double *, int);
typedef void (*dgemv64_fn)(int, int, int64_t, int64_t, double, const double *, int64_t,
                           const double *, int64_t, double, double *, int64_t);
static void *gemm_sym, *gemv_sym;
static int blas_ilp64;
enum { ROW_MAJOR = 101, NO_TRANS = 111 };

static void load_blas(void)
{
    const char *path = getenv("PYPRIVML_BENCH_BLAS");
    if (!path)
        return;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return;
    }
    static const char *const prefixes[] = {"scipy_", ""};
    for (int i = 0; i < 2 && !gemm_sym; ++i) {
        char name[64];
        snprintf(name, sizeof name, "%scblas_dgemm64_", prefixes[i]);
        if ((gemm_sym = dlsym(lib, name))) {
            blas_ilp64 = 1;
            snprintf(name, sizeof name, "%scblas_dgemv64_", prefixes[i]);
            gemv_sym = dlsym(lib, name);
            snprintf(name, sizeof name, "%sopenblas_set_num_threads64_", prefixes[i]);
            void (*set_threads)(int) = (void (*)(int))dlsym(lib, name);
            if (set_threads)
                set_threads(1);
        }
    }
    if (!gemm_sym && (gemm_sym = dlsym(lib, "cblas_dgemm"))) {
        gemv_sym = dlsym(lib, "cblas_dgemv");
        void (*set_threads)(int) = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
        if (set_threads)
            set_threads(1);
    }
    if (!gemm_sym)
        fprintf(stderr, "no cblas_dgemm in %s\n", path);
}

static void blas_dgemm(int n, const double *A, const double *B, double *C)
{
    if (blas_ilp64)
        ((dgemm64_fn)gemm_sym)(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
    else
        ((dgemm32_fn)gemm_sym)(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
}

static void blas_dgemv(int n, int k, const double *A, const double *x, double *y)
{
    if (blas_ilp64)
        ((dgemv64_fn)gemv_sym)(ROW_MAJOR, NO_TRANS, n, k, 1.0, A, k, x, 1, 0.0, y, 1);
    else
        ((dgemv32_fn)gemv_sym)(ROW_MAJOR, NO_TRANS, n, k, 1.0, A, k, x, 1, 0.0, y, 1);
}

static void bench_matmul(size_t n)
{
    uint32_t *A = xmalloc(n * n * sizeof *A), *Bt = xmalloc(n * n * sizeof *Bt);
    int64_t *C = xmalloc(n * n * sizeof *C);
    for (size_t i = 0; i < n * n; ++i) {
        A[i] = next_u32(P_DEFAULT);
        Bt[i] = next_u32(P_DEFAULT);
    }
    double t[REPEATS], tb[REPEATS];
    ppml_matmul(n, n, n, A, n, Bt, n, P_DEFAULT, C, n); /* warm-up: page faults, clocks */
    for (int r = 0; r < REPEATS; ++r) {
        double t0 = now();
        ppml_matmul(n, n, n, A, n, Bt, n, P_DEFAULT, C, n);
        t[r] = now() - t0;
    }
    double tm = median(t, REPEATS), macs = (double)n * n * n;
    printf("modmatmul   n=%-5zu  %9.2f ms  %6.2f G mul-add/s", n, 1e3 * tm, macs / tm * 1e-9);
    if (gemm_sym) {
        double *Ad = xmalloc(n * n * sizeof *Ad), *Bd = xmalloc(n * n * sizeof *Bd);
        double *Cd = xmalloc(n * n * sizeof *Cd);
        for (size_t i = 0; i < n * n; ++i) {
            Ad[i] = A[i];
            Bd[i] = Bt[i];
        }
        blas_dgemm((int)n, Ad, Bd, Cd);
        for (int r = 0; r < REPEATS; ++r) {
            double t0 = now();
            blas_dgemm((int)n, Ad, Bd, Cd);
            tb[r] = now() - t0;
        }
        double tbm = median(tb, REPEATS);
        printf("   dgemm %9.2f ms  ratio (modmatmul throughput / dgemm) %.2f", 1e3 * tbm, tbm / tm);
        free(Ad);
        free(Bd);
        free(Cd);
    }
    printf("\n");
    free(A);
    free(Bt);
    free(C);
}

static void bench_matvec(size_t n, size_t k)
{
    uint32_t *A = xmalloc(n * k * sizeof *A), *x = xmalloc(k * sizeof *x);
    int64_t *y = xmalloc(n * sizeof *y);
    for (size_t i = 0; i < n * k; ++i)
        A[i] = next_u32(P_DEFAULT);
    for (size_t i = 0; i < k; ++i)
        x[i] = next_u32(P_DEFAULT);
    enum { R = 51 };
    double t[R], tb[R];
    for (int r = 0; r < R; ++r) {
        double t0 = now();
        ppml_matvec(n, k, A, k, x, P_DEFAULT, y);
        t[r] = now() - t0;
    }
    double tm = median(t, R);
    printf("modmatvec   %zux%zu  %9.3f ms", n, k, 1e3 * tm);
    if (gemv_sym) {
        double *Ad = xmalloc(n * k * sizeof *Ad), *xd = xmalloc(k * sizeof *xd);
        double *yd = xmalloc(n * sizeof *yd);
        for (size_t i = 0; i < n * k; ++i)
            Ad[i] = A[i];
        for (size_t i = 0; i < k; ++i)
            xd[i] = x[i];
        for (int r = 0; r < R; ++r) {
            double t0 = now();
            blas_dgemv((int)n, (int)k, Ad, xd, yd);
            tb[r] = now() - t0;
        }
        double tbm = median(tb, R);
        printf("   dgemv %9.3f ms  ratio (modmatvec throughput / dgemv) %.2f", 1e3 * tbm, tbm / tm);
        free(Ad);
        free(xd);
        free(yd);
    }
    printf("\n");
    free(A);
    free(x);
    free(y);
}

static void bench_combine(size_t n, size_t k, size_t L)
{
    uint32_t *Cf = xmalloc(n * k * sizeof *Cf), *X = xmalloc(k * L * sizeof *X);
    int64_t *out = xmalloc(n * L * sizeof *out);
    for (size_t i = 0; i < n * k; ++i)
        Cf[i] = next_u32(P_DEFAULT);
    for (size_t i = 0; i < k * L; ++i)
        X[i] = next_u32(P_DEFAULT);
    double t[REPEATS], tf[REPEATS];
    ppml_combine(n, k, L, Cf, k, X, L, P_DEFAULT, out, L);
    for (int r = 0; r < REPEATS; ++r) {
        double t0 = now();
        ppml_combine(n, k, L, Cf, k, X, L, P_DEFAULT, out, L);
        t[r] = now() - t0;
        /* Memory floor: read X once, write the output once. */
        t0 = now();
        for (size_t i = 0; i < n; ++i)
            memcpy(out + i * L, X + (i % k) * L, L * sizeof *X);
        memset(out, r, n * L * sizeof *out / 2);
        tf[r] = now() - t0;
    }
    double tm = median(t, REPEATS), tfm = median(tf, REPEATS);
    printf("modcombine  %zux%zu . %zux%zu  %9.2f ms   memory floor %9.2f ms  ratio %.2f\n",
           n, k, k, L, 1e3 * tm, 1e3 * tfm, tm / tfm);
    free(Cf);
    free(X);
    free(out);
}

static void bench_quantize(size_t count)
{
    double *w = xmalloc(count * sizeof *w), *copy = xmalloc(count * sizeof *copy);
    int64_t *out = xmalloc(count * sizeof *out);
    for (size_t i = 0; i < count; ++i)
        w[i] = (double)next_u32(1u << 20) / (1 << 16) - 8.0;
    double t[REPEATS], tc[REPEATS];
    ppml_quantize_stochastic(count, w, 1024.0, P_DEFAULT, 1u, 1, 0, out);
    memcpy(copy, w, count * sizeof *w);
    for (int r = 0; r < REPEATS; ++r) {
        double t0 = now();
        ppml_quantize_stochastic(count, w, 1024.0, P_DEFAULT, 12345u + (uint64_t)r, 1, 0, out);
        t[r] = now() - t0;
        t0 = now();
        memcpy(copy, w, count * sizeof *w);
        tc[r] = now() - t0;
    }
    double tm = median(t, REPEATS), tcm = median(tc, REPEATS);
    printf("quantize_stochastic %zu values  %9.2f ms   memcpy %9.2f ms  ratio %.2f\n", count,
           1e3 * tm, 1e3 * tcm, tm / tcm);
    free(w);
    free(copy);
    free(out);
}

int main(int argc, char **argv)
{
    load_blas();
    printf("single-threaded kernels, p = %u, medians of %d runs (CPU time)%s\n", P_DEFAULT, REPEATS,
           gemm_sym ? ", BLAS on one thread" : " (set PYPRIVML_BENCH_BLAS for dgemm ratios)");
    if (argc > 1) {
        for (int i = 1; i < argc; ++i)
            bench_matmul((size_t)strtoul(argv[i], NULL, 10));
    } else {
        bench_matmul(512);
        bench_matmul(1024);
    }
    bench_matvec(564, 3073);
    bench_combine(50, 20, (size_t)1 << 18);
    bench_quantize(10000000);
    return 0;
}
