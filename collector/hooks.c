/*
 * hooks.c - the libc names: malloc calloc realloc reallocarray free cfree
 * posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size.
 *
 * Hot-path contract. On the application's thread a tracked call does only:
 *   - the recursion guard (initial-exec TLS) and a relaxed load of core_on;
 *   - the real allocator call;
 *   - one stack capture (libunwind, or a validated frame-pointer walk);
 *   - one stack-id lookup (per-thread cache, else the lock-free trie);
 *   - one time stamp (stamp.h) and one fixed-size copy into the thread's ring.
 * No lock shared between threads (except once per thread, at registration),
 * no I/O, no malloc of ours. A free is recorded before the real free (so the
 * address cannot be reused before its event exists); an allocation after the
 * real call returns. realloc is one event. While the guard is set (nested
 * calls, the collector thread) or tracking is off, every name passes through
 * (a big block the collector frees gives back its pages first:
 * own_give_back()).
 *
 * Sampling mode (sample.h) replaces the capture of a call that is not
 * sampled with a subtraction from the countdown and a few adds to the
 * thread's slot, the usable size read from glibc's chunk header, and a
 * free's with one bit of the sampled-block filter: no walk, no clock, no ring
 * event, no call of ours, no frame (HOOK_NO_FRAME). A sampled block is
 * entered in the filter and recorded as above; its free is found there.
 *
 * Before dlsym has resolved the real functions (dlsym itself calls calloc),
 * blocks come from a static bootstrap arena; they are never given to the real
 * free, realloc or malloc_usable_size.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <malloc.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core.h"
#include "ownmaps.h"
#include "pygen.h"
#include "collect.h"
#include "sample.h"
#include "stamp.h"
#include "track.h"
#include "untracked.h"

#define EXPORT __attribute__((visibility("default")))

void cfree(void *p);

struct real_fns {
    void *(*malloc)(size_t);
    void (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*malloc_usable_size)(void *);
};

static struct real_fns real;
static atomic_int resolving;

/* ---- bootstrap arena ---- */

#define ARENA_SIZE (256u << 10)
static _Alignas(64) char arena[ARENA_SIZE];
static atomic_size_t arena_used;

static inline int in_arena(const void *p)
{
    return (uintptr_t)p - (uintptr_t)arena < ARENA_SIZE; /* one compare */
}

/* Each block is preceded by 16 bytes, the last 8 its size << 4 with bit 1
 * set: glibc's IS_MMAPPED, which sends a free that reads the word as a chunk
 * header (sampled_free()) off its fast path. */
#define ARENA_WORD_MARK 2u
static void *arena_alloc(size_t size, size_t align)
{
    size_t need, off, start;

    if (align < 16)
        align = 16;
    if (size > ARENA_SIZE)
        return NULL;
    need = size + 16 + align;
    off = atomic_fetch_add(&arena_used, (need + 15) & ~(size_t)15);
    if (off + need > ARENA_SIZE)
        return NULL;
    start = ((uintptr_t)(arena + off + 16) + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)start)[-1] = size << 4 | ARENA_WORD_MARK;
    return (void *)start; /* zero-filled: static storage, never reused */
}

static inline size_t arena_size(const void *p)
{
    return ((const size_t *)p)[-1] >> 4;
}

static void resolve(void)
{
    int expect = 0;

    if (!atomic_compare_exchange_strong(&resolving, &expect, 1))
        return; /* someone (maybe dlsym, through calloc) is resolving */
    real.malloc = dlsym(RTLD_NEXT, "malloc");
    real.free = dlsym(RTLD_NEXT, "free");
    real.calloc = dlsym(RTLD_NEXT, "calloc");
    real.realloc = dlsym(RTLD_NEXT, "realloc");
    real.posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real.memalign = dlsym(RTLD_NEXT, "memalign");
    real.valloc = dlsym(RTLD_NEXT, "valloc");
    real.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
    real.malloc_usable_size = dlsym(RTLD_NEXT, "malloc_usable_size");
    if (!real.malloc || !real.free || !real.calloc || !real.realloc || !real.memalign) {
        static const char msg[] = "heapline: cannot find the real allocator\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(127);
    }
}

