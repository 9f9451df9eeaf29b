/*
 * scansp.h - where each thread's live stack starts, so that a scan skips the
 * dead frames below its stack pointer.
 *
 * Below a thread's stack pointer lie frames of functions that have returned;
 * their stale pointers are no references, and scanning them reports a leaked
 * block as "held by thread X's stack". The user stack pointer of a thread is
 * known only while the thread is off the CPU in the kernel (a blocked system
 * call, mostly): /proc/self/task/TID/syscall shows it. It must hold at the
 * snapshot, which is taken after the read, so it is checked on both sides:
 *
 *   before the snapshot: context switches C0 (status), then sp S (syscall:
 *                        the thread is off the CPU, not runnable)
 *   the snapshot         (clone)
 *   after the snapshot:  sp again (off the CPU, not runnable, still S), then
 *                        context switches C1
 *
 * Every time a thread leaves a CPU the kernel counts one voluntary or one
 * involuntary switch. The thread was off the CPU at both sp reads; had it run
 * in between, it would have left the CPU again before the second read, and
 * C1 > C0. So C1 == C0 means it did not run across the snapshot: its user
 * registers and its frames were those of the first read, and its live frames
 * are at S and above (less the 128-byte red zone a leaf may use). Any doubt
 * (running, a read failed, the counts moved, S outside the stack: a signal
 * on an alternate stack, a coroutine) keeps the whole stack, as before.
 *
 * The verdict is known only after the clone, so the scan child waits for it
 * in a shared mapping (a futex word) before it scans.
 */
#ifndef HEAPLINE_SCANSP_H
#define HEAPLINE_SCANSP_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"
#include "scanbfs.h"

#define SCANSP_RED_ZONE 128u

struct scansp_shared;

struct scansp {
    struct scansp_shared *sh; /* MAP_SHARED; NULL when nothing can be cut */
    size_t map_size;
};

/* Before the snapshot, on the collector thread: reads the context switches
 * and the stack pointer of every thread of stacks[] with a tid (the calling
 * thread excluded: its stack is not scanned). Uses open, read, close and
 * mmap; no malloc. On failure (mmap) s is left empty: nothing is cut. */
void scansp_begin(struct scansp *s, const struct scan_range *stacks, size_t n);

/* After the snapshot, in the parent: confirms or drops each stack pointer
 * (see above) and publishes the verdicts to the scan child. Call it exactly
 * once after scansp_begin(), whether or not the clone succeeded. */
void scansp_settle(struct scansp *s);

/* In the scan child: waits (at most timeout_ms) for the verdicts and raises
 * the low end of each stack root (kind SCANBFS_STACK, in roots[0..n)) whose
 * thread's stack pointer was confirmed to that pointer less the red zone.
 * Without verdicts nothing is changed. Syscalls only (futex). Returns the
 * number of stacks cut. */
size_t scansp_apply(const struct scansp *s, struct scanbfs_root *roots, size_t n, int timeout_ms);

/* In the parent, once the child has written its result: 1 when it scanned
 * the stack of thread_id from the thread's stack pointer, 0 when whole. */
int scansp_cut(const struct scansp *s, uint32_t thread_id);

/* Unmaps the shared verdicts (the child has its own mapping of them). */
void scansp_free(struct scansp *s);

#endif
