/*
 * ui.c - the TUI loop: poll() on the source, the keyboard and a timer; apply
 * a bounded slice of messages per pass; recompute the figures when the model
 * or the question moved (throttled while data streams in); redraw at most
 * ~30 times a second and only when something changed.
 *
 * Invariant: curses is on only between ui_main's setup and its endwin(); every
 * return path after setup goes through endwin(), and nothing prints while
 * curses is on (errors go to the status line).
 */
#include "ui.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "complete.h"
#include "keys.h"
#include "model.h"
#include "source.h"
#include "view_ctx.h"
#include "view_header.h"
#include "view_objects.h"
#include "view_refs.h"
#include "view_sites.h"
#include "view_tree.h"
#include "widget.h"

#define FRAME_MS 33      /* at most ~30 redraws a second */
#define READ_SLICE_MS 12 /* source work per pass before looking at the keyboard */
#define READ_BATCH 512   /* messages per source_read() call */

static volatile sig_atomic_t quit_signal;

static void on_quit_signal(int sig)
{
    quit_signal = sig;
}

/* A crash while curses is on: give the terminal back first (htop does the
 * same; endwin is not async-signal-safe, but the process is dying anyway and
 * a wrecked terminal is worse), then die of the same signal. */
static volatile sig_atomic_t curses_on;

