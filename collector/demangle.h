/*
 * demangle.h - C++ names as the program spells them (_ZL9g_results ->
 * g_results), through the program's own __cxa_demangle.
 *
 * Only a program that loads libstdc++ has mangled names to show, and it
 * brings __cxa_demangle with it: found with dlsym once, never loaded. It
 * allocates, so callers are the collector thread (symbols.c for functions,
 * scan.c for the globals of a backreference chain), never a hooked call.
 */
#ifndef HEAPLINE_DEMANGLE_H
#define HEAPLINE_DEMANGLE_H

#include <stddef.h>

/* The demangled spelling of name (malloc'ed, the caller frees it), or NULL
 * when name is not a mangled C++ name ("_Z..."), libstdc++ is not loaded or
 * the name does not demangle. */
char *demangle_cxx(const char *name);

/* Demangles the NUL-terminated name in buf[0..cap) in place, cut to fit;
 * leaves it as it is when demangle_cxx() gives nothing. */
void demangle_in_place(char *buf, size_t cap);

#endif
