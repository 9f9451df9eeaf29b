/*
 * untracked.c - the blocks handed out untracked (untracked.h).
 *
 * Invariant: a slot is 0 (empty) or an address shifted right by 4 (glibc's
 * blocks are 16-aligned) with its kind in the top bits, never the address
 * itself (a backreference scan would take the table for a holder). A slot
 * of kind NONE (its block freed) stays in the probe chain until another
 * address takes it; lookups stop at an empty slot only.
 *
 * A page of the table is first touched by a write: a read first maps the
 * shared zero page, and the write after it is a copy-on-write fault that
 * flushes the TLB of every CPU running one of the program's threads (an
 * interrupt for the program; 7% of a preloaded /bin/true's main thread).
 */
#include "untracked.h"

#include <stddef.h>

#define UNTRACKED_BITS 16 /* 512 KiB: slots of freed blocks are reused */
#define UNTRACKED_PROBES 64

atomic_int untracked_on = UNTRACKED_ALL;
static _Atomic uint64_t slots[1u << UNTRACKED_BITS];
static _Atomic uint64_t dropped;
/* a bit per 4 KiB of slots: set once the page was written (touch()) */
#define PAGE_SLOTS 512u
static _Atomic uint64_t touched[(1u << UNTRACKED_BITS) / PAGE_SLOTS / 64];

static inline uint32_t home(uint64_t addr)
{
    return (uint32_t)((addr >> 4) * UINT64_C(0x9e3779b97f4a7c15) >> (64 - UNTRACKED_BITS));
}

#define KIND_SHIFT 60
#define KEY(addr) ((addr) >> 4)
#define KEY_MASK ((UINT64_C(1) << KIND_SHIFT) - 1)

/* Writes the page of slot i before it is read (a no-op store: an atomic
 * OR of 0), once. */
static inline void touch(uint32_t i)
{
    uint32_t page = i / PAGE_SLOTS;
    uint64_t bit = UINT64_C(1) << (page % 64);

    if (atomic_load_explicit(&touched[page / 64], memory_order_relaxed) & bit)
        return;
    atomic_fetch_or_explicit(&slots[i], 0, memory_order_relaxed);
    atomic_fetch_or_explicit(&touched[page / 64], bit, memory_order_relaxed);
}

void untracked_note(const void *p, int guard)
{
    uint64_t addr = (uint64_t)(uintptr_t)p;
    uint64_t v = KEY(addr) | (uint64_t)(guard ? UNTRACKED_OWN : UNTRACKED_OFF) << KIND_SHIFT;
    uint32_t h = home(addr);

    if (addr & 15)
        return; /* not a glibc block */
    for (int tries = 0; tries < 8; tries++) {
        _Atomic uint64_t *free_slot = NULL;
        uint64_t free_val = 0;
        for (uint32_t i = 0; i < UNTRACKED_PROBES; i++) {
            uint32_t at = (h + i) & ((1u << UNTRACKED_BITS) - 1);
            _Atomic uint64_t *s = &slots[at];
            uint64_t cur;

            if (i == 0 || at % PAGE_SLOTS == 0)
                touch(at);
            cur = atomic_load_explicit(s, memory_order_relaxed);
            if ((cur & KEY_MASK) == KEY(addr) && cur != 0) {
                atomic_store_explicit(s, v, memory_order_relaxed); /* its own slot */
                return;
            }
            if (!free_slot && (cur >> KIND_SHIFT) == UNTRACKED_NONE) {
                free_slot = s; /* empty, or a block freed since: reused */
                free_val = cur;
            }
            if (cur == 0)
                break;
        }
        if (!free_slot)
            break;
        if (atomic_compare_exchange_strong(free_slot, &free_val, v))
            return;
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

void untracked_forget(const void *p)
{
    uint64_t addr = (uint64_t)(uintptr_t)p;
    uint32_t h = home(addr);

    for (uint32_t i = 0; i < UNTRACKED_PROBES; i++) {
        _Atomic uint64_t *s = &slots[(h + i) & ((1u << UNTRACKED_BITS) - 1)];
        uint64_t cur = atomic_load_explicit(s, memory_order_relaxed);
        if (cur == 0)
            return;
        if ((cur & KEY_MASK) == KEY(addr)) {
            atomic_store_explicit(s, KEY(addr), memory_order_relaxed); /* NONE, slot kept */
            return;
        }
    }
}

void untracked_set(int what)
{
    atomic_store(&untracked_on, what);
}

int untracked_kind(uint64_t addr)
{
    uint32_t h = home(addr);

    if (addr & 15)
        return UNTRACKED_NONE;
    for (uint32_t i = 0; i < UNTRACKED_PROBES; i++) {
        uint64_t cur = atomic_load_explicit(&slots[(h + i) & ((1u << UNTRACKED_BITS) - 1)],
                                            memory_order_relaxed);
        if (cur == 0)
            return UNTRACKED_NONE;
        if ((cur & KEY_MASK) == KEY(addr))
            return (int)(cur >> KIND_SHIFT);
    }
    return UNTRACKED_NONE;
}

uint64_t untracked_dropped(void)
{
    return atomic_load(&dropped);
}
