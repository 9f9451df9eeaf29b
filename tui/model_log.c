/*
 * model_log.c - the timeline: points, the delta log, its checkpoints and its
 * compaction. The one file that reads the log; queries walk it through
 * model_log_between() and model_log_sites_at().
 *
 * Invariant: log[delta_end[p - 1] .. delta_end[p]) are the per-stack changes
 * that turn the state after point p - 1 into the state after point p
 * (delta_end[-1] = 0); a checkpoint holds the per-site sums after its point.
 * Compaction merges old points pairwise and keeps that true.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the log */

int model_log_push(struct model *m, uint32_t stack, const struct fig *d)
{
    if (m->n_log == m->log_cap) {
        size_t cap = (size_t)m->log_cap;

        if (model_grow((void **)&m->log, &cap, (size_t)m->n_log + 1, sizeof(struct delta)))
            return -1;
        m->log_cap = cap;
    }
    m->log[m->n_log++] = (struct delta){.stack = stack, .d = *d};
    return 0;
}

int model_log_pend(struct model *m, uint32_t stack, const struct fig *d)
{
    uint32_t i = m->pend_idx[stack];

    if (!i) {
        if (model_grow32((void **)&m->pend, &m->pend_cap, m->n_pend + 1, sizeof(struct delta)))
            return -1;
        m->pend[m->n_pend] = (struct delta){.stack = stack};
        i = m->pend_idx[stack] = ++m->n_pend;
    }
    fig_add(&m->pend[i - 1].d, d);
    return 0;
}

static int checkpoint_maybe(struct model *m)
{
    uint64_t spacing = 65536;
    struct checkpoint *c;

    if ((uint64_t)m->n_sites * 4 > spacing)
        spacing = (uint64_t)m->n_sites * 4;
    if (m->n_log - m->log_at_cp < spacing)
        return 0;
    if (model_grow32((void **)&m->cps, &m->cps_cap, m->n_cps + 1, sizeof(*m->cps)))
        return -1;
    c = &m->cps[m->n_cps];
    c->sites = malloc((size_t)(m->n_sites ? m->n_sites : 1) * sizeof(struct fig));
    if (!c->sites)
        return -1;
    if (m->n_sites)
        memcpy(c->sites, m->site_cur, (size_t)m->n_sites * sizeof(struct fig));
    c->n_sites = m->n_sites;
    c->point = m->n_points - 1;
    m->n_cps++;
    m->log_at_cp = m->n_log;
    return 0;
}

int model_log_join_last(struct model *m)
{
    struct checkpoint *c;

    m->delta_end[m->n_points - 1] = m->n_log;
    /* a checkpoint taken at the last point must include the new changes */
    if (!m->n_cps || m->cps[m->n_cps - 1].point != m->n_points - 1)
        return 0;
    c = &m->cps[m->n_cps - 1];
    if (c->n_sites < m->n_sites) {
        struct fig *f = realloc(c->sites, (size_t)m->n_sites * sizeof(*f));
        if (!f)
            return -1;
        c->sites = f;
    }
    if (m->n_sites)
        memcpy(c->sites, m->site_cur, (size_t)m->n_sites * sizeof(struct fig));
    c->n_sites = m->n_sites;
    m->log_at_cp = m->n_log;
    return 0;
}