static inline int ready(void)
{
    if (__builtin_expect(real.free != NULL, 1))
        return 1;
    resolve();
    return real.free != NULL;
}

static inline int tracking(void)
{
    if (track_guard)
        return 0;
    if (__builtin_expect(atomic_load_explicit(&core_on, memory_order_relaxed), 1))
        return 1;
    return core_early_start(); /* before our constructor, or tracking off */
}

/* The collector's own big blocks (malloc gives each its own mapping) are
 * not memory the program mapped: a backreference scan must not read the
 * collector's buffers (events, a request) as the program's roots
 * (scanroots.c). Noted by their pages, on the collector's untracked calls
 * only (track_guard set). */
#define OWN_BIG (64u << 10)
#define OWN_PAGE 4096u

static inline void *own_note(void *p, size_t size)
{
    untracked_alloc(p, track_guard);
    if (p && track_guard && size >= OWN_BIG) {
        uintptr_t lo = ((uintptr_t)p - 16) & ~(uintptr_t)(OWN_PAGE - 1);
        uintptr_t hi = ((uintptr_t)p + size + OWN_PAGE - 1) & ~(uintptr_t)(OWN_PAGE - 1);
        ownmaps_add((void *)lo, hi - lo);
    }
    return p;
}

static inline void own_forget(void *p)
{
    untracked_free(p, track_guard);
    if (p && track_guard && real.malloc_usable_size && real.malloc_usable_size(p) >= OWN_BIG)
        ownmaps_del((void *)(((uintptr_t)p - 16) & ~(uintptr_t)(OWN_PAGE - 1)));
}

/* ---- sampling mode ---- */

/* The fast paths of an unsampled call keep no frame: they call only the real
 * allocator, and everything that may walk the stack is a tail call, made
 * with the stack as the program's call left it (the frame-pointer walk then
 * misses nothing); the frame was 3 of an unsampled call's instructions. */
#if defined(__GNUC__) && !defined(__clang__)
#define HOOK_NO_FRAME __attribute__((optimize("omit-frame-pointer")))
#else
#define HOOK_NO_FRAME
#endif

/* glibc's chunk header of a live block: the size word before it, IS_MMAPPED
 * its bit 1; the chunk's size (word & ~7) is malloc_usable_size + 8 when the
 * bit is clear. Bit 0 (the previous chunk in use) changes while the block
 * lives; bits 1 and 2 and the size do not. */
#define CHUNK_MMAPPED 2u

static inline size_t chunk_word(const void *p)
{
    return ((const size_t *)p)[-1];
}

/* glibc's malloc_usable_size of a live block from its chunk header. Used
 * once hooks_init() saw it agree with the real function, so another
 * allocator behind us keeps its own: the two calls were half the cost of a
 * pair of unsampled calls. */
static int usable_glibc;

static inline size_t glibc_usable(const void *p)
{
    size_t word = chunk_word(p);

    return (word & ~(size_t)7) - 8 - ((word & CHUNK_MMAPPED) << 2); /* 16 when mmapped */
}

/* glibc raises its mmap threshold (and twice that, its trim threshold) to
 * the size of any mmapped chunk freed above it, for the rest of the run: one
 * free of ours (the 300000 bytes of usable_check(), a big buffer of the
 * collector's) then keeps the program's blocks of up to that size in its
 * heap, where realloc copies what mremap moved before (sqlite3 at 512K: the
 * sorter's reallocs from 128 KiB up copied, 10 ms of memmove in a 0.32 s
 * run). An mmapped chunk of ours bigger than the lowest threshold is shrunk
 * to a page first (realloc of an mmapped chunk is an mremap in place), so
 * the free that unmaps it never moves the program's threshold. */
