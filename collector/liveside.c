/*
 * liveside.c - the live table's side tables: arrays in mappings of their
 * own (known as the collector's, ownmaps.h), and hashes of 64-bit keys.
 *
 * Invariant of a hash (open addressing, linear probing, backward-shift
 * deletion, a power of two slots at most half full, key 0: empty): no
 * empty slot lies between a key's home slot and its slot.
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

static size_t home(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The slot of key, or of the empty slot where it would go. */
static size_t slot_of(const struct liveside_map *m, uint64_t key)
{
    size_t i = home(key, m->cap);

    while (m->kv[i].key && m->kv[i].key != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

int liveside_get(const struct liveside_map *m, uint64_t key, uint64_t *val)
{
    size_t i;

    if (!m->cap || !m->kv[i = slot_of(m, key)].key)
        return 0;
    *val = m->kv[i].val;
    return 1;
}

static int rehash(struct liveside_map *m, size_t cap)
{
    struct liveside_map old = *m;

    m->kv = NULL;
    m->bytes = 0;
    if (liveside_grow((void **)&m->kv, &m->bytes, cap * sizeof(*m->kv)) < 0) {
        *m = old;
        return -1;
    }
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.kv[i].key)
            m->kv[slot_of(m, old.kv[i].key)] = old.kv[i];
    liveside_free((void **)&old.kv, &old.bytes);
    return 0;
}

int liveside_put(struct liveside_map *m, uint64_t key, uint64_t val)
{
    if ((m->n + 1) * 2 > m->cap && rehash(m, m->cap ? m->cap * 2 : 256) < 0)
        return -1;
    m->kv[slot_of(m, key)] = (struct liveside_kv){key, val};
    m->n++;
    return 0;
}

/* Removes key (backward shift, as in the table). */
void liveside_del(struct liveside_map *m, uint64_t key)
{
    size_t mask = m->cap - 1, i, j;

    if (!m->cap || !m->kv[i = slot_of(m, key)].key)
        return;
    for (j = (i + 1) & mask; m->kv[j].key; j = (j + 1) & mask) {
        size_t h = home(m->kv[j].key, m->cap);

        if (((j - h) & mask) >= ((j - i) & mask)) {
            m->kv[i] = m->kv[j];
            i = j;
        }
    }
    m->kv[i].key = 0;
    m->n--;
}

void liveside_reset(struct liveside_map *m)
{
    liveside_free((void **)&m->kv, &m->bytes);
    m->n = m->cap = 0;
}

/* The table's mapping: whole pages, and from LIVESIDE_HUGE_FROM bytes up to a 2 MiB
 * boundary of the address space, so that growing it in place never leaves
 * a 2 MiB range it had started with small pages (the kernel gives a huge
 * page only to a range all inside the mapping, and one faulted in small
 * pages stays so). Past the table's end it is untouched, not resident (a
 * huge page at most). */
#define HUGE_BYTES ((size_t)2 << 20)
size_t liveside_table_len(const void *t, size_t bytes)
{
    uintptr_t start = (uintptr_t)t, end = start + bytes;

    if (bytes < LIVESIDE_HUGE_FROM)
        return (bytes + 4095) & ~(size_t)4095;
    return ((end + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1)) - start;
}

void *liveside_table_map(size_t bytes)
{
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (m == MAP_FAILED)
        return NULL;
    ownmaps_add(m, bytes);
    return m; /* small: it grows in place (liveside_table_remap) */
}

/* mremap grows the mapping in place when the address space after it is
 * free, else moves it to an address with the same offset in a 2 MiB page
 * (from a reservation trimmed to fit), so its huge pages move whole rather
 * than being split. */
void *liveside_table_remap(void *t, size_t *mapped, size_t nbytes)
{
    size_t ob = *mapped, nb = liveside_table_len(t, nbytes);
    void *q = mremap(t, ob, nb, 0);

    if (q == MAP_FAILED) {
        size_t span = nb + 2 * HUGE_BYTES;
        char *res = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        uintptr_t off = (uintptr_t)t & (HUGE_BYTES - 1), r = (uintptr_t)res, dst;

        if (res == MAP_FAILED)
            return NULL;
        dst = ((r + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1)) + off;
        nb = liveside_table_len((void *)dst, nbytes);
        q = mremap(t, ob, nb, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)dst);
        if (q == MAP_FAILED) {
            munmap(res, span);
            return NULL;
        }
        if (dst > r)
            munmap(res, dst - r);
        if (r + span > dst + nb)
            munmap((void *)(dst + nb), r + span - (dst + nb));
    }
    ownmaps_del(t);
    ownmaps_add(q, nb);
    *mapped = nb;
    /* the table was smaller: its length was bytes in whole pages, at most
     * LIVESIDE_HUGE_FROM (equal only for a table within a page of it, or of
     * exactly that size, already marked: marking again changes nothing) */
    if (nbytes >= LIVESIDE_HUGE_FROM && ob <= LIVESIDE_HUGE_FROM) {
        /* from here on huge pages where the kernel gives them on request
         * (transparent_hugepage=madvise, Debian's default): every lookup
         * lands on a random slot, and in a table of many megabytes each
         * was a TLB miss as well as a cache miss */
        madvise(q, nb, MADV_HUGEPAGE);
        madvise(q, nb, 25 /* MADV_COLLAPSE, Linux 6.1: the pages it has */);
    }
    return q;
}
