/*
 * view_census.h - the live Python objects of a running program by type
 * (count, bytes, growth since the screen's first census), as `heapline
 * backrefs PID --types` prints them; Enter opens the chain of the type's
 * oldest live instance. Needs a running CPython the collector knows, with
 * PYTHONMALLOC=malloc (the collector's answer says so otherwise).
 */
#ifndef HEAPLINE_VIEW_CENSUS_H
#define HEAPLINE_VIEW_CENSUS_H

/* The screen's ops (view_ctx.h). */
extern const struct view_ops view_census_ops;

#endif
