/*
 * sites.h - per-stack figures (live bytes and blocks, allocations, bytes
 * allocated), their deltas since the last tick, and which stack nodes have
 * been sent. Keyed by stack id; collector thread only.
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
    uint32_t stack; /* its stack id */
    uint8_t dirty;  /* in the dirty list */
};

/* 0, or -1 when the first tables cannot be mapped. */
int sites_init(void);
void sites_reset(void);

/* The site of a stack id (< TRIE_MAX_NODES), made (all zero) the first time:
 * only stacks that allocate have one. Never NULL: a spare site when the
 * tables cannot grow (sites_failed() says so). */
struct site *sites_get(uint32_t stack);

/* Nonzero once a table could not grow (the collector turns tracking off):
 * figures of stacks past it went to a spare site. */
int sites_failed(void);

/* Whether stack's STACKS node was sent: SITES_UNSENT, SITES_QUEUED (the
 * emitter has it in its pending list) or SITES_SENT. A stack id the table
 * could not grow to reads SITES_UNSENT and takes no mark. */
enum { SITES_UNSENT, SITES_SENT, SITES_QUEUED };
int sites_defined(uint32_t stack);
void sites_set_defined(uint32_t stack, int state);

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
 * sites_take_deltas() (the last tick), in stack id order, starting at
 * *cursor (start with 0): a client that gets them in its SNAPSHOT then adds
 * the next TICK's deltas, so the deltas not yet taken must not be in them
 * too. Returns the count; 0 when done. */
size_t sites_absolute(struct wire_site *out, size_t max, uint32_t *cursor);

/* Sites made (stacks that allocated) and the bytes the tables map. */
size_t sites_count(void);
size_t sites_mapped_bytes(void);

#endif
