/*
 * view_refs.c - the backreference view of one object.
 *
 * The scan result is read through protocol/scanmsg (already validated: every
 * node's `to` is an earlier node), so the tree is built in one pass: the
 * children of node i are the nodes whose `to` is i. Lines are rebuilt only
 * when a new result arrives (copied: the source forgets an answer once it
 * is taken); the peek (REQ_READ) is asked after the scan answered. Each
 * answer is found by its request id (source_response()).
 */
#include "view_refs.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "model.h"
#include "pychain.h"
#include "scanmsg.h"
#include "responses.h"
#include "source.h"
#include "view_ctx.h"
#include "view_tree.h"
#include "widget.h"

#define REFS_DEPTH 12       /* the first scan's depth limit */
#define REFS_DEPTH_MAX 1000 /* the most a request may ask (protocol/decode.c) */
#define REFS_FANOUT 16
#define REFS_PEEK 64u
#define REFS_MAX_LINES 5000u

void view_refs_clear(struct view_refs *v)
{
    free(v->lines);
    free(v->nodes);
    v->lines = NULL;
    v->nodes = NULL;
    v->n_lines = v->n_nodes = 0;
}

/* Asks for a scan of the object at addr to `depth` levels. */
static int scan(struct ui *ui, uint64_t addr, uint64_t size, uint32_t depth)
{
    struct view_refs *v = &ui->refs;
    if (!ui->src || ui->src_state != SOURCE_OPEN || source_kind(ui->src) == SOURCE_FILE) {
        view_ctx_message(ui, "what holds an object: needs a running program (run or attach)");
        return KEYS_REDRAW;
    }
    int id = source_request_scan(ui->src, addr, depth, REFS_FANOUT);
    if (id <= 0) {
        view_ctx_message(ui, "could not ask the collector for a scan");
        return KEYS_REDRAW;
    }
    view_refs_clear(v);
    v->addr = addr;
    v->size = size;
    v->depth = depth;
    v->skip = 0;
    v->scan_req = id;
    v->read_req = 0;
    v->n_peek = 0;
    v->state = VIEW_REFS_SCANNING;
    v->sel = v->top = 0;
    ui->view = VIEW_REFS;
    return KEYS_REQUERY;
}

int view_refs_open(struct ui *ui, uint64_t addr, uint64_t size)
{
    return scan(ui, addr, size, REFS_DEPTH);
}

uint32_t view_refs_deeper(uint32_t depth)
{
    if (depth >= REFS_DEPTH_MAX / 4)
        return REFS_DEPTH_MAX;
    return depth * 4;
}

int ui_act_refs_deeper(struct ui *ui, int key)
{
    struct view_refs *v = &ui->refs;
    if (v->state == VIEW_REFS_SCANNING)
        return KEYS_NONE;
    if (v->depth >= REFS_DEPTH_MAX) {
        view_ctx_message(ui, "the depth limit is at its most (%d levels)", REFS_DEPTH_MAX);
        return KEYS_REDRAW;
    }
    return scan(ui, v->addr, v->size, view_refs_deeper(v->depth));
}

static void wcopy(char *buf, size_t n, struct wire_str s)
{
    size_t k = s.len < n - 1 ? s.len : n - 1;
    if (s.ptr)
        memcpy(buf, s.ptr, k);
    else
        k = 0;
    buf[k] = '\0';
}

/* Copies the result out of the model (its memory moves on with the stream),
 * then lays the tree out depth first from node 0 (the object). */
int view_refs_take(struct view_refs *v, const struct scanmsg_result *r)
{
    uint32_t n = scanmsg_count(r);
    if (n > REFS_MAX_LINES)
        n = REFS_MAX_LINES;
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
        struct view_refs_node *c = &v->nodes[i];
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
        pychain_label(&nd, c->py, sizeof c->py);
        c->depth = i && nd.to < i ? v->nodes[nd.to].depth + 1 : 0;
        first[i] = next[i] = UINT32_MAX;
    }
    v->n_nodes = n;
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
        struct view_refs_line *l = &v->lines[v->n_lines++];
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
    free(first);
    free(next);
    free(stack);
    return rc;
}

int view_refs_poll(struct ui *ui)
{
    struct view_refs *v = &ui->refs;
    int changed = 0;
    if (v->state == VIEW_REFS_SCANNING) {
        const struct response *resp = source_response(ui->src, v->scan_req);
        if (resp && resp->status) {
            v->state = VIEW_REFS_FAILED;
            snprintf(v->error, sizeof v->error, "%s",
                     resp->message ? resp->message : "the scan failed");
            source_response_done(ui->src, v->scan_req);
            return 1;
        }
        if (resp) {
            int taken;
            view_refs_clear(v);
            taken = resp->scan ? view_refs_take(v, resp->scan) : -1;
            source_response_done(ui->src, v->scan_req);
            if (taken < 0) {
                v->state = VIEW_REFS_FAILED;
                snprintf(v->error, sizeof v->error, "the scan result is malformed");
                return 1;
            }
            v->state = VIEW_REFS_DONE;
            changed = 1;
            /* now the peek */
            if (ui->src && ui->src_state == SOURCE_OPEN)
                v->read_req = source_request_read(ui->src, v->addr, REFS_PEEK);
        }
    }
    if (v->read_req > 0) {
        const struct response *resp = source_response(ui->src, v->read_req);
        if (resp) {
            if (resp->status == 0) {
                v->n_peek = resp->n_bytes < sizeof v->peek ? resp->n_bytes : sizeof v->peek;
                memcpy(v->peek, resp->bytes, v->n_peek);
            }
            source_response_done(ui->src, v->read_req);
            v->read_req = 0;
            changed = 1;
        }
    }
    return changed;
}

