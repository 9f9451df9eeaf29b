/*
 * unwind.h - stack capture for the hot path: libunwind's unw_backtrace, or a
 * validated frame-pointer walk that falls back to it when the chain breaks.
 */
#ifndef HEAPLINE_UNWIND_H
#define HEAPLINE_UNWIND_H

#include <stdint.h>

/* Finds the collector's own code and libc, sets up libunwind's cache and the
 * executable-range table. Returns 0 or -1. Call once before tracking. */
int unwind_init(int use_fp);

/* Captures up to max return addresses of the calling thread, innermost first,
 * without the collector's own frames. stack_lo/hi bound the frame-pointer
 * walk (0/0 forces libunwind). Returns the count. No locks of ours, no
 * allocation of ours (libunwind may allocate: the caller holds the guard). */
int unwind_capture(uintptr_t *ips, int max, uint64_t stack_lo, uint64_t stack_hi);

/* Collector thread: re-reads the executable ranges when modules were loaded
 * or unloaded since the last call (cheap when nothing changed). */
void unwind_refresh(void);

/* Frame-pointer walks that broke early and fell back to libunwind. */
uint64_t unwind_fallbacks(void);

#endif
