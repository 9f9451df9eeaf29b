/*
 * t_forkearly.c - forks from its first instant on, while the collector
 * thread starts: at its first tick it reads the module list and compiles
 * every module's unwind rules inside dl_iterate_phdr, which holds a glibc
 * lock that glibc 2.36 does not reset in a fork child. A fork then would
 * leave the child stuck at its first dl_iterate_phdr (its stack walk's).
 *
 * For 1.5 s: fork, the child allocates and exits, wait for it; a child not
 * gone after 3 s is stuck and killed. Prints "N children, S stuck"; exit
 * status 1 if any was stuck.
 */
#define _GNU_SOURCE
#include <string.h>

#include "t_common.h"

int main(void)
{
    double t0 = t_now();
    int n = 0, stuck = 0;

    while (t_now() - t0 < 1.5) {
        pid_t p = fork();

        if (p == 0) {
            for (int i = 0; i < 50; i++)
                free(strdup("child"));
            _exit(0);
        }
        if (p < 0)
            break;
        n++;
        stuck += t_reap(p, 3);
    }
    printf("%d children, %d stuck\n", n, stuck);
    return stuck != 0;
}
