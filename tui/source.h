/*
 * source.h - where the model's messages come from: a recording (replay,
 * report), a collector's socket (attach), or a child started under the
 * collector (run). One interface, so the TUI loop and the report treat them
 * alike: poll source_fd(), call source_read() with a budget, look at
 * source_state().
 *
 * A source never blocks in source_read(): the file source reads a bounded
 * number of bytes per call, the socket sources are non-blocking. Errors are
 * one line (source_message()), suitable for stderr or the status line.
 */
#ifndef HEAPLINE_SOURCE_H
#define HEAPLINE_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct complete;
struct model;
struct source;

enum source_kind {
    SOURCE_FILE = 1,   /* replay / report */
    SOURCE_SOCKET = 2, /* attach */
    SOURCE_CHILD = 3   /* run */
};

enum source_state {
    SOURCE_CONNECTING = 0, /* child: waiting for its socket to appear */
    SOURCE_OPEN = 1,       /* messages may come */
    SOURCE_DONE = 2,       /* the end of the file / the peer closed cleanly */
    SOURCE_FAILED = 3      /* an error; source_message() says what */
};

/* Opens a recording. Returns NULL with a one-line message in err (errsz
 * bytes) such as "run.heapline: No such file or directory" or
 * "x.txt: not a heapline recording". */
struct source *source_open_file(const char *path, char *err, size_t errsz);

/* Connects to a collector: target is a PID (looked up as
 * $XDG_RUNTIME_DIR/heapline/<pid>.sock, else /tmp/heapline-<uid>/<pid>.sock)
 * or a socket path. record_path (may be NULL) gets everything received, as a
 * record file. Returns NULL with a message in err. */
struct source *source_open_socket(const char *target, const char *record_path, char *err,
                                  size_t errsz);

/* Starts argv[0..] with the collector preloaded and a private socket, and
 * connects when the socket appears. record_path (may be NULL) is passed to
 * the collector as HEAPLINE_RECORD. Returns NULL with a message in err, and
 * *exec_errno the errno of a program that could not be started (0: another
 * failure). */
struct source *source_open_child(char *const argv[], const char *record_path, int *exec_errno,
                                 char *err, size_t errsz);

void source_close(struct source *src);

int source_kind(const struct source *src);

/* The fd to poll for POLLIN, or -1 when there is nothing to wait for (a file
 * is always ready: call source_read() until it reports done; a child that is
 * still connecting: poll with a timeout and call source_read()). */
int source_fd(const struct source *src);

/*
 * Reads what is available and applies at most max_messages messages to m.
 * Returns the number applied (0 when nothing was ready), or -1 when the
 * source failed (source_state() is SOURCE_FAILED, source_message() says why).
 * A file source reports SOURCE_DONE at its end (check source_truncated()).
 */
int source_read(struct source *src, struct model *m, int max_messages);

int source_state(const struct source *src);

/* 1 when complete messages are already buffered (or a file has more to
 * read): call source_read() again without waiting on source_fd(). */
int source_busy(const struct source *src);

/* Model errors met while applying (the model keeps going); the first one's
 * text, with its stream offset, is in first_error ("" when none). */
uint64_t source_model_errors(const struct source *src, const char **first_error);

/* One line: the error, or a state description ("connected to 1234",
 * "program exited with status 0", "end of recording"). Never NULL. */
const char *source_message(const struct source *src);

/* Name for the status line: the file path (as opened: a file source can be
 * opened again by it), the socket path, the command. */
const char *source_name(const struct source *src);

/* File: the recording stops inside a message (a crash cut it short). */
int source_truncated(const struct source *src);

/* File: reading stopped at bytes that are not a recording's (the source is
 * SOURCE_DONE: what came before was applied). *at (may be NULL) gets the
 * byte of the file near which they are. */
int source_corrupt(const struct source *src, uint64_t *at);

/* The verdict on what m holds from this source (complete.h): the model's
 * DISABLED, END and MISSED with the source's truncation and corruption; a
 * running program's stream is not judged cut short. */
void source_verdict(const struct source *src, const struct model *m, struct complete *c);

/* Bytes of the stream consumed so far and, for files, the file size (for a
 * progress figure); *total is 0 when unknown. */
void source_progress(const struct source *src, uint64_t *done, uint64_t *total);

/* Socket and child: sends a request (REQ_OBJECTS, REQ_READ, REQ_SCAN) and
 * returns its request id (> 0), or -1 (not connected, file source). The
 * RESPONSE arrives through source_read(): source_response(id). */
int source_request_objects(struct source *src, const uint32_t *stacks, size_t n, uint32_t max);
int source_request_read(struct source *src, uint64_t addr, uint32_t len);
int source_request_scan(struct source *src, uint64_t addr, uint32_t max_depth, uint32_t max_fanout);

/* The answer to request id (responses.h), NULL while it has not come.
 * Several requests may be in flight; the source keeps the last
 * RESPONSES_KEEP answers. Valid until source_response_done(id), the
 * answers that push it out, or source_close(). */
struct response;
const struct response *source_response(const struct source *src, int id);

/* Forgets the answer to request id (the asker took what it needed). */
void source_response_done(struct source *src, int id);

/* Child: its pid (0 otherwise), and once it exited, its wait status through
 * *status with a return of 1 (0 while it runs). Kills nothing. */
pid_t source_child_pid(const struct source *src);
int source_child_status(struct source *src, int *status);

#endif
