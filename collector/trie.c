/*
 * trie.c - insert-only lock-free stack trie whose memory grows with it.
 *
 * Nodes (parent, ip) live in segments of TRIE_SEG_NODES, mapped when the
 * first id in one is handed out; slots[] is an open-addressing index of
 * node ids keyed by hash(parent, ip), mapped at TRIE_MIN_SLOTS and doubled
 * when half full. Nothing is reserved at start (the fixed tables were 48 MB
 * of address space, and a few thousand stacks touched most of the index's
 * 16 MB, which landed in the program's resident set).
 *
 * Invariants: a node is written completely before its id is published into
 * a slot with a CAS, and slots only go from 0 to an id (or to closed), never
 * back; so a reader that finds an id (acquire) sees the node. Two threads
 * inserting the same key race on the slot: the loser reuses the winner's id
 * and its own id is simply never referenced. Growth: a thread maps a twice
 * larger index and claims the level with a CAS of it into trie_idx[], then
 * closes the older one slot by slot while copying its ids over (grow()).
 * Any thread that finds a level claimed publishes it (trie_levels), and one
 * that finds the copy unfinished with the newest index 7/8 full finishes it
 * itself: a thread preempted in a growth holds nobody up. Until the copy is
 * done (trie_copied), a lookup that misses in the newest index looks in the
 * older one too, closing the end of the key's probe there, so the key
 * cannot be put in both; the next level is claimed only after that. The
 * newest index never fills: it holds distinct ids below trie_next and
 * takes no insert past 7/8 (a full one made the copy drop ids, which came
 * back as a second id for the same key; and a claimer preempted in mmap
 * before publishing let the older index fill, which cut stacks short:
 * test_grow's rare failure). Older indexes stay unchanged from then on,
 * mapped while a thread may still be probing one (4 bytes a slot: together
 * no larger than the newest): the collector retires those whose copy is done
 * (trie_retire) and unmaps them once every thread has passed a point where
 * it reads none of them (trie_free_retired, after grace.c's grace period):
 * 3.9 MB of python3's JSON bench's 12.5 MB. No lock anywhere: any thread
 * may intern from inside malloc; growth maps memory.
 *
 * A slot holds the id in its low TRIE_ID_BITS and a tag of the key's hash
 * above (never all ones: that is TRIE_CLOSED), so a probe reads a node only
 * when the tag matches: a new stack's frames are misses, and each node read
 * was a cache miss (a third of the interning's time at python3's start-up,
 * 300,000 nodes). A lookup that misses remembers the empty slot that ended
 * its probe, and the insertion starts there (slots before it hold other
 * keys for good).
 */
#include "trie.h"
#include "ownmaps.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

#define TRIE_SEG_BITS 14 /* 16384 nodes, 192 KiB a segment */
#define TRIE_SEG_NODES (1u << TRIE_SEG_BITS)
#define TRIE_SEGS (TRIE_MAX_NODES / TRIE_SEG_NODES)
#ifndef TRIE_MIN_SLOTS            /* test_triestall.c sets it smaller */
#define TRIE_MIN_SLOTS (1u << 15) /* power of two: 128 KiB */
#endif
#define TRIE_MAX_SLOTS (TRIE_MAX_NODES * 2u)
#define TRIE_INDEXES 16 /* at least log2(TRIE_MAX_SLOTS / TRIE_MIN_SLOTS) + 1 */
#ifndef TRIE_RACE_POINT /* test_triestall.c runs other threads' interning here */
#define TRIE_RACE_POINT(where) ((void)0)
#endif

/* 12 bytes: the ip as two words (no 8-byte alignment, so no padding), and
 * the parent with TRIE_READY once the node is written (16 bytes with a word
 * of its own for that: 1.3 MB more for python3's JSON bench's 325k nodes). */
struct trie_node {
    uint32_t ip[2];
    atomic_uint parent; /* | TRIE_READY, stored last (release) */
};
#define TRIE_READY 0x80000000u /* above every id: TRIE_MAX_NODES is 2^21 */

_Static_assert(TRIE_MAX_NODES <= TRIE_READY, "ids leave the ready bit free");

static inline uint64_t node_ip(const struct trie_node *n)
{
    uint64_t ip;

    memcpy(&ip, n->ip, sizeof(ip));
    return ip;
}

/* The parent of a node a published id names (its slot's acquire load made
 * its writes visible). */
static inline uint32_t node_parent(const struct trie_node *n)
{
    return atomic_load_explicit(&n->parent, memory_order_relaxed) & ~TRIE_READY;
}

