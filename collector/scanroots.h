/*
 * scanroots.h - the roots of a backreference scan and their names.
 *
 * Roots are the writable PT_LOAD segments (data, bss) of every loaded module
 * except libheapline.so itself, the program's thread stacks, and the
 * writable anonymous mappings the program made itself (pools, arenas: named
 * "[anon LO-HI]" as a module; not malloc's nor the collector's). They are
 * gathered on the collector thread before the fork (dl_iterate_phdr takes a
 * loader lock that another thread may hold at fork time, so the child must
 * not call it), clipped to readable mappings in the child (guard pages), and
 * named back on the collector thread (symbol from .symtab, static ones too,
 * else .dynsym).
 */
#ifndef HEAPLINE_SCANROOTS_H
#define HEAPLINE_SCANROOTS_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

#include "scanbfs.h"

struct scanroots_module {
    uint64_t base; /* load bias (dlpi_addr) */
    char *path;    /* owned; the executable's real path for the main program */
};

struct scanroots {
    struct scanroots_module *mods;
    size_t n_mods;
    struct scanbfs_root *roots; /* module segments (id: index in mods), then stacks */
    size_t n_roots;
};

/* Collects module segments and the stacks of src into r. Collector thread
 * (allocates with malloc). Returns 0 or -ENOMEM. The module containing this
 * code is skipped when it is a shared object (libheapline.so); when the
 * engine is linked into an executable (tests, benchmarks) nothing is skipped. */
int scanroots_collect(struct scanroots *r, const struct scan_range *stacks, size_t n_stacks);

/* dl_iterate_phdr() for the collector thread's scan work: under the lock
 * that fork()'s prepare handler takes (below). */
int scanroots_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);

/* fork()'s handlers (core.c; prepare first of all, parent last): a fork
 * waits while scanroots_collect() or scanroots_iterate_phdr() is in
 * dl_iterate_phdr(), whose loader lock glibc does not reset in the child
 * (the child's first dl_iterate_phdr would wait for it forever). */
void scanroots_atfork_prepare(void);
void scanroots_atfork_parent(void);
void scanroots_atfork_child(void);

void scanroots_free(struct scanroots *r);

/* In the scan child: copies roots to out (capacity cap), clipped to the
 * readable mappings of /proc/self/maps (a range may split), stacks without
 * their never-touched low end (mincore). Uses only open, read, close, mmap,
 * munmap, mincore. Returns the number of ranges written; when the maps
 * cannot be read, copies the ranges unclipped. */
size_t scanroots_clip(const struct scanbfs_root *in, size_t n, struct scanbfs_root *out,
                      size_t cap);

/* Names the global at module_offset (from the module's load base) in the
 * module file at path: the symbol covering it (objects first), copied into
 * sym (NUL-terminated, "" when none), its start's offset in *sym_start.
 * Collector thread. Returns 0 when a symbol covers it, -1 otherwise. */
int scanroots_symbol(const char *path, uint64_t module_offset, char *sym, size_t cap,
                     uint64_t *sym_start);

/* The values of the symbols names[0..n) (any type: a TLS symbol's is its
 * offset in the module's TLS block) into values[] (0: not found), from the
 * module file at path: its .symtab, else (follow_debug) its separate debug
 * file's (debugfile.h), else its .dynsym. Returns 1 when they came from a
 * full symbol table, 0 from .dynsym alone, -1 when the file has none.
 * Collector thread (opens and maps files). */
int scanroots_symbol_values(const char *path, const char *const *names, uint64_t *values, size_t n,
                            int follow_debug);

#endif
