/*
 * unwind.h - stack capture for the hot path: libunwind's unw_backtrace, or a
 * validated frame-pointer walk that falls back to it for any call whose chain
 * it cannot trust.
 */
#ifndef HEAPLINE_UNWIND_H
#define HEAPLINE_UNWIND_H

#include <stdint.h>

#define UNWIND_ROOTS 4

/* One of a thread's outermost frames: the return address and the stack
 * pointer of the frame it returns to (so a recursive function's return
 * address, the same at every depth, matches only at the right depth). */
struct unwind_root {
    uint64_t ip, sp;
};

/* Finds the collector's own code, sets up libunwind's cache and, for the
 * frame-pointer walk, the table of executable ranges with, per module,
 * whether it keeps frame pointers. mode is enum core_unwind; AUTO walks frame
 * pointers when the main executable keeps them. Returns the mode in effect
 * (CORE_UNWIND_FP or CORE_UNWIND_LIBUNWIND). Call once before tracking. */
int unwind_init(int mode);

/* The outermost frames of the calling thread (where main() or the thread
 * function was called from), for the walk to know a complete chain. Fills
 * roots[UNWIND_ROOTS], outermost first (zeros when unknown). Thread
 * registration; slow (libunwind steps through the whole stack). */
void unwind_roots(struct unwind_root roots[UNWIND_ROOTS]);

/* The stack hash of the per-thread stack cache, over the return addresses
 * innermost first, then the count. Four multiply chains, each taking every
 * fourth address (the lanes rotate, so the order still counts): one chain
 * was a serial multiply per frame, 20 ns of a 20-frame libunwind capture,
 * and as long as the frame-pointer walk's own load chain. The walk updates
 * it as it goes; unwind_hash() computes the same over an array. */
#define UNWIND_HASH_SEED 0x9E3779B97F4A7C15ull
struct unwind_hasher {
    uint64_t a, b, c, d;
};
static inline struct unwind_hasher unwind_hash_init(void)
{
    return (struct unwind_hasher){UNWIND_HASH_SEED, UNWIND_HASH_SEED ^ 1, UNWIND_HASH_SEED ^ 2,
                                  UNWIND_HASH_SEED ^ 3};
}
static inline void unwind_hash_step(struct unwind_hasher *h, uintptr_t ip)
{
    uint64_t t = (h->a ^ ip) * 0xff51afd7ed558ccdull;

    h->a = h->b;
    h->b = h->c;
    h->c = h->d;
    h->d = t;
}
static inline uint64_t unwind_hash_final(const struct unwind_hasher *h, int n)
{
    uint64_t x = (h->a ^ (uint64_t)n) * 0xc4ceb9fe1a85ec53ull;

    x = (x ^ h->b) * 0xff51afd7ed558ccdull;
    x = (x ^ h->c) * 0xc4ceb9fe1a85ec53ull;
    x = (x ^ h->d) * 0xff51afd7ed558ccdull;
    return x ^ (x >> 32);
}
static inline uint64_t unwind_hash(const uintptr_t *ips, int n)
{
    struct unwind_hasher h = unwind_hash_init();

    for (int i = 0; i < n; i++)
        unwind_hash_step(&h, ips[i]);
    return unwind_hash_final(&h, n);
}

/* Captures up to max return addresses of the calling thread, innermost first,
 * without the collector's own frames, and sets *hash to unwind_hash() of
 * them. stack_lo/hi bound the frame-pointer walk (0/0 forces libunwind),
 * roots are the thread's unwind_roots(), which a fallback to libunwind may
 * correct (the calling thread's own array). start is the frame the
 * frame-pointer walk starts at (the caller's __builtin_frame_address(0), so
 * the frames of the capture itself are not walked; NULL: here). Returns the
 * count. No locks of ours, no allocation of ours (libunwind may allocate:
 * the caller holds the guard). */
int unwind_capture(void *start, uintptr_t *ips, int max, uint64_t stack_lo, uint64_t stack_hi,
                   struct unwind_root *roots, uint64_t *hash);

/* Collector thread: re-reads the executable ranges when modules were loaded
 * or unloaded since the last call (cheap when nothing changed). */
void unwind_refresh(void);

/* Frame-pointer walks that could not be trusted and fell back to libunwind. */
uint64_t unwind_fallbacks(void);

#endif
