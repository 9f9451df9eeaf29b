/*
 * live.c - the live-allocation table.
 *
 * Invariant: for every entry, no empty slot lies between its home slot and
 * its slot (linear probing, backward-shift deletion, no tombstones). The home
 * slot is a multiply-shift of the hash into [0, cap), so cap need not be a
 * power of two: it grows by 1.5x when 3/4 full (to 1/2) and halves when under
 * 0.3 full (to 0.6), so a live block costs 43 to 64 bytes of table while the
 * heap grows or holds, at most 107 after it shrank. Each resize moves every
 * entry into fresh memory the kernel must zero: a program tearing down 2M
 * blocks (python3's JSON bench) made the former 3/4 steps at 0.45 full cost
 * 6% of its run (wall and CPU, interleaved runs); halving at 0.3 makes a
 * third of those moves.
 */
#include "live.h"
#include "ownmaps.h"

#include <string.h>
#include <sys/mman.h>

#define LIVE_MIN_CAP 4096u

static struct live_entry *live_tab;
static size_t live_cap, live_n;
static unsigned live_gen; /* table_set() calls: slot numbers change */
int live_prefetch_worth;

/* Tables from this size up outgrow a core's L2 cache (1-2 MB on current
 * x86-64 servers): lookups miss, and prefetching ahead pays. */
#define LIVE_PREFETCH_BYTES (1u << 20)

static void table_set(struct live_entry *t, size_t cap)
{
    live_tab = t;
    live_cap = cap;
    live_gen++;
    live_prefetch_worth = cap * sizeof(struct live_entry) >= LIVE_PREFETCH_BYTES;
}

static struct live_entry *table_map(size_t cap)
{
    size_t bytes = cap * sizeof(struct live_entry);
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (m == MAP_FAILED)
        return NULL;
    ownmaps_add(m, bytes);
    /* Every lookup lands on a random slot: in a table of many megabytes each
     * was a TLB miss as well as a cache miss. Huge pages where the kernel
     * gives them on request (transparent_hugepage=madvise, Debian's default). */
    if (bytes >= (4u << 20))
        madvise(m, bytes, MADV_HUGEPAGE);
    return m;
}

int live_init(void)
{
    struct live_entry *t = table_map(LIVE_MIN_CAP);

    table_set(t, t ? LIVE_MIN_CAP : 0);
    live_n = 0;
    return t ? 0 : -1;
}

void live_reset(void)
{
    if (live_tab) {
        ownmaps_del(live_tab);
        munmap(live_tab, live_cap * sizeof(struct live_entry));
    }
    table_set(NULL, 0);
    live_n = 0;
}

/* Fibonacci hashing: the high bits of one multiply, scaled to cap. Blocks
 * at regular strides (16, 64, 4096, 2 MiB) land at spread-out homes (mean
 * displacement 0.0-0.15 slots at 0.6 load, against 0.7 for the former
 * xorshift-multiply finish); random addresses as before (0.75). */
static inline size_t home(uint64_t addr, size_t cap)
{
    uint64_t h = (addr >> 4) * 0x9E3779B97F4A7C15ull;

    return (size_t)(((unsigned __int128)h * cap) >> 64);
}

void live_prefetch(uint64_t addr)
{
    if (live_tab)
        __builtin_prefetch(&live_tab[home(addr, live_cap)], 1);
}

struct live_entry *live_find(uint64_t addr)
{
    if (!live_tab || !addr || addr >> LIVE_ADDR_BITS)
        return NULL;
    for (size_t i = home(addr, live_cap);; i = i + 1 == live_cap ? 0 : i + 1) {
        if (live_tab[i].addr == addr)
            return &live_tab[i];
        if (live_tab[i].addr == 0)
            return NULL;
    }
}

struct live_entry *live_find_slot(uint64_t addr, struct live_entry **slot)
{
    *slot = NULL;
    if (!live_tab || !addr || addr >> LIVE_ADDR_BITS)
        return NULL;
    for (size_t i = home(addr, live_cap);; i = i + 1 == live_cap ? 0 : i + 1) {
        if (live_tab[i].addr == addr)
            return &live_tab[i];
        if (live_tab[i].addr == 0) {
            *slot = &live_tab[i];
            return NULL;
        }
    }
}

