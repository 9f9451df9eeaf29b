/*
 * normalise.h - applies the merged ring events to the live table and the
 * per-site figures and turns them into a stream a reader can trust.
 *
 * Guarantees of the output, whatever the order in which events of different
 * threads arrive: every FREE and every REALLOC's old block is a block live in
 * the stream; no address is allocated twice without a FREE in between; frees
 * of blocks never seen (allocated before tracking, by the bootstrap arena)
 * are dropped. Blocks are named by allocation sequence number (wire.h): the
 * events carry back, not addresses. Collector thread only.
 */
#ifndef HEAPLINE_NORMALISE_H
#define HEAPLINE_NORMALISE_H

#include <stdint.h>

#include "encode.h"
#include "ring.h"

struct normalise_totals {
    uint64_t heap_bytes, heap_blocks, allocations, frees, bytes_allocated, peak;
    int64_t peak_time; /* the time of the event that reached the peak (ring time, ns) */
    uint64_t seq;      /* allocation sequence number of the last ALLOC/REALLOC emitted, 0 none */
};

struct normalise_stats {
    uint64_t events;        /* applied */
    uint64_t evicted;       /* implicit FREEs: an address reused before its free arrived */
    uint64_t stragglers;    /* frees dropped: their block was already evicted */
    uint64_t unknown_frees; /* frees of blocks never seen */
};

/* Where the stream goes. context() comes before the event(s) of one input
 * event: the thread they happen on and, when with_tag, the tag allocations
 * carry. stack() is told every stack that gets an allocation. */
struct normalise_ops {
    void (*context)(void *arg, uint32_t thread, uint32_t tag, int with_tag, int64_t time);
    void (*event)(void *arg, const struct wire_event *e);
    void (*stack)(void *arg, uint32_t stack);
    void *arg;
};

/* The most wire events (context entries included) one call can produce. */
#define NORMALISE_MAX_OUT 5

/* Applies one ALLOC, FREE or REALLOC of the given thread. Returns 0, -1 when
 * the live table cannot grow, or -2 when a block does not fit an entry
 * (live_fits: an address or size past LIVE_ADDR_BITS, or an address not
 * 8-byte aligned); on either the caller turns tracking off. */
int normalise_apply(const struct ring_event *ev, uint32_t thread, const struct normalise_ops *ops,
                    struct normalise_totals *t, struct normalise_stats *st);

#endif
