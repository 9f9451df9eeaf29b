/*
 * ehframe.h - does a loaded module keep frame pointers? Read from its
 * unwind tables (.eh_frame through .eh_frame_hdr), the only evidence a
 * stripped binary carries.
 */
#ifndef HEAPLINE_EHFRAME_H
#define HEAPLINE_EHFRAME_H

#include <link.h>

/* The share (0-100) of the module's code bytes, by function, that defines
 * its frame address from rbp: near 100 for a module built with frame
 * pointers (the rest is typically start-up stubs and hand-written assembly),
 * near 0 without. 0 when the tables are missing or in an encoding this reader
 * does not know.
 * Reads only the module's mapped, read-only tables, with bounds checks.
 * Collector start-up and collector thread (after dlopen). */
int ehframe_fp_percent(const struct dl_phdr_info *info);

#endif
