/*
 * view_refs.h - what keeps one object alive: the backreference chains of a
 * scan (WIRE_REQ_SCAN) as a tree from the object out to the roots, each hop
 * naming its holder (heap block and its allocation site, global, thread
 * stack) with its inbound-reference count, and a peek at the object's first
 * bytes. `D` writes the graph as Graphviz DOT.
 */
#ifndef HEAPLINE_VIEW_REFS_H
#define HEAPLINE_VIEW_REFS_H

#include <stdint.h>

struct ui;

/* Asks the collector to scan for the object at addr (size bytes). Returns
 * KEYS_* reaction flags; a message says why when it cannot. */
int view_refs_open(struct ui *ui, uint64_t addr, uint64_t size);

/* Takes in the scan result and the peek when they arrive; 1 when changed. */
int view_refs_poll(struct ui *ui);

void view_refs_draw(struct ui *ui, int y, int h);
void view_refs_move(struct ui *ui, int delta, int to);
void view_refs_free(struct ui *ui);

#endif
