/*
 * load.h - a recording read whole into a model: the one way the one-shot
 * commands (report, diff, check) read a file.
 */
#ifndef HEAPLINE_LOAD_H
#define HEAPLINE_LOAD_H

#include <stdio.h>

struct complete_input;
struct model;

/* load_recording()'s flags */
#define LOAD_FINE 1 /* the timeline at full resolution (--at SECONDS; memory on long runs) */
#define LOAD_TOTALS                                                                                \
    2 /* the events stepped over unread: the totals, notes and end come from                       \
       * the ticks alone (no sites, no leaks), many times faster */

/*
 * Reads the recording at path into a new model, as flags (LOAD_*) say. Warnings that do not stop
 * the read (a truncated file, inconsistent messages, an INCOMPLETE recording with its cause) go to
 * errf as "heapline: PATH: ..." lines; *in (may be NULL) gets what the reader knows of the file
 * (truncated, corrupt and where), for complete_judge(). Returns the model (free with model_free),
 * or NULL after one line on errf (missing file, not a recording, empty, out of memory).
 */
struct model *load_recording(const char *path, int flags, FILE *errf, struct complete_input *in);

#endif
