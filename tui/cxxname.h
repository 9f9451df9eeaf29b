/*
 * cxxname.h - C++ function names (as __cxa_demangle spells them) made to fit
 * a column, and compared without their parameters.
 *
 * At 80 columns a site's name has 20 cells: the whole of
 * "geo::Cache<std::__cxx11::basic_string<char, ...>, geo::Shape>::get(...)"
 * cut to fit read "geo::Cache<std::__c~", the namespace and the first
 * template argument, never the function. A name is shortened step by step
 * until it fits, each step dropping what tells least: the parameter list,
 * qualifiers and clone suffix, and the return type of a template function;
 * std::string for libstdc++'s basic_string<char, ...>; then the leading
 * namespaces and classes (down to the function and its class) before each
 * template argument list (<…>), the longest first: the arguments tell a
 * template's sites apart. Only then is it cut.
 * Names without C++ syntax (C functions, Python lines) come back as they
 * are.
 */
#ifndef HEAPLINE_CXXNAME_H
#define HEAPLINE_CXXNAME_H

#include <stddef.h>

/* The length of fn without its parameter list and what follows it
 * (" const", " &&", " [clone .isra.0]"): "jobs::Registry::add(int) const"
 * gives the length of "jobs::Registry::add"; "operator()" is a name, kept
 * whole. */
size_t cxxname_base_len(const char *fn);

/* Whether fn names the function spec: fn itself, fn without GCC's clone
 * suffix, or fn without its parameters (cxxname_base_len) equal to spec or
 * ending in "::" spec ("jobs::Registry::add(int)" and "Registry::add" name
 * "jobs::Registry::add(int) [clone .isra.0]"). */
int cxxname_matches(const char *fn, const char *spec);

/* fn when it fits in width cells, else its shortest needed form (above)
 * in buf[0..n), which the caller cuts when even that is too long. ascii:
 * "<...>" rather than "<…>". */
const char *cxxname_fit(const char *fn, int width, int ascii, char *buf, size_t n);

#endif
