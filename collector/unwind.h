/*
 * unwind.h - stack capture for the hot path: libunwind's unw_backtrace, a
 * validated frame-pointer walk, or a walk of each module's compiled unwind
 * rules (cfitab.h) for code without frame pointers; both walks fall back to
 * libunwind for any call whose chain they cannot trust.
 */
#ifndef HEAPLINE_UNWIND_H
#define HEAPLINE_UNWIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define UNWIND_ROOTS 4

/* One of a thread's outermost frames: the return address and the stack
 * pointer of the frame it returns to (so a recursive function's return
 * address, the same at every depth, matches only at the right depth). */
struct unwind_root {
    uint64_t ip, sp;
};

/* Finds the collector's own code, sets up libunwind's cache and, for the
 * walks, the table of executable ranges with, per module, whether it keeps
 * frame pointers. mode is enum core_unwind; AUTO walks frame pointers when
 * the main executable keeps them (a stack it cannot finish goes to the
 * unwind rules, then libunwind), the unwind rules otherwise (a module's
 * are compiled by the collector thread when a walk first needs them:
 * unwind_serve()).
 * Returns the mode in effect (FP, CFI, CHECK or LIBUNWIND). Call once before
 * tracking. */
int unwind_init(int mode);

/* The outermost frames of the calling thread (where main() or the thread
 * function was called from), for the walk to know a complete chain. Fills
 * roots[UNWIND_ROOTS], outermost first (zeros when unknown). Thread
 * registration; slow (libunwind steps through the whole stack). */
void unwind_roots(struct unwind_root roots[UNWIND_ROOTS]);

/* The stack hash of the per-thread stack cache for a libunwind capture,
 * over the return addresses (innermost first) and their count. Four
 * multiply chains, one per position mod 4, mixed in order at the end: a
 * single chain was a serial multiply per frame, 20 ns of a 20-frame
 * capture. (The frame-pointer and table walks hash as they go, with one
 * chain that hides behind their loads; a stack captured both ways simply
 * has two cache entries, for the same stack id.) */
static inline uint64_t unwind_hash(const uintptr_t *ips, int n)
{
    const uint64_t k1 = 0xff51afd7ed558ccdull, k2 = 0xc4ceb9fe1a85ec53ull;
    uint64_t a = 0x9E3779B97F4A7C15ull, b = a ^ 1, c = a ^ 2, d = a ^ 3, x;
    int i = 0;

    for (; i + 4 <= n; i += 4) {
        a = (a ^ ips[i]) * k1;
        b = (b ^ ips[i + 1]) * k1;
        c = (c ^ ips[i + 2]) * k1;
        d = (d ^ ips[i + 3]) * k1;
    }
    switch (n - i) {
    case 3:
        c = (c ^ ips[i + 2]) * k1;
        /* fall through */
    case 2:
        b = (b ^ ips[i + 1]) * k1;
        /* fall through */
    case 1:
        a = (a ^ ips[i]) * k1;
    }
    x = (a ^ (uint64_t)n) * k2;
    x = (x ^ b) * k1;
    x = (x ^ c) * k2;
    x = (x ^ d) * k1;
    return x ^ (x >> 32);
}

/* Captures up to max return addresses of the calling thread, innermost first,
 * without the collector's own frames, and sets *hash to their stack-cache
 * hash (see unwind_hash()). stack_lo/hi bound the frame-pointer walk (0/0 forces libunwind),
 * roots are the thread's unwind_roots(), which a fallback to libunwind may
 * correct (the calling thread's own array). start is the frame the
 * frame-pointer walk starts at (the caller's __builtin_frame_address(0), so
 * the frames of the capture itself are not walked; NULL: here). Returns the
 * count. No locks of ours, no allocation of ours (libunwind may allocate:
 * the caller holds the guard); a walk that needs libunwind while another
 * thread is in fork() waits for the fork to be made (2 s at most). */
static inline int unwind_capture(void *start, uintptr_t *ips, int max, uint64_t stack_lo,
                                 uint64_t stack_hi, struct unwind_root *roots, uint64_t *hash);

/* unwind_capture(), but a walk the thread's traces replay whole may write
 * only ips[0]: then *rest (else NULL) holds all the frames, rest[i] for
 * ips[i], valid until the thread's next capture. */
static inline int unwind_capture_lazy(void *start, uintptr_t *ips, int max, uint64_t stack_lo,
                                      uint64_t stack_hi, struct unwind_root *roots, uint64_t *hash,
                                      const uintptr_t **rest);

