/*
 * diff.h - `heapline diff A B`: two recordings compared site by site.
 *
 * Each recording is read as `report` reads it (load.h) and queried at its own
 * time point (--at-a, --at-b). Sites are matched by what they are in the
 * source (function, file, line, module), never by address, so two builds of
 * one program compare; a site only one side has counts 0 on the other.
 * Sites are listed by the size of their change in live bytes, then in
 * allocations, bytes allocated and peak, largest first.
 */
#ifndef HEAPLINE_DIFF_H
#define HEAPLINE_DIFF_H

#include <stdint.h>
#include <stdio.h>

struct complete_input;
struct model;
struct report_options;

struct diff_options {
    int json;
    int top;                     /* sites listed; < 0: all in JSON, 20 changed ones in text */
    const char *name_a, *name_b; /* the files, for the output */
    /* what reading each file found (complete.h): an incomplete side is said
     * first, and its leaks are "not known"; NULL: read whole */
    const struct complete_input *in_a, *in_b;
};

/* Writes the comparison of a (at at_a's time point) and b (at at_b's).
 * Returns 0, or -1 with one line in err (a time beyond a recording's end,
 * out of memory). */
int diff_write(const struct model *a, const struct report_options *at_a, const struct model *b,
               const struct report_options *at_b, const struct diff_options *o, FILE *out,
               char *err, size_t errsz);

/* `heapline diff A B [--json] [--top N] [--at-a T] [--at-b T]` (argv[1] is
 * "diff"). Returns the exit status: 0, 1 (a file unreadable), 2 (usage). */
int diff_main(int argc, char **argv);

/*
 * The TUI's diff (heapline replay B --against A): A's sites at one state,
 * matched to B's sites exactly as diff_write matches them (function label,
 * file, line, module), so the site table's CHANGE column is `heapline diff`'s
 * live_bytes_delta.
 */
struct diff_base;
struct model_query;

/* A's sites at q (as report lists them). Returns NULL when out of memory. */
struct diff_base *diff_base_new(const struct model *a, const struct model_query *q);
void diff_base_free(struct diff_base *b);

/* A's live bytes of the site of m keyed as `site` is: 1 with *live_bytes,
 * or 0 (*live_bytes 0) when A has no such site (new in m). */
int diff_base_live(const struct diff_base *b, const struct model *m, uint32_t site,
                   int64_t *live_bytes);

#endif
