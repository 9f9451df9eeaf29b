/*
 * collect.h - the collector thread: drains the rings, keeps the exact state,
 * symbolizes, encodes, writes the record file and feeds the socket server.
 */
#ifndef HEAPLINE_COLLECT_H
#define HEAPLINE_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"

/* Opens the outputs (record file at record_path unless "", socket unless
 * socket_path is "") and starts the collector thread. Called with the guard
 * set, from the constructor or a fork child. Returns 0 or -1 with *why set. */
int collect_start(const char *record_path, const char *socket_path, const char **why);

/* Reads the names of the program, libc and ld.so (symbols_warm()) before the
 * program runs and before the run's clock starts: the first time a module's
 * frames are named its tables are read (0.1-0.3 s when libc's DWARF was
 * read, 1-3 s when the program's threads competed for the CPU; libc's names
 * alone now, 40 ms for `record -- true` at load 5), no event can be
 * written before its frames, and the record file would lag the program by
 * that much. The program's first thread, at start-up (not in fork
 * children: they inherit the tables), guard held. */
void collect_warm(void);

/* Stops the thread after a final drain, tick and END(reason, status); closes
 * the outputs. Waits at most a few seconds. Any thread but the collector. */
void collect_stop(uint32_t reason, int32_t status);

/* A fatal signal on an application thread: asks the collector thread to
 * finish the outputs with END(WIRE_END_SIGNAL, sig) and waits for it, at most
 * two seconds. Async-signal-safe (flags, nanosleep). */
void collect_crash(int sig);

/* Waits (at most two seconds) until the collector has drained every event
 * committed before the call and sent the definitions they need: called before
 * dlclose() so the library's frames are named while it is still mapped. Any
 * thread but the collector; no-op when the collector is not running. */
void collect_sync(void);

/* Nonzero while the collector thread runs (or, deferred, waits to start:
 * collect_deferred()). Async-signal-safe. */
int collect_alive(void);

/* A sampled recording of a one-thread program defers its thread (collect.c
 * says why and until when; HEAPLINE_DEFER=off does not). Nonzero while it
 * waits to start. Any thread. */
int collect_deferred(void);

/* At a sample point, on the program's thread, guard held, while deferred:
 * notes a tick when one is due, or starts the thread when it has work that
 * cannot wait. */
void collect_point(void);

/* Starts a deferred thread now (the ring half full). Any program thread. */
void collect_undefer(void);

/* Fork child: forgets the parent's outputs (closes their fds without
 * touching the files or the socket path) and all collector state. */
void collect_atfork_child(void);

/* For the server: everything a new client needs before streaming (HELLO,
 * definitions, HISTORY, SNAPSHOT). Calls send(arg, bytes, n) per chunk. */
typedef void collect_send_fn(void *arg, const char *bytes, size_t n);
void collect_attach_burst(collect_send_fn *send, void *arg);

/* The collector's scratch encode buffer for responses, reset to empty; its
 * capacity is WIRE_MAX_MESSAGE, so whatever fits is readable. Collector
 * thread. */
struct encode_buf *collect_scratch(void);

/* Asks the collector thread to finish the run (its END says reason and
 * status) without waiting for it; collect_stop() later waits. Any thread. */
void collect_stop_async(uint32_t reason, int32_t status);

/* Where the collector thread counts the frees of blocks this run never
 * saw allocated (before an attach, or by the constructors of a module
 * loaded later), otherwise ignored. Final once the thread has ended; it
 * stays readable until the next collect_start(). */
const unsigned long long *collect_unknown_frees(void);

#endif