void view_refs_prefix(const struct view_refs *v, uint32_t line, int ascii, uint32_t skip, char *buf,
                      size_t n)
{
    const struct view_refs_line *l = &v->lines[line];
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

void view_refs_move(struct ui *ui, int delta, int to)
{
    struct view_refs *v = &ui->refs;

    view_ctx_move(ui, &v->sel, &v->top, (int)v->n_lines, delta, to);
}

static void site_name(const struct model *m, uint32_t stack, char *buf, size_t n)
{
    uint32_t s = model_stack_site(m, stack);
    const struct model_site *site = s == MODEL_NONE ? NULL : model_site(m, s);
    if (!site)
        snprintf(buf, n, "stack %u", stack);
    else if (site->file[0]) /* the file's base name, as backrefs prints it */
        snprintf(buf, n, "%s %s:%u", site->function[0] ? site->function : "?",
                 strrchr(site->file, '/') ? strrchr(site->file, '/') + 1 : site->file, site->line);
    else
        snprintf(buf, n, "%s", site->function[0] ? site->function : "?");
}

/* One hop as text: the holder, where the pointer sits, the references to it. */
void view_refs_hop_text(const struct ui *ui, const struct view_refs_node *nd, int is_target,
                        char *buf, size_t n)
{
    char site[512], refs[48] = "";
    if (nd->inbound >= 0)
        snprintf(refs, sizeof refs, "  [%" PRId64 " ref%s]", nd->inbound,
                 nd->inbound == 1 ? "" : "s");
    switch (nd->kind) {
    case SCANMSG_HEAP:
        site_name(ui->m, nd->id, site, sizeof site);
        if (is_target)
            snprintf(buf, n, "object 0x%" PRIx64 " (%" PRIu64 " B) from %s%s", nd->addr, nd->size,
                     site, refs);
        else
            snprintf(buf, n, "heap 0x%" PRIx64 " +%" PRIu64 " (%" PRIu64 " B) from %s%s", nd->addr,
                     nd->offset, nd->size, site, refs);
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
        const struct model_thread *t = model_thread(ui->m, nd->id);
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

void view_refs_python_chain(const struct view_refs *v, char *buf, size_t n)
{
    uint32_t end = 0, path[1024], k = 0;
    size_t o = 0;

    buf[0] = '\0';
    for (end = 1; end < v->n_nodes; end++)
        if (v->nodes[end].py_flags & (SCANMSG_PY_MODULE | SCANMSG_PY_CLASS | SCANMSG_PY_FRAME))
            break;
    if (end >= v->n_nodes)
        return;
    for (uint32_t i = end; k < 1024; i = v->nodes[i].to) {
        path[k++] = i;
        if (i == 0 || v->nodes[i].to >= i)
            break;
    }
    if (path[k - 1] != 0)
        return;
    while (k-- > 0) {
        const struct view_refs_node *nd = &v->nodes[path[k]];
        char hop[240];
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

static void peek_line(const struct view_refs *v, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "first bytes: ");
    uint32_t k = v->n_peek < 16 ? v->n_peek : 16;
    for (uint32_t i = 0; i < k && o + 4 < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%02x ", v->peek[i]);
    if (o + 2 < n)
        buf[o++] = '|';
    for (uint32_t i = 0; i < v->n_peek && o + 2 < n && i < 32; i++)
        buf[o++] = v->peek[i] >= 32 && v->peek[i] < 127 ? (char)v->peek[i] : '.';
    if (o + 2 < n)
        buf[o++] = '|';
    buf[o] = '\0';
}

void view_refs_draw(struct ui *ui, int y, int h)
{
    struct view_refs *v = &ui->refs;
    char line[2048], text[1024], pre[512];

    if (h < 4)
        return;
    switch (v->state) {
    case VIEW_REFS_SCANNING:
        snprintf(line, sizeof line,
                 "What keeps 0x%" PRIx64 " alive: scanning (depth limit %u)...   Esc: back",
                 v->addr, v->depth);
        break;
    case VIEW_REFS_FAILED:
        snprintf(line, sizeof line, "What keeps 0x%" PRIx64 " alive: %s   Esc: back", v->addr,
                 v->error);
        break;
    default: {
        char mb[16];
        widget_fmt_bytes(mb, sizeof mb, (int64_t)v->bytes_scanned, 0);
        snprintf(line, sizeof line,
                 "What keeps 0x%" PRIx64 " alive: %u levels (limit %u), %s scanned in %.1f ms "
                 "(pause %.1f ms)   +: deeper  D: DOT  Esc: back",
                 v->addr, v->levels, v->depth, mb, (double)v->duration_ns / 1e6,
                 (double)v->pause_ns / 1e6);
        break;
    }
    }
    view_ctx_put(y, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD));
    const char *flag = "";
    if (v->state == VIEW_REFS_DONE) {
        if ((v->flags & SCANMSG_UNREACHABLE) && (v->flags & SCANMSG_CYCLE))
            flag = "held only by a reference cycle (the Python gc would free it)";
        else if (v->flags & SCANMSG_UNREACHABLE)
            flag = "no root holds it: unreachable, leaked";
        else if (v->flags & SCANMSG_DEPTH_LIMIT)
            flag = v->depth >= REFS_DEPTH_MAX ? "stopped at the depth limit (the most: 1000)"
                                              : "stopped at the depth limit: + scans deeper";
        else if (v->flags & SCANMSG_FANOUT_LIMIT)
            flag = "some holders left out (fan-out limit)";
    }
    if (v->n_peek)
        peek_line(v, text, sizeof text);
    else
        text[0] = '\0';
    snprintf(line, sizeof line, "%s%s%s", flag, text[0] && flag[0] ? "   " : "", text);
    view_ctx_put(y + 1, 0, line, ui->cols,
                 flag[0] ? view_ctx_attr(ui, VIEW_PAIR_WARN) : view_ctx_attr(ui, VIEW_PAIR_DIM));
    /* a Python chain, as objgraph reads it, on up to two lines above the tree */
    int head = 2;
    if (v->state == VIEW_REFS_DONE && h >= 8) {
        char chain[1024];
        const char *p = chain;
        view_refs_python_chain(v, chain, sizeof chain);
        for (int row = 0; row < 2 && *p; row++, head++) {
            int room = ui->cols - 8, len = (int)strlen(p);
            if (len > room && row == 0) { /* break after the last " <- " that fits */
                int cut = room;
                while (cut > 0 && strncmp(p + cut, " <- ", 4) != 0)
                    cut--;
                len = cut > 0 ? cut : room;
            }
            snprintf(line, sizeof line, "%s%.*s", row ? "        " : "python: ", len, p);
            view_ctx_put(y + head, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD));
            p += len;
            if (strncmp(p, " <- ", 4) == 0)
                p += 1;
        }
    }
    ui->table_y = y + head;
    ui->table_h = h - head;
    view_refs_move(ui, 0, 0);
    /* long chains: the guides take at most a third of the line; beyond that
     * whole levels scroll off to the left with the cursor (a "+N" column) */
    int levels = (ui->cols / 3 - 4) / 3;
    if (v->n_lines > 0)
        v->skip =
            view_tree_skip(v->skip, v->lines[v->sel].depth, levels > 1 ? (uint32_t)levels : 1);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= (int)v->n_lines) {
            view_ctx_put(ui->table_y + i, 0, "", ui->cols, A_NORMAL);
            continue;
        }
        const struct view_refs_node *nd = &v->nodes[v->lines[li].node];
        view_refs_prefix(v, (uint32_t)li, ui->ascii, v->skip, pre, sizeof pre);
        view_refs_hop_text(ui, nd, v->lines[li].node == 0, text, sizeof text);
        snprintf(line, sizeof line, "%s%s", pre, text);
        view_ctx_put(ui->table_y + i, 0, line, ui->cols,
                     li == v->sel ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL);
    }
}

void view_refs_free(struct ui *ui)
{
    view_refs_clear(&ui->refs);
}

static void dot_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
}