struct trie_index {
    size_t cap;                   /* slots, TRIE_MIN_SLOTS << level */
    _Atomic(atomic_uint *) slots; /* set once, by the CAS that claims the level */
};

static _Atomic(struct trie_node *) trie_segs[TRIE_SEGS];
static struct trie_index trie_idx[TRIE_INDEXES]; /* [0, trie_levels): oldest first */
static atomic_int trie_levels;                   /* the newest is trie_idx[trie_levels - 1] */
static atomic_int trie_copied; /* trie_idx[trie_copied - 1] holds every id of the ones below */
static atomic_uint trie_next = 1;
static atomic_uint trie_lost; /* ids handed out but never referenced: races' losers */
static atomic_int trie_full_said;
/* Collector thread: indexes [0, trie_freed) are unmapped, [trie_freed,
 * trie_retiring) wait for a grace period to end (trie_retire). */
static int trie_freed, trie_retiring;

/* populate: an index, whose slots are probed (read) before they are set.
 * Left to fault, each page was a fault to the shared zero page, then a
 * copy-on-write fault whose TLB flush interrupted the program's other
 * threads and the collector (a thousand pages at python3's start-up).
 * Random keys touch every page of it anyway. */
static void *trie_map(size_t bytes, int populate)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (populate ? MAP_POPULATE : 0), -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    ownmaps_add(p, bytes);
    return p;
}

static void trie_unmap(void *p, size_t bytes)
{
    if (p) {
        ownmaps_del(p);
        munmap(p, bytes);
    }
}

static int unpopulated; /* trie_idx[0] waits for trie_prefault() */

static int init(int populate)
{
    atomic_uint *s = trie_map(sizeof(atomic_uint) * TRIE_MIN_SLOTS, populate);

    if (!s)
        return -1;
    for (size_t i = 0; i < TRIE_SEGS; i++)
        atomic_store(&trie_segs[i], NULL);
    for (int l = 0; l < TRIE_INDEXES; l++) {
        trie_idx[l].cap = (size_t)TRIE_MIN_SLOTS << l;
        atomic_store(&trie_idx[l].slots, l ? NULL : s);
    }
    atomic_store(&trie_levels, 1);
    atomic_store(&trie_copied, 1);
    atomic_store(&trie_next, 1);
    atomic_store(&trie_lost, 0);
    atomic_store(&trie_full_said, 0);
    trie_freed = trie_retiring = 0;
    unpopulated = !populate;
    return 0;
}

int trie_init(void)
{
    return init(1);
}

int trie_init_unpopulated(void)
{
    return init(0);
}

void trie_prefault(void)
{
    atomic_uint *s = atomic_load(&trie_idx[0].slots);
    size_t step = 4096 / sizeof(*s);

    if (!unpopulated || !s)
        return;
    unpopulated = 0;
    for (size_t i = 0; i < trie_idx[0].cap; i += step)
        atomic_fetch_or_explicit(&s[i], 0, memory_order_relaxed);
}

void trie_reset(void)
{
    for (size_t i = 0; i < TRIE_SEGS; i++) {
        trie_unmap(atomic_load(&trie_segs[i]), sizeof(struct trie_node) * TRIE_SEG_NODES);
        atomic_store(&trie_segs[i], NULL);
    }
    for (int l = 0; l < TRIE_INDEXES; l++) {
        trie_unmap(atomic_load(&trie_idx[l].slots), sizeof(atomic_uint) * trie_idx[l].cap);
        atomic_store(&trie_idx[l].slots, NULL);
    }
    atomic_store(&trie_levels, 0);
    trie_freed = trie_retiring = 0;
}

/* The node of id, or NULL when its segment is not mapped. */
static inline struct trie_node *node_of(uint32_t id)
{
    struct trie_node *seg =
        atomic_load_explicit(&trie_segs[id >> TRIE_SEG_BITS], memory_order_acquire);

    return seg ? &seg[id & (TRIE_SEG_NODES - 1)] : NULL;
}

/* The node for a fresh id, mapping its segment if this is the first id in
 * it (two threads may both map one: the CAS keeps the first). */
static struct trie_node *node_new(uint32_t id)
{
    _Atomic(struct trie_node *) *slot = &trie_segs[id >> TRIE_SEG_BITS];
    struct trie_node *seg = atomic_load_explicit(slot, memory_order_acquire), *expect = NULL;

    if (!seg) {
        seg = trie_map(sizeof(struct trie_node) * TRIE_SEG_NODES, 0);
        if (!seg)
            return NULL;
        if (!atomic_compare_exchange_strong_explicit(slot, &expect, seg, memory_order_acq_rel,
                                                     memory_order_acquire)) {
            trie_unmap(seg, sizeof(struct trie_node) * TRIE_SEG_NODES);
            seg = expect;
        }
    }
    return &seg[id & (TRIE_SEG_NODES - 1)];
}

