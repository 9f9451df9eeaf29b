/*
 * chain.c - backreference chains as text, JSON and DOT, for `heapline
 * backrefs` and the TUI's "what keeps it alive" screen alike (its tree, and
 * the copy of a result both draw from, are chaintree.c's).
 *
 * The scan result comes from protocol/scanmsg, which has checked that every
 * node's `to` is an earlier node: chains are walked without further checks.
 * Strings from the collector are hostile input: JSON goes through json.c,
 * DOT labels are escaped, nothing is printed unbounded.
 */
#include "chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "model.h"
#include "pychain.h"
#include "scanmsg.h"

#define CHAIN_TEXT_HOLDERS 20 /* holders listed in text when no chain reaches a root */

/* A printable copy of a wire string (NUL-free, at most cap-1 bytes). */
static const char *wstr(struct wire_str s, char *buf, size_t cap)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1, k = 0;

    for (size_t i = 0; i < n; i++)
        if (s.ptr[i])
            buf[k++] = s.ptr[i];
    buf[k] = 0;
    return buf;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

struct site_name {
    const char *function, *file, *module; /* function: model_site_label() */
    uint32_t line;
    int known;
    char label[160];
};

static void site_of(const struct model *m, uint32_t stack, struct site_name *n)
{
    uint32_t site = m ? model_stack_site(m, stack) : MODEL_NONE;
    const struct model_site *s;

    n->function = n->file = n->module = "";
    n->line = 0;
    n->known = 0;
    if (site == MODEL_NONE || !(s = model_site(m, site)))
        return;
    n->function = model_site_label(s, n->label, sizeof(n->label));
    n->file = s->file ? s->file : "";
    n->module = s->module ? s->module : "";
    n->line = s->line;
    n->known = 1;
}

static void text_site(FILE *out, const struct model *m, uint32_t stack)
{
    struct site_name s;

    site_of(m, stack, &s);
    if (!s.known) {
        fprintf(out, "stack %" PRIu32, stack);
        return;
    }
    fprintf(out, "%s", s.function);
    if (s.file[0])
        fprintf(out, " %s:%" PRIu32, base_name(s.file), s.line);
}

const char *chain_untracked(const struct scanmsg_node *n, uint32_t flags)
{
    if (n->pymalloc)
        return "a Python object in pymalloc's pools";
    if ((flags & SCANMSG_ATTACHED) && (flags & SCANMSG_SAMPLED))
        return "allocated before the attach or not sampled";
    if (flags & SCANMSG_ATTACHED)
        return "allocated before the attach";
    if (flags & SCANMSG_SAMPLED)
        return "not sampled";
    return "never seen allocated";
}

static void text_refs(FILE *out, int64_t inbound)
{
    if (inbound >= 0)
        fprintf(out, ", %" PRId64 " reference%s", inbound, inbound == 1 ? "" : "s");
}

/* "allocated at F file:line", or what an untracked block is. */
static void text_origin(FILE *out, const struct model *m, const struct scanmsg_node *n,
                        uint32_t flags)
{
    if (n->untracked) {
        fputs(chain_untracked(n, flags), out);
        return;
    }
    fputs("allocated at ", out);
    text_site(out, m, n->id);
}

