/*
 * liveset.c - live blocks by allocation sequence number, and EVENTS batches
 * read into them.
 *
 * Invariant: ls->seq is the seq of the last ALLOC/REALLOC read, so a FREE's
 * block is seq - back (wire.h); the table holds exactly the blocks allocated
 * in the stream and not yet released. The table is open addressing at load
 * <= 1/2 with backward-shift deletion: an allocation is one probe walk.
 */
#include "liveset.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "wire.h"

void liveset_init(struct liveset *ls)
{
    memset(ls, 0, sizeof(*ls));
}

static void slots_unmap(struct liveset_block *t, uint64_t cap)
{
    if (t)
        munmap(t, cap * sizeof(*t));
}

void liveset_free(struct liveset *ls)
{
    slots_unmap(ls->slots, ls->cap);
    free(ls->thr_tag);
    free(ls->thr_last);
    liveset_init(ls);
}

void liveset_begin_at(struct liveset *ls, uint64_t seq)
{
    if (!ls->events)
        ls->seq = ls->seq_base = seq;
}

static struct liveset_block *find(const struct liveset *ls, uint64_t seq)
{
    if (!ls->cap)
        return NULL;
    for (uint64_t i = mix64(seq) & (ls->cap - 1);; i = (i + 1) & (ls->cap - 1)) {
        if (ls->slots[i].seq == seq)
            return &ls->slots[i];
        if (!ls->slots[i].seq)
            return NULL;
    }
}

/* The old table is handed back in chunks of this many bytes as a rehash
 * walks past them, so old and new are not both resident: a replay of
 * python3's JSON bench (2.0M blocks live at the peak) peaked at 272 MB with
 * the 84 MB old table kept to the end of its last rehash. */
#define REHASH_CHUNK (2u << 20)

/* The empty slot for a new seq (never in the table), growing it first when
 * needed. NULL when out of memory. */
static struct liveset_block *slot_for(struct liveset *ls, uint64_t seq)
{
    uint64_t i;

    if ((ls->n + 1) * 2 > ls->cap) {
        uint64_t nc = ls->cap ? ls->cap * 2 : 4096, released = 0; /* bytes of the old table */
        struct liveset_block *t =
            mmap(NULL, nc * sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (t == MAP_FAILED)
            return NULL;
        for (uint64_t j = 0; j < ls->cap; j++) {
            if (ls->slots[j].seq) {
                uint64_t k = mix64(ls->slots[j].seq) & (nc - 1);

                while (t[k].seq)
                    k = (k + 1) & (nc - 1);
                t[k] = ls->slots[j];
            }
            /* the slots before j + 1 are moved: whole chunks of them go back
             * (the mapping is page-aligned, and so is every chunk) */
            if ((j + 1) * sizeof(*t) - released >= REHASH_CHUNK) {
                madvise((char *)ls->slots + released, REHASH_CHUNK, MADV_DONTNEED);
                released += REHASH_CHUNK;
            }
        }
        slots_unmap(ls->slots, ls->cap);
        ls->slots = t;
        ls->cap = nc;
    }
    for (i = mix64(seq) & (ls->cap - 1); ls->slots[i].seq; i = (i + 1) & (ls->cap - 1))
        ;
    return &ls->slots[i];
}

/* Removes the block at e (a pointer into the table), backward-shift style. */
static void remove_at(struct liveset *ls, struct liveset_block *e)
{
    uint64_t mask = ls->cap - 1, i = (uint64_t)(e - ls->slots), j = i;

    for (;;) {
        j = (j + 1) & mask;
        if (!ls->slots[j].seq)
            break;
        uint64_t k = mix64(ls->slots[j].seq) & mask;
        /* can the entry at j move to i? only if k is not cyclically in (i, j] */
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            ls->slots[i] = ls->slots[j];
            i = j;
        }
    }
    ls->slots[i].seq = 0;
    ls->n--;
}

