/*
 * chain.h - backreference chains, one formatter for the CLI and the TUI.
 *
 * A scan result (protocol/scanmsg.h) is a tree: node 0 is the object, every
 * other node holds a pointer into an earlier one. `heapline backrefs` prints
 * it as text, JSON or DOT (chain_print); the TUI copies it (chain_take: the
 * model's copy moves on with the stream), draws it as an indented tree
 * (chain_prefix, chain_hop_text) and writes the same DOT (chain_write_dot).
 * Every DOT of a chain comes from chain_write_dot. chain.c writes text, JSON
 * and DOT; chaintree.c copies a result and lays out the tree.
 */
#ifndef HEAPLINE_CHAIN_H
#define HEAPLINE_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct model;
struct scanmsg_result;
struct scanmsg_node;

enum chain_format { CHAIN_TEXT = 0, CHAIN_JSON, CHAIN_DOT };

/* One hop of a scan result, copied out (owned strings). */
struct chain_node {
    uint32_t kind, to, id, depth;
    uint32_t last; /* the last holder of the node it holds (no "│" below it) */
    uint64_t addr, size, offset, interior, module_offset;
    int64_t inbound;
    char symbol[128], module[256];
    uint32_t py_flags;     /* SCANMSG_PY_* */
    char py[512];          /* Python label: "list [0]", "module __main__ global instance_map" */
    const char *untracked; /* HEAP never seen allocated: chain_untracked()'s words, else NULL */
};

/* One line of the tree as drawn, depth first from the object. */
struct chain_line {
    uint32_t node;
    uint32_t depth;
    uint32_t last; /* no later sibling: "└─", else "├─" */
};

struct chain {
    uint64_t target; /* the address asked for */
    struct chain_node *nodes;
    uint32_t n_nodes;
    struct chain_line *lines;
    uint32_t n_lines;
    uint32_t flags, levels; /* SCANMSG_* */
    uint64_t duration_ns, bytes_scanned, pause_ns;
};

/* Copies a decoded scan result into c (which must be empty: zeroed or
 * cleared), at most `max` nodes (0: all): nodes, and tree lines depth first
 * from the object, children in result order (shortest chains first).
 * Returns 0 or -1 (out of memory, malformed node; c is then cleared). */
int chain_take(struct chain *c, const struct scanmsg_result *r, uint32_t max);

/* What a block heapline never saw allocated is: a block of pymalloc's
 * pools ("a Python object in pymalloc's pools"), else from the result's
 * flags (SCANMSG_ATTACHED, SCANMSG_SAMPLED): "allocated before the attach",
 * "not sampled", "allocated before the attach or not sampled". Static. */
const char *chain_untracked(const struct scanmsg_node *n, uint32_t flags);

/* Frees c's nodes and lines and zeroes it. */
void chain_clear(struct chain *c);

/* The tree guides of line `line` of c: "│  ├─ " (UTF-8) or "|  |- "
 * (ascii), from walking up the holders (any depth). With skip > 0 the
 * first skip levels are scrolled off, as view_tree_prefix() does: the same
 * "+N  " column, then the levels after. */
void chain_prefix(const struct chain *c, uint32_t line, int ascii, uint32_t skip, char *buf,
                  size_t n);

/* One hop as a line of the TUI's tree: "heap 0x... +8 (64 B) from
 * processor_create file:line  [2 refs]", "global instance_map +16 in
 * leaky_service  (root)". m names sites and threads (may be NULL). */
void chain_hop_text(const struct model *m, const struct chain_node *nd, int is_target, char *buf,
                    size_t n);

/* The chain from the object to its first Python chain end (a module global,
 * a class attribute, a live frame's local), each hop its Python name, as
 * `backrefs` prints it ("bytearray <- list [0] <- ... <- module __main__
 * global instance_map"), owned buffers folded into their object; "" when no
 * chain ends so. */
void chain_python_line(const struct chain *c, char *buf, size_t n);

/* The graph as Graphviz DOT: boxes for heap blocks (address, size, site,
 * references, Python name), ellipses for roots, edges from holder to held
 * labelled with the pointer's offset, rankdir=RL (roots on the left).
 * Returns 0, or -1 on a write error. */
int chain_write_dot(FILE *out, const struct model *m, const struct chain *c);

/* Writes a scan result as `heapline backrefs` prints it (enum chain_format;
 * DOT through chain_take and chain_write_dot). m names sites and threads.
 * Returns 0, or -1 (empty result, out of memory, write error). */
int chain_print(FILE *out, int format, const struct model *m, const struct scanmsg_result *r);

#endif
