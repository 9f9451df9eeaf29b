/*
 * view_refs.c - the backreference view of one object.
 *
 * The scan result is copied out when it arrives (chain.h: the source forgets
 * an answer once it is taken) and drawn as the tree chain.c lays out; the
 * peek (REQ_READ) is asked after the scan answered. Each answer is found by
 * its request id (source_response()).
 */
#include "view_refs.h"

#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "chain.h"
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

enum refs_state { REFS_NONE = 0, REFS_SCANNING, REFS_DONE, REFS_FAILED };

struct view_refs {
    int state;              /* enum refs_state */
    uint64_t addr, size;    /* the object */
    int scan_req, read_req; /* requests whose answers are awaited */
    char error[256];
    struct chain chain;     /* the answer, copied out of the model */
    unsigned char peek[64]; /* the object's first bytes */
    uint32_t n_peek;
    int sel, top;
    uint32_t depth; /* the scan's depth limit (hops); `+` deepens it */
    uint32_t skip;  /* chain levels scrolled off to the left */
    int census;     /* the object is a census's oldest instance (view_refs_open_census) */
    int gone;       /* the scan found no live block at addr (-ENOENT) */
};

static struct view_refs *state(const struct ui *ui)
{
    return ui->data[VIEW_REFS];
}

static int refs_open(struct ui *ui)
{
    ui->data[VIEW_REFS] = calloc(1, sizeof(struct view_refs));
    return ui->data[VIEW_REFS] ? 0 : -1;
}

static void refs_reset(struct ui *ui)
{
    state(ui)->state = REFS_NONE;
}

/* Asks for a scan of the object at addr to `depth` levels. */
static int scan(struct ui *ui, uint64_t addr, uint64_t size, uint32_t depth)
{
    struct view_refs *v = state(ui);
    if (!ui->src || ui->src_state != SOURCE_OPEN || source_kind(ui->src) == SOURCE_FILE) {
        view_ctx_message(ui, "what holds an object: needs a running program (run or attach)");
        return KEYS_REDRAW;
    }
    int id = source_request_scan(ui->src, addr, depth, REFS_FANOUT);
    if (id <= 0) {
        view_ctx_message(ui, "could not ask the collector for a scan");
        return KEYS_REDRAW;
    }
    chain_clear(&v->chain);
    v->addr = addr;
    v->size = size;
    v->depth = depth;
    v->skip = 0;
    v->scan_req = id;
    v->read_req = 0;
    v->n_peek = 0;
    v->state = REFS_SCANNING;
    v->gone = 0;
    v->sel = v->top = 0;
    view_ctx_show(ui, VIEW_REFS);
    return KEYS_REQUERY;
}

int view_refs_open(struct ui *ui, uint64_t addr, uint64_t size)
{
    state(ui)->census = 0;
    return scan(ui, addr, size, REFS_DEPTH);
}

int view_refs_open_census(struct ui *ui, uint64_t addr)
{
    state(ui)->census = 1;
    return scan(ui, addr, 0, REFS_DEPTH);
}

uint32_t view_refs_deeper(uint32_t depth)
{
    if (depth >= REFS_DEPTH_MAX / 4)
        return REFS_DEPTH_MAX;
    return depth * 4;
}

int ui_act_refs_deeper(struct ui *ui, int key)
{
    struct view_refs *v = state(ui);
    if (v->state == REFS_SCANNING)
        return KEYS_NONE;
    if (v->depth >= REFS_DEPTH_MAX) {
        view_ctx_message(ui, "the depth limit is at its most (%d levels)", REFS_DEPTH_MAX);
        return KEYS_REDRAW;
    }
    return scan(ui, v->addr, v->size, view_refs_deeper(v->depth));
}

