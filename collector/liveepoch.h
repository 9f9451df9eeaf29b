/*
 * liveepoch.h - the times of the live table's blocks (live.c), kept by
 * allocation sequence number beside the table, so an entry holds no time.
 *
 * Epochs are runs of inserts by sequence number, each with the earliest
 * and latest time of its blocks; an insert joins the last epoch while the
 * span stays under LIVE_EPOCH_SPAN (a late event too: the span widens
 * back), else it starts one. A ring keeps the low 16 bits of the latest
 * LIVE_TIME_RING inserts' times, which with an unmerged epoch give the whole
 * time; older blocks, and blocks of merged epochs, read their epoch's
 * earliest time (liveepoch.c says how epochs merge). Collector thread only;
 * a fork()ed scan child reads nothing here.
 */
#ifndef HEAPLINE_LIVEEPOCH_H
#define HEAPLINE_LIVEEPOCH_H

#include <stddef.h>
#include <stdint.h>

#include "live.h"

struct live_epoch {
    uint64_t first_seq;   /* the whole count, not mod 2^40 */
    int64_t t_min, t_max; /* the earliest and latest of its blocks' times */
};

/* Hidden: live.c's inline insert path reads them without the GOT. */
#define LIVEEPOCH_HIDDEN __attribute__((visibility("hidden")))
extern struct live_epoch *liveepoch_v LIVEEPOCH_HIDDEN;
extern size_t liveepoch_n LIVEEPOCH_HIDDEN;
extern uint64_t liveepoch_last_seq LIVEEPOCH_HIDDEN; /* the whole count of the last insert */
extern int64_t liveepoch_time_hi LIVEEPOCH_HIDDEN;   /* the latest time of every insert */
extern uint16_t *liveepoch_ring LIVEEPOCH_HIDDEN;    /* by seq % LIVE_TIME_RING */

/* Whether time t joins epoch e (its span stays under LIVE_EPOCH_SPAN):
 * then e's span takes it in. */
static inline int liveepoch_take(struct live_epoch *e, int64_t t)
{
    if (t >= e->t_max) {
        if ((uint64_t)(t - e->t_min) >= LIVE_EPOCH_SPAN)
            return 0;
        e->t_max = t;
    } else if (t < e->t_min) {
        if ((uint64_t)(e->t_max - t) >= LIVE_EPOCH_SPAN)
            return 0;
        e->t_min = t;
    }
    return 1;
}

/* Notes insert seq at time t when it joins the last epoch (nearly every
 * insert): 1, else 0 and liveepoch_note() must. */
static inline int liveepoch_join(uint64_t seq, int64_t t)
{
    if (!liveepoch_n || !liveepoch_take(&liveepoch_v[liveepoch_n - 1], t))
        return 0;
    liveepoch_last_seq = seq;
    if (t > liveepoch_time_hi)
        liveepoch_time_hi = t;
    return 1;
}

/* Keeps the low bits of insert seq's time t in the ring. */
static inline void liveepoch_ring_put(uint64_t seq, int64_t t)
{
    liveepoch_ring[seq % LIVE_TIME_RING] = (uint16_t)t;
}

/* Notes insert seq at time t in the last epoch or a new one. 0, or -1
 * when the epochs cannot grow. */
int liveepoch_note(uint64_t seq, int64_t t);

/* Maps the ring. 0, or -1 (nothing mapped). */
int liveepoch_init(void);
/* Forgets every epoch and unmaps the ring. */
void liveepoch_reset(void);
/* The epochs' mapping and the ring's pages in use. */
size_t liveepoch_bytes(void);

#endif
