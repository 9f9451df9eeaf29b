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

/* Re-sorts, filters and groups ui->mv.rows into lines after the figures were
 * recomputed; keeps the selection on the same site. */
void view_sites_rebuild(struct ui *ui);

/* Draws the table in rows [y, y + h): column heads, rows, detail line. */
void view_sites_draw(struct ui *ui, int y, int h);

/* Moves the selection by delta lines (clamped); to = 1: absolute (delta is the line). */
void view_sites_move(struct ui *ui, int delta, int to);

/* The selected site, or MODEL_NONE. */
/* The status bar's site count: "13 sites", or "1 of 13 sites" while a
 * filter, the leaks or the cursor's time leave some out of the table. */
void view_sites_count(const struct ui *ui, char *buf, size_t n);

uint32_t view_sites_selected(const struct ui *ui);

/* Cells of the per-site sparkline column at the current width. */
int view_sites_spark_cells(const struct ui *ui);

/* Frees the view's memory. */
void view_sites_free(struct ui *ui);

#endif
