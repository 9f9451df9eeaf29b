/*
 * view_ctx.h - what the screens share: struct ui (the TUI's whole state,
 * owned by ui.c), the colour pairs, a few curses drawing helpers, and the
 * actions the key table (keys.c) names.
 *
 * Views read the model through ui->m (const) and own only their own state
 * (the structs below). Nothing here mutates the model.
 */
#ifndef HEAPLINE_VIEW_CTX_H
#define HEAPLINE_VIEW_CTX_H

#include <stdint.h>

#include "model.h"

struct rewind;
struct source;
struct ui_options;

enum view_id { VIEW_SITES = 0, VIEW_TREE, VIEW_OBJECTS, VIEW_REFS };

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

enum view_group { VIEW_GROUP_NONE = 0, VIEW_GROUP_TAG, VIEW_GROUP_THREAD };

/* One line of the site table: a site row or a group heading. */
struct view_line {
    uint32_t row;   /* index into ui->mv.rows, or MODEL_NONE for a heading */
    uint32_t group; /* tag or thread id for headings */
    int64_t bytes;  /* heading: the group's live bytes */
    uint32_t count; /* heading: sites in the group */
};

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
};

struct view_tree {
    uint32_t site;
    int dir; /* enum model_tree_dir */
    struct model_tree tree;
    uint32_t *vis; /* visible node indices, in order */
    uint32_t n_vis, vis_cap;
    uint64_t *collapsed; /* keys of collapsed nodes (sorted) */
    uint32_t n_collapsed, collapsed_cap;
    uint64_t sel_key; /* the cursor, by stable node key */
    int sel, top;
    int built;
    uint32_t skip; /* tree levels scrolled off to the left (deep stacks) */
};

struct view_objects {
    uint32_t site;
    struct objects *answer;          /* the list and where it comes from (objects.h) */
    const struct model_object *objs; /* what is drawn: objects_list(answer) */
    int n;
    uint64_t total;
    int sel, top;
    int from_view; /* where Esc goes back to */
    int valid;
    int reading; /* objects_state(answer) == OBJECTS_READING: the loop gives it slices */
};

enum view_refs_state { VIEW_REFS_NONE = 0, VIEW_REFS_SCANNING, VIEW_REFS_DONE, VIEW_REFS_FAILED };

/* One hop of a scan result, copied out of the model (its memory moves on). */
struct view_refs_node {
    uint32_t kind, to, id, depth;
    uint32_t last; /* the last holder of the node it holds (no "│" below it) */
    uint64_t addr, size, offset, interior, module_offset;
    int64_t inbound;
    char symbol[128], module[256];
    uint32_t py_flags; /* SCANMSG_PY_* */
    char py[200];      /* Python label: "list [0]", "module __main__ global instance_map" */
};

struct view_refs_line {
    uint32_t node;
    uint32_t depth;
    uint32_t last; /* no later sibling: "└─", else "├─" */
};

struct view_refs {
    int state;              /* enum view_refs_state */
    uint64_t addr, size;    /* the object */
    int scan_req, read_req; /* requests whose answers are awaited */
    uint64_t scan_seq, resp_seq;
    char error[256];
    struct view_refs_node *nodes;
    uint32_t n_nodes;
    uint32_t flags, levels;
    uint64_t duration_ns, bytes_scanned, pause_ns;
    struct view_refs_line *lines;
    uint32_t n_lines;
    unsigned char peek[64]; /* the object's first bytes */
    uint32_t n_peek;
    int sel, top;
    uint32_t depth; /* the scan's depth limit (hops); `+` deepens it */
    uint32_t skip;  /* chain levels scrolled off to the left */
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
    int view; /* enum view_id */
    int help; /* the help overlay is up */
    int help_top;

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

    struct view_sites sites;
    struct view_tree tree;
    struct view_objects objects;
    struct view_refs refs;

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

/* Moves a list selection (by delta, or to row delta when to != 0) within n rows
 * and scrolls *top so that it shows in the table's height. Every list view
 * moves its cursor through this. */
void view_ctx_move(const struct ui *ui, int *sel, int *top, int n, int delta, int to);

/* Curses attribute of a pair (A_NORMAL without colour, with fallbacks). */
int view_ctx_attr(const struct ui *ui, int pair);

/* Draws text at (y, x), cut at w cells, padded with spaces to w. */
void view_ctx_put(int y, int x, const char *text, int w, int attr);

/* "file:line", "module" when no file. */
const char *view_ctx_site_where(const struct model_site *s, char *buf, size_t n);

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

#endif
