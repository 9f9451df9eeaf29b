/*
 * model_events.c - what the stream's figures change: EVENTS (one block at a
 * time), TICK and SNAPSHOT (per-stack totals), HISTORY (totals before an
 * attach). Per stack: cur (authoritative), tk (the ticks' view), pk (at the
 * exact peak); per (site, thread, tag): the parties.
 *
 * Invariant: which stream rules `cur` is fixed by the stream (model.h,
 * "Authority"): events while summary.events_exact, else ticks; every change
 * to cur also goes to the log (model_log.c), so the timeline replays it.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "weight.h"
#include "wire.h"

/* ------------------------------------------------------------- the state */

/* Applies a per-stack change to the authoritative state (site sums, site
 * peaks, exact-peak dirtiness). Does not log. */
void model_events_cur_apply(struct model *m, uint32_t stack, const struct fig *d)
{
    uint32_t site = m->nodes[stack].site;

    fig_add(&m->cur[stack], d);
    if (site != MODEL_NONE) {
        struct fig *sf = &m->site_cur[site];
        struct site_ext *e = ext_at(m, site);

        fig_add(sf, d);
        if (sf->live_bytes > 0 && (uint64_t)sf->live_bytes > e->peak_bytes)
            e->peak_bytes = (uint64_t)sf->live_bytes;
    }
    if (!m->pk_dirty[stack]) {
        if (m->n_dirty == m->dirty_cap &&
            model_grow32((void **)&m->dirty, &m->dirty_cap, m->n_dirty + 1, sizeof(uint32_t)))
            return; /* peak state loses precision, never memory safety */
        m->pk_dirty[stack] = 1;
        m->dirty[m->n_dirty++] = stack;
    }
}

struct model_point model_events_totals(const struct model *m, int64_t time)
{
    struct model_point p = {.time = time,
                            .heap_bytes = m->sum.heap_bytes,
                            .heap_blocks = m->sum.heap_blocks,
                            .rss = m->sum.rss,
                            .allocations = m->sum.allocations,
                            .frees = m->sum.frees,
                            .bytes_allocated = m->sum.bytes_allocated,
                            .events = m->ev_in_state};
    return p;
}

/* ------------------------------------------------------------- parties */

static uint32_t party_hash_of(uint32_t site, uint32_t thread, uint32_t tag)
{
    return (uint32_t)mix64(((uint64_t)site << 32) ^ ((uint64_t)thread << 16) ^ tag);
}

static uint32_t party_hash(const void *ctx, uint32_t i)
{
    const struct party *p = &((const struct model *)ctx)->parties[i];

    return party_hash_of(p->site, p->thread, p->tag);
}

static int party_eq(const void *ctx, uint32_t i, const void *key)
{
    const struct party *p = &((const struct model *)ctx)->parties[i], *k = key;

    return p->site == k->site && p->thread == k->thread && p->tag == k->tag;
}

/* The party of (site, thread, tag), created empty. MODEL_NONE: out of memory. */
static uint32_t party_get(struct model *m, uint32_t site, uint32_t thread, uint32_t tag)
{
    struct party key = {.site = site, .thread = thread, .tag = tag};
    uint32_t slot, id;

    if (hashtab_reserve(&m->party_hash, m->n_parties, 1024, party_hash, m))
        return MODEL_NONE;
    id = hashtab_find(&m->party_hash, party_hash_of(site, thread, tag), party_eq, m, &key, &slot);
    if (id != HASHTAB_NONE)
        return id;
    if (model_grow32((void **)&m->parties, &m->parties_cap, m->n_parties + 1, sizeof(struct party)))
        return MODEL_NONE;
    id = m->n_parties++;
    m->parties[id] = key;
    hashtab_set(&m->party_hash, slot, id);
    return id;
}

/* An event's change to its block's party (the thread and tag that allocated
 * it): the latest state, the open bucket, and the peak's dirty list. */
