/*
 * ehframe.h - does a loaded module keep frame pointers? Read from its
 * unwind tables (.eh_frame through .eh_frame_hdr), the only evidence a
 * stripped binary carries.
 */
#ifndef HEAPLINE_EHFRAME_H
#define HEAPLINE_EHFRAME_H

#include <link.h>

/* Returns 1 when functions covering at least 70% of the module's code bytes
 * define their frame address from rbp (the module was built with frame
 * pointers; the rest is typically start-up stubs and hand-written assembly),
 * 0 when not, or when the tables are missing or in an encoding this reader
 * does not know.
 * Reads only the module's mapped, read-only tables, with bounds checks.
 * Collector start-up and collector thread (after dlopen). */
int ehframe_uses_fp(const struct dl_phdr_info *info);

#endif
