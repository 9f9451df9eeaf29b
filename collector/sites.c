/*
 * sites.c - per-stack figures.
 *
 * Only stacks that allocate have a site: a python3 run interns ~325k stack
 * ids (every trie node, callers included) of which a few thousand allocate,
 * and a table indexed by stack id kept 88 bytes for each of them (27 MB
 * resident of a 44 MB map, issue 13). So ids[] holds a word per stack id
 * (the site's slot + 1 in its low bits, 0 for none, and whether its STACKS
 * node was sent in the top two) and the sites are dense in tab[], in the
 * order they were made.
 *
 * Invariants: ids[s] names slot k exactly when tab[k].stack == s; a site is
 * in the dirty list exactly when its dirty flag is set, and only dirty sites
 * have nonzero deltas. The tables are the collector thread's alone: they
 * start small and double (mremap) as stack ids and sites grow, up to
 * TRIE_MAX_NODES entries. (Mapped whole at start-up they took 152 MB of
 * address space, most of what kept a program under `ulimit -v` from
 * starting with the collector: issue 12.)
 */
#include "sites.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "sample.h"
#include "trie.h"
#include "weight.h"

#define IDS_START (1u << 16)   /* stack ids: 256 KiB */
#define SITES_START (1u << 12) /* sites: 288 KiB */
#define SLOT_MASK 0x3fffffffu
#define DEF_SHIFT 30

static uint32_t *ids;
static size_t ids_cap;
static struct site *tab;
static size_t tab_cap, n_sites;
static uint32_t *dirty; /* slots of dirty sites; dirty_cap >= tab_cap */
static size_t dirty_cap, n_dirty;
static uint32_t max_id;   /* the largest stack id with a site */
static struct site spare; /* handed out when a table cannot grow */
/* Sampling mode: each site's estimated blocks in 1/65536ths (its
 * live_blocks and allocations are these rounded), beside tab[] by slot and
 * mapped at the first sample: in tab[] they were 16 of 88 bytes a site in
 * every exact run too (0.7 MB of python3's JSON bench's 45k sites). */
struct site_fp {
    int64_t live_blocks_fp;
    uint64_t allocations_fp;
};
static struct site_fp *fps, spare_fp;
static size_t fps_cap;
static int failed;
static _Atomic uint64_t rate; /* sampling mode: figures are estimates */

void sites_set_sample_rate(uint64_t r)
{
    atomic_store_explicit(&rate, r, memory_order_relaxed);
}

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

/* p (old bytes) moved or grown to want bytes, or NULL (p stays as it was). */
static void *remap(void *p, size_t old, size_t want)
{
    void *q = mremap(p, old, want, MREMAP_MAYMOVE);

    return q == MAP_FAILED ? NULL : q;
}

static void unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

void sites_reset(void)
{
    unmap(ids, ids_cap * sizeof(*ids));
    unmap(tab, tab_cap * sizeof(*tab));
    unmap(dirty, dirty_cap * sizeof(*dirty));
    unmap(fps, fps_cap * sizeof(*fps));
    ids = NULL;
    tab = NULL;
    dirty = NULL;
    fps = NULL;
    ids_cap = tab_cap = dirty_cap = fps_cap = 0;
    n_sites = n_dirty = 0;
    max_id = 0;
    failed = 0;
}

int sites_init(void)
{
    sites_reset();
    ids = map(IDS_START * sizeof(*ids));
    tab = map(SITES_START * sizeof(*tab));
    dirty = map(SITES_START * sizeof(*dirty));
    ids_cap = ids ? IDS_START : 0;
    tab_cap = tab ? SITES_START : 0;
    dirty_cap = dirty ? SITES_START : 0;
    if (!ids || !tab || !dirty) {
        sites_reset();
        return -1;
    }
    return 0;
}

int sites_failed(void)
{
    return failed;
}

size_t sites_count(void)
{
    return n_sites;
}

size_t sites_mapped_bytes(void)
{
    return ids_cap * sizeof(*ids) + tab_cap * sizeof(*tab) + dirty_cap * sizeof(*dirty) +
           fps_cap * sizeof(*fps);
}

/* Makes ids[] reach stack. Returns 0, or -1 (stack is no stack id, or the
 * map could not grow: sites_failed() says so from then on). */
static int grow_ids(uint32_t stack)
{
    size_t want = ids_cap;
    void *p;

    if (!ids || stack >= TRIE_MAX_NODES)
        return -1;
    while (want <= stack)
        want *= 2;
    if (want > TRIE_MAX_NODES)
        want = TRIE_MAX_NODES;
    if (!(p = remap(ids, ids_cap * sizeof(*ids), want * sizeof(*ids)))) {
        failed = 1;
        return -1;
    }
    ids = p;
    ids_cap = want;
    return 0;
}

/* Room for one more site. Returns 0 or -1 (sites_failed()). The dirty list
 * grows first: should tab[] then fail, it is only larger than needed. */
