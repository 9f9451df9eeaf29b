/*
 * symbols.h - instruction pointer -> function, file:line, module (elfutils
 * libdw), resolved once per ip on the collector thread.
 *
 * Names come from the module's symbol tables (.symtab included, so static
 * functions are named), from its separate debug file when it is stripped
 * (debugfile.h), and DWARF line tables when present; a shared library's
 * debug file under /usr/lib/debug gives its .symtab only (symfile.h: libc's
 * DWARF cost 14 MB); line tables are kept compact (lines.h); C++ names are
 * demangled with __cxa_demangle when libstdc++ is loaded. Ips are return
 * addresses, so lookups use ip - 1. Not thread-safe: collector thread only.
 */
#ifndef HEAPLINE_SYMBOLS_H
#define HEAPLINE_SYMBOLS_H

#include <stdint.h>

#include "encode.h"

struct symbols_module {
    uint32_t id;
    const char *path;
    uint64_t base, size;
    const char *build_id;   /* hex, or NULL */
    uint32_t symbols;       /* where its names come from: enum wire_symbols */
    const char *debug_file; /* the separate debug file read, or NULL */
};

/* Creates the symbolizer, or keeps the one inherited through fork. */
int symbols_init(void);
void symbols_fini(void);

/* Reads the symbol and line tables of ip's module now (a module's first
 * lookup reads them: a large module's DWARF takes 0.1 s or more), describing
 * nothing: no MODULE or FRAME becomes due. Before the collector thread runs,
 * or on it. */
void symbols_warm(uint64_t ip);

/* A new module id, for a module the symbolizer does not describe (the
 * synthetic "python" module of pyframes.h). */
uint32_t symbols_module_id(void);

/* Returns 1 the first time ip is seen (the caller must send its FRAME), 0
 * after. */
int symbols_first(uint64_t ip);

/* Describes ip. If its module has not been described yet, *mod points to it
 * (send the MODULE first), else NULL. Strings stay valid until the next call. */
void symbols_frame(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod);

/* Gives back the resident pages of the module files libdw read (elfpages.h)
 * once a burst of symbols_frame() calls is over (200 ms without one), or
 * every 2 s while they go on; a no-op otherwise. now: core_now(). The bytes
 * given back so far (HEAPLINE_STATS). Collector thread. */
void symbols_trim(int64_t now);
size_t symbols_trimmed_bytes(void);

/* fork: prepare waits for the symbolizer to be idle; the child keeps the
 * parsed debug information but forgets which frames and modules were sent
 * (its stream starts empty). */
void symbols_atfork_prepare(void);
void symbols_atfork_parent(void);
void symbols_atfork_child(void);

#endif