int ui_act_refs_dot(struct ui *ui, int key)
{
    struct view_refs *v = &ui->refs;
    char path[64], text[1024];
    if (v->state != VIEW_REFS_DONE)
        return KEYS_NONE;
    snprintf(path, sizeof path, "heapline-0x%" PRIx64 ".dot", v->addr);
    FILE *f = fopen(path, "w");
    if (!f) {
        view_ctx_message(ui, "cannot write %s", path);
        return KEYS_REDRAW;
    }
    fprintf(f, "digraph backrefs {\n  rankdir=BT;\n  node [shape=box, fontname=monospace];\n");
    for (uint32_t i = 0; i < v->n_nodes; i++) {
        view_refs_hop_text(ui, &v->nodes[i], i == 0, text, sizeof text);
        fprintf(f, "  n%u [label=\"", i);
        dot_escape(f, text);
        fprintf(f, "\"%s];\n", i == 0 ? ", style=bold" : "");
        if (i)
            fprintf(f, "  n%u -> n%u;\n", i, v->nodes[i].to);
    }
    fprintf(f, "}\n");
    if (fclose(f) != 0)
        view_ctx_message(ui, "cannot write %s", path);
    else
        view_ctx_message(ui, "wrote %s (dot -Tpng %s > chain.png)", path, path);
    return KEYS_REDRAW;
}
