/*
 * track.h - the application-thread side of the collector: turns one call of
 * the malloc family into one event in the calling thread's ring.
 *
 * Called only by hooks.c, with track_guard set (so anything the tracking code
 * allocates goes straight to the real allocator). No locks shared between
 * threads except once per thread at registration; no I/O; no malloc of ours.
 */
#ifndef HEAPLINE_TRACK_H
#define HEAPLINE_TRACK_H

#include <stddef.h>
#include <stdint.h>

/* Recursion guard (initial-exec TLS): nonzero while this thread is inside a
 * hook, and for good on the collector thread. */
extern __thread int track_guard;

void track_alloc(void *p, size_t size);
void track_free(void *p);
/* Sampling mode: the allocation p the sample point fell in. Its stack is
 * walked first, then p goes into the sampled-block filter and, if it found
 * room there, out as an ALLOC (a block the filter could not hold is left
 * unsampled: its FREE would never go out). */
void track_alloc_sampled(void *p, size_t size);
/* Asks for the cache lines of the thread's next ring event (and the ring's
 * tail, which the collector writes) before a sampled event, whose misses
 * otherwise come one after the other. */
void track_prefetch(void);
/* old != NULL, new != NULL; t0 = stamp_now_ordered() taken before the real realloc. */
void track_realloc(void *old_p, void *new_p, size_t size, int64_t t0);

/* Thread-exit key (created at start-up; its destructor marks the ring dead). */
int track_init(void);

/* Fork child: forgets this thread's ring (it belonged to the parent). */
void track_atfork_child(void);

#endif
