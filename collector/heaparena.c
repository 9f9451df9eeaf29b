/*
 * heaparena.c - glibc's arenas and their heaps, found in a snapshot
 * (heaparena.h).
 *
 * main_arena is a static of libc, in no symbol table a stripped libc keeps.
 * It is found first as the member of a thread arena's `next` ring that lies
 * in libc's writable data: one read an arena, and the ring's links never
 * change once made, so a snapshot taken while threads run cannot tear them
 * (under heapline there is always one thread arena, the collector
 * thread's). A program with no thread arena (MALLOC_ARENA_MAX=1, or one
 * thread) has no ring: then main_arena is the word in libc's data (or its
 * bss) that equals the top chunk of the [heap] mapping, 0x60 bytes into a
 * candidate whose unsorted bin and ring links check out (or, in a program
 * that never grew [heap], the word that points 0x60 bytes past itself: the
 * initial top). The ring is then walked as a cross-check: its members must
 * be exactly the arenas the heap mappings name.
 *
 * Invariant: an arena enters w->arenas once, and a thread heap enters
 * w->heaps only when its heap_info checks out (an arena it names, a size
 * inside its mapping); nothing here yields a block.
 */
#include "heaparena.h"

#include <string.h>
#include <sys/mman.h>

int heaparena_add_heap(struct hw *w, const struct hw_heap *h)
{
    if (w->n_heaps == w->cap_heaps) {
        size_t cap = w->cap_heaps ? w->cap_heaps * 2 : 256;
        struct hw_heap *n = mmap(NULL, cap * sizeof(*n), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (n == MAP_FAILED)
            return HEAPWALK_ENOMEM;
        if (w->heaps) {
            memcpy(n, w->heaps, w->n_heaps * sizeof(*n));
            munmap(w->heaps, w->cap_heaps * sizeof(*n));
        }
        w->heaps = n;
        w->cap_heaps = cap;
    }
    w->heaps[w->n_heaps++] = *h;
    return 0;
}

static int is_arena(const struct hw *w, uint64_t a)
{
    for (size_t i = 0; i < w->n_arenas; i++)
        if (w->arenas[i] == a)
            return 1;
    return 0;
}

/* The main heap's top chunk: the chunk that reaches the end of [heap] (or is
 * followed by nothing). 0 when the chunks do not add up. */
uint64_t heaparena_brk_top(struct hw *w, const struct heapwalk_map *m)
{
    uint64_t c = m->lo, s;

    while (c + 16 <= m->hi) {
        if (rd(w, c + 8, &s))
            return 0;
        s &= ~(uint64_t)7;
        if (s < 16 || (s & 15) || s > m->hi - c)
            return 0;
        if (c + s == m->hi || c + s + 16 > m->hi)
            return c;
        {
            uint64_t ns;
            if (rd(w, c + s + 8, &ns))
                return 0;
            if (ns == 0)
                return c; /* the brk end is not page-aligned: nothing after top */
        }
        c += s;
    }
    return 0;
}

/* Whether the arena at a has an unsorted bin whose links are its own
 * header or chunks, and a next link. */
static int arena_links(struct hw *w, uint64_t a)
{
    uint64_t fd, bk, next;
    const uint64_t bin1 = a + HW_MS_TOP;

    if (rd(w, a + HW_MS_BINS, &fd) || rd(w, a + HW_MS_BINS + 8, &bk) ||
        rd(w, a + HW_MS_NEXT, &next) || !fd || !bk || !next || (next & 7))
        return 0;
    return (fd == bin1 || (!(fd & 15) && readable(w, fd, 32))) &&
           (bk == bin1 || (!(bk & 15) && readable(w, bk, 32)));
}

/* Whether a malloc_state at a has top and sane links. */
static int arena_checks(struct hw *w, uint64_t a, uint64_t top)
{
    uint64_t t;

    return readable(w, a, HW_MSTATE) && rd(w, a + HW_MS_TOP, &t) == 0 && t == top &&
           arena_links(w, a);
}

/* main_arena, found in libc's data by the word that equals top (see the top
 * of the file). 0 when not found. */
uint64_t heaparena_main_by_top(struct hw *w, uint64_t top)
{
    uint64_t found = 0;

    for (size_t i = 0; i < w->n_maps; i++) {
        const struct heapwalk_map *m = &w->maps[i];
        if (m->kind != HEAPWALK_LIBC)
            continue;
        for (uint64_t a = (m->lo + 7) & ~(uint64_t)7; a + 8 <= m->hi; a += 8) {
            uint64_t v, cand;
            v = load64(m->bytes + (a - m->lo));
            if (top ? v != top : v != a)
                continue;
            cand = a - HW_MS_TOP;
            if (a < m->lo + HW_MS_TOP || !arena_checks(w, cand, v))
                continue;
            if (found && found != cand)
                return 0; /* two candidates: trust neither */
            found = cand;
        }
    }
    return found;
}

/* main_arena as the member of a thread arena's ring that lies in libc's
 * data (the ring's links never change once made). 0 when there is none or
 * two rings disagree. */
uint64_t heaparena_main_by_ring(struct hw *w)
{
    uint64_t found = 0;

    for (size_t i = 0; i < w->n_arenas; i++) {
        uint64_t x = w->arenas[i];
        for (size_t k = 0; k <= w->n_arenas + 1; k++) {
            const struct heapwalk_map *m;
            if (rd(w, x + HW_MS_NEXT, &x) || x == w->arenas[i])
                break;
            m = find_map(w, x);
            if (m && m->kind == HEAPWALK_LIBC && m->hi - x >= HW_MSTATE && arena_links(w, x)) {
                if (found && found != x)
                    return 0;
                found = x;
                break;
            }
        }
    }
    return found;
}

/* A thread heap at h (HEAP_MAX_SIZE-aligned): its heap_info checks out. */
static int thread_heap(struct hw *w, uint64_t h, struct hw_heap *out)
{
    uint64_t ar, prev, size, mp, top;

    if (rd(w, h, &ar) || rd(w, h + 8, &prev) || rd(w, h + 16, &size) || rd(w, h + 24, &mp))
        return 0;
    if (size < HW_HEAP_INFO + HW_MINSIZE || size > HW_HEAP_MAX || !readable(w, h, size) ||
        (prev & (HW_HEAP_MAX - 1)) || (ar & 7) || !readable(w, ar, HW_MSTATE) ||
        rd(w, ar + HW_MS_TOP, &top))
        return 0;
    if ((prev == 0) != (ar == h + HW_HEAP_INFO))
        return 0; /* the first heap of an arena holds the arena */
    memset(out, 0, sizeof(*out));
    out->base = h;
    out->arena = ar;
    out->end = h + size;
    if (prev == 0) { /* the first chunk after the malloc_state, aligned */
        out->start = h + HW_HEAP_INFO + HW_MSTATE;
        out->start = ((out->start + 16 + 15) & ~(uint64_t)15) - 16;
        out->first = out->start;
    } else {
        out->start = h + HW_HEAP_INFO;
    }
    if (top >= out->start && top < out->end)
        out->top = top;
    return 1;
}

int heaparena_thread_heaps(struct hw *w)
{
    for (size_t i = 0; i < w->n_maps; i++) {
        const struct heapwalk_map *m = &w->maps[i];
        uint64_t h = (m->lo + HW_HEAP_MAX - 1) & ~(uint64_t)(HW_HEAP_MAX - 1);
        if (m->kind != HEAPWALK_ANON)
            continue;
        for (; h >= m->lo && h + HW_HEAP_INFO <= m->hi; h += HW_HEAP_MAX) {
            struct hw_heap th;
            int rc;
            if (!thread_heap(w, h, &th))
                continue;
            if ((rc = heaparena_add_heap(w, &th)) != 0)
                return rc;
            if (!is_arena(w, th.arena)) {
                if (w->n_arenas == HW_MAX_ARENAS)
                    return fail(w, "heapwalk: more arenas than it can hold");
                w->arenas[w->n_arenas++] = th.arena;
            }
        }
    }
    return 0;
}

/* The ring of arenas from main must be main and exactly the thread arenas. */
int heaparena_check_ring(struct hw *w, uint64_t main)
{
    uint64_t a = main;
    size_t n = 0;

    for (;;) {
        uint64_t next;
        if (rd(w, a + HW_MS_NEXT, &next))
            return fail(w, "heapwalk: an arena's next link is unreadable");
        a = next;
        if (a == main)
            break;
        if (!is_arena(w, a) || ++n > w->n_arenas)
            return fail(w, "heapwalk: the ring of arenas does not match the heap mappings");
    }
    if (n + 1 != w->n_arenas)
        return fail(w, "heapwalk: an arena's heaps are missing from the mappings");
    return 0;
}

int heaparena_index(const struct hw *w, uint64_t a)
{
    for (size_t i = 0; i < w->n_arenas; i++)
        if (w->arenas[i] == a)
            return (int)i;
    return -1;
}

const struct heapwalk_map *heaparena_brk_map(const struct hw *w)
{
    for (size_t i = 0; i < w->n_maps; i++)
        if (w->maps[i].kind == HEAPWALK_BRK && w->maps[i].hi > w->maps[i].lo)
            return &w->maps[i];
    return NULL;
}

uint64_t heaparena_main_region(struct hw *w, uint64_t top, uint64_t *end)
{
    const struct heapwalk_map *m = find_map(w, top);
    uint64_t tsize;

    if (!m || m->kind != HEAPWALK_ANON || rd(w, top + 8, &tsize))
        return 0;
    tsize &= ~(uint64_t)7;
    /* glibc maps the region page-aligned and starts its chunks there; the
     * mapping may have merged with memory mapped before it */
    for (uint64_t p = (m->lo + HW_PAGE - 1) & ~(uint64_t)(HW_PAGE - 1); p < top; p += HW_PAGE) {
        uint64_t c = p, s;
        if (rd(w, c + 8, &s) || !(s & PREV_INUSE))
            continue;
        while (c < top) {
            uint64_t sz;
            if (rd(w, c + 8, &s))
                break;
            sz = s & ~(uint64_t)7;
            if ((s & (IS_MMAPPED | NON_MAIN_ARENA)) || sz < 16 || (sz & 15) || sz > top - c)
                break;
            c += sz;
        }
        if (c == top) {
            *end = tsize <= m->hi - top ? top + tsize : m->hi;
            return p;
        }
    }
    return 0;
}
