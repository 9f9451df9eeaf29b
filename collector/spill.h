/*
 * spill.h - ring events the collector cannot apply yet, in an unnamed file.
 *
 * When the program makes events faster than the collector applies them (a
 * teardown freeing millions of blocks, at about 30 ns each in glibc and 90
 * in the collector), its ring fills and it waits. The backlogs in memory
 * relieve it only so far: they are the program's memory too. Past that, a
 * ring's pending events go to a file beside the record file, opened with
 * O_TMPFILE (no name, mode 0600, gone with the process), written and read
 * back with pwrite and pread: the pages are the kernel's page cache, which
 * it may write back and drop, not the program's memory. Only while the
 * threads making events leave the collector a CPU, and while what it has
 * applied is less than half a second old (drain.c's spill_worth()):
 * otherwise its copies are work added to a machine with none to spare, and
 * a client's request would wait on a collector seconds behind. Not on
 * tmpfs or ramfs (their pages would be memory all the same: with no record
 * file, or one on tmpfs, the file goes in the socket's directory, or else in
 * the first of heapline's socket directories that is not on tmpfs, created
 * 0700 as the socket's would be), and not past SPILL_MAX: then the program
 * waits, as before.
 *
 * Per ring, oldest first: its backlog in memory, then its chunks in the
 * file, then the ring. While a ring has chunks in the file, its newer events
 * go there too (never to its backlog), and the backlog is refilled from the
 * file when it is empty. Collector thread only.
 */
#ifndef HEAPLINE_SPILL_H
#define HEAPLINE_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"

/* The most bytes the file holds at once (5.6M events of 48 bytes: a few
 * seconds of the collector's work, which is how far it may lag). */
#define SPILL_MAX ((uint64_t)256 << 20)

/* Writes r->ev[t, t + n) (ring slots, modulo RING_EVENTS) to the file as
 * r's newest chunk. 0; -1 when they cannot go there (no file, full, an
 * error): they stay in the ring. The caller moves the ring's tail. */
int spill_append(struct ring *r, uint64_t t, size_t n);

/* Reads r's oldest chunks, whole, into dst, at most max events (max >=
 * RING_EVENTS takes at least one). Returns the events read; -1 when the
 * file cannot be read (they are lost: the caller turns tracking off). */
long spill_take(struct ring *r, struct ring_event *dst, size_t max);

/* The stamp of r's oldest event in the file (r->n_spill > 0). */
int64_t spill_first_stamp(const struct ring *r);

/* Once the file has been empty for a second, its pages are given back
 * (truncated): until then, writes reuse them. Every pass. */
void spill_maintain(int64_t now);

/* Takes the directories the file may go to when the record file's cannot
 * hold it (the socket's, heapline's socket directories): at start-up, on the
 * thread that starts the collector, after the socket's path is chosen. */
void spill_prepare(void);

/* HEAPLINE_STATS: events written in all, the most bytes held at once,
 * where the file is ("beside the record file", "in DIR"; NULL until it
 * opened), and why spilling stopped, or NULL. */
void spill_stats(uint64_t *events, uint64_t *peak_bytes, const char **where, const char **off);

/* A fork child: the file and the chunks are the parent's; forgets them.
 * Before ring_atfork_child(). */
void spill_atfork_child(void);

/* Closes the file, whose pages go with it (the collector stops, or tracking
 * is off: every chunk was read back, or is dropped with the rest). The
 * counts of spill_stats() stay. */
void spill_close(void);

#endif