/* Rebuilds every checkpoint from the log (after a compaction). */
static int checkpoints_rebuild(struct model *m)
{
    struct fig *acc = calloc(m->n_sites ? m->n_sites : 1, sizeof(*acc));
    uint64_t li = 0;

    if (!acc)
        return -1;
    for (uint32_t i = 0; i < m->n_cps; i++)
        free(m->cps[i].sites);
    m->n_cps = 0;
    m->log_at_cp = 0;
    for (uint32_t p = 0; p < m->n_points; p++) {
        for (; li < m->delta_end[p]; li++) {
            uint32_t site = m->nodes[m->log[li].stack].site;
            if (site != MODEL_NONE)
                fig_add(&acc[site], &m->log[li].d);
        }
        uint64_t spacing = (uint64_t)m->n_sites * 4 > 65536 ? (uint64_t)m->n_sites * 4 : 65536;
        if (li - m->log_at_cp >= spacing && p + 1 < m->n_points) {
            struct checkpoint *c;
            if (model_grow32((void **)&m->cps, &m->cps_cap, m->n_cps + 1, sizeof(*m->cps)))
                goto fail;
            c = &m->cps[m->n_cps];
            c->sites = malloc((size_t)(m->n_sites ? m->n_sites : 1) * sizeof(*acc));
            if (!c->sites)
                goto fail;
            memcpy(c->sites, acc, (size_t)m->n_sites * sizeof(*acc));
            c->n_sites = m->n_sites;
            c->point = p;
            m->n_cps++;
            m->log_at_cp = li;
        }
    }
    free(acc);
    return 0;
fail:
    free(acc);
    return -1;
}

/* After a compaction: each party log entry takes the time of the first
 * point left at or after it, and entries of one party at one time become
 * one, so the party log coarsens as the timeline does (and stays bounded
 * with it). */
static int plog_compact(struct model *m)
{
    uint64_t *stamp = calloc(m->n_parties ? m->n_parties : 1, sizeof(*stamp));
    uint64_t *idx = calloc(m->n_parties ? m->n_parties : 1, sizeof(*idx));
    uint64_t w = 0, run = 0;
    int64_t run_time = INT64_MIN;
    uint32_t pi = 0;

    if (!stamp || !idx) {
        free(stamp);
        free(idx);
        return -1;
    }
    for (uint64_t i = 0; i < m->n_plog; i++) {
        struct party_delta e = m->plog[i];

        while (pi < m->n_points && m->points[pi].time < e.time)
            pi++;
        if (pi < m->n_points)
            e.time = m->points[pi].time;
        if (e.time != run_time) {
            run_time = e.time;
            run++;
        }
        if (stamp[e.party] == run) {
            fig_add(&m->plog[idx[e.party]].d, &e.d);
        } else {
            stamp[e.party] = run;
            idx[e.party] = w;
            m->plog[w++] = e;
        }
    }
    m->n_plog = w;
    free(stamp);
    free(idx);
    return 0;
}

/*
 * Bounded memory for long runs: when the log or the timeline passes its
 * budget, the older half of the timeline is merged pairwise (a point keeps
 * the later of two, its deltas summed per stack), so old history gets
 * coarser while recent history keeps full resolution. The peak, the totals
 * and the latest state are untouched.
 */
static int compact(struct model *m)
{
    uint32_t half = (m->n_points / 2) & ~1u, np = 0, *idx = NULL;
    uint64_t rd = 0, wr = 0;
    struct delta *tmp = NULL;
    uint32_t tmp_n = 0, tmp_cap = 0;

    if (half < 2)
        return 0;
    idx = calloc(m->n_nodes, sizeof(*idx));
    if (!idx)
        return -1;
    for (uint32_t p = 0; p < m->n_points; p++) {
        int merge = p < half && (p & 1) == 0; /* p joins p + 1 */
        uint64_t end = m->delta_end[p];

        for (; rd < end; rd++) {
            const struct delta *d = &m->log[rd];
            uint32_t k = idx[d->stack];
            if (!k) {
                if (model_grow32((void **)&tmp, &tmp_cap, tmp_n + 1, sizeof(*tmp))) {
                    free(idx);
                    free(tmp);
                    return -1;
                }
                tmp[tmp_n] = (struct delta){.stack = d->stack};
                k = idx[d->stack] = ++tmp_n;
            }
            fig_add(&tmp[k - 1].d, &d->d);
        }
        if (merge)
            continue;
        /* tmp has the deltas of the (merged) point: write them back */
        for (uint32_t i = 0; i < tmp_n; i++) {
            idx[tmp[i].stack] = 0;
            m->log[wr++] = tmp[i];
        }
        tmp_n = 0;
        if (p > 0 && p <= half && (p & 1)) { /* the later of a merged pair */
            m->points[p].flags |= m->points[p - 1].flags;
            /* the dropped point's state was reached in the span too */
            uint64_t before = m->points[p - 1].heap_max > m->points[p - 1].heap_bytes
                                  ? m->points[p - 1].heap_max
                                  : m->points[p - 1].heap_bytes;
            if (before > m->points[p].heap_max)
                m->points[p].heap_max = before;
        }
        m->points[np] = m->points[p];
        m->delta_end[np] = wr;
        np++;
    }
    free(idx);
    free(tmp);
    m->n_points = np;
    m->n_log = wr;
    if (plog_compact(m))
        return -1;
    return checkpoints_rebuild(m);
}

