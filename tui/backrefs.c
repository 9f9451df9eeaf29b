/*
 * backrefs.c - `heapline backrefs`: connect, pick the object, scan, print.
 *
 * The stream is fed to the same model the TUI uses (definitions name the
 * allocation sites exactly as the site table does); the scan result is read
 * with protocol/scanmsg, which has already checked that every node points to
 * an earlier one, so chains are walked without further checks. Everything
 * the collector sends is hostile input: a result this code cannot print
 * cleanly is an error line, never a crash.
 */
#include "backrefs.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "decode.h"
#include "decode_msgpack.h" /* raw scan results: the census keeps two at once */
#include "encode.h"
#include "model.h"
#include "pychain.h"
#include "scanmsg.h"

#define BACKREFS_TIMEOUT_MS 10000
#define BACKREFS_REQ_OBJECTS 1
#define BACKREFS_REQ_SCAN 2
#define BACKREFS_MAX_OBJECTS 64
#define BACKREFS_MAX_LIMIT 1000  /* --depth and --fanout: what the scan engine accepts */
#define BACKREFS_TEXT_HOLDERS 20 /* holders listed in text when no chain reaches a root */

struct conn {
    int fd;
    struct decode dec;
    struct model *model;
    int64_t deadline_ms;
    uint32_t *stacks; /* stack ids defined so far */
    size_t n_stacks, cap_stacks;
    int got_snapshot;
    const char *what;      /* the socket path, for messages */
    size_t msg_lo, msg_hi; /* bytes of dec.buf taken by the last decode_next() */
};

