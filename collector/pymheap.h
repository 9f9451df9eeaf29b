/*
 * pymheap.h - the live objects of CPython's own small-object allocator
 * (pymalloc), read from its pools in a scan snapshot.
 *
 * Without PYTHONMALLOC=malloc (a service started as usual, or attached to)
 * every Python object of 512 bytes or less lives in a pymalloc pool, inside
 * a 1 MiB arena the interpreter mapped itself, and never reaches malloc: a
 * backreference scan that knows only heap blocks cannot follow a chain
 * through a list or an instance. This module finds the pools and yields
 * their allocated blocks, so they join the scan's blocks.
 *
 * A pool is 16 KiB, 16 KiB-aligned, and starts with its header (CPython
 * 3.8 to 3.13, 64-bit, Objects/obmalloc.c):
 *
 *     0  uint32 count          blocks allocated (the union's other half unused)
 *     8  block *freeblock      first free block, NULL when the pool is full
 *    16  pool *nextpool, 24 prevpool
 *    32  uint32 arenaindex, 36 szidx, 40 nextoffset, 44 maxnextoffset
 *
 * Blocks of (szidx + 1) * 16 bytes are carved from offset 48 up to
 * nextoffset; those carved but free are chained from freeblock through
 * their first word. A pool is taken only when all of it adds up: szidx
 * below 32, maxnextoffset = 16 KiB - size, nextoffset on the block grid,
 * and the free chain visiting distinct carved blocks, exactly carved -
 * count of them. Empty pools (count 0, cached for reuse) hold nothing.
 * A pool that does not add up (a thread was inside pymalloc at the
 * snapshot: it needs the GIL, so one pool at most) is left out and counted.
 *
 * No malloc, no lock, no stdio: runs in the scan's forked child.
 */
#ifndef HEAPLINE_PYMHEAP_H
#define HEAPLINE_PYMHEAP_H

#include <stddef.h>
#include <stdint.h>

#define PYMHEAP_POOL 16384u

struct pymheap_stats {
    uint64_t pools;   /* pools that added up, with objects */
    uint64_t blocks;  /* allocated blocks yielded */
    uint64_t bytes;   /* their bytes (size classes) */
    uint64_t bad;     /* pool headers that did not add up */
    uint64_t faults;  /* mappings dropped: reading them faulted */
    uint64_t dropped; /* mappings not looked at: more than the walk's table holds */
    uint64_t mapped;  /* bytes of the anonymous mappings looked at */
};

/* addr: the block; size: its size class (16 to 512 bytes). */
typedef void pymheap_block_fn(void *arg, uint64_t addr, uint64_t size);

/* One pool: bytes[0..PYMHEAP_POOL) is its image, addr where it lies in the
 * program (the free chain's pointers are addresses there). Returns the
 * blocks yielded (0 for an empty pool), or -1 when it is not a pool or does
 * not add up (fn is then not called). */
int pymheap_pool(const unsigned char *bytes, uint64_t addr, pymheap_block_fn *fn, void *arg);

/* Every pool of the calling process: 16 KiB-aligned candidates in the
 * writable private anonymous mappings of /proc/self/maps, but for the
 * ranges [skip[2i], skip[2i+1]) (the collector's and the scan's own, sorted
 * by start). A read that faults drops the rest of its mapping (SIGSEGV and
 * SIGBUS are caught for the walk only). Returns 0, or -1 when the maps
 * cannot be read or memory for the walk cannot be mapped. */
int pymheap_self(const uint64_t *skip, size_t n_skip, pymheap_block_fn *fn, void *arg,
                 struct pymheap_stats *st);

#endif
