/*
 * dwscopes.h - the DWARF scopes that hold an address, found through an
 * index of each DIE's children by code range, for DIEs looked into again.
 * Symbolization's (symbols.c), under its lock.
 */
#ifndef HEAPLINE_DWSCOPES_H
#define HEAPLINE_DWSCOPES_H

#include <elfutils/libdw.h>

/* The DIEs whose code contains pc, from the CU down, innermost last, at
 * most max: what dwarf_getscopes() returns (in the other order), the same
 * as a walk of the children in order (at each level the first child whose
 * ranges hold pc; namespaces and modules searched in place). */
int dwscopes_at(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die *out, int max);

/* Forgets every index (the Dwarf data they point into may be freed). */
void dwscopes_forget(void);

#endif
