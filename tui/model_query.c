/*
 * model_query.c - the state at a time: every site's figures at a time point
 * (model_view_at), the stream position of that state, sorting and filtering
 * rows, and the split of sites by thread or tag.
 *
 * Invariant: queries only read the model (const), so any number of views
 * may hold their results; the log is read through model_log.c's cursor.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------- state at a time */

int64_t model_query_resolve(const struct model *m, const struct model_query *q, uint32_t *p,
                            int *latest, int *peak)
{
    *latest = *peak = 0;
    *p = MODEL_NONE;
    if (q->at == MODEL_AT_END ||
        (q->at == MODEL_AT_TIME && q->time >= m->sum.time_last &&
         (m->n_points == 0 || q->time >= m->points[m->n_points - 1].time))) {
        *latest = 1;
        return q->at == MODEL_AT_END ? m->sum.time_last : q->time;
    }
    if (q->at == MODEL_AT_PEAK) {
        if (m->sum.events_exact && m->any_event) {
            *peak = 1;
        } else {
            *p = model_point_at(m, m->sum.peak_time);
        }
        return m->sum.peak_time;
    }
    *p = model_point_at(m, q->time);
    return q->time;
}

static void sites_resolved(const struct model *m, uint32_t p, int latest, int peak, struct fig *out)
{
    if (latest) {
        if (m->n_sites)
            memcpy(out, m->site_cur, (size_t)m->n_sites * sizeof(*out));
    } else if (peak) {
        /* pk holds every stack's figures at the last peak */
        memset(out, 0, (size_t)m->n_sites * sizeof(*out));
        for (uint32_t s = 0; s < m->n_nodes; s++)
            if (m->nodes[s].site != MODEL_NONE)
                fig_add(&out[m->nodes[s].site], &m->pk[s]);
    } else {
        model_log_sites_at(m, p, out);
    }
}

/* Fills every row's sparkline: the per-site live bytes at spark_points
 * times over [spark_from, spark_to], in one sweep of the log from the state
 * at spark_from. acc is scratch (n_sites entries). */
static int view_spark(const struct model *m, const struct model_query *q, struct model_view *v,
                      struct fig *acc)
{
    uint32_t ns = m->n_sites, k = q->spark_points, pi;
    size_t need = (size_t)ns * k;

    if (v->spark_cap < need) {
        int64_t *b = realloc(v->spark_buf, need * sizeof(*b));
        if (!b)
            return -1;
        v->spark_buf = b;
        v->spark_cap = need;
    }
    /* sweep: state at spark_from, then forward point by point */
    pi = model_point_at(m, q->spark_from);
    model_log_sites_at(m, pi, acc);
    pi = pi == MODEL_NONE ? 0 : pi + 1;
    for (uint32_t j = 0; j < k; j++) {
        int64_t st =
            k == 1 ? q->spark_to
                   : q->spark_from + (int64_t)((double)(q->spark_to - q->spark_from) * j / (k - 1));
        while (pi < m->n_points && m->points[pi].time <= st) {
            struct log_cursor c;
            const struct delta *d;

            model_log_between(m, pi ? pi - 1 : MODEL_NONE, pi, &c);
            while ((d = log_cursor_next(&c)) != NULL) {
                uint32_t s = m->nodes[d->stack].site;
                if (s != MODEL_NONE)
                    fig_add(&acc[s], &d->d);
            }
            pi++;
        }
        const struct fig *src = pi >= m->n_points && st >= m->sum.time_last ? m->site_cur : acc;
        for (uint32_t s = 0; s < ns; s++)
            v->spark_buf[(size_t)s * k + j] = src[s].live_bytes;
    }
    for (uint32_t s = 0; s < ns; s++)
        v->rows[s].spark = v->spark_buf + (size_t)s * k;
    return 0;
}

