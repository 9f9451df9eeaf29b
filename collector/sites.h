/*
 * sites.h - per-stack figures (live bytes and blocks, allocations, bytes
 * allocated), their deltas since the last tick, and which stack nodes have
 * been sent. Indexed by stack id; collector thread only.
 */
#ifndef HEAPLINE_SITES_H
#define HEAPLINE_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"

struct site {
    int64_t live_bytes, live_blocks;
    uint64_t allocations, bytes_allocated;
    int64_t d_live_bytes, d_live_blocks;
    uint64_t d_allocations, d_bytes_allocated;
    /* sampling mode: the estimated blocks in 1/65536ths; live_blocks and
     * allocations above are these rounded */
    int64_t live_blocks_fp;
    uint64_t allocations_fp;
    uint8_t dirty;   /* in the dirty list */
    uint8_t defined; /* its STACKS node was sent */
};

int sites_init(void);
void sites_reset(void);

/* The site of a stack id (< TRIE_MAX_NODES). Inline: every event looks one
 * up, and the call (its frame saved for the growth path) was 24 instructions
 * of churn's collector thread's ~800 an event. */
extern struct site *sites_tab;
extern size_t sites_cap;
struct site *sites_get_grow(uint32_t stack);
static inline struct site *sites_get(uint32_t stack)
{
    return stack < sites_cap ? &sites_tab[stack] : sites_get_grow(stack);
}

/* Nonzero once the table could not grow (the collector turns tracking off):
 * figures of stacks past it went to a spare site. */
int sites_failed(void);

/* A block of size bytes allocated, freed. In sampling mode (a rate set) the
 * block is a sample and counts as its estimator's weight (sample.h). */
void sites_alloc(uint32_t stack, uint64_t size);
void sites_free(uint32_t stack, uint64_t size);

/* Sampling mode's mean interval in bytes, 0 exact (the default). Set by
 * sample_configure() before the first event it applies to. */
void sites_set_sample_rate(uint64_t rate);

/* Moves up to max deltas into out and clears them. Returns the count; call
 * again while it returns max. */
size_t sites_take_deltas(struct wire_site *out, size_t max);

/* Absolute figures of every site with allocations as of the last
 * sites_take_deltas() (the last tick), starting at *cursor (start with 0):
 * a client that gets them in its SNAPSHOT then adds the next TICK's deltas,
 * so the deltas not yet taken must not be in them too. Returns the count; 0
 * when done. */
size_t sites_absolute(struct wire_site *out, size_t max, uint32_t *cursor);

#endif
