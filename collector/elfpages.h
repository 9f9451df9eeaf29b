/*
 * elfpages.h - gives back the resident pages of the files libdw reads.
 *
 * libelf maps a module's whole file (MAP_PRIVATE, writable) and libdw reads
 * its .symtab and DWARF in place: every page it ever read stays in the
 * program's resident set (13 MB of libpython's 22 MB file on a python3 run,
 * against 2.3 MB of it the program itself uses). The pages are the file's
 * own, so they can be dropped and come back from the page cache when read
 * again.
 */
#ifndef HEAPLINE_ELFPAGES_H
#define HEAPLINE_ELFPAGES_H

#include <stddef.h>

/* Drops the resident pages of [p, p + size) that are unmodified pages of a
 * file (the page map says so page by page): a page libelf wrote to (now
 * anonymous) or memory it read the file into (malloc'd) is left alone, so
 * nothing any reader holds changes. Returns the bytes dropped. Collector
 * thread, with no reader of that memory running. */
size_t elfpages_drop(const void *p, size_t size);

#endif