static int party_change(struct model *m, uint32_t site, const struct liveset_block *b,
                        const struct fig *d)
{
    uint32_t id = party_get(m, site, b->thread, b->tag);
    struct party *p;

    if (id == MODEL_NONE)
        return -1;
    p = &m->parties[id];
    fig_add(&p->cur, d);
    if (!p->pending) {
        if (model_grow32((void **)&m->party_pend, &m->party_pend_cap, m->n_party_pend + 1,
                         sizeof(uint32_t)))
            return -1;
        m->party_pend[m->n_party_pend++] = id;
        p->pending = 1;
    }
    fig_add(&p->pend, d);
    if (!p->pk_dirty) {
        if (model_grow32((void **)&m->party_dirty, &m->party_dirty_cap, m->n_party_dirty + 1,
                         sizeof(uint32_t)))
            return -1;
        m->party_dirty[m->n_party_dirty++] = id;
        p->pk_dirty = 1;
    }
    return 0;
}

int model_events_party_close(struct model *m, int64_t time)
{
    for (uint32_t i = 0; i < m->n_party_pend; i++) {
        struct party *p = &m->parties[m->party_pend[i]];

        if (m->n_plog == m->plog_cap) {
            size_t cap = (size_t)m->plog_cap;
            if (model_grow((void **)&m->plog, &cap, (size_t)m->n_plog + 1, sizeof(*m->plog)))
                return -1;
            m->plog_cap = cap;
        }
        m->plog[m->n_plog++] =
            (struct party_delta){.time = time, .party = m->party_pend[i], .d = p->pend};
        p->pend = (struct fig){0};
        p->pending = 0;
    }
    m->n_party_pend = 0;
    return 0;
}

/* ---------------------------------------------------------------- events */

static void peak_check(struct model *m, int64_t time)
{
    if (m->sum.heap_bytes <= m->sum.peak_bytes)
        return;
    m->sum.peak_bytes = m->sum.heap_bytes;
    m->sum.peak_time = time;
    for (uint32_t i = 0; i < m->n_dirty; i++) {
        uint32_t s = m->dirty[i];
        m->pk[s] = m->cur[s];
        m->pk_dirty[s] = 0;
    }
    m->n_dirty = 0;
    for (uint32_t i = 0; i < m->n_party_dirty; i++) {
        struct party *p = &m->parties[m->party_dirty[i]];
        p->pk = p->cur;
        p->pk_dirty = 0;
    }
    m->n_party_dirty = 0;
    m->peak_pt = model_events_totals(m, time);
}

/* Sampling mode: d, the change of one sampled block of size bytes, as its
 * estimator's weight, the collector's for its sites (weight.h). Blocks and
 * allocations are fixed point (1/65536): a party's figures are sums of
 * these, rounded where they are read (model_group_rows), so a thread's
 * estimate is its sampled blocks' weight. */
static struct fig party_weight(uint64_t rate, uint64_t size, const struct fig *d)
{
    uint64_t bytes, blocks;
    int64_t sign = d->live_blocks < 0 ? -1 : 1;

    weight_of(rate, size, &bytes, &blocks);
    return (struct fig){.live_bytes = sign * (int64_t)bytes,
                        .live_blocks = sign * (int64_t)blocks,
                        .allocations = d->allocations ? blocks : 0,
                        .bytes_allocated = d->bytes_allocated ? bytes : 0};
}

