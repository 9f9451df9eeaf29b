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
#include "ui_act.h"
#include "keys.h"
#include "model.h"
#include "source.h"
#include "view_ctx.h"
#include "view_header.h"
#include "view_sites.h"
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

/* ---- figures ---- */

/* Recomputes the figures at the cursor and rebuilds the current screen. */
static void requery(struct ui *ui)
{
    struct model_query q;
    view_ctx_pan(ui);
    view_ctx_query(ui, &q);
    q.window = ui_act_growth_window(ui);
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
    /* the site table always (the status line counts it, other screens open
     * from its selection), then the screen up */
    view_ctx_views[VIEW_SITES]->update(ui);
    const struct view_ops *v = view_ctx_current(ui);
    if (ui->view != VIEW_SITES && v->update)
        v->update(ui);
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

static void title_left(const struct ui *ui, char *left, size_t n, const char *name)
{
    if (ui->opt && ui->opt->against)
        snprintf(left, n, " heapline  %s  %s  against %s", kind_name(ui), name,
                 view_ctx_base(ui->opt->against_name));
    else
        snprintf(left, n, " heapline  %s  %s", kind_name(ui), name);
}

static void draw_title(struct ui *ui)
{
    char left[512], right[256], t[32], d[32], extra[160] = "";
    const struct model_summary *s = model_summary(ui->m);
    const char *name = ui->opt && ui->opt->title ? ui->opt->title
                       : ui->src                 ? source_name(ui->src)
                                                 : "";
    title_left(ui, left, sizeof left, name);
    int64_t ct = view_ctx_cursor_time(ui);
    if (ui->at == VIEW_AT_TIME)
        view_header_cursor_label(ui->m, ct, t, sizeof t);
    else
        widget_fmt_time(t, sizeof t, ct);
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
    const char *filter = view_sites_filter(ui);
    if (filter[0] && e < sizeof extra)
        e += (size_t)snprintf(extra + e, sizeof extra - e, " /%s", filter);
    snprintf(right, sizeof right, "%s t=%s of %s [%s] ", extra, t, d, mode);
    int rw = widget_width(right);
    /* a recording's path that leaves no room for the rest: its file name, as
     * the recording it is compared against is named */
    if (ui->opt && ui->opt->source_kind == UI_SRC_REPLAY && widget_width(left) + rw > ui->cols)
        title_left(ui, left, sizeof left, view_ctx_base(name));
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
    int lw = widget_width(line);
    /* the keys whole or not at all ("?:help q:q" at 80 columns); q on a
     * program heapline attached to detaches: it runs on, the collector idle */
    const char *keys = ui->opt && ui->opt->q_detaches ? " ?:help q:detach " : " ?:help q:quit ";
    const char *right = lw + widget_width(keys) + 1 <= ui->cols ? keys
                        : lw + 9 <= ui->cols                    ? " ?:help "
                                                                : "";
    if (ui->msg[0] && now < ui->msg_until_ms) {
        /* a fresh message wins its width over the state on the left, two
         * blanks apart ("end of ra recording..." ran them together) */
        right = ui->msg;
        if (lw > ui->cols - widget_width(right) - 3) {
            lw = ui->cols - widget_width(right) - 3 > 0 ? ui->cols - widget_width(right) - 3 : 0;
            view_ctx_put(y, lw, "", ui->cols - lw, attr);
        }
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

/* Line i of the help overlay past the keys: the collector's notes, each
 * wrapped at spaces to width columns. 0 past them. */
static int note_line(const struct ui *ui, size_t i, char *buf, size_t n, int width)
{
    const struct model_summary *s = model_summary(ui->m);
    uint32_t k = s->n_notes < MODEL_NOTES ? s->n_notes : MODEL_NOTES;
    int room = width - 12 > 20 ? width - 12 : 20; /* past "  12.345s  " */

    if (!k)
        return 0;
    if (i < 2) {
        snprintf(buf, n, "%s", i ? "From the collector" : " ");
        return 1;
    }
    i -= 2;
    for (uint32_t j = 0; j < k; j++) {
        const char *t = s->notes[j];

        for (int first = 1; *t; first = 0, i--) {
            int len = (int)strlen(t), cut = len;

            if (len > room) { /* the last blank that fits, else a hard cut */
                for (cut = room; cut > 0 && t[cut] != ' '; cut--)
                    ;
                if (cut == 0)
                    cut = room;
            }
            if (i == 0) {
                char when[32] = "";

                if (first)
                    snprintf(when, sizeof when, "%.3fs", (double)s->note_time[j] / 1e9);
                snprintf(buf, n, "  %9s  %.*s", when, cut, t);
                return 1;
            }
            t += cut;
            while (*t == ' ')
                t++;
        }
    }
    return 0;
}

static void draw_help(struct ui *ui)
{
    int y0 = 1, h = ui->rows - 2;
    int w = ui->cols;
    char line[512];
    size_t keys = keys_help_count(), total = keys;

    while (note_line(ui, total - keys, line, sizeof line, w - 1))
        total++;
    if (ui->help_top > (int)total - (h - 1))
        ui->help_top = (int)total - (h - 1);
    if (ui->help_top < 0)
        ui->help_top = 0;
    view_ctx_put(y0, 0, " Keys (from the key table; j/k scroll, any other key closes)", w,
                 view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    for (int i = 1; i < h; i++) {
        size_t li = (size_t)(ui->help_top + i - 1);
        if (li < keys ? !keys_help_line(li, line, sizeof line, w - 1)
                      : !note_line(ui, li - keys, line, sizeof line, w - 1))
            line[0] = '\0';
        int title = line[0] && line[0] != ' ';
        view_ctx_put(y0 + i, 1, line, w - 1,
                     title ? view_ctx_attr(ui, VIEW_PAIR_COLHEAD) : (int)A_NORMAL);
        view_ctx_put(y0 + i, 0, "", 1, A_NORMAL);
    }
}

/* The collector's latest note, when one came since the last frame: on the
 * status line for a while (they all stay on the help overlay). */
static void note_news(struct ui *ui)
{
    const struct model_summary *s = model_summary(ui->m);

    if (s->n_notes > ui->notes_seen) {
        uint32_t k = s->n_notes <= MODEL_NOTES ? s->n_notes - 1 : MODEL_NOTES - 1;

        view_ctx_message(ui, "note (on ?): %s", s->notes[k]);
        ui->notes_seen = s->n_notes;
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
    if (ui->help)
        draw_help(ui);
    else
        view_ctx_current(ui)->draw(ui, y, h);
    note_news(ui);
    draw_status(ui);
    curs_set(ui->prompt ? 1 : 0);
    wnoutrefresh(stdscr);
    doupdate();
}

/* ---- input ---- */

static unsigned screen_mask(const struct ui *ui)
{
    return view_ctx_current(ui)->keys;
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
    const struct view_ops *v = view_ctx_current(ui);

    if (r != OK)
        return KEYS_NONE;
    if (!v->filter || !v->set_filter) { /* no screen without one opens the prompt */
        ui->prompt = 0;
        return KEYS_REDRAW;
    }
    if (wc == 27) {
        ui->prompt = 0;
        v->set_filter(ui, ui->prompt_save);
        return KEYS_REQUERY;
    }
    if (wc == '\n' || wc == '\r') {
        ui->prompt = 0;
        if (v->filter(ui)[0])
            view_ctx_message(ui, "filter: %s", v->filter(ui));
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
    v->set_filter(ui, ui->prompt_buf);
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
        ui_act_list_move(ui, -3, 0);
        return KEYS_REDRAW;
    }
#ifdef BUTTON5_PRESSED
    if (ev.bstate & BUTTON5_PRESSED) {
        ui_act_list_move(ui, 3, 0);
        return KEYS_REDRAW;
    }
#endif
    if (!(ev.bstate &
          (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON1_RELEASED)))
        return KEYS_NONE;
    int64_t t;
    if (ev.y >= ui->graph_y0 && ev.y <= ui->graph_y1 && view_header_time_at(ui, ev.x, &t) == 0)
        return ui_act_goto(ui, t);
    if (ev.y >= ui->table_y && ev.y < ui->table_y + ui->table_h) {
        ui_act_list_move(ui, ev.y - ui->table_y, VIEW_MOVE_SHOWN);
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

/* ---- the loop ---- */

/* What the loop keeps between turns, and what teardown must restore. */
struct loop {
    struct ui ui;
    SCREEN *scr;
    struct sigaction old_int, old_term, old_hup, old_pipe, old_crash[4];
    int dirty, need_query;
    int64_t last_draw;
};

static const int crash_sigs[4] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};

/* Signals: quit on INT/TERM/HUP, give the terminal back on a crash, ignore
 * SIGPIPE (a request written to a socket the collector just closed must not
 * kill us). The old actions are kept for teardown. */
static void setup_signals(struct loop *l)
{
    struct sigaction sa, crash, ign;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_quit_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &l->old_int);
    sigaction(SIGTERM, &sa, &l->old_term);
    sigaction(SIGHUP, &sa, &l->old_hup);
    memset(&crash, 0, sizeof crash);
    crash.sa_handler = on_crash;
    sigemptyset(&crash.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(crash_sigs[i], &crash, &l->old_crash[i]);
    static int atexit_done;
    if (!atexit_done && atexit(restore_at_exit) == 0)
        atexit_done = 1;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &l->old_pipe);
}

/* Checks the terminal, makes the views' state, turns curses on. Returns 0,
 * or the exit status after one line on stderr (curses is then off). */
static int setup(struct loop *l, struct model *m, struct source *src, const struct ui_options *opt)
{
    struct ui *ui = &l->ui;

    memset(l, 0, sizeof *l);
    ui->model = m;
    ui->m = m;
    ui->src = src;
    ui->opt = opt;
    ui->mark = -1;
    ui->marker_last = MODEL_NONE;
    ui->src_state = src ? source_state(src) : SOURCE_DONE;
    l->dirty = l->need_query = 1;

    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "heapline: the TUI needs a terminal (use `heapline report` otherwise)\n");
        return 1;
    }
    if (view_ctx_open(ui) != 0) {
        fprintf(stderr, "heapline: out of memory\n");
        return 1;
    }
    setlocale(LC_ALL, "");
    ui->ascii = !utf8_locale();
    ui->spark_mode = ui->ascii ? WIDGET_SPARK_ASCII : WIDGET_SPARK_BRAILLE;
    const char *sp = getenv("HEAPLINE_SPARK");
    if (!ui->ascii && sp && strcmp(sp, "block") == 0)
        ui->spark_mode = WIDGET_SPARK_BLOCK;

    l->scr = newterm(NULL, stdout, stdin);
    if (!l->scr) {
        fprintf(stderr, "heapline: cannot use terminal type '%s'\n",
                getenv("TERM") ? getenv("TERM") : "(unset)");
        view_ctx_close(ui);
        return 1;
    }
    setup_signals(l);
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
    return 0;
}

/* Curses off, signals back, the views' state freed. */
static void teardown(struct loop *l)
{
    curses_on = 0;
    endwin();
    delscreen(l->scr);
    for (int i = 0; i < 4; i++)
        sigaction(crash_sigs[i], &l->old_crash[i], NULL);
    sigaction(SIGPIPE, &l->old_pipe, NULL);
    sigaction(SIGINT, &l->old_int, NULL);
    sigaction(SIGTERM, &l->old_term, NULL);
    sigaction(SIGHUP, &l->old_hup, NULL);
    view_ctx_close(&l->ui);
    model_view_free(&l->ui.mv);
}

/* How long poll() may sleep: not at all while work is buffered, until the
 * next frame when something is to be drawn. */
static int turn_timeout(const struct loop *l, int src_active, int fd, int64_t now)
{
    const struct ui *ui = &l->ui;
    int timeout = 250;

    if (src_active && fd < 0)
        timeout = ui->src_state == SOURCE_CONNECTING ? 20 : 0;
    if (src_active && source_busy(ui->src))
        timeout = 0; /* messages already buffered: no new bytes will wake us */
    if (ui->view_busy)
        timeout = 0; /* the screen up has work of its own (a rewind) */
    if (l->dirty || l->need_query) {
        int wait = (int)(l->last_draw + FRAME_MS - now);
        if (wait < 0)
            wait = 0;
        if (wait < timeout)
            timeout = wait;
    }
    return timeout;
}

/* Keys first: they decide what the next frame shows. Returns 1 to quit. */
static int turn_keys(struct loop *l)
{
    wint_t wc;
    int r, keys_seen = 0;

    while (keys_seen < 64 && (r = get_wch(&wc)) != ERR) {
        keys_seen++;
        int react = handle_key(&l->ui, r, wc);
        if (react & KEYS_QUIT)
            return 1;
        if (react & KEYS_REQUERY)
            l->need_query = 1;
        if (react & (KEYS_REDRAW | KEYS_REQUERY))
            l->dirty = 1;
    }
    return 0;
}

/* The program exec'd: the model started afresh (model_reset) and every id
 * and pointer the screens hold is stale. */
static void restart(struct loop *l)
{
    struct ui *ui = &l->ui;

    for (int i = 0; i < VIEW_COUNT; i++)
        if (view_ctx_views[i]->reset)
            view_ctx_views[i]->reset(ui);
    ui->view = VIEW_SITES;
    ui->n_back = 0;
    ui->at = VIEW_AT_FOLLOW;
    ui->mark = -1;
    l->need_query = l->dirty = 1;
    ui->last_query_ms = 0;
    view_ctx_message(ui, "the program exec'd: a new run begins");
}

/* A bounded slice of the source. */
static void turn_source(struct loop *l)
{
    struct ui *ui = &l->ui;
    int64_t deadline = view_ctx_now_ms() + READ_SLICE_MS;
    int n;

    do {
        n = source_read(ui->src, ui->model, READ_BATCH);
    } while (n > 0 && view_ctx_now_ms() < deadline);
    const struct model_summary *su = model_summary(ui->m);
    if (su->messages < ui->seen_messages || (ui->seen_start && su->start_unix_ns != ui->seen_start))
        restart(l);
    ui->seen_messages = su->messages;
    ui->seen_start = su->start_unix_ns;
    int st = source_state(ui->src);
    if (st != ui->src_state) {
        ui->src_state = st;
        l->dirty = 1;
        if (st == SOURCE_DONE || st == SOURCE_FAILED)
            l->need_query = 1; /* the final state, at once */
    }
}

/* Recompute and draw when due (at most ~30 frames a second). */
static void turn_draw(struct loop *l, int src_active)
{
    struct ui *ui = &l->ui;
    int64_t now = view_ctx_now_ms();

    update_rate(ui, now);
    if (model_generation(ui->m) != ui->mv_gen) {
        /* new data: recompute at most every 100 ms, and spend at most a
         * fifth of the time on it (huge site tables), so keys and the
         * source keep their share */
        int64_t every = ui->query_cost_ms * 5 > 100 ? ui->query_cost_ms * 5 : 100;
        if (now - ui->last_query_ms >= every || !src_active)
            l->need_query = 1;
    }
    if (ui->msg[0] && now >= ui->msg_until_ms && now - ui->msg_until_ms < 400)
        l->dirty = 1;
    if ((l->need_query || l->dirty) && now - l->last_draw >= FRAME_MS) {
        if (l->need_query) {
            int64_t t0 = view_ctx_now_ms();
            requery(ui);
            ui->last_query_ms = t0;
            ui->query_cost_ms = view_ctx_now_ms() - t0;
            l->need_query = 0;
        }
        draw(ui);
        l->last_draw = view_ctx_now_ms();
        l->dirty = 0;
    }
    /* the status line shows rates and state: refresh it now and then */
    if (now - l->last_draw >= 1000)
        l->dirty = 1;
}

/* One turn of the loop: wait, keys, source, the screen's own work, draw.
 * Returns 1 when the user quit (or poll failed). */
static int turn(struct loop *l)
{
    struct ui *ui = &l->ui;
    int src_active =
        ui->src && (ui->src_state == SOURCE_OPEN || ui->src_state == SOURCE_CONNECTING);
    int fd = src_active ? source_fd(ui->src) : -1;
    struct pollfd pfd[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = fd, .events = POLLIN}};

    if (poll(pfd, fd >= 0 ? 2 : 1, turn_timeout(l, src_active, fd, view_ctx_now_ms())) < 0 &&
        errno != EINTR)
        return 1;
    if (quit_signal || turn_keys(l))
        return 1;
    if (src_active)
        turn_source(l);
    /* answers for the screen up, and a slice of its own work */
    const struct view_ops *v = view_ctx_current(ui);
    int polled = v->poll ? v->poll(ui, view_ctx_now_ms() + READ_SLICE_MS) : 0;
    ui->view_busy = (polled & VIEW_POLL_BUSY) != 0;
    if (polled & VIEW_POLL_CHANGED)
        l->dirty = 1;
    turn_draw(l, src_active);
    return 0;
}

int ui_main(struct model *m, struct source *src, const struct ui_options *opt)
{
    struct loop *l = malloc(sizeof *l);
    int rc;

    if (!l) {
        fprintf(stderr, "heapline: out of memory\n");
        return 1;
    }
    rc = setup(l, m, src, opt);
    if (rc == 0) {
        while (!quit_signal && !turn(l))
            ;
        teardown(l);
    }
    free(l);
    return rc;
}
