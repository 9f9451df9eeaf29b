/*
 * flame.h - `heapline report FILE --flamegraph`: the state at one time point
 * as folded stacks, the text that flamegraph.pl, inferno and speedscope read.
 *
 * One line per distinct stack, "outer;...;inner COUNT", root (main, _start)
 * first, lines in byte order, COUNT > 0. The frames are the model's stack
 * tree's (model_tree_build), inlined functions included where the model
 * makes them frames of their own. The counts of every line add up exactly to
 * the report's figure at the same time: live bytes, bytes allocated or
 * allocations.
 */
#ifndef HEAPLINE_FLAME_H
#define HEAPLINE_FLAME_H

#include <stddef.h>
#include <stdio.h>

struct model;
struct report_options;

enum flame_by {
    FLAME_BY_LIVE = 0,      /* live bytes at the time */
    FLAME_BY_ALLOCATED = 1, /* bytes allocated up to the time */
    FLAME_BY_ALLOCATIONS = 2
};

/* Parses a --by argument (live, allocated, allocations) into *by. Returns 0
 * or -1. */
int flame_parse_by(const char *s, int *by);

/* Writes the folded stacks of m at o's time point (o->at, o->time) counted
 * by o->by. Returns 0, or -1 with one line in err. */
int flame_write(const struct model *m, const struct report_options *o, FILE *out, char *err,
                size_t errsz);

#endif
