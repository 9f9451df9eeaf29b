/*
 * view_tree.c - the stack tree of a site.
 *
 * Invariant: the cursor is a node key, not an index; after every rebuild the
 * key is looked up again (model_tree_find), and collapsed nodes are a set of
 * keys. A node whose key vanished (its stacks were freed) loses the cursor to
 * the first line.
 */
#include "view_tree.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "estimate.h"
#include "keys.h"
#include "model.h"
#include "view_ctx.h"
#include "widget.h"

struct view_tree {
    uint32_t site;
    int dir; /* enum model_tree_dir */
    struct model_tree tree;
    uint32_t *vis; /* visible node indices, in order */
    uint32_t n_vis, vis_cap;
    uint64_t *collapsed; /* keys of collapsed nodes (sorted) */
    uint32_t n_collapsed, collapsed_cap;
    uint64_t sel_key; /* the cursor, by stable node key */
    int sel, top;
    int built;
    uint32_t skip; /* tree levels scrolled off to the left (deep stacks) */
};

static struct view_tree *state(const struct ui *ui)
{
    return ui->data[VIEW_TREE];
}

static int tree_open(struct ui *ui)
{
    ui->data[VIEW_TREE] = calloc(1, sizeof(struct view_tree));
    return ui->data[VIEW_TREE] ? 0 : -1;
}

static void tree_reset(struct ui *ui)
{
    state(ui)->built = 0;
    state(ui)->n_vis = 0;
}

static int is_collapsed(const struct view_tree *v, uint64_t key)
{
    for (uint32_t i = 0; i < v->n_collapsed; i++)
        if (v->collapsed[i] == key)
            return 1;
    return 0;
}

static void set_collapsed(struct view_tree *v, uint64_t key, int on)
{
    for (uint32_t i = 0; i < v->n_collapsed; i++) {
        if (v->collapsed[i] == key) {
            if (!on)
                v->collapsed[i] = v->collapsed[--v->n_collapsed];
            return;
        }
    }
    if (!on)
        return;
    if (v->n_collapsed == v->collapsed_cap) {
        uint32_t cap = v->collapsed_cap ? v->collapsed_cap * 2 : 32;
        uint64_t *c = realloc(v->collapsed, cap * sizeof *c);
        if (!c)
            return;
        v->collapsed = c;
        v->collapsed_cap = cap;
    }
    v->collapsed[v->n_collapsed++] = key;
}

void view_tree_open(struct ui *ui, uint32_t site)
{
    struct view_tree *v = state(ui);
    v->site = site;
    v->dir = MODEL_TREE_TOP_DOWN;
    v->n_collapsed = 0;
    v->sel_key = 0;
    v->sel = v->top = 0;
    v->skip = 0;
    v->built = 0;
}

static void add_vis(struct view_tree *v, uint32_t node)
{
    if (v->n_vis == v->vis_cap) {
        uint32_t cap = v->vis_cap ? v->vis_cap * 2 : 256;
        uint32_t *p = realloc(v->vis, cap * sizeof *p);
        if (!p)
            return;
        v->vis = p;
        v->vis_cap = cap;
    }
    v->vis[v->n_vis++] = node;
}

static void walk(struct view_tree *v, uint32_t first)
{
    /* iterative pre-order walk over siblings and the children of expanded nodes */
    const struct model_tree *t = &v->tree;
    uint32_t node = first;
    while (node != MODEL_NONE) {
        add_vis(v, node);
        const struct model_tree_node *nd = &t->nodes[node];
        if (nd->first_child != MODEL_NONE && !is_collapsed(v, nd->key)) {
            node = nd->first_child;
            continue;
        }
        /* up until a node with a next sibling */
        while (node != MODEL_NONE && t->nodes[node].next_sibling == MODEL_NONE)
            node = t->nodes[node].parent;
        if (node != MODEL_NONE)
            node = t->nodes[node].next_sibling;
    }
}

void view_tree_rebuild(struct ui *ui)
{
    struct view_tree *v = state(ui);
    struct model_query q;
    view_ctx_query(ui, &q);
    if (model_tree_build(ui->m, v->site, &q, v->dir, &v->tree) < 0) {
        view_ctx_message(ui, "out of memory building the tree");
        return;
    }
    v->built = 1;
    v->n_vis = 0;
    if (v->tree.n > 0 && v->tree.first_root != MODEL_NONE)
        walk(v, v->tree.first_root);
    /* put the cursor back on its node */
    int sel = 0;
    if (v->sel_key) {
        uint32_t idx = model_tree_find(&v->tree, v->sel_key);
        if (idx != MODEL_NONE) {
            for (uint32_t i = 0; i < v->n_vis; i++)
                if (v->vis[i] == idx) {
                    sel = (int)i;
                    break;
                }
        } else {
            sel = v->sel; /* same line as before, clamped */
        }
    }
    v->sel = sel;
    view_tree_move(ui, 0, 0);
}

