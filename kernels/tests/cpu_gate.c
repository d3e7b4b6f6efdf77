/* cpu_gate LEVEL PROGRAM [ARGS...]: run PROGRAM if this CPU supports LEVEL (an x86-64 micro-
 * architecture level such as x86-64-v3), else exit 77, which ctest reports as skipped. The C tests
 * of the kernels built for one level (the code of one run-time clone) run only where it can. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: cpu_gate LEVEL PROGRAM [ARGS...]\n");
        return 2;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int ok = strcmp(argv[1], "x86-64") == 0 || (strcmp(argv[1], "x86-64-v2") == 0 && __builtin_cpu_supports("x86-64-v2"))
             || (strcmp(argv[1], "x86-64-v3") == 0 && __builtin_cpu_supports("x86-64-v3"))
             || (strcmp(argv[1], "x86-64-v4") == 0 && __builtin_cpu_supports("x86-64-v4"));
#else
    int ok = 0;
#endif
    if (!ok) {
        printf("skipped: this CPU does not support %s\n", argv[1]);
        return 77;
    }
    execv(argv[2], argv + 2);
    perror("execv");
    return 2;
}
