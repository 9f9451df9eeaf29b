/*
 * stamp.h - the time stamps of ring events, and the collector's map from
 * stamps to nanoseconds.
 *
 * A stamp is the CPU's time-stamp counter (rdtsc, about 9 ns here) where the
 * kernel keeps time with it itself, else core_now()'s nanoseconds
 * (clock_gettime, about 24 ns). Every allocation call reads one or two, so the
 * difference is a tenth of what the collector costs the program's threads.
 *
 * The kernel uses the TSC as its clocksource only once it found it invariant
 * and in step across CPUs, so stamps of different threads compare like
 * CLOCK_MONOTONIC readings. But rdtsc is not ordered with the instructions
 * around it: it can run before a load above it has completed (measured here:
 * one time in a hundred, a stamp read right after loading another CPU's
 * stamp was up to 130 ns older). An allocation's stamp is read after the
 * stack walk, hundreds of instructions after the real call returned, more
 * than the CPU can reorder: plain rdtsc. A free's (and a realloc's, before
 * the call) must not be older than the allocation of the block it names,
 * which another thread may have stamped just before handing the pointer
 * over, and only a few instructions separate it from the load of that
 * pointer: stamp_now_ordered(), lfence first (the kernel's clock_gettime
 * does the same). A FREE's stamp is read before the real free(), whose
 * stores become visible only after it. While the program has one thread
 * (ring_shared), no pointer comes from another thread: a FREE takes a plain
 * stamp, raised to its ring's last one (track.c).
 *
 * The collector thread converts stamps to nanoseconds since start: at every
 * drain it reads a (TSC, CLOCK_MONOTONIC) pair, and stamps are mapped on the
 * line through the last two pairs at least STAMP_MIN_SEGMENT_NS apart, so the
 * map is continuous and increasing, and exact within the read jitter (tens of
 * ns) for every stamp between the two pairs. A drain applies events up to the
 * newer pair only, so in stream order converted times never step back (only
 * an event committed late, behind a preempted thread, is extrapolated).
 */
#ifndef HEAPLINE_STAMP_H
#define HEAPLINE_STAMP_H

#include <stdint.h>

#include "core.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define STAMP_MIN_SEGMENT_NS 100000 /* 100 us: the pairs' jitter is < 1e-3 of it */

/* Nonzero when stamps are TSC readings. Set by stamp_init(), before tracking
 * starts; read-only afterwards. */
extern int stamp_tsc;

/* Decides the stamp source (the kernel's clocksource is "tsc", and the CPU
 * says its TSC is invariant). Not async-signal-safe; start-up only. */
void stamp_init(void);

/* The calling thread's stamp, read when the CPU gets to it (see above: for
 * allocations, after the walk). Async-signal-safe. */
static inline int64_t stamp_now(void)
{
#if defined(__x86_64__)
    if (__builtin_expect(stamp_tsc, 1))
        return (int64_t)__rdtsc();
#endif
    return core_now();
}

/* A stamp no older than any instruction before it (frees, and a realloc's
 * start). Async-signal-safe. */
static inline int64_t stamp_now_ordered(void)
{
#if defined(__x86_64__)
    if (__builtin_expect(stamp_tsc, 1)) {
        _mm_lfence();
        return (int64_t)__rdtsc();
    }
#endif
    return core_now();
}

/* stamp -> ns: ns0 + (stamp - tsc0) * mult / 2^32. The identity without TSC. */
struct stamp_map {
    int64_t tsc0, ns0; /* the older pair of the segment */
    uint64_t mult;     /* ns per tick, 32.32 fixed point; 0: no segment yet */
    int64_t tsc1, ns1; /* the newer pair */
};

/* Starts the map with a first pair (collector start, before any event). */
void stamp_map_start(struct stamp_map *m);

/* Reads a pair and, when it is at least STAMP_MIN_SEGMENT_NS past the newer
 * pair, makes the segment end there (the first segment waits for that much
 * time to pass). Sets *watermark to the newer pair's stamp (stamps up to it
 * lie on the segment) and returns whether the segment moved (always 1
 * without a TSC, where the watermark is the ns read now). Collector thread. */
int stamp_map_advance(struct stamp_map *m, int64_t *watermark);

/* Nanoseconds since start of stamp s (on the current segment's line, beyond
 * it for stamps outside, never below 0). */
static inline int64_t stamp_ns(const struct stamp_map *m, int64_t s)
{
    int64_t d, ns;

    if (!stamp_tsc)
        return s;
    d = s - m->tsc0;
    ns = d >= 0 ? m->ns0 + (int64_t)(((unsigned __int128)d * m->mult) >> 32)
                : m->ns0 - (int64_t)(((unsigned __int128)-d * m->mult) >> 32);
    return ns > 0 ? ns : 0;
}

/* Nanoseconds of a span of d stamp units. */
static inline uint64_t stamp_span_ns(const struct stamp_map *m, uint64_t d)
{
    return stamp_tsc ? (uint64_t)(((unsigned __int128)d * m->mult) >> 32) : d;
}

#endif
