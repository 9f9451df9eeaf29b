/*
 * view_header.h - the header: the whole-run memory sparkline (heap, and RSS
 * below it), the peak and markers, the time cursor, and the figures at the
 * cursor.
 */
#ifndef HEAPLINE_VIEW_HEADER_H
#define HEAPLINE_VIEW_HEADER_H

#include <stddef.h>
#include <stdint.h>

struct ui;

/* Rows the header takes at the current terminal size. */
int view_header_height(const struct ui *ui);

/* Draws the header from row y; remembers the graph's geometry in ui for
 * view_header_time_at(). */
void view_header_draw(struct ui *ui, int y);

/* The time of screen column x over the graph of the last draw; returns 0 and
 * sets *t when x is on the graph, -1 otherwise. */
int view_header_time_at(const struct ui *ui, int x, int64_t *t);

/* The time span of one graph column (the cursor's step), at least 1 ns. */
int64_t view_header_step(const struct ui *ui);

struct model;

/* Pure helper (tested): allocations per second in [c0, c1) (the graph
 * column under the cursor). The timeline knows allocations only at its
 * points, each counting those since the point before: the rate is over the
 * span from the point before the column to the last point in it, or, with
 * no point in the column, over the span of the point that contains it
 * (after the last point, as live at the present: the last point's span).
 * *span gets the span used (the label says it). */
double view_header_rate(const struct model *m, int64_t c0, int64_t c1, int64_t *span);

/* Pure helper (tested): a graph's scale for its top right: " 64.3M" from 0,
 * or a zoomed graph's range " 48.1M-64.3M" (base to max). */
void view_header_scale(char *buf, size_t n, int zoomed, int64_t base, int64_t max);

/* The cursor's time (at point time ct) as `report --at` takes it, in seconds:
 * the report at the time shown is the state shown. */
void view_header_cursor_label(const struct model *m, int64_t ct, char *buf, size_t n);

#endif
