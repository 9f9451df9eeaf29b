/*
 * untracked.h - the blocks the hooks handed out without recording them:
 * while tracking was off (before the collector started) or while the
 * guard was set (the collector's own calls, and the allocator's nested
 * ones). HEAPLINE_HEAPWALK_CHECK compares glibc's heap with the live table
 * block for block (scanheap.h); these are the blocks the table cannot hold,
 * told apart by this rule rather than by a count.
 *
 * Noting is on from the first call until the configuration is read, and
 * stays on only in check mode (untracked_stop() otherwise): a normal run
 * notes the few blocks of its start-up and nothing after. A fixed table in
 * bss, insert-only (a freed address is noted again when reused, a block
 * the table holds is looked up in the live table first), lock-free: any
 * thread, async-signal-safe.
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

extern atomic_int untracked_on;

/* Notes p (not NULL) as allocated untracked, of kind guard ? OWN : OFF. */
void untracked_note(const void *p, int guard);

/* Stops noting (not in check mode). */
void untracked_stop(void);

/* The kind the block at addr was last noted with (enum untracked_kind). */
int untracked_kind(uint64_t addr);

/* Blocks that found no room in the table. */
uint64_t untracked_dropped(void);

#endif
