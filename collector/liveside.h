/*
 * liveside.h - the live table's mapping and side tables (live.c,
 * livepair.c): growing arrays in mappings of their own, and small hashes from a nonzero 64-bit
 * key to a 64-bit value (the sizes too large for an entry by address, a
 * stack's extra (thread, tag) pairs). Only the collector thread changes
 * them; a fork()ed scan child may read (liveside_get: no allocation, no
 * lock).
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

/* The live table's mapping of bytes at t: its length (whole pages, from 4
 * MiB up to a 2 MiB boundary: live.c's huge pages), a new one (known as the
 * collector's), and one of *mapped bytes grown to hold nbytes, keeping its
 * pages (*mapped set to its new length; NULL: t and *mapped unchanged). */
#define LIVESIDE_HUGE_FROM ((size_t)4 << 20) /* the table's huge pages from here up */
size_t liveside_table_len(const void *t, size_t bytes);
void *liveside_table_map(size_t bytes);
void *liveside_table_remap(void *t, size_t *mapped, size_t nbytes);

/* A hash of key -> value (all zero: empty). */
struct liveside_kv {
    uint64_t key, val;
};
struct liveside_map {
    struct liveside_kv *kv;
    size_t n, cap, bytes;
};

/* Keeps key -> val (key nonzero, not kept yet). 0, or -1 when the hash
 * cannot grow. */
int liveside_put(struct liveside_map *m, uint64_t key, uint64_t val);
/* 1 and *val when key is kept, else 0. */
int liveside_get(const struct liveside_map *m, uint64_t key, uint64_t *val);
/* Forgets key (none: no effect). */
void liveside_del(struct liveside_map *m, uint64_t key);
/* Forgets every key, unmaps the hash (m->bytes: its mapping). */
void liveside_reset(struct liveside_map *m);

#endif
