/*
 * unwind_bench.c - the per-frame cost of the table walk (collector/cfitab.h)
 * next to unw_backtrace's, on the same stacks, and that both find the same
 * frames.
 *
 * Built twice by tests/bench/run.sh (and tests/collector/run.sh):
 *  - with -DUNWIND_BENCH_LIB, together with collector/unwind.c, unwtable.c,
 *    cfitab.c and ehframe.c, as a shared library: the collector's walk in a module of its
 *    own, as in libheapline.so (its frames are the ones the walk skips);
 *  - as the program, without frame pointers: stacks of 5 to 25 frames through
 *    three mutually recursive functions (as churn.c's), REPS rounds of the 21
 *    in turn, each walked by unw_backtrace (through the collector's
 *    capture_unw: the walk of HEAPLINE_UNWIND=libunwind) and by the table
 *    walk; a round without walks measures the recursion, taken off both.
 *    The table walk replays a thread's traces of stacks it has seen at the
 *    same SP (unwind.c), as a program's allocation sites are; a last pass
 *    moves every round's stacks down by 16 to 976 bytes (an alloca), so
 *    that few walks find a trace: the step-by-step walk's cost ("fresh").
 * Prints "libunwind_ns_per_frame X", "table_ns_per_frame Y", "speedup Z",
 * "table_fresh_ns_per_frame W", "frames F", "stacks S", "different D",
 * "fallbacks B": thread CPU time, so the figures hold on a busy machine.
 * Exit 1 if a stack differs.
 *
 * usage: unwind_bench [REPS]
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "unwind.h"

#ifdef UNWIND_BENCH_LIB

/* what unwind.c needs of core.c, and of ring.c: no collector to wake */
void core_say(const char *msg)
{
    fprintf(stderr, "heapline: %s\n", msg);
}

int ring_wake_fd = -1;

/* The walk of mode (CORE_UNWIND_LIBUNWIND or CORE_UNWIND_CFI) in effect
 * from here on; the rules compiled now. */
int unwind_bench_mode(int mode)
{
    int m = unwind_init(mode);

    unwind_rules_all();
    return m;
}

/* A capture from the library, as track_stack() makes one from libheapline.so:
 * unwind_capture() is inline, its walks start at this frame, and libunwind's
 * skips this module's frames; both begin at the return address into leaf(). */
__attribute__((noinline)) int unwind_bench_capture(uintptr_t *ips, int max, uint64_t lo,
                                                   uint64_t hi, struct unwind_root *roots,
                                                   uint64_t *h)
{
    return unwind_capture(__builtin_frame_address(0), ips, max, lo, hi, roots, h);
}

#else

#define NOINLINE __attribute__((noinline, noclone))
#define MAXF 64

int unwind_bench_mode(int mode);
int unwind_bench_capture(uintptr_t *ips, int max, uint64_t lo, uint64_t hi,
                         struct unwind_root *roots, uint64_t *h);

static uintptr_t stack_lo, stack_hi;
static struct unwind_root roots[UNWIND_ROOTS];
static long reps = 2000;
static long frames;
static uintptr_t saved[64][MAXF];
static int saved_n[64];
static int stack_i;
static int walking, comparing;
static long different;
volatile long sink;

NOINLINE static int leaf(void)
{
    uintptr_t ips[MAXF];
    uint64_t h;
    int n;

    if (!walking)
        return 0;
    n = unwind_bench_capture(ips, MAXF, stack_lo, stack_hi, roots, &h);
    frames += n;
    if (comparing) {
        /* all but main's return address from pass() (main may call it from
         * several places) */
        if (n != saved_n[stack_i] || n < 4 ||
            memcmp(ips, saved[stack_i], (size_t)(n - 4) * sizeof(ips[0])) ||
            memcmp(ips + n - 3, saved[stack_i] + n - 3, 3 * sizeof(ips[0])))
            different++;
    } else {
        saved_n[stack_i] = n;
        memcpy(saved[stack_i], ips, (size_t)n * sizeof(ips[0]));
    }
    return n;
}