int view_tree_lines(const struct ui *ui)
{
    return (int)state(ui)->n_vis;
}

void view_tree_move(struct ui *ui, int delta, int to)
{
    struct view_tree *v = state(ui);
    int n = (int)v->n_vis;

    view_ctx_move(ui, &v->sel, &v->top, n, delta, to);
    if (n > 0)
        v->sel_key = v->tree.nodes[v->vis[v->sel]].key;
}

/* The guide a line draws for its ancestor a (an earlier level): a bar while
 * a has later siblings below. */
static const char *guide(const struct model_tree *t, uint32_t a, int ascii)
{
    if (t->nodes[a].next_sibling != MODEL_NONE)
        return ascii ? "| " : "\u2502 ";
    return "  ";
}

void view_tree_prefix(const struct model_tree *t, uint32_t node, int collapsed, int ascii,
                      uint32_t skip, char *buf, size_t n)
{
    const struct model_tree_node *nd = &t->nodes[node];
    uint32_t depth = nd->depth, hidden = depth < skip ? depth : skip;
    size_t pos = 0, len = 0;
    char head[16] = "";

    if (n == 0)
        return;
    buf[0] = '\0';
    if (skip > 0) {
        int w = snprintf(head, sizeof head, "+%u", skip) + 1; /* the same on every line */
        snprintf(head, sizeof head, "+%u", hidden);
        pos = (size_t)snprintf(buf, n, "%-*s", w < 4 ? 4 : w, head);
        if (pos >= n)
            return;
    }
    /* the levels drawn: hidden+1 .. depth; the branch at depth, a guide
     * for each ancestor between. Their bytes are counted first, then
     * written right to left while walking up the parents. */
    if (depth > hidden) {
        const char *br = nd->next_sibling == MODEL_NONE ? (ascii ? "`-" : "\u2514\u2500")
                                                        : (ascii ? "|-" : "\u251c\u2500");
        uint32_t a = nd->parent;
        len = strlen(br);
        for (uint32_t d = depth - 1; d > hidden && a != MODEL_NONE; d--, a = t->nodes[a].parent)
            len += strlen(guide(t, a, ascii));
        if (pos + len < n) {
            size_t at = pos + len - strlen(br);
            memcpy(buf + at, br, strlen(br));
            a = nd->parent;
            for (uint32_t d = depth - 1; d > hidden && a != MODEL_NONE;
                 d--, a = t->nodes[a].parent) {
                const char *g = guide(t, a, ascii);
                at -= strlen(g);
                memcpy(buf + at, g, strlen(g));
            }
            pos += len;
        }
        buf[pos < n ? pos : n - 1] = '\0';
    }
    const char *e = nd->first_child == MODEL_NONE ? " "
                    : collapsed                   ? (ascii ? "+" : "\u25b8")
                                                  : (ascii ? "-" : "\u25be");
    if (pos < n)
        snprintf(buf + pos, n - pos, "%s ", e);
}

uint32_t view_tree_skip(uint32_t skip, uint32_t depth, uint32_t levels)
{
    if (levels == 0)
        levels = 1;
    if (depth < skip)
        return depth;
    if (depth >= skip + levels)
        return depth - levels + 1;
    return skip;
}

