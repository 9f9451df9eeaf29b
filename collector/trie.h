/*
 * trie.h - stack interning shared by all threads.
 *
 * A node is (parent id, ip) -> id; id 0 is the root (empty stack). Ids come
 * from one atomic counter, so a parent's id is always smaller than its
 * children's. Inserting is lock-free and never calls malloc (mmap'd tables
 * that grow with the trie: 12 bytes a node and 11 to 21 of index), so
 * any application thread may intern from inside malloc.
 */
#ifndef HEAPLINE_TRIE_H
#define HEAPLINE_TRIE_H

#include <stddef.h>
#include <stdint.h>

#define TRIE_MAX_NODES (1u << 21)

/* Maps the first index (128 KiB; nodes are mapped as ids are handed out).
 * Returns 0 or -1 (mmap failed). Not thread-safe: call once
 * before tracking starts (and again in a fork child, after trie_reset()). */
int trie_init(void);
void trie_reset(void);

/* trie_init() whose index's pages are left to trie_prefault(), on the
 * collector thread: sampling mode, where the program's thread would wait
 * for the 32 pages' faults before main (85 us) and looks up few stacks. */
int trie_init_unpopulated(void);

/* Writes each page of an index trie_init_unpopulated() mapped (an atomic OR
 * of 0: concurrent lookups and inserts are unaffected), so that its first
 * lookups do not map the zero page, whose copy-on-write on the first insert
 * then flushed every CPU's TLB. A no-op after trie_init(). Collector thread. */
void trie_prefault(void);

/* Interns a stack given innermost frame first (ips[0] is the allocation's
 * caller) and returns its leaf id. When the tables are full the stack is cut
 * at the deepest known prefix and a message is written once to stderr.
 * Lock-free, async-signal-safe (no locks, no malloc; the rare growth of the
 * index or a new segment of nodes calls mmap). */
uint32_t trie_intern(const uintptr_t *ips, int n);

/* As trie_intern, below node parent (the outer frames of the stack, already
 * interned): interns ips[n-1] .. ips[0] under it. With ids, ids[i] is set to
 * the node of ips[i] for each frame interned; *done says how many were (n,
 * unless the tables are full: then the outermost *done). Returns the leaf
 * (parent for n == 0, or 0 before trie_init). Same safety as trie_intern. */
uint32_t trie_intern_below(uint32_t parent, const uintptr_t *ips, int n, uint32_t *ids, int *done);

/* Collector side: the node of id. Returns 0, or -1 for an id never
 * published (ids lost to a lost insertion race are never referenced). */
int trie_node(uint32_t id, uint32_t *parent, uint64_t *ip);

/* One past the largest id handed out so far. */
uint32_t trie_limit(void);

/* How many of those ids lost an insertion race and are never referenced. */
uint32_t trie_lost_ids(void);

/* Doubles the index ahead of need (3/8 full), so that the application
 * thread that would find it half full seldom has to. The collector thread,
 * between passes. Lock-free like the rest. */
void trie_maintain(void);

/* Retires the older indexes whose ids a newer one holds (its copy is done):
 * from now on no thread that starts an interning reads them, but one that
 * started before may still. Returns 1 when it retired some: the caller waits
 * until every thread that may have been interning has passed (grace.h),
 * then calls trie_free_retired(). 0 while the last ones retired are not
 * freed yet, or when there are none. Collector thread; trie_init() and
 * trie_reset() forget what was retired. */
int trie_retire(void);

/* Unmaps the indexes the last trie_retire() retired; returns the bytes
 * given back. Collector thread, after the grace period. */
size_t trie_free_retired(void);

/* Bytes mapped for the trie (nodes and the indexes still mapped). */
size_t trie_bytes(void);

#endif
