/*
 * drain.h - from the per-thread rings to events applied in time order.
 *
 * A pass copies what the rings hold (at most a budget, the backlogs first),
 * merges the threads' runs by time and applies every event stamped up to
 * the pass's watermark (emit_apply()); the rest waits for the next pass.
 * Collector thread only.
 */
#ifndef HEAPLINE_DRAIN_H
#define HEAPLINE_DRAIN_H

#include <stddef.h>
#include <stdint.h>

/* Starts the stamp map (before tracking starts: every stamp is later) and
 * forgets the previous collector's state. */
void drain_start(void);

/* One pass. final: everything, up to now; whole: everything up to the
 * watermark however long it takes (a collect_sync() waits), else the pass
 * stops after a tick period. check_gone: also looks for threads that
 * vanished without saying so. Returns the number of events copied from the
 * rings. */
size_t drain_pass(int check_gone, int final, int whole);

/* A whole pass that applies only the events stamped at or before cap (a
 * stamp): a deferred collector's catch-up, tick by tick (collect.c). Only
 * the first pass of a catch-up reads a new (stamp, time) pair; the others
 * stay on its segment, and apply at most up to its end (cap INT64_MAX - 1:
 * all of it, the catch-up's last pass). */
size_t drain_pass_until(int64_t cap);

/* Every event up to this time (ns since start) has been applied: a tick's
 * time, never ahead of the events it counts. */
int64_t drain_applied_ns(void);

/* The most bytes the drain's copies of ring events (the merge's stage and
 * the rings' backlogs) took at once: what a collector that falls behind
 * holds (HEAPLINE_STATS). */
size_t drain_buffers_peak(void);

/* What the passes moved (HEAPLINE_STATS): events staged (an event carried
 * over is staged again by a later pass), put back in a backlog by a merge
 * that stopped short of them, moved from a ring to its backlog, read back
 * from the spill file (spill.h); merges and merges stopped at their
 * deadline. Collector thread only. */
struct drain_stats {
    uint64_t staged, carried, to_backlog, from_spill, merges, late;
};
const struct drain_stats *drain_stats(void);

/* Moves every ring's pending events into its backlog, or the spill file
 * when the backlogs are full or the ring has events there (rate-limited: at
 * most every 0.5 ms), so producers do not wait while the collector is busy
 * with something slow. */
void drain_relieve(void);

/* In a fork child of the program (not a scan's snapshot child): forgets the
 * parent's stage and backlogs, which the child does not have (they are not
 * inherited across fork), and their entries among the collector's mappings.
 * Before ring_atfork_child(): the backlogs hang off the rings. */
void drain_atfork_child(void);

/* Gives back the staging memory (tracking is off for good). */
void drain_release(void);

#endif