/* One hop, as text: "0xADDR (N bytes, allocated at F file:line) +off". */
static void text_hop(FILE *out, const struct model *m, const struct scanmsg_node *n, uint32_t flags)
{
    char sym[512], mod[1024];

    switch (n->kind) {
    case SCANMSG_HEAP:
        fprintf(out, "0x%" PRIx64 " (%" PRIu64 " bytes, ", n->addr, n->size);
        text_origin(out, m, n, flags);
        fprintf(out, ") +%" PRIu64, n->offset);
        break;
    case SCANMSG_GLOBAL:
        wstr(n->module, mod, sizeof(mod));
        if (n->symbol.ptr)
            fprintf(out, "global %s (%s) +%" PRIu64, wstr(n->symbol, sym, sizeof(sym)),
                    base_name(mod), n->offset);
        else
            fprintf(out, "global 0x%" PRIx64 " (%s +0x%" PRIx64 ")", n->addr, base_name(mod),
                    n->module_offset);
        break;
    default: {
        const struct model_thread *t = m ? model_thread(m, n->id) : NULL;
        fprintf(out, "thread %" PRIu32, n->id);
        if (t && t->os_tid)
            fprintf(out, " (tid %" PRIu32 "%s%s)", t->os_tid, t->name && t->name[0] ? ", " : "",
                    t->name ? t->name : "");
        fprintf(out, " stack, 0x%" PRIx64, n->addr);
        break;
    }
    }
    if (n->interior)
        fprintf(out, " -> +%" PRIu64 " inside", n->interior);
    if (n->kind == SCANMSG_HEAP)
        text_refs(out, n->inbound);
    if (n->py_flags & SCANMSG_PY_PART) {
        fputs(": owned by the next", out);
    } else {
        char label[600];
        pychain_label(n, label, sizeof(label));
        if (label[0])
            fprintf(out, ": %s", label);
    }
}

/* The site of a HEAP node, and whether heapline saw it allocated (a block
 * found in glibc's heap only: "untracked", and "allocated" says what it is). */
static void json_site(FILE *out, const struct model *m, const struct scanmsg_node *n,
                      uint32_t flags)
{
    struct site_name s;
    uint32_t stack = n->id;

    if (n->untracked) {
        fprintf(out,
                ", \"function\": null, \"file\": null, \"line\": 0, \"stack\": 0, "
                "\"untracked\": true, \"allocated\": \"%s\", \"pymalloc\": %s",
                chain_untracked(n, flags), n->pymalloc ? "true" : "false");
        return;
    }
    site_of(m, stack, &s);

    fputs(", \"function\": ", out);
    if (s.known)
        json_write_stringn(out, s.function, strlen(s.function));
    else
        fputs("null", out);
    fputs(", \"file\": ", out);
    if (s.file[0])
        json_write_stringn(out, s.file, strlen(s.file));
    else
        fputs("null", out);
    fprintf(out,
            ", \"line\": %" PRIu32 ", \"stack\": %" PRIu32 ", \"untracked\": false, "
            "\"pymalloc\": false",
            s.line, stack);
}

/* A wire string as JSON, null when absent. */
static void json_wstr(FILE *out, struct wire_str s)
{
    if (s.ptr)
        json_write_stringn(out, s.ptr, s.len);
    else
        fputs("null", out);
}

/* A hop's Python fields: type, via (the slot), part (a buffer the next hop's
 * object owns); a module global's symbol and module, a class attribute's
 * symbol and class. */
static void json_python(FILE *out, const struct scanmsg_node *n)
{
    fputs(", \"type\": ", out);
    json_wstr(out, n->py_type);
    fputs(", \"via\": ", out);
    json_wstr(out, n->py_via);
    fprintf(out, ", \"part\": %s", n->py_flags & SCANMSG_PY_PART ? "true" : "false");
    if (pychain_is_end(n)) {
        fputs(", \"symbol\": ", out);
        json_write_stringn(out, n->py_via.ptr, n->py_via.len);
        fputs(n->py_flags & SCANMSG_PY_MODULE  ? ", \"module\": "
              : n->py_flags & SCANMSG_PY_CLASS ? ", \"class\": "
                                               : ", \"frame\": ",
              out);
        json_write_stringn(out, n->py_owner.ptr, n->py_owner.len);
    }
}