/* A change from an event to block b's figures: authoritative in events mode. */
static int event_change(struct model *m, uint32_t stack, const struct liveset_block *b,
                        const struct fig *d, int64_t time)
{
    if (!m->sum.events_exact) {
        m->ev_in_state = m->sum.events; /* ticks rule: a point holds what came before it */
        /* attached: a block allocated since is still known by thread and tag
         * (the next tick's point takes the change, apply_state) */
        if (!m->sum.missed && m->nodes[stack].site != MODEL_NONE) {
            struct fig w = m->sum.sample_rate ? party_weight(m->sum.sample_rate, b->size, d) : *d;

            if (party_change(m, m->nodes[stack].site, b, &w))
                return model_fail(m, "out of memory");
        }
        return 0;
    }
    if (m->bucket_open && time >= m->bucket_start + MODEL_BUCKET_NS) {
        /* the point closed here holds the events before this one */
        if (model_log_bucket_close(m, m->bucket_last, m->rss))
            return -1;
    }
    if (!m->bucket_open) {
        m->bucket_open = 1;
        m->bucket_start = time;
        m->bucket_max = m->sum.heap_bytes;
        if (!m->n_points)
            m->first_before = model_events_totals(m, time);
    }
    if (time > m->bucket_last)
        m->bucket_last = time;
    m->ev_in_state = m->sum.events; /* this event's change is in the state from here on */
    model_events_cur_apply(m, stack, d);
    if (model_log_pend(m, stack, d))
        return -1;
    if (m->nodes[stack].site != MODEL_NONE && party_change(m, m->nodes[stack].site, b, d))
        return model_fail(m, "out of memory");
    if (d->live_blocks > 0) {
        m->sum.allocations += (uint64_t)d->live_blocks;
        m->sum.bytes_allocated += d->bytes_allocated;
    } else if (d->live_blocks < 0) {
        m->sum.frees += (uint64_t)-d->live_blocks;
    }
    m->sum.heap_bytes += (uint64_t)d->live_bytes;
    m->sum.heap_blocks += (uint64_t)d->live_blocks;
    if (m->sum.heap_bytes > m->bucket_max)
        m->bucket_max = m->sum.heap_bytes;
    peak_check(m, time);
    return 0;
}

static uint32_t ev_stack(struct model *m, uint32_t stack)
{
    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        stack = 0;
    if (model_sites_of_stack(m, stack) == MODEL_NONE)
        return MODEL_NONE;
    return stack;
}

/* The hooks of the model's liveset: an event's meaning for the figures. The
 * numbering, matching and thread state are liveset.c's, shared with rewind. */
static void ev_event(void *ctx, int64_t time)
{
    struct model *m = ctx;

    model_see_time(m, time);
    m->sum.events++;
    m->any_event = 1;
}

static int ev_alloc(void *ctx, struct liveset_block *b)
{
    struct model *m = ctx;
    uint32_t stack = ev_stack(m, b->stack);
    struct fig d = {.live_bytes = (int64_t)b->size,
                    .live_blocks = 1,
                    .allocations = 1,
                    .bytes_allocated = b->size};

    if (stack == MODEL_NONE)
        return model_fail(m, "out of memory");
    b->stack = stack;
    model_sites_note(m, m->nodes[stack].site, b->tag, b->thread);
    return event_change(m, stack, b, &d, b->time);
}

static int ev_release(void *ctx, const struct liveset_block *b, int64_t time, int temporary)
{
    struct model *m = ctx;
    struct fig d = {.live_bytes = (int64_t)(0 - b->size), .live_blocks = -1};

    if (temporary) {
        uint32_t site = m->nodes[b->stack].site;
        if (site != MODEL_NONE)
            ext_at(m, site)->temporary++;
        m->sum.temporary++;
    }
    return event_change(m, b->stack, b, &d, time);
}

static const struct liveset_hooks ev_hooks = {
    .event = ev_event, .alloc = ev_alloc, .release = ev_release};

int model_events_apply(struct model *m, const struct wire_msg *msg)
{
    struct events_iter it;
    int r;

    decode_events_begin(&it, msg);
    r = liveset_apply(&m->ls, &it, UINT64_MAX, &ev_hooks, m);
    m->sum.unmatched_frees = m->ls.unmatched;
    switch (r) {
    case LIVESET_DONE:
        return 0;
    case LIVESET_ETHREAD:
        return model_fail(m, "thread %u: id out of sequence", m->ls.bad_thread);
    case LIVESET_ENOMEM:
        return model_fail(m, "out of memory");
    case LIVESET_EHOOK:
        return -1; /* the hook said why, when it could */
    default:
        return model_fail(m, "corrupt event batch");
    }
}

/* ----------------------------------------------------------------- ticks */

/* A sampling-mode tick that repeats the peak tick's totals: no call came
 * between them, so it is the same state, and it holds the samples the earlier
 * one had not applied yet (a tick's exact totals are read when it is sent, its
 * sites only reach the drain's watermark, a millisecond or two behind). The
 * peak moves to it, or a run that ends within that lag of its peak would show
 * no site at the peak. */
