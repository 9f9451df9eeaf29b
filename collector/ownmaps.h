/*
 * ownmaps.h - the collector's own anonymous mappings (rings, the live table,
 * the trie, sites, tags, unwind tables, its threads' stacks), so a backreference scan does not take
 * them for memory the program mapped itself (scanroots.c).
 *
 * Lock-free, async-signal-safe, any thread: a fixed table of slots claimed
 * with compare-and-swap. Past OWNMAPS_MAX live mappings a new one goes
 * unrecorded (a scan may then read it as the program's).
 */
#ifndef HEAPLINE_OWNMAPS_H
#define HEAPLINE_OWNMAPS_H

#include <stddef.h>
#include <stdint.h>

#define OWNMAPS_MAX 1024

/* Notes the mapping [p, p + n) (n > 0), or forgets the one starting at p. */
void ownmaps_add(const void *p, size_t n);
void ownmaps_del(const void *p);

/* Notes (add) or forgets the calling thread's stack: a collector thread's
 * stack holds the collector's pointers, never the program's references. */
void ownmaps_thread_stack(int add);

/* 1 when [lo, hi) overlaps one of them. */
int ownmaps_overlap(uint64_t lo, uint64_t hi);

/* Copies up to cap of them as lo, hi pairs into out (2 * cap words).
 * Returns the count. */
size_t ownmaps_copy(uint64_t *out, size_t cap);

#endif
