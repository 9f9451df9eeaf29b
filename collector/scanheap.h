/*
 * scanheap.h - the blocks of a scan from glibc's heap (heapwalk.h), named
 * from the live table where it knows them.
 *
 * In sampling mode the table holds only the sampled blocks, after an attach
 * only those allocated since: a chain through any other block would be cut.
 * In the scan child, scanheap_build() walks the snapshot's heap and pairs
 * every block with the table's entry at its address (its stack, sequence
 * number and asked size); a block the table lacks keeps its usable size and
 * the stack SCAN_STACK_NONE ("allocated before attach" or "not sampled").
 * Blocks only the table holds (not from glibc's heap) are kept too.
 *
 * A CPython program without PYTHONMALLOC=malloc keeps its small objects in
 * pymalloc's pools (pymheap.h), which no table or glibc walk sees: with
 * SCANHEAP_PYMALLOC their blocks join, with the stack SCAN_STACK_PYMALLOC.
 *
 * Scan child only: no malloc, no lock; memory from mmap.
 */
#ifndef HEAPLINE_SCANHEAP_H
#define HEAPLINE_SCANHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "heapwalk.h"
#include "pymheap.h"
#include "scan.h"

/* what scanheap_build() walks */
#define SCANHEAP_GLIBC 1u    /* glibc's heap (heapwalk.h) */
#define SCANHEAP_PYMALLOC 2u /* pymalloc's pools (pymheap.h) */

struct scanheap_block {
    uint64_t addr, size; /* size: the table's (asked) when it has the block */
    uint64_t usable;     /* the walk's (0: a block only the table has) */
    uint32_t stack, seq; /* stack SCAN_STACK_NONE: not in the table */
};

struct scanheap {
    struct scanheap_block *table; /* the table's blocks, by address */
    size_t n_table, cap_table;
    struct scanheap_block *all; /* the walk's blocks, the table's only ones, the pools' */
    size_t n_all, cap_all;
    size_t n_untracked; /* blocks of the walk the table lacks */
    size_t n_table_only;
    size_t n_pools; /* pymalloc's blocks, last in all */
    size_t n_own;   /* the collector's own blocks, left out */
    struct heapwalk_stats st;
    struct pymheap_stats py;
    unsigned attempt; /* the caller's: which snapshot of the scan this is (1: the first) */
    int rc;           /* heapwalk_self()'s (0 when glibc's heap was not walked) */
    int py_rc;        /* pymheap_self()'s (-1 when pymalloc's pools were not walked) */
    const char *why;
};

/* Walks glibc's heap when walk has SCANHEAP_GLIBC (never taking the ranges skip[2i], skip[2i+1] for
 * its mmapped chunks: the collector's and the scan's own memory; its tcaches named by tls, by shape
 * when NULL: heapwalk.h) and merges it with src's blocks,
 * leaving out the blocks the table lacks that untracked(addr) (untracked.h) says the collector
 * allocated for itself (counted in n_own; untracked may be NULL). Returns 0, -ENOMEM, or 0 with
 * h->rc < 0 and h->why when the heap could not be walked (h then holds the table's blocks only).
 * With SCANHEAP_PYMALLOC, pymalloc's pools outside the skipped ranges are walked too (h->py_rc 0)
 * and their blocks added. */
int scanheap_build(struct scanheap *h, const struct scan_source *src, const uint64_t *skip,
                   size_t n_skip, const struct heapwalk_tls *tls, int (*untracked)(uint64_t),
                   unsigned walk);

/* A scan_source's for_each_block over h->all (ctx: h). */
void scanheap_each(void *ctx, scan_block_fn *fn, void *arg);

/* HEAPLINE_HEAPWALK_CHECK: compares the walk with the table block for
 * block and writes the counts (and the first differences) to fd with
 * write(2). A block only the walk has is explained when untracked(addr)
 * says it was handed out untracked (untracked.h: 1 tracking off, 2 the
 * collector's own). Returns the number of differences left. */
size_t scanheap_check(const struct scanheap *h, int fd, int (*untracked)(uint64_t));

/* HEAPLINE_HEAPWALK_CHECK: the line that says snapshot h->attempt is not
 * used (its walk did not add up: h->why) and a new one is taken. */
void scanheap_retry_line(const struct scanheap *h, int fd);

void scanheap_free(struct scanheap *h);

#endif
