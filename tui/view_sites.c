/*
 * view_sites.c - the call-site table.
 *
 * The rows come from model_view_at() (ui->mv, recomputed by ui.c); this view
 * filters, sorts and groups them into lines and keeps the selection on the
 * same site id across live updates. Drawing touches only the visible lines,
 * so tens of thousands of sites scroll without lag.
 */
#include "view_sites.h"

#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "diff.h"
#include "estimate.h"
#include "keys.h"
#include "model.h"
#include "size.h"
#include "view_ctx.h"
#include "ui.h"
#include "widget.h"

#define SORT_CHANGE (-100) /* the view's own sort (no model_sort) */

static const struct {
    int key;
    const char *name;
} sort_keys[] = {
    {MODEL_SORT_LIVE_BYTES, "live bytes"},
    {MODEL_SORT_LIVE_BLOCKS, "blocks"},
    {MODEL_SORT_ALLOCATIONS, "allocations"},
    {MODEL_SORT_GROWTH, "growth"},
    {MODEL_SORT_BYTES_ALLOCATED, "total"},
    {MODEL_SORT_PEAK, "peak"},
    {MODEL_SORT_LEAKED, "leaked"},
    {MODEL_SORT_TEMPORARY, "temporaries"},
    {MODEL_SORT_FUNCTION, "function"},
    {MODEL_SORT_FILE, "file"},
    {SORT_CHANGE, "change"}, /* replay --against only: the largest change first */
};
#define N_SORT ((int)(sizeof sort_keys / sizeof sort_keys[0]))

struct view_sites {
    struct view_line *lines;
    uint32_t n_lines, cap;
    uint32_t sel_site; /* the selected site (stable id), MODEL_NONE: none yet */
    int chosen;        /* the cursor was moved: it follows its site; until then (and after
                        * g) it stays on the first line, whatever site the sort puts there */
    uint32_t sel_group;
    int sel, top; /* selected line, first line shown */
    int sort, reverse;
    int group; /* enum view_group */
    char filter[128];
    /* replay --against: the base, the state of it that was asked, and the
     * change of live bytes per site id of ui->m (B minus A) */
    struct diff_base *base;
    int base_at;
    int64_t base_time;
    int64_t *change;
    uint32_t change_cap;
};

static struct view_sites *state(const struct ui *ui)
{
    return ui->data[VIEW_SITES];
}

static int sites_open(struct ui *ui)
{
    struct view_sites *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    v->sel_site = MODEL_NONE;
    v->base_at = -1;
    if (ui->opt && ui->opt->against)
        v->sort = N_SORT - 1; /* a comparison opens on the largest change */
    ui->data[VIEW_SITES] = v;
    return 0;
}

static int against(const struct ui *ui)
{
    return ui->opt && ui->opt->against;
}

/* The base at the cursor's state: its end, its peak, or as far from its
 * start as the cursor is from the run's. Returns 0, or -1 (out of memory). */
static int base_at_cursor(struct ui *ui)
{
    struct view_sites *v = state(ui);
    const struct model *a = ui->opt->against;
    const struct model_summary *sa = model_summary(a), *sb = model_summary(ui->m);
    struct model_query q;

    memset(&q, 0, sizeof q);
    q.at = ui->at == VIEW_AT_PEAK   ? MODEL_AT_PEAK
           : ui->at == VIEW_AT_TIME ? MODEL_AT_TIME
                                    : MODEL_AT_END;
    if (q.at == MODEL_AT_TIME) {
        q.time = sa->time_first + (ui->cursor - sb->time_first);
        if (q.time > sa->time_last)
            q.at = MODEL_AT_END; /* B runs longer: A's end */
        if (q.time < sa->time_first)
            q.time = sa->time_first;
    }
    if (v->base && v->base_at == q.at && (q.at != MODEL_AT_TIME || v->base_time == q.time))
        return 0;
    diff_base_free(v->base);
    v->base = diff_base_new(a, &q);
    v->base_at = v->base ? q.at : -1;
    v->base_time = q.time;
    return v->base ? 0 : -1;
}

