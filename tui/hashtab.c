/*
 * hashtab.c - the rehash of the shared open-addressing index (hashtab.h).
 * The probe itself is inline in the header: it runs per lookup.
 */
#include "hashtab.h"

#include <stdlib.h>

void hashtab_free(struct hashtab *h)
{
    free(h->slot);
    h->slot = NULL;
    h->cap = 0;
}

int hashtab_reserve(struct hashtab *h, uint32_t n, uint32_t min_cap, hashtab_hash_fn hash,
                    const void *ctx)
{
    uint32_t nc, *t;

    if ((uint64_t)(n + 1) * 2 <= h->cap)
        return 0;
    if (n >= UINT32_MAX / 4)
        return -1;
    nc = h->cap ? h->cap * 2 : 16;
    while (nc < min_cap || (uint64_t)(n + 1) * 2 > nc)
        nc *= 2;
    t = calloc(nc, sizeof(*t));
    if (!t)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = hash(ctx, i) & (nc - 1);

        while (t[k])
            k = (k + 1) & (nc - 1);
        t[k] = i + 1;
    }
    free(h->slot);
    h->slot = t;
    h->cap = nc;
    return 0;
}
