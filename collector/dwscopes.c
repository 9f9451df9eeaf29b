/*
 * dwscopes.c - the scopes that hold an address (dwscopes.h).
 *
 * Invariant: an index lists, sorted by start, the code ranges of one DIE's
 * scope children (subprograms, inlined subroutines, lexical blocks, entry
 * points), no two overlapping, and the DIE has no namespace or module child;
 * a DIE without such an index is walked child by child. Either way the
 * child found is the first in order whose ranges hold pc: with no overlap
 * there is at most one. An index is built the second time a lookup descends
 * into a DIE (most are looked into once), and kept until dwscopes_forget().
 * In CPython's ceval.c, one function of thousands of inlined children, the
 * walks were most of the collector's symbolizing: dwarf_haspc() on every
 * child before the one that holds pc.
 */
#include "dwscopes.h"

#include <dwarf.h>
#include <stdint.h>
#include <stdlib.h>

#include "dwlib.h"

struct kid {
    Dwarf_Addr lo, hi;
    Dwarf_Die die;
};

/* A DIE looked into: its index (v, n), or none (v NULL: seen once, or it
 * cannot have one). */
struct node {
    const void *key; /* the DIE's address in the debug data; NULL: empty */
    struct kid *v;
    size_t n;
    int state; /* 1: seen once, 2: indexed (v may be NULL when it has no kids), 3: walk */
};

static struct node *map;
static size_t map_cap, map_n;

static size_t slot_of(const void *key, size_t cap)
{
    return (size_t)(((uintptr_t)key * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static struct node *node_get(const void *key)
{
    size_t i;

    if ((map_n + 1) * 2 > map_cap) {
        size_t cap = map_cap ? map_cap * 2 : 1024;
        struct node *m = calloc(cap, sizeof(*m));

        if (!m)
            return NULL;
        for (size_t k = 0; k < map_cap; k++) {
            if (!map[k].key)
                continue;
            for (i = slot_of(map[k].key, cap); m[i].key; i = (i + 1) & (cap - 1))
                ;
            m[i] = map[k];
        }
        free(map);
        map = m;
        map_cap = cap;
    }
    for (i = slot_of(key, map_cap); map[i].key; i = (i + 1) & (map_cap - 1))
        if (map[i].key == key)
            return &map[i];
    map[i] = (struct node){key, NULL, 0, 0};
    map_n++;
    return &map[i];
}

void dwscopes_forget(void)
{
    for (size_t k = 0; k < map_cap; k++)
        free(map[k].v);
    free(map);
    map = NULL;
    map_cap = map_n = 0;
}

static int is_scope(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_lexical_block || tag == DW_TAG_entry_point;
}

static int kid_cmp(const void *pa, const void *pb)
{
    const struct kid *a = pa, *b = pb;

    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Builds d's index into nd: state 2, or 3 when it cannot have one (a
 * namespace or module child, overlapping ranges, out of memory). */
static void build(Dwarf_Die *d, struct node *nd)
{
    Dwarf_Die child;
    size_t n = 0, cap = 0;
    struct kid *v = NULL;

    nd->state = 3;
    if (dwarf_child(d, &child) == 0) {
        do {
            int tag = dwarf_tag(&child);
            Dwarf_Addr base, lo, hi;
            ptrdiff_t off = 0;

            if (tag == DW_TAG_namespace || tag == DW_TAG_module)
                goto walk;
            if (!is_scope(tag))
                continue;
            while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
                if (lo >= hi)
                    continue; /* holds nothing, as dwarf_haspc() sees it */
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 16;
                    struct kid *p = realloc(v, nc * sizeof(*v));

                    if (!p)
                        goto walk;
                    v = p;
                    cap = nc;
                }
                v[n++] = (struct kid){lo, hi, child};
            }
            if (off < 0)
                goto walk; /* unreadable ranges: dwarf_haspc() decides */
        } while (dwarf_siblingof(&child, &child) == 0);
    }
    if (n)
        qsort(v, n, sizeof(*v), kid_cmp);
    for (size_t i = 1; i < n; i++)
        if (v[i].lo < v[i - 1].hi)
            goto walk;
    nd->v = v;
    nd->n = n;
    nd->state = 2;
    return;
walk:
    free(v);
}

/* The child of d that holds pc from its index; 0 when none does. */
static int find(const struct node *nd, Dwarf_Addr pc, Dwarf_Die *out)
{
    size_t lo = 0, hi = nd->n;

    while (lo < hi) { /* the first range starting after pc */
        size_t mid = (lo + hi) / 2;

        if (nd->v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= nd->v[lo - 1].hi)
        return 0;
    *out = nd->v[lo - 1].die;
    return 1;
}

int dwscopes_at(Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die *out, int max)
{
    Dwarf_Die die = *cu;
    int n = 0;

    while (n < max) {
        Dwarf_Die child;
        int found = 0;
        struct node *nd = node_get(die.addr);

        if (nd && nd->state == 1)
            build(&die, nd);
        else if (nd && nd->state == 0)
            nd->state = 1;
        if (nd && nd->state == 2) {
            if (!find(nd, pc, &child))
                break;
            out[n++] = child;
            die = child;
            continue;
        }
        if (dwarf_child(&die, &child) != 0)
            break;
        do {
            int tag = dwarf_tag(&child);

            if (is_scope(tag)) {
                found = dwarf_haspc(&child, pc) > 0;
            } else if (tag == DW_TAG_namespace || tag == DW_TAG_module) {
                int m = dwscopes_at(&child, pc, out + n, max - n);

                if (m > 0)
                    return n + m;
            }
        } while (!found && dwarf_siblingof(&child, &child) == 0);
        if (!found)
            break;
        out[n++] = child;
        die = child;
    }
    return n;
}
