/*
 * scanblocks.c - the snapshot's blocks for the search: collected from the
 * source, sorted by address (in buckets by 1 MiB region), looked up by address, the scan's own
 * mappings excluded, and the span and regions level 0's mark tests against.
 *
 * Invariant: after bfs_collect_sorted() the blocks are in address order, and
 * every lookup here relies on it; an excluded block keeps its place with
 * size 0 (it contains only its own address and is never read).
 */
#include "scanbfs_impl.h"

#include <errno.h>
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

/* The sort's buckets: the 1 MiB regions that hold blocks, found in a hash
 * table while the source is walked for the span, each with its count, then
 * put in address order; each block is written in its region's bucket and
 * each bucket sorted in the cache by its low 20 bits. A heap far from its
 * other blocks (a thread's arena, a mmapped block at 0x7f...) costs
 * nothing. More regions than RANK_MAX (a sparse heap of 16 GiB or more): a
 * top digit of (addr - min) instead, each bucket sorted by flag_sort(). */
#define RANK_MAX (1u << 14)
#define RANK_SLOTS (2 * RANK_MAX)
#define RANK_BYTES (RANK_SLOTS * 2 * sizeof(uint64_t) + RANK_MAX * sizeof(struct blk))

/* bfs_collect_sorted()'s walks of the source. Only the source's first
 * `cap` blocks are taken (src->n_blocks: what it said it holds); the walks
 * see the same blocks in the same order (the snapshot does not change). */
struct collect {
    struct bfs *s;
    size_t cap, seen, n;
    uint64_t min, max, any;
    size_t n_big;
    unsigned tz, shift;
    /* RANK_SLOTS slots of (region + 1, its count, then its next free
     * position); NULL: buckets by the top digit */
    uint64_t *rank;
    size_t n_rank;
    uint64_t *pos; /* the top digit's next free position in each bucket */
    int seq;       /* aux is the sequence number (a census), not the stack */
};

static inline uint64_t *rank_slot(uint64_t *rank, uint64_t region)
{
    size_t i = (size_t)((region * 0x9e3779b97f4a7c15ull) >> 49); /* log2(RANK_SLOTS) bits */

    while (rank[2 * i] && rank[2 * i] != region + 1)
        i = (i + 1) & (RANK_SLOTS - 1);
    return &rank[2 * i];
}