NOINLINE static int rec_b(int d);
NOINLINE static int rec_c(int d);
NOINLINE static int rec_a(int d)
{
    int r = d <= 1 ? leaf() : d % 3 ? rec_b(d - 1) : rec_c(d - 1);
    sink += r;
    return r + 1;
}
NOINLINE static int rec_b(int d)
{
    int r = d <= 1 ? leaf() : rec_a(d - 1);
    sink += r;
    return r + 1;
}
NOINLINE static int rec_c(int d)
{
    int r = d <= 1 ? leaf() : rec_a(d - 1);
    sink += r;
    return r + 1;
}

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* rec_a(d) with the stack moved down by 16 * (1 + k % 61) bytes */
NOINLINE static int shifted(long k, int d)
{
    volatile char *pad = __builtin_alloca(16 * (1 + k % 61));

    pad[0] = 0;
    return rec_a(d) + pad[0];
}

/* reps rounds of the 21 stacks, one walk each, in turn (so no walk repeats
 * the one before it); the CPU seconds, frames walked in *nf. (One call site
 * in main: the stacks of every pass are the same.) shift: each round's
 * stacks at another depth (through shifted()). */
NOINLINE static double pass(long *nf, int shift)
{
    double t0 = cpu_s();

    frames = 0;
    for (long k = 0; k < reps; k++)
        for (int d = 5; d <= 25; d++) {
            stack_i = d - 5;
            if (shift)
                shifted(k, d);
            else
                rec_a(d);
        }
    *nf = frames;
    return cpu_s() - t0;
}

int main(int argc, char **argv)
{
    pthread_attr_t a;
    void *lo;
    size_t sz;
    long nf_unw = 0, nf_cfi = 0, nf_fresh = 0;
    double t_base = 0, t_unw = 0, t_cfi = 0, t_fresh = 0;

    if (argc > 1)
        reps = atol(argv[1]);
    if (reps < 1 || pthread_getattr_np(pthread_self(), &a) || pthread_attr_getstack(&a, &lo, &sz)) {
        fprintf(stderr, "usage: unwind_bench [REPS]\n");
        return 2;
    }
    stack_lo = (uintptr_t)lo;
    stack_hi = stack_lo + sz;
    /* no walk (the recursion's own cost, taken off both), libunwind (warm-up,
     * then timed), the table walk (warm-up, then timed) */
    for (int i = 0; i < 5; i++) {
        long nf;
        double t;

        walking = i > 0;
        if (i == 1)
            unwind_bench_mode(CORE_UNWIND_LIBUNWIND);
        if (i == 3 && unwind_bench_mode(CORE_UNWIND_CFI) != CORE_UNWIND_CFI) {
            fprintf(stderr, "unwind_bench: the table walk is not available\n");
            return 2;
        }
        comparing = i >= 3;
        t = pass(&nf, 0);
        if (i == 0)
            t_base = t;
        if (i == 2)
            t_unw = t - t_base, nf_unw = nf;
        if (i == 4)
            t_cfi = t - t_base, nf_cfi = nf;
    }
    /* the fresh stacks: the recursion alone, then walked (not compared: one
     * more frame, shifted's) */
    walking = 0;
    t_base = pass(&nf_fresh, 1);
    walking = 1;
    comparing = 0;
    t_fresh = pass(&nf_fresh, 1) - t_base;
    printf("libunwind_ns_per_frame %.2f\n", t_unw * 1e9 / nf_unw);
    printf("table_ns_per_frame %.2f\n", t_cfi * 1e9 / nf_cfi);
    printf("speedup %.1f\n", (t_unw / nf_unw) / (t_cfi / nf_cfi));
    printf("table_fresh_ns_per_frame %.2f\n", t_fresh * 1e9 / nf_fresh);
    printf("frames %ld\nstacks %d\ndifferent %ld\nfallbacks %llu\n", nf_cfi / reps, 21, different,
           (unsigned long long)unwind_fallbacks());
    return different || nf_cfi != nf_unw ? 1 : 0;
}

#endif
