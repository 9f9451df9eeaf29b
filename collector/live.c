/*
 * live.c - the live-allocation table.
 *
 * Invariant: for every entry, no empty slot lies between its home slot and
 * its slot (linear probing, backward-shift deletion, no tombstones; while
 * a growth's sweep runs, within its region, grow()). The home
 * slot is a multiply-shift of the hash into [0, cap), so cap need not be a
 * power of two. Up to 8 MB it grows by 1.5x when 3/4 full, past that by
 * 1.25x when 0.8 full, past 32 MB by 1.125x when 0.85 full (see full()),
 * and once it has stayed under 0.3 full for a second it shrinks (by halves,
 * to 0.3-0.6 full: live_maintain()), so a live block costs 18.8 to 25 bytes
 * of a large table while the heap grows or holds, at most 53.3 a second
 * after it dropped. A growth of a table past 4 MB first waits, up to 0.9
 * full, for the pages it adds to be faulted in on another thread
 * (grow_due()). A growth rehashes in place a few slots at each later
 * insert and removal (grow(): meanwhile lookups read two layouts and a
 * small stash); a shrink rehashes every entry in place at
 * once (shrink_to()): a program tearing down 2M blocks (python3's JSON
 * bench) made the former 3/4 steps at 0.45 full cost 6% of its run (wall
 * and CPU, interleaved runs); halving at 0.3 makes a third of those moves,
 * and waiting a second makes none in a teardown that ends the program
 * (python3's waits on its full ring in its last 0.5 s, medians of 5 runs:
 * 103 ms halving at once, 75 ms with no shrink).
 *
 * Entry layout (live.h), 16 bytes: word 0 = address / 8 (bits 0-43), the
 * pair index's bits 3-6 (44-47), size (48-63, LIVE_SIZE_BIG: in the
 * big-size hash); word 1 = sequence number mod 2^40 (0-39), the pair
 * index's bits 0-2 (40-42), stack (43-63). An empty slot has a zero word 0 (no block
 * starts below 8).
 *
 * Side tables, each in its own mapping: the blocks' times by sequence
 * number (liveepoch.c: the epochs and the ring of the latest inserts' low
 * time bits), the (thread, tag) pairs by stack (livepair.c), and the sizes
 * from 65535 up (liveside.h).
 */
#include "live.h"
#include "liveepoch.h"
#include "livepair.h"
#include "liveside.h"
#include "ownmaps.h"
#include "prefault.h"
#include "trie.h"

#include <string.h>
#include <sys/mman.h>

/* The smallest table: 256 KB, at most 0.3 full below 4915 blocks. A
 * program that holds a few thousand blocks (churn's 1-thread run: 1000 to
 * 3000) kept a 4096-slot table 0.25 to 0.75 full, and its frees' backward
 * shifts moved 4.5 entries each: 230 instructions a free on the collector
 * thread, 59 at this size (callgrind, churn_nofp 100k calls). */
#define LIVE_MIN_CAP 16384u
#define SEQ_MASK ((1ull << 40) - 1)

_Static_assert(TRIE_MAX_NODES <= 1u << LIVE_STACK_BITS, "every stack id fits an entry");

static struct live_entry *live_tab;
static size_t live_cap, live_n;
/* The table's mapping, in bytes: map_len(live_tab, live_cap), or more while
 * a growth waits for its pages (grow_due()). */
static size_t live_mapped;
/* A growth waits for its pages (grow_due()). */
static int grow_waiting;
/* The table went under 0.3 full (shrink_below), and when live_maintain()
 * first saw it so. */
static int shrink_due;
static int64_t shrink_seen;
/* live_tab while no growth's sweep is under way, else NULL; the counts at
 * which the table is full (full_limit), at which live_insert_at() defers
 * to live_insert() (0 during a sweep), under which it shrinks: one test
 * each on the common paths */
