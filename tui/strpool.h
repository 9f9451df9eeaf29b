/*
 * strpool.h - interned strings that never move.
 *
 * A string is copied once into a chunk of the pool and every later intern of
 * the same bytes returns the same pointer, so strings compare by pointer
 * (the model keys sites and frames by their strings' addresses). Chunks
 * never move or shrink: a pointer handed out stays valid until the chunk is
 * freed, by strpool_free() or by whoever took it with strpool_hand_over().
 *
 * Not thread-safe: one owner. No I/O.
 */
#ifndef HEAPLINE_STRPOOL_H
#define HEAPLINE_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "hashtab.h"

struct strpool_entry {
    const char *s;
    uint32_t hash;
};

struct strpool {
    char **chunks;
    size_t n_chunks, used, chunk_cap; /* bytes used and held by the last chunk */
    struct strpool_entry *e;          /* every string, in order of first intern */
    uint32_t n, e_cap;
    struct hashtab set; /* over e */
};

/* A zeroed struct is an empty pool. */
void strpool_free(struct strpool *p);

/* Interns n bytes of s (no NUL needed among them). Returns a NUL-terminated
 * copy that lives as long as its chunk: "" for n == 0, NULL when out of
 * memory. */
const char *strpool_intern(struct strpool *p, const char *s, size_t n);

/*
 * Empties the pool but hands its chunks (the strings' memory) to the
 * caller, who frees each with free(): strings handed out before stay valid.
 * *chunks gets a malloc'ed array of *n of them (NULL, 0 when none). Returns
 * 0, or -1 when out of memory (the pool unchanged).
 */
int strpool_hand_over(struct strpool *p, void ***chunks, size_t *n);

#endif
