/*
 * untracked.h - the blocks the hooks handed out without recording them:
 * while tracking was off (before the collector started) or while the
 * guard was set (the collector's own calls, and the allocator's nested
 * ones). HEAPLINE_HEAPWALK_CHECK compares glibc's heap with the live table
 * block for block (scanheap.h); these are the blocks the table cannot hold,
 * told apart by this rule rather than by a count.
 *
 * A scan that takes its blocks from glibc's heap (sampling mode, attach)
 * leaves the collector's own out by the same rule: a block the collector
 * allocated is no holder of the program's.
 *
 * untracked_on: UNTRACKED_ALL from the first call until the configuration
 * is read and in check mode, UNTRACKED_GUARDED (the collector's own only) in
 * sampling mode and after an attach, 0 otherwise (untracked_set()). A
 * fixed table of 64K slots in bss (512 KiB, touched as used); a block freed
 * with the guard set goes back to NONE and its slot is reused; past 64
 * probes a block is dropped (counted: it then shows as the program's).
 * Lock-free: any thread, async-signal-safe.
 */
#ifndef HEAPLINE_UNTRACKED_H
#define HEAPLINE_UNTRACKED_H

#include <stdatomic.h>
#include <stdint.h>

enum untracked_kind {
    UNTRACKED_NONE = 0,
    UNTRACKED_OFF = 1, /* allocated while tracking was off */
    UNTRACKED_OWN = 2  /* allocated with the guard set: the collector's */
};

#define UNTRACKED_GUARDED 1 /* untracked_on: only blocks allocated with the guard set */
#define UNTRACKED_ALL 2     /* ... and those allocated while tracking was off */

extern atomic_int untracked_on;

/* The hooks, on every untracked allocation (p may be NULL) and free. */
static inline void untracked_alloc(const void *p, int guard)
{
    void untracked_note(const void *p, int guard);
    int on = atomic_load_explicit(&untracked_on, memory_order_relaxed);

    if (p && on && (guard || on == UNTRACKED_ALL))
        untracked_note(p, guard);
}

static inline void untracked_free(const void *p, int guard)
{
    void untracked_forget(const void *p);

    if (p && guard && atomic_load_explicit(&untracked_on, memory_order_relaxed))
        untracked_forget(p);
}

/* Notes p (not NULL) as allocated untracked, of kind guard ? OWN : OFF. */
void untracked_note(const void *p, int guard);

/* The block at p was freed: NONE again (when noted). */
void untracked_forget(const void *p);

/* What to note from now on: 0, UNTRACKED_GUARDED or UNTRACKED_ALL. */
void untracked_set(int what);

/* The kind the block at addr was last noted with (enum untracked_kind). */
int untracked_kind(uint64_t addr);

/* Blocks that found no room in the table. */
uint64_t untracked_dropped(void);

#endif