static struct live_entry *live_plain;
static size_t full_at, insert_at_max, shrink_below;
static unsigned live_gen; /* table_set() calls: slot numbers change */
int live_prefetch_worth;

/* Tables from this size up outgrow a core's L2 cache (1-2 MB on current
 * x86-64 servers): lookups miss, and prefetching ahead pays. */
#define LIVE_PREFETCH_BYTES (1u << 20)

/* The sizes from LIVE_SIZE_BIG up, by address. */
static struct liveside_map bigs;

/* Entries a growth's or a shrink's sweep could not place yet (grow()). */
static struct live_entry *stash;
static size_t n_stash, stash_bytes;

/* A growth's sweep under way (sw_cap, the old cap, nonzero): see grow().
 * It moves on sw_step slots at each insert and removal, as few as let it
 * end before the next growth is due: python3's JSON bench waited on full
 * rings as long with 16 slots an event (sweeps of 25-46 ms at the
 * collector's full load) as with the whole sweep at once. */
static size_t sw_cap, sw_at, sw_step;

static size_t full_limit(size_t cap);

static void table_set(struct live_entry *t, size_t cap)
{
    live_tab = live_plain = t;
    live_cap = cap;
    full_at = insert_at_max = full_limit(cap);
    shrink_below = cap > LIVE_MIN_CAP ? (cap * 3 + 9) / 10 : 0; /* under 0.3 full */
    live_gen++;
    live_prefetch_worth = cap * sizeof(struct live_entry) >= LIVE_PREFETCH_BYTES;
}

static size_t map_len(const struct live_entry *t, size_t cap)
{
    return liveside_table_len(t, cap * sizeof(struct live_entry));
}

int live_init(void)
{
    struct live_entry *t = liveside_table_map(LIVE_MIN_CAP * sizeof(struct live_entry));

    livepair_reset();
    if (t && liveepoch_init() < 0) {
        ownmaps_del(t);
        munmap(t, map_len(t, LIVE_MIN_CAP));
        t = NULL;
    }
    table_set(t, t ? LIVE_MIN_CAP : 0);
    live_mapped = t ? map_len(t, LIVE_MIN_CAP) : 0;
    grow_waiting = 0;
    shrink_due = 0;
    shrink_seen = 0;
    live_n = 0;
    return t ? 0 : -1;
}

void live_reset(void)
{
    if (live_tab) {
        prefault_cancel();
        ownmaps_del(live_tab);
        munmap(live_tab, live_mapped);
    }
    table_set(NULL, 0);
    live_mapped = 0;
    grow_waiting = 0;
    shrink_due = 0;
    shrink_seen = 0;
    live_n = 0;
    liveepoch_reset();
    livepair_reset();
    liveside_reset(&bigs);
    liveside_free((void **)&stash, &stash_bytes);
    n_stash = 0;
    sw_cap = sw_at = 0;
}

/* ---- entries ---- */

uint64_t live_size_big(const struct live_entry *e)
{
    uint64_t size;

    return liveside_get(&bigs, live_addr(e), &size) ? size : LIVE_SIZE_BIG;
}

/* The entry's pair index (livepair.h). */
static inline unsigned pair_idx(const struct live_entry *e)
{
    return (unsigned)(e->w[0] >> 44 & 0xf) << 3 | (unsigned)(e->w[1] >> 40 & 7);
}

void live_get(const struct live_entry *e, struct live_block *b)
{
    uint64_t pair = livepair_get(live_stack(e), pair_idx(e), live_addr(e));

    b->addr = live_addr(e);
    b->size = live_size(e);
    b->time = live_time(e);
    b->seq = live_seq(e);
    b->stack = live_stack(e);
    b->thread = (uint32_t)(pair >> 16);
    b->tag = (uint32_t)(pair & 0xffff);
}

