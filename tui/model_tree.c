/*
 * model_tree.c - the stack tree of a site (top-down or bottom-up) and every
 * site's callers, at any time point.
 *
 * Invariant: a node's key is a hash of its frame path, frames keyed as sites
 * are (model_sites_key), so the same path has the same key in every
 * rebuild and at every time: a view keeps its cursor and expansion by key.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the tree */

struct tnode {
    uint64_t key;
    uint32_t parent, first_child, next_sibling, depth;
    const struct model_frame *frame;
    struct fig own, incl;
};

struct tbuild {
    struct tnode *n;
    uint32_t len, cap;
    struct hashtab hash; /* over n, by key */
};

/* A frame's identity in a tree path: a named frame is keyed as a site is
 * (model_sites_key: function, file, line, module), not by its return address, so
 * the calls of one function from one line at several addresses are one
 * node with their figures summed, as heaptrack shows them; an unnamed frame
 * by its ip and its depth among the frames inlined there (0 for the machine
 * function keeps the keys of stacks without inlining what they were). */
static uint64_t key_step(uint64_t parent_key, const struct model_frame *fr)
{
    uint64_t id = fr->ip ^ ((uint64_t)fr->inline_depth << 56);

    if (fr->function[0]) {
        struct model_site k = model_sites_key(fr);

        id = mix64((uint64_t)model_sites_key_hash(&k) << 32 ^ (uintptr_t)k.function ^
                   (uint64_t)k.line * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)k.file * 31 ^
                   (uintptr_t)k.module * 7);
    }
    return mix64(parent_key * 0x9e3779b97f4a7c15ULL ^ id) | 1;
}

static uint32_t tnode_hash(const void *ctx, uint32_t i)
{
    return (uint32_t)((const struct tbuild *)ctx)->n[i].key;
}

static int tnode_eq(const void *ctx, uint32_t i, const void *key)
{
    return ((const struct tbuild *)ctx)->n[i].key == *(const uint64_t *)key;
}

/* Finds or adds the child of parent (MODEL_NONE: root) for frame fr. */
static uint32_t tb_child(struct tbuild *b, uint32_t parent, const struct model_frame *fr)
{
    uint64_t pk = parent == MODEL_NONE ? 0 : b->n[parent].key;
    uint64_t key = key_step(pk, fr);
    uint32_t i, slot;

    if (hashtab_reserve(&b->hash, b->len, 256, tnode_hash, b))
        return MODEL_NONE;
    i = hashtab_find(&b->hash, (uint32_t)key, tnode_eq, b, &key, &slot);
    if (i != HASHTAB_NONE)
        return i;
    if (model_grow32((void **)&b->n, &b->cap, b->len + 1, sizeof(*b->n)))
        return MODEL_NONE;
    b->n[b->len] = (struct tnode){.key = key,
                                  .parent = parent,
                                  .first_child = MODEL_NONE,
                                  .next_sibling = MODEL_NONE,
                                  .depth = parent == MODEL_NONE ? 0 : b->n[parent].depth + 1,
                                  .frame = fr};
    hashtab_set(&b->hash, slot, b->len);
    return b->len++;
}

/* Children: largest inclusive live bytes, then most allocations, then key. */
static int child_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct tnode *nodes = ctx;
    const struct tnode *a = &nodes[*(const uint32_t *)pa];
    const struct tnode *b = &nodes[*(const uint32_t *)pb];

    if (a->incl.live_bytes != b->incl.live_bytes)
        return a->incl.live_bytes > b->incl.live_bytes ? -1 : 1;
    if (a->incl.allocations != b->incl.allocations)
        return a->incl.allocations > b->incl.allocations ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Per-stack figures at the query's time for stacks of `site` (MODEL_NONE:
 * all) into out (n_nodes entries). */
static void stacks_at(const struct model *m, uint32_t site, const struct model_query *q,
                      struct fig *out)
{
    struct log_cursor c;
    const struct delta *d;
    uint32_t p;
    int latest, peak;

    model_query_resolve(m, q, &p, &latest, &peak);
    if (latest) {
        memcpy(out, m->cur, (size_t)m->n_nodes * sizeof(*out));
        return;
    }
    if (peak) {
        memcpy(out, m->pk, (size_t)m->n_nodes * sizeof(*out));
        return;
    }
    memset(out, 0, (size_t)m->n_nodes * sizeof(*out));
    if (p == MODEL_NONE)
        return;
    model_log_between(m, MODEL_NONE, p, &c);
    while ((d = log_cursor_next(&c)) != NULL)
        if (site == MODEL_NONE || m->nodes[d->stack].site == site)
            fig_add(&out[d->stack], &d->d);
}

