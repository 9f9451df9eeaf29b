/*
 * liveset.h - the blocks live in an event stream, keyed by allocation
 * sequence number, and the one reading of an EVENTS batch: sequence numbers,
 * backs, the current thread and each thread's tag (wire.h, "Compactness").
 *
 * The model keeps the latest state of its stream in one (model.c); a rewind
 * rebuilds the state at an earlier point of a recording in another
 * (rewind.c). Both read batches through liveset_apply(), so they number and
 * match blocks alike. A liveset knows each block's size, time, stack, thread
 * and tag; what a change means (figures, sites, temporaries) is the caller's,
 * told through hooks.
 *
 * Not thread-safe: one owner. No I/O.
 */
#ifndef HEAPLINE_LIVESET_H
#define HEAPLINE_LIVESET_H

#include <stdint.h>

#include "decode.h"

/* The 64-bit finalizer of MurmurHash3: the hash of the model's and the live
 * set's open-addressing tables (sequence numbers, ips). */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

struct liveset_block {
    uint64_t seq; /* the stream's allocation number (1 the first), without the 2^40
                   * wrap; 0: an empty slot */
    uint64_t size;
    int64_t time; /* allocation time, ns */
    uint32_t stack, thread, tag, pad;
};

/* A zeroed struct is an empty set (liveset_init() does that). Iterate the
 * blocks as slots[0..cap) with seq != 0, in no particular order. */
struct liveset {
    struct liveset_block *slots; /* open addressing, cap a power of 2 (or 0) */
    uint64_t cap, n;             /* slots, live blocks */
    uint64_t seq;                /* seq of the last allocation read */
    uint64_t seq_base;           /* seqs up to this were allocated before the stream began */
    uint64_t events;             /* ALLOC, FREE and REALLOC events read */
    uint64_t unmatched;          /* FREE/REALLOC naming no live block (blocks from before
                                  * the stream began excepted) */
    uint32_t thread;             /* thread of the following events */
    uint32_t bad_thread;         /* the id of a LIVESET_ETHREAD */
    uint32_t *thr_tag;           /* per thread: its current tag */
    uint64_t *thr_last;          /* per thread: seq its last event allocated, 0 none */
    uint32_t thr_cap;
};

/* What the caller does with each change. Every hook may be NULL. A hook
 * returning < 0 stops liveset_apply() with LIVESET_EHOOK. */
struct liveset_hooks {
    /* Before an ALLOC, FREE or REALLOC event is applied (ls->events counts it). */
    void (*event)(void *ctx, int64_t time);
    /* A block is about to enter the set (b->seq is its number): the hook may
     * rewrite b->stack. On failure it does not enter. */
    int (*alloc)(void *ctx, struct liveset_block *b);
    /* A block left the set at `time` (freed, or the old block of a realloc);
     * temporary: it was the last allocation of the thread that freed it, with
     * nothing allocated by that thread in between (heaptrack's temporary). */
    int (*release)(void *ctx, const struct liveset_block *b, int64_t time, int temporary);
};

enum liveset_result {
    LIVESET_DONE = 0,      /* the batch is read */
    LIVESET_LIMIT = 1,     /* stopped before the event that would pass the limit */
    LIVESET_ECORRUPT = -1, /* the batch is malformed at the iterator's position */
    LIVESET_ETHREAD = -2,  /* a thread id out of sequence (ls->bad_thread) */
    LIVESET_ENOMEM = -3,
    LIVESET_EHOOK = -4 /* a hook failed (the hook says why) */
};

void liveset_init(struct liveset *ls);
void liveset_free(struct liveset *ls);

/* A SNAPSHOT before any event: seqs up to `seq` were allocated before the
 * stream began (an attach), so a back reaching them is no unmatched free.
 * Ignored once an event was read. */
void liveset_begin_at(struct liveset *ls, uint64_t seq);

/* Makes room for thread id (the THREAD message defines one before its
 * events). Ids are handed out in sequence: one far beyond those seen is
 * refused with LIVESET_ETHREAD rather than allocated. Returns 0, or
 * LIVESET_ETHREAD / LIVESET_ENOMEM. */
int liveset_reserve_thread(struct liveset *ls, uint32_t id);

/*
 * Reads events from it (decode_events_begin() on an EVENTS message) into the
 * set, calling the hooks, until the batch ends or ls->events reaches `limit`
 * (UINT64_MAX: none): then LIVESET_LIMIT, with it left before the next
 * ALLOC/FREE/REALLOC, so a later call with a higher limit goes on from there
 * (while the message's memory is still valid). Returns enum liveset_result.
 */
int liveset_apply(struct liveset *ls, struct events_iter *it, uint64_t limit,
                  const struct liveset_hooks *h, void *ctx);

#endif