#define MMAP_THRESHOLD_MIN (128u << 10)

static void free_own(void *p)
{
    size_t word = chunk_word(p);

    if (usable_glibc && (word & CHUNK_MMAPPED) && (word & ~(size_t)7) > MMAP_THRESHOLD_MIN) {
        void *q = real.realloc(p, 1);

        if (q)
            p = q;
    }
    real.free(p);
}

static void usable_check(void)
{
    static const size_t sizes[] = {1, 24, 25, 100, 1000, 40000, 300000};
    int same = real.malloc_usable_size != NULL;

    for (size_t i = 0; same && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = real.malloc(sizes[i]);

        if (!p) {
            same = 0;
            break;
        }
        same = glibc_usable(p) == real.malloc_usable_size(p);
        usable_glibc = same; /* free_own() reads the header only when it agrees */
        free_own(p);
    }
    usable_glibc = same;
}

static inline size_t usable(void *p, size_t size)
{
    if (__builtin_expect(usable_glibc, 1))
        return glibc_usable(p);
    return real.malloc_usable_size ? real.malloc_usable_size(p) : size;
}

/* A deferred collector's tick at a sample point, before the point's own
 * counts and event: the totals it notes are the ones that held until then
 * (a level held while the program made no sample point). */
static inline void point_before(void)
{
    if (__builtin_expect(collect_deferred(), 0)) {
        track_guard = 1;
        collect_point();
        track_guard = 0;
    }
}

/* A sampled allocation: noted in the filter, then recorded as in exact mode.
 * Returns p (a tail call of the fast path below, which then keeps nothing
 * across it). */
static __attribute__((noinline)) void *sampled_hit(struct sample_thread *t, void *p, size_t size)
{
    track_guard = 1;
    /* the filter's lines and the ring's come in while the stack is walked */
    sample_filter_prefetch(p);
    track_prefetch();
    sample_next(t);
    track_alloc_sampled(p, size);
    if (__builtin_expect(collect_deferred(), 0))
        collect_point(); /* after: sampled_alloc_slow() counted it already */
    track_guard = 0;
    return p;
}

/* sampled_alloc() of a thread without its fast slot, of an mmapped chunk,
 * or behind an allocator whose usable size is not glibc's header. p != NULL. */
static __attribute__((noinline)) void *sampled_alloc_slow(void *p, size_t size)
{
    struct sample_thread *t = sample_self();

    if (t && sample_alloc(t, size, usable(p, size)))
        return sampled_hit(t, p, size);
    return p;
}

/* sampled_alloc() when the countdown reached size: counted, then asked. */
static __attribute__((noinline)) void *sampled_alloc_point(struct sample_thread *t, void *p,
                                                           size_t size)
{
    point_before();
    sample_add(&t->allocs, 1);
    sample_add(&t->bytes_asked, size);
    sample_add(&t->usable8, chunk_word(p) & ~(size_t)7);
    if (sample_point(t, size))
        return sampled_hit(t, p, size);
    return p;
}

/* Counts the allocation p of size bytes (NULL: failed) and records it when
 * the sample point falls in it. Returns p. The fast path: a glibc chunk, not
 * mmapped, size short of the countdown's left: three adds to the thread's
 * slot. Every other call is a tail call, so that the caller saves no
 * register for it. */
static inline void *sampled_alloc(void *p, size_t size)
{
    struct sample_thread *t = sample_fast_tls;
    size_t word;

    if (__builtin_expect(!p, 0))
        return p;
    if (__builtin_expect(!t, 0))
        return sampled_alloc_slow(p, size);
    word = chunk_word(p);
    if (__builtin_expect(word & CHUNK_MMAPPED, 0))
        return sampled_alloc_slow(p, size);
    if (__builtin_expect(sample_countdown(t, size), 0))
        return sampled_alloc_point(t, p, size);
    sample_add(&t->allocs, 1);
    sample_add(&t->bytes_asked, size);
    sample_add(&t->usable8, word & ~(size_t)7);
    return p;
}

