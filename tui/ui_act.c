/*
 * ui_act.c - the actions the key table (keys.c) names that belong to no one
 * screen: the time cursor (landing on timeline points, markers, zoom, the
 * growth window and the mark), the toggles, and list movement, which goes to
 * the screen up through its ops.
 *
 * Invariant: the cursor always stands on a timeline point's time (or
 * follows the end, or the peak), so the time shown is the state shown.
 */
#include "ui_act.h"

#include <curses.h>
#include <stdio.h>

#include "keys.h"
#include "model.h"
#include "view_ctx.h"
#include "view_header.h"
#include "view_sites.h"
#include "view_tree.h"
#include "widget.h"

/* growth windows: 0 is the visible range (what the timeline shows) */
static const int64_t windows_ns[] = {0, 1000000000LL, 10000000000LL, 60000000000LL};
static const char *windows_name[] = {"the visible window", "1s", "10s", "60s"};
#define N_WINDOWS 4

int64_t ui_act_growth_window(const struct ui *ui)
{
    int64_t c = view_ctx_cursor_time(ui), t0, t1;
    if (ui->mark >= 0)
        return c - ui->mark > 0 ? c - ui->mark : 1;
    if (windows_ns[ui->window_idx])
        return windows_ns[ui->window_idx];
    view_ctx_visible(ui, &t0, &t1);
    return c - t0 > 0 ? c - t0 : 1;
}

/* ---- actions: everywhere ---- */

int ui_act_quit(struct ui *ui, int key)
{
    return KEYS_QUIT;
}

int ui_act_help(struct ui *ui, int key)
{
    ui->help = 1;
    ui->help_top = 0;
    return KEYS_REDRAW;
}

/* Puts the cursor at time t, on the timeline point at or before t (after
 * it when up != 0 or when t is before the first point). */
/* The time of the timeline point the cursor lands on for time t (within the
 * run): the last point at or before it, or with up the first at or after it
 * (the state just after a marker). */
static int64_t landing(const struct ui *ui, int64_t t, int up)
{
    const struct model_summary *s = model_summary(ui->m);
    uint32_t np = 0;
    const struct model_point *tl = model_timeline(ui->m, &np);
    if (t < s->time_first)
        t = s->time_first;
    if (t > s->time_last)
        t = s->time_last;
    if (np > 0) {
        uint32_t i = model_point_at(ui->m, t);
        if (i == MODEL_NONE)
            i = 0;
        else if (up && tl[i].time < t && i + 1 < np)
            i++;
        t = tl[i].time;
    }
    return t;
}

static int move_to_dir(struct ui *ui, int64_t t, int up)
{
    ui->at = VIEW_AT_TIME;
    ui->cursor = landing(ui, t, up);
    return KEYS_REQUERY;
}

int ui_act_goto(struct ui *ui, int64_t t)
{
    return move_to_dir(ui, t, 0);
}

/* Moves by whole graph columns and lands on a timeline point (the time of a
 * tick), so the time shown is the time of the state shown; never stays put
 * when a point exists in that direction. */
static int move_by(struct ui *ui, int64_t cols)
{
    uint32_t np = 0;
    const struct model_point *tl = model_timeline(ui->m, &np);
    int64_t now = view_ctx_cursor_time(ui);
    int64_t t = now + cols * view_header_step(ui);
    if (np == 0)
        return ui_act_goto(ui, t);
    uint32_t cur = model_point_at(ui->m, now);
    uint32_t i = model_point_at(ui->m, t);
    if (cols > 0) {
        if (i == MODEL_NONE)
            i = 0;
        if (cur != MODEL_NONE && i <= cur)
            i = cur + 1 < np ? cur + 1 : cur;
    } else {
        if (i == MODEL_NONE)
            i = 0;
        if (cur != MODEL_NONE && i >= cur)
            i = cur > 0 ? cur - 1 : 0;
    }
    return ui_act_goto(ui, tl[i].time);
}

