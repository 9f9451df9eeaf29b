/*
 * sockpath.h - where heapline's files live: the per-user socket directory and
 * the collector library.
 *
 * The socket directory is $XDG_RUNTIME_DIR/heapline when XDG_RUNTIME_DIR is
 * set, else /tmp/heapline-<uid>; it must be ours and not writable by others.
 */
#ifndef HEAPLINE_SOCKPATH_H
#define HEAPLINE_SOCKPATH_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the per-user socket directory to buf. create != 0 creates it (0700)
 * when missing. Returns 0, or -1 with a one-line message in err (a directory
 * owned by someone else or open to others is refused). */
int sockpath_dir(char *buf, size_t n, int create, char *err, size_t errsz);

/* Resolves a PID or a socket path given on the command line to a socket
 * path. A PID is looked up in the socket directory ($XDG_RUNTIME_DIR first,
 * then /tmp/heapline-<uid>). Returns 0 or -1 with a message in err. */
int sockpath_resolve(const char *target, char *buf, size_t n, char *err, size_t errsz);

/* Finds libheapline.so: $HEAPLINE_LIB, else next to /proc/self/exe, else
 * <exe dir>/../lib/heapline/libheapline.so. Returns 0 or -1 with a message. */
int sockpath_lib(char *buf, size_t n, char *err, size_t errsz);

#endif