/* The change of every site of ui->mv (rows by site id, before filtering). */
static void compute_change(struct ui *ui)
{
    struct view_sites *v = state(ui);
    uint32_t ns = model_site_count(ui->m);

    if (base_at_cursor(ui) != 0) {
        view_ctx_message(ui, "out of memory comparing with %s", ui->opt->against_name);
        return;
    }
    if (ns + 1 > v->change_cap) {
        int64_t *c = realloc(v->change, (ns + 1) * sizeof *c);
        if (!c)
            return;
        v->change = c;
        v->change_cap = ns + 1;
    }
    for (uint32_t i = 0; i < ns; i++) {
        int64_t a = 0;
        diff_base_live(v->base, ui->m, i, &a);
        v->change[i] = -a; /* a site B has no row for: gone to 0 */
    }
    for (uint32_t i = 0; i < ui->mv.n_rows; i++)
        if (ui->mv.rows[i].site < ns)
            v->change[ui->mv.rows[i].site] += ui->mv.rows[i].live_bytes;
}

static int64_t change_of(const struct view_sites *v, uint32_t site)
{
    return v->change && site < v->change_cap ? v->change[site] : 0;
}

static int cmp_change(const void *pa, const void *pb, void *ctx)
{
    const struct model_row *a = pa, *b = pb;
    int64_t x = change_of(ctx, a->site), y = change_of(ctx, b->site);
    uint64_t mx = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
    uint64_t my = y < 0 ? (uint64_t)0 - (uint64_t)y : (uint64_t)y;

    if (mx != my)
        return mx > my ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static void sites_reset(struct ui *ui)
{
    state(ui)->sel_site = MODEL_NONE;
    state(ui)->chosen = 0;
}

int view_sites_spark_cells(const struct ui *ui)
{
    return ui->cols >= 150 ? 24 : ui->cols >= 110 ? 16 : 10;
}

/* FILE:LINE gets half of what the figures leave, 16 to 40 cells (at 80
 * columns 19: leaky_service.py:76 whole). */
static int file_width(const struct ui *ui)
{
    int figures = 6 + 6 + 6 + 7 + view_sites_spark_cells(ui) + 6;
    if (ui->cols >= 130)
        figures += 6 + 6 + 2;
    int w = (ui->cols - figures) / 2;
    return w < 16 ? 16 : w > 40 ? 40 : w;
}

static int ensure_lines(struct view_sites *v, uint32_t n)
{
    if (n <= v->cap)
        return 0;
    uint32_t cap = v->cap ? v->cap : 256;
    while (cap < n)
        cap *= 2;
    struct view_line *l = realloc(v->lines, cap * sizeof *l);
    if (!l)
        return -1;
    v->lines = l;
    v->cap = cap;
    return 0;
}

/* Grouped: the rows become one per (group, site), each with the site's
 * figures within the thread or tag (model_group_rows: exact, a site reached
 * from two threads is under both with its share) and the row's group set.
 * Returns 0, or -1 (out of memory: the rows are left as they were). */
static int split_rows(struct ui *ui)
{
    struct model_view *mv = &ui->mv;
    struct model_query q;
    struct model_group_row *g;
    struct model_row *rows;
    int n;

    view_ctx_query(ui, &q);
    n = model_group_rows(ui->m, &q, state(ui)->group == VIEW_GROUP_THREAD, &g);
    if (n < 0)
        return -1;
    rows = malloc((n ? (size_t)n : 1) * sizeof(*rows));
    if (!rows) {
        free(g);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        /* mv->rows are by site id until filtered */
        rows[i] = g[i].site < mv->n_rows ? mv->rows[g[i].site] : (struct model_row){0};
        rows[i].site = g[i].site;
        rows[i].live_bytes = g[i].live_bytes;
        rows[i].live_blocks = g[i].live_blocks;
        rows[i].allocations = g[i].allocations;
        rows[i].bytes_allocated = g[i].bytes_allocated;
        rows[i].group = g[i].group;
    }
    free(g);
    free(mv->rows);
    mv->rows = rows;
    mv->n_rows = mv->rows_cap = (uint32_t)n;
    return 0;
}

struct group_sum {
    uint32_t id;
    int64_t bytes;
    uint32_t count;
};

static int cmp_group(const void *a, const void *b)
{
    const struct group_sum *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void view_sites_rebuild(struct ui *ui)
{
    struct view_sites *v = state(ui);
    struct model_view *mv = &ui->mv;
    struct model_filter f = {0};
    int sort = sort_keys[v->sort].key;

    if (ui->leaks && ui->mark >= 0) {
        /* "never freed since the mark": replace the leaked figures */
        uint32_t ns = model_site_count(ui->m);
        uint64_t *bytes = calloc(ns + 1, sizeof *bytes), *blocks = calloc(ns + 1, sizeof *blocks);
        if (bytes && blocks && model_live_since(ui->m, ui->mark, bytes, blocks) == 0) {
            for (uint32_t i = 0; i < mv->n_rows; i++) {
                uint32_t site = mv->rows[i].site;
                mv->rows[i].leaked_bytes = site < ns ? bytes[site] : 0;
                mv->rows[i].leaked_blocks = site < ns ? blocks[site] : 0;
            }
        }
        free(bytes);
        free(blocks);
    }
    if (against(ui))
        compute_change(ui);
    if (v->group != VIEW_GROUP_NONE)
        split_rows(ui);
    f.text = v->filter[0] ? v->filter : NULL;
    f.tag = MODEL_NONE;
    f.thread = MODEL_NONE;
    f.flags = MODEL_FILTER_ACTIVE;
    if (ui->leaks)
        f.flags |= MODEL_FILTER_LEAKS;
    if (ui->temporaries)
        f.flags |= MODEL_FILTER_TEMPORARY;
    mv->n_rows = model_rows_filter(ui->m, mv->rows, mv->n_rows, &f);
    if (sort == SORT_CHANGE) {
        qsort_r(mv->rows, mv->n_rows, sizeof *mv->rows, cmp_change, v);
        if (v->reverse)
            for (uint32_t a = 0, b = mv->n_rows; b > a + 1; a++, b--) {
                struct model_row t = mv->rows[a];
                mv->rows[a] = mv->rows[b - 1];
                mv->rows[b - 1] = t;
            }
    } else {
        model_rows_sort(ui->m, mv->rows, mv->n_rows, sort, v->reverse);
    }

    v->n_lines = 0;
    if (v->group == VIEW_GROUP_NONE) {
        if (ensure_lines(v, mv->n_rows) < 0)
            return;
        for (uint32_t i = 0; i < mv->n_rows; i++)
            v->lines[v->n_lines++] = (struct view_line){.row = i};
    } else {
        uint32_t limit =
            v->group == VIEW_GROUP_TAG ? model_tag_limit(ui->m) : model_thread_limit(ui->m);
        struct group_sum *g = calloc(limit + 1, sizeof *g);
        if (!g || ensure_lines(v, mv->n_rows + limit + 1) < 0) {
            free(g);
            return;
        }
        for (uint32_t i = 0; i <= limit; i++)
            g[i].id = i;
        g[limit].id = MODEL_NONE; /* not known: ticks rule (attached mid-run, or behind) */
        for (uint32_t i = 0; i < mv->n_rows; i++) {
            uint32_t id = mv->rows[i].group;
            if (id > limit)
                id = limit;
            g[id].bytes += mv->rows[i].live_bytes;
            g[id].count++;
        }
        qsort(g, limit + 1, sizeof *g, cmp_group);
        for (uint32_t k = 0; k <= limit; k++) {
            if (!g[k].count)
                continue;
            v->lines[v->n_lines++] = (struct view_line){
                .row = MODEL_NONE, .group = g[k].id, .bytes = g[k].bytes, .count = g[k].count};
            for (uint32_t i = 0; i < mv->n_rows; i++) {
                uint32_t id = mv->rows[i].group;
                if ((id >= limit ? MODEL_NONE : id) == g[k].id)
                    v->lines[v->n_lines++] = (struct view_line){.row = i};
            }
        }
        free(g);
    }

    /* keep the selection on the same site (or heading), or on the first
     * line until the user moves it (a program's first sites are its
     * start-up's, which the growing ones soon pass) */
    int found = v->chosen ? -1 : 0;
    for (uint32_t i = 0; v->chosen && i < v->n_lines && v->sel_site != MODEL_NONE; i++) {
        const struct view_line *l = &v->lines[i];
        if (l->row != MODEL_NONE && mv->rows[l->row].site == v->sel_site) {
            found = (int)i;
            break;
        }
    }
    if (found < 0 && v->chosen && v->sel_site == MODEL_NONE) {
        for (uint32_t i = 0; i < v->n_lines; i++)
            if (v->lines[i].row == MODEL_NONE && v->lines[i].group == v->sel_group) {
                found = (int)i;
                break;
            }
    }
    if (found >= 0)
        v->sel = found;
    view_sites_move(ui, 0, 0);
}

void view_sites_move(struct ui *ui, int delta, int to)
{
    struct view_sites *v = state(ui);
    int n = (int)v->n_lines;

    if (delta || to)
        v->chosen = !(to && delta == 0); /* g: the first line again */
    view_ctx_move(ui, &v->sel, &v->top, n, delta, to);
    if (n > 0) {
        const struct view_line *l = &v->lines[v->sel];
        if (l->row != MODEL_NONE) {
            v->sel_site = ui->mv.rows[l->row].site;
        } else {
            v->sel_site = MODEL_NONE;
            v->sel_group = l->group;
        }
    }
}

void view_sites_count(const struct ui *ui, char *buf, size_t n)
{
    uint32_t all = model_site_count(ui->m);
    int grouped = state(ui) && state(ui)->group != VIEW_GROUP_NONE;
    uint32_t shown = !ui->mv_valid ? all
                     : grouped     ? model_rows_sites(ui->m, ui->mv.rows, ui->mv.n_rows)
                                   : ui->mv.n_rows;
    if (shown == all)
        snprintf(buf, n, "%u site%s", all, all == 1 ? "" : "s");
    else
        snprintf(buf, n, "%u of %u sites", shown, all);
}

uint32_t view_sites_selected(const struct ui *ui)
{
    const struct view_sites *v = state(ui);
    if (v->sel < 0 || (uint32_t)v->sel >= v->n_lines)
        return MODEL_NONE;
    const struct view_line *l = &v->lines[v->sel];
    return l->row == MODEL_NONE ? MODEL_NONE : ui->mv.rows[l->row].site;
}

/* The third figure column: growth, or leaked bytes, or temporaries. */
static const char *third_head(const struct ui *ui)
{
    return ui->leaks ? "LEAKED" : ui->temporaries ? "TEMP" : "GROWTH";
}

static int sort_of_col(const char *head)
{
    if (!strcmp(head, "LIVE"))
        return MODEL_SORT_LIVE_BYTES;
    if (!strcmp(head, "BLOCKS"))
        return MODEL_SORT_LIVE_BLOCKS;
    if (!strcmp(head, "ALLOCS"))
        return MODEL_SORT_ALLOCATIONS;
    if (!strcmp(head, "GROWTH"))
        return MODEL_SORT_GROWTH;
    if (!strcmp(head, "LEAKED"))
        return MODEL_SORT_LEAKED;
    if (!strcmp(head, "TEMP"))
        return MODEL_SORT_TEMPORARY;
    if (!strcmp(head, "TOTAL"))
        return MODEL_SORT_BYTES_ALLOCATED;
    if (!strcmp(head, "PEAK"))
        return MODEL_SORT_PEAK;
    if (!strcmp(head, "FUNCTION"))
        return MODEL_SORT_FUNCTION;
    if (!strcmp(head, "FILE:LINE"))
        return MODEL_SORT_FILE;
    if (!strcmp(head, "CHANGE"))
        return SORT_CHANGE;
    return -1;
}

#define MAX_COLS 10

/* Builds the column heads; wide screens get TOTAL and PEAK too. */
static int heads(const struct ui *ui, struct widget_col *c, char bufs[][24])
{
    int wide = ui->cols >= 130;
    const char *names[MAX_COLS];
    int widths[MAX_COLS], n = 0;
    names[n] = "FUNCTION", widths[n++] = -1;
    names[n] = "FILE:LINE", widths[n++] = file_width(ui);
    names[n] = "LIVE", widths[n++] = 6;
    names[n] = "BLOCKS", widths[n++] = 6;
    names[n] = "ALLOCS", widths[n++] = 6;
    if (against(ui))
        names[n] = "CHANGE", widths[n++] = 7;
    names[n] = third_head(ui), widths[n++] = 7;
    if (wide) {
        names[n] = "TOTAL", widths[n++] = 6;
        names[n] = "PEAK", widths[n++] = 6;
    }
    names[n] = "TREND", widths[n++] = view_sites_spark_cells(ui);
    int sort = sort_keys[state(ui)->sort].key;
    for (int i = 0; i < n; i++) {
        int mark = sort_of_col(names[i]) == sort;
        snprintf(bufs[i], 24, "%s%s", names[i],
                 mark ? (state(ui)->reverse ? (ui->ascii ? "^" : "\u25b4")
                                            : (ui->ascii ? "v" : "\u25be"))
                      : "");
        c[i].text = bufs[i];
        c[i].width = widths[i];
        c[i].align = i < 2 || i == n - 1 ? WIDGET_LEFT : WIDGET_RIGHT;
    }
    return n;
}

static void draw_row(struct ui *ui, int y, const struct model_row *r, int selected)
{
    struct widget_col c[MAX_COLS];
    char hb[MAX_COLS][24];
    char name[160], where[512], live[16], blocks[16], allocs[16], third[16], total[16], peak[16];
    char change[16], fit[256];
    char spark[256], line[2048];
    int n = heads(ui, c, hb);
    const struct model_site *s = model_site(ui->m, r->site);
    if (!s)
        return; /* the model was reset since the rows were made: redrawn at once */

    int fw = ui->cols - (n - 1); /* FUNCTION's cells: what the other columns leave */
    for (int i = 1; i < n; i++)
        fw -= c[i].width;
    c[0].text = cxxname_fit(model_site_label(s, name, sizeof name), fw, ui->ascii, fit, sizeof fit);
    c[1].text = view_ctx_site_where(s, where, sizeof where);
    c[1].align = WIDGET_LEFT_CUT_HEAD;
    if (widget_width(c[1].text) > c[1].width) {
        /* too long: the file's base name keeps the part that tells */
        const char *slash = strrchr(c[1].text, '/');
        if (slash)
            c[1].text = slash + 1;
    }
    widget_fmt_bytes(live, sizeof live, r->live_bytes, 0);
    widget_fmt_count(blocks, sizeof blocks, (uint64_t)(r->live_blocks > 0 ? r->live_blocks : 0));
    widget_fmt_count(allocs, sizeof allocs, r->allocations);
    if (ui->leaks)
        widget_fmt_bytes(third, sizeof third, (int64_t)r->leaked_bytes, 0);
    else if (ui->temporaries)
        widget_fmt_count(third, sizeof third, r->temporary);
    else
        widget_fmt_bytes(third, sizeof third, r->growth, 1);
    if (model_summary(ui->m)->sample_rate) { /* sampling mode: estimates, marked "~" */
        estimate_mark(live, sizeof live);
        estimate_mark(blocks, sizeof blocks);
        estimate_mark(allocs, sizeof allocs);
        estimate_mark(third, sizeof third);
    }
    c[2].text = live;
    c[3].text = blocks;
    c[4].text = allocs;
    int k = 5;
    if (against(ui)) {
        widget_fmt_bytes(change, sizeof change, change_of(state(ui), r->site), 1);
        /* an estimate when either side is (replay of a sampled B, or against a sampled A) */
        if (model_summary(ui->m)->sample_rate || model_summary(ui->opt->against)->sample_rate)
            estimate_mark(change, sizeof change);
        c[k++].text = change;
    }
    int third_col = k;
    c[k++].text = third;
    if (ui->cols >= 130) {
        widget_fmt_bytes(total, sizeof total, (int64_t)r->bytes_allocated, 0);
        widget_fmt_bytes(peak, sizeof peak, (int64_t)r->peak_bytes, 0);
        if (model_summary(ui->m)->sample_rate) {
            estimate_mark(total, sizeof total);
            estimate_mark(peak, sizeof peak);
        }
        c[k++].text = total;
        c[k++].text = peak;
    }
    spark[0] = '\0';
    if (r->spark && ui->mv.rows && ui->mv_spark_points > 0) {
        int64_t max = 0;
        for (uint32_t i = 0; i < ui->mv_spark_points; i++)
            if (r->spark[i] > max)
                max = r->spark[i];
        widget_spark(spark, sizeof spark, r->spark, (int)ui->mv_spark_points, max, ui->spark_mode,
                     1, 0);
    }
    c[k].text = spark;
    widget_row(line, sizeof line, c, n, ui->cols);
    int attr = selected ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL;
    view_ctx_put(y, 0, line, ui->cols, attr);
    if (!selected && ui->color && !ui->leaks && !ui->temporaries && r->growth > 0) {
        /* colour the growth figure: its place follows from the layout */
        int fixed = n - 1;
        for (int i = 1; i < n; i++)
            fixed += c[i].width;
        int x = (ui->cols - fixed > 0 ? ui->cols - fixed : 0) + 1;
        for (int i = 1; i < third_col; i++)
            x += c[i].width + 1;
        mvchgat(y, x, 7, A_BOLD, VIEW_PAIR_GROW, NULL);
    }
    /* the time cursor inside the trend: the cell in reverse video */
    int cells = c[n - 1].width;
    int64_t t0 = ui->mv_spark_from, t1 = ui->mv_spark_to, tc = view_ctx_cursor_time(ui);
    if (spark[0] && cells > 0 && t1 > t0 && ui->at != VIEW_AT_FOLLOW) {
        /* the model samples at t0 + (t1 - t0) * j / (k - 1) */
        int np = (int)ui->mv_spark_points, per = widget_spark_per_cell(ui->spark_mode);
        long double f = np > 1 ? (long double)(tc - t0) * (np - 1) / (long double)(t1 - t0) : 0;
        int j = f < 0 ? 0 : (int)ceill(f); /* the first sample at or after the cursor */
        int cc = j / per >= cells ? cells - 1 : j / per;
        mvchgat(y, ui->cols - cells + cc, 1, (attr_t)attr ^ A_REVERSE, (short)PAIR_NUMBER(attr),
                NULL);
    }
}

static void draw_heading(struct ui *ui, int y, const struct view_line *l, int selected)
{
    char line[512], bytes[16];
    const char *name = NULL;
    char tbuf[64];
    widget_fmt_bytes(bytes, sizeof bytes, l->bytes, 0);
    if (model_summary(ui->m)->sample_rate) /* sampling mode: a sum of estimates */
        estimate_mark(bytes, sizeof bytes);
    if (l->group == MODEL_NONE) {
        /* blocks whose thread and tag no event gave: allocated before a
         * client attached, or told of while events were missed */
        snprintf(line, sizeof line, "%s not known (%s): %s live in %u site%s",
                 state(ui)->group == VIEW_GROUP_TAG ? "tag" : "thread",
                 model_summary(ui->m)->attached ? "before the attach" : "events missed", bytes,
                 l->count, l->count == 1 ? "" : "s");
    } else if (state(ui)->group == VIEW_GROUP_TAG) {
        name = l->group ? model_tag_name(ui->m, l->group) : "(no tag)";
        if (!name)
            name = "?";
        snprintf(line, sizeof line, "tag %s: %s live in %u site%s", name, bytes, l->count,
                 l->count == 1 ? "" : "s");
    } else {
        const struct model_thread *t = model_thread(ui->m, l->group);
        if (t && t->name[0])
            snprintf(tbuf, sizeof tbuf, "%s (tid %u)", t->name, t->os_tid);
        else if (t)
            snprintf(tbuf, sizeof tbuf, "tid %u", t->os_tid);
        else
            snprintf(tbuf, sizeof tbuf, "#%u", l->group);
        snprintf(line, sizeof line, "thread %s: %s live in %u site%s", tbuf, bytes, l->count,
                 l->count == 1 ? "" : "s");
    }
    int attr =
        selected ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : view_ctx_attr(ui, VIEW_PAIR_COLHEAD);
    view_ctx_put(y, 0, line, ui->cols, attr);
}

static void draw_detail(struct ui *ui, int y)
{
    char line[1024], lb[32], blocks[32], allocs[32], total[16], peak[16], name[160], where[600];
    uint32_t site = view_sites_selected(ui);
    if (site == MODEL_NONE) {
        const char *s = state(ui)->n_lines        ? ""
                        : state(ui)->filter[0]    ? "no site matches the filter"
                        : ui->leaks               ? "no leaks: nothing allocated is live at the end"
                        : ui->temporaries         ? "no short-lived allocations"
                        : model_site_count(ui->m) ? "no site has live bytes or allocations here"
                                                  : "no allocation sites yet";
        view_ctx_put(y, 0, s, ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM));
        return;
    }
    const struct model_row *r = &ui->mv.rows[state(ui)->lines[state(ui)->sel].row];
    const struct model_site *s = model_site(ui->m, site);
    if (!s)
        return;
    widget_fmt_exact(lb, sizeof lb, r->live_bytes);
    widget_fmt_exact(blocks, sizeof blocks, r->live_blocks);
    widget_fmt_exact(allocs, sizeof allocs, (int64_t)r->allocations);
    widget_fmt_bytes(total, sizeof total, (int64_t)r->bytes_allocated, 0);
    widget_fmt_bytes(peak, sizeof peak, (int64_t)r->peak_bytes, 0);
    uint64_t rate = model_summary(ui->m)->sample_rate;
    /* the file by its whole path, else by its name, then without the module,
     * then without either (the table's row above shows them), then without
     * the bytes allocated, when the line would be cut: at 80 columns a path
     * pushed "total" and "peak" off */
    const char *label = model_site_label(s, name, sizeof name);
    char fit[256];
    int over = 0, over0 = 0;
    for (int step = 0; step < 10; step++) {
        int pass = step % 5;
        const char *mod = (pass == 2 && s->file[0]) || pass >= 3 ? "" : s->module;

        if (step == 5) { /* still too long: a C++ name as the table shows it, then again */
            int w = widget_width(label) - over0;
            label = cxxname_fit(label, w > 20 ? w : 20, ui->ascii, fit, sizeof fit);
        }

        if (s->file[0] && pass < 3)
            snprintf(where, sizeof where, "  %s:%u%s%s", pass ? view_ctx_base(s->file) : s->file,
                     s->line, *mod ? " " : "", mod);
        else /* no debug information: the module says enough */
            snprintf(where, sizeof where, "%s%s", *mod ? "  " : "", mod);
        if (rate) {
            char err[40], berr[48] = "", eb[32];

            estimate_format_bound(err, sizeof err,
                                  estimate_error(rate, r->live_bytes, r->live_blocks));
            /* the blocks' bound while there is room: it goes last of all but the name */
            if (pass < 4) {
                widget_fmt_exact(
                    eb, sizeof eb,
                    (int64_t)estimate_blocks_error(rate, r->live_bytes, r->live_blocks));
                snprintf(berr, sizeof berr, " +-%s", eb);
            }
            snprintf(line, sizeof line,
                     "%s: estimated (sampled): live ~%s B %s (95%%), ~%s block%s%s, ~%s alloc%s%s",
                     label, lb, err, blocks, r->live_blocks == 1 ? "" : "s", berr, allocs,
                     r->allocations == 1 ? "" : "s", where);
        } else {
            char tp[48];

            if (pass < 4)
                snprintf(tp, sizeof tp, "total %s, peak %s", total, peak);
            else
                snprintf(tp, sizeof tp, "peak %s", peak);
            snprintf(line, sizeof line, "%s: live %s B, %s block%s, %s alloc%s%s  %s", label, lb,
                     blocks, r->live_blocks == 1 ? "" : "s", allocs, r->allocations == 1 ? "" : "s",
                     where, tp);
        }
        over = widget_width(line) - ui->cols;
        if (over <= 0)
            break;
        if (step == 0)
            over0 = over;
    }
    view_ctx_put(y, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM) | A_BOLD);
}