/* A block the filter may hold: its FREE goes out before the real free. */
static __attribute__((noinline)) void sampled_release(void *p)
{
    track_guard = 1;
    if (sample_filter_del(p))
        track_free(p); /* its caller noted a deferred tick before (point_before) */
    track_guard = 0;
}

/* sampled_free() of a thread without its fast slot, of an mmapped chunk or
 * a bootstrap block, or behind another allocator. */
static __attribute__((noinline)) void sampled_free_slow(void *p)
{
    struct sample_thread *t;

    if (in_arena(p))
        return;
    int maybe = sample_maybe(p);

    if (maybe)
        point_before();
    if ((t = sample_self()))
        sample_free(t, usable(p, 0));
    if (maybe)
        sampled_release(p);
    real.free(p);
}

/* sampled_free() of a block the filter may hold: counted after a deferred
 * tick (point_before), then released. */
static __attribute__((noinline)) void sampled_free_hit(struct sample_thread *t, void *p,
                                                       size_t word)
{
    sample_filter_prefetch(p); /* the misses of the filter's lines and the ring's at once */
    track_prefetch();
    point_before();
    sample_add(&t->frees, 1);
    sample_sub(&t->usable8, word & ~(size_t)7);
    sampled_release(p);
    real.free(p);
}

/* Sampling mode's free of p != NULL. The fast path: a glibc chunk, not
 * mmapped (a bootstrap block's word says mmapped), two adds to the thread's
 * slot and one bit of the filter. Every call off it is a tail call (as
 * sampled_alloc()'s). */
static inline void sampled_free(void *p)
{
    struct sample_thread *t = sample_fast_tls;
    size_t word;

    if (__builtin_expect(!t, 0)) {
        sampled_free_slow(p);
        return;
    }
    word = chunk_word(p);
    if (__builtin_expect(word & CHUNK_MMAPPED, 0)) {
        sampled_free_slow(p);
        return;
    }
    if (__builtin_expect(sample_maybe(p), 0)) {
        sampled_free_hit(t, p, word);
        return;
    }
    sample_add(&t->frees, 1);
    sample_sub(&t->usable8, word & ~(size_t)7);
    real.free(p);
}

/* old != NULL, not from the arena. A sampled old block is a FREE, a sampled
 * new one an ALLOC (the two figures a REALLOC event would change). */
static __attribute__((noinline)) void *sampled_realloc(void *old, size_t size)
{
    size_t old_usable = usable(old, 0);
    struct sample_thread *t;
    void *p;

    if (__builtin_expect(sample_maybe(old), 0)) {
        point_before();
        sampled_release(old);
    }
    p = real.realloc(old, size);
    if (!p && size)
        return p; /* failed: old is still the program's */
    if (!(t = sample_self()))
        return p;
    sample_free(t, old_usable);
    return sampled_alloc(p, size);
}

/* Used by core.c during start-up: resolves the real functions, waiting a
 * moment for another thread that is resolving them (core_start() turns
 * tracking on only once they are: the hooks' fast paths call them without
 * testing ready()). */
void hooks_init(void);
void hooks_init(void)
{
    for (int i = 0; !ready() && i < 100000; i++)
        sched_yield();
    if (ready())
        usable_check();
    sample_set_fast(usable_glibc);
}

int hooks_resolved(void);
int hooks_resolved(void)
{
    return real.free != NULL;
}

/* In an *_other path: whether the real function alone will do. That is
 * tracking off after start-up (a run turned off, a detached program, which
 * keeps the hooks and this collector until it exits, the image a fork child
 * exec'd with HEAPLINE_FORK=off), the guard clear, the real functions
 * resolved, and nothing allocated untracked to note but the collector's own
 * (untracked_on is UNTRACKED_ALL from the first call until start-up has
 * read the configuration, and in check mode). The mode is tested again:
 * realloc() of NULL takes realloc_other() in every mode. Such a call went
 * through the start-up test and the untracked table's, three calls deep:
 * the idle library cost sqlite3 1.024x-1.028x its bare run, and costs
 * 1.009x-1.013x now (medians of the rounds' ratios, two series of 100 and
 * 80 interleaved rounds). */