static inline uint64_t trie_hash(uint32_t parent, uint64_t ip)
{
    uint64_t h = (ip ^ ((uint64_t)parent << 47) ^ parent) * 0x9E3779B97F4A7C15ull;

    return h ^ (h >> 31);
}

/* Whether slot id holds key (parent, ip). */
static inline int same_key(unsigned id, uint32_t parent, uint64_t ip)
{
    struct trie_node *n = node_of(id);

    return n && node_ip(n) == ip && node_parent(n) == parent;
}

/* A slot of an index that a newer one replaced: nothing more goes in. */
#define TRIE_CLOSED 0xffffffffu

/* A slot: the id and the tag of its key's hash (bits the index position
 * does not use), never TRIE_CLOSED. */
#define TRIE_ID_BITS 21 /* TRIE_MAX_NODES */
#define TRIE_ID_MASK ((1u << TRIE_ID_BITS) - 1)
_Static_assert(TRIE_MAX_NODES == 1u << TRIE_ID_BITS, "ids fill TRIE_ID_BITS");
_Static_assert(TRIE_MAX_SLOTS <= 1ull << 53, "the tag is above the position's bits");

static inline uint32_t slot_tag(uint64_t h)
{
    uint32_t t = (uint32_t)(h >> 53) << TRIE_ID_BITS;

    return t == ~TRIE_ID_MASK ? t - (1u << TRIE_ID_BITS) : t; /* id | t never TRIE_CLOSED */
}

/* Whether slot v (not 0, not TRIE_CLOSED) holds key (parent, ip) of tag tag. */
static inline int slot_holds(unsigned v, uint32_t tag, uint32_t parent, uint64_t ip)
{
    return (v & ~TRIE_ID_MASK) == tag && same_key(v & TRIE_ID_MASK, parent, ip);
}

/* Looks (parent, ip) up in ix without inserting: its id, or 0 with *end the
 * slot that ended the probe (empty or closed). */
static uint32_t index_find(const struct trie_index *ix, uint64_t h, uint32_t parent, uint64_t ip,
                           size_t *end)
{
    size_t mask = ix->cap - 1;
    atomic_uint *slots = atomic_load_explicit(&ix->slots, memory_order_relaxed);
    uint32_t tag = slot_tag(h);
    size_t i = h & mask;

    for (size_t probes = 0; probes < ix->cap; probes++, i = (i + 1) & mask) {
        unsigned v = atomic_load_explicit(&slots[i], memory_order_acquire);

        TRIE_RACE_POINT(1);
        if (v == 0 || v == TRIE_CLOSED)
            break;
        if (slot_holds(v, tag, parent, ip))
            return v & TRIE_ID_MASK;
    }
    *end = i;
    return 0;
}

/* The older index ix, being copied into a newer one: the key's id if it is
 * there, else 0 once no thread can put it there any more (the empty slot
 * that ends its probe is closed first). */
static uint32_t index_close(const struct trie_index *ix, uint64_t h, uint32_t parent, uint64_t ip)
{
    size_t mask = ix->cap - 1;
    atomic_uint *slots = atomic_load_explicit(&ix->slots, memory_order_relaxed);
    uint32_t tag = slot_tag(h);

    for (size_t i = h & mask, probes = 0; probes < ix->cap; probes++, i = (i + 1) & mask) {
        unsigned v = atomic_load_explicit(&slots[i], memory_order_acquire);

        TRIE_RACE_POINT(2);
        if (v == 0 && atomic_compare_exchange_strong_explicit(
                          &slots[i], &v, TRIE_CLOSED, memory_order_acq_rel, memory_order_acquire))
            return 0;
        if (v == TRIE_CLOSED)
            return 0;
        if (slot_holds(v, tag, parent, ip))
            return v & TRIE_ID_MASK;
    }
    return 0;
}

/* Finds (parent, ip) in ix or publishes *mine there (0: a fresh id, taken
 * when needed and kept in *mine), probing from slot from (h's own, or where
 * a lookup of the key in ix ended: the slots before hold other keys).
 * Returns the key's id, 0 when ids ran out or the index is full,
 * TRIE_CLOSED when a newer index replaced ix. */
