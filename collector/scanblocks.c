/*
 * scanblocks.c - the snapshot's blocks for the search: collected from the
 * source, radix-sorted by address, looked up by address, the scan's own
 * mappings excluded, and the span and regions level 0's mark tests against.
 *
 * Invariant: after bfs_radix_sort() the blocks are in address order, and
 * every lookup here relies on it; an excluded block keeps its place with
 * size 0 (it contains only its own address and is never read).
 */
#include "scanbfs_impl.h"

#include <string.h>
#include <sys/mman.h>

/* Populated at once: one mmap call instead of a page fault per 4 KiB. */
void *bfs_map(size_t bytes)
{
    void *p;

    if (bytes == 0)
        bytes = 1;
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
             0);
    return p == MAP_FAILED ? NULL : p;
}

void bfs_unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

/* 1 when a live block starts in [lo, hi) (blocks are sorted by address). */
int bfs_any_block_in(const struct bfs *s, uint64_t lo, uint64_t hi)
{
    size_t a = 0, b = s->n_blocks;

    while (a < b) { /* the first block at or above lo */
        size_t mid = a + (b - a) / 2;
        if (s->blocks[mid].addr < lo)
            a = mid + 1;
        else
            b = mid;
    }
    return a < s->n_blocks && s->blocks[a].addr < hi;
}

void bfs_collect_block(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
{
    struct bfs *s = arg;
    struct blk *b;

    if (s->n_blocks >= s->cap_blocks)
        return;
    b = &s->blocks[s->n_blocks++];
    b->addr = addr;
    b->size = size;
    b->stack = stack;
    b->seq = seq;
}

/* LSD radix sort of a[0..n) by addr, using tmp[0..n) and hist (2^11
 * counters). Keys are (addr - min) >> tz, tz being the alignment every
 * address shares, so a heap of a few GiB sorts in 3 passes. Returns the array
 * that holds the result (a or tmp). */
struct blk *bfs_radix_sort(struct blk *a, struct blk *tmp, size_t n, uint64_t *hist)
{
    uint64_t min = UINT64_MAX, max = 0, any = 0, span;
    unsigned tz, bits, passes, width;
    int sorted = 1;

    for (size_t i = 0; i < n; i++) {
        uint64_t k = a[i].addr;
        if (k < min)
            min = k;
        if (k > max)
            max = k;
        any |= k;
        if (i && a[i - 1].addr > k)
            sorted = 0;
    }
    if (sorted || n < 2)
        return a;
    tz = any ? (unsigned)__builtin_ctzll(any) : 0;
    span = (max - min) >> tz;
    bits = span ? 64 - (unsigned)__builtin_clzll(span) : 1;
    passes = (bits + RADIX_MAX_BITS - 1) / RADIX_MAX_BITS;
    width = (bits + passes - 1) / passes;
    for (unsigned p = 0; p < passes; p++) {
        unsigned shift = p * width;
        uint64_t mask = (1ull << width) - 1, sum = 0;
        struct blk *t;

        memset(hist, 0, sizeof(uint64_t) << width);
        for (size_t i = 0; i < n; i++)
            hist[(((a[i].addr - min) >> tz) >> shift) & mask]++;
        for (uint64_t d = 0; d <= mask; d++) {
            uint64_t c = hist[d];
            hist[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[hist[(((a[i].addr - min) >> tz) >> shift) & mask]++] = a[i];
        t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* Index of the block containing addr, or -1. A block of size 0 contains only
 * its own address. */
long bfs_find_block(const struct bfs *s, uint64_t addr)
{
    size_t lo = 0, hi = s->n_blocks;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->blocks[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    lo--;
    if (addr == s->blocks[lo].addr || addr - s->blocks[lo].addr < s->blocks[lo].size)
        return (long)lo;
    return -1;
}

/* scanpy's view of the snapshot: the live block containing addr. */
int bfs_view_find(const void *ctx, uint64_t addr, uint64_t *lo, uint64_t *size)
{
    const struct bfs *s = ctx;
    long b = bfs_find_block(s, addr);

    if (b < 0 || s->blocks[b].size == 0)
        return -1;
    *lo = s->blocks[b].addr;
    *size = s->blocks[b].size;
    return 0;
}

/* Blocks overlapping [lo, hi) get size 0 (never scanned): a stale table
 * entry (freed and unmapped since) whose range the scan's own mmap()s reuse
 * would otherwise make this search read its own arrays of addresses. */
void bfs_exclude_range(struct bfs *s, uint64_t lo, uint64_t hi)
{
    size_t a = 0, b = s->n_blocks;

    if (hi > lo && s->n_own < BFS_OWN_MAX) {
        s->own_lo[s->n_own] = lo;
        s->own_hi[s->n_own++] = hi;
    }

    while (a < b) { /* first block with addr >= lo */
        size_t mid = a + (b - a) / 2;
        if (s->blocks[mid].addr < lo)
            a = mid + 1;
        else
            b = mid;
    }
    if (a > 0 && s->blocks[a - 1].addr + s->blocks[a - 1].size > lo)
        a--;
    for (; a < s->n_blocks && s->blocks[a].addr < hi; a++)
        s->blocks[a].size = 0;
}

/* The blocks' span and the 1 MiB regions they cover (for may_ref). */
void bfs_regions_build(struct bfs *s)
{
    memset(s->regions, 0, sizeof(s->regions));
    s->hmin = s->n_blocks ? s->blocks[0].addr : 0;
    s->hspan = 0;
    for (size_t b = 0; b < s->n_blocks; b++) {
        const struct blk *k = &s->blocks[b];
        uint64_t hi = k->addr + (k->size ? k->size : 1);

        if (hi - s->hmin > s->hspan)
            s->hspan = hi - s->hmin;
        if (((hi - 1) >> 20) - (k->addr >> 20) >= FILTER_MASK) {
            memset(s->regions, 0xff, sizeof(s->regions));
            continue;
        }
        for (uint64_t rg = k->addr >> 20; rg <= (hi - 1) >> 20; rg++)
            s->regions[(rg & FILTER_MASK) >> 6] |= 1ull << (rg & 63);
    }
}
