/*
 * heaparena.h - glibc's arenas and their heaps in a snapshot: the heap
 * walk's first step (heapwalk.c). Private to the walk: every function takes
 * its state (heapwalk_int.h), reads only through rd(), allocates only with
 * mmap, and returns a HEAPWALK_E* code through fail() with w->why set.
 */
#ifndef HEAPLINE_HEAPARENA_H
#define HEAPLINE_HEAPARENA_H

#include "heapwalk_int.h"

/* Appends a heap to w->heaps. 0 or HEAPWALK_ENOMEM. */
int heaparena_add_heap(struct hw *w, const struct hw_heap *h);

/* Every thread heap of the anonymous maps (a heap_info that checks out at a
 * HEAP_MAX_SIZE-aligned address) into w->heaps, and its arena into
 * w->arenas. 0 or a negative code. */
int heaparena_thread_heaps(struct hw *w);

/* main_arena as the member of a thread arena's ring that lies in libc's
 * data. 0 when there is no ring, or two rings disagree. */
uint64_t heaparena_main_by_ring(struct hw *w);

/* The top chunk of [heap] (the map m), by walking its chunks. 0 when they
 * do not add up. */
uint64_t heaparena_brk_top(struct hw *w, const struct heapwalk_map *m);

/* main_arena as the one word of libc's data that equals top (0: the word
 * that points 0x60 bytes past itself) in an arena that checks out. 0 when
 * none or two. */
uint64_t heaparena_main_by_top(struct hw *w, uint64_t top);

/* 0 when the ring of arenas from main is main and exactly the other arenas
 * of w->arenas; else HEAPWALK_ECORRUPT with the reason. */
int heaparena_check_ring(struct hw *w, uint64_t main);

/* When [heap] could not grow (sbrk failed: a mapping in the way, a data
 * limit), glibc goes on with main_arena in memory it maps, a non-contiguous
 * main heap: the start of the region that holds its top chunk (top), the
 * lowest page of top's mapping from which main_arena's chunks lead exactly
 * to top, with the region's end (top's end) in *end. 0 when there is none.
 * A region that an earlier failure mapped is named by nothing: not found. */
uint64_t heaparena_main_region(struct hw *w, uint64_t top, uint64_t *end);

/* The index of arena a in w->arenas, or -1. */
int heaparena_index(const struct hw *w, uint64_t a);

/* The [heap] map of the table (not empty), or NULL. */
const struct heapwalk_map *heaparena_brk_map(const struct hw *w);

#endif
