/*
 * complete.h - is a recording the program's whole run, and if not, why not?
 *
 * A recording is complete when it holds every event from the start to the
 * program's END, each readable. Anything else (the collector turned itself
 * off, the record file could not be written, the file is cut short or
 * corrupt, the client missed events) makes it incomplete, and every command
 * says so before any figure: report (text and JSON) and the replay screen ask
 * this module, so they give the same verdict in the same words. Leaks are
 * named only from a complete recording of a program that ended by exit (or
 * exec): only then is "live at the end" proven to be "never freed".
 */
#ifndef HEAPLINE_COMPLETE_H
#define HEAPLINE_COMPLETE_H

#include <stdint.h>

struct model;

/* What the reader of the bytes knows and the model does not. */
struct complete_input {
    int truncated;       /* the file stops inside a frame or a message */
    int corrupt;         /* reading stopped at bytes that are wrong */
    uint64_t corrupt_at; /* their offset in the file */
    int live;            /* the stream may still go on (a running program) */
};

struct complete {
    int complete; /* 1: the whole run, from HELLO to END */
    /* NULL when complete, else the first cause, a JSON-stable key: "disabled",
     * "disk_full", "file_size_limit", "write_error", "corrupt", "truncated"
     * (the file stops mid-stream), "no_end" (it stops between messages, with
     * no END), "missed_events" */
    const char *reason;
    int64_t time;        /* ns: where the figures stop being whole (0: not known) */
    char message[768];   /* one line, no trailing newline: what happened, when */
    int leaks_known;     /* complete, and the program ended by exit or exec */
    char leaks_why[160]; /* !leaks_known: why not, completing "leaks not known: " */
};

/* Judges the model m (fully read) with what the reader knows. Never fails;
 * out is fully written. */
void complete_judge(const struct model *m, const struct complete_input *in, struct complete *out);

#endif
