/*
 * model_objects.c - the live objects of a site, from the model's live set
 * (the latest state) or another live set of the same stream (a rewind's),
 * and the live figures that only the live set knows (since a time, by
 * thread or tag).
 *
 * Invariant: an object is filed under a site exactly as its ALLOC's figures
 * were (an undefined stack as stack 0), so a site's objects add up to its
 * live bytes and blocks whenever events rule.
 */
#include "model_int.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

static int obj_cmp(const void *pa, const void *pb)
{
    const struct model_object *a = pa, *b = pb;

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int model_objects_in(const struct model *m, const struct liveset *ls, uint32_t site, int64_t time,
                     uint32_t max, struct model_object **out, uint64_t *total)
{
    struct model_object *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    *total = 0;
    for (uint64_t i = 0; i < ls->cap; i++) {
        const struct liveset_block *e = &ls->slots[i];
        uint32_t stack = e->stack;

        if (!e->seq || e->time > time)
            continue;
        if (stack >= m->n_nodes || !m->nodes[stack].defined)
            stack = 0; /* as the events file it (model_events.c) */
        if (site != MODEL_NONE && m->nodes[stack].site != site)
            continue;
        if (model_grow((void **)&v, &cap, n + 1, sizeof(*v))) {
            free(v);
            return -1;
        }
        v[n++] = (struct model_object){.seq = e->seq & WIRE_SEQ_MASK,
                                       .size = e->size,
                                       .stack = stack,
                                       .thread = e->thread,
                                       .tag = e->tag,
                                       .time = e->time};
    }
    if (n)
        qsort(v, n, sizeof(*v), obj_cmp);
    *total = n;
    if (n > max)
        n = max;
    *out = v;
    return (int)n;
}

int model_objects(const struct model *m, uint32_t site, int64_t time, uint32_t max,
                  struct model_object **out, uint64_t *total)
{
    return model_objects_in(m, &m->ls, site, time, max, out, total);
}

int model_live_since(const struct model *m, int64_t t0, uint64_t *bytes, uint64_t *blocks)
{
    memset(bytes, 0, (size_t)m->n_sites * sizeof(*bytes));
    memset(blocks, 0, (size_t)m->n_sites * sizeof(*blocks));
    for (uint64_t i = 0; i < m->ls.cap; i++) {
        const struct liveset_block *e = &m->ls.slots[i];
        uint32_t s;

        if (!e->seq || e->time < t0)
            continue;
        s = m->nodes[e->stack].site;
        if (s == MODEL_NONE)
            continue;
        bytes[s] += e->size;
        blocks[s]++;
    }
    return 0;
}

void model_group_live(const struct model *m, int group_by_thread, uint64_t *bytes, uint64_t *blocks)
{
    uint32_t lim = group_by_thread ? m->threads_cap : m->tags_cap;

    memset(bytes, 0, (size_t)lim * sizeof(*bytes));
    memset(blocks, 0, (size_t)lim * sizeof(*blocks));
    for (uint64_t i = 0; i < m->ls.cap; i++) {
        const struct liveset_block *e = &m->ls.slots[i];
        uint32_t k;

        if (!e->seq)
            continue;
        k = group_by_thread ? e->thread : e->tag;
        if (k >= lim)
            continue;
        bytes[k] += e->size;
        blocks[k]++;
    }
}
