/*
 * livepair.h - the (thread, tag) pairs of the live table's blocks (live.c),
 * kept per stack so that an entry needs only a small index: index 0 is the
 * first pair a stack was seen with, 1 to LIVEPAIR_ESCAPE - 1 its further
 * pairs in the order they came, and LIVEPAIR_ESCAPE a pair kept by the
 * block's address (a stack with more pairs than that). Exact: every block
 * reads back its own pair. Collector thread only; a fork()ed scan child
 * reads entries but never their pairs.
 */
#ifndef HEAPLINE_LIVEPAIR_H
#define HEAPLINE_LIVEPAIR_H

#include <stddef.h>
#include <stdint.h>

#define LIVEPAIR_IDX_BITS 7
#define LIVEPAIR_ESCAPE ((1u << LIVEPAIR_IDX_BITS) - 1)

/* The last pair of each thread (by thread id mod LIVEPAIR_CACHE): threads
 * that take turns (churn's two) each find theirs without a probe. */
#define LIVEPAIR_CACHE 64
struct livepair_cached {
    uint64_t key; /* thread << 16 | tag; UINT64_MAX: none */
    uint32_t id;
};
/* Hidden: the collector's inline readers load them without the GOT. */
#define LIVEPAIR_HIDDEN __attribute__((visibility("hidden")))
extern struct livepair_cached livepair_cache[LIVEPAIR_CACHE] LIVEPAIR_HIDDEN;
/* While one pair alone was seen (most programs: one thread, no tags), every
 * block's is index 0 and livepair_first is not kept. */
extern int livepair_single LIVEPAIR_HIDDEN;
extern uint32_t *livepair_first
    LIVEPAIR_HIDDEN; /* by stack: the id of its index 0 pair + 1, 0: none */
extern size_t livepair_n_first LIVEPAIR_HIDDEN;

static inline uint64_t livepair_key(uint32_t thread, uint32_t tag)
{
    return (uint64_t)(thread & 0xffffff) << 16 | (tag & 0xffff);
}

/* Whether (thread, tag) is index 0 at stack, answered from the caches
 * alone (0: livepair_idx must tell). */
static inline int livepair_is_first(uint32_t thread, uint32_t tag, uint32_t stack)
{
    const struct livepair_cached *c = &livepair_cache[thread % LIVEPAIR_CACHE];

    return c->key == livepair_key(thread, tag) &&
           (livepair_single || (stack < livepair_n_first && livepair_first[stack] == c->id + 1));
}

/* The index of (thread, tag) at stack for a new block at addr, the pair
 * kept by addr when it is LIVEPAIR_ESCAPE; -1 when a table cannot grow or
 * 2^19 pairs were seen. */
int livepair_idx(uint32_t thread, uint32_t tag, uint32_t stack, uint64_t addr);
/* The pair (thread << 16 | tag) of index idx at stack, for the block at addr. */
uint64_t livepair_get(uint32_t stack, unsigned idx, uint64_t addr);
/* Forgets the pair kept by addr (an index LIVEPAIR_ESCAPE block removed). */
void livepair_forget(uint64_t addr);

size_t livepair_bytes(void); /* the mappings of the pairs' tables */
void livepair_reset(void);   /* forgets every pair, unmaps the tables */

#endif
