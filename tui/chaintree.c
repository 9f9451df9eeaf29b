/*
 * chaintree.c - a scan result copied out of the stream (chain_take) and laid
 * out as the TUI's indented tree: the guides of each line, one hop's line,
 * the Python chain in one line. The DOT of a copied chain is chain.c's, as
 * are the text and JSON of `heapline backrefs`.
 *
 * Invariant: a struct chain owns everything it points to (strings copied,
 * bounded, from the hostile wire) and every node's `to` is an earlier node
 * (scanmsg checked it), so the tree is laid out in one pass and its lines
 * are walked up their holders without further checks.
 */
#include "chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pychain.h"
#include "scanmsg.h"

static void wcopy(char *buf, size_t n, struct wire_str s)
{
    size_t k = s.len < n - 1 ? s.len : n - 1;
    if (s.ptr)
        memcpy(buf, s.ptr, k);
    else
        k = 0;
    buf[k] = '\0';
}

/* Copies the nodes, then lays the tree out depth first from node 0 (the
 * object). */
int chain_take(struct chain *v, const struct scanmsg_result *r, uint32_t max)
{
    uint32_t n = scanmsg_count(r);
    if (max && n > max)
        n = max;
    v->nodes = calloc(n + 1, sizeof *v->nodes);
    v->lines = calloc(n + 1, sizeof *v->lines);
    uint32_t *first = malloc((n + 1) * sizeof *first);
    uint32_t *next = malloc((n + 1) * sizeof *next);
    uint32_t *stack = malloc((n + 1) * sizeof *stack);
    int rc = -1;
    if (!v->nodes || !v->lines || !first || !next || !stack)
        goto out;
    for (uint32_t i = 0; i < n; i++) {
        struct scanmsg_node nd;
        struct chain_node *c = &v->nodes[i];
        if (scanmsg_node_at(r, i, &nd) < 0)
            goto out;
        c->kind = nd.kind;
        c->to = nd.to;
        c->id = nd.id;
        c->addr = nd.addr;
        c->size = nd.size;
        c->offset = nd.offset;
        c->interior = nd.interior;
        c->inbound = nd.inbound;
        c->module_offset = nd.module_offset;
        wcopy(c->symbol, sizeof c->symbol, nd.symbol);
        wcopy(c->module, sizeof c->module, nd.module);
        c->py_flags = nd.py_flags;
        c->untracked = nd.untracked ? chain_untracked(&nd, r->flags) : NULL;
        pychain_label(&nd, c->py, sizeof c->py);
        c->depth = i && nd.to < i ? v->nodes[nd.to].depth + 1 : 0;
        first[i] = next[i] = UINT32_MAX;
    }
    v->n_nodes = n;
    v->target = r->target;
    v->flags = r->flags;
    v->levels = r->levels;
    v->duration_ns = r->duration_ns;
    v->bytes_scanned = r->bytes_scanned;
    v->pause_ns = r->pause_ns;
    /* children in index order (shortest chains first): link from the end */
    for (uint32_t i = n; i-- > 1;) {
        next[i] = first[v->nodes[i].to];
        first[v->nodes[i].to] = i;
    }
    uint32_t sp = 0;
    for (uint32_t i = 0; i < n; i++)
        v->nodes[i].last = next[i] == UINT32_MAX;
    if (n)
        stack[sp++] = 0;
    while (sp) {
        uint32_t i = stack[--sp];
        struct chain_line *l = &v->lines[v->n_lines++];
        l->node = i;
        l->depth = v->nodes[i].depth;
        l->last = v->nodes[i].last;
        /* push the children reversed, so the first comes out first */
        uint32_t from = sp;
        for (uint32_t c = first[i]; c != UINT32_MAX && sp < n; c = next[c])
            stack[sp++] = c;
        for (uint32_t a = from, b = sp; b > a + 1; a++, b--) {
            uint32_t t = stack[a];
            stack[a] = stack[b - 1];
            stack[b - 1] = t;
        }
    }
    rc = 0;
out:
    if (rc)
        chain_clear(v);
    free(first);
    free(next);
    free(stack);
    return rc;
}

void chain_clear(struct chain *c)
{
    free(c->lines);
    free(c->nodes);
    memset(c, 0, sizeof *c);
}

void chain_prefix(const struct chain *v, uint32_t line, int ascii, uint32_t skip, char *buf,
                  size_t n)
{
    const struct chain_line *l = &v->lines[line];
    uint32_t hidden = l->depth < skip ? l->depth : skip;
    size_t o = 0, len = 0;
    if (n == 0)
        return;
    buf[0] = '\0';
    if (skip > 0) {
        char head[16];
        int w = snprintf(head, sizeof head, "+%u", skip) + 1; /* the same on every line */
        snprintf(head, sizeof head, "+%u", hidden);
        o = (size_t)snprintf(buf, n, "%-*s", w < 4 ? 4 : w, head);
        if (o >= n)
            return;
    }
    if (l->depth <= hidden)
        return;
    /* the levels drawn: hidden+1 .. depth, the branch last; a bar for each
     * holder between that has a later sibling. Counted, then written right
     * to left while walking up the holders (any depth: no fixed mask). */
    const char *br =
        l->last ? (ascii ? "`- " : "\u2514\u2500 ") : (ascii ? "|- " : "\u251c\u2500 ");
    const char *bar = ascii ? "|  " : "\u2502  ";
    uint32_t a = v->nodes[l->node].to;
    len = strlen(br);
    for (uint32_t d = l->depth - 1; d > hidden; d--, a = v->nodes[a].to)
        len += v->nodes[a].last ? 3 : strlen(bar);
    if (o + len >= n)
        return;
    size_t at = o + len - strlen(br);
    memcpy(buf + at, br, strlen(br));
    a = v->nodes[l->node].to;
    for (uint32_t d = l->depth - 1; d > hidden; d--, a = v->nodes[a].to) {
        const char *g = v->nodes[a].last ? "   " : bar;
        at -= strlen(g);
        memcpy(buf + at, g, strlen(g));
    }
    buf[o + len] = '\0';
}

