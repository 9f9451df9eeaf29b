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

#include <stdio.h>
#include <stdlib.h>
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
            static const char m[] = "target assertion failed: " #c "\n";                         \
            (void)!write(2, m, sizeof(m) - 1);                                                     \
            _exit(99);                                                                             \
        }                                                                                          \
    } while (0)

#endif