/* Writes the entry's two words and the time's low bits in the ring. */
static inline void store(struct live_entry *dst, const struct live_block *b, uint64_t idx,
                         uint64_t size)
{
    dst->w[0] = (b->addr >> 3) | (idx >> 3) << 44 | size << 48;
    /* stacks are trie ids, below TRIE_MAX_NODES: the top bits hold them */
    dst->w[1] =
        (b->seq & SEQ_MASK) | (idx & 7) << 40 | (uint64_t)b->stack << (64 - LIVE_STACK_BITS);
    liveepoch_ring_put(b->seq, b->time);
}

/* Packs b into *dst. -1 when a side table cannot take what does not fit
 * the entry. */
static __attribute__((noinline)) int pack_slow(struct live_entry *dst, const struct live_block *b)
{
    int idx = livepair_idx(b->thread, b->tag, b->stack, b->addr);
    uint64_t size = b->size;

    if (idx < 0)
        return -1;
    if (size >= LIVE_SIZE_BIG) {
        if (liveside_put(&bigs, b->addr, size) < 0)
            return -1;
        size = LIVE_SIZE_BIG;
    }
    if (liveepoch_note(b->seq, b->time) < 0)
        return -1;
    store(dst, b, (uint64_t)idx, size);
    return 0;
}

/* pack_slow() without a call when the thread's last pair is cached and is
 * its stack's first, the size fits and the time fits the last epoch (nearly
 * every block): the side tables' growth paths kept the whole of it behind
 * a saved frame. */
static inline __attribute__((always_inline)) int pack(struct live_entry *dst,
                                                      const struct live_block *b)
{
    if (!livepair_is_first(b->thread, b->tag, b->stack) || b->size >= LIVE_SIZE_BIG ||
        !liveepoch_join(b->seq, b->time))
        return pack_slow(dst, b);
    store(dst, b, 0, b->size);
    return 0;
}

/* Fibonacci hashing: the high bits of one multiply, scaled to cap. Blocks
 * at regular strides (16, 64, 4096, 2 MiB) land at spread-out homes (mean
 * displacement 0.0-0.15 slots at 0.6 load, against 0.7 for the former
 * xorshift-multiply finish); random addresses as before (0.75). The key is
 * the address / 8 as the entry keeps it: 8-byte blocks stay apart. */