static inline int pass(void)
{
    return !track_guard && !atomic_load_explicit(&core_on, memory_order_relaxed) &&
           atomic_load_explicit(&untracked_on, memory_order_relaxed) != UNTRACKED_ALL &&
           real.free != NULL;
}

/* malloc and free pick their path on one load of core_on (its mode, core.h)
 * and the guard: sampling mode's fast path inline, every other a tail call
 * to one function per mode, so that the path of either mode saves only the
 * registers it uses and tests nothing twice: the push and pop of the exact
 * path's were a tenth of its instructions, and the tests of ready(),
 * tracking() and sample_on() a quarter of an unsampled call's. core_on != 0
 * implies ready(): hooks_init() precedes core_start(). */
static inline int hook_mode(void)
{
    int on = atomic_load_explicit(&core_on, memory_order_relaxed);

    return track_guard ? 0 : on;
}

static __attribute__((noinline)) void *malloc_untracked(size_t size)
{
    return own_note(real.malloc(size), size);
}

static __attribute__((noinline)) HOOK_NO_FRAME void *malloc_sampled(size_t size)
{
    return sampled_alloc(real.malloc(size), size);
}

static __attribute__((noinline)) void *malloc_exact(size_t size)
{
    void *p;

    track_guard = 1;
    p = real.malloc(size);
    if (p)
        track_alloc(p, size);
    track_guard = 0;
    return p;
}

/* Before start-up, with the guard set, or with tracking off. */
static __attribute__((noinline)) void *malloc_other(size_t size)
{
    if (pass())
        return real.malloc(size);
    if (!ready())
        return arena_alloc(size, 16);
    if (!tracking())
        return malloc_untracked(size);
    if (sample_on())
        return malloc_sampled(size);
    return malloc_exact(size);
}

EXPORT void *malloc(size_t size)
{
    int mode = hook_mode();

    if (__builtin_expect(mode == CORE_ON_SAMPLED, 1))
        return malloc_sampled(size); /* keeps the exact path's free of a push */
    if (mode == CORE_ON_EXACT)
        return malloc_exact(size);
    return malloc_other(size);
}

/* A big block of the collector's own (track_guard set), not mmapped, gives
 * back its pages just before it is freed: glibc keeps a freed chunk in its
 * arena, resident, and the collector's arena held 7.9 MB of such holes at
 * a python3 run's peak (libdw's line tables of the second Dwarf lines.c
 * ends, up to 3.2 MB each: glibc's mmap threshold had risen with the
 * program's own frees, so they were not mapped apart). Only the pages
 * strictly inside the chunk past the 32 bytes free() writes its list
 * pointers into (glibc's layout: the size word before the block, bit 1
 * IS_MMAPPED); done while the block is still ours, so no other thread can
 * have been given that memory; the zero pages that come back on reuse are
 * what a fresh chunk holds. From 32 KiB (256 before): the JSON bench's
 * collector arena held 0.8 MB less at the peak (9.7-10.5 MB against
 * 10.5-11.3, 3 interleaved runs each), for 787 madvise calls in the run
 * instead of 353 (17 ms of system time in all, on the collector thread). */
#define OWN_GIVE_BACK (32u << 10)

