/*
 * sample.h - sampling mode: allocations sampled by bytes (a Poisson process
 * of mean rate R bytes, as tcmalloc, jemalloc and heapprofd do), exact totals
 * from per-thread counters.
 *
 * Off by default (exact mode: every call is an event). When on, a call of
 * the malloc family that is not sampled costs, on the program's thread: one
 * subtraction from the countdown to the sample point and a few adds to the
 * thread's own slot (calls, bytes asked, usable bytes, the last read from
 * glibc's chunk header, hooks.c), and for a free one bit of the sampled-block
 * filter: 61 instructions a malloc/free pair of the collector's own
 * (tests/bench/hookcost.sh), from 100. No stack walk, no clock, no ring event, no call but
 * the real allocator's. A sampled block (and every block of R bytes
 * or more: recorded exactly) goes through track.c as in exact mode and is
 * weighted on the collector thread by weight_of() (protocol/weight.h: size / (1 -
 * e^(-size/R))).
 *
 * Per-thread slots: each thread takes one of SAMPLE_SLOTS static slots on its
 * first call and gives it back at exit; a slot's counters are cumulative and
 * survive its owners, so the collector's sum over all slots is the process's
 * totals. Only the owning thread writes a slot; the collector reads.
 *
 * The filter (which live blocks were sampled) is an open-addressed table of
 * addresses with, per home bucket, a count of the entries whose home it is:
 * a free of an unsampled block reads that count (0: not sampled), one byte.
 * Chosen over carving sampled blocks from a range of our own (GWP-ASan):
 * the program's blocks stay where its allocator puts them (realloc in place,
 * malloc_usable_size, alignment and every allocator behind us keep working)
 * and nothing of ours sits in front of a block.
 */
#ifndef HEAPLINE_SAMPLE_H
#define HEAPLINE_SAMPLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Mean sampling interval in bytes; 0: exact mode. Hot path: relaxed load. */
extern _Atomic uint64_t sample_rate_bytes;

#define SAMPLE_RATE_MIN 1024u               /* smaller rates are refused */
#define SAMPLE_RATE_MAX (UINT64_C(1) << 40) /* larger ones too */

/* Parses a size: digits with an optional K, M or G (powers of 1024), an
 * optional trailing "B"/"iB" ("512K", "2M", "524288", "512KiB"). Returns the
 * byte count, or 0 when s is not a size in [SAMPLE_RATE_MIN,
 * SAMPLE_RATE_MAX]. Any thread, no allocation. */
uint64_t sample_parse(const char *s);

/* Turns sampling on at rate bytes (0: off, exact mode). Call before tracking
 * starts (start-up reads HEAPLINE_SAMPLE through sample_configure_env());
 * an injector that attaches to a running process calls it before switching
 * tracking on. Returns 0, or -1 when rate is neither 0 nor a valid rate. */
int sample_configure(uint64_t rate);

/* Reads HEAPLINE_SAMPLE (a size, "off" or unset). A bad value turns sampling
 * off and says so in one line. Start-up only. */
void sample_configure_env(void);

/* Nonzero in sampling mode. Any thread. */
static inline int sample_on(void)
{
    return atomic_load_explicit(&sample_rate_bytes, memory_order_relaxed) != 0;
}

/* ---- the program's threads (hooks.c) ---- */

/* The countdown to the next sample point is left + reserve bytes, drawn
 * whole; left is at most the rate, so that "size < left" alone proves an
 * allocation unsampled (no load of the rate) and sample_point() moves the
 * rest in once per rate bytes or so. */
struct sample_thread {
    uint64_t left, reserve; /* owner only (and sample_configure(), tracking off) */
    uint64_t rng;
    _Atomic uint64_t allocs, frees, bytes_asked; /* calls, and bytes asked by allocations */
    _Atomic uint64_t usable8; /* usable + 8 bytes allocated minus freed, mod 2^64 (glibc's chunk
                                 sizes: sample_totals() takes 8 a live block back off) */
    atomic_int used;          /* the slot is taken by a live thread */
} __attribute__((aligned(64)));

#define SAMPLE_SLOTS 4096u /* threads alive at once in sampling mode */

/* The calling thread's slot, taking one on the first call. NULL when every
 * slot is taken (tracking is then turned off). No allocation, no lock. */
struct sample_thread *sample_self_slow(void);
extern __thread struct sample_thread *sample_self_tls;
/* The thread's slot once it has one, when the hooks may count from glibc's
 * chunk header (sample_set_fast()); else NULL. */
extern __thread struct sample_thread *sample_fast_tls;

static inline struct sample_thread *sample_self(void)
{
    struct sample_thread *t = sample_self_tls;

    return __builtin_expect(t != NULL, 1) ? t : sample_self_slow();
}

/* Whether slots taken from now on are also sample_fast_tls. Start-up
 * (hooks_init()), before tracking is on. */
void sample_set_fast(int on);