static int grow_tab(void)
{
    size_t want = tab_cap * 2;
    void *p;

    if (!tab || tab_cap >= TRIE_MAX_NODES)
        return failed = 1, -1;
    if (dirty_cap < want) {
        if (!(p = remap(dirty, dirty_cap * sizeof(*dirty), want * sizeof(*dirty))))
            return failed = 1, -1;
        dirty = p;
        dirty_cap = want;
    }
    if (!(p = remap(tab, tab_cap * sizeof(*tab), want * sizeof(*tab))))
        return failed = 1, -1;
    tab = p;
    tab_cap = want;
    return 0;
}

static struct site *spare_site(void)
{
    memset(&spare, 0, sizeof(spare));
    memset(&spare_fp, 0, sizeof(spare_fp));
    return &spare;
}

struct site *sites_get(uint32_t stack)
{
    uint32_t k;

    if (stack >= ids_cap && grow_ids(stack) < 0)
        return spare_site();
    if ((k = ids[stack] & SLOT_MASK) != 0)
        return &tab[k - 1];
    if (n_sites == tab_cap && grow_tab() < 0)
        return spare_site();
    tab[n_sites].stack = stack; /* the rest is zero: fresh pages */
    ids[stack] |= (uint32_t)++n_sites;
    if (stack > max_id)
        max_id = stack;
    return &tab[n_sites - 1];
}

int sites_defined(uint32_t stack)
{
    return stack < ids_cap ? (int)(ids[stack] >> DEF_SHIFT) : SITES_UNSENT;
}

void sites_set_defined(uint32_t stack, int state)
{
    if (stack >= ids_cap && grow_ids(stack) < 0)
        return;
    ids[stack] = (ids[stack] & SLOT_MASK) | (uint32_t)state << DEF_SHIFT;
}

/* The site of an event: found inline, made by sites_get(). */
static inline struct site *touch(uint32_t stack)
{
    uint32_t k = stack < ids_cap ? ids[stack] & SLOT_MASK : 0;
    struct site *s = k ? &tab[k - 1] : sites_get(stack);

    if (s == &spare)
        return s;
    if (!s->dirty) {
        s->dirty = 1;
        dirty[n_dirty++] = (uint32_t)(s - tab);
    }
    return s;
}

/* Rounds a count in 1/65536ths to the nearest whole. */
static inline int64_t fp_round(int64_t x)
{
    return (x + 32768) >> 16;
}

/* The estimates of site s (sampling mode), fps[] grown to tab[]'s size
 * first; the spare's when it cannot grow (sites_failed() says so). */
static struct site_fp *fp_of(const struct site *s)
{
    size_t k = (size_t)(s - tab);
    void *p;

    if (s == &spare)
        return &spare_fp;
    if (k >= fps_cap) {
        p = fps ? remap(fps, fps_cap * sizeof(*fps), tab_cap * sizeof(*fps))
                : map(tab_cap * sizeof(*fps));
        if (!p) {
            failed = 1;
            return &spare_fp;
        }
        fps = p;
        fps_cap = tab_cap;
    }
    return &fps[k];
}

/* A sample of size bytes entering (sign 1) or leaving (-1) site s: the
 * whole figures move by the change of their rounded estimates, so a site
 * whose samples are all freed is back at 0 exactly. */
static void weigh(struct site *s, uint64_t r, uint64_t size, int sign)
{
    struct site_fp *f = fp_of(s);
    uint64_t bytes, blocks_fp;
    int64_t before = fp_round(f->live_blocks_fp), d;

    weight_of(r, size, &bytes, &blocks_fp);
    f->live_blocks_fp += sign * (int64_t)blocks_fp;
    d = fp_round(f->live_blocks_fp) - before;
    s->live_blocks += d;
    s->d_live_blocks += d;
    s->live_bytes += sign * (int64_t)bytes;
    s->d_live_bytes += sign * (int64_t)bytes;
    if (sign > 0) {
        uint64_t a = (uint64_t)fp_round((int64_t)f->allocations_fp);

        f->allocations_fp += blocks_fp;
        a = (uint64_t)fp_round((int64_t)f->allocations_fp) - a;
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
        struct site *s = &tab[dirty[--n_dirty]];

        out[n++] = (struct wire_site){s->stack, s->d_live_bytes, s->d_live_blocks, s->d_allocations,
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

    for (; n_sites && id <= max_id && n < max; id++) {
        uint32_t k = ids[id] & SLOT_MASK;
        struct site *s = k ? &tab[k - 1] : NULL;

        if (s && s->allocations - s->d_allocations)
            out[n++] = (struct wire_site){
                id, s->live_bytes - s->d_live_bytes, s->live_blocks - s->d_live_blocks,
                s->allocations - s->d_allocations, s->bytes_allocated - s->d_bytes_allocated};
    }
    *cursor = id;
    return n;
}
