/*
 * view_header.c - the whole-run sparkline and the figures at the cursor.
 *
 * The graph spans the visible range (the whole run, or the zoomed window);
 * one column is that range / width, the step of the time cursor. The
 * figures shown are the model_view totals of the cursor's query, the very
 * figures `heapline report --at` prints.
 */
#include "view_header.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "view_ctx.h"
#include "widget.h"

#define GUTTER 5      /* "heap " */
#define SCALE 7       /* " 12.3M" */
#define SCALE_ZOOM 12 /* " 48.1M-64.3M": a zoomed graph's range */

static int heap_rows(const struct ui *ui)
{
    return ui->rows >= 48 ? 4 : ui->rows >= 36 ? 2 : 1;
}

int view_header_height(const struct ui *ui)
{
    /* heap rows, rss row, axis row, figures row */
    return heap_rows(ui) + 3;
}

static void run_span(const struct ui *ui, int64_t *t0, int64_t *t1)
{
    view_ctx_visible(ui, t0, t1);
}

/* A zoomed graph spans what is visible, bottom to top, and says so in a
 * wider scale column. */
static int zoomed(const struct ui *ui, int64_t t0, int64_t t1)
{
    const struct model_summary *s = model_summary(ui->m);
    return t0 > s->time_first || t1 < s->time_last;
}

static int scale_w(const struct ui *ui)
{
    int64_t t0, t1;
    run_span(ui, &t0, &t1);
    return zoomed(ui, t0, t1) ? SCALE_ZOOM : SCALE;
}

int64_t view_header_step(const struct ui *ui)
{
    int64_t t0, t1;
    int w = ui->graph_w > 0 ? ui->graph_w : ui->cols - GUTTER - scale_w(ui);
    run_span(ui, &t0, &t1);
    if (w < 1)
        w = 1;
    int64_t step = (t1 - t0) / w;
    return step > 0 ? step : 1;
}

/* Column of time t over a graph of w cells spanning [t0, t1]. */
static int col_of(int64_t t, int64_t t0, int64_t t1, int w)
{
    if (t1 <= t0 || w <= 1)
        return 0;
    if (t <= t0)
        return 0;
    if (t >= t1)
        return w - 1;
    long double f = (long double)(t - t0) * w / (long double)(t1 - t0);
    int c = (int)f;
    return c >= w ? w - 1 : c;
}

int view_header_time_at(const struct ui *ui, int x, int64_t *t)
{
    if (ui->graph_w <= 0 || x < ui->graph_x || x >= ui->graph_x + ui->graph_w)
        return -1;
    int c = x - ui->graph_x;
    if (ui->graph_t1 <= ui->graph_t0) {
        *t = ui->graph_t0;
        return 0;
    }
    /* the end of the column's span, so the column's last state shows */
    long double span = (long double)(ui->graph_t1 - ui->graph_t0);
    *t = ui->graph_t0 + (int64_t)(span * (c + 1) / ui->graph_w);
    if (c == ui->graph_w - 1)
        *t = ui->graph_t1;
    return 0;
}

/* Each of the k samples is the largest value over its slice of [t0, t1], so
 * a short spike between two samples still shows (htop samples by time, we
 * sample by range). */
static void sample_max(const struct ui *ui, int64_t t0, int64_t t1, int k, int64_t *heap,
                       int64_t *rss)
{
    uint32_t np = 0;
    model_timeline(ui->m, &np);
    long double span = (long double)(t1 - t0);
    for (int i = 0; i < k; i++) {
        int64_t a = t0 + (int64_t)(span * i / k);
        int64_t b = t0 + (int64_t)(span * (i + 1) / k);
        uint32_t i0 = model_point_at(ui->m, a);
        uint32_t i1 = model_point_at(ui->m, i + 1 == k ? t1 : b - 1);
        uint64_t h = 0, r = 0;
        if (i1 == MODEL_NONE) { /* before the first point: the most its events reached */
            model_range_max(ui->m, MODEL_NONE, 0, &h, NULL);
            heap[i] = (int64_t)h;
            rss[i] = 0;
            continue;
        }
        model_range_max(ui->m, i0, i1 + 1, &h, &r); /* i0 MODEL_NONE: before the first point */
        heap[i] = (int64_t)h;
        rss[i] = (int64_t)r;
    }
}

/* Rows of one graph: the label on the top row (where a reader starts), the
 * scale at the top right. Values are drawn as v - base over max - base
 * (base 0 for the whole run). */
