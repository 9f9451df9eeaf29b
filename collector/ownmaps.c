/*
 * ownmaps.c - the collector's own mappings (ownmaps.h).
 *
 * Invariant: a slot is free when its lo is 0; a writer claims it by CAS of lo
 * from 0, then publishes hi; a reader takes a slot whose hi is set. Removal
 * clears hi first, then lo.
 */
#include "ownmaps.h"

#include <pthread.h>
#include <stdatomic.h>

static _Atomic uint64_t slot_lo[OWNMAPS_MAX], slot_hi[OWNMAPS_MAX];

void ownmaps_add(const void *p, size_t n)
{
    uint64_t lo = (uint64_t)(uintptr_t)p;

    if (!p || !n)
        return;
    for (size_t i = 0; i < OWNMAPS_MAX; i++) {
        uint64_t expect = 0;
        if (atomic_compare_exchange_strong(&slot_lo[i], &expect, lo)) {
            atomic_store(&slot_hi[i], lo + n);
            return;
        }
    }
}

void ownmaps_del(const void *p)
{
    uint64_t lo = (uint64_t)(uintptr_t)p;

    for (size_t i = 0; p && i < OWNMAPS_MAX; i++) {
        if (atomic_load(&slot_lo[i]) == lo && atomic_load(&slot_hi[i])) {
            atomic_store(&slot_hi[i], 0);
            atomic_store(&slot_lo[i], 0);
            return;
        }
    }
}

size_t ownmaps_copy(uint64_t *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < OWNMAPS_MAX && n < cap; i++) {
        uint64_t a = atomic_load(&slot_lo[i]), b = atomic_load(&slot_hi[i]);
        if (a && b > a) {
            out[2 * n] = a;
            out[2 * n + 1] = b;
            n++;
        }
    }
    return n;
}

int ownmaps_overlap(uint64_t lo, uint64_t hi)
{
    for (size_t i = 0; i < OWNMAPS_MAX; i++) {
        uint64_t a = atomic_load(&slot_lo[i]), b = atomic_load(&slot_hi[i]);
        if (a && b > a && a < hi && lo < b)
            return 1;
    }
    return 0;
}

void ownmaps_thread_stack(int add)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;

    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        if (add)
            ownmaps_add(addr, size);
        else
            ownmaps_del(addr);
    }
    pthread_attr_destroy(&attr);
}