static void walk_span(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
{
    struct collect *c = arg;

    (void)stack, (void)seq;
    if (c->seen++ >= c->cap)
        return;
    c->min = addr < c->min ? addr : c->min;
    c->max = addr > c->max ? addr : c->max;
    c->any |= addr;
    c->n_big += size >= BLK_SIZE_BIG;
    if (c->rank && c->n_rank <= RANK_MAX) {
        uint64_t *r = rank_slot(c->rank, addr >> 20);
        if (!r[0] && c->n_rank++ < RANK_MAX)
            r[0] = (addr >> 20) + 1;
        r[1]++;
    }
}

static void walk_count(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
{
    struct collect *c = arg;

    (void)size, (void)stack, (void)seq;
    if (c->seen++ < c->cap)
        c->s->hist[((addr - c->min) >> c->tz) >> c->shift]++;
}

static void walk_scatter(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
{
    struct collect *c = arg;
    struct bfs *s = c->s;
    struct blk *k;
    uint64_t at;

    if (c->seen++ >= c->cap)
        return;
    if (c->rank) {
        at = rank_slot(c->rank, addr >> 20)[1]++;
    } else {
        size_t d = (size_t)(((addr - c->min) >> c->tz) >> c->shift);
        at = c->pos[d] < s->hist[d] ? c->pos[d]++ : c->n;
    }
    if (at >= c->n)
        return; /* a bucket full: only if a walk saw other blocks than the last */
    k = &s->blocks[at];
    __builtin_prefetch(k + 4, 1); /* its bucket's next line: written a few blocks on */
    k->addr = addr;
    k->size = size < BLK_SIZE_BIG ? (uint32_t)size : BLK_SIZE_BIG;
    k->aux = c->seq ? seq : stack;
    if (size >= BLK_SIZE_BIG && s->n_big < c->n_big) {
        s->big[s->n_big].addr = addr;
        s->big[s->n_big++].size = size;
    }
}

static void insertion_sort(struct blk *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct blk v = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].addr > v.addr; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

/* In-place MSD radix sort (American flag) of a[0..n) by address, from the
 * top of their own span, a digit of at most 11 bits and at least 6 (about
 * a block a bucket); hist holds 2 << RADIX_MAX_BITS counters for this digit
 * and each below it. */
static void flag_sort(struct blk *a, size_t n, unsigned tz, uint64_t *hist)
{
    uint64_t min = UINT64_MAX, max = 0, span, mask, *end = hist,
             *next = hist + (1u << RADIX_MAX_BITS), sum = 0;
    unsigned bits, width, shift;

    if (n <= 32) {
        insertion_sort(a, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        min = a[i].addr < min ? a[i].addr : min;
        max = a[i].addr > max ? a[i].addr : max;
    }
    span = (max - min) >> tz;
    if (!span)
        return;
    bits = 64 - (unsigned)__builtin_clzll(span);
    width = 64 - (unsigned)__builtin_clzll(n);
    width = width < RADIX_MAX_BITS ? width : RADIX_MAX_BITS;
    width = width < bits ? width : bits;
    shift = bits - width;
    mask = (1ull << width) - 1;
    memset(end, 0, sizeof(uint64_t) << width);
    for (size_t i = 0; i < n; i++)
        end[((a[i].addr - min) >> tz) >> shift]++;
    for (uint64_t d = 0; d <= mask; d++) {
        next[d] = sum;
        sum += end[d];
        end[d] = sum;
    }
    for (uint64_t d = 0; d <= mask; d++)
        while (next[d] < end[d]) { /* the cycle through a[next[d]] */
            struct blk v = a[next[d]];
            uint64_t k;
            while ((k = ((v.addr - min) >> tz) >> shift) != d) {
                struct blk t = a[next[k]];
                a[next[k]++] = v;
                v = t;
            }
            a[next[d]++] = v;
        }
    for (uint64_t d = 0, lo = 0; d <= mask; lo = end[d++])
        if (end[d] - lo > 1)
            flag_sort(a + lo, end[d] - lo, tz, hist + (2u << RADIX_MAX_BITS));
}

/* LSD radix sort of one region's blocks a[0..n) by address bits [tz, 20),
 * two passes through tmp (n entries); hist: 2^10 counters. */
static void region_sort(struct blk *a, struct blk *tmp, size_t n, unsigned tz, uint64_t *hist)
{
    unsigned width = (20 - tz + 1) / 2;
    uint64_t mask = (1ull << width) - 1;
    struct blk *from = a, *to = tmp;

    if (n <= 32) {
        insertion_sort(a, n);
        return;
    }
    for (unsigned shift = tz; shift < tz + 2 * width; shift += width) {
        uint64_t sum = 0;
        memset(hist, 0, sizeof(uint64_t) << width);
        for (size_t i = 0; i < n; i++)
            hist[(from[i].addr >> shift) & mask]++;
        for (uint64_t d = 0; d <= mask; d++) {
            uint64_t k = hist[d];
            hist[d] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            to[hist[(from[i].addr >> shift) & mask]++] = from[i];
        from = to;
        to = from == a ? tmp : a;
    }
}

/* The regions the span walk found, in address order in c->rank's tail
 * (addr: the region's start, size: its count), each slot's count made the
 * position of its bucket; returns how many and sets *most (the largest). */
static size_t regions_order(struct collect *c, size_t *most)
{
    struct blk *r = (struct blk *)(void *)(c->rank + 2 * RANK_SLOTS);
    size_t n = 0;
    uint64_t at = 0;

    for (size_t i = 0; i < RANK_SLOTS; i++)
        if (c->rank[2 * i]) {
            r[n].addr = (c->rank[2 * i] - 1) << 20;
            r[n++].size = (uint32_t)c->rank[2 * i + 1]; /* at most 2^20 */
        }
    flag_sort(r, n, 20, c->s->hist);
    *most = 0;
    for (size_t i = 0; i < n; i++) {
        rank_slot(c->rank, r[i].addr >> 20)[1] = at;
        at += r[i].size;
        *most = r[i].size > *most ? r[i].size : *most;
    }
    return n;
}

/* Every region's bucket, sorted (after the scatter: each slot's position
 * is its bucket's end). -ENOMEM when tmp cannot be mapped. */
static int regions_sort(struct collect *c, size_t n_regions, size_t most)
{
    const struct blk *r = (const struct blk *)(const void *)(c->rank + 2 * RANK_SLOTS);
    size_t tmp_bytes = most * sizeof(struct blk);
    struct blk *tmp = bfs_map(tmp_bytes);
    uint64_t lo = 0;

    if (!tmp)
        return -ENOMEM;
    for (size_t i = 0; i < n_regions; i++) {
        uint64_t end = rank_slot(c->rank, r[i].addr >> 20)[1];
        region_sort(c->s->blocks + lo, tmp, end - lo, c->tz < 20 ? c->tz : 20, c->s->hist);
        lo = end;
    }
    bfs_unmap(tmp, tmp_bytes);
    return 0;
}

/* Buckets by the top RADIX_TOP_BITS of (addr - min) >> tz, each sorted by
 * flag_sort(): one more walk, to count them. */
static void span_sort(struct collect *c, const struct scan_source *src)
{
    struct bfs *s = c->s;
    uint64_t span = c->n ? (c->max - c->min) >> c->tz : 0, sum = 0;
    unsigned bits = span ? 64 - (unsigned)__builtin_clzll(span) : 0;
    size_t top;

    c->shift = bits > RADIX_TOP_BITS ? bits - RADIX_TOP_BITS : 0;
    top = (size_t)1 << (bits - c->shift);
    memset(s->hist, 0, top * sizeof(uint64_t));
    c->seen = 0;
    src->for_each_block(src->ctx, walk_count, c);
    c->pos = s->hist + top;
    for (size_t d = 0; d < top; d++) {
        c->pos[d] = sum;
        sum += s->hist[d];
        s->hist[d] = sum; /* the bucket's end */
    }
    c->seen = 0;
    src->for_each_block(src->ctx, walk_scatter, c);
    for (size_t d = 0, lo = 0; d < top; lo = s->hist[d++])
        if (s->hist[d] - lo > 1)
            flag_sort(s->blocks + lo, s->hist[d] - lo, c->tz, s->hist + (2u << RADIX_TOP_BITS));
}

/* The source's blocks (at most src->n_blocks) into s->blocks, mapped for
 * exactly as many, in address order; sizes from 4 GiB up in s->big. Two
 * walks of the source (the span and the regions; each block written in its
 * region's bucket), then each bucket sorted in the cache: one array of 16
 * bytes a block and no copy of it (an LSD sort of the whole wrote two of 24,
 * every block 4 times: fresh pages of the child, and each can cost a fault
 * in the host too). Returns 0 or -ENOMEM. */
int bfs_collect_sorted(struct bfs *s, const struct scan_source *src, int seq)
{
    struct collect c = {.s = s, .cap = src->n_blocks, .min = UINT64_MAX, .seq = seq};
    size_t n_regions = 0, most = 0;
    int rc = 0;

    c.rank = bfs_map(RANK_BYTES);
    if (!c.rank)
        return -ENOMEM;
    src->for_each_block(src->ctx, walk_span, &c);
    c.n = c.seen < c.cap ? c.seen : c.cap;
    c.tz = c.any ? (unsigned)__builtin_ctzll(c.any) : 0;
    s->blocks_bytes = c.n * sizeof(struct blk);
    s->blocks = bfs_map(s->blocks_bytes);
    if (c.n_big) {
        s->big_bytes = c.n_big * sizeof(struct blk_big);
        s->big = bfs_map(s->big_bytes);
    }
    if (!s->blocks || (c.n_big && !s->big)) {
        bfs_unmap(c.rank, RANK_BYTES);
        return -ENOMEM;
    }
    if (c.n_rank > RANK_MAX) {
        bfs_unmap(c.rank, RANK_BYTES);
        c.rank = NULL;
        span_sort(&c, src);
    } else {
        n_regions = regions_order(&c, &most);
        c.seen = 0;
        src->for_each_block(src->ctx, walk_scatter, &c);
        rc = regions_sort(&c, n_regions, most);
        bfs_unmap(c.rank, RANK_BYTES);
    }
    s->n_blocks = c.n;
    for (size_t i = 1; i < s->n_big; i++) /* a few at most: 2^15 in 2^47 bytes */
        for (size_t j = i; j > 0 && s->big[j - 1].addr > s->big[j].addr; j--) {
            struct blk_big t = s->big[j];
            s->big[j] = s->big[j - 1];
            s->big[j - 1] = t;
        }
    return rc;
}

/* The size of the block at addr, one of s->big. */
uint64_t bfs_big_size(const struct bfs *s, uint64_t addr)
{
    size_t lo = 0, hi = s->n_big;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->big[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n_big && s->big[lo].addr == addr ? s->big[lo].size : 0;
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
    if (addr == s->blocks[lo].addr || addr - s->blocks[lo].addr < blk_size(s, lo))
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
    *size = blk_size(s, (size_t)b);
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
    if (a > 0 && s->blocks[a - 1].addr + blk_size(s, a - 1) > lo)
        a--;
    for (; a < s->n_blocks && s->blocks[a].addr < hi; a++)
        s->blocks[a].size = 0;
}

/* The blocks' span, cut in two at its widest gap (a heap and a mapping
 * far from it: graphs' 1 GiB heap at 0x5589... and its blocks at 0x7f24...
 * spanned 42 bits, and 16% of random words fell in that span), and the
 * 1 MiB regions they cover (for may_ref). */
void bfs_regions_build(struct bfs *s)
{
    uint64_t end = 0, gap_lo = 0, gap_hi = 0;

    memset(s->regions, 0, sizeof(s->regions));
    s->hmin = s->n_blocks ? s->blocks[0].addr : 0;
    for (size_t b = 0; b < s->n_blocks; b++) {
        const struct blk *k = &s->blocks[b];
        uint64_t size = blk_size(s, b), hi = k->addr + (size ? size : 1);

        if (b && k->addr > end && k->addr - end > gap_hi - gap_lo) {
            gap_lo = end;
            gap_hi = k->addr;
        }
        end = hi > end ? hi : end;
        if (((hi - 1) >> 20) - (k->addr >> 20) >= FILTER_MASK) {
            memset(s->regions, 0xff, sizeof(s->regions));
            continue;
        }
        for (uint64_t rg = k->addr >> 20; rg <= (hi - 1) >> 20; rg++)
            s->regions[(rg & FILTER_MASK) >> 6] |= 1ull << (rg & 63);
    }
    s->hspan = (gap_hi ? gap_lo : end) - s->hmin;
    s->hmin2 = gap_hi;
    s->hspan2 = gap_hi ? end - gap_hi : 0;
}
