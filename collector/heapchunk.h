/*
 * heapchunk.h - the chunks of glibc's heaps in a snapshot and what is free
 * among them: the heap walk's second step (heapwalk.c). Private to the walk:
 * every function takes its state (heapwalk_int.h), reads only through rd()
 * or a heap's own range, allocates only with mmap, and returns a
 * HEAPWALK_E* code through fail() with w->why set.
 */
#ifndef HEAPLINE_HEAPCHUNK_H
#define HEAPLINE_HEAPCHUNK_H

#include "heapwalk_int.h"

/* Sorts v in place (heapsort: no recursion, no allocation). */
void heapchunk_vec_sort(struct hw_vec *v);

/* Returns v's memory and empties it. */
void heapchunk_vec_free(struct hw_vec *v);

/* Whether chunk c is 16-aligned, readable, with size csize. */
int heapchunk_is(struct hw *w, uint64_t c, uint64_t csize);

/* The chunks of arena's fastbins into w->excl. 0, HEAPWALK_ECORRUPT when a
 * list does not add up (the caller leaves the arena's heaps out), or
 * HEAPWALK_ENOMEM. */
int heapchunk_fastbins(struct hw *w, uint64_t arena);

/* heapchunk_tcache()'s how */
#define HC_TC_OTHER 0 /* by shape: one when its lists hold a chunk and agree */
#define HC_TC_FIRST 1 /* by shape: an arena's first chunk, one even when empty */
#define HC_TC_NAMED 2 /* a thread's TLS names it: one; torn when its lists do not agree */

/* The tcache_perthread_struct in the chunk at c: 1 when it is one (its
 * entries and itself are then in w->excl), 0 when not (w->excl unchanged),
 * or a negative code. A named one whose counts and lists do not agree is
 * torn: itself and the entries read until then go in w->excl, st.torn and
 * st.partial count it, and it returns 1. */
int heapchunk_tcache(struct hw *w, uint64_t c, int how);

/* The tcaches each thread's TLS names (w->tls, glibc's lists of threads)
 * through heapchunk_tcache(). A list that loops or leaves the table, or a
 * name that is no in-use tcache-sized chunk, counts as torn. 0 or a
 * negative code. */
int heapchunk_tls_tcaches(struct hw *w);

/* Walks heap h. pass 1 notes the in-use 0x290 and 0x2a0 chunks in
 * w->cands (tcaches by shape only); pass 2
 * calls fn for each in-use chunk not in w->excl (sorted). 0, or
 * HEAPWALK_ECORRUPT when the chunks do not add up. */
int heapchunk_walk_heap(struct hw *w, const struct hw_heap *h, int pass, heapwalk_block_fn *fn,
                        void *arg);

/* Calls fn for each mmapped chunk in the anonymous map m outside the thread
 * heaps and the caller's skipped ranges. A page that faults (this process
 * only) is passed over. */
void heapchunk_mmapped(struct hw *w, const struct heapwalk_map *m, heapwalk_block_fn *fn,
                       void *arg);

#endif