int ui_act_time_back(struct ui *ui, int key)
{
    return move_by(ui, -1);
}

int ui_act_time_fwd(struct ui *ui, int key)
{
    return move_by(ui, 1);
}

int ui_act_time_back10(struct ui *ui, int key)
{
    return move_by(ui, -10);
}

int ui_act_time_fwd10(struct ui *ui, int key)
{
    return move_by(ui, 10);
}

int ui_act_time_home(struct ui *ui, int key)
{
    return ui_act_goto(ui, model_summary(ui->m)->time_first);
}

int ui_act_time_end(struct ui *ui, int key)
{
    ui->at = VIEW_AT_FOLLOW;
    return KEYS_REQUERY;
}

int ui_act_time_peak(struct ui *ui, int key)
{
    ui->at = VIEW_AT_PEAK;
    ui->cursor = model_summary(ui->m)->peak_time;
    return KEYS_REQUERY;
}

static int marker(struct ui *ui, int dir)
{
    uint32_t n = 0;
    const struct model_marker *mk = model_markers(ui->m, &n);
    int64_t now = view_ctx_cursor_time(ui);
    uint32_t i;

    if (dir > 0) {
        /* the next marker whose state is not behind the cursor's, after the
         * one n went to last while the cursor has stayed there: so markers
         * that share a point (or come before the first, as a program's
         * start-up often does) are each visited, in order */
        uint32_t from =
            ui->marker_last != MODEL_NONE && ui->marker_at == now ? ui->marker_last + 1 : 0;

        for (i = from; i < n && landing(ui, mk[i].time, 1) < now; i++)
            ;
    } else {
        /* the last marker whose state is before the cursor's (markers that
         * share the cursor's point are behind it already) */
        for (i = n; i > 0 && landing(ui, mk[i - 1].time, 1) >= now; i--)
            ;
        i = i ? i - 1 : n;
    }
    if (i == MODEL_NONE || i >= n) {
        view_ctx_message(ui, n ? "no %s marker" : "no markers in this run",
                         dir > 0 ? "next" : "previous");
        return KEYS_REDRAW;
    }
    view_ctx_message(ui, "marker: %s", mk[i].label);
    int r = move_to_dir(ui, mk[i].time, 1);
    ui->marker_last = i;
    ui->marker_at = ui->cursor;
    return r;
}

int ui_act_marker_next(struct ui *ui, int key)
{
    return marker(ui, 1);
}

int ui_act_marker_prev(struct ui *ui, int key)
{
    return marker(ui, -1);
}

int ui_act_follow(struct ui *ui, int key)
{
    ui->at = VIEW_AT_FOLLOW;
    return KEYS_REQUERY;
}

int ui_act_mark(struct ui *ui, int key)
{
    if (ui->mark >= 0) {
        ui->mark = -1;
        view_ctx_message(ui, "mark cleared: growth over %s", windows_name[ui->window_idx]);
    } else {
        char t[32];
        ui->mark = view_ctx_cursor_time(ui);
        widget_fmt_time(t, sizeof t, ui->mark);
        view_ctx_message(ui, "growth counts from %s", t);
    }
    return KEYS_REQUERY;
}

int ui_act_zoom_in(struct ui *ui, int key)
{
    int64_t t0, t1;
    view_ctx_visible(ui, &t0, &t1);
    int64_t span = (t1 - t0) / 2;
    if (span < 10000000LL) { /* a tick */
        view_ctx_message(ui, "zoomed in all the way");
        return KEYS_REDRAW;
    }
    ui->zoom_span = span;
    ui->zoom_t0 = view_ctx_cursor_time(ui) - span / 2; /* centred on the cursor */
    view_ctx_pan(ui);
    return KEYS_REQUERY;
}

