/*
 * pychain.c - Python chains and the census, from decoded scan results.
 *
 * Reads only what scanmsg_decode() validated (strings with lengths, node
 * indexes below their node); never trusts a string to be NUL-terminated.
 */
#include "pychain.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "json.h"

int pychain_is_end(const struct scanmsg_node *n)
{
    return (n->py_flags & (SCANMSG_PY_MODULE | SCANMSG_PY_CLASS | SCANMSG_PY_FRAME)) != 0;
}

static const char *str(struct wire_str s, char *buf, size_t cap)
{
    size_t n = s.ptr ? s.len : 0;

    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(buf, s.ptr, n);
    buf[n] = 0;
    return buf;
}

void pychain_label(const struct scanmsg_node *n, char *buf, size_t cap)
{
    char a[256], b[256];

    buf[0] = 0;
    if (n->py_flags & SCANMSG_PY_MODULE)
        snprintf(buf, cap, "module %s global %s", str(n->py_owner, a, sizeof(a)),
                 str(n->py_via, b, sizeof(b)));
    else if (n->py_flags & SCANMSG_PY_CLASS)
        snprintf(buf, cap, "class %s attribute %s", str(n->py_owner, a, sizeof(a)),
                 str(n->py_via, b, sizeof(b)));
    else if (n->py_flags & SCANMSG_PY_FRAME)
        snprintf(buf, cap, "%s local %s", str(n->py_owner, a, sizeof(a)),
                 str(n->py_via, b, sizeof(b)));
    else if (n->py_type.ptr && n->py_via.ptr)
        snprintf(buf, cap, "%s %s", str(n->py_type, a, sizeof(a)), str(n->py_via, b, sizeof(b)));
    else if (n->py_type.ptr)
        snprintf(buf, cap, "%s", str(n->py_type, a, sizeof(a)));
}

/* Appends s to buf (length *len, capacity cap), cut at the end. */
static void add(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (*len + n >= cap)
        n = cap - 1 - *len;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = 0;
}

/* Whether chain node k (-1: the target) is folded into its holder: a buffer
 * owned by the Python object one hop up. A buffer held from elsewhere (a C
 * stack word) stays a hop of its own. */
static int folded(const struct scanmsg_result *r, const uint32_t *idx, uint32_t n, int64_t k,
                  const struct scanmsg_node *nd)
{
    struct scanmsg_node up;

    if (!(nd->py_flags & SCANMSG_PY_PART) || k + 1 >= (int64_t)n ||
        scanmsg_node_at(r, idx[k + 1], &up))
        return 0;
    return (up.py_flags & (SCANMSG_PY_OBJECT | SCANMSG_PY_MODULE | SCANMSG_PY_CLASS)) != 0;
}

void pychain_line(const struct scanmsg_result *r, const uint32_t *idx, uint32_t n, char *buf,
                  size_t cap)
{
    struct scanmsg_node nd;
    char label[600];
    size_t len = 0;
    int first = 1;

    buf[0] = 0;
    if (scanmsg_node_at(r, 0, &nd) == 0 && !folded(r, idx, n, -1, &nd)) {
        pychain_label(&nd, label, sizeof(label));
        if (nd.py_type.ptr) {
            char t[256];
            add(buf, cap, &len, str(nd.py_type, t, sizeof(t)));
        } else {
            snprintf(label, sizeof(label), "%" PRIu64 "-byte block", nd.size);
            add(buf, cap, &len, label);
        }
        first = 0;
    }
    for (uint32_t k = 0; k < n; k++) {
        if (scanmsg_node_at(r, idx[k], &nd) || folded(r, idx, n, k, &nd))
            continue;
        pychain_label(&nd, label, sizeof(label));
        if (!label[0]) {
            if (nd.kind == SCANMSG_STACK)
                snprintf(label, sizeof(label), "thread %" PRIu32 " stack", nd.id);
            else if (nd.kind == SCANMSG_GLOBAL)
                snprintf(label, sizeof(label), "global %s",
                         nd.symbol.ptr ? str(nd.symbol, label + 300, 256) : "?");
            else
                snprintf(label, sizeof(label), "%" PRIu64 "-byte block", nd.size);
        }
        if (!first)
            add(buf, cap, &len, " <- ");
        add(buf, cap, &len, label);
        first = 0;
    }
}

static int by_count(const void *a, const void *b)
{
    const struct pychain_type *x = a, *y = b;

    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->name, y->name);
}

static int by_delta(const void *a, const void *b)
{
    const struct pychain_type *x = a, *y = b;

    if (x->delta != y->delta)
        return x->delta < y->delta ? 1 : -1;
    return strcmp(x->name, y->name);
}

void pychain_census_sort(struct pychain_type *t, size_t n, int by_growth)
{
    qsort(t, n, sizeof(*t), by_growth ? by_delta : by_count);
}