void view_sites_draw(struct ui *ui, int y, int h)
{
    struct view_sites *v = state(ui);
    struct widget_col c[MAX_COLS];
    char hb[MAX_COLS][24], line[2048];

    if (h < 3)
        return;
    int n = heads(ui, c, hb);
    widget_row(line, sizeof line, c, n, ui->cols);
    view_ctx_put(y, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    ui->table_y = y + 1;
    ui->table_h = h - 2;
    view_sites_move(ui, 0, 0);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= (int)v->n_lines) {
            view_ctx_put(y + 1 + i, 0, "", ui->cols, A_NORMAL);
            continue;
        }
        const struct view_line *l = &v->lines[li];
        if (l->row == MODEL_NONE)
            draw_heading(ui, y + 1 + i, l, li == v->sel);
        else
            draw_row(ui, y + 1 + i, &ui->mv.rows[l->row], li == v->sel);
    }
    draw_detail(ui, y + h - 1);
}

void view_sites_free(struct ui *ui)
{
    struct view_sites *v = state(ui);
    if (v) {
        free(v->lines);
        free(v->change);
        diff_base_free(v->base);
    }
    free(v);
    ui->data[VIEW_SITES] = NULL;
}

const struct view_line *view_sites_lines(const struct ui *ui, uint32_t *n, int *sel)
{
    const struct view_sites *v = state(ui);
    *n = v->n_lines;
    if (sel)
        *sel = v->sel;
    return v->lines;
}

