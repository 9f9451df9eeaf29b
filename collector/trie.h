/*
 * trie.h - stack interning shared by all threads.
 *
 * A node is (parent id, ip) -> id; id 0 is the root (empty stack). Ids come
 * from one atomic counter, so a parent's id is always smaller than its
 * children's. Inserting is lock-free and never allocates (mmap'd tables), so
 * any application thread may intern from inside malloc.
 */
#ifndef HEAPLINE_TRIE_H
#define HEAPLINE_TRIE_H

#include <stdint.h>

#define TRIE_MAX_NODES (1u << 21)

/* Maps the tables. Returns 0 or -1 (mmap failed). Not thread-safe: call once
 * before tracking starts (and again in a fork child, after trie_reset()). */
int trie_init(void);
void trie_reset(void);

/* Interns a stack given innermost frame first (ips[0] is the allocation's
 * caller) and returns its leaf id. When the tables are full the stack is cut
 * at the deepest known prefix and a message is written once to stderr.
 * Lock-free, async-signal-safe (no locks, no allocation). */
uint32_t trie_intern(const uintptr_t *ips, int n);

/* Collector side: the node of id. Returns 0, or -1 for an id never
 * published (ids lost to a lost insertion race are never referenced). */
int trie_node(uint32_t id, uint32_t *parent, uint64_t *ip);

/* One past the largest id handed out so far. */
uint32_t trie_limit(void);

#endif
