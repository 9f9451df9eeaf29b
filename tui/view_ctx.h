/*
 * view_ctx.h - what the screens share: struct ui (the TUI's whole state,
 * owned by ui.c), the colour pairs, a few curses drawing helpers, and the
 * actions the key table (keys.c) names.
 *
 * Views read the model through ui->m (const) and own only their own state,
 * private to their files (struct view_ops). Nothing here mutates the model.
 */
#ifndef HEAPLINE_VIEW_CTX_H
#define HEAPLINE_VIEW_CTX_H

#include <stdint.h>

#include "model.h"

struct source;
struct ui;
struct ui_options;

/* The screens, rows of the table in view_ctx.c. */
enum view_id { VIEW_SITES = 0, VIEW_TREE, VIEW_OBJECTS, VIEW_REFS, VIEW_CENSUS, VIEW_COUNT };

/* How a move() counts: by rows from the cursor, to a row of the list, or to
 * a row of the table as drawn (a mouse click). */
enum view_move { VIEW_MOVE_BY = 0, VIEW_MOVE_TO = 1, VIEW_MOVE_SHOWN = 2 };

/* What a poll() saw: the screen changed; work is left (poll again at once). */
#define VIEW_POLL_CHANGED 1
#define VIEW_POLL_BUSY 2

/*
 * A screen, tmux's window_mode style: the loop calls these and never asks
 * which screen is up. Each view keeps its state private to its own file, in
 * ui->data[its id], made by open() and released by free(). Every op but
 * name, keys, open, draw and free may be NULL.
 */
struct view_ops {
    const char *name; /* "sites", "tree", ... */
    unsigned keys;    /* the KEYS_* screen bit of its bindings in keys.c */
    /* Makes the view's state (once, at start-up). Returns 0, or -1 (no memory). */
    int (*open)(struct ui *ui);
    /* Draws the view's rows y .. y+h-1 and sets ui->table_y/table_h. */
    void (*draw)(struct ui *ui, int y, int h);
    /* Moves the list cursor (enum view_move). */
    void (*move)(struct ui *ui, int delta, int how);
    /* Answers from the source and background work until deadline_ms.
     * Returns VIEW_POLL_* flags. */
    int (*poll)(struct ui *ui, int64_t deadline_ms);
    /* The figures at the cursor (ui->mv) were recomputed: rebuild. */
    void (*update)(struct ui *ui);
    /* The model began afresh (the program exec'd): drop every id held. */
    void (*reset)(struct ui *ui);
    /* Releases the view's state. */
    void (*free)(struct ui *ui);
    /* The text its list is filtered by ("": none) and its setter, which the
     * "/" prompt calls as the user types; NULL: the screen has no filter. */
    const char *(*filter)(const struct ui *ui);
    void (*set_filter)(struct ui *ui, const char *text);
};

/* The table of screens, indexed by enum view_id. */
extern const struct view_ops *const view_ctx_views[VIEW_COUNT];

enum view_at {
    VIEW_AT_FOLLOW = 0, /* the latest state; moves with the data */
    VIEW_AT_TIME = 1,   /* ui->cursor */
    VIEW_AT_PEAK = 2    /* the exact state at the heap peak */
};

enum view_pair {
    VIEW_PAIR_TITLE = 1,
    VIEW_PAIR_HEAP,
    VIEW_PAIR_RSS,
    VIEW_PAIR_CURSOR,
    VIEW_PAIR_PEAK,
    VIEW_PAIR_MARKER,
    VIEW_PAIR_SELECTED,
    VIEW_PAIR_COLHEAD,
    VIEW_PAIR_STATUS,
    VIEW_PAIR_WARN,
    VIEW_PAIR_GROW,
    VIEW_PAIR_DIM,
    VIEW_PAIR_COUNT
};

struct ui {
    struct model *model;   /* for model_apply through the source only */
    const struct model *m; /* what views read */
    struct source *src;
    const struct ui_options *opt;

    int rows, cols;
    int spark_mode; /* enum widget_spark_mode */
    int ascii;      /* no UTF-8: ASCII graph and tree guides */
    int color;
    int view;               /* enum view_id: the screen up */
    int back[8], n_back;    /* where Esc goes: the screens opened before it */
    int view_busy;          /* its last poll() left work: poll again at once */
    void *data[VIEW_COUNT]; /* each view's private state (its open/free) */
    int help;               /* the help overlay is up */
    int help_top;
    uint32_t notes_seen; /* the collector's notes shown on the status line */

    int at;                 /* enum view_at */
    int64_t cursor;         /* VIEW_AT_TIME */
    int64_t mark;           /* -1: none */
    uint32_t marker_last;   /* the marker n last went to, MODEL_NONE: none, */
    int64_t marker_at;      /* while the cursor is still at this time */
    int64_t zoom_span;      /* the timeline shows this much time; 0: the whole run */
    int64_t zoom_t0;        /* its start when zoomed (panned to keep the cursor in) */
    int window_idx;         /* growth window preset */
    int leaks, temporaries; /* toggles */

    /* the figures at the cursor, recomputed when the model or the query moves */
    struct model_view mv;
    uint64_t mv_gen;
    int mv_valid;
    int64_t mv_spark_from, mv_spark_to;
    uint32_t mv_spark_points;
    int64_t last_query_ms;
    int64_t query_cost_ms;  /* how long the last recompute took */
    uint64_t seen_messages; /* model_summary messages: falls when the model is reset */
    int64_t seen_start;     /* HELLO start time: changes when a new stream begins */

    /* the header's geometry of the last draw (mouse clicks on the timeline) */
    int graph_x, graph_w, graph_y0, graph_y1;
    int64_t graph_t0, graph_t1;
    int table_y, table_h; /* first row and rows of the current list */

