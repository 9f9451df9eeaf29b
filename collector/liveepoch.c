/*
 * liveepoch.c - the times of the live table's blocks (liveepoch.h).
 *
 * Invariant: liveepoch_v[0..liveepoch_n) are ordered by first_seq, and
 * every insert's time lies in the span of the epoch its sequence number
 * falls in. While an epoch's span is under LIVE_EPOCH_SPAN, the time of each
 * of its blocks is the one in the span with the ring's low 16 bits. At 2 *
 * LIVE_EXACT_EPOCHS epochs the older half is merged in pairs
 * (epoch_merge): the epochs take 1 MiB at most however long the run, and
 * an older block's time is kept to within a span that widens with its age.
 * An epoch that merged two spans at least LIVE_EPOCH_SPAN (its second began
 * because an insert did not fit the first), so a span under it is an epoch
 * never merged.
 */
#include "liveepoch.h"
#include "liveside.h"
#include "ownmaps.h"

#include <string.h>
#include <sys/mman.h>

#define SEQ_MASK ((1ull << 40) - 1)
#define TIME_LOW 0xffffu

struct live_epoch *liveepoch_v;
size_t liveepoch_n;
uint64_t liveepoch_last_seq;
int64_t liveepoch_time_hi = INT64_MIN;
uint16_t *liveepoch_ring;

static size_t epochs_bytes;
/* The ring holds the inserts since ring_seq0 (the first since
 * liveepoch_init) and at most LIVE_TIME_RING before the last. Mapped
 * whole, touched as it fills. */
static uint64_t ring_seq0;
#define RING_BYTES (LIVE_TIME_RING * sizeof(uint16_t))

int liveepoch_init(void)
{
    void *r = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (r == MAP_FAILED)
        return -1;
    ownmaps_add(r, RING_BYTES);
    liveepoch_ring = r;
    return 0;
}

void liveepoch_reset(void)
{
    liveside_free((void **)&liveepoch_v, &epochs_bytes);
    liveepoch_n = 0;
    liveepoch_last_seq = 0;
    liveepoch_time_hi = INT64_MIN;
    if (liveepoch_ring) {
        ownmaps_del(liveepoch_ring);
        munmap(liveepoch_ring, RING_BYTES);
    }
    liveepoch_ring = NULL;
    ring_seq0 = 0;
}

size_t liveepoch_bytes(void)
{
    uint64_t ring_used = liveepoch_last_seq - ring_seq0 + 1;

    if (!liveepoch_n)
        ring_used = 0;
    else if (ring_used > LIVE_TIME_RING)
        ring_used = LIVE_TIME_RING;
    return epochs_bytes + (ring_used * sizeof(uint16_t) + 4095) / 4096 * 4096;
}

/* The whole sequence number of an entry's (mod 2^40), the most recent
 * that is not past the last insert's. */
static uint64_t seq_whole(uint64_t seq40)
{
    return liveepoch_last_seq - ((liveepoch_last_seq - seq40) & SEQ_MASK);
}

static const struct live_epoch *epoch_of(uint64_t seq)
{
    size_t lo = 0, hi = liveepoch_n;

    if (liveepoch_n && liveepoch_v[liveepoch_n - 1].first_seq <= seq)
        return &liveepoch_v[liveepoch_n - 1];
    while (hi - lo > 1) { /* liveepoch_v[lo].first_seq <= seq < liveepoch_v[hi].first_seq */
        size_t mid = lo + (hi - lo) / 2;

        if (liveepoch_v[mid].first_seq <= seq)
            lo = mid;
        else
            hi = mid;
    }
    return &liveepoch_v[lo];
}

/* Merges the epochs older than the latest LIVE_EXACT_EPOCHS in pairs. */
static __attribute__((noinline)) void epoch_merge(void)
{
    size_t old = liveepoch_n - LIVE_EXACT_EPOCHS, k = 0;

    for (size_t i = 0; i < old; i += 2) {
        struct live_epoch m = liveepoch_v[i];

        if (i + 1 < old) {
            if (liveepoch_v[i + 1].t_min < m.t_min)
                m.t_min = liveepoch_v[i + 1].t_min;
            if (liveepoch_v[i + 1].t_max > m.t_max)
                m.t_max = liveepoch_v[i + 1].t_max;
        }
        liveepoch_v[k++] = m;
    }
    memmove(&liveepoch_v[k], &liveepoch_v[old], LIVE_EXACT_EPOCHS * sizeof(*liveepoch_v));
    liveepoch_n = k + LIVE_EXACT_EPOCHS;
}

int liveepoch_note(uint64_t seq, int64_t t)
{
    if (!liveepoch_n)
        ring_seq0 = seq;
    if (!liveepoch_n || !liveepoch_take(&liveepoch_v[liveepoch_n - 1], t)) {
        if (liveepoch_n == 2 * LIVE_EXACT_EPOCHS)
            epoch_merge();
        if (liveside_grow((void **)&liveepoch_v, &epochs_bytes,
                          (liveepoch_n + 1) * sizeof(*liveepoch_v)) < 0)
            return -1;
        liveepoch_v[liveepoch_n++] = (struct live_epoch){seq, t, t};
    }
    liveepoch_last_seq = seq;
    if (t > liveepoch_time_hi)
        liveepoch_time_hi = t;
    return 0;
}

/* The time of insert seq (whole) of epoch e: the one in e's span with the
 * low bits the ring keeps; e's earliest once merged or past the ring. */
static int64_t epoch_time(const struct live_epoch *e, uint64_t seq)
{
    if ((uint64_t)(e->t_max - e->t_min) >= LIVE_EPOCH_SPAN || seq < ring_seq0 ||
        liveepoch_last_seq - seq >= LIVE_TIME_RING)
        return e->t_min;
    return e->t_min +
           (int64_t)((liveepoch_ring[seq % LIVE_TIME_RING] - (uint64_t)e->t_min) & TIME_LOW);
}

int64_t live_time(const struct live_entry *e)
{
    uint64_t seq = seq_whole(live_seq(e));

    return epoch_time(epoch_of(seq), seq);
}

int live_newer(const struct live_entry *e, int64_t t)
{
    const struct live_epoch *ep;
    uint64_t seq;

    if (t >= liveepoch_time_hi)
        return 0;
    seq = seq_whole(live_seq(e));
    ep = epoch_of(seq);
    if (t >= ep->t_max)
        return 0;
    if (t < ep->t_min)
        return 1;
    return epoch_time(ep, seq) > t;
}
