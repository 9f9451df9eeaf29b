/*
 * scanbfs.c - breadth-first backreference search, without malloc.
 *
 * The cost of a level is one pass over every root word and every live block
 * word; the check per word is designed around the SMALL frontier of the level
 * (at most max_fanout blocks, plus the target at level 0), not around the
 * millions of live blocks: a subtraction and one unsigned compare against the
 * frontier's [min, max) span, then a bit of an 8 KiB page filter, and only then
 * a binary search in the sorted frontier ranges. Blocks are radix-sorted by
 * address first so the heap is walked in address order (prefetch-friendly).
 *
 * Invariant: node i > 0 always points into a node j < i (BFS order), so every
 * chain walked through `to` reaches node 0 (the target).
 */
#include "scanbfs.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct blk {
    uint64_t addr;
    uint64_t size;
    uint32_t stack;
    uint32_t seq; /* low 32 bits of the allocation's sequence number */
};

/* kind bits passed down the scan loop: roots of the allocator's module, a
 * live Python frame's locals */
#define SCANBFS_KIND_ALLOCATOR 0x100u
#define SCANBFS_KIND_FRAME 0x200u
#define SCANBFS_KIND_PACKED 0x400u /* a word of the packed copy (scan_packed) */

#define FILTER_BITS 16 /* page filter: 2^16 bits = 8 KiB */
#define FILTER_WORDS ((1u << FILTER_BITS) / 64)
#define FILTER_MASK ((1u << FILTER_BITS) - 1)

struct frontier_range {
    uint64_t lo, hi;
    uint64_t ob; /* a Python object: references point exactly here (0: anywhere) */
    uint32_t node;
};

#define BFS_OWN_MAX 14

struct bfs {
    const struct scanbfs_params *p;
    struct scanpy *py; /* NULL: not Python */
    struct scanpy_view view;
    struct blk *blocks;
    size_t n_blocks, cap_blocks;
    uint64_t *visited; /* bit per block: already a node */
    /* bit per block: it holds a word that may point into a block (inside
     * the blocks' span, in a 1 MiB region a block covers), set while level
     * 0 scans it; later levels scan only those (a Python heap's strings and
     * buffers, most of its bytes, hold none). Exact, not a guess: a word
     * that points into a frontier block points into a block, so its
     * holder's bit is set. */
    uint64_t *refs;
    uint64_t hmin, hspan;
    uint64_t regions[FILTER_WORDS];
    uint64_t ref_bytes; /* bytes of the blocks whose bit is set */
    size_t n_ref;       /* blocks whose bit is set */
    /* the marked blocks' words copied after level 0, one after another:
     * later levels read them as one stream, not a cache miss a block, and a
     * hit finds its block by pk_at (block k's words start at pk_at[k].pos).
     * NULL: not made; the levels go by the bits. */
    uint64_t *pk;
    struct pk_at {
        uint64_t pos, b;
    } * pk_at;
    size_t pk_words, pk_bytes, pk_at_bytes;
    uint64_t level_bytes; /* root bytes the level scanned */
    struct scanbfs_node *nodes;
    size_t n_nodes;
    /* frontier of the level being scanned, sorted by lo */
    struct frontier_range *fr;
    size_t n_fr;
    uint64_t fmin, fspan;
    uint64_t filter[FILTER_WORDS];
    /* this level */
    uint32_t level;
    uint32_t added; /* heap nodes added at this level */
    uint32_t roots; /* root nodes in all */
    uint32_t ends;  /* Python chain ends in all (module globals, class attributes) */
    uint32_t max_fanout, max_roots;
    uint32_t flags;
    /* scan_level()'s cursor: survives a fault's siglongjmp */
    volatile int phase; /* 0 roots, 1 blocks, 2 the packed copy */
    volatile size_t cur;
    volatile uint64_t faults;
    volatile size_t pk_next; /* phase 2: the next block's header in pk */
    /* the scan's own mappings in the child (exclude_range()), never read as
     * roots: a root taken before the fork (a thread's stack, a mapping of the
     * program's) may have been unmapped since, and the child's arrays of
     * addresses land there (a target found held four times by itself) */
    uint64_t own_lo[BFS_OWN_MAX], own_hi[BFS_OWN_MAX];
    size_t n_own;
};

/* 1 when a live block starts in [lo, hi) (blocks are sorted by address). */
static int any_block_in(const struct bfs *s, uint64_t lo, uint64_t hi)
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

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Populated at once: one mmap call instead of a page fault per 4 KiB. */
static void *map(size_t bytes)
{
    void *p;

    if (bytes == 0)
        bytes = 1;
    p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
             0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes ? bytes : 1);
}

size_t scanbfs_max_nodes(const struct scanbfs_params *p)
{
    size_t depth = p->max_depth ? p->max_depth : 10;
    size_t fanout = p->max_fanout ? p->max_fanout : 64;
    size_t roots = p->max_roots ? p->max_roots : fanout;

    return 1 + depth * fanout + roots;
}

/* ---- collecting and sorting the blocks ---- */