static int compact_maybe(struct model *m)
{
    if (m->n_log < m->next_compact_log && m->n_points < m->next_compact_points)
        return 0;
    if (compact(m) != 0)
        return -1;
    /* the timeline always shrinks by a quarter; when merging does not
     * shrink the log (every stack distinct), wait for it to grow by half
     * again: never a compaction per point */
    m->next_compact_points = m->point_budget;
    m->next_compact_log =
        m->n_log < m->log_budget - m->log_budget / 4 ? m->log_budget : m->n_log + m->n_log / 2;
    return 0;
}

void model_set_budget(struct model *m, uint64_t log_entries, uint32_t points)
{
    m->log_budget = m->next_compact_log = log_entries < 1024 ? 1024 : log_entries;
    m->point_budget = m->next_compact_points = points < 16 ? 16 : points;
}

/* Points stay in time order (model_point_at() searches them): one stamped
 * before the last point joins it in time. */
int model_log_point(struct model *m, const struct model_point *pin)
{
    struct model_point pt = *pin;
    const struct model_point *p = &pt;

    if (m->n_points && pt.time < m->points[m->n_points - 1].time)
        pt.time = m->points[m->n_points - 1].time;
    if (m->n_points == m->points_cap) {
        uint32_t cap = m->points_cap;

        if (model_grow32((void **)&m->points, &cap, m->n_points + 1, sizeof(*m->points)))
            return -1;
        uint32_t cap2 = m->points_cap;
        if (model_grow32((void **)&m->delta_end, &cap2, m->n_points + 1, sizeof(*m->delta_end)))
            return -1;
        m->points_cap = cap;
    }
    m->points[m->n_points] = *p;
    m->delta_end[m->n_points] = m->n_log;
    m->n_points++;
    if (m->sum.time_first == 0 && m->n_points == 1)
        m->sum.time_first = p->time;
    if (compact_maybe(m) != 0)
        return -1;
    return checkpoint_maybe(m);
}

int model_log_bucket_close(struct model *m, int64_t time, uint64_t rss)
{
    struct model_point p;

    if (!m->bucket_open)
        return 0;
    if (!m->n_points) {
        /* the timeline begins at the first event, in the state before it:
         * the first bucket's peak (a 12 ms program's whole run) is drawn
         * from there, not before the graph's first column */
        m->first_before.rss = rss;
        if (model_log_point(m, &m->first_before))
            return -1;
    }
    for (uint32_t i = 0; i < m->n_pend; i++) {
        m->pend_idx[m->pend[i].stack] = 0;
        if (model_log_push(m, m->pend[i].stack, &m->pend[i].d))
            return -1;
    }
    m->n_pend = 0;
    m->bucket_open = 0;
    if (time < m->bucket_last)
        time = m->bucket_last;
    /* points stay in time order: events drained after an event-less tick
     * may be stamped before it */
    if (m->n_points && time < m->points[m->n_points - 1].time)
        time = m->points[m->n_points - 1].time;
    if (model_events_party_close(m, time))
        return -1;
    p = model_events_totals(m, time);
    p.rss = rss;
    p.heap_max = m->bucket_max;
    return model_log_point(m, &p);
}

