/*
 * scan.h - backreference scans: what keeps one live block alive.
 *
 * The contract between the collector core (collector thread, live table,
 * thread registry) and the scan engine. All calls happen on the collector
 * thread. scan_start() fork()s: the child holds a copy-on-write snapshot of the
 * whole address space consistent with the live table (only the collector
 * thread mutates the table, and it is the thread that forks), scans, writes
 * its result to a pipe and _exit()s. The parent is paused only for fork().
 * Thread stacks are scanned from their stack pointers where the threads are
 * blocked in the kernel across the snapshot (scansp.h), whole otherwise.
 */
#ifndef HEAPLINE_SCAN_H
#define HEAPLINE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "encode.h"

/* The stack of a block the live table does not hold: found in glibc's heap
 * (scanheap.h), allocated before an attach or not sampled. */
#define SCAN_STACK_NONE 0xffffffffu
/* ... a block of pymalloc's pools (pymheap.h): a Python object that never
 * was a malloc call (0xfffffffe marks a table entry seen, scanheap.c) */
#define SCAN_STACK_PYMALLOC 0xfffffffdu

#define SCAN_SAMPLED 1  /* scan_source.heap_walk: the run samples */
#define SCAN_ATTACHED 2 /* ... the collector was attached to a running program */

/* seq: the allocation's sequence number (its low 32 bits: the census's
 * "oldest instance" compares them modulo 2^32) */
typedef void scan_block_fn(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq);

struct scan_range {
    uint64_t lo, hi;    /* [lo, hi) */
    uint32_t thread_id; /* heapline thread id for stacks */
    pid_t tid;          /* the thread's kernel id, 0 when unknown: a thread blocked
                           in the kernel has its stack scanned from its stack
                           pointer only (scansp.h) */
};

/* What the collector core gives the engine; read in the forked child, where
 * for_each_block must not allocate or lock. */
struct scan_source {
    void (*for_each_block)(void *ctx, scan_block_fn *fn, void *arg);
    void *ctx;
    size_t n_blocks;                 /* blocks for_each_block will report */
    const struct scan_range *stacks; /* thread stacks of the program's threads */
    size_t n_stacks;
    int heap_walk;  /* the table is partial: SCAN_SAMPLED, SCAN_ATTACHED or both; the
                       blocks then come from glibc's heap, named from the table
                       (scanheap.h) */
    int heap_check; /* HEAPLINE_HEAPWALK_CHECK: the child compares the walk with the
                       table and writes the figures to stderr */
};

struct scan_job;

/* Starts a scan for the chains that reach target (an address inside a live
 * block). Returns the job, or NULL with *err set to a static message. */
struct scan_job *scan_start(const struct scan_source *src, uint32_t req_id, uint64_t target,
                            uint32_t max_depth, uint32_t max_fanout, const char **err);

/* A heap walk (scan_source.heap_walk or heap_check) that does not add up on
 * a snapshot (chunks that do not tile a heap, a top that does not end it,
 * a tcache or a list of threads torn: a thread was changing the heap) is
 * walked again on a new snapshot, this many in all; the last one's walk is
 * used as it is, and says partial. */
#define SCAN_ATTEMPTS 3u

/* The snapshot the job is on (1 to SCAN_ATTEMPTS). */
unsigned scan_job_attempts(const struct scan_job *job);

/* The pipe to poll for POLLIN while the job runs (the same descriptor
 * across its snapshots). */
int scan_job_fd(const struct scan_job *job);

/* Reads what the child has written. Returns 1 when the result is complete,
 * 0 when more is to come, negative when the child failed (the job can still
 * be encoded: it answers with an error response). */
int scan_job_read(struct scan_job *job);

/* Encodes the RESPONSE for the job's request into b (kind WIRE_REQ_SCAN, or an
 * error response). Returns 0 or WIRE_ENOSPACE. */
int scan_job_encode(struct scan_job *job, struct encode_buf *b);

/* Reaps the child (killing it if still running) and frees the job. */
void scan_job_free(struct scan_job *job);

/* For tests and benchmarks (no socket): polls and reads until the job is
 * complete or timeout_ms passes. Returns scan_job_read()'s result, 0 on
 * timeout. */
int scan_job_wait(struct scan_job *job, int timeout_ms);

#endif
