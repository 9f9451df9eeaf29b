/*
 * heapwalk.h - the live blocks of a snapshot, read from glibc's own heap.
 *
 * A backreference scan in sampling mode or after an attach cannot take block
 * extents from the live table: it never saw most blocks. This module walks
 * glibc 2.26+ ptmalloc (x86-64 layout, checked against 2.36) read-only and
 * yields (address, usable size) for every chunk in use: the main arena's
 * chunks in the [heap] mapping (and in the region glibc mapped for them when
 * [heap] could not grow), every thread arena's heaps (a heap_info at
 * the start of a HEAP_MAX_SIZE-aligned mapping), and every mmapped chunk
 * (IS_MMAPPED); not free chunks, nor chunks in a fastbin or a tcache, nor
 * the tcache_perthread_structs themselves, nor fenceposts and top chunks.
 *
 * Every read goes through a table of ranges the caller vouched for (the
 * readable private mappings of /proc/self/maps in heapwalk_self(), bytes of
 * a synthetic image in tests and the fuzz target): a pointer outside them is
 * never followed, and a heap that does not add up ends the walk with a
 * reason instead of a crash. No malloc, no lock, no stdio: runs in the
 * scan's forked child. Memory comes from mmap and is returned.
 */
#ifndef HEAPLINE_HEAPWALK_H
#define HEAPLINE_HEAPWALK_H

#include <stddef.h>
#include <stdint.h>

enum heapwalk_kind {
    HEAPWALK_ANON = 0, /* private anonymous: may hold a thread heap or mmapped chunks */
    HEAPWALK_BRK = 1,  /* [heap]: the main arena's chunks */
    HEAPWALK_LIBC = 2, /* the C library's writable data and its bss: main_arena is there */
    HEAPWALK_OTHER = 3 /* readable, never a heap (a file's data, a stack) */
};

struct heapwalk_map {
    uint64_t lo, hi;            /* [lo, hi), page-aligned in a process */
    const unsigned char *bytes; /* where the bytes of [lo, hi) can be read here */
    uint32_t kind;              /* enum heapwalk_kind */
    uint32_t resident;          /* 1: bytes == lo in this process (mincore may be asked) */
};

struct heapwalk_stats {
    uint64_t arenas;        /* main arena included */
    uint64_t heaps;         /* thread heaps */
    uint64_t in_use;        /* blocks yielded */
    uint64_t in_use_bytes;  /* their usable bytes */
    uint64_t mmapped;       /* of them, mmapped chunks */
    uint64_t mmapped_bytes; /* their mappings' bytes (mallinfo2()'s hblkhd) */
    uint64_t free_chunks;   /* in a bin (next chunk's PREV_INUSE clear) */
    uint64_t fastbin;       /* chunks in fastbins */
    uint64_t tcache;        /* chunks in tcaches */
    uint64_t tcaches;       /* tcache_perthread_structs */
    uint64_t tcache_how;    /* HEAPWALK_TCACHE_*: how they were told from blocks */
    uint64_t threads;       /* threads read (HEAPWALK_TCACHE_TLS), with a tcache or not */
    uint64_t locked;        /* arenas whose lock was held at the snapshot */
    uint64_t partial;       /* heaps left out, tcaches or thread lists torn (see below) */
    uint64_t torn;          /* of them, tcaches or thread lists that did not add up */
    uint64_t faults;        /* ranges or pages dropped: reading them faulted */
};

/* stats.tcache_how */
#define HEAPWALK_TCACHE_SHAPE                                                                      \
    1                         /* by shape: an arena's first chunk, a 0x290 or 0x2a0 chunk          \
                               * whose lists check out (an empty one elsewhere is missed) */
#define HEAPWALK_TCACHE_TLS 2 /* by each thread's TLS variable `tcache`: exactly */

/* Where each thread's `tcache` (glibc's static TLS pointer to its
 * tcache_perthread_struct) lies, found by heaptls.h in the live process:
 * the threads are the members of glibc's lists of thread descriptors
 * (_rtld_global's dl_stack_used and dl_stack_user, list_head's linked
 * through struct pthread's `list`), and a thread's tcache is the word at
 * its descriptor (its thread pointer) + tcache_off. */
struct heapwalk_tls {
    uint64_t heads[2]; /* the two list heads' addresses (0: none) */
    uint64_t list_off; /* offsetof(struct pthread, list) */
    int64_t tcache_off;
};

/* Reasons (negative return values) */
#define HEAPWALK_ENOHEAP (-1)  /* no glibc heap found (another allocator, or none yet) */
#define HEAPWALK_ECORRUPT (-2) /* a chunk, list or arena did not add up */
#define HEAPWALK_ENOMEM (-3)   /* mmap of the walk's own tables failed */

/* addr: the block (chunk + 16); usable: what malloc_usable_size() says. */
typedef void heapwalk_block_fn(void *arg, uint64_t addr, uint64_t usable);

/* Walks the heap found in maps[0..n) (sorted by lo, not overlapping) and
 * calls fn for each block in use, in address order within each heap. With
 * tls (may be NULL: tcaches told by shape), the tcaches are those the
 * threads' TLS names; a thread list or a tcache that does not add up (a
 * thread was changing it at the snapshot: counts that do not match the
 * lists, a list that loops or leaves the heap) counts in st->partial and
 * st->torn, and what it held may be yielded as blocks.
 * Returns 0, or a negative HEAPWALK_E* with *why set to a static sentence
 * (fn may have been called for some blocks already). st may be NULL.
 *
 * A heap whose chunks or whose arena's fastbins do not add up is left out
 * and the walk goes on: st->partial counts them, *why says the first
 * reason, the return is 0. A fork() snapshot of a running program is not
 * one instant: the kernel copies the page tables one range at a time while
 * the other threads run, so a thread inside malloc can leave an arena's top
 * pointer from before a split and the chunk headers from after it (seen in
 * 11 of 20 scans of tests/attach/busy.c, before an old top that straddles
 * the new one was allowed).
 *
 * No malloc, no lock: async-signal-safe but for mmap and, for resident
 * maps, mincore. */
int heapwalk_image(const struct heapwalk_map *maps, size_t n, const struct heapwalk_tls *tls,
                   heapwalk_block_fn *fn, void *arg, struct heapwalk_stats *st, const char **why);

/* The same on the calling process: maps are the writable private mappings
 * of /proc/self/maps; pages in [skip[2i], skip[2i+1]) for i < n_skip (the
 * caller's own memory, sorted by start) are never taken for mmapped chunks
 * (they are read when a heap holds them). Reads the maps with open/read
 * only (the dynamic loader's writable data is read too, for its lists of
 * threads, never taken for a heap). A writable private mapping can still fault (a guard region
 * inside it, userfaultfd, a sanitizer's shadow): SIGSEGV and SIGBUS are caught for the walk
 * (unblocked, their handlers replaced, then restored: one walk at a time), the range dropped and
 * the walk begun again (st->faults). */
int heapwalk_self(const uint64_t *skip, size_t n_skip, const struct heapwalk_tls *tls,
                  heapwalk_block_fn *fn, void *arg, struct heapwalk_stats *st, const char **why);

/* A sentence for a HEAPWALK_E* code (static). */
const char *heapwalk_strerror(int code);

#endif