static int refs_poll(struct ui *ui, int64_t deadline_ms)
{
    (void)deadline_ms; /* nothing to work on: answers only */
    struct view_refs *v = state(ui);
    int changed = 0;
    if (v->state == REFS_SCANNING) {
        const struct response *resp = source_response(ui->src, v->scan_req);
        if (resp && resp->status) {
            v->state = REFS_FAILED;
            v->gone = resp->status == -ENOENT;
            snprintf(v->error, sizeof v->error, "%s",
                     resp->message ? resp->message : "the scan failed");
            source_response_done(ui->src, v->scan_req);
            return VIEW_POLL_CHANGED;
        }
        if (resp) {
            int taken;
            chain_clear(&v->chain);
            taken = resp->scan ? chain_take(&v->chain, resp->scan, REFS_MAX_LINES) : -1;
            source_response_done(ui->src, v->scan_req);
            if (taken < 0) {
                v->state = REFS_FAILED;
                snprintf(v->error, sizeof v->error, "the scan result is malformed");
                return VIEW_POLL_CHANGED;
            }
            v->state = REFS_DONE;
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
    return changed ? VIEW_POLL_CHANGED : 0;
}

static void refs_move(struct ui *ui, int delta, int how)
{
    struct view_refs *v = state(ui);

    view_ctx_move(ui, &v->sel, &v->top, (int)v->chain.n_lines, delta, how);
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

static void refs_draw(struct ui *ui, int y, int h)
{
    struct view_refs *v = state(ui);
    char line[2048], text[1024], pre[512];

    if (h < 4)
        return;
    switch (v->state) {
    case REFS_SCANNING:
        snprintf(line, sizeof line,
                 "What keeps 0x%" PRIx64 " alive: scanning (depth limit %u)...   Esc: back",
                 v->addr, v->depth);
        break;
    case REFS_FAILED:
        snprintf(line, sizeof line, "What keeps 0x%" PRIx64 " alive: %s   Esc: back", v->addr,
                 v->error);
        break;
    default: {
        char mb[16];
        widget_fmt_bytes(mb, sizeof mb, (int64_t)v->chain.bytes_scanned, 0);
        /* the keys stay: the scan's figures go first, then D's key (at 80
         * columns the title ran out in its figures, the keys unseen) */
        for (int form = 0; form < 4; form++) {
            int n =
                snprintf(line, sizeof line, "What keeps 0x%" PRIx64 " alive: %u levels (limit %u)",
                         v->addr, v->chain.levels, v->depth);
            if (n < 0 || (size_t)n >= sizeof line)
                break;
            if (form == 0)
                snprintf(line + n, sizeof line - (size_t)n,
                         ", %s scanned in %.1f ms (pause %.1f ms)", mb,
                         (double)v->chain.duration_ns / 1e6, (double)v->chain.pause_ns / 1e6);
            else if (form == 1)
                snprintf(line + n, sizeof line - (size_t)n, ", %s scanned in %.0f ms", mb,
                         (double)v->chain.duration_ns / 1e6);
            n = (int)strlen(line);
            snprintf(line + n, sizeof line - (size_t)n, "%s",
                     form < 3 ? "   +: deeper  D: DOT  Esc: back" : "   +: deeper  Esc: back");
            if (widget_width(line) <= ui->cols)
                break;
        }
        break;
    }
    }
    view_ctx_put(y, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD));
    const char *flag = "";
    /* a census's instance freed since: what to do, not only what happened
     * (Esc goes back to the census, whose c asks the program again) */
    if (v->state == REFS_FAILED && v->gone && v->census)
        flag = "the census is older than the heap: Esc, then c takes a new census";
    if (v->state == REFS_DONE) {
        if ((v->chain.flags & SCANMSG_UNREACHABLE) && (v->chain.flags & SCANMSG_CYCLE))
            flag = "held only by a reference cycle (the Python gc would free it)";
        else if (v->chain.flags & SCANMSG_UNREACHABLE)
            flag = "no root holds it: unreachable, leaked";
        else if (v->chain.flags & SCANMSG_PYMALLOC)
            flag = "pymalloc's pools could not be read: chains through small Python objects are "
                   "not seen (run with PYTHONMALLOC=malloc)";
        else if (v->chain.flags & (SCANMSG_HEAPWALK_FAILED | SCANMSG_HEAPWALK_PARTIAL))
            flag = "part of the heap could not be read: chains through it may be cut";
        else if (v->chain.flags & SCANMSG_DEPTH_LIMIT)
            flag = v->depth >= REFS_DEPTH_MAX ? "stopped at the depth limit (the most: 1000)"
                                              : "stopped at the depth limit: + scans deeper";
        else if (v->chain.flags & SCANMSG_FANOUT_LIMIT)
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
    if (v->state == REFS_DONE && h >= 8) {
        char chain[1024];
        const char *p = chain;
        chain_python_line(&v->chain, chain, sizeof chain);
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
    refs_move(ui, 0, 0);
    /* long chains: the guides take at most a third of the line; beyond that
     * whole levels scroll off to the left with the cursor (a "+N" column) */
    int levels = (ui->cols / 3 - 4) / 3;
    if (v->chain.n_lines > 0)
        v->skip = view_tree_skip(v->skip, v->chain.lines[v->sel].depth,
                                 levels > 1 ? (uint32_t)levels : 1);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= (int)v->chain.n_lines) {
            view_ctx_put(ui->table_y + i, 0, "", ui->cols, A_NORMAL);
            continue;
        }
        const struct chain_node *nd = &v->chain.nodes[v->chain.lines[li].node];
        chain_prefix(&v->chain, (uint32_t)li, ui->ascii, v->skip, pre, sizeof pre);
        chain_hop_text(ui->m, nd, v->chain.lines[li].node == 0, text, sizeof text);
        snprintf(line, sizeof line, "%s%s", pre, text);
        view_ctx_put(ui->table_y + i, 0, line, ui->cols,
                     li == v->sel ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL);
    }
}

static void refs_free(struct ui *ui)
{
    struct view_refs *v = state(ui);
    if (v)
        chain_clear(&v->chain);
    free(v);
    ui->data[VIEW_REFS] = NULL;
}

int ui_act_refs_dot(struct ui *ui, int key)
{
    struct view_refs *v = state(ui);
    char path[64];
    if (v->state != REFS_DONE)
        return KEYS_NONE;
    snprintf(path, sizeof path, "heapline-0x%" PRIx64 ".dot", v->addr);
    FILE *f = fopen(path, "w");
    if (!f) {
        view_ctx_message(ui, "cannot write %s", path);
        return KEYS_REDRAW;
    }
    int bad = chain_write_dot(f, ui->m, &v->chain) != 0;
    if (fclose(f) != 0 || bad)
        view_ctx_message(ui, "cannot write %s", path);
    else
        view_ctx_message(ui, "wrote %s (dot -Tpng %s > chain.png)", path, path);
    return KEYS_REDRAW;
}

const struct view_ops view_refs_ops = {
    .name = "refs",
    .keys = KEYS_REFS,
    .open = refs_open,
    .draw = refs_draw,
    .move = refs_move,
    .poll = refs_poll,
    .reset = refs_reset,
    .free = refs_free,
};
