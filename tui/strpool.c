/*
 * strpool.c - interned strings in chunks that never move (strpool.h).
 *
 * Invariant: e[0..n) are the distinct strings, each in a chunk; the set
 * indexes them by an FNV-1a hash of their bytes.
 */
#include "strpool.h"

#include <stdlib.h>
#include <string.h>

#define STRPOOL_CHUNK 65536u

struct strpool_key {
    const char *s;
    size_t n;
};

static uint32_t strpool_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t strpool_entry_hash(const void *ctx, uint32_t i)
{
    const struct strpool *p = ctx;

    return p->e[i].hash;
}

static int strpool_entry_eq(const void *ctx, uint32_t i, const void *key)
{
    const struct strpool *p = ctx;
    const struct strpool_key *k = key;

    return strncmp(p->e[i].s, k->s, k->n) == 0 && p->e[i].s[k->n] == 0;
}

void strpool_free(struct strpool *p)
{
    for (size_t i = 0; i < p->n_chunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    free(p->e);
    hashtab_free(&p->set);
    memset(p, 0, sizeof(*p));
}

/* Room for n + 1 bytes in the last chunk (a chunk of its own when larger). */
static char *strpool_room(struct strpool *p, size_t n)
{
    size_t cap = n + 1 > STRPOOL_CHUNK ? n + 1 : STRPOOL_CHUNK;
    char **c;

    if (p->n_chunks && p->used + n + 1 <= p->chunk_cap)
        return p->chunks[p->n_chunks - 1] + p->used;
    c = realloc(p->chunks, (p->n_chunks + 1) * sizeof(*c));
    if (!c)
        return NULL;
    p->chunks = c;
    if (!(c[p->n_chunks] = malloc(cap)))
        return NULL;
    p->n_chunks++;
    p->used = 0;
    p->chunk_cap = cap;
    return c[p->n_chunks - 1];
}

const char *strpool_intern(struct strpool *p, const char *s, size_t n)
{
    struct strpool_key key = {s, n};
    uint32_t h, i, slot;
    char *copy;

    if (!s || n == 0)
        return "";
    h = strpool_hash(s, n);
    if (hashtab_reserve(&p->set, p->n, 1024, strpool_entry_hash, p))
        return NULL;
    i = hashtab_find(&p->set, h, strpool_entry_eq, p, &key, &slot);
    if (i != HASHTAB_NONE)
        return p->e[i].s;
    if (p->n == p->e_cap) {
        uint32_t nc = p->e_cap ? p->e_cap * 2 : 1024;
        struct strpool_entry *e = realloc(p->e, (size_t)nc * sizeof(*e));

        if (!e)
            return NULL;
        p->e = e;
        p->e_cap = nc;
    }
    copy = strpool_room(p, n);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    copy[n] = 0;
    p->used += n + 1;
    p->e[p->n] = (struct strpool_entry){copy, h};
    hashtab_set(&p->set, slot, p->n++);
    return copy;
}

int strpool_hand_over(struct strpool *p, void ***chunks, size_t *n)
{
    void **c = NULL;

    if (p->n_chunks) {
        c = malloc(p->n_chunks * sizeof(*c));
        if (!c)
            return -1;
        for (size_t i = 0; i < p->n_chunks; i++)
            c[i] = p->chunks[i];
    }
    *chunks = c;
    *n = p->n_chunks;
    free(p->chunks);
    free(p->e);
    hashtab_free(&p->set);
    memset(p, 0, sizeof(*p));
    return 0;
}