static void collect_block(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
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

#define RADIX_MAX_BITS 11 /* 2048 buckets: the scatter targets stay in L2 */

/* LSD radix sort of a[0..n) by addr, using tmp[0..n) and hist (2^11
 * counters). Keys are (addr - min) >> tz, tz being the alignment every
 * address shares, so a heap of a few GiB sorts in 3 passes. Returns the array
 * that holds the result (a or tmp). */
static struct blk *radix_sort(struct blk *a, struct blk *tmp, size_t n, uint64_t *hist)
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
static long find_block(const struct bfs *s, uint64_t addr)
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
static int view_find(const void *ctx, uint64_t addr, uint64_t *lo, uint64_t *size)
{
    const struct bfs *s = ctx;
    long b = find_block(s, addr);

    if (b < 0 || s->blocks[b].size == 0)
        return -1;
    *lo = s->blocks[b].addr;
    *size = s->blocks[b].size;
    return 0;
}

/* Blocks overlapping [lo, hi) get size 0 (never scanned): a stale table
 * entry (freed and unmapped since) whose range the scan's own mmap()s reuse
 * would otherwise make this search read its own arrays of addresses. */
static void exclude_range(struct bfs *s, uint64_t lo, uint64_t hi)
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

/* ---- the frontier ---- */

static void frontier_build(struct bfs *s, size_t first, size_t end)
{
    s->n_fr = 0;
    memset(s->filter, 0, sizeof(s->filter));
    for (size_t i = first; i < end; i++) {
        const struct scanbfs_node *nd = &s->nodes[i];
        struct frontier_range r;
        size_t j;

        if (nd->kind != SCANBFS_HEAP || nd->flags)
            continue; /* a root, or a Python chain end */
        r.lo = nd->addr;
        r.hi = nd->addr + (nd->size ? nd->size : 1);
        r.node = (uint32_t)i;
        r.ob = 0;
        if (s->py) {
            struct scanpy_obj o;
            if (scanpy_object(s->py, &s->view, nd->addr, nd->size, &o))
                r.ob = o.ob;
        }
        /* insertion sort: the frontier is small */
        for (j = s->n_fr; j > 0 && s->fr[j - 1].lo > r.lo; j--)
            s->fr[j] = s->fr[j - 1];
        s->fr[j] = r;
        s->n_fr++;
        if (((r.hi - 1) >> 12) - (r.lo >> 12) >= FILTER_MASK) {
            memset(s->filter, 0xff, sizeof(s->filter));
        } else {
            for (uint64_t pg = r.lo >> 12; pg <= (r.hi - 1) >> 12; pg++)
                s->filter[(pg & FILTER_MASK) >> 6] |= 1ull << (pg & 63);
        }
    }
    if (s->n_fr) {
        s->fmin = s->fr[0].lo;
        s->fspan = 0;
        for (size_t i = 0; i < s->n_fr; i++)
            if (s->fr[i].hi - s->fmin > s->fspan)
                s->fspan = s->fr[i].hi - s->fmin;
    } else {
        s->fmin = 0;
        s->fspan = 0;
    }
}

/* Frontier range index containing v, or -1. */
static inline long frontier_find(const struct bfs *s, uint64_t v)
{
    uint64_t pg = v >> 12;
    size_t lo = 0, hi = s->n_fr;

    if (!(s->filter[(pg & FILTER_MASK) >> 6] & (1ull << (pg & 63))))
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->fr[mid].lo <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    lo--;
    return v < s->fr[lo].hi ? (long)lo : -1;
}

/* Python: whether the holder block b, already a node, is on the way from
 * frontier node `node` down to the target (then the target holds itself). */
static int on_own_chain(const struct bfs *s, size_t b, uint32_t node)
{
    for (;;) {
        const struct scanbfs_node *nd = &s->nodes[node];
        if (nd->kind == SCANBFS_HEAP && nd->addr == s->blocks[b].addr)
            return 1;
        if (node == 0)
            return 0;
        node = nd->to;
    }
}

/* A hit in the packed copy at word_addr: its block (*b) and the address
 * its block's offsets count from (*holder_lo); s->pk_next is set past it. */
static void packed_block(struct bfs *s, uint64_t word_addr, size_t *b, uint64_t *holder_lo)
{
    size_t w = (size_t)((word_addr - (uint64_t)(uintptr_t)s->pk) / 8), lo = 0, hi = s->n_ref;
    uint64_t head;

    while (lo < hi) { /* the last block starting at or before w */
        size_t mid = lo + (hi - lo) / 2;
        if (s->pk_at[mid].pos <= w)
            lo = mid + 1;
        else
            hi = mid;
    }
    lo--;
    *b = (size_t)s->pk_at[lo].b;
    head = ((s->blocks[*b].addr + 7) & ~(uint64_t)7) - s->blocks[*b].addr;
    *holder_lo = (uint64_t)(uintptr_t)&s->pk[s->pk_at[lo].pos] - head;
    s->pk_next = lo + 1 < s->n_ref ? s->pk_at[lo + 1].pos : s->pk_words;
}

/* Python: whether the hit is no reference (a GC link, a dead object's stale
 * word); *end is set when the holder ends the chain (module, class). */
static int py_skip(struct bfs *s, const struct frontier_range *r, uint32_t kind, size_t b,
                   uint64_t off, uint64_t v, uint32_t *end)
{
    struct scanpy_obj o;

    *end = 0;
    if (r->ob && v != r->ob)
        return 1; /* into its GC head (the GC's lists) or its middle: not a reference */
    if (kind != SCANBFS_HEAP)
        return 0;
    if (!scanpy_object(s->py, &s->view, s->blocks[b].addr, s->blocks[b].size, &o))
        /* a values array's prefix: stale words of the chunk's earlier use */
        return scanpy_in_values_prefix(s->py, s->blocks[b].addr, s->blocks[b].size, off);
    if (o.refcnt == 0)
        return 1; /* dead: a free list's object keeps stale words */
    if (scanpy_is_data_word(s->py, &o, s->blocks[b].addr, off))
        return 1; /* a str's state bits, a bytes' contents: data, not references */
    if (scanpy_is_gc_link(s->py, &o, s->blocks[b].addr, off))
        return 1;
    *end = scanpy_chain_end(s->py, &o, s->blocks[b].addr, off);
    return 0;
}

/* A word at word_addr (inside a root, or block b when kind == HEAP) holds v,
 * which points into frontier range fi. */
static void on_hit(struct bfs *s, uint32_t kind, uint32_t id, size_t b, uint64_t holder_lo,
                   uint64_t word_addr, uint64_t v, long fi)
{
    const struct frontier_range *r = &s->fr[fi];
    struct scanbfs_node *to = &s->nodes[r->node];
    struct scanbfs_node *nd;
    uint32_t end = 0;

    if (kind & SCANBFS_KIND_PACKED) {
        kind &= ~SCANBFS_KIND_PACKED;
        packed_block(s, word_addr, &b, &holder_lo);
    }
    if (kind & SCANBFS_KIND_FRAME) {
        kind &= ~SCANBFS_KIND_FRAME;
        end = SCANBFS_NODE_END_FRAME;
    }
    if (s->py) {
        uint32_t py_end;
        if (py_skip(s, r, kind & ~SCANBFS_KIND_ALLOCATOR, b, word_addr - holder_lo, v, &py_end))
            return;
        if (!end)
            end = py_end;
    }
    if (kind & SCANBFS_KIND_ALLOCATOR) {
        /* the allocator's own state (glibc's main_arena bins) points at free
         * chunk headers, which overlap the last word of the live block before
         * them: 16-aligned, at least 16 bytes in, within the last 8 bytes of
         * the block as requested. Not a reference. */
        uint64_t in = v - r->lo;
        if ((v & 15) == 0 && in >= 16 && in + 8 >= to->size)
            return;
        kind &= ~SCANBFS_KIND_ALLOCATOR;
    }
    to->inbound++;
    if (kind == SCANBFS_HEAP && !end) {
        if (s->visited[b >> 6] & (1ull << (b & 63))) {
            if (s->py && on_own_chain(s, b, r->node))
                s->flags |= SCANBFS_CYCLE;
            return; /* already a node: an earlier level, or found at this one */
        }
        if (s->added >= s->max_fanout) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->visited[b >> 6] |= 1ull << (b & 63);
        s->added++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = s->blocks[b].addr;
        nd->size = s->blocks[b].size;
        nd->id = s->blocks[b].stack;
        nd->inbound = 0;
        nd->flags = 0;
    } else if (end == SCANBFS_NODE_END_FRAME) { /* a live frame's local */
        if (s->ends >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->ends++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = word_addr;
        nd->size = 8;
        nd->id = id;
        nd->inbound = -1;
        nd->flags = SCANBFS_NODE_END_FRAME;
    } else if (end) { /* a Python chain end: a root that is a block */
        if (s->visited[b >> 6] & (1ull << (b & 63)))
            return;
        if (s->ends >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->visited[b >> 6] |= 1ull << (b & 63);
        s->ends++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = s->blocks[b].addr;
        nd->size = s->blocks[b].size;
        nd->id = s->blocks[b].stack;
        nd->inbound = -1;
        nd->flags = end == SCANPY_END_MODULE ? SCANBFS_NODE_END_MODULE : SCANBFS_NODE_END_CLASS;
    } else {
        if (s->roots >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->roots++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = word_addr;
        nd->size = 8;
        nd->id = id;
        nd->inbound = -1;
        nd->flags = 0;
    }
    nd->kind = kind;
    nd->offset = word_addr - holder_lo;
    nd->interior = v - r->lo;
    nd->to = r->node;
    nd->level = s->level + 1;
}

static inline void check_word(struct bfs *s, uint32_t kind, uint32_t id, size_t b,
                              uint64_t holder_lo, const uint64_t *wp)
{
    uint64_t v = *wp;
    long fi;

    if (v - s->fmin < s->fspan && (fi = frontier_find(s, v)) >= 0)
        on_hit(s, kind, id, b, holder_lo, (uint64_t)(uintptr_t)wp, v, fi);
}

/* Scans words [lo, hi) (lo 8-byte aligned). The hot loop: eight words at a
 * time are tested against the frontier span with branch-free compares. A
 * conservative scan reads what sanitizers call redzones: not instrumented. */
__attribute__((no_sanitize_address)) static void scan_words(struct bfs *s, uint64_t lo_addr,
                                                            uint64_t hi_addr, uint32_t kind,
                                                            uint32_t id, size_t b,
                                                            uint64_t holder_lo)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8);
    const uint64_t fmin = s->fmin, fspan = s->fspan;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        unsigned any = 0;
        for (unsigned k = 0; k < 8; k++)
            any |= (w[i + k] - fmin) < fspan;
        if (__builtin_expect(any, 0))
            for (unsigned k = 0; k < 8; k++)
                check_word(s, kind, id, b, holder_lo, &w[i + k]);
    }
    for (; i < n; i++)
        check_word(s, kind, id, b, holder_lo, &w[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The same with AVX2: four words a compare (unsigned via the sign-bit flip),
 * and only the words inside the span (a movemask bit each) go on to the page
 * filter and the frontier search. */
__attribute__((no_sanitize_address, target("avx2"))) static void
scan_words_avx2(struct bfs *s, uint64_t lo_addr, uint64_t hi_addr, uint32_t kind, uint32_t id,
                size_t b, uint64_t holder_lo)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i vmin = _mm256_set1_epi64x((long long)s->fmin);
    const __m256i vspan = _mm256_set1_epi64x((long long)(s->fspan ^ (uint64_t)INT64_MIN));
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(w + i));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(w + i + 4));
        __m256i ma = _mm256_cmpgt_epi64(vspan, _mm256_xor_si256(_mm256_sub_epi64(a, vmin), sign));
        __m256i mc = _mm256_cmpgt_epi64(vspan, _mm256_xor_si256(_mm256_sub_epi64(c, vmin), sign));
        unsigned bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ma)) |
                        (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(mc)) << 4;
        while (__builtin_expect(bits != 0, 0)) {
            unsigned k = (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            check_word(s, kind, id, b, holder_lo, &w[i + k]);
        }
    }
    for (; i < n; i++)
        check_word(s, kind, id, b, holder_lo, &w[i]);
}
#endif