int model_view_at(const struct model *m, const struct model_query *q, struct model_view *v)
{
    uint32_t ns = m->n_sites, p;
    int latest, peak;
    struct fig *now, *then = NULL;
    int64_t t;

    if (v->rows_cap < ns || !v->rows) {
        struct model_row *r = realloc(v->rows, (size_t)(ns ? ns : 1) * sizeof(*r));
        if (!r)
            return -1;
        v->rows = r;
        v->rows_cap = ns ? ns : 1;
    }
    now = calloc(ns ? ns : 1, sizeof(*now));
    if (!now)
        return -1;
    t = model_query_resolve(m, q, &p, &latest, &peak);
    sites_resolved(m, p, latest, peak, now);
    v->time = t;
    if (latest)
        v->totals = model_events_totals(m, t);
    else if (peak)
        v->totals = m->peak_pt;
    else if (p == MODEL_NONE)
        v->totals = (struct model_point){.time = t};
    else
        v->totals = m->points[p];
    if (!latest && !peak)
        v->totals.time = t;
    if (peak) { /* rss of the point that holds the peak (the first one if none yet) */
        uint32_t pp = model_point_at(m, t);
        v->totals.rss = 0;
        if (pp == MODEL_NONE && m->n_points)
            pp = 0;
        else if (pp != MODEL_NONE && m->points[pp].time < t && pp + 1 < m->n_points)
            pp++;
        if (pp != MODEL_NONE)
            v->totals.rss = m->points[pp].rss;
    }

    if (q->window > 0) {
        then = calloc(ns ? ns : 1, sizeof(*then));
        if (!then) {
            free(now);
            return -1;
        }
        model_log_sites_at(m, model_point_at(m, t - q->window), then);
    }
    for (uint32_t s = 0; s < ns; s++) {
        struct model_row *r = &v->rows[s];
        const struct site_ext *e = ext_at(m, s);

        *r = (struct model_row){
            .site = s,
            .group = MODEL_NONE,
            .live_bytes = now[s].live_bytes,
            .live_blocks = now[s].live_blocks,
            .allocations = now[s].allocations,
            .bytes_allocated = now[s].bytes_allocated,
            .growth = wsub(now[s].live_bytes, then ? then[s].live_bytes : 0),
            .peak_bytes = e->peak_bytes,
            .leaked_bytes = m->site_cur[s].live_bytes > 0 ? (uint64_t)m->site_cur[s].live_bytes : 0,
            .leaked_blocks =
                m->site_cur[s].live_blocks > 0 ? (uint64_t)m->site_cur[s].live_blocks : 0,
            .temporary = e->temporary};
    }
    v->n_rows = ns;
    free(then);

    if (q->spark_points > 0 && ns > 0 && view_spark(m, q, v, now) != 0) {
        free(now);
        return -1;
    }
    free(now);
    return 0;
}

int model_query_events(const struct model *m, const struct model_query *q, uint64_t *events)
{
    uint32_t p;
    int latest, peak;

    model_query_resolve(m, q, &p, &latest, &peak);
    if (latest)
        *events = m->sum.events;
    else if (peak)
        *events = m->peak_pt.events;
    else
        *events = p == MODEL_NONE ? 0 : m->points[p].events;
    return latest || *events == m->sum.events;
}

void model_view_free(struct model_view *v)
{
    free(v->rows);
    free(v->spark_buf);
    memset(v, 0, sizeof(*v));
}

/* --------------------------------------------------------- sort, filter */

struct row_order {
    const struct model *m;
    int key, reverse;
};

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? 1 : a > b ? -1 : 0; /* largest first */
}

