/*
 * heapwalk_int.h - what the heap walk's files share: glibc's layouts, the
 * walk's state, and the one way to read a word of the walked memory.
 * heapwalk.c drives the walk (and reads this process's mappings),
 * heaparena.c finds the arenas and their heaps, heapchunk.c reads the free
 * lists and the chunks.
 *
 * Invariant: every byte read goes through rd(), which finds the range in the
 * caller's table first (a heap's chunks are read from the one range that
 * find_map() found for the whole heap); a chunk that leaves its heap, a list
 * that does not end, an arena that does not check out ends the walk (or
 * leaves that heap out) with a reason.
 *
 * The layouts are glibc 2.26 to 2.36 on x86-64 (malloc.c, arena.c):
 * struct malloc_state is 0x898 bytes (mutex, flags, have_fastchunks,
 * fastbinsY[10] at 0x10, top at 0x60, last_remainder, bins[254] at 0x70,
 * binmap, next at 0x870, next_free, attached_threads, system_mem at 0x888);
 * heap_info is 0x30 bytes (ar_ptr, prev, size, mprotect_size, pagesize);
 * a tcache_perthread_struct is a 0x290 chunk (uint16 counts[64], then
 * entries[64] pointing at the user memory of the cached chunks; 0x2a0 when
 * a free chunk 16 bytes larger was taken whole), named by each thread's
 * static TLS pointer `tcache` (heapwalk_tls); fastbin and
 * tcache next pointers are safe-linked since 2.32: stored as (where >> 12) ^
 * next.
 */
#ifndef HEAPLINE_HEAPWALK_INT_H
#define HEAPLINE_HEAPWALK_INT_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "heapwalk.h"

#define HW_HEAP_MAX (64u << 20) /* HEAP_MAX_SIZE: 2 * 4 MiB * sizeof(long) */
#define HW_MSTATE 0x898u        /* sizeof(struct malloc_state) */
#define HW_MS_FASTBINS 0x10u    /* fastbinsY[0] */
#define HW_NFASTBINS 10u
#define HW_MS_TOP 0x60u
#define HW_MS_BINS 0x70u /* bins[0], bins[1]: the unsorted bin's fd, bk */
#define HW_MS_NEXT 0x870u
#define HW_HEAP_INFO 0x30u      /* sizeof(heap_info) */
#define HW_TCACHE_CHUNK 0x290u  /* the chunk of a tcache_perthread_struct */
#define HW_TCACHE_CHUNK2 0x2a0u /* ... taken whole from a free chunk 16 bytes larger */
#define HW_MAX_THREADS (1u << 16)
#define HW_TCACHE_BINS 64u
#define HW_MINSIZE 32u
#define HW_PAGE 4096u
#define HW_MAX_ARENAS 4096u

#define PREV_INUSE 1u
#define IS_MMAPPED 2u
#define NON_MAIN_ARENA 4u

struct hw_vec { /* a growable array of words in mmap'd memory */
    uint64_t *v;
    size_t n, cap;
};

struct hw_heap {
    uint64_t start, end; /* chunks in [start, end) */
    int bad;             /* left out: it did not add up */
    uint64_t top;        /* the arena's top chunk when it is in this heap, else 0 */
    uint64_t arena;
    uint64_t first; /* the arena's first chunk (its tcache) when this is its first heap */
    uint64_t base;  /* a thread heap's HEAP_MAX_SIZE-aligned start; 0 for [heap] */
    int main;
    int mapped; /* main_arena's, in memory glibc mapped when [heap] could not grow */
};

struct hw {
    const struct heapwalk_map *maps;
    size_t n_maps, last;
    struct hw_heap *heaps;
    size_t n_heaps, cap_heaps;
    uint64_t arenas[HW_MAX_ARENAS];
    unsigned char arena_bad[HW_MAX_ARENAS]; /* its fastbins did not add up */
    size_t n_arenas;
    struct hw_vec excl;             /* chunks never yielded: fastbin, tcache entries, tcaches */
    struct hw_vec cands;            /* in-use 0x290 and 0x2a0 chunks: tcaches maybe (by shape) */
    const struct heapwalk_tls *tls; /* NULL: tcaches by shape */
    uint64_t key;                   /* tcache_key, once seen */
    const uint64_t *skip;           /* lo, hi pairs sorted by lo: never mmapped chunks */
    size_t n_skip;
    /* this process (heapwalk_self): a read of a range that faults after all
     * (a guard region inside a mapping, userfaultfd, ASan's shadow) lands
     * here; the range is dropped and the walk starts again */
    struct heapwalk_map *own_maps; /* writable: NULL for an image */
    sigjmp_buf *jb;
    volatile uint64_t fault_addr;
    volatile uint64_t reading; /* an address of the range being read (when the fault
                                  is elsewhere: a sanitizer's check of its shadow) */
    uint64_t vec_lo;           /* mmapped(): the page mincore's vector starts at */
    struct heapwalk_stats st;
    const char *why;
};

/* ---- reading through the table ---- */

/* One word of the walked memory. Never instrumented: a sanitizer would
 * take the walk's reads of memory the program does not own for bugs (and
 * its check of its own shadow for one of ours). */
__attribute__((no_sanitize("address"))) static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;

    __builtin_memcpy(&v, p, 8);
    return v;
}

static inline const struct heapwalk_map *find_map(struct hw *w, uint64_t addr)
{
    size_t lo = 0, hi = w->n_maps;

    if (w->last < w->n_maps && addr >= w->maps[w->last].lo && addr < w->maps[w->last].hi)
        return &w->maps[w->last];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->maps[mid].hi <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < w->n_maps && addr >= w->maps[lo].lo) {
        w->last = lo;
        return &w->maps[lo];
    }
    return NULL;
}

/* 0 with the word at addr (8-aligned) in *out, -1 when it is not readable. */
static inline int rd(struct hw *w, uint64_t addr, uint64_t *out)
{
    const struct heapwalk_map *m;

    if (addr & 7)
        return -1;
    w->reading = addr;
    m = find_map(w, addr);
    if (!m || m->hi - addr < 8)
        return -1;
    *out = load64(m->bytes + (addr - m->lo));
    return 0;
}

/* Whether [addr, addr + n) lies in one range of the table. */
static inline int readable(struct hw *w, uint64_t addr, uint64_t n)
{
    const struct heapwalk_map *m = find_map(w, addr);

    return m && m->hi - addr >= n;
}

static inline int fail(struct hw *w, const char *why)
{
    if (!w->why)
        w->why = why;
    return HEAPWALK_ECORRUPT;
}

#endif
