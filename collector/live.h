/*
 * live.h - the exact table of live allocations (address -> size, stack, time,
 * thread, tag), owned by the collector thread.
 *
 * Open addressing with linear probing and backward-shift deletion in mmap'd
 * memory: 32-byte entries kept between 0.45 and 3/4 full (see live.c), so the
 * table costs 43 to 71 bytes per live block. Only the collector thread reads or writes it; a
 * fork()ed scan child may walk it with live_foreach (no allocation, no lock).
 */
#ifndef HEAPLINE_LIVE_H
#define HEAPLINE_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct live_entry {
    uint64_t addr; /* 0: empty slot */
    uint64_t size;
    int64_t time;
    uint64_t stack : 24;  /* < TRIE_MAX_NODES */
    uint64_t thread : 24; /* <= WIRE_MAX_THREAD_ID */
    uint64_t tag : 16;    /* <= WIRE_MAX_TAG_ID */
};

int live_init(void);
void live_reset(void);

/* The entry of a live block starting at addr, or NULL. */
struct live_entry *live_find(uint64_t addr);

/* Adds a block (addr must not be live). Returns 0 or -1 (out of memory: the
 * caller turns tracking off). Invalidates entry pointers. */
int live_insert(const struct live_entry *e);

/* Removes the entry returned by live_find(). Invalidates entry pointers. */
void live_remove(struct live_entry *e);

size_t live_count(void);
size_t live_bytes_used(void); /* bytes of table memory */

typedef void live_fn(void *arg, const struct live_entry *e);
/* Calls fn for every live entry. No allocation, no lock. */
void live_foreach(live_fn *fn, void *arg);

/* The live block containing addr (start <= addr < start + size), or NULL.
 * Walks the whole table: for rare requests only. */
struct live_entry *live_find_containing(uint64_t addr);

#endif