/* ---- level 0's mark: the blocks that may hold a reference ---- */

/* The blocks' span and the 1 MiB regions they cover (for may_ref). */
static void regions_build(struct bfs *s)
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

/* 1 when v may point into a block: inside the span, in a covered region. */
static inline int may_ref(const struct bfs *s, uint64_t v)
{
    uint64_t rg = v >> 20;

    return v - s->hmin < s->hspan && (s->regions[(rg & FILTER_MASK) >> 6] & (1ull << (rg & 63)));
}

/* The first marked block at or after b (n_blocks: none). */
static inline size_t next_ref(const struct bfs *s, size_t b)
{
    while (b < s->n_blocks) {
        uint64_t word = s->refs[b >> 6] >> (b & 63);
        if (word)
            return b + (size_t)__builtin_ctzll(word);
        b = (b | 63) + 1;
    }
    return s->n_blocks;
}

/* Level 0's scan of block b's words [lo_addr, hi_addr): scan_words() and
 * the mark in one pass; 1 when a word may point into a block (may_ref).
 * The frontier (the target) lies inside the blocks' span, so a word outside
 * that span is neither a hit nor a mark. */
__attribute__((no_sanitize_address)) static int scan_mark(struct bfs *s, uint64_t lo_addr,
                                                          uint64_t hi_addr, size_t b)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8), i = 0;
    const uint64_t hmin = s->hmin, hspan = s->hspan;
    uint64_t holder_lo = s->blocks[b].addr;
    int holds = 0;

    for (; i + 8 <= n; i += 8) {
        unsigned any = 0;
        for (unsigned k = 0; k < 8; k++)
            any |= (w[i + k] - hmin) < hspan;
        if (__builtin_expect(any, 0))
            for (unsigned k = 0; k < 8; k++) {
                check_word(s, SCANBFS_HEAP, 0, b, holder_lo, &w[i + k]);
                holds = holds || may_ref(s, w[i + k]);
            }
    }
    for (; i < n; i++)
        if (w[i] - hmin < hspan) {
            check_word(s, SCANBFS_HEAP, 0, b, holder_lo, &w[i]);
            holds = holds || may_ref(s, w[i]);
        }
    return holds;
}

