/*
 * scanbfs_impl.h - the search's own state, shared by its three files:
 * scanbfs.c (the levels, the frontier, what a hit makes), scanblocks.c (the
 * snapshot's blocks: collected, sorted by address, looked up) and
 * scanwords.c (the word loops, level 0's mark, its list of words and the
 * packed copy).
 *
 * Invariant: s->blocks is sorted by address; a block of size 0 is never
 * read (an excluded one: the scan's own mappings); s->refs has a bit only
 * for a block level 0 read whole, s->pk holds exactly those blocks' words,
 * in block order, and s->wl (while wl_used()) exactly their words that may
 * point into a block, in the order read.
 */
#ifndef HEAPLINE_SCANBFS_IMPL_H
#define HEAPLINE_SCANBFS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "scanbfs.h"

/* A live block in 16 bytes (the child's array of them is fresh memory: in
 * a VM each page of it can cost a fault in the host too, 2.6 ms a MB when
 * the guest's free memory was given back). */
struct blk {
    uint64_t addr;
    uint32_t size; /* BLK_SIZE_BIG: 4 GiB or more, in s->big (blk_size()) */
    uint32_t aux;  /* the stack; in a census, the low 32 bits of the allocation's
                      sequence number (a census names no node) */
};

#define BLK_SIZE_BIG 0xffffffffu

struct blk_big {
    uint64_t addr, size;
};

/* kind bits passed down the scan loop: roots of the allocator's module, a
 * live Python frame's locals */
#define SCANBFS_KIND_ALLOCATOR 0x100u
#define SCANBFS_KIND_FRAME 0x200u
#define SCANBFS_KIND_PACKED 0x400u /* a word of the packed copy (scan_packed) */
#define SCANBFS_KIND_WORDS 0x800u  /* a word of level 0's list (bfs_scan_words_list) */

#define FILTER_BITS 16 /* page filter: 2^16 bits = 8 KiB */
#define FILTER_WORDS ((1u << FILTER_BITS) / 64)
#define FILTER_MASK ((1u << FILTER_BITS) - 1)

struct frontier_range {
    uint64_t lo, hi;
    uint64_t ob; /* a Python object: references point exactly here (0: anywhere) */
    uint32_t node;
};

#define BFS_OWN_MAX 20

struct bfs {
    const struct scanbfs_params *p;
    struct scanpy *py; /* NULL: not Python */
    struct scanpy_view view;
    struct blk *blocks;
    size_t n_blocks, blocks_bytes;
    struct blk_big *big; /* the blocks of BLK_SIZE_BIG, sorted by address */
    size_t n_big, big_bytes;
    uint64_t *hist;    /* bfs_collect_sorted()'s counters (BFS_HIST_BYTES) */
    uint64_t *visited; /* bit per block: already a node */
    /* bit per block: it holds a word that may point into a block (inside
     * the blocks' span, in a 1 MiB region a block covers), set while level
     * 0 scans it; later levels scan only those (a Python heap's strings and
     * buffers, most of its bytes, hold none). Exact, not a guess: a word
     * that points into a frontier block points into a block, so its
     * holder's bit is set. */
    uint64_t *refs;
    uint64_t hmin, hspan, hmin2, hspan2; /* the blocks lie in [hmin, +hspan) and [hmin2, +hspan2) */
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
    /* the words level 0 read that may point into a block (may_ref), in the
     * order read: their values in wl, their addresses in wl_at; later
     * levels read wl alone as one stream, a word a reference (a heap of
     * blocks that each hold a pointer: 36 MB a level, not 1 GiB). Not used
     * when level 0 found more than wl_cap (wl_n past it), or when it grew
     * past a quarter of the bytes read (wl_cap 0 then) */
    uint64_t *wl;
    uint64_t *wl_at;
    size_t wl_n, wl_cap, wl_bytes, wl_at_bytes;
    uint64_t
        wl_read; /* level 0: bytes of blocks read (wl_cap is 0 once the list outgrows a quarter) */
    volatile size_t wl_block; /* level 0: wl_n where the block being read began */
    uint64_t level_bytes;     /* root bytes the level scanned */
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
    volatile int phase; /* 0 roots, 1 blocks, 2 the packed copy, 3 level 0's list */
    volatile size_t cur;
    volatile uint64_t faults;
    volatile size_t pk_next; /* phase 2: the next block's header in pk */
    /* the scan's own mappings in the child (bfs_exclude_range()), never read as
     * roots: a root taken before the fork (a thread's stack, a mapping of the
     * program's) may have been unmapped since, and the child's arrays of
     * addresses land there (a target found held four times by itself) */
    uint64_t own_lo[BFS_OWN_MAX], own_hi[BFS_OWN_MAX];
    size_t n_own;
    /* Python: every deque's blocks, sorted by address, with the bytes of
     * each that hold references (scanpy_deque_blocks()); NULL: none */
    struct scanpy_dqblock *dq;
    size_t n_dq, dq_bytes;
};

