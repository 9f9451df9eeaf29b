/*
 * client.h - reach a collector: the one way attach, run and backrefs connect.
 *
 * A target is a PID (looked up in the socket directories, with their
 * ownership and permission checks: sockpath.h) or a socket path. What goes
 * over the connection afterwards (decoding, requests) is the caller's.
 */
#ifndef HEAPLINE_CLIENT_H
#define HEAPLINE_CLIENT_H

#include <stddef.h>

/* Connects to target's collector. Writes the socket path to path (cap
 * bytes) and returns a blocking, close-on-exec stream socket, or -1 with one
 * line in err: "no process with pid 123", "/tmp/heapline-0: writable by
 * others, refusing it", "x.heapline: a file, not a socket (to open a
 * recording: heapline replay x.heapline)", "S: nobody is listening (the
 * program has ended?)", "S: stale socket of a process that has ended
 * (removed)", "S: permission denied". */
int client_connect(const char *target, char *path, size_t cap, char *err, size_t errsz);

/* Loads a collector into the program target names (a PID) when it has
 * none: returns 0 (its socket now exists), or -1 with one line in err. */
typedef int client_attach_fn(const char *target, char *err, size_t errsz);

/* With fn set, client_connect() calls it for a PID that has no collector
 * socket, then looks again: heapline attach and backrefs load the collector
 * into a program started without heapline (attach_cmd.h) only once their
 * arguments are known to be good. NULL (the default) turns it off. */
void client_set_attach(client_attach_fn *fn);

/* Connects to the socket at path, as it is (no lookup, no checks: `run`
 * made it). Returns the socket or -1 with errno set. */
int client_connect_path(const char *path);

/* Sends all n bytes on a connected socket (blocking or not: a full socket
 * buffer is waited on for up to 1 s at a time). Returns 0, or -1 with errno
 * set (EPIPE when the collector went away: no SIGPIPE is raised). */
int client_send(int fd, const void *p, size_t n);

#endif