static void draw_graph_rows(struct ui *ui, int y, int rows, int64_t *v, int nv, int64_t base,
                            int64_t max, int pair, int cursor_col, int peak_col, const char *label,
                            const char *scale, int sw)
{
    char buf[4096];
    int per = widget_spark_per_cell(ui->spark_mode);
    if (base > 0) {
        /* the lowest visible value keeps one dot: an empty cell means no data */
        for (int i = 0; i < nv; i++)
            v[i] = v[i] > 0 ? (v[i] > base ? v[i] - base : 0) + 1 : 0;
        max = max - base + 1;
    }
    for (int r = 0; r < rows; r++) {
        view_ctx_put(y + r, 0, r == 0 ? label : "", GUTTER, view_ctx_attr(ui, VIEW_PAIR_DIM));
        widget_spark(buf, sizeof buf, v, nv, max, ui->spark_mode, rows, r);
        view_ctx_put(y + r, GUTTER, buf, ui->graph_w, view_ctx_attr(ui, pair));
        /* the cursor column in reverse video, the peak in its colour */
        if (peak_col >= 0 && peak_col != cursor_col) {
            char cell[8];
            widget_spark(cell, sizeof cell, v + peak_col * per, per, max, ui->spark_mode, rows, r);
            view_ctx_put(y + r, GUTTER + peak_col, cell, 1,
                         view_ctx_attr(ui, VIEW_PAIR_PEAK) | A_BOLD);
        }
        if (cursor_col >= 0) {
            char cell[8];
            int64_t cv[2] = {v[cursor_col * per], per > 1 ? v[cursor_col * per + 1] : 0};
            widget_spark(cell, sizeof cell, cv, per, max, ui->spark_mode, rows, r);
            view_ctx_put(y + r, GUTTER + cursor_col, cell, 1,
                         view_ctx_attr(ui, VIEW_PAIR_CURSOR) | A_REVERSE);
        }
        view_ctx_put(y + r, GUTTER + ui->graph_w, r == 0 ? scale : "", sw,
                     view_ctx_attr(ui, VIEW_PAIR_DIM));
    }
}

static void draw_axis(struct ui *ui, int y, int cursor_col, int peak_col)
{
    char line[2048];
    int w = ui->graph_w;
    uint32_t nm = 0;
    const struct model_marker *mk = model_markers(ui->m, &nm);

    if (w > (int)sizeof line - 1)
        w = (int)sizeof line - 1;
    memset(line, ' ', (size_t)w);
    line[w] = '\0';
    view_ctx_put(y, 0, "", ui->cols, A_NORMAL);
    /* marker labels first (they may be overwritten by glyphs), then glyphs */
    for (uint32_t i = 0; i < nm; i++) {
        if (mk[i].time < ui->graph_t0 || mk[i].time > ui->graph_t1)
            continue;
        int c = col_of(mk[i].time, ui->graph_t0, ui->graph_t1, w);
        int len = (int)strlen(mk[i].label);
        int next = i + 1 < nm ? col_of(mk[i + 1].time, ui->graph_t0, ui->graph_t1, w) : w;
        for (int k = 0; k < len && c + 1 + k < next - 1 && c + 1 + k < w; k++)
            line[c + 1 + k] = mk[i].label[k];
    }
    view_ctx_put(y, GUTTER, line, w, view_ctx_attr(ui, VIEW_PAIR_MARKER));
    for (uint32_t i = 0; i < nm; i++) {
        if (mk[i].time < ui->graph_t0 || mk[i].time > ui->graph_t1)
            continue;
        int c = col_of(mk[i].time, ui->graph_t0, ui->graph_t1, w);
        view_ctx_put(y, GUTTER + c, ui->ascii ? "|" : "\u25c6", 1,
                     view_ctx_attr(ui, VIEW_PAIR_MARKER) | A_BOLD);
    }
    if (peak_col >= 0)
        view_ctx_put(y, GUTTER + peak_col, ui->ascii ? "P" : "\u25b2", 1,
                     view_ctx_attr(ui, VIEW_PAIR_PEAK) | A_BOLD);
    if (cursor_col >= 0)
        view_ctx_put(y, GUTTER + cursor_col, ui->ascii ? "^" : "\u2191", 1,
                     view_ctx_attr(ui, VIEW_PAIR_CURSOR) | A_BOLD);
}

double view_header_rate(const struct model *m, int64_t c0, int64_t c1, int64_t *span)
{
    uint32_t np = 0;
    const struct model_point *tl = model_timeline(m, &np);
    *span = c1 > c0 ? c1 - c0 : 0;
    if (c1 <= c0 || np == 0)
        return 0;
    /* the points in the column: their allocations happened after the point
     * before them; none in it: the column is inside one point's span */
    uint32_t lo = model_point_at(m, c0 - 1), hi = model_point_at(m, c1 - 1);
    if (hi == lo) {
        if (hi == MODEL_NONE)
            hi = 0;
        else if (hi + 1 < np)
            hi++;
        else /* after the last point (the present, live): the latest rate known */
            lo = hi > 0 ? hi - 1 : MODEL_NONE;
    }
    int64_t t0 = lo == MODEL_NONE ? 0 : tl[lo].time, t1 = tl[hi].time;
    uint64_t a0 = lo == MODEL_NONE ? 0 : tl[lo].allocations, a1 = tl[hi].allocations;
    if (t1 <= t0)
        return 0;
    *span = t1 - t0;
    return a1 > a0 ? (double)(a1 - a0) * 1e9 / (double)(t1 - t0) : 0;
}

