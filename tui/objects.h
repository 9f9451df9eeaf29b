/*
 * objects.h - the live objects of a site at a time, from wherever they can
 * be had: one answer for every source, so a view only draws it (and a
 * command could print it).
 *
 *   the model      the latest state of the stream it read (its live set):
 *                  a replay at its end, a live stream's blocks since attach
 *   a rewind       a replay with the time before the latest state: the
 *                  recording is read again up to that state (rewind.h), a
 *                  slice per objects_work() call
 *   the collector  a running program (run, attach) when asked to: it knows
 *                  blocks from before an attach, and their addresses
 *                  (REQ_OBJECTS through the source; its answer in
 *                  source_response())
 *
 * Objects from the model or a rewind have no address (the stream names
 * blocks by allocation sequence number); the collector's have both.
 *
 * Not thread-safe: one owner. No curses; I/O only through the rewind (it
 * reads the recording) and the source (it sends the request).
 */
#ifndef HEAPLINE_OBJECTS_H
#define HEAPLINE_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

struct model;
struct model_object;
struct model_query;
struct source;
struct objects;

#define OBJECTS_MAX 10000u     /* kept from the model or a rewind */
#define OBJECTS_LIVE_MAX 1000u /* asked of the collector */

enum objects_state {
    OBJECTS_READY = 0,   /* the list is the answer (maybe empty) */
    OBJECTS_READING = 1, /* a rewind reads toward the state: objects_work() */
    OBJECTS_ASKING = 2,  /* the collector was asked: objects_work() takes its answer */
    OBJECTS_FAILED = 3   /* objects_error() says why; the list is empty */
};

/* Returns an empty answer (READY, no objects), or NULL when out of memory. */
struct objects *objects_new(void);
void objects_free(struct objects *o);

/*
 * The live objects of `site` allocated at or before `time` in the state the
 * query resolves to (model_query_events()). From a file source before its
 * latest state, a rewind (kept across questions: a later state goes on from
 * where it stands); else the model. src may be NULL (the model only).
 * Returns the new state. An answer from the collector stands until
 * objects_ask_collector() or objects_drop_collector().
 */
int objects_ask(struct objects *o, const struct model *m, struct source *src, uint32_t site,
                const struct model_query *q, int64_t time);

/* Asks the collector of a running program (src open, not a file) for the
 * live objects of `site` (its stacks: model_site_stacks()). Returns ASKING,
 * or -1 when it cannot be asked (a file, not connected, a site without
 * stacks): the answer is then left as it was. */
int objects_ask_collector(struct objects *o, const struct model *m, struct source *src,
                          uint32_t site);

/* Forgets that the list is the collector's (the next objects_ask() answers). */
void objects_drop_collector(struct objects *o);

/* 1 when the list is (or will be) the collector's answer. */
int objects_from_collector(const struct objects *o);

/* Moves a READING or ASKING answer along: reads the recording until
 * deadline_ms (at least one slice; CLOCK_MONOTONIC ms as view_ctx_now_ms),
 * or takes the collector's answer when it came. Returns 1 when something a
 * view shows changed (progress, the list, the state), else 0. */
int objects_work(struct objects *o, const struct model *m, struct source *src, int64_t deadline_ms);

int objects_state(const struct objects *o);

/* The list, oldest first (NULL when empty): *n of them, *total before the
 * cut (may be NULL). Valid until the next objects_* call that changes it. */
const struct model_object *objects_list(const struct objects *o, int *n, uint64_t *total);

/* A line for the status line about what the last objects_ask*() or
 * objects_work() call did ("objects: no such process", "out of memory
 * listing objects"), NULL when nothing to say. */
const char *objects_notice(const struct objects *o);

/* FAILED: why ("" otherwise). */
const char *objects_error(const struct objects *o);

/* READING: the events read so far and the target. */
void objects_progress(const struct objects *o, uint64_t *done, uint64_t *target);

#endif
