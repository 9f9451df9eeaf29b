/*
 * widget.h - pure text widgets for the TUI: numbers, sparklines and rows,
 * rendered into caller-owned buffers (no curses), so they are testable
 * without a terminal.
 *
 * Every string produced is UTF-8 where every code point is one terminal
 * column wide (braille, block elements, ASCII), so "cells" below equals
 * "code points". Buffers are always NUL-terminated when their size is > 0.
 */
#ifndef HEAPLINE_WIDGET_H
#define HEAPLINE_WIDGET_H

#include <stddef.h>
#include <stdint.h>

enum widget_spark_mode {
    WIDGET_SPARK_BRAILLE = 0, /* two samples per cell, four levels each (U+2800 block) */
    WIDGET_SPARK_BLOCK = 1,   /* one sample per cell, eight levels (U+2581..U+2588) */
    WIDGET_SPARK_ASCII = 2    /* one sample per cell, eight levels from " ._-:=+*#" */
};

/* Samples that fit in one cell in the given mode (2 for braille, else 1). */
int widget_spark_per_cell(int mode);

/*
 * Renders row `row` (0 is the top) of a sparkline `rows` cells high from
 * nv samples (nv / widget_spark_per_cell(mode) cells, rounded up; a missing
 * last sample is 0). Values are scaled against max (max <= 0: all blank); a
 * value above 0 always shows at least one dot/level in the bottom row; a
 * value below 0 is 0. Writes at most outsz bytes (NUL included). Returns the
 * number of cells written.
 */
int widget_spark(char *out, size_t outsz, const int64_t *v, int nv, int64_t max, int mode, int rows,
                 int row);

/* "0B", "999B", "1.00K", "12.3M", "512G": binary units, at most 5 cells, one
 * less than the next unit (no "1024K"). With sign != 0 a leading '+' or '-'
 * is added (0 prints "0B"). Returns the length. */
int widget_fmt_bytes(char *buf, size_t n, int64_t bytes, int sign);

/* "999", "1.23k", "45.6M": decimal units for counts and rates. */
int widget_fmt_count(char *buf, size_t n, uint64_t count);

/* "1,048,576": exact, with thousands separators. */
int widget_fmt_exact(char *buf, size_t n, int64_t v);

/* Nanoseconds as "0.000s", "12.345s", "2m05.3s", "1h02m". */
int widget_fmt_time(char *buf, size_t n, int64_t ns);

/* Display width of a UTF-8 string (code points, continuation bytes skipped). */
int widget_width(const char *s);

enum widget_align {
    WIDGET_LEFT = 0,
    WIDGET_RIGHT = 1,
    WIDGET_LEFT_CUT_HEAD = 2 /* left aligned; when too long, drop the start ("~/a/b.c:12") */
};

struct widget_col {
    const char *text; /* UTF-8, NULL is empty */
    int width;        /* cells; -1: this column takes the space left (at most one) */
    int align;        /* enum widget_align */
};

/*
 * Lays ncols columns out into exactly `width` cells, one space between
 * columns, each padded or cut to its width (cut text ends with '~', or starts
 * with '~' for WIDGET_LEFT_CUT_HEAD). A flexible column gets what the fixed
 * ones leave, at least 0. Returns the bytes written (NUL excluded).
 */
int widget_row(char *out, size_t outsz, const struct widget_col *cols, int ncols, int width);

#endif