int ui_act_zoom_out(struct ui *ui, int key)
{
    const struct model_summary *s = model_summary(ui->m);
    int64_t full = s->time_last - s->time_first;

    if (ui->zoom_span <= 0)
        return KEYS_NONE;
    ui->zoom_span *= 2;
    /* zoom-in halved an integer span: doubling it back may fall a nanosecond short */
    if (ui->zoom_span >= full - full / 64)
        ui->zoom_span = 0; /* the whole run again */
    else
        ui->zoom_t0 = view_ctx_cursor_time(ui) - ui->zoom_span / 2;
    view_ctx_pan(ui);
    return KEYS_REQUERY;
}

int ui_act_window(struct ui *ui, int key)
{
    ui->window_idx = (ui->window_idx + 1) % N_WINDOWS;
    ui->mark = -1;
    view_ctx_message(ui, "growth over %s", windows_name[ui->window_idx]);
    return KEYS_REQUERY;
}

int ui_act_leaks(struct ui *ui, int key)
{
    ui->leaks = !ui->leaks;
    ui->temporaries = 0;
    view_ctx_message(ui, ui->leaks ? "leaks: sites with bytes live at the end" : "all sites");
    return KEYS_REQUERY;
}

int ui_act_temporaries(struct ui *ui, int key)
{
    if (!ui->temporaries && model_summary(ui->m)->sample_rate) {
        /* a sample is told temporary by the event after it, which sampling
         * does not record: as report says, not counted */
        view_ctx_message(ui, "temporaries: not counted in sampling mode");
        return KEYS_REDRAW;
    }
    ui->temporaries = !ui->temporaries;
    ui->leaks = 0;
    view_ctx_message(ui, ui->temporaries ? "temporaries: sites with short-lived allocations"
                                         : "all sites");
    return KEYS_REQUERY;
}

int ui_act_graph_style(struct ui *ui, int key)
{
    static const char *names[] = {"braille", "blocks", "ASCII"};
    if (ui->ascii)
        ui->spark_mode = WIDGET_SPARK_ASCII;
    else
        ui->spark_mode = (ui->spark_mode + 1) % 3;
    view_ctx_message(ui, "graphs: %s", names[ui->spark_mode]);
    return KEYS_REQUERY;
}

int ui_act_redraw(struct ui *ui, int key)
{
    clearok(curscr, TRUE);
    return KEYS_REDRAW;
}

/* ---- actions: lists ---- */

void ui_act_list_move(struct ui *ui, int delta, int how)
{
    const struct view_ops *v = view_ctx_current(ui);
    if (v->move)
        (v->move)(ui, delta, how); /* parenthesised: curses has a move() macro */
}

int ui_act_up(struct ui *ui, int key)
{
    ui_act_list_move(ui, -1, 0);
    return KEYS_REDRAW;
}

int ui_act_down(struct ui *ui, int key)
{
    ui_act_list_move(ui, 1, 0);
    return KEYS_REDRAW;
}

int ui_act_page_up(struct ui *ui, int key)
{
    ui_act_list_move(ui, -(ui->table_h > 1 ? ui->table_h - 1 : 1), 0);
    return KEYS_REDRAW;
}

int ui_act_page_down(struct ui *ui, int key)
{
    ui_act_list_move(ui, ui->table_h > 1 ? ui->table_h - 1 : 1, 0);
    return KEYS_REDRAW;
}

int ui_act_top(struct ui *ui, int key)
{
    ui_act_list_move(ui, 0, 1);
    return KEYS_REDRAW;
}

int ui_act_bottom(struct ui *ui, int key)
{
    ui_act_list_move(ui, 1 << 30, 1);
    return KEYS_REDRAW;
}

int ui_act_open_tree(struct ui *ui, int key)
{
    uint32_t site = view_sites_selected(ui);
    if (site == MODEL_NONE) {
        view_ctx_message(ui, "select a site first");
        return KEYS_REDRAW;
    }
    view_tree_open(ui, site);
    view_ctx_show(ui, VIEW_TREE);
    return KEYS_REQUERY;
}

int ui_act_back(struct ui *ui, int key)
{
    ui->view = ui->n_back > 0 ? ui->back[--ui->n_back] : VIEW_SITES;
    return KEYS_REQUERY;
}