int liveset_reserve_thread(struct liveset *ls, uint32_t id)
{
    uint32_t old = ls->thr_cap, cap = old ? old : 64;

    if (id < old)
        return 0;
    if (id > old * 2u + 65536u) /* ids are handed out in sequence */
        return LIVESET_ETHREAD;
    while (cap <= id)
        cap *= 2;
    uint32_t *t = realloc(ls->thr_tag, cap * sizeof(*t));
    if (!t)
        return LIVESET_ENOMEM;
    ls->thr_tag = t;
    uint64_t *l = realloc(ls->thr_last, cap * sizeof(*l));
    if (!l)
        return LIVESET_ENOMEM;
    ls->thr_last = l;
    memset(t + old, 0, (cap - old) * sizeof(*t));
    memset(l + old, 0, (cap - old) * sizeof(*l));
    ls->thr_cap = cap;
    return 0;
}

/* The live block a FREE or REALLOC names by back, or NULL: counted as
 * unmatched unless the block was allocated before the stream began (an
 * attach: the reader never saw it). */
static struct liveset_block *target(struct liveset *ls, uint64_t back)
{
    struct liveset_block *e;

    if (back >= ls->seq - ls->seq_base) { /* before the stream's first allocation */
        if (!ls->seq_base)
            ls->unmatched++;
        return NULL;
    }
    e = find(ls, ls->seq - back);
    if (!e)
        ls->unmatched++;
    return e;
}

static int release(struct liveset *ls, struct liveset_block *e, int64_t time,
                   const struct liveset_hooks *h, void *ctx)
{
    struct liveset_block b = *e;
    int temporary = ls->thr_last[ls->thread] == e->seq;

    remove_at(ls, e);
    if (h && h->release && h->release(ctx, &b, time, temporary) < 0)
        return LIVESET_EHOOK;
    return 0;
}

static int alloc(struct liveset *ls, const struct wire_event *ev, const struct liveset_hooks *h,
                 void *ctx)
{
    uint32_t th = ls->thread;
    struct liveset_block nb = {.seq = ls->seq + 1,
                               .size = ev->size,
                               .time = ev->time,
                               .stack = ev->stack,
                               .thread = th,
                               .tag = ls->thr_tag[th]};
    struct liveset_block *b;

    if (h && h->alloc && h->alloc(ctx, &nb) < 0)
        return LIVESET_EHOOK;
    b = slot_for(ls, ++ls->seq); /* a new seq: never in the table */
    if (!b)
        return LIVESET_ENOMEM;
    *b = nb;
    ls->n++;
    ls->thr_last[th] = ls->seq;
    return 0;
}

int liveset_apply(struct liveset *ls, struct events_iter *it, uint64_t limit,
                  const struct liveset_hooks *h, void *ctx)
{
    struct wire_event ev;
    int r;

    if ((r = liveset_reserve_thread(ls, ls->thread)) != 0)
        return r;
    for (;;) {
        struct events_iter at = *it; /* where this event starts, to stop before it */

        r = decode_events_next(it, &ev);
        if (r == 0)
            return LIVESET_DONE;
        if (r < 0)
            return LIVESET_ECORRUPT;
        if (ev.op == WIRE_OP_THREAD) {
            if ((r = liveset_reserve_thread(ls, ev.id)) != 0) {
                ls->bad_thread = ev.id;
                return r;
            }
            ls->thread = ev.id;
            continue;
        }
        if (ev.op == WIRE_OP_TAG) {
            ls->thr_tag[ls->thread] = ev.id;
            continue;
        }
        if (ls->events >= limit) {
            *it = at;
            return LIVESET_LIMIT;
        }
        ls->events++;
        if (h && h->event)
            h->event(ctx, ev.time);
        if (ev.op == WIRE_OP_ALLOC) {
            r = alloc(ls, &ev, h, ctx);
        } else if (ev.op == WIRE_OP_FREE) {
            struct liveset_block *e = target(ls, ev.back);

            r = e ? release(ls, e, ev.time, h, ctx) : 0;
            ls->thr_last[ls->thread] = 0;
        } else { /* REALLOC: releases the old block, then allocates */
            struct liveset_block *e = target(ls, ev.back);

            /* as heaptrack counts it: a block released by the realloc right after
             * its allocation was temporary, and the new block may be too */
            r = e ? release(ls, e, ev.time, h, ctx) : 0;
            if (r == 0)
                r = alloc(ls, &ev, h, ctx);
        }
        if (r != 0)
            return r;
    }
}