typedef void scan_words_fn(struct bfs *s, uint64_t lo_addr, uint64_t hi_addr, uint32_t kind,
                           uint32_t id, size_t b, uint64_t holder_lo);

static scan_words_fn *pick_scan_words(const struct scanbfs_params *p)
{
#if defined(__x86_64__)
    if (!p->no_simd && __builtin_cpu_supports("avx2"))
        return scan_words_avx2;
#endif
    return scan_words;
}

/* Fault recovery (catch_faults): the live table lags the program by the
 * events not yet drained, so a block freed just before the fork may be
 * unmapped (large blocks are munmap()ed at once). A SIGSEGV/SIGBUS while
 * reading a range jumps back to scan_level(), which skips that range. The
 * cursor lives in the struct (volatile) so it survives the jump. */
static sigjmp_buf *fault_jmp;

static void on_fault(int sig)
{
    (void)sig;
    if (fault_jmp)
        siglongjmp(*fault_jmp, 1);
    _exit(128 + sig);
}

/* Level > 0 without the packed copy: the marked blocks, by their bits. */
static void scan_marked(struct bfs *s, scan_words_fn *scan)
{
    while (s->cur < s->n_blocks) {
        size_t b = s->cur;
        uint64_t word = s->refs[b >> 6] >> (b & 63);
        if (!word) {
            s->cur = (b | 63) + 1;
            continue;
        }
        b += (size_t)__builtin_ctzll(word);
        s->cur = b;
        if (b >= s->n_blocks)
            break;
        scan(s, (s->blocks[b].addr + 7) & ~(uint64_t)7,
             (s->blocks[b].addr + s->blocks[b].size) & ~(uint64_t)7, SCANBFS_HEAP, 0, b,
             s->blocks[b].addr);
        s->cur = b + 1;
    }
}