static void on_crash(int sig)
{
    if (curses_on) {
        curses_on = 0;
        endwin();
        static const char msg[] = "heapline: crashed; the terminal was restored\n";
        ssize_t r = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)r;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void restore_at_exit(void)
{
    if (curses_on) {
        curses_on = 0;
        endwin();
    }
}

/* growth windows: 0 is the visible range (what the timeline shows) */
static const int64_t windows_ns[] = {0, 1000000000LL, 10000000000LL, 60000000000LL};
static const char *windows_name[] = {"the visible window", "1s", "10s", "60s"};
#define N_WINDOWS 4

/* ---- figures ---- */

static int64_t growth_window(const struct ui *ui)
{
    int64_t c = view_ctx_cursor_time(ui), t0, t1;
    if (ui->mark >= 0)
        return c - ui->mark > 0 ? c - ui->mark : 1;
    if (windows_ns[ui->window_idx])
        return windows_ns[ui->window_idx];
    view_ctx_visible(ui, &t0, &t1);
    return c - t0 > 0 ? c - t0 : 1;
}

/* Recomputes the figures at the cursor and rebuilds the current screen. */
static void requery(struct ui *ui)
{
    struct model_query q;
    view_ctx_pan(ui);
    view_ctx_query(ui, &q);
    q.window = growth_window(ui);
    int cells = view_sites_spark_cells(ui);
    view_ctx_visible(ui, &q.spark_from, &q.spark_to);
    q.spark_points = (uint32_t)(cells * widget_spark_per_cell(ui->spark_mode));
    if (model_view_at(ui->m, &q, &ui->mv) < 0) {
        view_ctx_message(ui, "out of memory computing the figures");
        ui->mv.n_rows = 0;
    }
    ui->mv_valid = 1;
    ui->mv_gen = model_generation(ui->m);
    ui->mv_spark_from = q.spark_from;
    ui->mv_spark_to = q.spark_to;
    ui->mv_spark_points = q.spark_points;
    ui->last_query_ms = view_ctx_now_ms();
    view_sites_rebuild(ui);
    if (ui->view == VIEW_TREE)
        view_tree_rebuild(ui);
    if (ui->view == VIEW_OBJECTS)
        view_objects_refresh(ui);
}

/* ---- drawing ---- */

static const char *kind_name(const struct ui *ui)
{
    switch (ui->opt ? ui->opt->source_kind : 0) {
    case UI_SRC_LIVE_CHILD:
        return "live";
    case UI_SRC_ATTACH:
        return "attached";
    case UI_SRC_REPLAY:
        return "replay";
    default:
        return "model";
    }
}

static void draw_title(struct ui *ui)
{
    char left[512], right[256], t[32], d[32], extra[160] = "";
    const struct model_summary *s = model_summary(ui->m);
    const char *name = ui->opt && ui->opt->title ? ui->opt->title
                       : ui->src                 ? source_name(ui->src)
                                                 : "";
    snprintf(left, sizeof left, " heapline  %s  %s", kind_name(ui), name);
    /* shown rounded up to the millisecond: `report --at` with the time shown
     * answers the state shown (the next point is at least a tick later) */
    int64_t ct = view_ctx_cursor_time(ui);
    widget_fmt_time(t, sizeof t, ui->at == VIEW_AT_TIME ? (ct + 999999) / 1000000 * 1000000 : ct);
    widget_fmt_time(d, sizeof d, s->time_last);
    const char *mode = ui->at == VIEW_AT_FOLLOW
                           ? (ui->src && ui->src_state <= SOURCE_OPEN ? "follow" : "end")
                       : ui->at == VIEW_AT_PEAK ? "peak"
                                                : "cursor";
    size_t e = 0;
    if (ui->zoom_span > 0) {
        char zs[32];
        widget_fmt_time(zs, sizeof zs, ui->zoom_span);
        e += (size_t)snprintf(extra + e, sizeof extra - e, " zoom %s", zs);
    }
    if (ui->mark >= 0) {
        char mk[32];
        widget_fmt_time(mk, sizeof mk, ui->mark);
        e += (size_t)snprintf(extra + e, sizeof extra - e, " mark %s", mk);
    }
    if (ui->leaks)
        e += (size_t)snprintf(extra + e, sizeof extra - e, " LEAKS");
    if (ui->temporaries)
        e += (size_t)snprintf(extra + e, sizeof extra - e, " TEMPORARIES");
    if (ui->sites.filter[0] && e < sizeof extra)
        e += (size_t)snprintf(extra + e, sizeof extra - e, " /%s", ui->sites.filter);
    snprintf(right, sizeof right, "%s t=%s of %s [%s] ", extra, t, d, mode);
    int rw = widget_width(right);
    int attr = view_ctx_attr(ui, VIEW_PAIR_TITLE);
    view_ctx_put(0, 0, left, ui->cols, attr);
    if (rw < ui->cols)
        view_ctx_put(0, ui->cols - rw, right, rw, attr);
}

/* Copies msg with every path shortened to its last component, so the state
 * ("connection closed by /run/user/1000/heapline/123.sock") fits 80 columns. */
static void short_paths(char *out, size_t n, const char *msg)
{
    size_t o = 0;
    const char *p = msg;
    while (*p && o + 1 < n) {
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        const char *start = p;
        for (const char *q = p; q < end; q++)
            if (*q == '/' && q + 1 < end)
                start = q + 1;
        for (const char *q = start; q < end && o + 1 < n; q++)
            out[o++] = *q;
        p = end;
        while (*p == ' ' && o + 1 < n)
            out[o++] = *p++;
    }
    out[o] = '\0';
}

static void draw_status(struct ui *ui)
{
    char line[512], rate[16], missed[32];
    const struct model_summary *s = model_summary(ui->m);
    int y = ui->rows - 1;
    int64_t now = view_ctx_now_ms();
    const char *state;
    int warn = 0;

    if (ui->prompt) {
        snprintf(line, sizeof line, "filter: %s", ui->prompt_buf);
        view_ctx_put(y, 0, line, ui->cols, A_NORMAL);
        move(y, (int)(8 + widget_width(ui->prompt_buf)));
        return;
    }
    if (ui->src) {
        state = source_message(ui->src);
        warn = ui->src_state == SOURCE_FAILED ||
               (ui->src_state == SOURCE_DONE && ui->opt && ui->opt->source_kind != UI_SRC_REPLAY);
        if (ui->src_state == SOURCE_OPEN && ui->opt && ui->opt->source_kind == UI_SRC_REPLAY) {
            uint64_t done = 0, total = 0;
            static char prog[64];
            source_progress(ui->src, &done, &total);
            if (total)
                snprintf(prog, sizeof prog, "loading %d%%", (int)(done * 100 / total));
            else
                snprintf(prog, sizeof prog, "loading");
            state = prog;
        }
    } else {
        state = s->state == MODEL_ENDED ? "ended" : "";
    }
    if (s->disabled)
        warn = 1;
    if (ui->src && ui->src_state == SOURCE_DONE) { /* a recording that is not whole */
        struct complete c;

        source_verdict(ui->src, ui->m, &c);
        if (!c.complete)
            warn = 1;
    }
    widget_fmt_count(rate, sizeof rate, (uint64_t)(ui->ev_rate + 0.5));
    widget_fmt_count(missed, sizeof missed, s->missed);
    char st[256], sites[48];
    snprintf(st, sizeof st, "%s", state);
    view_sites_count(ui, sites, sizeof sites);
    for (int pass = 0; pass < 2; pass++) {
        snprintf(line, sizeof line, " %s | %s%s%s%s | %s ev/s | missed %s | %s", kind_name(ui), st,
                 s->disabled ? " (collector disabled: " : "", s->disabled ? s->disabled_reason : "",
                 s->disabled ? ")" : "", rate, missed, sites);
        if (widget_width(line) <= ui->cols - 2)
            break;
        short_paths(st, sizeof st, state); /* too long: paths by their last component */
    }
    int attr = view_ctx_attr(ui, warn ? VIEW_PAIR_WARN : VIEW_PAIR_STATUS);
    view_ctx_put(y, 0, line, ui->cols, attr);
    const char *right = " ?:help q:quit ";
    int lw = widget_width(line);
    if (ui->msg[0] && now < ui->msg_until_ms) {
        /* a fresh message wins its width over the state on the left */
        right = ui->msg;
        if (lw > ui->cols - widget_width(right) - 2)
            lw = ui->cols - widget_width(right) - 2 > 0 ? ui->cols - widget_width(right) - 2 : 0;
    }
    int rw = widget_width(right) + 1;
    if (rw > ui->cols - lw - 1)
        rw = ui->cols - lw - 1;
    if (rw > 0) {
        char r[300];
        snprintf(r, sizeof r, "%s ", right);
        view_ctx_put(y, ui->cols - rw, r, rw, attr);
    }
}

static void draw_help(struct ui *ui)
{
    int y0 = 1, h = ui->rows - 2;
    int w = ui->cols;
    char line[512];
    size_t total = keys_help_count();
    if (ui->help_top > (int)total - (h - 1))
        ui->help_top = (int)total - (h - 1);
    if (ui->help_top < 0)
        ui->help_top = 0;
    view_ctx_put(y0, 0, " Keys (from the key table; j/k scroll, any other key closes)", w,
                 view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    for (int i = 1; i < h; i++) {
        size_t li = (size_t)(ui->help_top + i - 1);
        if (!keys_help_line(li, line, sizeof line, w - 1))
            line[0] = '\0';
        int title = line[0] && line[0] != ' ';
        view_ctx_put(y0 + i, 1, line, w - 1,
                     title ? view_ctx_attr(ui, VIEW_PAIR_COLHEAD) : (int)A_NORMAL);
        view_ctx_put(y0 + i, 0, "", 1, A_NORMAL);
    }
}

static void draw(struct ui *ui)
{
    erase();
    if (ui->rows < 10 || ui->cols < 40) {
        view_ctx_put(0, 0, "heapline: terminal too small (40x10 at least)", ui->cols, A_BOLD);
        wnoutrefresh(stdscr);
        doupdate();
        return;
    }
    draw_title(ui);
    int hh = view_header_height(ui);
    if (!ui->mv_valid)
        requery(ui);
    view_header_draw(ui, 1);
    int y = 1 + hh, h = ui->rows - 1 - y;
    if (ui->help) {
        draw_help(ui);
    } else if (ui->view == VIEW_TREE) {
        view_tree_draw(ui, y, h);
    } else if (ui->view == VIEW_OBJECTS) {
        view_objects_draw(ui, y, h);
    } else if (ui->view == VIEW_REFS) {
        view_refs_draw(ui, y, h);
    } else {
        view_sites_draw(ui, y, h);
    }
    draw_status(ui);
    curs_set(ui->prompt ? 1 : 0);
    wnoutrefresh(stdscr);
    doupdate();
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

static int move_to(struct ui *ui, int64_t t)
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
        return move_to(ui, t);
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
    return move_to(ui, tl[i].time);
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
    return move_to(ui, model_summary(ui->m)->time_first);
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

static void list_move(struct ui *ui, int delta, int to)
{
    if (ui->view == VIEW_TREE)
        view_tree_move(ui, delta, to);
    else if (ui->view == VIEW_OBJECTS)
        view_objects_move(ui, delta, to);
    else if (ui->view == VIEW_REFS)
        view_refs_move(ui, delta, to);
    else
        view_sites_move(ui, delta, to);
}

int ui_act_up(struct ui *ui, int key)
{
    list_move(ui, -1, 0);
    return KEYS_REDRAW;
}

int ui_act_down(struct ui *ui, int key)
{
    list_move(ui, 1, 0);
    return KEYS_REDRAW;
}

int ui_act_page_up(struct ui *ui, int key)
{
    list_move(ui, -(ui->table_h > 1 ? ui->table_h - 1 : 1), 0);
    return KEYS_REDRAW;
}

int ui_act_page_down(struct ui *ui, int key)
{
    list_move(ui, ui->table_h > 1 ? ui->table_h - 1 : 1, 0);
    return KEYS_REDRAW;
}

int ui_act_top(struct ui *ui, int key)
{
    list_move(ui, 0, 1);
    return KEYS_REDRAW;
}

int ui_act_bottom(struct ui *ui, int key)
{
    list_move(ui, 1 << 30, 1);
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
    ui->view = VIEW_TREE;
    return KEYS_REQUERY;
}

int ui_act_back(struct ui *ui, int key)
{
    if (ui->view == VIEW_REFS)
        ui->view = VIEW_OBJECTS;
    else if (ui->view == VIEW_OBJECTS)
        ui->view = ui->objects.from_view;
    else
        ui->view = VIEW_SITES;
    return KEYS_REQUERY;
}

/* ---- input ---- */

static unsigned screen_mask(const struct ui *ui)
{
    switch (ui->view) {
    case VIEW_TREE:
        return KEYS_TREE;
    case VIEW_OBJECTS:
        return KEYS_OBJECTS;
    case VIEW_REFS:
        return KEYS_REFS;
    default:
        return KEYS_SITES;
    }
}

static int prompt_key(struct ui *ui, int r, wint_t wc)
{
    if (r == KEY_CODE_YES && (wc == KEY_BACKSPACE)) {
        wc = 127;
        r = OK;
    }
    if (r == KEY_CODE_YES && wc == KEY_ENTER) {
        wc = '\n';
        r = OK;
    }
    if (r != OK)
        return KEYS_NONE;
    if (wc == 27) {
        ui->prompt = 0;
        snprintf(ui->sites.filter, sizeof ui->sites.filter, "%s", ui->prompt_save);
        return KEYS_REQUERY;
    }
    if (wc == '\n' || wc == '\r') {
        ui->prompt = 0;
        if (ui->sites.filter[0])
            view_ctx_message(ui, "filter: %s", ui->sites.filter);
        return KEYS_REQUERY;
    }
    if (wc == 127 || wc == 8) {
        while (ui->prompt_len > 0) {
            unsigned char c = (unsigned char)ui->prompt_buf[--ui->prompt_len];
            if ((c & 0xc0) != 0x80)
                break;
        }
        ui->prompt_buf[ui->prompt_len] = '\0';
    } else if (wc == 21) { /* C-u */
        ui->prompt_len = 0;
        ui->prompt_buf[0] = '\0';
    } else if (wc >= 32) {
        char mb[MB_LEN_MAX];
        mbstate_t st;
        memset(&st, 0, sizeof st);
        size_t k = wcrtomb(mb, (wchar_t)wc, &st);
        if (k != (size_t)-1 && ui->prompt_len + k < sizeof ui->prompt_buf) {
            memcpy(ui->prompt_buf + ui->prompt_len, mb, k);
            ui->prompt_len += k;
            ui->prompt_buf[ui->prompt_len] = '\0';
        }
    }
    /* the table filters as you type */
    snprintf(ui->sites.filter, sizeof ui->sites.filter, "%s", ui->prompt_buf);
    return KEYS_REQUERY;
}

static int mouse_key(struct ui *ui)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return KEYS_NONE;
    if (ui->help) {
        ui->help = 0;
        return KEYS_REDRAW;
    }
    if (ev.bstate & BUTTON4_PRESSED) {
        list_move(ui, -3, 0);
        return KEYS_REDRAW;
    }
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) {
        list_move(ui, 3, 0);
        return KEYS_REDRAW;
    }
#endif
    if (!(ev.bstate &
          (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON1_RELEASED)))
        return KEYS_NONE;
    int64_t t;
    if (ev.y >= ui->graph_y0 && ev.y <= ui->graph_y1 && view_header_time_at(ui, ev.x, &t) == 0)
        return move_to(ui, t);
    if (ev.y >= ui->table_y && ev.y < ui->table_y + ui->table_h) {
        int line;
        if (ui->view == VIEW_TREE)
            line = ui->tree.top + ev.y - ui->table_y;
        else if (ui->view == VIEW_OBJECTS)
            line = ui->objects.top + ev.y - ui->table_y;
        else if (ui->view == VIEW_REFS)
            line = ui->refs.top + ev.y - ui->table_y;
        else
            line = ui->sites.top + ev.y - ui->table_y;
        list_move(ui, line, 1);
        if (ev.bstate & BUTTON1_DOUBLE_CLICKED) {
            const struct keys_binding *b = keys_lookup(screen_mask(ui), '\n');
            if (b)
                return b->action(ui, '\n') | KEYS_REDRAW;
        }
        return KEYS_REDRAW;
    }
    return KEYS_NONE;
}

static int handle_key(struct ui *ui, int r, wint_t wc)
{
    int key = (int)wc;
    if (r == KEY_CODE_YES && wc == KEY_RESIZE) {
        getmaxyx(stdscr, ui->rows, ui->cols);
        clearok(curscr, TRUE);
        return KEYS_REQUERY;
    }
    if (r == KEY_CODE_YES && wc == KEY_MOUSE)
        return mouse_key(ui);
    if (ui->prompt)
        return prompt_key(ui, r, wc);
    if (ui->help) {
        if (key == 'j' || key == KEY_DOWN) {
            ui->help_top++;
        } else if (key == 'k' || key == KEY_UP) {
            ui->help_top--;
        } else if (key == KEY_NPAGE || key == ' ') {
            ui->help_top += ui->rows - 4;
        } else if (key == KEY_PPAGE) {
            ui->help_top -= ui->rows - 4;
        } else {
            ui->help = 0;
        }
        return KEYS_REDRAW;
    }
    const struct keys_binding *b = keys_lookup(screen_mask(ui), key);
    if (!b)
        return KEYS_NONE;
    return b->action(ui, key);
}

/* ---- set-up ---- */

static void setup_colors(struct ui *ui)
{
    const char *nc = getenv("NO_COLOR");
    ui->color = 0;
    if ((nc && nc[0]) || !has_colors())
        return;
    if (start_color() != OK)
        return;
    use_default_colors();
    ui->color = 1;
    init_pair(VIEW_PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
    init_pair(VIEW_PAIR_HEAP, COLOR_GREEN, -1);
    init_pair(VIEW_PAIR_RSS, COLOR_BLUE, -1);
    init_pair(VIEW_PAIR_CURSOR, COLOR_YELLOW, -1);
    init_pair(VIEW_PAIR_PEAK, COLOR_RED, -1);
    init_pair(VIEW_PAIR_MARKER, COLOR_MAGENTA, -1);
    init_pair(VIEW_PAIR_SELECTED, COLOR_BLACK, COLOR_YELLOW);
    init_pair(VIEW_PAIR_COLHEAD, COLOR_CYAN, -1);
    init_pair(VIEW_PAIR_STATUS, COLOR_BLACK, COLOR_WHITE);
    init_pair(VIEW_PAIR_WARN, COLOR_WHITE, COLOR_RED);
    init_pair(VIEW_PAIR_GROW, COLOR_RED, -1);
    init_pair(VIEW_PAIR_DIM, -1, -1);
}

static int utf8_locale(void)
{
    const char *a = getenv("HEAPLINE_ASCII");
    if (a && a[0] && strcmp(a, "0") != 0)
        return 0;
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

static void update_rate(struct ui *ui, int64_t now)
{
    const struct model_summary *s = model_summary(ui->m);
    if (ui->ev_prev_ms == 0) {
        ui->ev_prev_ms = now;
        ui->ev_prev = s->events;
        return;
    }
    int64_t dt = now - ui->ev_prev_ms;
    if (ui->src_state == SOURCE_DONE || ui->src_state == SOURCE_FAILED) {
        ui->ev_rate = 0; /* nothing more comes */
        return;
    }
    if (dt < 1000)
        return;
    ui->ev_rate = (double)(s->events - ui->ev_prev) * 1000.0 / (double)dt;
    ui->ev_prev = s->events;
    ui->ev_prev_ms = now;
}

int ui_main(struct model *m, struct source *src, const struct ui_options *opt)
{
    struct ui ui_s;
    struct ui *ui = &ui_s;
    struct sigaction sa, old_int, old_term, old_hup;

    memset(ui, 0, sizeof *ui);
    ui->model = m;
    ui->m = m;
    ui->src = src;
    ui->opt = opt;
    ui->mark = -1;
    ui->marker_last = MODEL_NONE;
    ui->window_idx = 0;
    ui->sites.sel_site = MODEL_NONE;
    ui->src_state = src ? source_state(src) : SOURCE_DONE;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "heapline: the TUI needs a terminal (use `heapline report` otherwise)\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    ui->ascii = !utf8_locale();
    ui->spark_mode = ui->ascii ? WIDGET_SPARK_ASCII : WIDGET_SPARK_BRAILLE;
    const char *sp = getenv("HEAPLINE_SPARK");
    if (!ui->ascii && sp && strcmp(sp, "block") == 0)
        ui->spark_mode = WIDGET_SPARK_BLOCK;

    SCREEN *scr = newterm(NULL, stdout, stdin);
    if (!scr) {
        fprintf(stderr, "heapline: cannot use terminal type '%s'\n",
                getenv("TERM") ? getenv("TERM") : "(unset)");
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    struct sigaction crash, old_crash[4];
    static const int crash_sigs[4] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};
    memset(&crash, 0, sizeof crash);
    crash.sa_handler = on_crash;
    sigemptyset(&crash.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(crash_sigs[i], &crash, &old_crash[i]);
    static int atexit_done;
    if (!atexit_done && atexit(restore_at_exit) == 0)
        atexit_done = 1;
    /* a request written to a socket the collector just closed must not kill us */
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old_pipe);
    curses_on = 1;

    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
                  | BUTTON5_PRESSED
#endif
              ,
              NULL);
    mouseinterval(200);
    setup_colors(ui);
    getmaxyx(stdscr, ui->rows, ui->cols);

    int dirty = 1, need_query = 1, quit = 0;
    int64_t last_draw = 0;
    while (!quit && !quit_signal) {
        int64_t now = view_ctx_now_ms();
        int src_active =
            src && (ui->src_state == SOURCE_OPEN || ui->src_state == SOURCE_CONNECTING);
        int fd = src_active ? source_fd(src) : -1;
        int timeout = 250;
        if (src_active && fd < 0)
            timeout = ui->src_state == SOURCE_CONNECTING ? 20 : 0;
        if (src_active && source_busy(src))
            timeout = 0; /* messages already buffered: no new bytes will wake us */
        if (ui->view == VIEW_OBJECTS && ui->objects.reading)
            timeout = 0; /* the objects view reads the recording again */
        if (dirty || need_query) {
            int wait = (int)(last_draw + FRAME_MS - now);
            if (wait < 0)
                wait = 0;
            if (wait < timeout)
                timeout = wait;
        }
        struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                                {.fd = fd, .events = POLLIN}};
        int np = fd >= 0 ? 2 : 1;
        if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR)
            break;
        if (quit_signal)
            break;

        /* keys first: they decide what the next frame shows */
        wint_t wc;
        int r;
        int keys_seen = 0;
        while (keys_seen < 64 && (r = get_wch(&wc)) != ERR) {
            keys_seen++;
            int react = handle_key(ui, r, wc);
            if (react & KEYS_QUIT) {
                quit = 1;
                break;
            }
            if (react & KEYS_REQUERY)
                need_query = 1;
            if (react & (KEYS_REDRAW | KEYS_REQUERY))
                dirty = 1;
        }
        if (quit)
            break;

        /* then a bounded slice of the source */
        if (src_active) {
            int64_t deadline = view_ctx_now_ms() + READ_SLICE_MS;
            int n;
            do {
                n = source_read(src, m, READ_BATCH);
            } while (n > 0 && view_ctx_now_ms() < deadline);
            if (ui->view == VIEW_OBJECTS && view_objects_poll(ui))
                dirty = 1;
            if (ui->view == VIEW_REFS && view_refs_poll(ui))
                dirty = 1;
            /* the program exec'd: the model started afresh (model_reset) and
             * every id and pointer the screens hold is stale */
            const struct model_summary *su = model_summary(m);
            if (su->messages < ui->seen_messages ||
                (ui->seen_start && su->start_unix_ns != ui->seen_start)) {
                ui->view = VIEW_SITES;
                ui->tree.built = 0;
                ui->tree.n_vis = 0;
                ui->objects.n = 0;
                ui->refs.state = VIEW_REFS_NONE;
                ui->sites.sel_site = MODEL_NONE;
                ui->sites.chosen = 0;
                ui->at = VIEW_AT_FOLLOW;
                ui->mark = -1;
                need_query = dirty = 1;
                ui->last_query_ms = 0;
                view_ctx_message(ui, "the program exec'd: a new run begins");
            }
            ui->seen_messages = su->messages;
            ui->seen_start = su->start_unix_ns;
            int st = source_state(src);
            if (st != ui->src_state) {
                ui->src_state = st;
                dirty = 1;
                if (st == SOURCE_DONE || st == SOURCE_FAILED)
                    need_query = 1; /* the final state, at once */
            }
        }

        /* a slice of the objects view's rewind (replay, cursor in the past) */
        if (ui->view == VIEW_OBJECTS && ui->objects.reading &&
            view_objects_work(ui, view_ctx_now_ms() + READ_SLICE_MS))
            dirty = 1;

        now = view_ctx_now_ms();
        update_rate(ui, now);
        if (model_generation(m) != ui->mv_gen) {
            /* new data: recompute at most every 100 ms, and spend at most a
             * fifth of the time on it (huge site tables), so keys and the
             * source keep their share */
            int64_t every = ui->query_cost_ms * 5 > 100 ? ui->query_cost_ms * 5 : 100;
            if (now - ui->last_query_ms >= every || !src_active)
                need_query = 1;
        }
        if (ui->msg[0] && now >= ui->msg_until_ms && now - ui->msg_until_ms < 400)
            dirty = 1;
        if ((need_query || dirty) && now - last_draw >= FRAME_MS) {
            if (need_query) {
                int64_t t0 = view_ctx_now_ms();
                requery(ui);
                ui->last_query_ms = t0;
                ui->query_cost_ms = view_ctx_now_ms() - t0;
                need_query = 0;
            }
            draw(ui);
            last_draw = view_ctx_now_ms();
            dirty = 0;
        }
        /* the status line shows rates and state: refresh it now and then */
        if (now - last_draw >= 1000)
            dirty = 1;
    }

    curses_on = 0;
    endwin();
    delscreen(scr);
    for (int i = 0; i < 4; i++)
        sigaction(crash_sigs[i], &old_crash[i], NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    view_sites_free(ui);
    view_tree_free(ui);
    view_objects_free(ui);
    view_refs_free(ui);
    model_view_free(&ui->mv);
    return 0;
}
