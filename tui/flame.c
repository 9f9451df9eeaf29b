/*
 * flame.c - folded stacks from the model's top-down stack tree of every
 * stack (model_tree_build with no site), so the counts are the report's.
 *
 * A node's own count is what stacks ending there hold: own_bytes for live
 * bytes; for the cumulative figures, its inclusive figure less its
 * children's. Two tree nodes may fold to the same text (two call sites on one
 * line, frames without names in one module); their lines are merged, so each
 * stack text appears once.
 */
#include "flame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "report.h"

struct flame_line {
    char *stack;
    uint64_t count;
};

int flame_parse_by(const char *s, int *by)
{
    if (strcmp(s, "live") == 0)
        *by = FLAME_BY_LIVE;
    else if (strcmp(s, "allocated") == 0)
        *by = FLAME_BY_ALLOCATED;
    else if (strcmp(s, "allocations") == 0)
        *by = FLAME_BY_ALLOCATIONS;
    else
        return -1;
    return 0;
}

static uint64_t node_figure(const struct model_tree_node *x, int by)
{
    if (by == FLAME_BY_LIVE)
        return x->incl_bytes > 0 ? (uint64_t)x->incl_bytes : 0;
    return by == FLAME_BY_ALLOCATED ? x->bytes_allocated : x->allocations;
}

/* Appends one frame name to the buffer, ';' (the separator) and line breaks
 * replaced, since a name is free text. Returns 0 or -1 (out of memory). */
static int put_name(char **buf, size_t *len, size_t *cap, const char *name)
{
    size_t n = strlen(name);

    if (*len + n + 2 > *cap) {
        size_t nc = (*len + n + 2) * 2;
        char *nb = realloc(*buf, nc);

        if (!nb)
            return -1;
        *buf = nb;
        *cap = nc;
    }
    if (*len)
        (*buf)[(*len)++] = ';';
    for (size_t i = 0; i < n; i++) {
        char c = name[i];

        (*buf)[(*len)++] = c == ';' ? ':' : c == '\n' || c == '\r' ? ' ' : c;
    }
    (*buf)[*len] = 0;
    return 0;
}

/* The folded text of node i, root first. */
static char *fold(const struct model_tree *t, uint32_t i, uint32_t *path)
{
    size_t len = 0, cap = 0;
    char *buf = NULL, label[160];
    uint32_t depth = 0;

    for (uint32_t x = i; x != MODEL_NONE; x = t->nodes[x].parent)
        path[depth++] = x;
    while (depth--) {
        const struct model_frame *f = t->nodes[path[depth]].frame;

        if (put_name(&buf, &len, &cap, model_frame_label(f, label, sizeof(label)))) {
            free(buf);
            return NULL;
        }
    }
    return buf ? buf : strdup("(no frames)");
}

static int line_cmp(const void *pa, const void *pb)
{
    const struct flame_line *a = pa, *b = pb;

    return strcmp(a->stack, b->stack);
}

int flame_write(const struct model *m, const struct report_options *o, FILE *out, char *err,
                size_t errsz)
{
    struct model_query q;
    struct model_tree t = {0};
    struct flame_line *lines = NULL;
    uint64_t *below = NULL;
    uint32_t *path = NULL, n = 0;
    int rc = -1;

    if (report_query(m, o, &q, err, errsz) != 0)
        return -1;
    if (model_tree_build(m, MODEL_NONE, &q, MODEL_TREE_TOP_DOWN, &t) != 0)
        goto oom;
    below = calloc((size_t)t.n + 1, sizeof(*below));
    path = malloc(((size_t)t.n + 1) * sizeof(*path));
    lines = malloc(((size_t)t.n + 1) * sizeof(*lines));
    if (!below || !path || !lines)
        goto oom;
    for (uint32_t i = 0; i < t.n; i++)
        if (t.nodes[i].parent != MODEL_NONE)
            below[t.nodes[i].parent] += node_figure(&t.nodes[i], o->by);
    for (uint32_t i = 0; i < t.n; i++) {
        uint64_t own = o->by == FLAME_BY_LIVE
                           ? (t.nodes[i].own_bytes > 0 ? (uint64_t)t.nodes[i].own_bytes : 0)
                           : node_figure(&t.nodes[i], o->by) - below[i];

        if (!own)
            continue;
        lines[n].stack = fold(&t, i, path);
        if (!lines[n].stack)
            goto oom;
        lines[n++].count = own;
    }
    qsort(lines, n, sizeof(*lines), line_cmp);
    for (uint32_t i = 0; i < n;) {
        uint64_t count = lines[i].count;
        uint32_t j = i + 1;

        while (j < n && strcmp(lines[j].stack, lines[i].stack) == 0)
            count += lines[j++].count;
        fprintf(out, "%s %llu\n", lines[i].stack, (unsigned long long)count);
        i = j;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errsz, "out of memory");
out:
    for (uint32_t i = 0; i < n; i++)
        free(lines[i].stack);
    free(lines);
    free(path);
    free(below);
    model_tree_free(&t);
    return rc;
}
