/*
 * rewind.h - the blocks live at an earlier state of a recording.
 *
 * The model keeps only the latest state's blocks. A rewind reads the
 * recording again from the top with the same decoder and the same event
 * reading (liveset.c), and stops after the number of events the model says
 * the state holds (model_query_events()), so it holds exactly that state's
 * live blocks: memory is bounded by them, not by the recording.
 *
 * Incremental: rewind_step() reads a bounded number of messages per call,
 * so the TUI stays responsive on a big recording. A later state of the same
 * recording goes on from where the rewind stands (rewind_retarget()); an
 * earlier one needs a new rewind.
 *
 * Not thread-safe: one owner.
 */
#ifndef HEAPLINE_REWIND_H
#define HEAPLINE_REWIND_H

#include <stddef.h>
#include <stdint.h>

struct model;
struct model_object;
struct rewind;

/* Opens path to rebuild the state after `events` events. m (may be NULL) is
 * the model of the same recording: a stream that is not the one it read (a
 * different HELLO: the file was recorded over) fails in rewind_step().
 * Returns NULL with a one-line message in err. Reads nothing yet. */
struct rewind *rewind_open(const char *path, uint64_t events, const struct model *m, char *err,
                           size_t errsz);

/* Aims at the state after `events` events instead. Returns 0 (the rewind
 * goes on from where it stands), or -1 when that state lies before it (open
 * a new rewind). */
int rewind_retarget(struct rewind *rw, uint64_t events);

/* Reads at most max_messages messages toward the target. Returns 1 when the
 * state is rebuilt (then at once on every call), 0 when there is more to
 * read, -1 when the recording cannot be read or ends before the target
 * (rewind_error() says why; sticky). */
int rewind_step(struct rewind *rw, int max_messages);

/* The target (events), and how many events are read so far. */
uint64_t rewind_target(const struct rewind *rw);
uint64_t rewind_events_read(const struct rewind *rw);

/* "" when none. */
const char *rewind_error(const struct rewind *rw);

/* Once rewind_step() returned 1: the state's live objects of a site
 * (MODEL_NONE: all) in the list model_objects() makes (oldest first, at most
 * max, *total before the cut; malloc'ed for the caller). m: the recording's
 * model, for sites. Returns the count, or -1 when out of memory or the state
 * is not rebuilt yet. */
int rewind_objects(const struct rewind *rw, const struct model *m, uint32_t site, uint32_t max,
                   struct model_object **out, uint64_t *total);

void rewind_close(struct rewind *rw);

#endif