static int row_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct model_row *a = pa, *b = pb;
    const struct row_order *o = ctx;
    int c = 0;

    switch (o->key) {
    case MODEL_SORT_LIVE_BYTES:
        c = cmp_i64(a->live_bytes, b->live_bytes);
        break;
    case MODEL_SORT_LIVE_BLOCKS:
        c = cmp_i64(a->live_blocks, b->live_blocks);
        break;
    case MODEL_SORT_ALLOCATIONS:
        c = cmp_i64((int64_t)a->allocations, (int64_t)b->allocations);
        break;
    case MODEL_SORT_BYTES_ALLOCATED:
        c = cmp_i64((int64_t)a->bytes_allocated, (int64_t)b->bytes_allocated);
        break;
    case MODEL_SORT_GROWTH:
        c = cmp_i64(a->growth, b->growth);
        break;
    case MODEL_SORT_PEAK:
        c = cmp_i64((int64_t)a->peak_bytes, (int64_t)b->peak_bytes);
        break;
    case MODEL_SORT_LEAKED:
        c = cmp_i64((int64_t)a->leaked_bytes, (int64_t)b->leaked_bytes);
        break;
    case MODEL_SORT_TEMPORARY:
        c = cmp_i64((int64_t)a->temporary, (int64_t)b->temporary);
        break;
    case MODEL_SORT_FUNCTION:
        c = strcmp(model_site(o->m, a->site)->function, model_site(o->m, b->site)->function);
        break;
    case MODEL_SORT_FILE: {
        const struct model_site *x = model_site(o->m, a->site);
        const struct model_site *y = model_site(o->m, b->site);
        c = strcmp(x->file, y->file);
        if (!c)
            c = x->line < y->line ? -1 : x->line > y->line;
        break;
    }
    }
    if (o->reverse)
        c = -c;
    if (!c)
        c = a->site < b->site ? -1 : a->site > b->site;
    return c;
}

void model_rows_sort(const struct model *m, struct model_row *rows, uint32_t n, int key,
                     int reverse)
{
    struct row_order o = {m, key, reverse};

    qsort_r(rows, n, sizeof(*rows), row_cmp, &o);
}

int model_text_matches(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (!n)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

uint32_t model_rows_filter(const struct model *m, struct model_row *rows, uint32_t n,
                           const struct model_filter *f)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < n; i++) {
        const struct model_row *r = &rows[i];
        const struct model_site *s = model_site(m, r->site);

        if (!s)
            continue;
        if ((f->flags & MODEL_FILTER_ACTIVE) && r->live_bytes == 0 && r->allocations == 0)
            continue;
        if ((f->flags & MODEL_FILTER_LIVE) && r->live_bytes <= 0)
            continue;
        if ((f->flags & MODEL_FILTER_LEAKS) && r->leaked_bytes == 0)
            continue;
        if ((f->flags & MODEL_FILTER_TEMPORARY) && r->temporary == 0)
            continue;
        if (f->tag != MODEL_NONE && !model_site_has_tag(m, r->site, f->tag))
            continue;
        if (f->thread != MODEL_NONE && !model_site_has_thread(m, r->site, f->thread))
            continue;
        if (f->text && *f->text && !model_text_matches(s->function, f->text) &&
            !model_text_matches(s->file, f->text) && !model_text_matches(s->module, f->text))
            continue;
        rows[k++] = *r;
    }
    return k;
}

/* ------------------------------------------------------- thread and tag */

