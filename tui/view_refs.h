/*
 * view_refs.h - what keeps one object alive: the backreference chains of a
 * scan (WIRE_REQ_SCAN) as a tree from the object out to the roots, each hop
 * naming its holder (heap block and its allocation site, global, thread
 * stack) with its inbound-reference count, and a peek at the object's first
 * bytes. `D` writes the graph as Graphviz DOT (chain_write_dot, the same as
 * `heapline backrefs --dot`).
 */
#ifndef HEAPLINE_VIEW_REFS_H
#define HEAPLINE_VIEW_REFS_H

#include <stddef.h>
#include <stdint.h>

struct ui;

/* The screen's ops (view_ctx.h). */
extern const struct view_ops view_refs_ops;

/* Asks the collector to scan for the object at addr (size bytes) and brings
 * the screen up. Returns KEYS_* reaction flags; a message says why when it
 * cannot. */
int view_refs_open(struct ui *ui, uint64_t addr, uint64_t size);

/* view_refs_open() of the oldest instance a census named: when the program
 * has freed it since, the screen says to take a new census. */
int view_refs_open_census(struct ui *ui, uint64_t addr);

/* The depth limit `+` asks for after `depth`: four times as deep, at most
 * the 1000 a request may ask (12, 48, 192, 768, 1000). */
uint32_t view_refs_deeper(uint32_t depth);

#endif
