/*
 * debugfile.h - a stripped module's separate debug file, found on local disk.
 *
 * Candidates, in order: by GNU build id under each debug root
 * (ROOT/.build-id/xx/yyyy.debug), then by the module's .gnu_debuglink name
 * next to it, in its .debug/ folder and under each root
 * (ROOT/<the module's folder>/NAME). The roots are HEAPLINE_DEBUG_DIR when
 * set, then /usr/lib/debug. Never debuginfod: a download inside the profiled
 * program would stall the collector and, through its full buffers, the
 * program.
 *
 * No malloc and no locks: the symbolizer (symbols.c) and the scan's child
 * (scanroots.c, which may not allocate) share it.
 */
#ifndef HEAPLINE_DEBUGFILE_H
#define HEAPLINE_DEBUGFILE_H

#include <stddef.h>

/* Reads HEAPLINE_DEBUG_DIR (collector start-up, before any lookup). */
void debugfile_init(void);

/*
 * Opens (read-only, close-on-exec) the first candidate that exists for the
 * module at module_path (may be NULL: then only the build id is used), with
 * build_id in lowercase hex (NULL: none) and debuglink its .gnu_debuglink
 * name (NULL: none; a name with a '/' is refused). A candidate that is the
 * module itself is skipped. Returns the descriptor, with the candidate's
 * path in path[0..cap), or -1. The caller checks that the file matches
 * (libdwfl compares build ids). Async-signal-safe apart from snprintf.
 */
int debugfile_open(const char *module_path, const char *build_id, const char *debuglink, char *path,
                   size_t cap);

/*
 * 1 when path, a candidate debugfile_open() returned, was found by build id
 * under /usr/lib/debug, the distribution's debug packages (libc6-dbg), and
 * not under HEAPLINE_DEBUG_DIR: a file the user did not point heapline at.
 * Its name is then the build id, so it matches its module.
 */
int debugfile_is_system(const char *path);

#endif