/* Level > 0 with the packed copy: one scan of it all (a fault in on_hit
 * resumes after the block it was at, pk_next). */
static void scan_packed(struct bfs *s, scan_words_fn *scan)
{
    while (s->cur < s->pk_words) {
        scan(s, (uint64_t)(uintptr_t)&s->pk[s->cur], (uint64_t)(uintptr_t)&s->pk[s->pk_words],
             SCANBFS_HEAP | SCANBFS_KIND_PACKED, 0, 0, 0);
        s->cur = s->pk_words;
    }
}

/* After level 0: the marked blocks' words into one mapping (none when it
 * cannot be had, or when the marked blocks are most of the heap: then the
 * copy would cost more than the levels it spares). */
static void pack_refs(struct bfs *s, uint64_t heap_bytes)
{
    size_t words = s->ref_bytes / 8, w = 0, k = 0;

    if (s->n_ref == 0 || s->ref_bytes > heap_bytes / 2)
        return;
    s->pk_bytes = words * 8;
    s->pk_at_bytes = s->n_ref * sizeof(*s->pk_at);
    s->pk = map(s->pk_bytes);
    s->pk_at = map(s->pk_at_bytes);
    if (!s->pk || !s->pk_at) {
        unmap(s->pk, s->pk_bytes);
        unmap(s->pk_at, s->pk_at_bytes);
        unmap(s->pk_at, s->pk_at_bytes);
        s->pk = NULL;
        s->pk_at = NULL;
        return;
    }
    for (size_t b = next_ref(s, 0); b < s->n_blocks; b = next_ref(s, b + 1)) {
        uint64_t lo = (s->blocks[b].addr + 7) & ~(uint64_t)7;
        uint64_t hi = (s->blocks[b].addr + s->blocks[b].size) & ~(uint64_t)7;
        size_t n = (size_t)((hi - lo) / 8);

        s->pk_at[k].pos = w;
        s->pk_at[k++].b = b;
        memcpy(&s->pk[w], (const void *)(uintptr_t)lo, n * 8);
        w += n;
    }
    s->pk_words = w;
    /* a root range unmapped since the snapshot may lie where these are */
    exclude_range(s, (uint64_t)(uintptr_t)s->pk, (uint64_t)(uintptr_t)s->pk + s->pk_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)s->pk_at, (uint64_t)(uintptr_t)s->pk_at + s->pk_at_bytes);
}

/* Scans root r's words in [lo, hi) but those of the scan's own mappings. */
static void scan_root(struct bfs *s, scan_words_fn *scan, const struct scanbfs_root *r, uint64_t lo,
                      uint64_t hi)
{
    uint32_t kind = r->kind | (r->flags & SCANBFS_ROOT_ALLOCATOR ? SCANBFS_KIND_ALLOCATOR : 0) |
                    (r->flags & SCANBFS_ROOT_FRAME ? SCANBFS_KIND_FRAME : 0);

    while (lo < hi) {
        size_t first = BFS_OWN_MAX;
        uint64_t end;

        /* the own mapping that starts first in [lo, hi), if any */
        for (size_t k = 0; k < s->n_own; k++)
            if (s->own_hi[k] > lo && s->own_lo[k] < hi &&
                (first == BFS_OWN_MAX || s->own_lo[k] < s->own_lo[first]))
                first = k;
        end = first == BFS_OWN_MAX    ? hi
              : s->own_lo[first] > lo ? s->own_lo[first] & ~(uint64_t)7
                                      : lo;
        if (end > lo) {
            s->level_bytes += end - lo;
            scan(s, lo, end, kind, r->id, 0, r->lo);
        }
        if (first == BFS_OWN_MAX)
            break;
        lo = (s->own_hi[first] + 7) & ~(uint64_t)7;
    }
}

