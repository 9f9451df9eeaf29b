/*
 * html.h - `heapline report FILE --html OUT.html`: one self-contained page
 * (no external script, style or font: it works offline and as a CI artifact)
 * with the run's figures, the memory-over-time chart with the peak and the
 * markers, and an interactive flame graph of the live bytes at the peak (or
 * at --at).
 *
 * The page carries its data as one JSON object (script#data): the report's
 * totals, the timeline, the markers and the folded stacks of flame.h, so
 * the flame graph adds up to report --flamegraph exactly. Its script draws
 * the chart and the flame graph and writes the figures it shows into
 * data-value attributes, which tests read from the rendered page.
 */
#ifndef HEAPLINE_HTML_H
#define HEAPLINE_HTML_H

#include <stddef.h>
#include <stdio.h>

struct complete_input;
struct model;
struct report_options;

/* Writes the page of m to out; the flame graph is at o's time point (peak
 * unless --at was given). in: what reading the file found (complete.h): an
 * incomplete recording is said first on the page, and its leaks are "not
 * known"; a sampled one says its flame graph's figures are estimates. Returns 0, or -1 with one
 * line in err. */
int html_write(const struct model *m, const struct report_options *o,
               const struct complete_input *in, FILE *out, char *err, size_t errsz);

/* The page to the file at path (created or truncated). Returns the exit
 * status: 0, or 1 after one "heapline: ..." line on errf. */
int html_write_file(const struct model *m, const struct report_options *o,
                    const struct complete_input *in, const char *path, FILE *errf);

#endif
