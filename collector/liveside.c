/*
 * liveside.c - the live table's side tables: arrays in mappings of their
 * own (known as the collector's, ownmaps.h), and the hash of the sizes too
 * large for an entry.
 *
 * Invariant of the hash (open addressing, linear probing, backward-shift
 * deletion, a power of two slots at most half full, address 0: empty): no
 * empty slot lies between a size's home slot and its slot.
 */
#include "liveside.h"
#include "ownmaps.h"

#include <sys/mman.h>

int liveside_grow(void **p, size_t *bytes, size_t need)
{
    size_t n = *bytes ? *bytes : 4096;
    void *q;

    while (n < need)
        n *= 2;
    if (n == *bytes)
        return 0;
    q = *p ? mremap(*p, *bytes, n, MREMAP_MAYMOVE)
           : mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return -1;
    if (*p)
        ownmaps_del(*p);
    ownmaps_add(q, n);
    *p = q;
    *bytes = n;
    return 0;
}

void liveside_free(void **p, size_t *bytes)
{
    if (*p) {
        ownmaps_del(*p);
        munmap(*p, *bytes);
    }
    *p = NULL;
    *bytes = 0;
}

struct big {
    uint64_t addr, size;
};
static struct big *bigs;
static size_t n_bigs, bigs_cap, bigs_bytes;

static size_t big_home(uint64_t addr, size_t cap)
{
    return (size_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The slot of addr, or of the empty slot where it would go. */
static size_t big_slot(uint64_t addr)
{
    size_t i = big_home(addr, bigs_cap);

    while (bigs[i].addr && bigs[i].addr != addr)
        i = (i + 1) & (bigs_cap - 1);
    return i;
}

int liveside_big_get(uint64_t addr, uint64_t *size)
{
    size_t i;

    if (!bigs_cap || !bigs[i = big_slot(addr)].addr)
        return 0;
    *size = bigs[i].size;
    return 1;
}

static int big_rehash(size_t cap)
{
    struct big *old = bigs;
    size_t old_cap = bigs_cap, old_bytes = bigs_bytes;

    bigs = NULL;
    bigs_bytes = 0;
    if (liveside_grow((void **)&bigs, &bigs_bytes, cap * sizeof(*bigs)) < 0) {
        bigs = old;
        bigs_bytes = old_bytes;
        return -1;
    }
    bigs_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].addr)
            bigs[big_slot(old[i].addr)] = old[i];
    liveside_free((void **)&old, &old_bytes);
    return 0;
}

int liveside_big_put(uint64_t addr, uint64_t size)
{
    if ((n_bigs + 1) * 2 > bigs_cap && big_rehash(bigs_cap ? bigs_cap * 2 : 256) < 0)
        return -1;
    bigs[big_slot(addr)] = (struct big){addr, size};
    n_bigs++;
    return 0;
}

/* Removes addr's size (backward shift, as in the table). */
void liveside_big_del(uint64_t addr)
{
    size_t mask = bigs_cap - 1, i, j;

    if (!bigs_cap || !bigs[i = big_slot(addr)].addr)
        return;
    for (j = (i + 1) & mask; bigs[j].addr; j = (j + 1) & mask) {
        size_t h = big_home(bigs[j].addr, bigs_cap);

        if (((j - h) & mask) >= ((j - i) & mask)) {
            bigs[i] = bigs[j];
            i = j;
        }
    }
    bigs[i].addr = 0;
    n_bigs--;
}

size_t liveside_big_bytes(void)
{
    return bigs_bytes;
}

void liveside_big_reset(void)
{
    liveside_free((void **)&bigs, &bigs_bytes);
    n_bigs = bigs_cap = 0;
}
