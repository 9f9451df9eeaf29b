/*
 * view_tree.h - the stack tree of one site, top-down or bottom-up, with
 * expand/collapse. The tree is rebuilt from the model at the cursor's time;
 * the cursor and the collapsed nodes are kept by stable node keys (tmux
 * mode-tree style), so they survive live updates and time moves.
 */
#ifndef HEAPLINE_VIEW_TREE_H
#define HEAPLINE_VIEW_TREE_H

#include <stddef.h>
#include <stdint.h>

struct ui;
struct model_tree;

/* The screen's ops (view_ctx.h). */
extern const struct view_ops view_tree_ops;

/* Opens the tree of a site (resets direction, expansion and cursor). */
void view_tree_open(struct ui *ui, uint32_t site);

/* Rebuilds from the model at the cursor's query. */
void view_tree_rebuild(struct ui *ui);

/* Draws in rows [y, y + h). */
void view_tree_draw(struct ui *ui, int y, int h);

/* Moves the cursor (enum view_move). */
void view_tree_move(struct ui *ui, int delta, int how);

/* The visible line count (for paging). */
int view_tree_lines(const struct ui *ui);

/* Frees the view's state (view_tree_ops.free). */
void view_tree_free(struct ui *ui);

/* The site whose tree is open. */
uint32_t view_tree_site(const struct ui *ui);

/* The tree as last built, its visible nodes (*vis, *n, in order) and the
 * cursor's line (*sel). Valid until the next rebuild. */
const struct model_tree *view_tree_shown(const struct ui *ui, const uint32_t **vis, uint32_t *n,
                                         int *sel);

/*
 * Pure helper (tested): the guide prefix of node `node` into buf (n bytes,
 * cut when full): "│ ├─" style (UTF-8) or "| |-" (ascii), then the
 * expander and a space. With skip > 0 the first `skip` levels are scrolled
 * off to the left, the same for every line so the guide columns stay
 * straight: the prefix opens with a "+N  " column (N = the levels hidden,
 * min(depth, skip); as wide on every line: "+skip" and a space, 4 cells at least) and a node at
 * depth <= skip is drawn as a root. Any depth: the guides come from walking the parents, not a
 * fixed array.
 */
void view_tree_prefix(const struct model_tree *t, uint32_t node, int collapsed, int ascii,
                      uint32_t skip, char *buf, size_t n);

/* Pure helper (tested): the levels to scroll off so the cursor's line (at
 * depth `depth`) keeps its guides within `levels` levels; moves only when
 * the cursor leaves the window [skip, skip + levels), so lines do not jump
 * on every step. */
uint32_t view_tree_skip(uint32_t skip, uint32_t depth, uint32_t levels);

#endif