static void put(struct live_entry *tab, size_t cap, const struct live_entry *e)
{
    size_t i = home(e->addr, cap);

    while (tab[i].addr)
        i = i + 1 == cap ? 0 : i + 1;
    tab[i] = *e;
}

/* Moves every entry to a table of cap slots. Homes grow with the hash for
 * any cap, and slots follow homes, so walking the old table in slot order
 * fills the new one front to back: each old chunk is given back as soon as
 * it has been moved, and the two tables do not both stay resident (on
 * python3's 1.1M blocks the old one was 97 MB extra at the peak). */
#define RESIZE_CHUNK (2u << 20) /* bytes of old table given back at a time */
static int resize(size_t cap)
{
    struct live_entry *t = table_map(cap);
    const size_t per_chunk = RESIZE_CHUNK / sizeof(struct live_entry);

    if (!t)
        return -1;
    for (size_t i = 0; i < live_cap; i++) {
        if (live_tab[i].addr)
            put(t, cap, &live_tab[i]);
        if ((i + 1) % per_chunk == 0)
            madvise(&live_tab[i + 1 - per_chunk], RESIZE_CHUNK, MADV_DONTNEED);
    }
    ownmaps_del(live_tab);
    munmap(live_tab, live_cap * sizeof(struct live_entry));
    table_set(t, cap);
    return 0;
}

int live_insert(const struct live_entry *e)
{
    if (!live_tab)
        return -1;
    if ((live_n + 1) * 4 > live_cap * 3 && resize(live_cap + live_cap / 2) < 0)
        return -1;
    put(live_tab, live_cap, e);
    live_n++;
    return 0;
}

int live_insert_at(const struct live_entry *e, struct live_entry *slot)
{
    if (!slot || (live_n + 1) * 4 > live_cap * 3)
        return live_insert(e); /* it grows first: the slot moves */
    /* word by word: e was just filled by live_pack()'s 8-byte stores; the
     * struct copy's 16-byte loads would not be forwarded from them */
    for (int k = 0; k < 4; k++) {
        uint64_t w;

        memcpy(&w, (const char *)e + 8 * k, 8);
        __asm__("" : "+r"(w));
        memcpy((char *)slot + 8 * k, &w, 8);
    }
    live_n++;
    return 0;
}

void live_remove(struct live_entry *e)
{
    size_t i = (size_t)(e - live_tab), j = i;

    for (;;) {
        j = j + 1 == live_cap ? 0 : j + 1;
        if (!live_tab[j].addr)
            break;
        size_t h = home(live_tab[j].addr, live_cap);
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
    if (live_cap > LIVE_MIN_CAP && live_n * 10 < live_cap * 3) {
        size_t cap = live_cap / 2;

        if (cap < LIVE_MIN_CAP)
            cap = LIVE_MIN_CAP;
        resize(cap); /* on failure keep the bigger table */
    }
}

size_t live_count(void)
{
    return live_n;
}

size_t live_bytes_used(void)
{
    return live_cap * sizeof(struct live_entry);
}

void live_foreach(live_fn *fn, void *arg)
{
    for (size_t i = 0; i < live_cap; i++)
        if (live_tab[i].addr)
            fn(arg, &live_tab[i]);
}

size_t live_walk(size_t from, size_t n, live_fn *fn, void *arg)
{
    size_t end = from + n < live_cap ? from + n : live_cap;

    for (size_t i = from; i < end; i++)
        if (live_tab[i].addr)
            fn(arg, &live_tab[i]);
    return end;
}

size_t live_slots(void)
{
    return live_cap;
}

unsigned live_generation(void)
{
    return live_gen;
}

struct live_entry *live_find_containing(uint64_t addr)
{
    for (size_t i = 0; i < live_cap; i++) {
        struct live_entry *e = &live_tab[i];

        if (e->addr && addr >= e->addr && addr - e->addr < (e->size ? e->size : 1))
            return e;
    }
    return NULL;
}
