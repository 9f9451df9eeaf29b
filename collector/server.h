/*
 * server.h - the live socket: private directory, 0600 socket, peer uid check
 * (server.c); up to 64 clients whose queues are bounded each and in all,
 * written without blocking, answers ahead of the queued stream (clients.c);
 * requests (objects, read, scan) answered on the collector thread in steps
 * bounded per turn (requests.c).
 */
#ifndef HEAPLINE_SERVER_H
#define HEAPLINE_SERVER_H

#include <stddef.h>
#include <stdint.h>

/* Sets the socket directory chosen by the user (HEAPLINE_SOCKET_DIR; NULL or
 * "": the default candidates of protocol/sockdir.h). Start-up, before any
 * server_default_path(). */
void server_set_dir(const char *dir);

/* Candidate i of the socket directory (protocol/sockdir.h's
 * sockdir_candidate() with HEAPLINE_SOCKET_DIR as the user set it): 1 and
 * buf written, or 0 (or below) when it does not apply. Reads the
 * environment: start-up. */
int server_dir_candidate(int i, char *buf, size_t cap);

/* The default socket path for this process, <dir>/<pid>.sock, into buf: dir
 * is the first usable candidate of protocol/sockdir.h (created 0700 when
 * missing), or when none is usable the first candidate (server_open() then
 * says why). Returns 0 or -1. Start-up. */
int server_default_path(char *buf, size_t cap);

/* Creates (if needed) and checks the socket's directory when it is the
 * default one, binds and listens. Returns 0, or -1 with *why set (the caller
 * says it once and goes on without a socket). Collector start-up. */
int server_open(const char *path, int check_dir, const char **why);

/* Collector thread. Sends data (whole messages) to every client; n_events > 0
 * marks an EVENTS message, which a client that cannot keep up does not get
 * (it is counted as missed). Never blocks. */
void server_broadcast(const char *data, size_t n, uint32_t n_events);

/* Collector thread, each tick: tells downgraded clients their missed count. */
void server_tick(void);

/* Collector thread: waits up to timeout_ms for socket activity (or for
 * wake_fd, an eventfd it empties, when >= 0) and handles it (accept,
 * requests, writes, scan results). */
void server_poll(int timeout_ms, int wake_fd);

/* Nonzero when a client waits at the listening socket to be accepted: one
 * poll() that does not wait. Any thread (a deferred collector's program
 * thread asks, collect_point()). */
int server_pending(void);

/* Shutdown: tries for up to timeout_ms to deliver what is queued, closes
 * every connection and the listener, unlinks the socket path. */
void server_close(int timeout_ms);

/* Fork child: closes the parent's sockets without unlinking anything. */
void server_atfork_child(void);

#endif