static void json_hop(FILE *out, const struct model *m, const struct scanmsg_node *n,
                     const struct scanmsg_node *to, int python, uint32_t flags)
{
    static const char *const kinds[] = {"", "heap", "global", "stack"};

    fprintf(out,
            "{\"kind\": \"%s\", \"address\": \"0x%" PRIx64 "\", \"offset\": %" PRIu64
            ", \"interior\": %" PRIu64,
            n->py_flags & SCANMSG_PY_MODULE  ? "global"
            : n->py_flags & SCANMSG_PY_CLASS ? "class"
                                             : kinds[n->kind],
            n->addr, n->offset, n->interior);
    if (python)
        json_python(out, n);
    if (to)
        fprintf(out, ", \"points_to\": \"0x%" PRIx64 "\"", to->addr);
    switch (n->kind) {
    case SCANMSG_HEAP:
        fprintf(out, ", \"size\": %" PRIu64, n->size);
        json_site(out, m, n, flags);
        if (n->inbound >= 0)
            fprintf(out, ", \"inbound\": %" PRId64, n->inbound);
        else
            fputs(", \"inbound\": null", out);
        break;
    case SCANMSG_GLOBAL:
        fputs(", \"symbol\": ", out);
        json_wstr(out, n->symbol);
        fputs(", \"module\": ", out);
        json_wstr(out, n->module);
        fprintf(out, ", \"module_offset\": %" PRIu64, n->module_offset);
        break;
    default: {
        const struct model_thread *t = m ? model_thread(m, n->id) : NULL;
        fprintf(out, ", \"thread\": %" PRIu32, n->id);
        if (t && t->os_tid)
            fprintf(out, ", \"tid\": %" PRIu32, t->os_tid);
        if (t && t->name && t->name[0]) {
            fputs(", \"thread_name\": ", out);
            json_write_stringn(out, t->name, strlen(t->name));
        }
        fprintf(out, ", \"live_frame\": %s", n->live_frame ? "true" : "false");
        break;
    }
    }
    fputc('}', out);
}

/* ---- text and JSON (heapline backrefs) ---- */

/* Walks from root node i to the target: fills idx[] with the hops from the
 * target outward (excluding node 0) and returns their count. */
static uint32_t chain_of(const struct scanmsg_result *r, uint32_t i, uint32_t *idx, uint32_t cap)
{
    uint32_t n = 0;
    struct scanmsg_node nd;

    while (i != 0 && n < cap && scanmsg_node_at(r, i, &nd) == 0) {
        idx[n++] = i;
        i = nd.to; /* checked: nd.to < i */
    }
    for (uint32_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
        uint32_t t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
    }
    return n;
}

static int is_root(const struct scanmsg_node *n)
{
    return n->kind == SCANMSG_GLOBAL || n->kind == SCANMSG_STACK || pychain_is_end(n);
}

/* Chains to print in text: with Python names and a Python chain end found,
 * the Python chains (native roots, the interpreter's C stack words, are
 * counted); otherwise every root. */
static int text_shows(const struct scanmsg_result *r, int py_ends, const struct scanmsg_node *n)
{
    return is_root(n) && (!r->py.n || !py_ends || pychain_is_end(n));
}