static void scan_level(struct bfs *s, const struct scanbfs_root *roots, size_t n_roots)
{
    const struct scanbfs_params *p = s->p;
    scan_words_fn *volatile scan = pick_scan_words(p);
    sigjmp_buf jb;

    s->phase = 0;
    s->cur = 0;
    if (p->catch_faults) {
        if (sigsetjmp(jb, 1)) {
            s->faults++;
            s->cur = s->phase == 2 ? s->pk_next : s->cur + 1;
        }
        fault_jmp = &jb;
    }
    for (; s->phase == 0 && s->cur < n_roots; s->cur++) {
        const struct scanbfs_root *r = &roots[s->cur];
        uint64_t lo = (r->lo + 7) & ~(uint64_t)7, hi = r->hi & ~(uint64_t)7;
        if (hi <= lo)
            continue;
        if ((r->flags & SCANBFS_ROOT_ANON) && any_block_in(s, r->lo, r->hi))
            continue;
        if (p->skip_hi > p->skip_lo && lo < p->skip_hi && p->skip_lo < hi)
            continue;
        /* a Python program's own anonymous memory is the interpreter's (its
         * frames' data stack, arenas): Python chains end at Python roots */
        if (s->py && (r->flags & (SCANBFS_ROOT_INTERP | SCANBFS_ROOT_ANON)))
            continue;
        if (!s->py && (r->flags & SCANBFS_ROOT_FRAME))
            continue;
        scan_root(s, scan, r, lo, hi);
    }
    if (s->phase == 0) {
        s->phase = s->pk ? 2 : 1;
        s->cur = 0;
    }
    if (s->level == 0 || p->no_filter) {
        for (; s->cur < s->n_blocks; s->cur++) {
            size_t b = s->cur;
            uint64_t lo = (s->blocks[b].addr + 7) & ~(uint64_t)7;
            uint64_t hi = (s->blocks[b].addr + s->blocks[b].size) & ~(uint64_t)7;
            if (hi <= lo)
                continue;
            if (s->level != 0) {
                scan(s, lo, hi, SCANBFS_HEAP, 0, b, s->blocks[b].addr);
            } else if (scan_mark(s, lo, hi, b)) {
                s->refs[b >> 6] |= 1ull << (b & 63);
                s->ref_bytes += hi - lo;
                s->n_ref++;
            }
        }
        fault_jmp = NULL;
        return;
    }
    if (s->pk)
        scan_packed(s, scan);
    else
        scan_marked(s, scan);
    fault_jmp = NULL;
}

/* The census: every block through scanpy_census_add(), faults skipped as
 * scan_level() skips them. */
static void census(struct bfs *s, struct scanbfs_params *p)
{
    sigjmp_buf jb;

    s->cur = 0;
    if (p->catch_faults) {
        if (sigsetjmp(jb, 1)) {
            s->faults++;
            s->cur++;
        }
        fault_jmp = &jb;
    }
    for (; s->cur < s->n_blocks; s->cur++) {
        const struct blk *b = &s->blocks[s->cur];
        if (b->size && scanpy_census_add(s->py, &s->view, b->addr, b->size, b->seq, p->census,
                                         p->cap_census, &p->n_census))
            s->flags |= SCANBFS_FANOUT_LIMIT; /* more types than rows */
    }
    fault_jmp = NULL;
}

/* Python names of every node (after the search): node i's type, and the slot
 * through which it holds node `to`. Nodes are read in index order, so the
 * node below (to < i) is named first. */
static void name_python(struct bfs *s, const struct scanbfs_params *p)
{
    struct scanpy_hop *h = p->hops;
    sigjmp_buf jb;
    volatile size_t i = 0;

    if (p->catch_faults) {
        if (sigsetjmp(jb, 1))
            i++; /* leave that node unnamed */
        fault_jmp = &jb;
    }
    for (; i < s->n_nodes; i++) {
        const struct scanbfs_node *nd = &s->nodes[i];
        const struct scanbfs_node *below = &s->nodes[nd->to];
        struct scanpy_obj o;
        int part;

        memset(&h[i], 0, sizeof(h[i]));
        if (nd->kind == SCANBFS_STACK && (nd->flags & SCANBFS_NODE_END_FRAME)) {
            for (size_t k = 0; k < s->view.n_roots; k++) {
                const struct scanbfs_root *rt = &s->view.roots[k];
                if ((rt->flags & SCANBFS_ROOT_FRAME) && nd->addr >= rt->lo && nd->addr < rt->hi &&
                    scanpy_frame_local(s->py, rt->lo, nd->addr, h[i].owner, sizeof(h[i].owner),
                                       h[i].via, sizeof(h[i].via)) == 0) {
                    h[i].flags |= SCANPY_HOP_FRAME;
                    break;
                }
            }
            continue;
        }
        if (nd->kind != SCANBFS_HEAP || !scanpy_object(s->py, &s->view, nd->addr, nd->size, &o))
            continue;
        h[i].flags |= SCANPY_HOP_OBJECT;
        snprintf(h[i].type, sizeof(h[i].type), "%s", o.name);
        if (i == 0)
            continue;
        part = scanpy_name_slot(s->py, &s->view, &o, nd->addr, nd->offset, nd->interior,
                                below->addr, nd->to ? (int64_t)below->offset : -1,
                                (h[nd->to].flags & SCANPY_HOP_OBJECT) != 0, &h[i]);
        if (part)
            h[nd->to].flags |= SCANPY_HOP_PART;
        if (nd->flags) { /* the chain's end: the dict below is its globals / __dict__ */
            h[nd->to].flags |= SCANPY_HOP_PART;
            snprintf(h[i].via, sizeof(h[i].via), "%s", h[nd->to].key);
            if (nd->flags & SCANBFS_NODE_END_MODULE) {
                h[i].flags |= SCANPY_HOP_MODULE;
                scanpy_module_name(s->py, &o, h[i].owner, sizeof(h[i].owner));
            } else {
                h[i].flags |= SCANPY_HOP_CLASS;
                scanpy_type_name(s->py, o.ob, h[i].owner, sizeof(h[i].owner));
            }
        }
    }
    fault_jmp = NULL;
}