/* unwind_capture's parts. Nonzero when captures are the table walk alone
 * (not in check mode; set by unwind_init). */
extern int unwind_table_only;

/* The table walk: the frames, or -1 when libunwind must walk this stack
 * (*why: the counter to charge). rest: see unwind_capture_lazy() (*rest is
 * set only when ips holds the first frame alone). */
int unwind_walk_cfi(void *start, uintptr_t *ips, int max, uint64_t lo, uint64_t hi, uint64_t *hash,
                    atomic_ullong **why, const uintptr_t **rest);

/* The other captures: failed not NULL, the table walk failed (the counter
 * is charged, libunwind walks); else check mode, the frame-pointer walk or
 * libunwind. */
int unwind_capture_other(void *start, uintptr_t *ips, int max, uint64_t stack_lo, uint64_t stack_hi,
                         struct unwind_root *roots, uint64_t *hash, atomic_ullong *failed);

/* Inline, so that the hot path calls the table walk itself. */
static inline int unwind_capture_lazy(void *start, uintptr_t *ips, int max, uint64_t stack_lo,
                                      uint64_t stack_hi, struct unwind_root *roots, uint64_t *hash,
                                      const uintptr_t **rest)
{
    atomic_ullong *why = NULL;

    *rest = NULL;
    if (__builtin_expect(unwind_table_only && stack_hi, 1)) {
        int n = unwind_walk_cfi(start, ips, max, stack_lo, stack_hi, hash, &why, rest);

        if (__builtin_expect(n >= 0, 1))
            return n;
    }
    return unwind_capture_other(start, ips, max, stack_lo, stack_hi, roots, hash, why);
}

static inline int unwind_capture(void *start, uintptr_t *ips, int max, uint64_t stack_lo,
                                 uint64_t stack_hi, struct unwind_root *roots, uint64_t *hash)
{
    const uintptr_t *rest;
    int n = unwind_capture_lazy(start, ips, max, stack_lo, stack_hi, roots, hash, &rest);

    if (rest)
        memcpy(ips + 1, rest + 1, (size_t)(n - 1) * sizeof(*ips));
    return n;
}

/* Collector thread: re-reads the executable ranges when modules were loaded
 * or unloaded since the last call (cheap when nothing changed), and compiles
 * the unwind rules a walk asked for (about 1 ms per 10,000 functions). Every
 * tick. */
void unwind_refresh(void);

/* Collector thread, every pass: unwind_refresh() when a walk asked for a
 * module's rules (one load otherwise). */
void unwind_serve(void);

/* Whether the collector thread compiles a module's rules outside the
 * loader's lock (on: sampling mode, where walks are rare and sqlite3's
 * first one waited 1-2 ms on libc's compile, where it now goes on with
 * libunwind) or inside it, as before (off: exact mode, where a walk of
 * libunwind's that meets the compile waits for it and the walks after it
 * find the rules, rather than thousands going to libunwind meanwhile).
 * Before the collector thread starts. */
void unwind_compile_apart(int on);

/* Collector thread, at its start: compiles (with any a walk asked for) the
 * rules of the modules every stack ends in, the main program's and libc's,
 * before the walks get there. The table walk only. */
void unwind_serve_start(void);

/* Any thread, when the run ends: a compile the collector thread is in gives
 * up within some 25 us (its module stays uncompiled) and no other starts,
 * until unwind_init(). The program's last walks go to libunwind. */
void unwind_stop_compiles(void);

/* Compiles every loaded module's rules now, on the calling thread (the
 * bench, which times walks alone). */
void unwind_rules_all(void);

/* fork() handlers (core.c's): prepare waits until the collector thread is
 * out of dl_iterate_phdr (unwind_refresh) and the program's threads are out
 * of libunwind's walk (which calls it), 2 s at the most, and keeps them out
 * until parent or child; child makes the lock fresh. */
void unwind_atfork_prepare(void);
void unwind_atfork_parent(void);
void unwind_atfork_child(void);

/* Walks (frame-pointer or table) that could not be trusted and fell back to
 * libunwind. */
uint64_t unwind_fallbacks(void);

/* The walk's counters in words, for the HEAPLINE_STATS line: frame-pointer
 * fallbacks, or table walks, their fallbacks by cause, the tables' size and,
 * in check mode, how many stacks equalled unw_backtrace's. Any thread. */
void unwind_describe(char *buf, size_t size);

#endif