static inline void own_give_back(void *p)
{
    size_t word;
    uintptr_t lo, hi;

    if (!track_guard || !usable_glibc)
        return;
    word = ((const size_t *)p)[-1];
    if ((word & 2) || (word & ~(size_t)7) < OWN_GIVE_BACK)
        return;
    lo = ((uintptr_t)p + 32 + OWN_PAGE - 1) & ~(uintptr_t)(OWN_PAGE - 1);
    hi = ((uintptr_t)p - 16 + (word & ~(size_t)7)) & ~(uintptr_t)(OWN_PAGE - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static __attribute__((noinline)) void free_untracked(void *p)
{
    own_forget(p);
    own_give_back(p);
    if (track_guard)
        free_own(p);
    else
        real.free(p);
}

static __attribute__((noinline)) void free_exact(void *p)
{
    track_guard = 1;
    track_free(p);
    real.free(p);
    track_guard = 0;
}

/* Before start-up, with the guard set, or with tracking off. */
static __attribute__((noinline)) void free_other(void *p)
{
    if (pass()) {
        real.free(p);
        return;
    }
    if (!ready())
        return;
    if (!tracking()) {
        free_untracked(p);
        return;
    }
    if (sample_on()) {
        sampled_free(p);
        return;
    }
    free_exact(p);
}

/* free() of p != NULL in a mode other than sampling's. */
static __attribute__((noinline)) void free_mode(void *p, int mode)
{
    if (in_arena(p))
        return;
    if (mode == CORE_ON_EXACT) {
        free_exact(p);
        return;
    }
    free_other(p);
}

/* free() of p != NULL in a CPython program (pygen.h): the code-object
 * filter's test before the block can be reused, then the mode's path. */
static __attribute__((noinline)) void free_pygen(void *p, int mode)
{
    pygen_freeing(p);
    if (__builtin_expect(mode == CORE_ON_SAMPLED, 1)) {
        sampled_free(p);
        return;
    }
    free_mode(p, mode);
}

/* Every path off sampling's fast one is a tail call, so free() keeps no
 * frame: with pygen's test inline, its push, pop and saved register were 6
 * of an unsampled free's 39 instructions. */
EXPORT HOOK_NO_FRAME void free(void *p)
{
    int mode = hook_mode();

    if (!p)
        return;
    if (__builtin_expect(atomic_load_explicit(&pygen_on, memory_order_relaxed), 0)) {
        free_pygen(p, mode);
        return;
    }
    if (__builtin_expect(mode == CORE_ON_SAMPLED, 1)) {
        sampled_free(p); /* a bootstrap block goes off its fast path */
        return;
    }
    free_mode(p, mode);
}

EXPORT void cfree(void *p)
{
    free(p);
}

static __attribute__((noinline)) void *calloc_sampled(size_t n, size_t size, size_t total)
{
    return sampled_alloc(real.calloc(n, size), total);
}

static __attribute__((noinline)) void *calloc_exact(size_t n, size_t size, size_t total)
{
    void *p;

    track_guard = 1;
    p = real.calloc(n, size);
    if (p)
        track_alloc(p, total);
    track_guard = 0;
    return p;
}

/* Before start-up, with the guard set, or with tracking off. */
static __attribute__((noinline)) void *calloc_other(size_t n, size_t size, size_t total)
{
    if (pass())
        return real.calloc(n, size);
    if (!ready())
        return arena_alloc(total, 16);
    if (!tracking())
        return own_note(real.calloc(n, size), total);
    if (sample_on())
        return calloc_sampled(n, size, total);
    return calloc_exact(n, size, total);
}

EXPORT void *calloc(size_t n, size_t size)
{
    int mode = hook_mode();
    size_t total;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (__builtin_expect(mode == CORE_ON_SAMPLED, 1))
        return calloc_sampled(n, size, total);
    if (mode == CORE_ON_EXACT)
        return calloc_exact(n, size, total);
    return calloc_other(n, size, total);
}

/* realloc of a bootstrap block: copy out, never free the arena. */
static void *realloc_from_arena(void *old, size_t size)
{
    size_t old_size = arena_size(old);
    void *p = malloc(size ? size : 1);

    if (p)
        memcpy(p, old, old_size < size ? old_size : size);
    return p;
}

/* Exact mode's realloc of a block not from the arena. */
static __attribute__((noinline)) void *realloc_exact(void *old, size_t size)
{
    void *p;
    int64_t t0;

    track_guard = 1;
    if (size == 0) {
        /* glibc frees and returns NULL: a FREE, recorded before the free */
        track_free(old);
        p = real.realloc(old, 0);
        if (p)
            track_alloc(p, 0);
        track_guard = 0;
        return p;
    }
    t0 = stamp_now_ordered();
    p = real.realloc(old, size);
    if (p)
        track_realloc(old, p, size, t0);
    track_guard = 0;
    return p;
}

/* Before start-up, with the guard set, tracking off, NULL or the arena's. */
static __attribute__((noinline)) void *realloc_other(void *old, size_t size)
{
    if (old && in_arena(old))
        return realloc_from_arena(old, size);
    if (pass())
        return real.realloc(old, size);
    if (!ready()) {
        if (old)
            return NULL;
        return arena_alloc(size, 16);
    }
    if (!tracking()) {
        own_forget(old);
        return own_note(real.realloc(old, size), size);
    }
    if (!old)
        return malloc(size);
    if (sample_on())
        return sampled_realloc(old, size);
    return realloc_exact(old, size);
}

EXPORT void *realloc(void *old, size_t size)
{
    int mode = hook_mode();

    if (__builtin_expect(old && !in_arena(old), 1)) {
        if (__builtin_expect(mode == CORE_ON_SAMPLED, 1))
            return sampled_realloc(old, size);
        if (mode == CORE_ON_EXACT)
            return realloc_exact(old, size);
    }
    return realloc_other(old, size);
}

EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, total);
}

