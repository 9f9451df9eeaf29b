/*
 * view_sites.h - the call-site table: one row per allocation site with live
 * bytes, blocks, allocations, growth and a per-site sparkline; sorted,
 * filtered, optionally grouped by tag or thread. Only visible rows are drawn.
 */
#ifndef HEAPLINE_VIEW_SITES_H
#define HEAPLINE_VIEW_SITES_H

#include <stddef.h>
#include <stdint.h>

struct ui;

/* The screen's ops (view_ctx.h). */
extern const struct view_ops view_sites_ops;

enum view_group { VIEW_GROUP_NONE = 0, VIEW_GROUP_TAG, VIEW_GROUP_THREAD };

/* One line of the site table: a site row or a group heading. */
struct view_line {
    uint32_t row;   /* index into ui->mv.rows, or MODEL_NONE for a heading */
    uint32_t group; /* tag or thread id for headings */
    int64_t bytes;  /* heading: the group's live bytes */
    uint32_t count; /* heading: sites in the group */
};

/* Re-sorts, filters and groups ui->mv.rows into lines after the figures were
 * recomputed; keeps the selection on the same site. */
void view_sites_rebuild(struct ui *ui);

/* Draws the table in rows [y, y + h): column heads, rows, detail line. */
void view_sites_draw(struct ui *ui, int y, int h);

/* Moves the selection (enum view_move), clamped. */
void view_sites_move(struct ui *ui, int delta, int how);

/* The status bar's site count: "13 sites", or "1 of 13 sites" while a
 * filter, the leaks or the cursor's time leave some out of the table. */
void view_sites_count(const struct ui *ui, char *buf, size_t n);

/* The selected site, or MODEL_NONE. */
uint32_t view_sites_selected(const struct ui *ui);

/* The lines as built by the last rebuild (*n of them; *sel the selected
 * one when sel is not NULL). Valid until the next rebuild. */
const struct view_line *view_sites_lines(const struct ui *ui, uint32_t *n, int *sel);

/* The filter text ("" none) and setting it (applied by the next rebuild). */
const char *view_sites_filter(const struct ui *ui);
void view_sites_set_filter(struct ui *ui, const char *text);

/* Grouping (enum view_group), applied by the next rebuild. */
void view_sites_set_group(struct ui *ui, int group);

/* Cells of the per-site sparkline column at the current width. */
int view_sites_spark_cells(const struct ui *ui);

/* Frees the view's state (view_sites_ops.free). */
void view_sites_free(struct ui *ui);

#endif
