/*
 * report.h - `heapline report`: a recording summarised as text or JSON.
 *
 * The report reads the whole recording into a model (bounded memory: the
 * model keeps figures, not events) and prints the state at one time point:
 * the peak, the end, or a number of seconds since the start.
 */
#ifndef HEAPLINE_REPORT_H
#define HEAPLINE_REPORT_H

#include <stdint.h>
#include <stdio.h>

struct complete_input;
struct model;

enum report_at { REPORT_AT_END = 0, REPORT_AT_PEAK = 1, REPORT_AT_TIME = 2 };

struct report_options {
    int json;
    int top;             /* sites listed; < 0: all (JSON default), text default 10 */
    int at;              /* enum report_at */
    int64_t time;        /* REPORT_AT_TIME: ns since the start */
    const char *at_text; /* the --at argument as given, for messages */
    int flamegraph;      /* folded stacks instead of the report (flame.h) */
    int by;              /* flamegraph: enum flame_by */
    const char *html;    /* write the page (html.h) to this file instead */
};

/* Parses an --at argument: "peak", "end", or a time as the TUI prints it
 * (seconds with or without "s", 1m02.3s, 1h02m). Returns 0 or -1. */
int report_parse_at(const char *s, struct report_options *o);

struct model_query;

/* The model query of o's time point (--at). Returns 0, or -1 with one line
 * in err when the time is beyond the end of the recording. */
int report_query(const struct model *m, const struct report_options *o, struct model_query *q,
                 char *err, size_t errsz);

/* Writes the report of a loaded model; in: what the reader of the file knows
 * (truncated, corrupt), judged with the model by complete_judge(): an
 * incomplete recording says so before any figure, and names no leak. Returns
 * 0, or -1 with a one-line message in err (e.g. --at beyond the end). */
int report_write(const struct model *m, const struct report_options *o,
                 const struct complete_input *in, FILE *out, char *err, size_t errsz);

/* `heapline report FILE ...`: loads path, writes the report to out, and one
 * line per problem to errf ("heapline: " prefixed). Returns the exit
 * status. */
int report_main(const char *path, const struct report_options *o, FILE *out, FILE *errf);

#endif