const char *view_sites_filter(const struct ui *ui)
{
    return state(ui)->filter;
}

void view_sites_set_filter(struct ui *ui, const char *text)
{
    snprintf(state(ui)->filter, sizeof state(ui)->filter, "%s", text);
}

void view_sites_set_group(struct ui *ui, int group)
{
    state(ui)->group = group;
}

const struct view_ops view_sites_ops = {
    .name = "sites",
    .keys = KEYS_SITES,
    .filter = view_sites_filter,
    .set_filter = view_sites_set_filter,
    .open = sites_open,
    .draw = view_sites_draw,
    .move = view_sites_move,
    .update = view_sites_rebuild,
    .reset = sites_reset,
    .free = view_sites_free,
};

/* ---- actions ---- */

/* The sorts on offer: the change only in a comparison (the last row). */
static int n_sorts(const struct ui *ui)
{
    return against(ui) ? N_SORT : N_SORT - 1;
}

int ui_act_sort_next(struct ui *ui, int key)
{
    state(ui)->sort = (state(ui)->sort + 1) % n_sorts(ui);
    view_ctx_message(ui, "sorted by %s", sort_keys[state(ui)->sort].name);
    return KEYS_REQUERY;
}

int ui_act_sort_prev(struct ui *ui, int key)
{
    state(ui)->sort = (state(ui)->sort + n_sorts(ui) - 1) % n_sorts(ui);
    view_ctx_message(ui, "sorted by %s", sort_keys[state(ui)->sort].name);
    return KEYS_REQUERY;
}

