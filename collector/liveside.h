/*
 * liveside.h - the live table's side tables (live.c): growing arrays in
 * mappings of their own, and the sizes too large for an entry, by address.
 * Only the collector thread calls these; a fork()ed scan child may read
 * (liveside_big_get: no allocation, no lock).
 */
#ifndef HEAPLINE_LIVESIDE_H
#define HEAPLINE_LIVESIDE_H

#include <stddef.h>
#include <stdint.h>

/* Grows the mapping *p of *bytes (0: none yet) to hold need bytes at least,
 * doubling, contents kept. Returns 0 or -1 (*p unchanged). */
int liveside_grow(void **p, size_t *bytes, size_t need);
/* Unmaps *p and sets it to NULL, *bytes to 0. */
void liveside_free(void **p, size_t *bytes);

/* Keeps the size of the block at addr (not kept yet). 0, or -1 when the
 * hash cannot grow. */
int liveside_big_put(uint64_t addr, uint64_t size);
/* 1 and *size when addr's size is kept, else 0. */
int liveside_big_get(uint64_t addr, uint64_t *size);
/* Forgets addr's size (none: no effect). */
void liveside_big_del(uint64_t addr);
size_t liveside_big_bytes(void); /* the hash's mapping */
void liveside_big_reset(void);   /* forgets every size, unmaps the hash */

#endif