static inline size_t home_key(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;

    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

void live_prefetch(uint64_t addr)
{
    if (live_tab) {
        const char *p = (const char *)&live_tab[home_key(addr >> 3, live_cap)];

        /* the home's line and the two after it (8 slots): a probe runs on
         * past the home's line for most allocations (to the empty slot
         * ending the run, 4 to 13 slots on average at 0.64 to 0.8 full)
         * and frees (the backward shift), and on python3's JSON bench
         * three quarters of live_find_slot's time was waiting on those
         * later slots. A prefetch does not fault past the table's end. */
        __builtin_prefetch(p, 1);
        __builtin_prefetch(p + 64, 1);
        __builtin_prefetch(p + 128, 1);
    }
}

/* Where key is or would go in the stash, kept sorted by key: up to a few
 * hundred entries, and every lookup of a sweep reads it. */
static size_t stash_at(uint64_t key)
{
    size_t lo = 0, hi = n_stash;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if ((stash[mid].w[0] & LIVE_W0_ADDR) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The stash's entry for key, or NULL. */
static struct live_entry *stash_find(uint64_t key)
{
    size_t k = stash_at(key);

    return k < n_stash && (stash[k].w[0] & LIVE_W0_ADDR) == key ? &stash[k] : NULL;
}

/* live_find_slot() off its common path: no table, an address no entry
 * can hold, or a growth's sweep under way (grow()): then the new region
 * from the new home, the old region from the old home, the stash. The
 * slot for an insert is the new region's empty slot, else the old's. */
static __attribute__((noinline)) struct live_entry *find_mixed(uint64_t addr,
                                                               struct live_entry **slot)
{
    uint64_t key = addr >> 3;
    size_t h, p;

    if (!live_tab || !key || addr >> LIVE_ADDR_BITS || (addr & 7))
        return NULL;
    h = home_key(key, live_cap);

    if (h >= sw_at)
        for (p = h; p < live_cap; p++) {
            uint64_t k = live_tab[p].w[0] & LIVE_W0_ADDR;

            if (k == key)
                return &live_tab[p];
            if (!k) {
                *slot = &live_tab[p];
                break;
            }
        }
    h = home_key(key, sw_cap);
    if (h < sw_at)
        for (p = h; p < sw_at; p++) {
            uint64_t k = live_tab[p].w[0] & LIVE_W0_ADDR;

            if (k == key) {
                *slot = NULL;
                return &live_tab[p];
            }
            if (!k) {
                if (!*slot)
                    *slot = &live_tab[p];
                break;
            }
        }
    if (n_stash) {
        struct live_entry *e = stash_find(key);

        if (e)
            *slot = NULL;
        return e;
    }
    return NULL;
}

struct live_entry *live_find_slot(uint64_t addr, struct live_entry **slot)
{
    uint64_t key = addr >> 3;
    struct live_entry *t = live_plain;

    *slot = NULL;
    if (!t || !key || addr >> LIVE_ADDR_BITS || (addr & 7))
        return find_mixed(addr, slot);
    for (size_t i = home_key(key, live_cap);; i = i + 1 == live_cap ? 0 : i + 1) {
        uint64_t k = t[i].w[0] & LIVE_W0_ADDR;

        if (k == key)
            return &t[i];
        if (k == 0) {
            *slot = &t[i];
            return NULL;
        }
    }
}

struct live_entry *live_find(uint64_t addr)
{
    struct live_entry *slot;

    return live_find_slot(addr, &slot);
}

static void put(struct live_entry *tab, size_t cap, const struct live_entry *e)
{
    size_t i = home_key(e->w[0] & LIVE_W0_ADDR, cap);

    while (tab[i].w[0])
        i = i + 1 == cap ? 0 : i + 1;
    tab[i] = *e;
}

/* Adds e to the stash. 0, or -1 when the stash cannot grow (the caller
 * puts e or loses it: tracking turns off). */
static int stash_put(const struct live_entry *e)
{
    size_t k;

    if (liveside_grow((void **)&stash, &stash_bytes, (n_stash + 1) * sizeof(*stash)) < 0)
        return -1;
    k = stash_at(e->w[0] & LIVE_W0_ADDR);
    memmove(&stash[k + 1], &stash[k], (n_stash++ - k) * sizeof(*stash));
    stash[k] = *e;
    return 0;
}

/* Puts e where a growth's sweep keeps it (grow()): in the new region from
 * its new home, else in the old region from its old home, else in the
 * stash. 0, or -1 (stash_put). */
static int place_mixed(const struct live_entry *e)
{
    uint64_t key = e->w[0] & LIVE_W0_ADDR;
    size_t h = home_key(key, live_cap), p;

    if (h >= sw_at)
        for (p = h; p < live_cap; p++)
            if (!live_tab[p].w[0]) {
                live_tab[p] = *e;
                return 0;
            }
    h = home_key(key, sw_cap);
    if (h < sw_at)
        for (p = h; p < sw_at; p++)
            if (!live_tab[p].w[0]) {
                live_tab[p] = *e;
                return 0;
            }
    return stash_put(e);
}

/* Moves the growth's sweep down by up to n slots; at slot 0 the stash
 * goes back and the table is plain. Slot numbers change (live_gen). 0, or
 * -1 (stash_put). */
static __attribute__((noinline)) int sweep_steps(size_t n)
{
    int failed = 0;

    for (; n && sw_at; n--) {
        struct live_entry e = live_tab[--sw_at];

        if (!e.w[0])
            continue;
        memset(&live_tab[sw_at], 0, sizeof(e));
        failed |= place_mixed(&e);
    }
    if (!sw_at) {
        sw_cap = 0;
        live_plain = live_tab;
        insert_at_max = full_at;
        for (size_t k = 0; k < n_stash; k++)
            put(live_tab, live_cap, &stash[k]);
        n_stash = 0;
        if (stash_bytes > (64u << 10))
            liveside_free((void **)&stash, &stash_bytes);
    }
    live_gen++;
    return failed ? -1 : 0;
}

/* Grows the table to ncap slots in place, then moves its entries to their
 * new places a few slots at each later insert and removal (sweep_steps)
 * rather than all at once: one sweep of a 32 MB table took 28-32 ms, and
 * nothing drained the program's rings meanwhile. Homes grow with the cap
 * (home_key), so each entry's new home is at or past its old one. While
 * the sweep is at sw_at, an entry is in exactly one of:
 * - the new region, slots [sw_at, ncap): its new home at or past sw_at,
 *   no empty slot from there to its slot, no wrap past the end;
 * - the old region, slots [0, sw_at): its old home (for sw_cap slots) at
 *   or before its slot, no empty slot from there to its slot, no wrap;
 * - the stash: what fitted neither region (the old table's run at slot 0
 *   when a run wrapped into it is taken out first and put back by this
 *   rule, into the stash past its first 64 entries).
 * The sweep takes the old region's top slot into the new region and puts
 * its entry back by that rule (place_mixed): no other entry's probe
 * crossed that slot. A lookup tries each region whose home lies in it,
 * then the stash; a removal shifts back within its region. At slot 0 the
 * new region is the whole table, a plain one, and the stash goes back. No
 * fresh table: the kernel zeroes only what growth adds (the former copy's
 * page faults and zeroing were 8% of the collector thread on python3's
 * JSON bench). 0, or -1 (the table is as it was, or stash_put failed). */
static __attribute__((noinline)) int grow(size_t ncap)
{
    size_t cap = live_cap, r = 0;
    struct live_entry *t;
    int failed = 0;

    if (sw_cap && sweep_steps(SIZE_MAX) < 0) /* a growth due during a sweep */
        return -1;
    t = live_tab;
    if (map_len(t, ncap) > live_mapped) {
        prefault_cancel(); /* it may move */
        if (!(t = liveside_table_remap(live_tab, &live_mapped, ncap * sizeof(*t))))
            return -1;
    }
    table_set(t, ncap);
    n_stash = 0;
    sw_cap = sw_at = cap;
    live_plain = NULL;
    insert_at_max = 0;
    sw_step = cap / (full_at > live_n ? full_at - live_n : 1) + 2;
    if (t[cap - 1].w[0]) { /* a run wraps: slot 0's is taken out, put back */
        struct live_entry run[64];
        size_t k = 0;

        for (; t[r].w[0]; r++) {
            if (k < 64)
                run[k++] = t[r];
            else
                failed |= stash_put(&t[r]);
            memset(&t[r], 0, sizeof(t[r]));
        }
        while (k) /* an empty stash spares lookups its search */
            failed |= place_mixed(&run[--k]);
    }
    return failed ? -1 : 0;
}

/* Moves the entry at slot i of the shrinking sweep to its slot of a table
 * of ncap, or to the stash. 0, or -1 when the stash cannot grow (e is then
 * put at once: the table stays a table, but it may not be found again). */
static inline int sweep_one(struct live_entry *t, size_t i, size_t ncap)
{
    struct live_entry e = t[i];
    size_t h = home_key(e.w[0] & LIVE_W0_ADDR, ncap), p;

    memset(&t[i], 0, sizeof(t[i]));
    for (p = h; h <= i && p < ncap && t[p].w[0]; p++) /* stops at i at the latest */
        ;
    if (h <= i && p < ncap) {
        t[p] = e;
        return 0;
    }
    if (stash_put(&e) == 0) /* its probe would cross slots not swept, or wrap */
        return 0;
    put(t, ncap, &e);
    return -1;
}

/* Shrinks the table in place to ncap, at once (a growth's sweep ends
 * first): homes shrink with the cap, so a sweep from the bottom up places each entry
 * among slots already swept (its probe stops at the slot just emptied at
 * the latest); the entries that would wrap are stashed and put back. */
static int shrink_to(size_t ncap)
{
    size_t cap = live_cap, keep, had;
    struct live_entry *t = live_tab;
    int failed = 0;

    if (sw_cap && sweep_steps(SIZE_MAX) < 0)
        return -1;
    n_stash = 0;
    for (size_t i = 0; i < cap; i++)
        if (t[i].w[0])
            failed |= sweep_one(t, i, ncap);
    keep = map_len(t, ncap);
    had = live_mapped;
    if (had > keep) {
        prefault_cancel();
        munmap((char *)t + keep, had - keep);
    }
    live_mapped = keep;
    grow_waiting = 0;
    ownmaps_del(t);
    ownmaps_add(t, keep);
    for (size_t k = 0; k < n_stash; k++)
        put(t, ncap, &stash[k]);
    n_stash = 0;
    if (stash_bytes > (64u << 10))
        liveside_free((void **)&stash, &stash_bytes);
    table_set(t, ncap);
    return failed ? -1 : 0;
}

/* A table of up to LIVE_SMALL_BYTES stays in the caches, and its probes
 * cost instructions, more in longer runs: it is full at 3/4 and grows by
 * 1.5x (0.5-0.75 full; on churn's 4096 slots, 0.85 full made the table's
 * instructions 2.4x). A larger one costs cache misses whatever the load,
 * and the program's memory: full at 0.8, it grows by 1.25x (0.64-0.8
 * full, 20 to 25 bytes a block), and from LIVE_FINE_BYTES, full at 0.85,
 * by 1.125x (0.76-0.85 full, 18.8 to 21 bytes a block): there a step is
 * megabytes (python3's JSON bench, at 20 bytes an entry, peaked just past one: a 63 MB table at
 * 0.64 full, 57 MB with 1.125x steps at 0.8, 50 MB at 0.85; the live
 * table's instructions +1.3% and +7.9% in two callgrind pairs, 2564M to
 * 2597M and 2594M to 2798M for 10M events: fewer resizes, longer probes,
 * and probe lengths vary with where the heap lands). */
#define LIVE_SMALL_BYTES (8u << 20)
#define LIVE_FINE_BYTES (32u << 20)
static size_t full_limit(size_t cap)
{
    size_t bytes = cap * sizeof(struct live_entry);

    return bytes < LIVE_SMALL_BYTES  ? cap * 3 / 4
           : bytes < LIVE_FINE_BYTES ? cap * 4 / 5
                                     : cap * 17 / 20; /* more blocks than this: full */
}

static size_t grown(void)
{
    size_t bytes = live_cap * sizeof(struct live_entry);

    return bytes < LIVE_SMALL_BYTES  ? live_cap / 2 * 3
           : bytes < LIVE_FINE_BYTES ? live_cap / 4 * 5
                                     : live_cap / 8 * 9;
}

/* The growth due now (the table is full), or a little later: from
 * LIVESIDE_HUGE_FROM up, the range it adds is mapped and populated in the
 * background first (prefault.h; collector/README.md, "A growth's fresh
 * pages"), the table taking more blocks meanwhile, a third of the way from
 * full to cap at most (0.85 to 0.9 full; 0.75 to 0.83 below 8 MB). Its
 * writes then land on pages that are there: no sooner than the growth would
 * have touched them, so the program's memory is what it was. 0, or -1. */
static int grow_due(void)
{
    size_t ncap = grown(), now = map_len(live_tab, live_cap), next;
    size_t hard = full_limit(live_cap) + (live_cap - full_limit(live_cap)) / 3;

    if (!grow_waiting && !sw_cap && live_cap * sizeof(struct live_entry) >= LIVESIDE_HUGE_FROM) {
        struct live_entry *t = live_tab;

        next = map_len(t, ncap);
        if (next > live_mapped) {
            prefault_cancel();
            t = liveside_table_remap(live_tab, &live_mapped, ncap * sizeof(*t));
            if (t && t != live_tab) { /* moved: the same table elsewhere */
                table_set(t, live_cap);
                now = map_len(t, live_cap);
                next = map_len(t, ncap);
            }
        }
        if (t) {
            prefault_ask((char *)t + now, next - now);
            grow_waiting = 1;
        }
    }
    if (grow_waiting && live_n < hard && prefault_busy()) {
        /* look again after 1024 more blocks */
        full_at = insert_at_max = live_n + 1024 < hard ? live_n + 1024 : hard;
        return 0;
    }
    grow_waiting = 0;
    return grow(ncap);
}

/* live_insert()'s placing while a growth's sweep is under way. */
static __attribute__((noinline)) int insert_mixed(const struct live_entry *e)
{
    return place_mixed(e) | sweep_steps(sw_step);
}

int live_insert(const struct live_block *b)
{
    struct live_entry e;

    if (!live_tab)
        return -1;
    if (live_n >= full_at && grow_due() < 0)
        return -1;
    if (pack(&e, b) < 0)
        return -1;
    live_n++;
    if (sw_cap)
        return insert_mixed(&e);
    put(live_tab, live_cap, &e);
    return 0;
}

int live_insert_at(const struct live_block *b, struct live_entry *slot)
{
    /* it grows first: the slot moves; during a growth's sweep,
     * place_mixed() takes the slot find_mixed() gave */
    if (!slot || live_n >= insert_at_max)
        return live_insert(b);
    if (pack(slot, b) < 0)
        return -1;
    live_n++;
    return 0;
}

void live_maintain(int64_t now)
{
    size_t cap = live_cap;

    if (!shrink_due)
        return;
    if (live_n >= shrink_below) { /* it filled up again */
        shrink_due = 0;
        shrink_seen = 0;
        return;
    }
    if (!shrink_seen) {
        shrink_seen = now;
        return;
    }
    if (now - shrink_seen < LIVE_SHRINK_AFTER_NS)
        return;
    shrink_due = 0;
    shrink_seen = 0;
    /* halves until 0.3 full or more: homes of a smaller cap are no higher,
     * whatever the ratio (shrink_to()) */
    while (cap / 2 >= LIVE_MIN_CAP && live_n < (cap * 3 + 9) / 10)
        cap /= 2;
    if (cap < live_cap)
        shrink_to(cap); /* on failure keep the bigger table */
}

/* Forgets what the side tables keep by e's address. */
static __attribute__((noinline)) void side_del_of(const struct live_entry *e)
{
    if (e->w[0] >> 48 == LIVE_SIZE_BIG)
        liveside_del(&bigs, live_addr(e));
    if (pair_idx(e) == LIVEPAIR_ESCAPE)
        livepair_forget(live_addr(e));
}

/* Whether side tables keep something by e's address: a big size (bits
 * 48-63 all ones) or maybe an escaped pair (44-47 all ones: indices from
 * 120 up), told from word 0 alone. */
static inline int side_kept(const struct live_entry *e)
{
    return ~e->w[0] >> 48 == 0 || (~e->w[0] >> 44 & 0xf) == 0;
}

/* live_remove() while a growth's sweep is under way (grow()): out of the
 * stash, or a backward shift within e's region, which neither wraps nor
 * crosses sw_at. */
static __attribute__((noinline)) void remove_mixed(struct live_entry *e)
{
    uintptr_t at = (uintptr_t)e, st = (uintptr_t)stash;

    if (side_kept(e))
        side_del_of(e);
    if (at >= st && at < st + n_stash * sizeof(*stash)) {
        memmove(e, e + 1, (size_t)(&stash[--n_stash] - e) * sizeof(*e));
    } else {
        size_t i = (size_t)(e - live_tab), end = i >= sw_at ? live_cap : sw_at;
        size_t cap = i >= sw_at ? live_cap : sw_cap;

        for (size_t j = i + 1; j < end && live_tab[j].w[0]; j++)
            if (home_key(live_tab[j].w[0] & LIVE_W0_ADDR, cap) <= i) {
                live_tab[i] = live_tab[j];
                i = j;
            }
        memset(&live_tab[i], 0, sizeof(live_tab[i]));
    }
    live_n--;
    sweep_steps(sw_step);
    if (live_n < shrink_below)
        shrink_due = 1; /* live_maintain() */
}

void live_remove(struct live_entry *e)
{
    size_t i = (size_t)(e - live_tab), j = i;

    if (!live_plain) {
        remove_mixed(e);
        return;
    }
    if (side_kept(e))
        side_del_of(e);
    for (;;) {
        j = j + 1 == live_cap ? 0 : j + 1;
        uint64_t w0 = live_tab[j].w[0];

        if (!w0)
            break;
        size_t h = home_key(w0 & LIVE_W0_ADDR, live_cap);
        /* Can entry j move back to i? Only if its home is not in (i, j]
         * (cyclically), i.e. j is at least as far from its home as from i.
         * Whether it moves is a coin toss to the branch predictor: entry j
         * is always stored, to i or onto itself, and i follows by a mask. */
        size_t from_home = j >= h ? j - h : j + live_cap - h;
        size_t from_i = j >= i ? j - i : j + live_cap - i;
        size_t move = -(size_t)(from_home >= from_i); /* all ones: it moves */
        struct live_entry tmp = live_tab[j];

        __asm__("" : "+r"(move)); /* a mask, not a branch */
        live_tab[j ^ ((i ^ j) & move)] = tmp;
        i ^= (i ^ j) & move;
    }
    memset(&live_tab[i], 0, sizeof(live_tab[i]));
    live_n--;
    if (live_n < shrink_below)
        shrink_due = 1; /* live_maintain() */
}

size_t live_count(void)
{
    return live_n;
}

size_t live_bytes_used(void)
{
    /* and while a growth waits for its pages, they are there */
    size_t cap = grow_waiting ? grown() : live_cap;

    return cap * sizeof(struct live_entry) + liveepoch_bytes() + livepair_bytes() + bigs.bytes;
}

/* Slots from live_cap up are the stash's entries (a growth's sweep). */
static size_t walk(size_t from, size_t n, live_fn *fn, void *arg)
{
    size_t all = live_cap + n_stash, end = from < all && n < all - from ? from + n : all;

    for (size_t i = from; i < end; i++) {
        struct live_entry *e = i < live_cap ? &live_tab[i] : &stash[i - live_cap];

        if (e->w[0])
            fn(arg, e);
    }
    return end;
}

void live_foreach(live_fn *fn, void *arg)
{
    walk(0, SIZE_MAX, fn, arg);
}

size_t live_walk(size_t from, size_t n, live_fn *fn, void *arg)
{
    /* a walk in steps needs slots that stay put: a growth's sweep ends
     * first (it renumbers slots at every event; a client's walk during a
     * program's growth would start again at each of its steps) */
    if (sw_cap)
        sweep_steps(SIZE_MAX);
    return walk(from, n, fn, arg);
}

size_t live_slots(void)
{
    return live_cap + n_stash;
}

unsigned live_generation(void)
{
    return live_gen;
}

struct live_entry *live_find_containing(uint64_t addr)
{
    for (size_t i = 0; i < live_cap + n_stash; i++) {
        struct live_entry *e = i < live_cap ? &live_tab[i] : &stash[i - live_cap];
        uint64_t a = live_addr(e), size;

        if (!e->w[0] || addr < a)
            continue;
        size = live_size(e);
        if (addr - a < (size ? size : 1))
            return e;
    }
    return NULL;
}