/* One line on stderr, "heapline backrefs: ...", then hint. Returns status. */
static int say(int status, const char *hint, const char *fmt, va_list ap)
{
    fputs("heapline backrefs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(hint, stderr);
    fputc('\n', stderr);
    return status;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = say(1, "", fmt, ap);
    va_end(ap);
    return r;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A usage error: one line ending in the help hint. Returns 2, the status of
 * every usage error. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = say(2, " (see heapline backrefs --help)", fmt, ap);
    va_end(ap);
    return r;
}

/* ---- output helpers ---- */

static void json_str(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void dot_str(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fputc('?', out);
        else
            fputc(c, out);
    }
}

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

static void text_refs(FILE *out, int64_t inbound)
{
    if (inbound >= 0)
        fprintf(out, ", %" PRId64 " reference%s", inbound, inbound == 1 ? "" : "s");
}

/* One hop, as text: "0xADDR (N bytes, allocated at F file:line) +off". */
static void text_hop(FILE *out, const struct model *m, const struct scanmsg_node *n)
{
    char sym[512], mod[1024];

    switch (n->kind) {
    case SCANMSG_HEAP:
        fprintf(out, "0x%" PRIx64 " (%" PRIu64 " bytes, allocated at ", n->addr, n->size);
        text_site(out, m, n->id);
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

static void json_site(FILE *out, const struct model *m, uint32_t stack)
{
    struct site_name s;

    site_of(m, stack, &s);

    fputs(", \"function\": ", out);
    if (s.known)
        json_str(out, s.function, strlen(s.function));
    else
        fputs("null", out);
    fputs(", \"file\": ", out);
    if (s.file[0])
        json_str(out, s.file, strlen(s.file));
    else
        fputs("null", out);
    fprintf(out, ", \"line\": %" PRIu32 ", \"stack\": %" PRIu32, s.line, stack);
}

/* A hop's Python fields: type, via (the slot), part (a buffer the next hop's
 * object owns); a module global's symbol and module, a class attribute's
 * symbol and class. */
static void json_python(FILE *out, const struct scanmsg_node *n)
{
    fputs(", \"type\": ", out);
    if (n->py_type.ptr)
        json_str(out, n->py_type.ptr, n->py_type.len);
    else
        fputs("null", out);
    fputs(", \"via\": ", out);
    if (n->py_via.ptr)
        json_str(out, n->py_via.ptr, n->py_via.len);
    else
        fputs("null", out);
    fprintf(out, ", \"part\": %s", n->py_flags & SCANMSG_PY_PART ? "true" : "false");
    if (pychain_is_end(n)) {
        fputs(", \"symbol\": ", out);
        json_str(out, n->py_via.ptr, n->py_via.len);
        fputs(n->py_flags & SCANMSG_PY_MODULE  ? ", \"module\": "
              : n->py_flags & SCANMSG_PY_CLASS ? ", \"class\": "
                                               : ", \"frame\": ",
              out);
        json_str(out, n->py_owner.ptr, n->py_owner.len);
    }
}

static void json_hop(FILE *out, const struct model *m, const struct scanmsg_node *n,
                     const struct scanmsg_node *to, int python)
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
        json_site(out, m, n->id);
        if (n->inbound >= 0)
            fprintf(out, ", \"inbound\": %" PRId64, n->inbound);
        else
            fputs(", \"inbound\": null", out);
        break;
    case SCANMSG_GLOBAL:
        fputs(", \"symbol\": ", out);
        if (n->symbol.ptr)
            json_str(out, n->symbol.ptr, n->symbol.len);
        else
            fputs("null", out);
        fputs(", \"module\": ", out);
        if (n->module.ptr)
            json_str(out, n->module.ptr, n->module.len);
        else
            fputs("null", out);
        fprintf(out, ", \"module_offset\": %" PRIu64, n->module_offset);
        break;
    default: {
        const struct model_thread *t = m ? model_thread(m, n->id) : NULL;
        fprintf(out, ", \"thread\": %" PRIu32, n->id);
        if (t && t->os_tid)
            fprintf(out, ", \"tid\": %" PRIu32, t->os_tid);
        if (t && t->name && t->name[0]) {
            fputs(", \"thread_name\": ", out);
            json_str(out, t->name, strlen(t->name));
        }
        fprintf(out, ", \"live_frame\": %s", n->live_frame ? "true" : "false");
        break;
    }
    }
    fputc('}', out);
}

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
    fprintf(out, "0x%" PRIx64 ": %" PRIu64 " bytes allocated at ", t.addr, t.size);
    text_site(out, m, t.id);
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
            text_hop(out, m, &nd);
            fputc('\n', out);
        }
    }
    if (r->flags & SCANMSG_PYMALLOC)
        fputs("note: the program's small Python objects are in pymalloc's arenas, not heap "
              "blocks, so chains through them are not seen: run it with PYTHONMALLOC=malloc\n",
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
        else
            fputs("no root found within the limits\n", out);
        for (uint32_t i = 1; i < count; i++) {
            if (i > BACKREFS_TEXT_HOLDERS) {
                fprintf(out, "  ... %" PRIu32 " more holders (--json or --dot lists them)\n",
                        count - i);
                break;
            }
            if (scanmsg_node_at(r, i, &nd) || scanmsg_node_at(r, nd.to, &to))
                continue;
            fputs("  held by ", out);
            text_hop(out, m, &nd);
            fprintf(out, " -> 0x%" PRIx64 "\n", to.addr);
        }
    }
    if (r->flags & SCANMSG_DEPTH_LIMIT)
        fputs("(depth limit reached: longer chains not followed)\n", out);
    if (r->flags & SCANMSG_FANOUT_LIMIT)
        fputs("(fan-out limit reached: some holders left out)\n", out);
    if (r->flags & SCANMSG_UNREADABLE)
        fputs("(some blocks could not be read: freed while the scan started)\n", out);
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
    json_site(out, m, t.id);
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
            json_hop(out, m, &nd, NULL, r->py.n != 0);
        }
        fputc(']', out);
    }
    fputs(chains ? "\n ],\n \"holders\": [" : "],\n \"holders\": [", out);
    for (uint32_t i = 1; i < count; i++) {
        if (scanmsg_node_at(r, i, &nd) || nd.kind != SCANMSG_HEAP || scanmsg_node_at(r, nd.to, &to))
            continue;
        fputs(holders++ ? ",\n  " : "\n  ", out);
        json_hop(out, m, &nd, &to, r->py.n != 0);
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
            json_str(out, line, strlen(line));
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

static void print_dot(FILE *out, const struct model *m, const struct scanmsg_result *r)
{
    uint32_t count = scanmsg_count(r);
    struct scanmsg_node nd;
    char buf[1024];

    fputs("digraph backrefs {\n  rankdir=RL;\n  node [shape=box, fontname=\"monospace\"];\n", out);
    for (uint32_t i = 0; i < count; i++) {
        struct site_name s;
        if (scanmsg_node_at(r, i, &nd))
            continue;
        fprintf(out, "  n%" PRIu32 " [label=\"", i);
        switch (nd.kind) {
        case SCANMSG_HEAP:
            site_of(m, nd.id, &s);
            fprintf(out, "0x%" PRIx64 "\\n%" PRIu64 " bytes\\n", nd.addr, nd.size);
            if (s.known)
                dot_str(out, s.function, strlen(s.function));
            else
                fprintf(out, "stack %" PRIu32, nd.id);
            if (nd.inbound >= 0)
                fprintf(out, "\\n%" PRId64 " ref%s", nd.inbound, nd.inbound == 1 ? "" : "s");
            pychain_label(&nd, buf, sizeof(buf));
            if (buf[0]) {
                fputs("\\n", out);
                dot_str(out, buf, strlen(buf));
            } else if (nd.py_flags & SCANMSG_PY_PART) {
                fputs("\\n(owned by the next)", out);
            }
            fprintf(out, "\"%s];\n",
                    i == 0                ? ", style=bold, color=red"
                    : pychain_is_end(&nd) ? ", style=filled, fillcolor=lightblue"
                                          : "");
            break;
        case SCANMSG_GLOBAL:
            if (nd.symbol.ptr)
                dot_str(out, nd.symbol.ptr, nd.symbol.len);
            else
                fprintf(out, "0x%" PRIx64, nd.addr);
            fputs("\\n", out);
            wstr(nd.module, buf, sizeof(buf));
            dot_str(out, base_name(buf), strlen(base_name(buf)));
            fputs("\", shape=ellipse, style=filled, fillcolor=lightblue];\n", out);
            break;
        default:
            fprintf(out,
                    "thread %" PRIu32 " stack\", shape=ellipse, style=filled, "
                    "fillcolor=lightyellow];\n",
                    nd.id);
            break;
        }
        if (i > 0)
            fprintf(out, "  n%" PRIu32 " -> n%" PRIu32 " [label=\"+%" PRIu64 "%s\"];\n", i, nd.to,
                    nd.offset, nd.interior ? " (interior)" : "");
    }
    if (r->flags & SCANMSG_UNREACHABLE)
        fputs("  unreachable [label=\"unreachable: leaked\", shape=plaintext];\n", out);
    fputs("}\n", out);
}

int backrefs_print(FILE *out, int format, const struct model *m, const struct scanmsg_result *r)
{
    uint32_t count = scanmsg_count(r);
    uint32_t *idx;

    if (count == 0)
        return -1;
    idx = calloc(count, sizeof(*idx));
    if (!idx)
        return -1;
    if (format == BACKREFS_JSON)
        print_json(out, m, r, idx);
    else if (format == BACKREFS_DOT)
        print_dot(out, m, r);
    else
        print_text(out, m, r, idx);
    free(idx);
    return ferror(out) ? -1 : 0;
}

/* ---- the connection ---- */

static int conn_send(struct conn *c, const char *buf, size_t len)
{
    if (client_send(c->fd, buf, len) != 0)
        return fail("%s: %s", c->what, strerror(errno));
    return 0;
}

static void note_stacks(struct conn *c, const struct wire_msg *m)
{
    struct wire_stack_node node;
    struct stacks_iter it;

    decode_stacks_begin(&it, m);
    while (decode_stacks_next(&it, &node) == 1) {
        if (c->n_stacks == c->cap_stacks) {
            size_t cap = c->cap_stacks ? 2 * c->cap_stacks : 1024;
            uint32_t *n = realloc(c->stacks, cap * sizeof(*n));
            if (!n)
                return;
            c->stacks = n;
            c->cap_stacks = cap;
        }
        c->stacks[c->n_stacks++] = node.id;
    }
}

/* Reads until a message for which stop() says 1 (m is then that message,
 * valid until the next call), the deadline, or an error. Returns 1, or 0
 * after printing the error. */
typedef int backrefs_stop_fn(const struct wire_msg *m, const void *arg);

static int conn_until(struct conn *c, struct wire_msg *m, backrefs_stop_fn *stop, const void *arg)
{
    char buf[65536];

    /* each wait (snapshot, objects, scan) has its own 10 s */
    c->deadline_ms = now_ms() + BACKREFS_TIMEOUT_MS;

    for (;;) {
        int rc;
        c->msg_lo = c->dec.off;
        rc = decode_next(&c->dec, m);
        c->msg_hi = c->dec.off;
        if (rc == 1) {
            if (m->type == WIRE_STACKS)
                note_stacks(c, m);
            if (m->type != WIRE_RESPONSE)
                model_apply(c->model, m);
            if (m->type == WIRE_SNAPSHOT)
                c->got_snapshot = 1;
            if (stop(m, arg))
                return 1;
            if (m->type == WIRE_END)
                return fail("the program ended before the answer came"), 0;
            if (m->type == WIRE_DISABLED)
                return fail("the collector turned itself off"), 0;
            continue;
        }
        if (rc != WIRE_ENEEDMORE)
            return fail("%s: bad data from the collector: %s", c->what, wire_strerror(rc)), 0;
        for (;;) {
            int64_t left = c->deadline_ms - now_ms();
            struct pollfd p = {c->fd, POLLIN, 0};
            ssize_t got;
            if (left <= 0)
                return fail("timeout after %d s waiting for the collector",
                            BACKREFS_TIMEOUT_MS / 1000),
                       0;
            rc = poll(&p, 1, (int)left);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc == 0)
                continue;
            got = read(c->fd, buf, sizeof(buf));
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return fail("%s: %s", c->what, strerror(errno)), 0;
            if (got == 0)
                return fail("%s: the collector closed the connection", c->what), 0;
            rc = decode_feed(&c->dec, buf, (size_t)got);
            if (rc < 0)
                return fail("%s: %s", c->what, wire_strerror(rc)), 0;
            break;
        }
    }
}

