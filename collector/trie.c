/*
 * trie.c - insert-only lock-free stack trie.
 *
 * nodes[id] holds (parent, ip); slots[] is an open-addressing index of node ids
 * keyed by hash(parent, ip). Invariant: a node is written completely before
 * its id is published into a slot with a release CAS, and slots only go from
 * 0 to an id, never back; so a reader that finds an id (acquire) sees the
 * node. Two threads inserting the same key race on the slot: the loser reuses
 * the winner's id and its own id is simply never referenced.
 */
#include "trie.h"
#include "ownmaps.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>

#include "core.h"

#define TRIE_SLOTS (TRIE_MAX_NODES * 2u) /* power of two, load <= 0.5 */

struct trie_node {
    uint64_t ip;
    uint32_t parent;
    atomic_uint ready; /* 1 once written */
};

static struct trie_node *trie_nodes;
static atomic_uint *trie_slots;
static atomic_uint trie_next = 1;
static atomic_int trie_full_said;

int trie_init(void)
{
    void *n = mmap(NULL, sizeof(struct trie_node) * TRIE_MAX_NODES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *s = mmap(NULL, sizeof(atomic_uint) * TRIE_SLOTS, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (n == MAP_FAILED || s == MAP_FAILED) {
        if (n != MAP_FAILED)
            munmap(n, sizeof(struct trie_node) * TRIE_MAX_NODES);
        if (s != MAP_FAILED)
            munmap(s, sizeof(atomic_uint) * TRIE_SLOTS);
        return -1;
    }
    trie_nodes = n;
    trie_slots = s;
    ownmaps_add(n, sizeof(struct trie_node) * TRIE_MAX_NODES);
    ownmaps_add(s, sizeof(atomic_uint) * TRIE_SLOTS);
    atomic_store(&trie_next, 1);
    atomic_store(&trie_full_said, 0);
    return 0;
}

void trie_reset(void)
{
    ownmaps_del(trie_nodes);
    ownmaps_del(trie_slots);
    if (trie_nodes)
        munmap(trie_nodes, sizeof(struct trie_node) * TRIE_MAX_NODES);
    if (trie_slots)
        munmap(trie_slots, sizeof(atomic_uint) * TRIE_SLOTS);
    trie_nodes = NULL;
    trie_slots = NULL;
}

static inline uint64_t trie_hash(uint32_t parent, uint64_t ip)
{
    uint64_t h = (ip ^ ((uint64_t)parent << 47) ^ parent) * 0x9E3779B97F4A7C15ull;

    return h ^ (h >> 31);
}

/* The child of parent for ip, inserting it if needed; 0 when full. */
static uint32_t trie_child(uint32_t parent, uint64_t ip)
{
    uint64_t i = trie_hash(parent, ip) & (TRIE_SLOTS - 1);
    uint32_t mine = 0;

    for (unsigned probes = 0; probes < TRIE_SLOTS; probes++, i = (i + 1) & (TRIE_SLOTS - 1)) {
        unsigned id = atomic_load_explicit(&trie_slots[i], memory_order_acquire);

        if (id == 0) {
            if (!mine) {
                mine = atomic_fetch_add_explicit(&trie_next, 1, memory_order_relaxed);
                if (mine >= TRIE_MAX_NODES)
                    return 0;
                trie_nodes[mine].ip = ip;
                trie_nodes[mine].parent = parent;
                atomic_store_explicit(&trie_nodes[mine].ready, 1, memory_order_release);
            }
            unsigned expect = 0;
            if (atomic_compare_exchange_strong_explicit(&trie_slots[i], &expect, mine,
                                                        memory_order_acq_rel, memory_order_acquire))
                return mine;
            id = expect;
        }
        if (trie_nodes[id].ip == ip && trie_nodes[id].parent == parent)
            return id;
    }
    return 0;
}

uint32_t trie_intern(const uintptr_t *ips, int n)
{
    uint32_t id = 0;

    if (!trie_nodes)
        return 0;
    for (int i = n - 1; i >= 0; i--) {
        uint32_t c = trie_child(id, ips[i]);

        if (!c) {
            if (!atomic_exchange(&trie_full_said, 1))
                core_say("stack table full: new stacks are truncated");
            break;
        }
        id = c;
    }
    return id;
}

int trie_node(uint32_t id, uint32_t *parent, uint64_t *ip)
{
    if (id == 0 || id >= TRIE_MAX_NODES || !trie_nodes ||
        !atomic_load_explicit(&trie_nodes[id].ready, memory_order_acquire))
        return -1;
    *parent = trie_nodes[id].parent;
    *ip = trie_nodes[id].ip;
    return 0;
}

uint32_t trie_limit(void)
{
    uint32_t n = atomic_load(&trie_next);

    return n > TRIE_MAX_NODES ? TRIE_MAX_NODES : n;
}
