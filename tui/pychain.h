/*
 * pychain.h - Python names in backreference results: objgraph-style chains
 * and the census of live objects by type.
 *
 * A scan of a CPython program carries, per node, the Python type of the block
 * and the slot through which it holds the node below (scanmsg.h: py items).
 * A chain then reads as objgraph's show_backrefs:
 *     bytearray <- list [0] <- ResourceLoader .table <- Processor .loader
 *     <- dict ['app-3'] <- module __main__ global instance_map
 * (buffers an object owns, such as a list's items, are folded into it).
 */
#ifndef HEAPLINE_PYCHAIN_H
#define HEAPLINE_PYCHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "scanmsg.h"

/* Whether node n ends a Python chain (module global, class attribute, a live
 * frame's local). */
int pychain_is_end(const struct scanmsg_node *n);

/* The hop's Python label ("list [0]", "module __main__ global instance_map"),
 * or "" when the node has no Python name (not a Python object). */
void pychain_label(const struct scanmsg_node *n, char *buf, size_t cap);

/* The chain idx[0..n) (hops from the target outward, without node 0) as one
 * objgraph-style line, starting with the target's type. */
void pychain_line(const struct scanmsg_result *r, const uint32_t *idx, uint32_t n, char *buf,
                  size_t cap);

/* The census (a result with SCANMSG_CENSUS), largest count first, at most
 * limit rows (0: all); with before (an earlier census, may be NULL) the
 * growth since it, as objgraph's show_growth (only types that grew). JSON or
 * text. Returns 0, or -1 when a row does not decode or on a write error. */
int pychain_census_print(FILE *out, const struct scanmsg_result *r,
                         const struct scanmsg_result *before, int json, size_t limit);

/* One type of a census: its live objects, their bytes, the oldest one's
 * block, and (pychain_census_print) the growth since an earlier census. */
struct pychain_type {
    char name[128];
    uint64_t count, bytes, oldest;
    int64_t delta;
};

/* The census's rows merged by name (two types may share one), in the order
 * sent, delta 0: *n of them in a malloc'd array (free it), or NULL when a
 * row does not decode or out of memory. */
struct pychain_type *pychain_census_types(const struct scanmsg_result *r, size_t *n);

/* Sorts t: by count (by growth: delta) from the largest, then by name. */
void pychain_census_sort(struct pychain_type *t, size_t n, int by_growth);

/* The oldest live instance of type name in a census: 0 with *addr (its
 * block), -1 when no live object has that type. */
int pychain_census_oldest(const struct scanmsg_result *r, const char *name, uint64_t *addr);

#endif