/* Owner-only counter add: one writer, so a plain add, readable by the
 * collector; on x86-64 one add to memory (a relaxed load and store are three
 * instructions, a locked add twenty cycles). */
static inline void sample_add(_Atomic uint64_t *field, uint64_t v)
{
#if defined(__x86_64__)
    __asm__("addq %1, %0" : "+m"(*(uint64_t *)field) : "er"(v));
#else
    atomic_store_explicit(field, atomic_load_explicit(field, memory_order_relaxed) + v,
                          memory_order_relaxed);
#endif
}

static inline void sample_sub(_Atomic uint64_t *field, uint64_t v)
{
#if defined(__x86_64__)
    __asm__("subq %1, %0" : "+m"(*(uint64_t *)field) : "er"(v));
#else
    atomic_store_explicit(field, atomic_load_explicit(field, memory_order_relaxed) - v,
                          memory_order_relaxed);
#endif
}

/* Takes size bytes off the countdown's left. Zero when size < left (then
 * the allocation is surely unsampled); nonzero otherwise, and the caller
 * must ask sample_point(), which undoes the subtraction. */
static inline int sample_countdown(struct sample_thread *t, size_t size)
{
#if defined(__x86_64__)
    int below_or_equal;

    __asm__("subq %2, %0" : "+m"(t->left), "=@ccbe"(below_or_equal) : "r"(size));
    return below_or_equal;
#else
    int at_point = size >= t->left;

    t->left -= size;
    return at_point;
#endif
}

/* After sample_countdown() said nonzero for size: whether the allocation is
 * sampled (the sample point falls in it, or it is R bytes or more: always
 * recorded), with the countdown moved past it. */
int sample_point(struct sample_thread *t, size_t size);

/* Counts one allocation of size bytes asked (usable bytes usable) and says
 * whether it is sampled, as sample_countdown() and sample_point() do. */
static inline int sample_alloc(struct sample_thread *t, size_t size, size_t usable)
{
    sample_add(&t->allocs, 1);
    sample_add(&t->bytes_asked, size);
    sample_add(&t->usable8, usable + 8);
    return sample_countdown(t, size) && sample_point(t, size);
}

/* After sample_alloc() said yes: draws the next sample point (when this
 * block took the current one). */
void sample_next(struct sample_thread *t);

/* Counts one free of a block of usable bytes. */
static inline void sample_free(struct sample_thread *t, size_t usable)
{
    sample_add(&t->frees, 1);
    sample_sub(&t->usable8, usable + 8);
}

/* ---- the sampled-block filter ---- */

#define SAMPLE_FILTER_BITS 17
/* bit h set while some entry has its home at h: 16 KiB, which stays in the
 * first-level cache where the byte a home took (128 KiB) did not (the
 * load was 60% of the free hook's time under python3) */
extern _Atomic uint64_t sample_home_bits[(1u << SAMPLE_FILTER_BITS) / 64];

static inline uint32_t sample_home(const void *p)
{
    /* p is 16-aligned: p * K is (p >> 4) * K shifted up by 4, whose top
     * bits spread neighbours as well, one shift fewer on the free hook */
    return (uint32_t)(((uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - SAMPLE_FILTER_BITS));
}

/* Zero when p is surely not a sampled block: one word load and a bit test. */
static inline int sample_maybe(const void *p)
{
    uint32_t h = sample_home(p);

    return (atomic_load_explicit(&sample_home_bits[h / 64], memory_order_relaxed) >> (h % 64)) & 1;
}

/* Asks for the cache lines sample_filter_add(p) or sample_filter_del(p)
 * will write (the entry's first, its home's count and bit), for a caller
 * with other work to do before it: they are misses, a third of a sample's
 * cost when taken one after another (the table is 1 MiB; the bit's line is
 * read by every thread's frees). */
void sample_filter_prefetch(const void *p);

/* Notes p as sampled. Returns 0, or -1 when the filter has no room near
 * p's home (the block is then left unsampled and counted as dropped). */
int sample_filter_add(const void *p);

/* Forgets p. Returns 1 when p was a sampled block, 0 otherwise. */
int sample_filter_del(const void *p);

/* ---- the collector thread ---- */

struct sample_totals {
    uint64_t heap_bytes, heap_blocks; /* usable bytes live, blocks live: exact */
    uint64_t allocations, frees, bytes_allocated;
    uint64_t dropped; /* sampled blocks the filter had no room for */
};

/* The run's totals: summed over every slot, less the sums when the run
 * started. Collector thread. */
void sample_totals(struct sample_totals *out);

/* A run starts (core_start(), before the collector thread): its totals
 * count from here. A second attach's heap was its first attach's plus its
 * own, though the calls between the two were not counted. */
void sample_totals_restart(void);

/* ---- threads and fork ---- */

/* Gives the calling thread's slot back (its thread-exit destructor). */
void sample_thread_exit(void);

/* Fork child: the parent's other threads are gone; their slots are given
 * back (their counts stay: the child inherited their blocks). */
void sample_atfork_child(void);

#endif