static int stop_at_snapshot(const struct wire_msg *m, const void *arg)
{
    (void)arg;
    return m->type == WIRE_SNAPSHOT;
}

static int stop_at_response(const struct wire_msg *m, const void *arg)
{
    return m->type == WIRE_RESPONSE && m->u.response.id == *(const uint32_t *)arg;
}

static int response_error(const struct wire_msg *m)
{
    char msg[512];

    return fail("%s", wstr(m->u.response.message, msg, sizeof(msg)));
}

/* The oldest live object of the site named function. Returns 0 with *addr. */
static int pick_site_object(struct conn *c, const char *function, uint64_t *addr)
{
    uint32_t *ids = NULL, req = BACKREFS_REQ_OBJECTS;
    size_t n = 0;
    struct encode_buf b;
    static char out[1 << 20];
    struct wire_msg m;
    struct wire_object obj, best;
    int found = 0, named = 0;

    ids = calloc(c->n_stacks ? c->n_stacks : 1, sizeof(*ids));
    if (!ids)
        return fail("out of memory");
    for (size_t i = 0; i < c->n_stacks; i++) {
        uint32_t site = model_stack_site(c->model, c->stacks[i]);
        const struct model_site *s = site == MODEL_NONE ? NULL : model_site(c->model, site);
        if (model_site_is(s, function))
            ids[n++] = c->stacks[i];
    }
    for (uint32_t s = 0; s < model_site_count(c->model) && !named; s++) {
        const struct model_site *site = model_site(c->model, s);
        named = model_site_is(site, function);
    }
    if (n == 0) {
        free(ids);
        if (named)
            return fail("no live object of site %s", function);
        return fail("no allocation site named %s", function);
    }
    if (n > (sizeof(out) - 64) / 6)
        n = (sizeof(out) - 64) / 6;
    encode_init(&b, out, sizeof(out));
    if (encode_req_objects(&b, req, ids, n, BACKREFS_MAX_OBJECTS)) {
        free(ids);
        return fail("request too large");
    }
    free(ids);
    if (conn_send(c, b.data, b.len))
        return 1;
    if (!conn_until(c, &m, stop_at_response, &req))
        return 1;
    if (m.u.response.status != 0)
        return response_error(&m);
    if (m.u.response.kind != WIRE_REQ_OBJECTS)
        return fail("unexpected answer from the collector");
    for (uint32_t i = 0; i < wire_list_count(&m.u.response.objects, 7); i++) {
        if (decode_object_at(&m.u.response.objects, i, &obj) < 0)
            return fail("bad data from the collector");
        if (!found || obj.time < best.time) {
            best = obj;
            found = 1;
        }
    }
    if (!found)
        return fail("no live object of site %s", function);
    *addr = best.addr;
    return 0;
}

