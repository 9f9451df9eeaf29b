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
 */
#include "normalise.h"

#include "live.h"
#include "sites.h"

static void note_alloc(struct normalise_totals *t, const struct normalise_ops *ops,
                       uint32_t stack, uint64_t size)
{
    t->heap_bytes += size;
    t->heap_blocks++;
    t->allocations++;
    t->bytes_allocated += size;
    if (t->heap_bytes > t->peak)
        t->peak = t->heap_bytes;
    sites_alloc(stack, size);
    ops->stack(ops->arg, stack);
}

static void note_free(struct normalise_totals *t, const struct live_entry *e)
{
    t->heap_bytes -= e->size;
    t->heap_blocks--;
    t->frees++;
    sites_free((uint32_t)e->stack, e->size);
}

/* An older incarnation of addr still in the table is released now. */
static void evict(uint64_t addr, int64_t time, const struct normalise_ops *ops,
                  struct normalise_totals *t, struct normalise_stats *st)
{
    struct live_entry *e = live_find(addr);

    if (e) {
        struct wire_event w = {.op = WIRE_OP_FREE, .time = time, .addr = addr};

        st->evicted++;
        note_free(t, e);
        live_remove(e);
        ops->event(ops->arg, &w);
    }
}

static int insert(const struct ring_event *ev, uint32_t thread)
{
    struct live_entry e = {ev->addr, ev->size, ev->time, ev->stack, thread & 0xffffff, ev->tag};

    return live_insert(&e);
}

int normalise_apply(const struct ring_event *ev, uint32_t thread, const struct normalise_ops *ops,
                    struct normalise_totals *t, struct normalise_stats *st)
{
    struct live_entry *e;
    struct wire_event w = {.time = ev->time, .addr = ev->addr, .size = ev->size,
                           .stack = ev->stack};

    st->events++;
    switch (ev->op) {
    case RING_ALLOC:
        ops->context(ops->arg, thread, ev->tag, 1, ev->time);
        evict(ev->addr, ev->time, ops, t, st);
        if (insert(ev, thread) < 0)
            return -1;
        note_alloc(t, ops, ev->stack, ev->size);
        w.op = WIRE_OP_ALLOC;
        ops->event(ops->arg, &w);
        return 0;
    case RING_FREE:
        e = live_find(ev->addr);
        if (!e) {
            st->unknown_frees++;
            return 0;
        }
        if (e->time > ev->time) {
            st->stragglers++;
            return 0;
        }
        ops->context(ops->arg, thread, 0, 0, ev->time);
        note_free(t, e);
        live_remove(e);
        w = (struct wire_event){.op = WIRE_OP_FREE, .time = ev->time, .addr = ev->addr};
        ops->event(ops->arg, &w);
        return 0;
    case RING_REALLOC: {
        int64_t t0 = ev->time - (int64_t)ev->dt0;
        int old_live;

        ops->context(ops->arg, thread, ev->tag, 1, ev->time);
        e = live_find(ev->old_addr);
        old_live = e && e->time <= t0; /* else: unknown, or already evicted */
        if (ev->addr != ev->old_addr || !old_live)
            evict(ev->addr, ev->time, ops, t, st);
        if (old_live) {
            e = live_find(ev->old_addr); /* evict() may have moved it */
            note_free(t, e);
            live_remove(e);
            w.op = WIRE_OP_REALLOC;
            w.old_addr = ev->old_addr;
        } else {
            w.op = WIRE_OP_ALLOC;
        }
        if (insert(ev, thread) < 0)
            return -1;
        note_alloc(t, ops, ev->stack, ev->size);
        ops->event(ops->arg, &w);
        return 0;
    }
    }
    return 0;
}
