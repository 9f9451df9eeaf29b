/*
 * prefault.h - the live table's next pages, faulted in before it needs them.
 *
 * A table growth's first writes land on fresh pages all over the added
 * range, and in a VM whose host takes back the guest's free memory each 2 MiB
 * huge page of them took 10-15 ms to fault in: a growth of python3's 29 MB
 * table to 36 MB kept the collector thread in the kernel for 53 ms, while the
 * program waited on its full ring. A thread of its own populates the range
 * the next growth will use (MADV_POPULATE_WRITE: no byte changes, so the
 * collector may write there meanwhile), while the collector works on.
 */
#ifndef HEAPLINE_PREFAULT_H
#define HEAPLINE_PREFAULT_H

#include <stddef.h>

/* Collector thread: populate [addr, addr + len) in the background, instead
 * of whatever was asked before. Starts the thread at the first call; when it
 * cannot start, or the kernel lacks MADV_POPULATE_WRITE (5.14), nothing is
 * populated and the table faults its pages in itself as before. */
void prefault_ask(void *addr, size_t len);

/* Collector thread: forget the request, and return only once the thread is
 * not populating any of it: call before unmapping or moving memory that an
 * earlier request named (a range given back may be mapped again by the
 * program, and must not be populated after). */
void prefault_cancel(void);

/* Nonzero while some of the last request is not populated yet. */
int prefault_busy(void);

/* Bytes populated so far (HEAPLINE_STATS). */
size_t prefault_done_bytes(void);

/* A fork child has no such thread: forgets it, and its locks. */
void prefault_atfork_child(void);

#endif