static int same_as_peak(const struct model *m, const struct wire_totals *t)
{
    const struct model_point *pk = &m->peak_pt;

    return m->sum.sample_rate && m->sum.peak_bytes && t->heap_bytes == m->sum.peak_bytes &&
           t->allocations == pk->allocations && t->frees == pk->frees &&
           t->heap_blocks == pk->heap_blocks;
}

static int tick_check_consistency(struct model *m, const struct wire_totals *t)
{
    if (m->sum.heap_bytes != t->heap_bytes || m->sum.heap_blocks != t->heap_blocks ||
        m->sum.allocations != t->allocations || m->sum.frees != t->frees ||
        m->sum.bytes_allocated != t->bytes_allocated ||
        (t->peak_bytes && (m->sum.peak_bytes != t->peak_bytes || m->sum.peak_time != t->peak_time)))
        m->sum.tick_mismatches++;
    return 0;
}

/* Ticks are authoritative from now on: rebase cur on tk. */
static int rebase_on_ticks(struct model *m)
{
    for (uint32_t s = 0; s < m->n_nodes; s++) {
        struct fig d = {wsub(m->tk[s].live_bytes, m->cur[s].live_bytes),
                        wsub(m->tk[s].live_blocks, m->cur[s].live_blocks),
                        m->tk[s].allocations - m->cur[s].allocations,
                        m->tk[s].bytes_allocated - m->cur[s].bytes_allocated};
        if (!d.live_bytes && !d.live_blocks && !d.allocations && !d.bytes_allocated)
            continue;
        if (model_sites_of_stack(m, s) == MODEL_NONE)
            return model_fail(m, "out of memory");
        model_events_cur_apply(m, s, &d);
        if (model_log_push(m, s, &d))
            return model_fail(m, "out of memory");
    }
    return 0;
}

/* The per-stack figures of a TICK (changes) or a SNAPSHOT (totals) into tk,
 * and into cur and the log when ticks rule. */
static int state_stacks(struct model *m, const struct wire_msg *msg, int snap)
{
    uint32_t n = wire_list_count(&msg->u.state.sites, 5);

    for (uint32_t i = 0; i < n; i++) {
        struct wire_site ws;
        struct fig d;
        uint32_t s;

        if (decode_site_at(&msg->u.state.sites, i, &ws) != 1)
            return model_fail(m, "corrupt site list");
        s = ev_stack(m, ws.stack);
        if (s == MODEL_NONE)
            return model_fail(m, "out of memory");
        if (snap)
            d = (struct fig){wsub(ws.live_bytes, m->tk[s].live_bytes),
                             wsub(ws.live_blocks, m->tk[s].live_blocks),
                             ws.allocations - m->tk[s].allocations,
                             ws.bytes_allocated - m->tk[s].bytes_allocated};
        else
            d = (struct fig){ws.live_bytes, ws.live_blocks, ws.allocations, ws.bytes_allocated};
        fig_add(&m->tk[s], &d);
        if (!m->sum.events_exact && !m->rebase_pending) {
            model_events_cur_apply(m, s, &d);
            if (model_log_push(m, s, &d))
                return model_fail(m, "out of memory");
        }
    }
    return 0;
}