void view_tree_draw(struct ui *ui, int y, int h)
{
    struct view_tree *v = state(ui);
    char line[4096], title[1200], name[160], where[512], pre[2048], text[2304], fit[256];
    char incl[16], own[16], blocks[16], allocs[16];
    const struct model_site *s = model_site(ui->m, v->site);
    int fw = ui->cols >= 150 ? 40 : ui->cols >= 110 ? 30 : 20;
    uint64_t rate = model_summary(ui->m)->sample_rate;
    int cw = rate ? 7 : 6; /* a figure's column: room for an estimate's "~" */

    if (h < 3)
        return;
    view_ctx_site_where(s, where, sizeof where);
    const char *label = model_site_label(s, name, sizeof name), *keys = "b: flip  Esc: back";
    for (int pass = 0; pass < 2; pass++) {
        snprintf(title, sizeof title, "Stack tree of %s (%s), %s", label, view_ctx_base(where),
                 v->dir == MODEL_TREE_TOP_DOWN ? "top-down" : "bottom-up");
        int over = widget_width(title) + 3 + widget_width(keys) - ui->cols;
        if (over <= 0)
            break; /* else a C++ name as the table shows it: the line, the keys kept */
        label = cxxname_fit(label, widget_width(label) - over, ui->ascii, fit, sizeof fit);
    }
    view_ctx_title(y, ui->cols, title, keys, view_ctx_attr(ui, VIEW_PAIR_COLHEAD));
    struct widget_col hc[] = {
        {"INCL", cw, WIDGET_RIGHT},   {"OWN", cw, WIDGET_RIGHT},  {"BLOCKS", cw, WIDGET_RIGHT},
        {"ALLOCS", cw, WIDGET_RIGHT}, {"FRAME", -1, WIDGET_LEFT}, {"FILE:LINE", fw, WIDGET_LEFT},
    };
    widget_row(line, sizeof line, hc, 6, ui->cols);
    view_ctx_put(y + 1, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    ui->table_y = y + 2;
    ui->table_h = h - 3;
    view_tree_move(ui, 0, 0);
    /* deep stacks: the guides take at most half the frame column; beyond
     * that whole levels scroll off to the left, the same for every line
     * (a "+N" column says how many), following the cursor */
    int frame_w = ui->cols - 4 * (cw + 1) - fw - 1;
    int levels = (frame_w / 2 - 4) / 2;
    if (v->n_vis > 0)
        v->skip = view_tree_skip(v->skip, v->tree.nodes[v->vis[v->sel]].depth,
                                 levels > 1 ? (uint32_t)levels : 1);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= (int)v->n_vis) {
            view_ctx_put(y + 2 + i, 0, li == 0 && i == 0 ? "  (no live stacks at this time)" : "",
                         ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM));
            continue;
        }
        const struct model_tree_node *nd = &v->tree.nodes[v->vis[li]];
        widget_fmt_bytes(incl, sizeof incl, nd->incl_bytes, 0);
        widget_fmt_bytes(own, sizeof own, nd->own_bytes, 0);
        widget_fmt_count(blocks, sizeof blocks,
                         (uint64_t)(nd->incl_blocks > 0 ? nd->incl_blocks : 0));
        widget_fmt_count(allocs, sizeof allocs, nd->allocations);
        if (rate) { /* sampling mode: estimates, marked "~" as on the sites screen */
            estimate_mark(incl, sizeof incl);
            estimate_mark(own, sizeof own);
            estimate_mark(blocks, sizeof blocks);
            estimate_mark(allocs, sizeof allocs);
        }
        view_tree_prefix(&v->tree, v->vis[li], is_collapsed(v, nd->key), ui->ascii, v->skip, pre,
                         sizeof pre);
        snprintf(text, sizeof text, "%s%s", pre,
                 cxxname_fit(model_frame_label(nd->frame, name, sizeof name),
                             frame_w - widget_width(pre), ui->ascii, fit, sizeof fit));
        char fl[512];
        if (nd->frame && nd->frame->file && nd->frame->file[0])
            snprintf(fl, sizeof fl, "%s:%u", nd->frame->file, nd->frame->line);
        else
            snprintf(fl, sizeof fl, "%s", nd->frame && nd->frame->module ? nd->frame->module : "?");
        const char *flp = fl;
        if (widget_width(fl) > fw && strrchr(fl, '/'))
            flp = strrchr(fl, '/') + 1; /* the base name keeps the part that tells */
        struct widget_col c[] = {
            {incl, cw, WIDGET_RIGHT},   {own, cw, WIDGET_RIGHT}, {blocks, cw, WIDGET_RIGHT},
            {allocs, cw, WIDGET_RIGHT}, {text, -1, WIDGET_LEFT}, {flp, fw, WIDGET_LEFT_CUT_HEAD},
        };
        widget_row(line, sizeof line, c, 6, ui->cols);
        view_ctx_put(y + 2 + i, 0, line, ui->cols,
                     li == v->sel ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL);
    }
    /* detail: the selected frame in full */
    if (v->n_vis > 0) {
        const struct model_tree_node *nd = &v->tree.nodes[v->vis[v->sel]];
        char ib[32], ob[32], bound[48];
        widget_fmt_exact(ib, sizeof ib, nd->incl_bytes);
        widget_fmt_exact(ob, sizeof ob, nd->own_bytes);
        if (rate) {
            estimate_mark(ib, sizeof ib);
            estimate_mark(ob, sizeof ob);
        }
        estimate_format(bound, sizeof bound, rate, nd->incl_bytes, nd->incl_blocks);
        char where2[600] = "";
        if (nd->frame && nd->frame->file[0])
            snprintf(where2, sizeof where2, "%s:%u ", nd->frame->file, nd->frame->line);
        const char *fn = model_frame_label(nd->frame, name, sizeof name);
        for (int pass = 0; pass < 2; pass++) {
            snprintf(line, sizeof line, "%s: inclusive %s B%s%s, own %s B  %s%s", fn, ib,
                     *bound ? " " : "", bound, ob, where2, nd->frame ? nd->frame->module : "");
            int over = widget_width(line) - ui->cols;
            if (over <= 0)
                break; /* else the figures before a C++ name's parameters */
            fn = cxxname_fit(fn, widget_width(fn) - over, ui->ascii, fit, sizeof fit);
        }
        view_ctx_put(y + h - 1, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM) | A_BOLD);
    } else {
        view_ctx_put(y + h - 1, 0, "", ui->cols, A_NORMAL);
    }
}