/* Rows of a census, merged by name (two types may share a name). */
struct pychain_type *pychain_census_types(const struct scanmsg_result *r, size_t *n)
{
    uint32_t count = scanmsg_row_count(r);
    struct pychain_type *rows = calloc(count ? count : 1, sizeof(*rows));
    struct scanmsg_row sr;

    *n = 0;
    if (!rows)
        return NULL;
    for (uint32_t i = 0; i < count; i++) {
        char name[128];
        size_t k;
        if (scanmsg_row_at(r, i, &sr)) {
            free(rows);
            return NULL;
        }
        str(sr.name, name, sizeof(name));
        for (k = 0; k < *n && strcmp(rows[k].name, name) != 0; k++)
            ;
        if (k == *n) {
            memcpy(rows[k].name, name, sizeof(name));
            rows[k].oldest = sr.oldest;
            (*n)++;
        }
        rows[k].count += sr.count;
        rows[k].bytes += sr.bytes;
    }
    return rows;
}

int pychain_census_print(FILE *out, const struct scanmsg_result *r,
                         const struct scanmsg_result *before, int json, size_t limit)
{
    size_t n, nb = 0, shown = 0;
    struct pychain_type *rows = pychain_census_types(r, &n), *old = NULL;
    uint64_t objects = 0, bytes = 0;

    if (!rows)
        return -1;
    if (before && !(old = pychain_census_types(before, &nb))) {
        free(rows);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        objects += rows[i].count;
        bytes += rows[i].bytes;
        rows[i].delta = (int64_t)rows[i].count;
        for (size_t k = 0; before && k < nb; k++)
            if (strcmp(old[k].name, rows[i].name) == 0)
                rows[i].delta -= (int64_t)old[k].count;
    }
    pychain_census_sort(rows, n, before != NULL);
    /* blocks from glibc's heap that heapline never saw allocated: their
     * size asked is unknown, their usable size (up to 15 bytes more) counts */
    int usable = (r->flags & SCANMSG_HEAPWALK) && !(r->flags & SCANMSG_HEAPWALK_FAILED);
    int pools = (r->flags & SCANMSG_PYMALLOC_POOLS) != 0;
    if (json)
        fprintf(out, "{\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 ", %s\"%s\": [", objects,
                bytes, usable || pools ? "\"bytes_unseen_usable\": true, " : "",
                before ? "growth" : "types");
    else if (before)
        fprintf(out, "%-32s %10s %10s\n", "type", "count", "growth");
    else
        fprintf(out, "%-32s %10s %12s\n", "type", "count", "bytes");
    for (size_t i = 0; i < n && (!limit || shown < limit); i++) {
        if (before && rows[i].delta <= 0)
            continue;
        if (json) {
            fputs(shown ? ",\n  {\"type\": " : "\n  {\"type\": ", out);
            json_write_string(out, rows[i].name);
            fprintf(out, ", \"count\": %" PRIu64 ", \"bytes\": %" PRIu64, rows[i].count,
                    rows[i].bytes);
            if (before)
                fprintf(out, ", \"growth\": %" PRId64, rows[i].delta);
            fputc('}', out);
        } else if (before) {
            fprintf(out, "%-32s %10" PRIu64 " %+10" PRId64 "\n", rows[i].name, rows[i].count,
                    rows[i].delta);
        } else {
            fprintf(out, "%-32s %10" PRIu64 " %12" PRIu64 "\n", rows[i].name, rows[i].count,
                    rows[i].bytes);
        }
        shown++;
    }
    if (json)
        fprintf(out, "%s]}\n", shown ? "\n " : "");
    else if (!before)
        fprintf(out, "%" PRIu64 " live Python objects of %zu types, %" PRIu64 " bytes\n", objects,
                n, bytes);
    if (!json && !before && usable) {
        static const struct scanmsg_node seen_by_walk; /* not a pymalloc block */
        fprintf(out, "bytes of an object %s: its block's usable size (up to 15 more than asked)\n",
                chain_untracked(&seen_by_walk, r->flags));
    }
    if (!json && !before && (r->flags & SCANMSG_PYMALLOC_POOLS))
        fputs("bytes of an object in pymalloc's pools: its size class (a multiple of 16, up to 15 "
              "more than asked)\n",
              out);
    free(rows);
    free(old);
    return ferror(out) ? -1 : 0;
}

int pychain_census_oldest(const struct scanmsg_result *r, const char *name, uint64_t *addr)
{
    struct scanmsg_row sr;
    char n[128];

    for (uint32_t i = 0; i < scanmsg_row_count(r); i++)
        if (scanmsg_row_at(r, i, &sr) == 0 && strcmp(str(sr.name, n, sizeof(n)), name) == 0) {
            *addr = sr.oldest;
            return 0;
        }
    return -1;
}
