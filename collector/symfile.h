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

/*
 * Reads the sized, defined function symbols (STT_FUNC, STT_GNU_IFUNC) of the
 * .symtab of the ELF file at path, each st_value plus bias. On success returns
 * their number and sets *out (malloc'd, in table order) and *strings (the
 * names' storage: one malloc'd copy of the string table); the caller frees
 * both. The file is closed and unmapped before it returns. Returns -1 when the
 * file cannot be read, has no .symtab, or memory runs out (nothing to free).
 */
long symfile_read(const char *path, uint64_t bias, struct symfile_sym **out, char **strings);

/* Sorts v by address, the preferred alias (highest rank) first among those
 * that start at the same address. */
void symfile_sort(struct symfile_sym *v, size_t n);

/* In v sorted by symfile_sort: the function symbol covering pc, of those
 * starting at the greatest start <= pc the preferred alias; NULL when none
 * covers it. */
const struct symfile_sym *symfile_find(const struct symfile_sym *v, size_t n, uint64_t pc);

#endif
