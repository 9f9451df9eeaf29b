/*
 * defstore.h - every definition message the stream carried (stack nodes,
 * frames, modules, threads), kept for the clients that attach later: they
 * get them first, in the order they were sent.
 */
#ifndef HEAPLINE_DEFSTORE_H
#define HEAPLINE_DEFSTORE_H

#include <stddef.h>

typedef void defstore_send_fn(void *arg, const char *bytes, size_t n);

/* Forgets what was kept without freeing it (a fork child: the parent's
 * memory; emit_init). */
void defstore_forget(void);

/* Keeps n bytes more. 0, or -1 when out of memory (the bytes are then lost
 * to later clients). Collector thread. */
int defstore_append(const char *p, size_t n);

/* Sends every byte kept, in order, in pieces of at most cap bytes put in
 * buf (DEFSTORE_CHUNK at least). Collector thread. */
#define DEFSTORE_CHUNK (256u << 10)
void defstore_replay(defstore_send_fn *send, void *arg, char *buf, size_t cap);

/* Bytes kept (uncompressed), and bytes that takes in memory. */
size_t defstore_len(void);
size_t defstore_bytes(void);

#endif