static void tree_site_name(const struct model *m, uint32_t stack, char *buf, size_t n)
{
    uint32_t s = m ? model_stack_site(m, stack) : MODEL_NONE;
    const struct model_site *site = s == MODEL_NONE ? NULL : model_site(m, s);
    char label[160];
    const char *fn;

    if (!site) {
        snprintf(buf, n, "stack %u", stack);
        return;
    }
    /* named as chain.c's text does: a function without a name by module and offset */
    fn = model_site_label(site, label, sizeof label);
    if (site->file[0]) /* the file's base name, as backrefs prints it */
        snprintf(buf, n, "%s %s:%u", fn,
                 strrchr(site->file, '/') ? strrchr(site->file, '/') + 1 : site->file, site->line);
    else
        snprintf(buf, n, "%s", fn);
}

/* One hop as text: the holder, where the pointer sits, the references to it. */
void chain_hop_text(const struct model *m, const struct chain_node *nd, int is_target, char *buf,
                    size_t n)
{
    char site[512], refs[48] = "";
    if (nd->inbound >= 0)
        snprintf(refs, sizeof refs, "  [%" PRId64 " ref%s]", nd->inbound,
                 nd->inbound == 1 ? "" : "s");
    switch (nd->kind) {
    case SCANMSG_HEAP:
        if (nd->untracked) /* "(64 B) allocated before the attach" */
            snprintf(site, sizeof site, "%s", nd->untracked);
        else
            tree_site_name(m, nd->id, site, sizeof site);
        if (is_target)
            snprintf(buf, n, "object 0x%" PRIx64 " (%" PRIu64 " B) %s%s%s", nd->addr, nd->size,
                     nd->untracked ? "" : "from ", site, refs);
        else
            snprintf(buf, n, "heap 0x%" PRIx64 " +%" PRIu64 " (%" PRIu64 " B) %s%s%s", nd->addr,
                     nd->offset, nd->size, nd->untracked ? "" : "from ", site, refs);
        break;
    case SCANMSG_GLOBAL: {
        const char *base = strrchr(nd->module, '/') ? strrchr(nd->module, '/') + 1 : nd->module;
        if (nd->symbol[0])
            snprintf(buf, n, "global %s +%" PRIu64 " in %s  (root)", nd->symbol, nd->offset, base);
        else
            snprintf(buf, n, "global 0x%" PRIx64 " in %s +0x%" PRIx64 "  (root)", nd->addr, base,
                     nd->module_offset);
        break;
    }
    default: {
        const struct model_thread *t = m ? model_thread(m, nd->id) : NULL;
        if (t && t->name[0])
            snprintf(buf, n, "stack of thread %s (tid %u) at 0x%" PRIx64 "  (root)", t->name,
                     t->os_tid, nd->addr);
        else
            snprintf(buf, n, "stack of thread %u at 0x%" PRIx64 "  (root)", nd->id, nd->addr);
        break;
    }
    }
    if (nd->interior && !is_target) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "  -> +%" PRIu64 " inside", nd->interior);
    }
    if (nd->py[0] || (nd->py_flags & SCANMSG_PY_PART)) {
        /* the Python name of the hop first: on a narrow screen it is what
         * stays (the block and its site follow it) */
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", buf);
        if (nd->py_flags & SCANMSG_PY_PART)
            snprintf(buf, n, "= owned by the next: %s", rest);
        else
            snprintf(buf, n, "= %s%s: %s", nd->py,
                     nd->py_flags & (SCANMSG_PY_MODULE | SCANMSG_PY_CLASS) ? " (root)" : "", rest);
    }
}

void chain_python_line(const struct chain *c, char *buf, size_t n)
{
    uint32_t end = 0, path[1024], k = 0;
    size_t o = 0;

    buf[0] = '\0';
    for (end = 1; end < c->n_nodes; end++)
        if (c->nodes[end].py_flags & (SCANMSG_PY_MODULE | SCANMSG_PY_CLASS | SCANMSG_PY_FRAME))
            break;
    if (end >= c->n_nodes)
        return;
    for (uint32_t i = end; k < 1024; i = c->nodes[i].to) {
        path[k++] = i;
        if (i == 0 || c->nodes[i].to >= i)
            break;
    }
    if (path[k - 1] != 0)
        return;
    while (k-- > 0) {
        const struct chain_node *nd = &c->nodes[path[k]];
        char hop[600];
        if (nd->py_flags & SCANMSG_PY_PART)
            continue;
        if (nd->py[0])
            snprintf(hop, sizeof hop, "%s", nd->py);
        else
            snprintf(hop, sizeof hop, "%" PRIu64 "-byte block", nd->size);
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%s", o ? " <- " : "", hop);
        if (o >= n)
            return;
    }
}