static void print_text(FILE *out, const struct model *m, const struct scanmsg_result *r,
                       uint32_t *idx)
{
    uint32_t count = scanmsg_count(r), chains = 0, py_ends = 0, native = 0;
    struct scanmsg_node t, nd, to;
    char line[4096];

    scanmsg_node_at(r, 0, &t);
    fprintf(out, "0x%" PRIx64 ": %" PRIu64 " bytes ", t.addr, t.size);
    text_origin(out, m, &t, r->flags);
    if (r->target != t.addr)
        fprintf(out, " (0x%" PRIx64 " is +%" PRIu64 " inside)", r->target, r->target - t.addr);
    text_refs(out, t.inbound);
    if (t.py_type.ptr)
        fprintf(out, ": %.*s", (int)t.py_type.len, t.py_type.ptr);
    else if (t.py_flags & SCANMSG_PY_PART)
        fputs(": owned by the next", out);
    fputc('\n', out);
    for (uint32_t i = 1; i < count; i++)
        py_ends += scanmsg_node_at(r, i, &nd) == 0 && pychain_is_end(&nd);
    for (uint32_t i = 1; i < count; i++) {
        uint32_t n;
        if (scanmsg_node_at(r, i, &nd) || !is_root(&nd))
            continue;
        if (!text_shows(r, py_ends, &nd)) {
            native++;
            continue;
        }
        n = chain_of(r, i, idx, count);
        fprintf(out, "chain %" PRIu32 " (%" PRIu32 " hop%s)", ++chains, n, n == 1 ? "" : "s");
        if (r->py.n) {
            pychain_line(r, idx, n, line, sizeof(line));
            fprintf(out, ": %s", line);
        }
        fputs(":\n", out);
        for (uint32_t k = 0; k < n; k++) {
            scanmsg_node_at(r, idx[k], &nd);
            fputs("  <- ", out);
            text_hop(out, m, &nd, r->flags);
            fputc('\n', out);
        }
    }
    if (r->flags & SCANMSG_PYMALLOC)
        fputs("note: the program's small Python objects are in pymalloc's arenas, not heap "
              "blocks, and its pools could not be read: chains through them are not seen (run it "
              "with PYTHONMALLOC=malloc)\n",
              out);
    if (native)
        fprintf(out,
                "(also held from %" PRIu32 " native root%s: C stacks or globals; --json "
                "lists them)\n",
                native, native == 1 ? "" : "s");
    if (!chains) {
        if ((r->flags & SCANMSG_UNREACHABLE) && (r->flags & SCANMSG_CYCLE))
            fputs("unreachable: held only by a reference cycle (the Python gc would free it)\n",
                  out);
        else if (r->flags & SCANMSG_UNREACHABLE)
            fputs("unreachable: leaked (no root holds it)\n", out);
        else if (r->flags & (SCANMSG_PYMALLOC | SCANMSG_HEAPWALK_FAILED | SCANMSG_HEAPWALK_PARTIAL))
            fputs("no root found among the blocks scanned; some blocks were not seen (below), "
                  "so this is no proof of a leak\n",
                  out);
        else
            fputs("no root found within the limits\n", out);
        for (uint32_t i = 1; i < count; i++) {
            if (i > CHAIN_TEXT_HOLDERS) {
                fprintf(out, "  ... %" PRIu32 " more holders (--json or --dot lists them)\n",
                        count - i);
                break;
            }
            if (scanmsg_node_at(r, i, &nd) || scanmsg_node_at(r, nd.to, &to))
                continue;
            fputs("  held by ", out);
            text_hop(out, m, &nd, r->flags);
            fprintf(out, " -> 0x%" PRIx64 "\n", to.addr);
        }
    }
    if (r->flags & SCANMSG_DEPTH_LIMIT)
        fputs("(depth limit reached: longer chains not followed)\n", out);
    if (r->flags & SCANMSG_FANOUT_LIMIT)
        fputs("(fan-out limit reached: some holders left out)\n", out);
    if (r->flags & SCANMSG_UNREADABLE)
        fputs("(some blocks could not be read: freed while the scan started)\n", out);
    if ((r->flags & SCANMSG_HEAPWALK_PARTIAL) && !(r->flags & SCANMSG_HEAPWALK_FAILED))
        fputs("(part of the heap, glibc's or pymalloc's, was changing or unreadable while the "
              "snapshot was taken and was left out: chains through it may be cut)\n",
              out);
    if (r->flags & SCANMSG_HEAPWALK_FAILED)
        fputs("(glibc's heap could not be walked: only the blocks heapline saw allocated were "
              "scanned, chains through older ones are cut)\n",
              out);
    fprintf(out,
            "scanned %.1f MB in %" PRIu32 " level%s (%" PRIu64 " live blocks) in %.1f ms; "
            "the program paused %.2f ms\n",
            (double)r->bytes_scanned / 1e6, r->levels, r->levels == 1 ? "" : "s", r->n_blocks,
            (double)r->duration_ns / 1e6, (double)r->pause_ns / 1e6);
    if (r->chain_ns)
        fprintf(out, "first chain after %.1f ms (blocks collected and sorted in %.1f ms)\n",
                (double)r->chain_ns / 1e6, (double)r->prep_ns / 1e6);
}