static uint32_t index_insert(const struct trie_index *ix, uint64_t h, size_t from, uint32_t parent,
                             uint64_t ip, uint32_t *mine)
{
    size_t mask = ix->cap - 1;
    atomic_uint *slots = atomic_load_explicit(&ix->slots, memory_order_relaxed);
    uint32_t tag = slot_tag(h);

    for (size_t i = from & mask, probes = 0; probes < ix->cap; probes++, i = (i + 1) & mask) {
        unsigned v = atomic_load_explicit(&slots[i], memory_order_acquire);

        TRIE_RACE_POINT(3);
        if (v == 0) {
            if (!*mine) {
                uint32_t fresh = atomic_fetch_add_explicit(&trie_next, 1, memory_order_relaxed);
                struct trie_node *n;

                if (fresh >= TRIE_MAX_NODES || !(n = node_new(fresh)))
                    return 0;
                memcpy(n->ip, &ip, sizeof(ip));
                atomic_store_explicit(&n->parent, parent | TRIE_READY, memory_order_release);
                *mine = fresh;
            }
            TRIE_RACE_POINT(4);
            if (atomic_compare_exchange_strong_explicit(&slots[i], &v, *mine | tag,
                                                        memory_order_acq_rel, memory_order_acquire))
                return *mine;
        }
        if (v == TRIE_CLOSED)
            return TRIE_CLOSED;
        if (slot_holds(v, tag, parent, ip))
            return v & TRIE_ID_MASK;
    }
    return 0;
}

/* Publishes trie_idx[levels] once a thread has claimed it (any thread may:
 * a claimer preempted before it does holds nobody up). */
static void publish(int levels)
{
    int expect = levels;

    atomic_compare_exchange_strong(&trie_levels, &expect, levels + 1);
}

/* Closes trie_idx[levels - 2] slot by slot while copying its ids into
 * trie_idx[levels - 1] (an insert that won a slot before the walk reached
 * it is copied; one that comes later finds the slot closed and goes to the
 * newer index), then says the newer one is whole. Any thread may walk
 * (each walk alone copies every id; walking again finds them there). */
static void copy_older(int levels)
{
    const struct trie_index *old = &trie_idx[levels - 2], *nu = &trie_idx[levels - 1];
    atomic_uint *slots = atomic_load(&old->slots);
    int expect = levels - 1;

    for (size_t i = 0; i < old->cap; i++) {
        unsigned v = atomic_load_explicit(&slots[i], memory_order_acquire);
        uint32_t id = v & TRIE_ID_MASK;
        struct trie_node *n;

        TRIE_RACE_POINT(6);
        if (v == 0 && atomic_compare_exchange_strong_explicit(
                          &slots[i], &v, TRIE_CLOSED, memory_order_acq_rel, memory_order_acquire))
            continue;
        if (v != TRIE_CLOSED && (n = node_of(id)) != NULL) {
            uint64_t h = trie_hash(node_parent(n), node_ip(n));

            index_insert(nu, h, h, node_parent(n), node_ip(n), &id);
        }
    }
    TRIE_RACE_POINT(7);
    atomic_compare_exchange_strong(&trie_copied, &expect, levels);
}

/* Doubles the index once the last doubling's copy is done: the thread whose
 * CAS puts its mapping into trie_idx[levels] claims the level, publishes it
 * and copies the older index into it. The older index stays as it is: a
 * thread still probing it finds what it found before. */
static void grow(int levels)
{
    struct trie_index *nu = &trie_idx[levels];
    atomic_uint *s, *expect = NULL;

    if (levels >= TRIE_INDEXES || nu->cap > TRIE_MAX_SLOTS || atomic_load(&trie_copied) != levels)
        return;
    if (atomic_load(&nu->slots)) {
        publish(levels);
        return;
    }
    if (!(s = trie_map(sizeof(atomic_uint) * nu->cap, 1)))
        return;
    if (!atomic_compare_exchange_strong(&nu->slots, &expect, s)) {
        trie_unmap(s, sizeof(atomic_uint) * nu->cap);
        publish(levels);
        return;
    }
    TRIE_RACE_POINT(5);
    publish(levels);
    copy_older(levels + 1);
}

/* The child of parent for ip, inserting it if needed; 0 when full. *mine:
 * the id this call took for a node of its own (0: none yet). */