/* Callers are keyed as sites are (model_sites_key); NULL is the outermost. */
static int same_caller(const struct model_frame *a, const struct model_frame *b)
{
    struct model_site ka, kb;

    if (!a || !b)
        return a == b;
    ka = model_sites_key(a);
    kb = model_sites_key(b);
    return model_sites_key_eq(&ka, &kb);
}

static uint64_t caller_hash(uint32_t site, const struct model_frame *f)
{
    struct model_site k;

    if (!f)
        return mix64(site);
    k = model_sites_key(f);
    return mix64(((uint64_t)site << 32) ^ model_sites_key_hash(&k));
}

/* By site, then largest live bytes, most allocations, most bytes, lowest ip:
 * the same order for the same recording on every run. */
static int caller_cmp(const void *pa, const void *pb)
{
    const struct model_caller *a = pa, *b = pb;
    uint64_t ia = a->frame ? a->frame->ip : 0, ib = b->frame ? b->frame->ip : 0;

    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes > b->live_bytes ? -1 : 1;
    if (a->allocations != b->allocations)
        return a->allocations > b->allocations ? -1 : 1;
    if (a->bytes_allocated != b->bytes_allocated)
        return a->bytes_allocated > b->bytes_allocated ? -1 : 1;
    if (ia != ib)
        return ia < ib ? -1 : 1;
    ia = a->frame ? a->frame->inline_depth : 0;
    ib = b->frame ? b->frame->inline_depth : 0;
    return ia < ib ? -1 : ia > ib;
}

struct callers_build {
    const struct model *m;
    struct model_caller *c;
    uint32_t n, cap;
    struct hashtab hash; /* over c, by (site, frame key) */
};

struct caller_key {
    uint32_t site;
    const struct model_frame *f;
};

static uint32_t caller_entry_hash(const void *ctx, uint32_t i)
{
    const struct model_caller *e = &((const struct callers_build *)ctx)->c[i];

    return (uint32_t)caller_hash(e->site, e->frame);
}

static int caller_eq(const void *ctx, uint32_t i, const void *key)
{
    const struct model_caller *e = &((const struct callers_build *)ctx)->c[i];
    const struct caller_key *k = key;

    return e->site == k->site && same_caller(e->frame, k->f);
}

/* The caller entry of (site, f), added empty. NULL when out of memory. */
static struct model_caller *caller_get(struct callers_build *b, uint32_t site,
                                       const struct model_frame *f)
{
    struct caller_key key = {site, f};
    uint32_t i, slot;

    if (hashtab_reserve(&b->hash, b->n, 1024, caller_entry_hash, b))
        return NULL;
    i = hashtab_find(&b->hash, (uint32_t)caller_hash(site, f), caller_eq, b, &key, &slot);
    if (i != HASHTAB_NONE)
        return &b->c[i];
    if (model_grow32((void **)&b->c, &b->cap, b->n + 1, sizeof(*b->c)))
        return NULL;
    b->c[b->n] = (struct model_caller){.site = site, .frame = f};
    hashtab_set(&b->hash, slot, b->n);
    return &b->c[b->n++];
}

