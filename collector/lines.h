/*
 * lines.h - the line tables symbols.c needs, kept compact: about 3 bytes a
 * row where libdw keeps 40 for as long as its Dwarf lives.
 *
 * A CU's table is read once, through a second Dwarf over the module's file
 * (libdw keeps every table it reads until dwarf_end, and the Dwfl's Dwarf
 * lives as long as the collector), copied, and that Dwarf is ended once the
 * rows it holds pass a bound: pyenv's libpython, built with -g, has 764k
 * rows, and a python3 run read nearly all of them, 31 MB of libdw's 32.
 * Lookups answer exactly as dwarf_getsrc_die() and dwarf_filesrc() would.
 *
 * Collector thread only, under the symbolizer's lock.
 */
#ifndef HEAPLINE_LINES_H
#define HEAPLINE_LINES_H

#include <elfutils/libdw.h>

/*
 * The row of the line table of cudie's CU that dwarf_getsrc_die(cudie, addr)
 * would return: its file (NULL when the table names none), line and address.
 * Returns 0, or -1 when there is no such row (or the table cannot be read).
 * The file name lives until lines_free().
 */
int lines_find(Dwarf_Die *cudie, Dwarf_Addr addr, const char **file, int *line, Dwarf_Addr *row);

/* dwarf_filesrc() of the CU's file idx (a DW_AT_call_file), or NULL. */
const char *lines_file(Dwarf_Die *cudie, Dwarf_Word idx);

/* Frees every table (symbolizer end). */
void lines_free(void);

#endif