static void print_json(FILE *out, const struct model *m, const struct scanmsg_result *r,
                       uint32_t *idx)
{
    uint32_t count = scanmsg_count(r), chains = 0, holders = 0;
    struct scanmsg_node t, nd, to;

    scanmsg_node_at(r, 0, &t);
    fprintf(out,
            "{\"target\": {\"address\": \"0x%" PRIx64 "\", \"requested\": \"0x%" PRIx64
            "\", \"size\": %" PRIu64,
            t.addr, r->target, t.size);
    json_site(out, m, &t, r->flags);
    if (t.inbound >= 0)
        fprintf(out, ", \"inbound\": %" PRId64 "}", t.inbound);
    else
        fputs(", \"inbound\": null}", out);
    fputs(",\n \"chains\": [", out);
    for (uint32_t i = 1; i < count; i++) {
        uint32_t n;
        if (scanmsg_node_at(r, i, &nd) || !is_root(&nd))
            continue;
        n = chain_of(r, i, idx, count);
        fputs(chains++ ? ",\n  [" : "\n  [", out);
        for (uint32_t k = 0; k < n; k++) {
            scanmsg_node_at(r, idx[k], &nd);
            if (k)
                fputs(", ", out);
            json_hop(out, m, &nd, NULL, r->py.n != 0, r->flags);
        }
        fputc(']', out);
    }
    fputs(chains ? "\n ],\n \"holders\": [" : "],\n \"holders\": [", out);
    for (uint32_t i = 1; i < count; i++) {
        if (scanmsg_node_at(r, i, &nd) || nd.kind != SCANMSG_HEAP || scanmsg_node_at(r, nd.to, &to))
            continue;
        fputs(holders++ ? ",\n  " : "\n  ", out);
        json_hop(out, m, &nd, &to, r->py.n != 0, r->flags);
    }
    if (r->py.n) { /* the chains again, as objgraph would name them */
        char line[4096];
        uint32_t k = 0;
        fputs(holders ? "\n ],\n \"python_chains\": [" : "],\n \"python_chains\": [", out);
        for (uint32_t i = 1; i < count; i++) {
            uint32_t n;
            if (scanmsg_node_at(r, i, &nd) || !is_root(&nd))
                continue;
            n = chain_of(r, i, idx, count);
            pychain_line(r, idx, n, line, sizeof(line));
            fputs(k++ ? ",\n  " : "\n  ", out);
            json_write_stringn(out, line, strlen(line));
        }
        fprintf(out, "%s],\n \"cycle\": %s", k ? "\n " : "",
                r->flags & SCANMSG_CYCLE ? "true" : "false");
        holders = 0;
        fprintf(out, ", \"python\": true, \"pymalloc\": %s",
                r->flags & SCANMSG_PYMALLOC ? "true" : "false");
        fputs(",\n \"unreachable\": ", out);
        fputs(r->flags & SCANMSG_UNREACHABLE ? "true" : "false", out);
    } else {
        fprintf(out, "%s],\n \"unreachable\": %s", holders ? "\n " : "",
                r->flags & SCANMSG_UNREACHABLE ? "true" : "false");
    }
    fprintf(out, ", \"heap_walk\": %s, \"heap_walk_failed\": %s, \"heap_walk_partial\": %s",
            r->flags & SCANMSG_HEAPWALK ? "true" : "false",
            r->flags & SCANMSG_HEAPWALK_FAILED ? "true" : "false",
            r->flags & SCANMSG_HEAPWALK_PARTIAL ? "true" : "false");
    fprintf(out,
            ", \"depth_limited\": %s, \"fanout_limited\": %s, "
            "\"unreadable\": %s, \"levels\": %" PRIu32 ", \"blocks\": %" PRIu64
            ", \"heap_bytes\": %" PRIu64 ", \"bytes_scanned\": %" PRIu64
            ", \"scan_ms\": %.3f, \"chain_ms\": %.3f, \"prep_ms\": %.3f, \"pause_ms\": %.3f}\n",
            r->flags & SCANMSG_DEPTH_LIMIT ? "true" : "false",
            r->flags & SCANMSG_FANOUT_LIMIT ? "true" : "false",
            r->flags & SCANMSG_UNREADABLE ? "true" : "false", r->levels, r->n_blocks, r->heap_bytes,
            r->bytes_scanned, (double)r->duration_ns / 1e6, (double)r->chain_ns / 1e6,
            (double)r->prep_ns / 1e6, (double)r->pause_ns / 1e6);
}