/* The scan result of the message decode_next() just returned, read from its
 * bytes (decode_next() may have skipped messages of newer types before it:
 * the last message of the range is the one). Returns 0 or a wire error. */
static int scan_result(struct conn *c, msgpack_zone *zone, struct scanmsg_result *r)
{
    size_t pos = c->msg_lo;

    while (pos < c->msg_hi) {
        struct wire_msg m;
        size_t used = 0;
        int rc = decode_one(c->dec.buf + pos, c->msg_hi - pos, zone, &m, &used);
        if (rc != 1 || used == 0)
            return WIRE_ECORRUPT;
        if (pos + used == c->msg_hi)
            return scanmsg_decode_bytes(c->dec.buf + pos, used, zone, r);
        pos += used;
    }
    return WIRE_ECORRUPT;
}

/* Sends a scan request for addr (0: the census) with id req and decodes the
 * answer into r, from a copy of its bytes in *copy (the caller frees it) so
 * r outlives later messages. Returns 0, or 1 after an error line. */
static int request_scan(struct conn *c, msgpack_zone *zone, uint32_t req, uint64_t addr,
                        uint32_t depth, uint32_t fanout, struct scanmsg_result *r, char **copy)
{
    static char out[256];
    struct encode_buf b;
    struct wire_msg m;
    size_t pos;

    *copy = NULL;
    encode_init(&b, out, sizeof(out));
    if (encode_req_scan(&b, req, addr, depth, fanout) || conn_send(c, b.data, b.len))
        return 1;
    if (!conn_until(c, &m, stop_at_response, &req))
        return 1;
    if (m.u.response.status != 0)
        return response_error(&m);
    for (pos = c->msg_lo; pos < c->msg_hi;) { /* the last message of the range is the answer */
        struct wire_msg mm;
        size_t used = 0;
        if (decode_one(c->dec.buf + pos, c->msg_hi - pos, zone, &mm, &used) != 1 || used == 0)
            break;
        if (pos + used == c->msg_hi) {
            *copy = malloc(used);
            if (!*copy)
                return fail("out of memory");
            memcpy(*copy, c->dec.buf + pos, used);
            if (scanmsg_decode_bytes(*copy, used, zone, r) != 0)
                break;
            return 0;
        }
        pos += used;
    }
    return fail("bad scan result from the collector");
}

