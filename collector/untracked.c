/*
 * untracked.c - the blocks handed out untracked (untracked.h).
 *
 * Invariant: a slot is 0 (empty) or an address (16-aligned) ORed with its
 * kind; a slot once taken by an address keeps it, only its kind changes.
 */
#include "untracked.h"

#define UNTRACKED_BITS 18
#define UNTRACKED_PROBES 64

atomic_int untracked_on = 1;
static _Atomic uint64_t slots[1u << UNTRACKED_BITS];
static _Atomic uint64_t dropped;

static inline uint32_t home(uint64_t addr)
{
    return (uint32_t)((addr >> 4) * UINT64_C(0x9e3779b97f4a7c15) >> (64 - UNTRACKED_BITS));
}

void untracked_note(const void *p, int guard)
{
    uint64_t addr = (uint64_t)(uintptr_t)p, v = addr | (guard ? UNTRACKED_OWN : UNTRACKED_OFF);
    uint32_t h = home(addr);

    if (addr & 15)
        return; /* not a glibc block */
    for (uint32_t i = 0; i < UNTRACKED_PROBES; i++) {
        _Atomic uint64_t *s = &slots[(h + i) & ((1u << UNTRACKED_BITS) - 1)];
        uint64_t cur = atomic_load_explicit(s, memory_order_relaxed);
        if (cur == 0 && atomic_compare_exchange_strong(s, &cur, v))
            return;
        if ((cur & ~(uint64_t)15) == addr) {
            atomic_store_explicit(s, v, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
}

void untracked_stop(void)
{
    atomic_store(&untracked_on, 0);
}

int untracked_kind(uint64_t addr)
{
    uint32_t h = home(addr);

    for (uint32_t i = 0; i < UNTRACKED_PROBES; i++) {
        uint64_t cur = atomic_load_explicit(&slots[(h + i) & ((1u << UNTRACKED_BITS) - 1)],
                                            memory_order_relaxed);
        if (cur == 0)
            return UNTRACKED_NONE;
        if ((cur & ~(uint64_t)15) == addr)
            return (int)(cur & 15);
    }
    return UNTRACKED_NONE;
}

uint64_t untracked_dropped(void)
{
    return atomic_load(&dropped);
}