static void *aligned_common(void *(*fn)(size_t, size_t), size_t align, size_t size)
{
    void *p;

    if (!tracking())
        return own_note(fn(align, size), size);
    if (sample_on())
        return sampled_alloc(fn(align, size), size);
    track_guard = 1;
    p = fn(align, size);
    if (p)
        track_alloc(p, size);
    track_guard = 0;
    return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    int r;

    if (!ready()) {
        void *p = arena_alloc(size, align);
        if (!p)
            return ENOMEM;
        *out = p;
        return 0;
    }
    if (!tracking()) {
        r = real.posix_memalign(out, align, size);
        if (r == 0)
            own_note(*out, size);
        return r;
    }
    if (sample_on()) {
        r = real.posix_memalign(out, align, size);
        if (r == 0)
            sampled_alloc(*out, size);
        return r;
    }
    track_guard = 1;
    r = real.posix_memalign(out, align, size);
    if (r == 0 && *out)
        track_alloc(*out, size);
    track_guard = 0;
    return r;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    if (!ready())
        return arena_alloc(size, align);
    return aligned_common(real.aligned_alloc ? real.aligned_alloc : real.memalign, align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
    if (!ready())
        return arena_alloc(size, align);
    return aligned_common(real.memalign, align, size);
}

EXPORT void *valloc(size_t size)
{
    void *p;

    if (!ready())
        return arena_alloc(size, 4096);
    if (!tracking())
        return own_note(real.valloc(size), size);
    if (sample_on())
        return sampled_alloc(real.valloc(size), size);
    track_guard = 1;
    p = real.valloc(size);
    if (p)
        track_alloc(p, size);
    track_guard = 0;
    return p;
}

EXPORT void *pvalloc(size_t size)
{
    void *p;

    if (!ready())
        return arena_alloc(size, 4096);
    if (!tracking())
        return own_note(real.pvalloc(size), size);
    if (sample_on())
        return sampled_alloc(real.pvalloc(size), size);
    track_guard = 1;
    p = real.pvalloc(size);
    if (p)
        track_alloc(p, size);
    track_guard = 0;
    return p;
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (in_arena(p))
        return arena_size(p);
    if (!ready() || !real.malloc_usable_size)
        return 0;
    return real.malloc_usable_size(p);
}