void view_header_scale(char *buf, size_t n, int zoomed, int64_t base, int64_t max)
{
    char lo[16], hi[16];
    widget_fmt_bytes(hi, sizeof hi, max, 0);
    if (!zoomed) {
        snprintf(buf, n, " %s", hi);
        return;
    }
    widget_fmt_bytes(lo, sizeof lo, base, 0);
    snprintf(buf, n, " %s-%s", lo, hi);
}

static void draw_figures(struct ui *ui, int y)
{
    const struct model_point *p = &ui->mv.totals;
    const struct model_summary *s = model_summary(ui->m);
    char heap[16], rss[16], blocks[16], rate[16], peak[16], pt[16], exact[32], line[512];
    int64_t t = ui->mv.time;

    widget_fmt_bytes(heap, sizeof heap, (int64_t)p->heap_bytes, 0);
    widget_fmt_bytes(rss, sizeof rss, (int64_t)p->rss, 0);
    widget_fmt_count(blocks, sizeof blocks, p->heap_blocks);
    widget_fmt_bytes(peak, sizeof peak, (int64_t)s->peak_bytes, 0);
    widget_fmt_time(pt, sizeof pt, s->peak_time);
    widget_fmt_exact(exact, sizeof exact, (int64_t)p->heap_bytes);

    /* allocations per second in the graph column under the cursor, over the
     * time the timeline's points can place them in */
    int64_t c0 = t, c1 = t;
    if (ui->graph_w > 0 && ui->graph_t1 > ui->graph_t0) {
        long double span = (long double)(ui->graph_t1 - ui->graph_t0);
        int c = (int)((long double)(t - ui->graph_t0) * ui->graph_w / span);
        c = c < 0 ? 0 : c >= ui->graph_w ? ui->graph_w - 1 : c;
        c0 = ui->graph_t0 + (int64_t)(span * c / ui->graph_w);
        c1 = ui->graph_t0 + (int64_t)(span * (c + 1) / ui->graph_w);
    }
    int64_t span;
    double r = view_header_rate(ui->m, c0, c1, &span);
    widget_fmt_count(rate, sizeof rate, (uint64_t)(r + 0.5));
    char over[32];
    widget_fmt_time(over, sizeof over, span);

    /* after heapline attach loaded the collector, heap (and blocks, peak)
     * count from the attach: "heap 0B" beside 200M of rss is the net change
     * since, and the label says so */
    const char *hl = s->since_attach ? "heap since attach" : "heap";

    /* two spaces between figures; one where the terminal is narrow; then
     * without the rate's span, so the peak's time keeps its unit at 80
     * columns ("peak 5.43M at 0.107" lost its "s"); then without the rate */
    for (int pass = 0; pass < 4; pass++) {
        const char *sp = pass ? " " : "  ";
        char per[48] = "", ra[64] = "";

        if (pass < 2)
            snprintf(per, sizeof per, " over %s", over);
        if (pass < 3)
            snprintf(ra, sizeof ra, "allocs/s %s%s%s", rate, per, sp);
        if (ui->cols >= 120)
            snprintf(line, sizeof line, "%s %s (%s B)%srss %s%sblocks %s%s%speak %s at %s", hl,
                     heap, exact, sp, rss, sp, blocks, sp, ra, peak, pt);
        else
            snprintf(line, sizeof line, "%s %s%srss %s%sblocks %s%s%speak %s at %s", hl, heap, sp,
                     rss, sp, blocks, sp, ra, peak, pt);
        if (widget_width(line) <= ui->cols)
            break;
    }
    if (model_summary(ui->m)->sample_rate) {
        /* sampling mode: these totals are exact, the sites' figures estimates */
        char rate_s[32], tail[96];
        size_t len = strlen(line);

        widget_fmt_bytes(rate_s, sizeof rate_s, (int64_t)model_summary(ui->m)->sample_rate, 0);
        snprintf(tail, sizeof tail, "  sampled every %s: sites ~estimated", rate_s);
        if (widget_width(line) + widget_width(tail) <= ui->cols && len + strlen(tail) < sizeof line)
            memcpy(line + len, tail, strlen(tail) + 1);
    }
    view_ctx_put(y, 0, line, ui->cols, A_NORMAL);
}

