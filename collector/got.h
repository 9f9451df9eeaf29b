/*
 * got.h - redirect the malloc family of every loaded module to the collector,
 * when the collector was loaded into a program that was already running
 * (heapline attach): symbol order cannot interpose any more, so the entries
 * of each module's global offset table that name these functions are
 * rewritten, and those of every module the program dlopens later.
 *
 * Nothing is ever put back: a detached collector passes every call through
 * (core.h), and the collector library is never unloaded.
 */
#ifndef HEAPLINE_GOT_H
#define HEAPLINE_GOT_H

/* Rewrites, in every loaded module but the dynamic loader, the GOT entries
 * (JUMP_SLOT and GLOB_DAT relocations) of malloc, free, calloc, realloc,
 * reallocarray, posix_memalign, aligned_alloc, memalign, valloc, pvalloc,
 * _exit, _Exit, dlclose, close, close_range and closefrom to the collector's
 * own definitions, and those of dlopen (not in the collector's own module)
 * to a wrapper that patches what the call loaded. Read-only (RELRO) pages are
 * made writable for the write and read-only again. Idempotent; any thread;
 * not async-signal-safe (a mutex). Returns the number of entries changed. */
int got_patch_all(void);

/* Entries changed since start (for the collector's stats). */
unsigned long got_patched_count(void);

#endif