static int group_row_cmp(const void *pa, const void *pb)
{
    const struct model_group_row *a = pa, *b = pb;

    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

int model_group_rows(const struct model *m, const struct model_query *q, int by_thread,
                     struct model_group_row **out)
{
    struct model_group_row *r;
    struct fig *f = NULL;
    uint32_t n = 0, k = 0, p;
    int latest, peak;
    /* events give each block's thread and tag: all of them (events rule), or
     * those allocated since an attach while no event was missed */
    int known = m->sum.events_exact || !m->sum.missed;

    *out = NULL;
    model_query_resolve(m, q, &p, &latest, &peak);
    if (known && !latest && !peak) {
        /* the party log up to the point's time (MODEL_NONE: nothing yet) */
        f = calloc(m->n_parties ? m->n_parties : 1, sizeof(*f));
        if (!f)
            return -1;
        for (uint64_t i = 0; p != MODEL_NONE && i < m->n_plog; i++)
            if (m->plog[i].time <= m->points[p].time)
                fig_add(&f[m->plog[i].party], &m->plog[i].d);
    }
    r = malloc(((size_t)m->n_parties + m->n_sites + 1) * sizeof(*r));
    if (!r) {
        free(f);
        return -1;
    }
    for (uint32_t i = 0; known && i < m->n_parties; i++) {
        const struct party *pt = &m->parties[i];
        const struct fig *x = latest ? &pt->cur : peak ? &pt->pk : &f[i];

        if (!x->allocations && !x->live_bytes && !x->live_blocks)
            continue;
        r[n++] = (struct model_group_row){by_thread ? pt->thread : pt->tag,
                                          pt->site,
                                          x->live_bytes,
                                          x->live_blocks,
                                          x->allocations,
                                          x->bytes_allocated};
        if (m->sum.sample_rate) { /* fixed point (party_weight), rounded as the sites are */
            r[n - 1].live_blocks = (x->live_blocks + 32768) >> 16;
            r[n - 1].allocations = (x->allocations + 32768) >> 16;
        }
    }
    free(f);
    /* parties that differ only in the other dimension add up */
    qsort(r, n, sizeof(*r), group_row_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (k && r[k - 1].group == r[i].group && r[k - 1].site == r[i].site) {
            r[k - 1].live_bytes += r[i].live_bytes;
            r[k - 1].live_blocks += r[i].live_blocks;
            r[k - 1].allocations += r[i].allocations;
            r[k - 1].bytes_allocated += r[i].bytes_allocated;
        } else {
            r[k++] = r[i];
        }
    }
    if (!m->sum.events_exact && !(m->sum.sample_rate && !m->sum.missed && !m->sum.attached)) {
        /* ticks rule: what the known rows leave of each site (blocks from
         * before the attach, or everything after a miss) is not known. A
         * sampled run seen whole has no such blocks: every sample is an
         * event, and the rows' weights are the sites' own up to rounding. */
        struct model_view v = {0};
        struct fig *acc = calloc(m->n_sites ? m->n_sites : 1, sizeof(*acc));
        uint32_t nk = k;

        if (!acc || model_view_at(m, q, &v) != 0) {
            free(acc);
            model_view_free(&v);
            free(r);
            return -1;
        }
        for (uint32_t i = 0; i < nk; i++)
            if (r[i].site < m->n_sites)
                fig_add(&acc[r[i].site], &(struct fig){r[i].live_bytes, r[i].live_blocks,
                                                       r[i].allocations, r[i].bytes_allocated});
        for (uint32_t i = 0; i < v.n_rows; i++) {
            const struct model_row *w = &v.rows[i];
            const struct fig *a = &acc[w->site];
            struct model_group_row x = {
                MODEL_NONE,
                w->site,
                wsub(w->live_bytes, a->live_bytes),
                wsub(w->live_blocks, a->live_blocks),
                w->allocations > a->allocations ? w->allocations - a->allocations : 0,
                w->bytes_allocated > a->bytes_allocated ? w->bytes_allocated - a->bytes_allocated
                                                        : 0};
            if (x.live_bytes || x.live_blocks || x.allocations)
                r[k++] = x;
        }
        model_view_free(&v);
        free(acc);
        qsort(r, k, sizeof(*r), group_row_cmp);
    }
    *out = r;
    return (int)k;
}

uint32_t model_rows_sites(const struct model *m, const struct model_row *rows, uint32_t n)
{
    uint32_t all = model_site_count(m), k = 0;
    unsigned char *seen = calloc(all ? all : 1, 1);

    if (!seen)
        return n;
    for (uint32_t i = 0; i < n; i++)
        if (rows[i].site < all && !seen[rows[i].site]) {
            seen[rows[i].site] = 1;
            k++;
        }
    free(seen);
    return k;
}
