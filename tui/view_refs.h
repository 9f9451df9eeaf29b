/*
 * view_refs.h - what keeps one object alive: the backreference chains of a
 * scan (WIRE_REQ_SCAN) as a tree from the object out to the roots, each hop
 * naming its holder (heap block and its allocation site, global, thread
 * stack) with its inbound-reference count, and a peek at the object's first
 * bytes. `D` writes the graph as Graphviz DOT.
 */
#ifndef HEAPLINE_VIEW_REFS_H
#define HEAPLINE_VIEW_REFS_H

#include <stddef.h>
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

struct view_refs;
struct view_refs_node;
struct scanmsg_result;

/* Copies a decoded scan result into v (nodes, tree lines depth first from
 * the object, children in result order: shortest chains first). Returns 0
 * or -1 (out of memory, malformed node). */
int view_refs_take(struct view_refs *v, const struct scanmsg_result *r);

/* The tree guides of line `line` of v: "│  ├─ " (UTF-8) or "|  |- "
 * (ascii), from walking up the holders (any depth). With skip > 0 the
 * first skip levels are scrolled off, as view_tree_prefix() does: the same
 * "+N  " column, then the levels after. */
struct view_refs_line;
void view_refs_prefix(const struct view_refs *v, uint32_t line, int ascii, uint32_t skip, char *buf,
                      size_t n);

/* The depth limit `+` asks for after `depth`: four times as deep, at most
 * the 1000 a request may ask (12, 48, 192, 768, 1000). */
uint32_t view_refs_deeper(uint32_t depth);

/* Frees v's nodes and lines. */
void view_refs_clear(struct view_refs *v);

/* One hop as a line of text: "heap 0x... +8 (64 B) from processor_create
 * file:line  [2 refs]", "global instance_map +16 in leaky_service  (root)". */
void view_refs_hop_text(const struct ui *ui, const struct view_refs_node *nd, int is_target,
                        char *buf, size_t n);

/* The chain from the object to its first Python chain end (a module global,
 * a class attribute, a live frame's local), each hop its Python name, as
 * `backrefs` prints it ("bytearray <- list [0] <- ... <- module __main__
 * global instance_map"), owned buffers folded into their object; "" when no
 * chain ends so. */
void view_refs_python_chain(const struct view_refs *v, char *buf, size_t n);

#endif