int model_callers(const struct model *m, const struct model_query *q, struct model_callers *t)
{
    struct fig *st = calloc(m->n_nodes ? m->n_nodes : 1, sizeof(*st));
    struct callers_build b = {.m = m};

    memset(t, 0, sizeof(*t));
    t->top_stack = calloc((size_t)m->n_sites + 1, sizeof(*t->top_stack));
    if (!st || !t->top_stack)
        goto oom;
    stacks_at(m, MODEL_NONE, q, st);
    for (uint32_t s = 1; s < m->n_nodes; s++) {
        const struct stack_node *node = &m->nodes[s];
        const struct model_frame *f = NULL;
        struct model_caller *e;
        struct fwalk w;

        if (!node->defined || node->site == MODEL_NONE ||
            (!st[s].live_bytes && !st[s].live_blocks && !st[s].allocations))
            continue;
        w = model_sites_site_frame(m, s);
        if (w.node)
            f = model_sites_caller_frame(m, w);
        e = caller_get(&b, node->site, f);
        if (!e)
            goto oom;
        uint32_t *top = &t->top_stack[node->site];
        if (!*top || st[s].live_bytes > st[*top].live_bytes ||
            (st[s].live_bytes == st[*top].live_bytes && st[s].allocations > st[*top].allocations))
            *top = s;
        e->live_bytes = wadd(e->live_bytes, st[s].live_bytes);
        e->live_blocks = wadd(e->live_blocks, st[s].live_blocks);
        e->allocations += st[s].allocations;
        e->bytes_allocated += st[s].bytes_allocated;
    }
    if (b.n > 1)
        qsort(b.c, b.n, sizeof(*b.c), caller_cmp);
    t->start = calloc((size_t)m->n_sites + 1, sizeof(*t->start));
    if (!t->start)
        goto oom;
    for (uint32_t e = 0; e < b.n; e++)
        t->start[b.c[e].site + 1]++;
    for (uint32_t i = 0; i < m->n_sites; i++)
        t->start[i + 1] += t->start[i];
    t->c = b.c;
    t->n_sites = m->n_sites;
    hashtab_free(&b.hash);
    free(st);
    return 0;
oom:
    free(b.c);
    hashtab_free(&b.hash);
    free(st);
    free(t->top_stack);
    t->top_stack = NULL;
    return -1;
}

uint32_t model_callers_top_stack(const struct model_callers *t, uint32_t site)
{
    return t->top_stack && site < t->n_sites ? t->top_stack[site] : 0;
}

const struct model_caller *model_callers_of(const struct model_callers *t, uint32_t site,
                                            uint32_t *n)
{
    if (!t->start || site >= t->n_sites) {
        *n = 0;
        return NULL;
    }
    *n = t->start[site + 1] - t->start[site];
    return *n ? t->c + t->start[site] : NULL; /* t->c is NULL when no site has callers */
}

void model_callers_free(struct model_callers *t)
{
    free(t->c);
    free(t->start);
    free(t->top_stack);
    memset(t, 0, sizeof(*t));
}

/* Adds the frame path of every stack of `site` (MODEL_NONE: all) that has
 * figures in st to the build: outermost frame first for a top-down tree,
 * the leaf first for a bottom-up one. */
static int tree_collect(const struct model *m, uint32_t site, int dir, const struct fig *st,
                        struct tbuild *b)
{
    const struct model_frame **path = NULL;
    uint32_t path_cap = 0;
    int rc = -1;

    for (uint32_t s = 1; s < m->n_nodes; s++) {
        uint32_t depth = 0, cur = MODEL_NONE;

        if (!m->nodes[s].defined || m->nodes[s].site == MODEL_NONE)
            continue;
        if (site != MODEL_NONE && m->nodes[s].site != site)
            continue;
        if (!st[s].live_bytes && !st[s].live_blocks && !st[s].allocations)
            continue;
        for (struct fwalk w = fwalk_at(m, s); w.node != 0; w = fwalk_next(m, w)) {
            if (model_grow32((void **)&path, &path_cap, depth + 1, sizeof(*path)))
                goto out;
            path[depth++] = w.f;
        }
        /* path[0] is the leaf, path[depth-1] the outermost frame */
        for (uint32_t i = 0; i < depth; i++) {
            cur = tb_child(b, cur, dir == MODEL_TREE_TOP_DOWN ? path[depth - 1 - i] : path[i]);
            if (cur == MODEL_NONE)
                goto out;
            fig_add(&b->n[cur].incl, &st[s]);
            /* own: allocated by the frame itself, the leaf: a bottom-up
             * tree's root (at its outermost frame, _start held every byte
             * a site's bottom-up tree showed, and operator new 0) */
            if (i == 0 && dir != MODEL_TREE_TOP_DOWN)
                fig_add(&b->n[cur].own, &st[s]);
        }
        if (cur != MODEL_NONE && dir == MODEL_TREE_TOP_DOWN)
            fig_add(&b->n[cur].own, &st[s]);
    }
    rc = 0;
out:
    free(path);
    return rc;
}

/* The build's nodes in depth-first order, each node's children sorted
 * (child_cmp): a malloc'ed array of b->len indexes, NULL when out of memory. */