void view_tree_free(struct ui *ui)
{
    struct view_tree *v = state(ui);
    if (v) {
        model_tree_free(&v->tree);
        free(v->vis);
        free(v->collapsed);
    }
    free(v);
    ui->data[VIEW_TREE] = NULL;
}

uint32_t view_tree_site(const struct ui *ui)
{
    return state(ui)->site;
}

const struct model_tree *view_tree_shown(const struct ui *ui, const uint32_t **vis, uint32_t *n,
                                         int *sel)
{
    const struct view_tree *v = state(ui);
    *vis = v->vis;
    *n = v->n_vis;
    *sel = v->sel;
    return &v->tree;
}

const struct view_ops view_tree_ops = {
    .name = "tree",
    .keys = KEYS_TREE,
    .open = tree_open,
    .draw = view_tree_draw,
    .move = view_tree_move,
    .update = view_tree_rebuild,
    .reset = tree_reset,
    .free = view_tree_free,
};

/* ---- actions ---- */

static const struct model_tree_node *sel_node(struct ui *ui)
{
    struct view_tree *v = state(ui);
    if (!v->built || v->n_vis == 0)
        return NULL;
    return &v->tree.nodes[v->vis[v->sel]];
}

int ui_act_tree_flip(struct ui *ui, int key)
{
    state(ui)->dir =
        state(ui)->dir == MODEL_TREE_TOP_DOWN ? MODEL_TREE_BOTTOM_UP : MODEL_TREE_TOP_DOWN;
    state(ui)->n_collapsed = 0;
    state(ui)->sel_key = 0;
    state(ui)->sel = state(ui)->top = 0;
    state(ui)->skip = 0;
    return KEYS_REQUERY;
}

int ui_act_tree_toggle(struct ui *ui, int key)
{
    const struct model_tree_node *nd = sel_node(ui);
    if (!nd || nd->first_child == MODEL_NONE)
        return KEYS_NONE;
    set_collapsed(state(ui), nd->key, !is_collapsed(state(ui), nd->key));
    return KEYS_REQUERY;
}

int ui_act_tree_expand(struct ui *ui, int key)
{
    const struct model_tree_node *nd = sel_node(ui);
    if (!nd || nd->first_child == MODEL_NONE)
        return KEYS_NONE;
    if (is_collapsed(state(ui), nd->key)) {
        set_collapsed(state(ui), nd->key, 0);
        return KEYS_REQUERY;
    }
    view_tree_move(ui, 1, 0); /* already open: step into it */
    return KEYS_REDRAW;
}

int ui_act_tree_collapse(struct ui *ui, int key)
{
    const struct model_tree_node *nd = sel_node(ui);
    if (!nd)
        return KEYS_NONE;
    if (nd->first_child != MODEL_NONE && !is_collapsed(state(ui), nd->key)) {
        set_collapsed(state(ui), nd->key, 1);
        return KEYS_REQUERY;
    }
    if (nd->parent != MODEL_NONE) {
        for (uint32_t i = 0; i < state(ui)->n_vis; i++)
            if (state(ui)->vis[i] == nd->parent) {
                view_tree_move(ui, (int)i, 1);
                break;
            }
    }
    return KEYS_REDRAW;
}

int ui_act_tree_expand_all(struct ui *ui, int key)
{
    state(ui)->n_collapsed = 0;
    return KEYS_REQUERY;
}