int model_log_prepend(struct model *m, const struct model_point *pts, uint32_t k)
{
    uint32_t cap = m->points_cap, cap2 = m->points_cap;

    if (model_grow32((void **)&m->points, &cap, m->n_points + k, sizeof(*m->points)) ||
        model_grow32((void **)&m->delta_end, &cap2, m->n_points + k, sizeof(*m->delta_end)))
        return -1;
    m->points_cap = cap;
    memmove(m->points + k, m->points, m->n_points * sizeof(*m->points));
    memmove(m->delta_end + k, m->delta_end, m->n_points * sizeof(*m->delta_end));
    memcpy(m->points, pts, k * sizeof(*pts));
    for (uint32_t i = 0; i < k; i++)
        m->delta_end[i] = 0;
    for (uint32_t i = 0; i < m->n_cps; i++)
        m->cps[i].point += k;
    m->n_points += k;
    m->sum.time_first = m->points[0].time;
    return 0;
}

void model_log_between(const struct model *m, uint32_t from, uint32_t to, struct log_cursor *c)
{
    uint64_t a = from == MODEL_NONE ? 0 : m->delta_end[from];
    uint64_t b = to == MODEL_NONE ? 0 : m->delta_end[to];

    if (!m->log) { /* nothing logged yet */
        c->at = c->end = NULL;
        return;
    }
    c->at = m->log + a;
    c->end = m->log + (b > a ? b : a);
}

void model_log_sites_at(const struct model *m, uint32_t p, struct fig *out)
{
    uint64_t from = 0, to;
    uint32_t lo = 0, hi = m->n_cps, cp = MODEL_NONE;

    memset(out, 0, (size_t)m->n_sites * sizeof(*out));
    if (p == MODEL_NONE)
        return;
    while (lo < hi) { /* last checkpoint with point <= p */
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->cps[mid].point <= p) {
            cp = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (cp != MODEL_NONE) {
        memcpy(out, m->cps[cp].sites, (size_t)m->cps[cp].n_sites * sizeof(*out));
        from = m->delta_end[m->cps[cp].point];
    }
    to = m->delta_end[p];
    for (uint64_t i = from; i < to; i++) {
        uint32_t s = m->nodes[m->log[i].stack].site;
        if (s != MODEL_NONE)
            fig_add(&out[s], &m->log[i].d);
    }
}

/* ------------------------------------------------------- timeline queries */

const struct model_point *model_timeline(const struct model *m, uint32_t *n)
{
    *n = m->n_points;
    return m->points;
}

uint32_t model_point_at(const struct model *m, int64_t t)
{
    uint32_t lo = 0, hi = m->n_points;

    if (!m->n_points || m->points[0].time > t)
        return MODEL_NONE;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->points[mid].time <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void model_sample_totals(const struct model *m, int64_t t0, int64_t t1, uint32_t k, int64_t *heap,
                         int64_t *rss)
{
    for (uint32_t i = 0; i < k; i++) {
        int64_t t = k == 1 ? t1 : t0 + (int64_t)((double)(t1 - t0) * i / (k - 1));
        uint32_t p = model_point_at(m, t);

        if (heap)
            heap[i] = p == MODEL_NONE ? 0 : (int64_t)m->points[p].heap_bytes;
        if (rss)
            rss[i] = p == MODEL_NONE ? 0 : (int64_t)m->points[p].rss;
    }
}

void model_range_max(const struct model *m, uint32_t i, uint32_t j, uint64_t *heap, uint64_t *rss)
{
    uint64_t h = 0, r = 0;
    uint32_t k;

    if (j > m->n_points)
        j = m->n_points;
    if (i != MODEL_NONE && i < j) /* the state the span starts in */
        h = m->points[i].heap_bytes, r = m->points[i].rss;
    for (k = i == MODEL_NONE ? 0 : i + 1; k <= j && k < m->n_points; k++) {
        if (m->points[k].heap_max > h)
            h = m->points[k].heap_max;
        if (k < j && m->points[k].heap_bytes > h)
            h = m->points[k].heap_bytes;
        if (k < j && m->points[k].rss > r)
            r = m->points[k].rss;
    }
    if (heap)
        *heap = h;
    if (rss)
        *rss = r;
}
