/*
 * unwind_int.h - what the stack capture's two files share, and no one else
 * (the rest of the collector includes unwind.h only).
 *
 *   unwind.c    the walks on the program's threads: frame pointers, the
 *               table walk with its per-thread rule cache and traces, the
 *               libunwind fallback
 *   unwtable.c  the table of executable ranges with each module's frame
 *               pointer verdict and compiled unwind rules, built and
 *               refreshed on the collector thread; fork's wait for it and
 *               for the walks inside libunwind (both in dl_iterate_phdr)
 *
 * Invariant: the table is published (unwtable_tab, release) only when
 * complete and is never changed or freed after, nor are the rule tables it
 * points to: a walk on any thread may keep using the one it loaded.
 */
#ifndef HEAPLINE_UNWIND_INT_H
#define HEAPLINE_UNWIND_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <unistd.h>

#include "cfitab.h"
#include "ring.h"

#define RANGE_SURVEYED 1 /* fp is the module's verdict (else 0: not asked) */
#define RANGE_TRIED 2    /* its rules were compiled: tab, or NULL when they cannot be */

struct range {
    uintptr_t lo, hi;
    int fp;                   /* the module keeps frame pointers */
    int flags;                /* RANGE_* */
    const struct cfitab *tab; /* its unwind rules (table walk), or NULL */
    struct cfitab_src src;    /* its .eh_frame_hdr: one pc's rule while tab is not compiled */
};

struct exec_table {
    size_t n;
    struct range r[]; /* sorted by lo, not overlapping */
};

/* Shared between the two files only: hidden, so the walks read them
 * PC-relative, without a GOT load, as they read their own statics. */
#define UNWIND_INT __attribute__((visibility("hidden")))

/* The published table, or NULL before unwtable_init() (or when it failed).
 * Load it with acquire. */
extern UNWIND_INT struct exec_table *_Atomic unwtable_tab;

/* An address in a module whose rules a walk needed and found not compiled
 * (0: none asked): the collector thread compiles that module's next
 * (unwind_serve). One slot: a walk asks only when it is empty, and a request
 * that did not fit is made again by the next walk that needs it. A request
 * wakes the collector (ring_wake_fd), which in sampling mode sleeps a tick
 * period between passes: a few writes per module, each a walk's first miss. */
extern UNWIND_INT atomic_uintptr_t unwtable_want;

static inline void unwtable_ask(uintptr_t addr)
{
    uint64_t one = 1;

    if (atomic_load_explicit(&unwtable_want, memory_order_relaxed))
        return;
    atomic_store_explicit(&unwtable_want, addr, memory_order_relaxed);
    if (ring_wake_fd >= 0)
        (void)!write(ring_wake_fd, &one, sizeof(one)); /* async-signal-safe */
}

/* The rules compiled so far, for unwind_describe(): written by the collector
 * thread, read by any (a figure a little stale at most). */
struct unwtable_stats {
    size_t bytes, rows, modules;
    int64_t build_ns; /* CPU time of the collector thread compiling them */
};
extern UNWIND_INT struct unwtable_stats unwtable_stats;

static inline int in_range(const struct range *r, uintptr_t a)
{
    return a >= r->lo && a < r->hi;
}

/* The range of t holding a, or NULL. */
static inline const struct range *find_exec(const struct exec_table *t, uintptr_t a)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (a < t->r[mid].lo)
            hi = mid;
        else if (a >= t->r[mid].hi)
            lo = mid + 1;
        else
            return &t->r[mid];
    }
    return NULL;
}

/* unwtable.c */

/* The executable range of the module holding addr ({0} if none). */
struct range unwtable_module(const void *addr);

/* Builds and publishes the ranges (no rules yet) with the main
 * executable's frame-pointer verdict: a module keeps frame pointers when at
 * least fp_threshold % of its code has them. Returns 0 and sets *main_fp
 * (the main executable keeps them), or -1. Once, at start. */
int unwtable_init(int fp_threshold, int *main_fp);

/* Makes unwind_refresh() keep the table current from now on. survey: the
 * frame-pointer walk is used: every module gets its verdict (those loaded
 * now before this returns, on the calling thread; later ones as they are
 * seen). rules: a module's unwind rules are compiled when a walk first
 * needs them (unwtable_ask). Once, at start, after unwtable_init(). */
void unwtable_start(int survey, int rules);

/* Compiles every module's rules now (the bench, which times walks only). */
void unwtable_compile_all(void);

/* The program's threads inside libunwind's walk, and whether a fork holds
 * them out (unwind_atfork_prepare): libunwind looks frames up with
 * dl_iterate_phdr, whose lock glibc 2.36 does not reset in a fork child, so
 * a fork while a thread was inside left the child stuck at its first walk.
 * Both sequentially consistent: a walk that counted itself then finds no
 * hold, or the fork's count finds it. The only shared write of a libunwind
 * walk; the other walks do not count. */
extern UNWIND_INT atomic_int unwtable_inside, unwtable_held;

/* A fork holds the walks: steps out until it is done (2 s at most). */
void unwtable_wait(void);

/* Around every call into libunwind's walk on a program's thread. */
static inline void unwtable_enter(void)
{
    atomic_fetch_add(&unwtable_inside, 1);
    if (__builtin_expect(atomic_load(&unwtable_held), 0))
        unwtable_wait();
}

static inline void unwtable_leave(void)
{
    atomic_fetch_sub_explicit(&unwtable_inside, 1, memory_order_release);
}

#endif
