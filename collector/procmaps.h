/*
 * procmaps.h - /proc/self/maps line by line, without malloc or locks (the
 * scan child and the heap walk read it after fork, in a snapshot whose
 * allocator may be mid-call): the caller gives the buffer.
 */
#ifndef HEAPLINE_PROCMAPS_H
#define HEAPLINE_PROCMAPS_H

#include <stddef.h>

/* One line, NUL-terminated in place (len excludes the newline). */
typedef void procmaps_line_fn(char *line, size_t len, void *arg);

/* Calls fn for each line of /proc/self/maps, read through buf[0..cap) (a
 * line longer than cap is dropped). Returns the lines given to fn, or -1
 * when the file cannot be opened. */
long procmaps_each(char *buf, size_t cap, procmaps_line_fn *fn, void *arg);

#endif
