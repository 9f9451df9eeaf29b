/*
 * normalise.c - from per-thread events to one consistent stream.
 *
 * Events of one thread arrive in order; across threads they are merged by
 * time, but a thread can be preempted between reading the clock and
 * publishing its event, so a free on thread A can arrive after the malloc on
 * thread B that reused its address. Invariant kept: the live table holds
 * exactly the blocks live in the emitted stream. A free is recorded before the
 * real free and an allocation after the real allocation, so an incarnation's
 * alloc time is later than the free time of any earlier incarnation: an ALLOC
 * of a live address evicts the older incarnation (implicit FREE), and a FREE
 * older than the live incarnation is that straggler, dropped. A REALLOC
 * carries both the time before the call (for its old block) and after (for
 * its new one).
 *
 * The stream names blocks by allocation sequence number, not address (wire.h):
 * each emitted ALLOC or REALLOC takes t->seq + 1, kept in its live entry, and
 * a FREE or a REALLOC's old block is sent as back = t->seq - its seq, both
 * taken before the event's own allocation.
 */
#include "normalise.h"

#include "live.h"
#include "sites.h"

static void note_alloc(struct normalise_totals *t, const struct normalise_ops *ops, uint32_t stack,
                       uint64_t size, int64_t time)
{
    t->heap_bytes += size;
    t->heap_blocks++;
    t->allocations++;
    t->bytes_allocated += size;
    t->seq++;
    if (t->heap_bytes > t->peak) { /* as the model marks it: the first event to reach it */
        t->peak = t->heap_bytes;
        t->peak_time = time;
    }
    sites_alloc(stack, size);
    ops->stack(ops->arg, stack);
}

/* Releases e (a pointer from live_find()) and returns its back. */
static uint64_t release(struct normalise_totals *t, struct live_entry *e)
{
    uint64_t back = (t->seq - live_seq(e)) & WIRE_SEQ_MASK, size = live_size(e);

    t->heap_bytes -= size;
    t->heap_blocks--;
    t->frees++;
    sites_free(live_stack(e), size);
    live_remove(e);
    return back;
}

/* An older incarnation e (from live_find) still in the table is released
 * now. Returns whether there was one (entry pointers are then stale). */
static int evict_entry(struct live_entry *e, int64_t time, const struct normalise_ops *ops,
                       struct normalise_totals *t, struct normalise_stats *st)
{
    if (e) {
        struct wire_event w = {.op = WIRE_OP_FREE, .time = time};

        st->evicted++;
        w.back = release(t, e);
        ops->event(ops->arg, &w);
        return 1;
    }
    return 0;
}

/* Enters the block of ev with the next sequence number, at slot when not
 * NULL (live_find_slot); note_alloc() then takes that number. Returns 0, -1
 * (the table cannot grow) or -2 (the block does not fit an entry). */
static int insert(const struct ring_event *ev, uint32_t thread, const struct normalise_totals *t,
                  struct live_entry *slot)
{
    struct live_block b = {.addr = ev->addr,
                           .size = ev->size,
                           .time = ev->time,
                           .seq = t->seq + 1,
                           .stack = ev->stack,
                           .thread = thread & 0xffffff,
                           .tag = ev->tag};

    if (!live_fits(ev->addr, ev->size))
        return -2;
    return live_insert_at(&b, slot);
}

int normalise_apply(const struct ring_event *ev, uint32_t thread, const struct normalise_ops *ops,
                    struct normalise_totals *t, struct normalise_stats *st)
{
    struct live_entry *e;
    struct wire_event w = {.time = ev->time, .size = ev->size, .stack = ev->stack};
    int r;

    st->events++;
    switch (ev->op) {
    case RING_ALLOC: {
        struct live_entry *slot;

        ops->context(ops->arg, thread, ev->tag, 1, ev->time);
        /* one probe finds an older incarnation or the slot to fill */
        if (evict_entry(live_find_slot(ev->addr, &slot), ev->time, ops, t, st))
            slot = NULL;
        if ((r = insert(ev, thread, t, slot)) < 0)
            return r;
        note_alloc(t, ops, ev->stack, ev->size, ev->time);
        w.op = WIRE_OP_ALLOC;
        ops->event(ops->arg, &w);
        return 0;
    }
    case RING_FREE:
        e = live_find(ev->addr);
        if (!e) {
            st->unknown_frees++;
            return 0;
        }
        if (live_newer(e, ev->time)) {
            st->stragglers++;
            return 0;
        }
        ops->context(ops->arg, thread, 0, 0, ev->time);
        w = (struct wire_event){.op = WIRE_OP_FREE, .time = ev->time};
        w.back = release(t, e);
        ops->event(ops->arg, &w);
        return 0;
    case RING_REALLOC: {
        int64_t t0 = ev->time - (int64_t)ev->dt0;
        int old_live;

        ops->context(ops->arg, thread, ev->tag, 1, ev->time);
        e = live_find(ev->old_addr);
        old_live = e && !live_newer(e, t0); /* else: unknown, or already evicted */
        if ((ev->addr != ev->old_addr || !old_live) &&
            evict_entry(live_find(ev->addr), ev->time, ops, t, st) && old_live)
            e = live_find(ev->old_addr); /* the eviction may have moved it */
        if (old_live) {
            w.op = WIRE_OP_REALLOC;
            w.back = release(t, e);
        } else {
            w.op = WIRE_OP_ALLOC;
        }
        if ((r = insert(ev, thread, t, NULL)) < 0)
            return r;
        note_alloc(t, ops, ev->stack, ev->size, ev->time);
        ops->event(ops->arg, &w);
        return 0;
    }
    }
    return 0;
}
