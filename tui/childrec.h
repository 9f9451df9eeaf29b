/*
 * childrec.h - the recordings of a recorded program's fork children: the
 * collector in each child writes FILE.<pid> beside FILE. `heapline record`
 * says which of them this run wrote, and which an earlier recording into
 * FILE left there (a user who lists FILE.* after a second run would take
 * those for this run's).
 */
#ifndef HEAPLINE_CHILDREC_H
#define HEAPLINE_CHILDREC_H

#include <stddef.h>

struct childrec_file;

/* What was beside FILE before the program started. */
struct childrec {
    struct childrec_file *before;
    size_t n_before;
};

/* Before the program starts: notes each FILE.<pid> beside abs_out (an
 * absolute path) as it is then. Reads the directory only; never follows a
 * link. Returns 0, or -1 when out of memory (c then notes nothing, and every
 * FILE.<pid> found later counts as this run's). */
int childrec_before(struct childrec *c, const char *abs_out);

/* After the program ended, on stderr: one line naming the recordings this
 * run's children wrote ("heapline: 1 child process recorded too: out.123
 * (cc1)"), and one naming those an earlier run left, unchanged ("heapline: 2
 * child recordings of an earlier run left as they were: out.7, out.9"), each
 * listing 4 at most, and only files that start as a recording does (not a
 * link, not a FIFO, not another program's file). out is FILE as the user
 * wrote it. Nothing is written, truncated or removed. */
void childrec_say(const struct childrec *c, const char *abs_out, const char *out);

void childrec_free(struct childrec *c);

#endif