int ui_act_sort_reverse(struct ui *ui, int key)
{
    state(ui)->reverse = !state(ui)->reverse;
    return KEYS_REQUERY;
}

int ui_act_filter(struct ui *ui, int key)
{
    const struct view_ops *v = view_ctx_current(ui);

    if (!v->filter || !v->set_filter)
        return KEYS_NONE;
    ui->prompt = 1;
    snprintf(ui->prompt_save, sizeof ui->prompt_save, "%s", v->filter(ui));
    snprintf(ui->prompt_buf, sizeof ui->prompt_buf, "%s", v->filter(ui));
    ui->prompt_len = strlen(ui->prompt_buf);
    curs_set(1);
    return KEYS_REDRAW;
}

int ui_act_group_tag(struct ui *ui, int key)
{
    state(ui)->group = state(ui)->group == VIEW_GROUP_TAG ? VIEW_GROUP_NONE : VIEW_GROUP_TAG;
    view_ctx_message(ui, state(ui)->group ? "grouped by tag" : "not grouped");
    return KEYS_REQUERY;
}

int ui_act_group_thread(struct ui *ui, int key)
{
    state(ui)->group = state(ui)->group == VIEW_GROUP_THREAD ? VIEW_GROUP_NONE : VIEW_GROUP_THREAD;
    view_ctx_message(ui, state(ui)->group ? "grouped by thread" : "not grouped");
    return KEYS_REQUERY;
}