/* ---- DOT ---- */

/* text into a DOT label: quotes and backslashes escaped, control bytes '?' */
static void dot_str(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fputc('?', out);
        else
            fputc(c, out);
    }
}

static int node_is_end(const struct chain_node *nd)
{
    return (nd->py_flags & (SCANMSG_PY_MODULE | SCANMSG_PY_CLASS | SCANMSG_PY_FRAME)) != 0;
}

static void dot_heap(FILE *out, const struct model *m, const struct chain_node *nd, uint32_t i)
{
    struct site_name s;

    site_of(m, nd->id, &s);
    fprintf(out, "0x%" PRIx64 "\\n%" PRIu64 " bytes\\n", nd->addr, nd->size);
    if (nd->untracked)
        dot_str(out, nd->untracked);
    else if (s.known)
        dot_str(out, s.function);
    else
        fprintf(out, "stack %" PRIu32, nd->id);
    if (nd->inbound >= 0)
        fprintf(out, "\\n%" PRId64 " ref%s", nd->inbound, nd->inbound == 1 ? "" : "s");
    if (nd->py[0]) {
        fputs("\\n", out);
        dot_str(out, nd->py);
    } else if (nd->py_flags & SCANMSG_PY_PART) {
        fputs("\\n(owned by the next)", out);
    }
    fprintf(out, "\"%s];\n",
            i == 0            ? ", style=bold, color=red"
            : node_is_end(nd) ? ", style=filled, fillcolor=lightblue"
                              : "");
}

int chain_write_dot(FILE *out, const struct model *m, const struct chain *c)
{
    fputs("digraph backrefs {\n  rankdir=RL;\n  node [shape=box, fontname=\"monospace\"];\n", out);
    for (uint32_t i = 0; i < c->n_nodes; i++) {
        const struct chain_node *nd = &c->nodes[i];
        fprintf(out, "  n%" PRIu32 " [label=\"", i);
        switch (nd->kind) {
        case SCANMSG_HEAP:
            dot_heap(out, m, nd, i);
            break;
        case SCANMSG_GLOBAL:
            if (nd->symbol[0])
                dot_str(out, nd->symbol);
            else
                fprintf(out, "0x%" PRIx64, nd->addr);
            fputs("\\n", out);
            dot_str(out, base_name(nd->module));
            fputs("\", shape=ellipse, style=filled, fillcolor=lightblue];\n", out);
            break;
        default:
            fprintf(out,
                    "thread %" PRIu32 " stack\", shape=ellipse, style=filled, "
                    "fillcolor=lightyellow];\n",
                    nd->id);
            break;
        }
        if (i > 0)
            fprintf(out, "  n%" PRIu32 " -> n%" PRIu32 " [label=\"+%" PRIu64 "%s\"];\n", i, nd->to,
                    nd->offset, nd->interior ? " (interior)" : "");
    }
    if (c->flags & SCANMSG_UNREACHABLE)
        fputs("  unreachable [label=\"unreachable: leaked\", shape=plaintext];\n", out);
    fputs("}\n", out);
    return ferror(out) ? -1 : 0;
}

int chain_print(FILE *out, int format, const struct model *m, const struct scanmsg_result *r)
{
    uint32_t count = scanmsg_count(r);
    uint32_t *idx;

    if (count == 0)
        return -1;
    idx = calloc(count, sizeof(*idx));
    if (!idx)
        return -1;
    if (format == CHAIN_DOT) {
        struct chain c = {0};
        int rc = chain_take(&c, r, 0);
        if (rc == 0)
            rc = chain_write_dot(out, m, &c);
        chain_clear(&c);
        free(idx);
        return rc;
    }
    if (format == CHAIN_JSON)
        print_json(out, m, r, idx);
    else
        print_text(out, m, r, idx);
    free(idx);
    return ferror(out) ? -1 : 0;
}
