/*
 * hashtab.h - an open-addressing index over an array the caller owns.
 *
 * The table maps a key to the index of an entry in the caller's array: each
 * slot holds an entry index + 1 (0: empty), probed linearly from the key's
 * hash. The caller keeps its entries where it likes (an array, chunks) and
 * says how to hash entry i and how to compare it with a key; the table only
 * keeps the indexes. So the model's strings, frames, sites, parties, tree
 * nodes and callers share one probe loop and one rehash.
 *
 * Invariant: the table is at most half full (hashtab_reserve() before each
 * insertion), so a probe always ends at an empty slot. Entries are never
 * removed. Not thread-safe; no I/O.
 */
#ifndef HEAPLINE_HASHTAB_H
#define HEAPLINE_HASHTAB_H

#include <stdint.h>

#define HASHTAB_NONE UINT32_MAX

/* The hash of entry i of the caller's array (its key's hash). */
typedef uint32_t (*hashtab_hash_fn)(const void *ctx, uint32_t i);

struct hashtab {
    uint32_t *slot; /* entry index + 1; 0 empty */
    uint32_t cap;   /* a power of two, or 0 */
};

/* A zeroed struct is an empty table. */
void hashtab_free(struct hashtab *h);

/*
 * Makes room for entry number n (entries 0..n-1 are in the table): when
 * n + 1 entries would pass half the capacity, the table doubles (at least
 * min_cap, a power of two) and entries 0..n-1 are placed again with
 * hash(ctx, i). Returns 0, or -1 when out of memory (the table unchanged).
 */
int hashtab_reserve(struct hashtab *h, uint32_t n, uint32_t min_cap, hashtab_hash_fn hash,
                    const void *ctx);

/* 1 when entry i of the caller's array has the key. */
typedef int (*hashtab_eq_fn)(const void *ctx, uint32_t i, const void *key);

/*
 * The entry whose key equals key (its hash: hash), or HASHTAB_NONE. *slot
 * gets the slot where the probe ended: the entry's, or the empty slot where
 * a new entry with this key goes (hashtab_set) when nothing was inserted
 * since. The table must not be empty (hashtab_reserve first). Inline: the
 * compiler folds a constant eq into the loop.
 */
static inline uint32_t hashtab_find(const struct hashtab *h, uint32_t hash, hashtab_eq_fn eq,
                                    const void *ctx, const void *key, uint32_t *slot)
{
    uint32_t s = hash & (h->cap - 1);

    for (; h->slot[s]; s = (s + 1) & (h->cap - 1))
        if (eq(ctx, h->slot[s] - 1, key))
            break;
    *slot = s;
    return h->slot[s] - 1;
}

/* Puts entry i into the empty slot where hashtab_find() ended. */
static inline void hashtab_set(struct hashtab *h, uint32_t slot, uint32_t i)
{
    h->slot[slot] = i + 1;
}

#endif
