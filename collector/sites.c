/*
 * sites.c - per-stack figures.
 *
 * Invariant: a site is in the dirty list exactly when its dirty flag is set,
 * and only dirty sites have nonzero deltas.
 */
#include "sites.h"

#include <string.h>
#include <sys/mman.h>

#include "trie.h"

static struct site *sites;
static uint32_t *dirty;
static size_t n_dirty;
static uint32_t max_id;

int sites_init(void)
{
    void *s = mmap(NULL, sizeof(struct site) * TRIE_MAX_NODES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *d = mmap(NULL, sizeof(uint32_t) * TRIE_MAX_NODES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (s == MAP_FAILED || d == MAP_FAILED)
        return -1;
    sites = s;
    dirty = d;
    n_dirty = 0;
    max_id = 0;
    return 0;
}

void sites_reset(void)
{
    if (sites)
        munmap(sites, sizeof(struct site) * TRIE_MAX_NODES);
    if (dirty)
        munmap(dirty, sizeof(uint32_t) * TRIE_MAX_NODES);
    sites = NULL;
    dirty = NULL;
}

struct site *sites_get(uint32_t stack)
{
    return &sites[stack];
}

static inline struct site *touch(uint32_t stack)
{
    struct site *s = &sites[stack];

    if (!s->dirty) {
        s->dirty = 1;
        dirty[n_dirty++] = stack;
    }
    if (stack > max_id)
        max_id = stack;
    return s;
}

void sites_alloc(uint32_t stack, uint64_t size)
{
    struct site *s = touch(stack);

    s->live_bytes += (int64_t)size;
    s->live_blocks++;
    s->allocations++;
    s->bytes_allocated += size;
    s->d_live_bytes += (int64_t)size;
    s->d_live_blocks++;
    s->d_allocations++;
    s->d_bytes_allocated += size;
}

void sites_free(uint32_t stack, uint64_t size)
{
    struct site *s = touch(stack);

    s->live_bytes -= (int64_t)size;
    s->live_blocks--;
    s->d_live_bytes -= (int64_t)size;
    s->d_live_blocks--;
}

size_t sites_take_deltas(struct wire_site *out, size_t max)
{
    size_t n = 0;

    while (n < max && n_dirty > 0) {
        uint32_t id = dirty[--n_dirty];
        struct site *s = &sites[id];

        out[n++] = (struct wire_site){id, s->d_live_bytes, s->d_live_blocks, s->d_allocations,
                                      s->d_bytes_allocated};
        s->d_live_bytes = s->d_live_blocks = 0;
        s->d_allocations = s->d_bytes_allocated = 0;
        s->dirty = 0;
    }
    return n;
}

size_t sites_absolute(struct wire_site *out, size_t max, uint32_t *cursor)
{
    size_t n = 0;
    uint32_t id = *cursor;

    for (; id <= max_id && n < max; id++) {
        struct site *s = &sites[id];

        if (s->allocations)
            out[n++] = (struct wire_site){id, s->live_bytes, s->live_blocks, s->allocations,
                                          s->bytes_allocated};
    }
    *cursor = id;
    return n;
}
