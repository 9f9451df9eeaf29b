/*
 * writer.h - the record file's own thread: compression and write(2) run
 * beside the collector thread instead of inside it.
 *
 * The collector fills one of two buffers while the writer compresses the
 * other (double buffering, no copy). Handing a buffer over waits while the
 * writer is still busy with the previous one: the file stays lossless and the
 * collector is slowed, never the order of the stream.
 */
#ifndef HEAPLINE_WRITER_H
#define HEAPLINE_WRITER_H

#include <stddef.h>

/* Creates the record file at path (recfile_create_safe(): no link is
 * followed, nothing but an empty file or an earlier recording of this user's
 * is truncated), writes its header, allocates two buffers of cap bytes and
 * starts the thread; inline_mode: one buffer and no thread, writer_submit()
 * compresses and writes on its caller's thread (sampling mode's few bytes:
 * the collector thread, which makes every handover then). Returns 0, or -1
 * with *why set (a static string naming
 * the path and the reason). The file is the writer's: before each write it
 * checks that its descriptor still names the file (fdid.h) and, if the
 * program closed or replaced the descriptor, reopens the path for appending
 * only if it still names that same file; the program's files are never
 * written. */
int writer_start(const char *path, int level, size_t cap, int inline_mode, const char **why);

/* The buffer to fill next (cap bytes). */
char *writer_buffer(void);

/* Hands over the buffer returned by writer_buffer() holding n bytes of whole
 * messages; flush != 0 pushes everything to the file once written. Returns
 * the next buffer to fill (waiting until it is free; inline, once written:
 * the same buffer). */
char *writer_submit(size_t n, int flush);

/* Nonzero after a write error (said once on stderr); the file stops there. */
int writer_failed(void);

/* Waits for everything handed over, ends the zstd stream, stops the thread
 * and closes the file. */
void writer_stop(void);

/* Frees the buffers of a run that has stopped (heapline attach again: 5 MB
 * each). The process's own run only: a fork child's W is cleared. */
void writer_release(void);

/* Fork child: forgets the parent's writer (its thread does not exist here);
 * closes the descriptor if it is still the parent's file. */
void writer_atfork_child(void);

#endif