void view_header_draw(struct ui *ui, int y)
{
    int64_t t0, t1;
    int hr = heap_rows(ui);
    int per = widget_spark_per_cell(ui->spark_mode);
    const struct model_summary *s = model_summary(ui->m);

    run_span(ui, &t0, &t1);
    int zoom = zoomed(ui, t0, t1), sw = zoom ? SCALE_ZOOM : SCALE;
    ui->graph_x = GUTTER;
    ui->graph_w = ui->cols - GUTTER - sw;
    if (ui->graph_w < 1)
        ui->graph_w = 1;
    ui->graph_t0 = t0;
    ui->graph_t1 = t1;
    ui->graph_y0 = y;
    ui->graph_y1 = y + hr + 2; /* heap rows, rss row, axis row */

    int k = ui->graph_w * per;
    int64_t *heap = calloc((size_t)k, sizeof *heap);
    int64_t *rss = calloc((size_t)k, sizeof *rss);
    if (!heap || !rss) {
        free(heap);
        free(rss);
        view_ctx_put(y, 0, "out of memory", ui->cols, A_BOLD);
        return;
    }
    uint32_t np = 0;
    model_timeline(ui->m, &np);
    if (np > 0)
        sample_max(ui, t0, t1, k, heap, rss);

    /* the whole run scales from 0 to the peak; a zoomed window from its own
     * lowest to its own highest, and its scale says both */
    int64_t hmax = zoom ? 0 : (int64_t)s->peak_bytes, rmax = zoom ? 0 : (int64_t)s->peak_rss;
    int64_t hmin = INT64_MAX, rmin = INT64_MAX;
    for (int i = 0; i < k; i++) {
        if (heap[i] > hmax)
            hmax = heap[i];
        if (rss[i] > rmax)
            rmax = rss[i];
        if (heap[i] > 0 && heap[i] < hmin)
            hmin = heap[i];
        if (rss[i] > 0 && rss[i] < rmin)
            rmin = rss[i];
    }
    int64_t hbase = zoom && hmin < hmax ? hmin : 0, rbase = zoom && rmin < rmax ? rmin : 0;
    int cursor_col = np ? col_of(view_ctx_cursor_time(ui), t0, t1, ui->graph_w) : -1;
    int peak_col = np && s->peak_bytes && s->peak_time >= t0 && s->peak_time <= t1
                       ? col_of(s->peak_time, t0, t1, ui->graph_w)
                       : -1;
    /* the peak column shows the peak itself even when sampling missed it */
    if (peak_col >= 0) {
        int64_t *pk = &heap[peak_col * per + (per - 1)];
        if (*pk < (int64_t)s->peak_bytes)
            *pk = (int64_t)s->peak_bytes;
    }
    char hs[32], rs[32];
    view_header_scale(hs, sizeof hs, zoom, hbase, hmax);
    view_header_scale(rs, sizeof rs, zoom, rbase, rmax);
    draw_graph_rows(ui, y, hr, heap, k, hbase, hmax, VIEW_PAIR_HEAP, cursor_col, peak_col, "heap",
                    hs, sw);
    draw_graph_rows(ui, y + hr, 1, rss, k, rbase, rmax, VIEW_PAIR_RSS, cursor_col, -1, "rss", rs,
                    sw);
    draw_axis(ui, y + hr + 1, cursor_col, peak_col);
    draw_figures(ui, y + hr + 2);
    free(heap);
    free(rss);
}

/* The cursor's time as `report --at` takes it, so that the report at the time
 * shown is the state shown: rounded up to the millisecond, or to the
 * microsecond or the nanosecond when the next timeline point comes within
 * that millisecond (a tick and a bucket's last event can be microseconds
 * apart, and the report at the rounded time would be the next point's). */
void view_header_cursor_label(const struct model *m, int64_t ct, char *buf, size_t n)
{
    static const struct {
        int64_t step;
        int places;
    } grain[] = {{1000000, 3}, {1000, 6}, {1, 9}};
    uint32_t np = 0;
    const struct model_point *tl = model_timeline(m, &np);
    uint32_t i = np ? model_point_at(m, ct) : MODEL_NONE;
    int64_t next = i != MODEL_NONE && i + 1 < np ? tl[i + 1].time : INT64_MAX;
    int64_t up = ct, step = 1;
    int places = 9;

    if (ct < 0) {
        widget_fmt_time(buf, n, ct);
        return;
    }
    for (size_t g = 0; g < sizeof grain / sizeof grain[0]; g++) {
        up = (ct + grain[g].step - 1) / grain[g].step * grain[g].step;
        step = grain[g].step;
        places = grain[g].places;
        if (up < next)
            break;
    }
    snprintf(buf, n, "%" PRId64 ".%0*" PRId64 "s", up / 1000000000, places, up % 1000000000 / step);
}