#define RADIX_MAX_BITS 11 /* the sort's digits below the top one: 2048 buckets at most */
#define RADIX_TOP_BITS 11 /* its top digit (scattered from the source): the scatter stays in L2 */
/* counters and cursors of the top digit and of each one below it (a digit
 * below is 6 bits or more: it splits more than 32 blocks) */
#define BFS_HIST_BYTES                                                                             \
    (2 * sizeof(uint64_t) * ((1u << RADIX_TOP_BITS) + ((64 / 6 + 1) << RADIX_MAX_BITS)))

typedef void scan_words_fn(struct bfs *s, uint64_t lo_addr, uint64_t hi_addr, uint32_t kind,
                           uint32_t id, size_t b, uint64_t holder_lo);

/* scanblocks.c */
void *bfs_map(size_t bytes);
void bfs_unmap(void *p, size_t bytes);
int bfs_collect_sorted(struct bfs *s, const struct scan_source *src, int seq);
uint64_t bfs_big_size(const struct bfs *s, uint64_t addr);
long bfs_find_block(const struct bfs *s, uint64_t addr);
int bfs_any_block_in(const struct bfs *s, uint64_t lo, uint64_t hi);
int bfs_view_find(const void *ctx, uint64_t addr, uint64_t *lo, uint64_t *size);
void bfs_exclude_range(struct bfs *s, uint64_t lo, uint64_t hi);
void bfs_regions_build(struct bfs *s);

/* scanwords.c */
scan_words_fn *bfs_pick_scan_words(const struct scanbfs_params *p);
void bfs_scan_blocks(struct bfs *s, scan_words_fn *scan);
void bfs_pack_refs(struct bfs *s, uint64_t heap_bytes);
void bfs_packed_block(struct bfs *s, uint64_t word_addr, size_t *b, uint64_t *holder_lo);
void bfs_words_list_map(struct bfs *s, uint64_t heap_bytes);
int bfs_listed_word(struct bfs *s, uint64_t *word_addr, size_t *b, uint64_t *holder_lo);

/* scanbfs.c: a word at word_addr (inside a root, or block b when kind is
 * HEAP) holds v, which points into frontier range fi */
void bfs_on_hit(struct bfs *s, uint32_t kind, uint32_t id, size_t b, uint64_t holder_lo,
                uint64_t word_addr, uint64_t v, long fi);

/* Block b's size. */
static inline uint64_t blk_size(const struct bfs *s, size_t b)
{
    uint32_t z = s->blocks[b].size;

    return __builtin_expect(z != BLK_SIZE_BIG, 1) ? z : bfs_big_size(s, s->blocks[b].addr);
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

static inline void check_word(struct bfs *s, uint32_t kind, uint32_t id, size_t b,
                              uint64_t holder_lo, const uint64_t *wp)
{
    uint64_t v = *wp;
    long fi;

    if (v - s->fmin < s->fspan && (fi = frontier_find(s, v)) >= 0)
        bfs_on_hit(s, kind, id, b, holder_lo, (uint64_t)(uintptr_t)wp, v, fi);
}

/* 1 when v may point into a block: inside the span, in a covered region. */
static inline int may_ref(const struct bfs *s, uint64_t v)
{
    uint64_t rg = v >> 20;

    return (v - s->hmin < s->hspan || v - s->hmin2 < s->hspan2) &&
           (s->regions[(rg & FILTER_MASK) >> 6] & (1ull << (rg & 63)));
}

/* Whether later levels read level 0's list. */
static inline int wl_used(const struct bfs *s)
{
    return s->wl_cap && s->wl_n <= s->wl_cap;
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

#endif