static uint32_t child_of(uint32_t parent, uint64_t ip, uint32_t *mine)
{
    uint64_t h = trie_hash(parent, ip);
    int again = 1;

    for (;;) {
        int levels = atomic_load(&trie_levels);
        const struct trie_index *ix = &trie_idx[levels - 1];
        uint32_t id, n;
        size_t end = h;

        TRIE_RACE_POINT(8);
        id = index_find(ix, h, parent, ip, &end);
        if (id)
            return id;
        TRIE_RACE_POINT(9);
        if (levels > atomic_load(&trie_copied) &&
            (id = index_close(&trie_idx[levels - 2], h, parent, ip)))
            return id;
        /* a new node: half full is when the index doubles. It cannot
         * while the copy into it is under way; past 7/8 (the index holds
         * distinct ids below trie_next, so it still has room for every id
         * the copy has to put in it) this thread finishes the copy itself,
         * and past 7/8 of the largest index (or when mmap fails) it refuses */
        n = atomic_load_explicit(&trie_next, memory_order_relaxed);
        if ((size_t)n * 2 > ix->cap) {
            grow(levels);
            if (atomic_load(&trie_levels) != levels)
                continue;
            if ((size_t)n * 8 > ix->cap * 7) {
                if (levels > atomic_load(&trie_copied))
                    copy_older(levels);
                else if (!again--) /* once more: the copy may have ended after grow() looked */
                    return 0;
                continue;
            }
        }
        TRIE_RACE_POINT(10);
        id = index_insert(ix, h, end, parent, ip, mine);
        if (id != TRIE_CLOSED)
            return id;
    }
}

static uint32_t trie_child(uint32_t parent, uint64_t ip)
{
    uint32_t mine = 0, id = child_of(parent, ip, &mine);

    if (__builtin_expect(mine != 0 && id != mine, 0))
        atomic_fetch_add_explicit(&trie_lost, 1, memory_order_relaxed);
    return id;
}

void trie_maintain(void)
{
    int levels = atomic_load(&trie_levels);

    if (levels > 0 && (size_t)atomic_load(&trie_next) * 8 > trie_idx[levels - 1].cap * 3)
        grow(levels);
}

uint32_t trie_intern_below(uint32_t parent, const uintptr_t *ips, int n, uint32_t *ids, int *done)
{
    uint32_t id = parent;
    int i;

    *done = 0;
    if (atomic_load_explicit(&trie_levels, memory_order_acquire) == 0)
        return parent;
    for (i = n - 1; i >= 0; i--) {
        uint32_t c = trie_child(id, ips[i]);

        if (!c) {
            if (!atomic_exchange(&trie_full_said, 1))
                core_say("stack table full: new stacks are truncated");
            break;
        }
        id = c;
        if (ids)
            ids[i] = c;
    }
    *done = n - 1 - i;
    return id;
}

uint32_t trie_intern(const uintptr_t *ips, int n)
{
    int done;

    if (atomic_load_explicit(&trie_levels, memory_order_acquire) == 0)
        return 0;
    return trie_intern_below(0, ips, n, NULL, &done);
}

int trie_node(uint32_t id, uint32_t *parent, uint64_t *ip)
{
    struct trie_node *n = id == 0 || id >= TRIE_MAX_NODES ? NULL : node_of(id);

    uint32_t p = n ? atomic_load_explicit(&n->parent, memory_order_acquire) : 0;

    if (!(p & TRIE_READY))
        return -1;
    *parent = p & ~TRIE_READY;
    *ip = node_ip(n);
    return 0;
}

uint32_t trie_lost_ids(void)
{
    return atomic_load_explicit(&trie_lost, memory_order_relaxed);
}

uint32_t trie_limit(void)
{
    uint32_t n = atomic_load(&trie_next);

    return n > TRIE_MAX_NODES ? TRIE_MAX_NODES : n;
}

int trie_retire(void)
{
    /* trie_idx[copied - 1] holds every id of the older ones, and no thread
     * that reads trie_levels from now on looks below it */
    int below = atomic_load(&trie_copied) - 1;

    if (trie_retiring > trie_freed || below <= trie_freed)
        return 0;
    trie_retiring = below;
    return 1;
}

size_t trie_free_retired(void)
{
    size_t bytes = 0;

    for (; trie_freed < trie_retiring; trie_freed++) {
        struct trie_index *ix = &trie_idx[trie_freed];
        atomic_uint *s = atomic_exchange(&ix->slots, NULL);

        trie_unmap(s, sizeof(atomic_uint) * ix->cap);
        bytes += s ? sizeof(atomic_uint) * ix->cap : 0;
    }
    return bytes;
}

size_t trie_bytes(void)
{
    size_t bytes = 0;
    int levels = atomic_load(&trie_levels);

    for (size_t i = 0; i < TRIE_SEGS; i++)
        if (atomic_load(&trie_segs[i]))
            bytes += sizeof(struct trie_node) * TRIE_SEG_NODES;
    for (int l = 0; l < levels; l++)
        if (atomic_load(&trie_idx[l].slots))
            bytes += sizeof(atomic_uint) * trie_idx[l].cap;
    return bytes;
}
