/*
 * livepair.c - the (thread, tag) pairs of live blocks, by stack.
 *
 * Invariants: a pair's id is its place in pair_key, never reused until
 * livepair_reset(); while livepair_single, n_pairs <= 1 and every entry's
 * index is 0 (pair 0); once not, livepair_first[s] is the id + 1 of stack
 * s's index 0 pair (0: no live block of s had one); for each further pair p of stack s with index
 * i (1 <= i < LIVEPAIR_ESCAPE) the stack map holds both (s, p) -> i and
 * (s, i) -> p, and (s) -> the number of such indices; a block whose stack
 * had every index taken when it came keeps its pair id by its address in
 * the escape map until it is removed.
 */
#include "livepair.h"
#include "live.h"
#include "liveside.h"

#include <string.h>

#define PAIR_BITS 19
#define PAIR_MAX (1u << PAIR_BITS)

struct livepair_cached livepair_cache[LIVEPAIR_CACHE] = {
    [0 ... LIVEPAIR_CACHE - 1] = {UINT64_MAX, 0}};
int livepair_single = 1;
uint32_t *livepair_first;
size_t livepair_n_first;
static size_t first_bytes;

/* Pairs: id -> thread << 16 | tag, and a hash of them to the id + 1. */
static uint64_t *pair_key;
static uint32_t *pair_hash;
static size_t n_pairs, pair_key_bytes, pair_hash_bytes, pair_hcap;

/* Keys of the stack map: the kind in the top two bits. */
#define BY_PAIR(s, p) (1ull << 62 | (uint64_t)(s) << PAIR_BITS | (p))
#define BY_IDX(s, i) (2ull << 62 | (uint64_t)(s) << LIVEPAIR_IDX_BITS | (i))
#define COUNT(s) (3ull << 62 | (uint64_t)(s))
static struct liveside_map by_stack, escaped;

static size_t pair_home(uint64_t key, size_t hcap)
{
    return (size_t)(((key + 1) * 0x9E3779B97F4A7C15ull) >> 32) & (hcap - 1);
}

static int pair_rehash(size_t hcap)
{
    uint32_t *old = pair_hash;
    size_t old_bytes = pair_hash_bytes;

    pair_hash = NULL;
    pair_hash_bytes = 0;
    if (liveside_grow((void **)&pair_hash, &pair_hash_bytes, hcap * sizeof(uint32_t)) < 0) {
        pair_hash = old;
        pair_hash_bytes = old_bytes;
        return -1;
    }
    liveside_free((void **)&old, &old_bytes);
    pair_hcap = hcap;
    for (size_t id = 0; id < n_pairs; id++) {
        size_t i = pair_home(pair_key[id], hcap);

        while (pair_hash[i])
            i = (i + 1) & (hcap - 1);
        pair_hash[i] = (uint32_t)id + 1;
    }
    return 0;
}

/* The id of (thread, tag), a new one when first seen; -1 when there is no
 * room for it. */
static int64_t pair_id(uint32_t thread, uint32_t tag)
{
    uint64_t key = livepair_key(thread, tag);
    struct livepair_cached *c = &livepair_cache[thread % LIVEPAIR_CACHE];
    size_t i;

    if (c->key == key)
        return c->id;
    if ((n_pairs + 1) * 2 > pair_hcap && pair_rehash(pair_hcap ? pair_hcap * 2 : 1024) < 0)
        return -1;
    for (i = pair_home(key, pair_hcap); pair_hash[i]; i = (i + 1) & (pair_hcap - 1))
        if (pair_key[pair_hash[i] - 1] == key)
            goto found;
    if (n_pairs == PAIR_MAX ||
        liveside_grow((void **)&pair_key, &pair_key_bytes, (n_pairs + 1) * sizeof(uint64_t)) < 0)
        return -1;
    pair_key[n_pairs++] = key;
    pair_hash[i] = (uint32_t)n_pairs;
found:
    c->key = key;
    c->id = pair_hash[i] - 1;
    return c->id;
}

