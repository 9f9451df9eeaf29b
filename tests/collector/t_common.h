/*
 * t_common.h - helpers for the collector's exactness targets.
 *
 * Every allocation site lives in its own SITE function: never inlined, never
 * cloned, and the result goes through sink() after the call so the compiler
 * cannot turn the allocation into a tail call (which would drop the site's
 * frame from the stack, even at -O2 -fomit-frame-pointer).
 */
#ifndef T_COMMON_H
#define T_COMMON_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SITE __attribute__((noinline, noclone, used))

extern void *volatile t_sink;
void *volatile t_sink;

static inline void *sink(void *p)
{
    t_sink = p;
    __asm__ volatile("" ::: "memory");
    return p;
}

/* Fail the target itself (the harness sees a non-zero status). */
#define T_ASSERT(c)                                                                                \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            static const char m[] = "target assertion failed: " #c "\n";                           \
            (void)!write(2, m, sizeof(m) - 1);                                                     \
            _exit(99);                                                                             \
        }                                                                                          \
    } while (0)

/* Seconds on CLOCK_MONOTONIC. */
static inline double t_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Waits for child p. One not gone after secs is stuck: it is killed and
 * reaped, and 1 is returned; else 0. */
static inline int t_reap(pid_t p, double secs)
{
    double w = t_now();
    int st;

    while (waitpid(p, &st, WNOHANG) == 0) {
        if (t_now() - w > secs) {
            kill(p, SIGKILL);
            waitpid(p, &st, 0);
            return 1;
        }
        usleep(200);
    }
    return 0;
}

#endif