/* The search's own mappings, released together. */
struct bfs_maps {
    struct blk *a, *tmp;
    uint64_t *hist;
    size_t blocks_bytes, visited_bytes, hist_bytes, fr_bytes;
};

static int bfs_release(struct bfs *s, struct bfs_maps *m, int rc)
{
    unmap(m->a, m->blocks_bytes);
    unmap(m->tmp, m->blocks_bytes);
    unmap(m->hist, m->hist_bytes);
    unmap(s->visited, m->visited_bytes);
    unmap(s->refs, m->visited_bytes);
    unmap(s->pk, s->pk_bytes);
    unmap(s->pk_at, s->pk_at_bytes);
    unmap(s->fr, m->fr_bytes);
    unmap(s, sizeof(*s));
    return rc;
}

/* Maps the search's arrays, takes the live blocks sorted by address and
 * marks the scan's own mappings; NULL (*err: -errno) when out of memory. */
static struct bfs *bfs_prepare(const struct scan_source *src, const struct scanbfs_root *roots,
                               size_t n_roots, struct scanbfs_params *p, struct scanbfs_node *nodes,
                               struct scanbfs_stats *st, struct bfs_maps *m, int *err)
{
    size_t cap = src->n_blocks;
    struct bfs *s = map(sizeof(*s));

    *err = -ENOMEM;
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->py = p->py && p->py->lay ? p->py : NULL;
    s->view.find = view_find;
    s->view.ctx = s;
    s->view.roots = roots;
    s->view.n_roots = n_roots;
    s->nodes = nodes;
    s->max_fanout = p->max_fanout ? p->max_fanout : 64;
    s->max_roots = p->max_roots ? p->max_roots : s->max_fanout;
    m->blocks_bytes = cap * sizeof(struct blk);
    m->visited_bytes = (cap / 64 + 1) * 8;
    m->hist_bytes = sizeof(uint64_t) << RADIX_MAX_BITS;
    m->fr_bytes = (s->max_fanout + 1) * sizeof(struct frontier_range);
    m->a = map(m->blocks_bytes);
    m->tmp = map(m->blocks_bytes);
    m->hist = map(m->hist_bytes);
    s->visited = map(m->visited_bytes);
    s->refs = map(m->visited_bytes);
    s->fr = map(m->fr_bytes);
    if (!m->a || !m->tmp || !m->hist || !s->visited || !s->refs || !s->fr) {
        bfs_release(s, m, 0);
        return NULL;
    }
    if (p->catch_faults) {
        struct sigaction sa;
        sigset_t faults;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_fault;
        sa.sa_flags = SA_NODEFER;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        sigemptyset(&faults);
        sigaddset(&faults, SIGSEGV);
        sigaddset(&faults, SIGBUS);
        sigprocmask(SIG_UNBLOCK, &faults, NULL);
    }
    s->blocks = m->a;
    s->cap_blocks = cap;
    src->for_each_block(src->ctx, collect_block, s);
    s->blocks = radix_sort(m->a, m->tmp, s->n_blocks, m->hist);
    st->n_blocks = s->n_blocks;
    for (size_t b = 0; b < s->n_blocks; b++)
        st->heap_bytes += s->blocks[b].size;
    for (size_t i = 0; i < n_roots; i++)
        if (roots[i].hi > roots[i].lo)
            st->root_bytes += roots[i].hi - roots[i].lo;