    /* filter prompt */
    int prompt;
    char prompt_buf[128];
    char prompt_save[128]; /* the filter before the prompt opened (Esc restores it) */
    size_t prompt_len;

    /* status */
    char msg[256];
    int64_t msg_until_ms;
    uint64_t ev_prev;
    int64_t ev_prev_ms;
    double ev_rate;
    int src_state;
};

/* ---- helpers (view_ctx.c) ---- */

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t view_ctx_now_ms(void);

/* The query for the cursor's state (sparkline fields zero). */
void view_ctx_query(const struct ui *ui, struct model_query *q);

/* The time the cursor stands at (resolved: follow -> latest, peak -> peak). */
int64_t view_ctx_cursor_time(const struct ui *ui);

/* The time range the timeline shows: the whole run, or the zoomed window
 * (which ends at the latest time while following). */
void view_ctx_visible(const struct ui *ui, int64_t *t0, int64_t *t1);

/* Pans the zoomed window so the cursor stays inside it. */
void view_ctx_pan(struct ui *ui);

/* Moves a list selection (enum view_move: by delta, to row delta, to the
 * row shown delta rows below the table's top) within n rows
 * and scrolls *top so that it shows in the table's height. Every list view
 * moves its cursor through this. */
void view_ctx_move(const struct ui *ui, int *sel, int *top, int n, int delta, int how);

/* Curses attribute of a pair (A_NORMAL without colour, with fallbacks). */
int view_ctx_attr(const struct ui *ui, int pair);

/* Draws text at (y, x), cut at w cells, padded with spaces to w. */
void view_ctx_put(int y, int x, const char *text, int w, int attr);

/* Draws a screen's title line: text, three spaces, then the keys that act on
 * the screen. When both do not fit, text is cut (ending in "~") so that the
 * keys stay whole at the right edge; a terminal too narrow even for that gets
 * the line cut as view_ctx_put() cuts it. */
void view_ctx_title(int y, int cols, const char *text, const char *keys, int attr);

/* The last component of a path ("prog.cpp:6" of "/src/prog.cpp:6"). */
const char *view_ctx_base(const char *path);

/* "file:line", "module" when no file. */
const char *view_ctx_site_where(const struct model_site *s, char *buf, size_t n);

/* Makes every view's state (view_ops.open). Returns 0, or -1 (the views
 * opened so far are freed). */
int view_ctx_open(struct ui *ui);

/* Releases every view's state (view_ops.free). */
void view_ctx_close(struct ui *ui);

/* The ops of the screen up. */
const struct view_ops *view_ctx_current(const struct ui *ui);

/* Brings screen `view` up; Esc (ui_act_back) returns to the one up now. */
void view_ctx_show(struct ui *ui, int view);

/* Sets a status-line message for a few seconds. */
void view_ctx_message(struct ui *ui, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- actions named by keys.c (ui.c and the views) ---- */

int ui_act_quit(struct ui *ui, int key);
int ui_act_help(struct ui *ui, int key);
int ui_act_time_back(struct ui *ui, int key);
int ui_act_time_fwd(struct ui *ui, int key);
int ui_act_time_back10(struct ui *ui, int key);
int ui_act_time_fwd10(struct ui *ui, int key);
int ui_act_time_home(struct ui *ui, int key);
int ui_act_time_end(struct ui *ui, int key);
int ui_act_time_peak(struct ui *ui, int key);
int ui_act_marker_next(struct ui *ui, int key);
int ui_act_marker_prev(struct ui *ui, int key);
int ui_act_follow(struct ui *ui, int key);
int ui_act_mark(struct ui *ui, int key);
int ui_act_window(struct ui *ui, int key);
int ui_act_leaks(struct ui *ui, int key);
int ui_act_temporaries(struct ui *ui, int key);
int ui_act_graph_style(struct ui *ui, int key);
int ui_act_redraw(struct ui *ui, int key);
int ui_act_up(struct ui *ui, int key);
int ui_act_down(struct ui *ui, int key);
int ui_act_page_up(struct ui *ui, int key);
int ui_act_page_down(struct ui *ui, int key);
int ui_act_top(struct ui *ui, int key);
int ui_act_bottom(struct ui *ui, int key);
int ui_act_open_tree(struct ui *ui, int key);
int ui_act_open_objects(struct ui *ui, int key);
int ui_act_open_refs(struct ui *ui, int key);
int ui_act_back(struct ui *ui, int key);
int ui_act_sort_next(struct ui *ui, int key);
int ui_act_sort_prev(struct ui *ui, int key);
int ui_act_sort_reverse(struct ui *ui, int key);
int ui_act_filter(struct ui *ui, int key);
int ui_act_group_tag(struct ui *ui, int key);
int ui_act_group_thread(struct ui *ui, int key);
int ui_act_tree_flip(struct ui *ui, int key);
int ui_act_tree_toggle(struct ui *ui, int key);
int ui_act_tree_expand(struct ui *ui, int key);
int ui_act_tree_collapse(struct ui *ui, int key);
int ui_act_tree_expand_all(struct ui *ui, int key);
int ui_act_refs_dot(struct ui *ui, int key);
int ui_act_refs_deeper(struct ui *ui, int key);
int ui_act_zoom_in(struct ui *ui, int key);
int ui_act_zoom_out(struct ui *ui, int key);
int ui_act_open_census(struct ui *ui, int key);
int ui_act_census_again(struct ui *ui, int key);
int ui_act_census_sort(struct ui *ui, int key);
int ui_act_census_chain(struct ui *ui, int key);

#endif
