/*
 * sites.c - per-stack figures.
 *
 * Invariant: a site is in the dirty list exactly when its dirty flag is set,
 * and only dirty sites have nonzero deltas. The tables are the collector
 * thread's alone: they start at SITES_START_CAP entries and double (mremap)
 * as stack ids grow, up to TRIE_MAX_NODES. Mapped whole at start-up they took
 * 152 MB of address space, most of what kept a program under `ulimit -v`
 * from starting with the collector (issue 12).
 */
#include "sites.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "sample.h"
#include "trie.h"

#define SITES_START_CAP (1u << 16)

struct site *sites_tab;
size_t sites_cap;
static uint32_t *dirty;
static size_t n_dirty;
static uint32_t max_id;
static struct site spare; /* handed out when the table cannot grow */
static int failed;
static _Atomic uint64_t rate; /* sampling mode: figures are estimates */

void sites_set_sample_rate(uint64_t r)
{
    atomic_store_explicit(&rate, r, memory_order_relaxed);
}

int sites_init(void)
{
    void *s = mmap(NULL, sizeof(struct site) * SITES_START_CAP, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *d = mmap(NULL, sizeof(uint32_t) * SITES_START_CAP, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (s == MAP_FAILED || d == MAP_FAILED) {
        if (s != MAP_FAILED)
            munmap(s, sizeof(struct site) * SITES_START_CAP);
        if (d != MAP_FAILED)
            munmap(d, sizeof(uint32_t) * SITES_START_CAP);
        return -1;
    }
    sites_tab = s;
    dirty = d;
    sites_cap = SITES_START_CAP;
    n_dirty = 0;
    max_id = 0;
    return 0;
}

void sites_reset(void)
{
    if (sites_tab)
        munmap(sites_tab, sizeof(struct site) * sites_cap);
    if (dirty)
        munmap(dirty, sizeof(uint32_t) * sites_cap);
    sites_tab = NULL;
    dirty = NULL;
    sites_cap = 0;
    failed = 0;
}

int sites_failed(void)
{
    return failed;
}

/* Makes room for stack. Returns 0, or -1 (sites_failed() says so from then on). */
static int grow(uint32_t stack)
{
    size_t want = sites_cap ? sites_cap : SITES_START_CAP;
    void *s, *d;

    while (want <= stack)
        want *= 2;
    if (want > TRIE_MAX_NODES)
        want = TRIE_MAX_NODES;
    if (!sites_tab || stack >= want)
        return -1;
    s = mremap(sites_tab, sizeof(struct site) * sites_cap, sizeof(struct site) * want,
               MREMAP_MAYMOVE);
    if (s == MAP_FAILED) {
        failed = 1;
        return -1;
    }
    sites_tab = s;
    d = mremap(dirty, sizeof(uint32_t) * sites_cap, sizeof(uint32_t) * want, MREMAP_MAYMOVE);
    if (d == MAP_FAILED) {
        /* sites already has want entries: shrink it back so cap is right for both */
        s = mremap(sites_tab, sizeof(struct site) * want, sizeof(struct site) * sites_cap, 0);
        if (s != MAP_FAILED)
            sites_tab = s;
        failed = 1;
        return -1;
    }
    dirty = d;
    sites_cap = want;
    return 0;
}

struct site *sites_get_grow(uint32_t stack)
{
    if (stack >= sites_cap && grow(stack) < 0) {
        memset(&spare, 0, sizeof(spare));
        return &spare;
    }
    return &sites_tab[stack];
}

static inline struct site *touch(uint32_t stack)
{
    struct site *s = sites_get(stack);

    if (s == &spare)
        return s;
    if (!s->dirty) {
        s->dirty = 1;
        dirty[n_dirty++] = stack;
    }
    if (stack > max_id)
        max_id = stack;
    return s;
}

/* Rounds a count in 1/65536ths to the nearest whole. */
static inline int64_t fp_round(int64_t x)
{
    return (x + 32768) >> 16;
}

/* A sample of size bytes entering (sign 1) or leaving (-1) site s: the
 * whole figures move by the change of their rounded estimates, so a site
 * whose samples are all freed is back at 0 exactly. */
static void weigh(struct site *s, uint64_t r, uint64_t size, int sign)
{
    uint64_t bytes, blocks_fp;
    int64_t before = fp_round(s->live_blocks_fp), d;

    sample_weight(r, size, &bytes, &blocks_fp);
    s->live_blocks_fp += sign * (int64_t)blocks_fp;
    d = fp_round(s->live_blocks_fp) - before;
    s->live_blocks += d;
    s->d_live_blocks += d;
    s->live_bytes += sign * (int64_t)bytes;
    s->d_live_bytes += sign * (int64_t)bytes;
    if (sign > 0) {
        uint64_t a = (uint64_t)fp_round((int64_t)s->allocations_fp);

        s->allocations_fp += blocks_fp;
        a = (uint64_t)fp_round((int64_t)s->allocations_fp) - a;
        s->allocations += a;
        s->d_allocations += a;
        s->bytes_allocated += bytes;
        s->d_bytes_allocated += bytes;
    }
}

void sites_alloc(uint32_t stack, uint64_t size)
{
    struct site *s = touch(stack);
    uint64_t r = atomic_load_explicit(&rate, memory_order_relaxed);

    if (r) {
        weigh(s, r, size, 1);
        return;
    }
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
    uint64_t r = atomic_load_explicit(&rate, memory_order_relaxed);

    if (r) {
        weigh(s, r, size, -1);
        return;
    }

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
        struct site *s = &sites_tab[id];

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
        struct site *s = &sites_tab[id];

        if (s->allocations - s->d_allocations)
            out[n++] = (struct wire_site){
                id, s->live_bytes - s->d_live_bytes, s->live_blocks - s->d_live_blocks,
                s->allocations - s->d_allocations, s->bytes_allocated - s->d_bytes_allocated};
    }
    *cursor = id;
    return n;
}