/* The index of pair pid at stack (not index 0), a new one when there is
 * one left, else LIVEPAIR_ESCAPE; -1 when the map cannot grow. */
static int64_t further_idx(uint32_t stack, uint32_t pid)
{
    uint64_t v, n = 0;

    if (liveside_get(&by_stack, BY_PAIR(stack, pid), &v))
        return (int64_t)v;
    liveside_get(&by_stack, COUNT(stack), &n);
    if (n + 1 >= LIVEPAIR_ESCAPE)
        return LIVEPAIR_ESCAPE;
    if (liveside_put(&by_stack, BY_PAIR(stack, pid), n + 1) < 0)
        return -1;
    if (liveside_put(&by_stack, BY_IDX(stack, n + 1), pid) < 0) {
        liveside_del(&by_stack, BY_PAIR(stack, pid));
        return -1;
    }
    liveside_del(&by_stack, COUNT(stack));
    if (liveside_put(&by_stack, COUNT(stack), n + 1) < 0)
        return -1; /* cannot happen: the slot just freed is there */
    return (int64_t)(n + 1);
}

/* Makes room in livepair_first for stack. 0 or -1. */
static int first_room(uint32_t stack)
{
    if (stack >= livepair_n_first) {
        size_t n = (size_t)stack + 1;

        if (liveside_grow((void **)&livepair_first, &first_bytes, n * sizeof(uint32_t)) < 0)
            return -1;
        livepair_n_first = first_bytes / sizeof(uint32_t); /* fresh pages: zero */
    }
    return 0;
}

static void first_of_entry(void *arg, const struct live_entry *e)
{
    uint32_t stack = live_stack(e);

    if (first_room(stack) < 0)
        *(int *)arg = -1;
    else
        livepair_first[stack] = 1; /* pair 0, the one pair so far */
}

int livepair_idx(uint32_t thread, uint32_t tag, uint32_t stack, uint64_t addr)
{
    int64_t pid = pair_id(thread, tag), idx;
    int failed = 0;

    if (pid < 0)
        return -1;
    if (livepair_single) {
        if (pid == 0)
            return 0;
        /* a second pair: the stacks of the blocks so far get pair 0 as
         * their first (one walk of the table, once a run) */
        livepair_single = 0;
        live_foreach(first_of_entry, &failed);
        if (failed)
            return -1;
    }
    if (first_room(stack) < 0)
        return -1;
    if (!livepair_first[stack])
        livepair_first[stack] = (uint32_t)pid + 1;
    if (livepair_first[stack] == (uint32_t)pid + 1)
        return 0;
    idx = further_idx(stack, (uint32_t)pid);
    if (idx == LIVEPAIR_ESCAPE && liveside_put(&escaped, addr, (uint64_t)pid) < 0)
        return -1;
    return (int)idx;
}

uint64_t livepair_get(uint32_t stack, unsigned idx, uint64_t addr)
{
    uint64_t pid = 0;

    if (idx == 0)
        pid = livepair_single ? 0 : livepair_first[stack] - 1;
    else if (idx == LIVEPAIR_ESCAPE)
        liveside_get(&escaped, addr, &pid);
    else
        liveside_get(&by_stack, BY_IDX(stack, idx), &pid);
    return pair_key[pid];
}

void livepair_forget(uint64_t addr)
{
    liveside_del(&escaped, addr);
}

size_t livepair_bytes(void)
{
    return first_bytes + pair_key_bytes + pair_hash_bytes + by_stack.bytes + escaped.bytes;
}

void livepair_reset(void)
{
    liveside_free((void **)&livepair_first, &first_bytes);
    livepair_n_first = 0;
    livepair_single = 1;
    liveside_free((void **)&pair_key, &pair_key_bytes);
    liveside_free((void **)&pair_hash, &pair_hash_bytes);
    n_pairs = pair_hcap = 0;
    memset(livepair_cache, 0xff, sizeof(livepair_cache));
    liveside_reset(&by_stack);
    liveside_reset(&escaped);
}