int model_events_state(struct model *m, const struct wire_msg *msg)
{
    const struct wire_totals *t = &msg->u.state.totals;
    int snap = msg->type == WIRE_SNAPSHOT;
    struct model_point last = {0};
    int same = 0;

    model_see_time(m, t->time);
    m->sum.snapshot |= snap;
    /* before any event, a snapshot says where the allocation sequence stands:
     * blocks numbered up to there were allocated before we joined */
    if (snap && !m->any_event)
        liveset_begin_at(&m->ls, msg->u.state.seq);
    /* a snapshot with history before any event: we joined a running program */
    if (snap && !m->any_event && !m->sum.attached && (t->allocations || t->heap_bytes)) {
        m->sum.attached = 1;
        m->sum.events_exact = 0;
        if (m->bucket_open && model_log_bucket_close(m, m->bucket_last, m->rss))
            return model_fail(m, "out of memory");
    }
    if (m->n_points) {
        last = m->points[m->n_points - 1];
        same = m->any_tick && last.time == t->time && last.heap_bytes == t->heap_bytes &&
               last.allocations == t->allocations && !(last.flags & MODEL_POINT_HISTORY);
    }
    m->any_tick = 1;
    m->rss = t->rss;
    m->sum.rss = t->rss;
    if (t->rss > m->sum.peak_rss)
        m->sum.peak_rss = t->rss;

    if (state_stacks(m, msg, snap))
        return -1;

    if (m->sum.events_exact) {
        /* events rule; the tick closes the bucket and brings RSS. The point
         * is the state after the bucket's events, so it is stamped with the
         * last of them: a collector that starts late ticks before it has
         * drained the events stamped before the tick, which come after it
         * (a point at the tick's time would be later than theirs). */
        if (!snap)
            tick_check_consistency(m, t);
        if (m->bucket_open) {
            if (model_log_bucket_close(m, m->bucket_last, t->rss))
                return model_fail(m, "out of memory");
        } else if (same) {
            m->points[m->n_points - 1].rss = t->rss;
        } else {
            struct model_point p =
                model_events_totals(m, t->time > m->bucket_last ? t->time : m->bucket_last);
            p.rss = t->rss;
            if (model_log_point(m, &p))
                return model_fail(m, "out of memory");
        }
        return 0;
    }
    if (m->rebase_pending) {
        m->rebase_pending = 0;
        if (rebase_on_ticks(m))
            return -1;
    }
    m->sum.heap_bytes = t->heap_bytes;
    m->sum.heap_blocks = t->heap_blocks;
    m->sum.allocations = t->allocations;
    m->sum.frees = t->frees;
    m->sum.bytes_allocated = t->bytes_allocated;
    if (same) {
        /* a continuation part of the same tick: deltas join the last point */
        if (model_log_join_last(m) || model_events_party_close(m, t->time))
            return model_fail(m, "out of memory");
        return 0;
    }
    {
        struct model_point p = model_events_totals(m, t->time);
        if (model_log_point(m, &p) || model_events_party_close(m, t->time))
            return model_fail(m, "out of memory");
    }
    if (t->peak_bytes) {
        /* the collector's exact peak, to the event: what a recording of the
         * same run reports, where the ticks alone would show the highest 10 ms
         * sample, lower and later */
        if (t->peak_bytes >= m->sum.peak_bytes) {
            m->sum.peak_bytes = t->peak_bytes;
            m->sum.peak_time = t->peak_time;
        }
    } else if (t->heap_bytes > m->sum.peak_bytes || same_as_peak(m, t)) {
        /* sampling mode, or an older collector: the highest tick */
        m->sum.peak_bytes = t->heap_bytes;
        m->sum.peak_time = t->time;
        m->peak_pt = m->points[m->n_points - 1];
    }
    return 0;
}

int model_events_history(struct model *m, const struct wire_msg *msg)
{
    uint32_t n = wire_list_count(&msg->u.history, 4), k = 0;
    int64_t first = m->n_points ? m->points[0].time : INT64_MAX;
    struct model_point *tmp;

    tmp = calloc(n ? n : 1, sizeof(*tmp));
    if (!tmp)
        return model_fail(m, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        struct wire_history_row r;

        if (decode_history_at(&msg->u.history, i, &r) != 1) {
            free(tmp);
            return model_fail(m, "corrupt history");
        }
        if (r.time >= first || (k && r.time <= tmp[k - 1].time))
            continue;
        tmp[k++] = (struct model_point){.time = r.time,
                                        .heap_bytes = r.heap_bytes,
                                        .heap_blocks = r.heap_blocks,
                                        .rss = r.rss,
                                        .flags = MODEL_POINT_HISTORY};
        if (r.rss > m->sum.peak_rss)
            m->sum.peak_rss = r.rss;
        if (r.heap_bytes > m->sum.peak_bytes) { /* a peak before we attached */
            m->sum.peak_bytes = r.heap_bytes;
            m->sum.peak_time = r.time;
            m->peak_pt = tmp[k - 1];
        }
    }
    if (k && model_log_prepend(m, tmp, k)) {
        free(tmp);
        return model_fail(m, "out of memory");
    }
    free(tmp);
    return 0;
}