/* Keeps reading the stream for ms milliseconds: a client that stops reading
 * holds the collector back (its backlog fills), and the program with it.
 * Returns 0, or 1 after an error line. */
static int conn_wait(struct conn *c, int64_t ms)
{
    int64_t end = now_ms() + ms;
    char buf[65536];

    for (;;) {
        struct wire_msg m;
        int rc, left;
        while ((rc = decode_next(&c->dec, &m)) == 1)
            if (m.type == WIRE_END)
                return fail("the program ended before the second census");
        if (rc != WIRE_ENEEDMORE)
            return fail("%s: bad data from the collector: %s", c->what, wire_strerror(rc));
        left = (int)(end - now_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = {c->fd, POLLIN, 0};
        rc = poll(&p, 1, left);
        if (rc <= 0)
            continue;
        ssize_t got = read(c->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fail("%s: the collector closed the connection", c->what);
        if ((rc = decode_feed(&c->dec, buf, (size_t)got)) < 0)
            return fail("%s: %s", c->what, wire_strerror(rc));
    }
}

/* --types [--growth S]: the census, and its growth over S seconds. */
static int census_main(struct conn *c, msgpack_zone *zone, int format, unsigned long growth,
                       unsigned long top)
{
    struct scanmsg_result a, b;
    char *ca = NULL, *cb = NULL;
    msgpack_zone zb; /* the second result's own: decoding clears a zone */
    int rc = 1;

    if (!msgpack_zone_init(&zb, 65536))
        return fail("out of memory");
    if (request_scan(c, zone, BACKREFS_REQ_SCAN, 0, 1, 1, &a, &ca))
        goto done;
    if (growth) {
        if (conn_wait(c, (int64_t)growth * 1000))
            goto done;
        if (request_scan(c, &zb, BACKREFS_REQ_SCAN + 1, 0, 1, 1, &b, &cb))
            goto done;
    }
    if (pychain_census_print(stdout, growth ? &b : &a, growth ? &a : NULL, format == BACKREFS_JSON,
                             top) != 0 ||
        fflush(stdout) != 0) {
        fail("write error or bad census from the collector");
        goto done;
    }
    rc = 0;
done:
    free(ca);
    free(cb);
    msgpack_zone_destroy(&zb);
    return rc;
}

int backrefs_main(int argc, char **argv)
{
    const char *target = NULL, *site = NULL, *address = NULL, *type = NULL;
    unsigned long depth = 10, fanout = 64, growth = 0, top = 0;
    int types = 0;
    int format = BACKREFS_TEXT, rc = 1;
    uint64_t addr = 0;
    uint32_t req = BACKREFS_REQ_SCAN;
    char path[4096], errline[1024];
    static char out[256];
    struct encode_buf b;
    struct conn c;
    struct wire_msg m;
    struct scanmsg_result res;
    msgpack_zone zone;

    /* argv[0] may be "backrefs" or the program: skip anything up to the verb */
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "backrefs") == 0)
        i = 2;
    for (; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (strcmp(a, "--json") == 0) {
            format = BACKREFS_JSON;
        } else if (strcmp(a, "--dot") == 0) {
            format = BACKREFS_DOT;
        } else if (strcmp(a, "--types") == 0) {
            types = 1;
        } else if (strcmp(a, "--site") == 0 || strcmp(a, "--address") == 0 ||
                   strcmp(a, "--depth") == 0 || strcmp(a, "--fanout") == 0 ||
                   strcmp(a, "--type") == 0 || strcmp(a, "--growth") == 0 ||
                   strcmp(a, "--top") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--site") == 0) {
                site = v;
            } else if (strcmp(a, "--address") == 0) {
                address = v;
            } else if (strcmp(a, "--type") == 0) {
                type = v;
            } else {
                unsigned long x, max = strcmp(a, "--top") == 0 ? 1000000 : BACKREFS_MAX_LIMIT;
                errno = 0;
                x = strtoul(v, &end, 10);
                if (errno || *end || !*v || x == 0 || x > max)
                    return bad_usage("bad %s: %s (from 1 to %lu)", a + 2, v, max);
                if (strcmp(a, "--depth") == 0)
                    depth = x;
                else if (strcmp(a, "--fanout") == 0)
                    fanout = x;
                else if (strcmp(a, "--growth") == 0)
                    growth = x;
                else
                    top = x;
            }
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown option %s", a);
        } else if (!target) {
            target = a;
        } else {
            return bad_usage("unexpected argument %s", a);
        }
    }
    if (!target)
        return bad_usage("missing PID or SOCKET");
    if (types && (site || address || type))
        return bad_usage("--types takes no --site, --address or --type");
    if ((growth || top) && !types)
        return bad_usage("--growth and --top go with --types");
    if (types && format == BACKREFS_DOT)
        return bad_usage("--types prints text or --json");
    if (!types && (site != NULL) + (address != NULL) + (type != NULL) != 1)
        return bad_usage(
            "give exactly one of --site FUNCTION|FILE:LINE, --address ADDR and --type NAME");
    if (address) {
        char *end;
        errno = 0;
        addr = strtoull(address, &end, 16);
        if (errno || *end || !*address || addr == 0)
            return bad_usage("bad address: %s", address);
    }

    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.what = path;
    decode_init(&c.dec);
    c.model = model_new();
    if (!c.model || !msgpack_zone_init(&zone, 65536)) {
        decode_free(&c.dec);
        model_free(c.model);
        return fail("out of memory");
    }
    c.fd = client_connect(target, path, sizeof(path), errline, sizeof(errline));
    if (c.fd < 0) {
        fail("%s", errline);
        goto done;
    }
    if (!conn_until(&c, &m, stop_at_snapshot, NULL))
        goto done;
    if (types) {
        rc = census_main(&c, &zone, format, growth, top);
        goto done;
    }
    if (site && pick_site_object(&c, site, &addr))
        goto done;
    if (type) {
        struct scanmsg_result census;
        char *copy = NULL;
        int bad = request_scan(&c, &zone, BACKREFS_REQ_SCAN + 2, 0, 1, 1, &census, &copy);
        if (!bad && pychain_census_oldest(&census, type, &addr) != 0)
            bad = fail("no live Python object of type %s", type);
        free(copy);
        if (bad)
            goto done;
    }
    encode_init(&b, out, sizeof(out));
    if (encode_req_scan(&b, req, addr, (uint32_t)depth, (uint32_t)fanout) ||
        conn_send(&c, b.data, b.len))
        goto done;
    if (!conn_until(&c, &m, stop_at_response, &req))
        goto done;
    if (m.u.response.status != 0) {
        response_error(&m);
        goto done;
    }
    if (scan_result(&c, &zone, &res) != 0) {
        fail("bad scan result from the collector");
        goto done;
    }
    if (backrefs_print(stdout, format, c.model, &res) != 0 || fflush(stdout) != 0) {
        fail("write error: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (c.fd >= 0)
        close(c.fd);
    decode_free(&c.dec);
    model_free(c.model);
    msgpack_zone_destroy(&zone);
    free(c.stacks);
    return rc;
}
