/*
 * symfile.h - a module's function symbols as a table sorted by address, and
 * read from an ELF file's .symtab with libelf alone, for a separate debug
 * file whose DWARF is not wanted (symbols.c): libdw, given such a file,
 * inflates every compressed DWARF section of it at once (libc6-dbg's libc:
 * 10 MB for 4 MB of file) and keeps them for the life of the process.
 *
 * Collector thread only (symfile_read allocates); no libdw.
 */
#ifndef HEAPLINE_SYMFILE_H
#define HEAPLINE_SYMFILE_H

#include <stddef.h>
#include <stdint.h>

struct symfile_sym {
    uint64_t lo, hi;  /* the function's addresses in the process: [lo, hi) */
    const char *name; /* as in the symbol table, version suffix included */
    int rank;         /* among aliases, as libdwfl: global 2, weak 1, local 0 */
};

struct symfile_table {
    struct symfile_sym *v; /* sized function symbols, sorted (symfile_sort) */
    size_t n;
    struct symfile_sym *bare; /* sizeless symbols, sorted; hi: the end of their section */
    size_t nbare;
    char *strings; /* the names: one copy of the string table */
};

/*
 * Reads the .symtab of the ELF file at path into *t, each st_value plus bias:
 * the sized, defined function symbols (STT_FUNC, STT_GNU_IFUNC), and the
 * sizeless defined ones libdwfl would fall back on (assembler labels such as
 * ld.so's _dl_start_user). The file is closed and unmapped before it
 * returns. Returns 0, or -1 when the file cannot be read, has no .symtab, or
 * memory runs out (*t is then empty).
 */
int symfile_read(const char *path, uint64_t bias, struct symfile_table *t);

/* Frees what symfile_read() put in *t and empties it. */
void symfile_free(struct symfile_table *t);

/* For a pc no sized symbol of t covers: the nearest sizeless symbol at or
 * below it in the same section, with no sized symbol ending between them
 * (libdwfl's rule); NULL when there is none. */
const struct symfile_sym *symfile_label(const struct symfile_table *t, uint64_t pc);

/* Sorts v by address, the preferred alias (highest rank) first among those
 * that start at the same address. */
void symfile_sort(struct symfile_sym *v, size_t n);

/* In v sorted by symfile_sort: the function symbol covering pc, of those
 * starting at the greatest start <= pc the preferred alias; NULL when none
 * covers it. */
const struct symfile_sym *symfile_find(const struct symfile_sym *v, size_t n, uint64_t pc);

/*
 * The addresses some symbol of a module may name, for libdwfl's
 * dwfl_module_addrinfo(), which reads the whole symbol table on each call
 * (30 us with libsqlite3's 1,480 exported symbols) and returns nothing for
 * the internal functions of a stripped library: 91 calls, all without a
 * name, were 1.5-6 ms of the collector's end of a sqlite3 'select 1'. Built
 * from the symbols libdwfl takes as candidates (named, defined, not
 * STT_SECTION, STT_FILE or STT_TLS), each [lo, hi), hi UINT64_MAX for a
 * sizeless one: outside every such range it has no candidate, so no name.
 */
struct symfile_cover {
    uint64_t *lo, *max_hi; /* starts sorted; the greatest end of those up to each */
    size_t n;
};

/* From the n ranges in v (sorted here, then no longer needed). -1 when memory
 * runs out (*c is then empty, and covers everything). */
int symfile_cover_build(struct symfile_cover *c, struct symfile_sym *v, size_t n);

/* 0 when no range of c holds pc: libdwfl would name nothing there. 1 when one
 * may (or c is empty: not built). */
int symfile_cover_may(const struct symfile_cover *c, uint64_t pc);

void symfile_cover_free(struct symfile_cover *c);

#endif