static uint32_t *tree_order(const struct tbuild *b)
{
    uint32_t *kids = malloc(((size_t)b->len + 1) * sizeof(*kids));
    uint32_t *fill = calloc((size_t)b->len + 1, sizeof(*fill));
    uint32_t *start = calloc((size_t)b->len + 2, sizeof(*start));
    uint32_t *order = malloc(((size_t)b->len + 1) * sizeof(*order));
    uint32_t *stackv = malloc(((size_t)b->len + 1) * sizeof(*stackv));
    uint32_t n_order = 0, sp = 0;

    if (!kids || !fill || !start || !order || !stackv) {
        free(order);
        order = NULL;
        goto out;
    }
    /* bucket children by parent (slot b->len is the roots) */
    for (uint32_t i = 0; i < b->len; i++)
        start[(b->n[i].parent == MODEL_NONE ? b->len : b->n[i].parent) + 1]++;
    for (uint32_t i = 0; i <= b->len; i++)
        start[i + 1] += start[i];
    for (uint32_t i = 0; i < b->len; i++) {
        uint32_t pslot = b->n[i].parent == MODEL_NONE ? b->len : b->n[i].parent;
        kids[start[pslot] + fill[pslot]++] = i;
    }
    for (uint32_t i = 0; i <= b->len; i++)
        if (start[i + 1] - start[i] > 1)
            qsort_r(kids + start[i], start[i + 1] - start[i], sizeof(*kids), child_cmp, b->n);
    /* iterative depth-first walk */
    for (uint32_t i = start[b->len + 1]; i > start[b->len]; i--)
        stackv[sp++] = kids[i - 1];
    while (sp) {
        uint32_t x = stackv[--sp];
        order[n_order++] = x;
        for (uint32_t i = start[x + 1]; i > start[x]; i--)
            stackv[sp++] = kids[i - 1];
    }
out:
    free(kids);
    free(fill);
    free(start);
    free(stackv);
    return order;
}

/* Copies the build into t in `order`, linking parents, children and
 * siblings by their new indexes. */
static int tree_emit(const struct tbuild *b, const uint32_t *order, struct model_tree *t)
{
    uint32_t *newi = malloc(((size_t)b->len + 1) * sizeof(*newi));
    uint32_t last_root = MODEL_NONE;

    if (!newi)
        return -1;
    if (t->cap < b->len || !t->nodes) {
        struct model_tree_node *nn = realloc(t->nodes, ((size_t)b->len + 1) * sizeof(*nn));
        if (!nn) {
            free(newi);
            return -1;
        }
        t->nodes = nn;
        t->cap = b->len + 1;
    }
    for (uint32_t i = 0; i < b->len; i++)
        newi[order[i]] = i;
    for (uint32_t i = 0; i < b->len; i++) {
        const struct tnode *x = &b->n[order[i]];
        t->nodes[i] = (struct model_tree_node){.key = x->key,
                                               .parent = x->parent == MODEL_NONE ? MODEL_NONE
                                                                                 : newi[x->parent],
                                               .first_child = MODEL_NONE,
                                               .next_sibling = MODEL_NONE,
                                               .depth = x->depth,
                                               .frame = x->frame,
                                               .own_bytes = x->own.live_bytes,
                                               .own_blocks = x->own.live_blocks,
                                               .incl_bytes = x->incl.live_bytes,
                                               .incl_blocks = x->incl.live_blocks,
                                               .allocations = x->incl.allocations,
                                               .bytes_allocated = x->incl.bytes_allocated};
    }
    /* links: walking backwards, each node becomes its parent's first child */
    for (uint32_t i = b->len; i > 0; i--) {
        struct model_tree_node *x = &t->nodes[i - 1];
        if (x->parent == MODEL_NONE) {
            x->next_sibling = last_root;
            last_root = i - 1;
        } else {
            x->next_sibling = t->nodes[x->parent].first_child;
            t->nodes[x->parent].first_child = i - 1;
        }
    }
    t->first_root = last_root;
    t->n = b->len;
    free(newi);
    return 0;
}

int model_tree_build(const struct model *m, uint32_t site, const struct model_query *q, int dir,
                     struct model_tree *t)
{
    struct tbuild b = {0};
    struct fig *st = calloc(m->n_nodes, sizeof(*st));
    uint32_t *order = NULL;
    int rc = -1;

    if (!st)
        return -1;
    stacks_at(m, site, q, st);
    if (tree_collect(m, site, dir, st, &b) == 0 && (order = tree_order(&b)) != NULL)
        rc = tree_emit(&b, order, t);
    free(st);
    free(order);
    free(b.n);
    hashtab_free(&b.hash);
    return rc;
}

void model_tree_free(struct model_tree *t)
{
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

uint32_t model_tree_find(const struct model_tree *t, uint64_t key)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->nodes[i].key == key)
            return i;
    return MODEL_NONE;
}