    exclude_range(s, (uint64_t)(uintptr_t)m->a, (uint64_t)(uintptr_t)m->a + m->blocks_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)m->tmp, (uint64_t)(uintptr_t)m->tmp + m->blocks_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)m->hist, (uint64_t)(uintptr_t)m->hist + m->hist_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)s->visited,
                  (uint64_t)(uintptr_t)s->visited + m->visited_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)s->refs, (uint64_t)(uintptr_t)s->refs + m->visited_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)s->fr, (uint64_t)(uintptr_t)s->fr + m->fr_bytes);
    exclude_range(s, (uint64_t)(uintptr_t)s, (uint64_t)(uintptr_t)s + sizeof(*s));
    exclude_range(s, (uint64_t)(uintptr_t)nodes,
                  (uint64_t)(uintptr_t)(nodes + scanbfs_max_nodes(p)));
    for (uint32_t i = 0; i < p->n_own && i < 4; i++)
        exclude_range(s, p->own[i].lo, p->own[i].hi);
    regions_build(s);
    *err = 0;
    return s;
}

/* The search outward from nodes[0], level by level, until a level finds a
 * root (and extra_levels more), the depth limit, or nothing more. */
static void bfs_levels(struct bfs *s, const struct scanbfs_root *roots, size_t n_roots,
                       struct scanbfs_stats *st, uint64_t t0)
{
    const struct scanbfs_params *p = s->p;
    uint32_t max_depth = p->max_depth ? p->max_depth : 10;
    uint32_t root_level = 0; /* level (1-based hops) of the first root; 0: none */
    size_t level_first = 0, level_end = 1;

    for (s->level = 0;; s->level++) {
        frontier_build(s, level_first, level_end);
        if (s->n_fr == 0)
            break;
        if (s->level >= max_depth || (root_level && s->level >= root_level + p->extra_levels)) {
            s->flags |= s->level >= max_depth ? SCANBFS_DEPTH_LIMIT : SCANBFS_STOPPED_EARLY;
            for (size_t i = level_first; i < level_end; i++)
                if (s->nodes[i].kind == SCANBFS_HEAP)
                    s->nodes[i].inbound = -1;
            break;
        }
        s->added = 0;
        s->level_bytes = 0;
        scan_level(s, roots, n_roots);
        st->levels++;
        st->bytes_scanned +=
            (s->level && !p->no_filter ? s->ref_bytes : st->heap_bytes) + s->level_bytes;
        if (s->level == 0 && !p->no_filter)
            pack_refs(s, st->heap_bytes);
        /* Python: native roots (C stack words, stale words in buffers) do not
         * end the search; a module global or a class attribute does */
        if (!root_level && (s->py ? s->ends : s->roots)) {
            root_level = s->level + 1;
            st->first_root_ns = now_ns() - t0;
        }
        level_first = level_end;
        level_end = s->n_nodes;
    }
}

int scanbfs_run(const struct scan_source *src, const struct scanbfs_root *roots, size_t n_roots,
                struct scanbfs_params *p, struct scanbfs_node *nodes, size_t *n_nodes,
                struct scanbfs_stats *st)
{
    uint64_t t0 = now_ns(), t1;
    struct bfs_maps m;
    struct bfs *s;
    long tb;
    int err;

    memset(st, 0, sizeof(*st));
    memset(&m, 0, sizeof(m));
    *n_nodes = 0;
    s = bfs_prepare(src, roots, n_roots, p, nodes, st, &m, &err);
    if (!s)
        return err;
    t1 = now_ns();
    st->prep_ns = t1 - t0;
    if (p->target == 0 && s->py && p->census) {
        p->n_census = 0;
        census(s, p);
        st->flags = s->flags;
        st->faults = s->faults;
        st->scan_ns = now_ns() - t1;
        st->bytes_scanned = st->heap_bytes;
        bfs_release(s, &m, 0);
        st->duration_ns = now_ns() - t0;
        return 0;
    }
    tb = find_block(s, p->target);
    if (tb < 0)
        return bfs_release(s, &m, -ENOENT);
    s->visited[(size_t)tb >> 6] |= 1ull << ((size_t)tb & 63);
    nodes[0].addr = s->blocks[tb].addr;
    nodes[0].size = s->blocks[tb].size;
    nodes[0].offset = 0;
    nodes[0].interior = p->target - s->blocks[tb].addr;
    nodes[0].inbound = 0;
    nodes[0].kind = SCANBFS_HEAP;
    nodes[0].id = s->blocks[tb].stack;
    nodes[0].to = 0;
    nodes[0].level = 0;
    s->n_nodes = 1;
    bfs_levels(s, roots, n_roots, st, t0);
    st->scan_ns = now_ns() - t1;
    if (!s->roots && !s->ends && !(s->flags & (SCANBFS_DEPTH_LIMIT | SCANBFS_FANOUT_LIMIT)))
        s->flags |= SCANBFS_UNREACHABLE;
    if (!(s->flags & SCANBFS_UNREACHABLE))
        s->flags &= ~SCANBFS_CYCLE; /* said of an unreachable target only */
    st->flags = s->flags;
    st->faults = s->faults;
    if (s->faults)
        st->flags |= SCANBFS_UNREADABLE;
    if (s->py && p->hops)
        name_python(s, p);
    *n_nodes = s->n_nodes;
    bfs_release(s, &m, 0);
    st->duration_ns = now_ns() - t0;
    return 0;
}
