/*
 * heapwalk.c - glibc's heap, walked read-only (heapwalk.h): the walk in two
 * passes over what heaparena.c and heapchunk.c find, a fault's restart, and
 * this process's table of mappings.
 *
 * Invariant: prepare() only reads, so a fault in it restarts the walk
 * without the range that faulted (16 times at most); once emit() has
 * yielded a block, a fault ends the walk instead (no block twice).
 */
#include "heapwalk.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heaparena.h"
#include "heapchunk.h"
#include "heapwalk_int.h"
#include "faultcatch.h"
#include "procmaps.h"

/* ---- the walk ---- */

/* Leaves out what does not add up: rc from heapchunk_walk_heap() or
 * heapchunk_fastbins(). */
static int left_out(struct hw *w, int rc)
{
    if (rc != HEAPWALK_ECORRUPT)
        return rc;
    w->st.partial++;
    return 0;
}

/* Everything before the blocks are yielded: arenas, heaps, what is free,
 * the tcaches. Reads only: a fault here restarts it without a range. */
static int prepare(struct hw *w)
{
    const struct heapwalk_map *brk = heaparena_brk_map(w);
    uint64_t top = 0, main;
    int rc;

    if ((rc = heaparena_thread_heaps(w)) != 0)
        return rc;
    main = heaparena_main_by_ring(w); /* one read an arena; else a walk of [heap] for its top */
    if (!main && brk)
        top = heaparena_brk_top(w, brk); /* 0 when the chunks do not add up */
    if (!main && (!brk || top))
        main = heaparena_main_by_top(w, top);
    if (!main) {
        w->why = "heapwalk: no glibc main arena found";
        return HEAPWALK_ENOHEAP;
    }
    if (w->n_arenas == HW_MAX_ARENAS)
        return fail(w, "heapwalk: more arenas than it can hold");
    w->arenas[w->n_arenas++] = main;
    if (rd(w, main + HW_MS_TOP, &top))
        top = 0;
    if (top && !(brk && top >= brk->lo && top < brk->hi)) {
        /* a non-contiguous main heap: its chunks go on in a region glibc
         * mapped; [heap] ends at the fenceposts of its old top */
        struct hw_heap r = {.arena = main, .top = top, .main = 1, .mapped = 1};
        if ((r.start = heaparena_main_region(w, top, &r.end)) != 0 &&
            (rc = heaparena_add_heap(w, &r)) != 0)
            return rc;
        if (!r.start)
            top = 0;
    }
    if (brk) {
        struct hw_heap mh = {
            .start = brk->lo, .end = brk->hi, .arena = main, .first = brk->lo, .main = 1};
        if (top >= brk->lo && top < brk->hi)
            mh.top = top;
        else if (!top) {
            mh.bad = 1;
            left_out(w, fail(w, "heapwalk: main_arena's top is not in [heap]"));
        }
        if ((rc = heaparena_add_heap(w, &mh)) != 0)
            return rc;
    }
    if ((rc = left_out(w, heaparena_check_ring(w, main))) != 0)
        return rc;
    for (size_t i = 0; i < w->n_arenas; i++) {
        uint64_t mutex;
        if (rd(w, w->arenas[i], &mutex) == 0 && (uint32_t)mutex != 0)
            w->st.locked++;
        if ((rc = heapchunk_fastbins(w, w->arenas[i])) == HEAPWALK_ECORRUPT)
            w->arena_bad[i] = 1;
        if ((rc = left_out(w, rc)) != 0)
            return rc;
    }
    for (size_t i = 0; i < w->n_heaps; i++) {
        struct hw_heap *h = &w->heaps[i];
        int k = heaparena_index(w, h->arena);
        if (k >= 0 && w->arena_bad[k])
            h->bad = 1;
    }
    w->st.tcache_how = w->tls ? HEAPWALK_TCACHE_TLS : HEAPWALK_TCACHE_SHAPE;
    if (w->tls && (rc = heapchunk_tls_tcaches(w)) < 0)
        return rc;
    for (size_t i = 0; i < w->n_heaps && !w->tls; i++) { /* the arenas' first chunks */
        uint64_t f = w->heaps[i].first;
        if (!w->heaps[i].bad && f &&
            (heapchunk_is(w, f, HW_TCACHE_CHUNK) || heapchunk_is(w, f, HW_TCACHE_CHUNK2)) &&
            (rc = heapchunk_tcache(w, f, HC_TC_FIRST)) < 0)
            return rc;
    }
    for (size_t i = 0; i < w->n_heaps; i++) {
        struct hw_heap *h = &w->heaps[i];
        if (h->bad)
            continue;
        if ((rc = heapchunk_walk_heap(w, h, 1, NULL, NULL)) == HEAPWALK_ECORRUPT)
            h->bad = 1;
        if ((rc = left_out(w, rc)) != 0)
            return rc;
    }
    for (size_t i = 0; i < w->cands.n; i++)
        if ((rc = heapchunk_tcache(w, w->cands.v[i], HC_TC_OTHER)) < 0)
            return rc;
    heapchunk_vec_sort(&w->excl);
    return 0;
}

/* Yields the blocks: the heaps as prepare() read them (the same outcome),
 * the mmapped chunks. */
static int emit(struct hw *w, heapwalk_block_fn *fn, void *arg)
{
    int rc;

    for (size_t i = 0; i < w->n_heaps; i++)
        if (!w->heaps[i].bad && (rc = heapchunk_walk_heap(w, &w->heaps[i], 2, fn, arg)) != 0)
            return rc;
    for (size_t i = 0; i < w->n_maps; i++)
        if (w->maps[i].kind == HEAPWALK_ANON)
            heapchunk_mmapped(w, &w->maps[i], fn, arg);
    w->st.arenas = w->n_arenas;
    w->st.heaps = 0;
    for (size_t i = 0; i < w->n_heaps; i++)
        w->st.heaps += !w->heaps[i].main;
    return 0;
}

static struct hw *volatile catching; /* the walk a fault goes back to */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    catching->fault_addr = (uint64_t)(uintptr_t)si->si_addr;
    siglongjmp(*catching->jb, 1);
}

/* The range holding the fault reads as empty from now on. 0 when none does. */
static int drop_range(struct hw *w)
{
    for (int k = 0; k < 2; k++) {
        uint64_t a = k == 0 ? w->fault_addr : w->reading;
        for (size_t i = 0; i < w->n_maps; i++) {
            struct heapwalk_map *m = &w->own_maps[i];
            if (a >= m->lo && a < m->hi) {
                m->hi = m->lo;
                w->last = 0;
                return 1;
            }
        }
    }
    return 0;
}

static void reset(struct hw *w)
{
    w->n_heaps = 0;
    w->n_arenas = 0;
    memset(w->arena_bad, 0, sizeof(w->arena_bad));
    w->excl.n = 0;
    w->cands.n = 0;
    w->key = 0;
    memset(&w->st, 0, sizeof(w->st));
    w->why = NULL;
}

static int walk(struct hw *w, heapwalk_block_fn *fn, void *arg)
{
    sigjmp_buf jb;
    volatile int attempts = 0;

    if (w->own_maps) {
        w->jb = &jb;
        catching = w;
        if (sigsetjmp(jb, 1)) {
            if (++attempts > 16 || !drop_range(w))
                return fail(w, "heapwalk: a read faulted");
            reset(w);
            w->st.faults = (uint64_t)attempts;
        }
    }
    {
        int rc = prepare(w);
        if (rc)
            return rc;
    }
    if (w->own_maps && sigsetjmp(jb, 1)) /* the blocks are on their way: no restart */
        return fail(w, "heapwalk: a read faulted");
    return emit(w, fn, arg);
}

static int image(const struct heapwalk_map *maps, size_t n, struct heapwalk_map *own_maps,
                 const uint64_t *skip, size_t n_skip, const struct heapwalk_tls *tls,
                 heapwalk_block_fn *fn, void *arg, struct heapwalk_stats *st, const char **why)
{
    struct hw *w =
        mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int rc;

    if (w == MAP_FAILED) {
        *why = heapwalk_strerror(HEAPWALK_ENOMEM);
        return HEAPWALK_ENOMEM;
    }
    memset(w, 0, sizeof(*w));
    w->maps = maps;
    w->n_maps = n;
    w->skip = skip;
    w->n_skip = n_skip;
    w->own_maps = own_maps;
    w->tls = tls;
    for (size_t i = 1; i < n; i++)
        if (maps[i].lo < maps[i - 1].hi || maps[i].hi < maps[i].lo) {
            munmap(w, sizeof(*w));
            *why = "heapwalk: the ranges are not sorted";
            return HEAPWALK_ECORRUPT;
        }
    rc = walk(w, fn, arg);
    if ((rc || w->st.partial) && why)
        *why = w->why ? w->why : heapwalk_strerror(rc);
    if (st)
        *st = w->st;
    heapchunk_vec_free(&w->excl);
    heapchunk_vec_free(&w->cands);
    if (w->heaps)
        munmap(w->heaps, w->cap_heaps * sizeof(*w->heaps));
    munmap(w, sizeof(*w));
    return rc;
}

int heapwalk_image(const struct heapwalk_map *maps, size_t n, const struct heapwalk_tls *tls,
                   heapwalk_block_fn *fn, void *arg, struct heapwalk_stats *st, const char **why)
{
    return image(maps, n, NULL, NULL, 0, tls, fn, arg, st, why);
}

/* ---- this process ---- */

#define HW_MAX_MAPS 65536u

static uint64_t hex(const char **s)
{
    uint64_t v = 0;

    for (;; (*s)++) {
        char c = **s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uint64_t)d;
    }
}

/* One line of /proc/self/maps as a range (0) or not one we read (-1). */
static int map_line(const char *s, const char *end, struct heapwalk_map *m,
                    const struct heapwalk_map *prev)
{
    const char *path, *base, *o;
    uint64_t offset;
    int field = 0;

    m->lo = hex(&s);
    if (*s++ != '-')
        return -1;
    m->hi = hex(&s);
    if (end - s < 5 || s[1] != 'r' || s[2] != 'w' || s[4] != 'p')
        return -1;
    o = s + 6; /* " rw-p OFFSET" */
    offset = o < end ? hex(&o) : 0;
    for (path = s; path < end && field < 5; path++) /* perms offset dev inode path */
        if (*path == ' ' && path[1] != ' ')
            field++;
    while (path < end && *path == ' ')
        path++;
    m->bytes = (const unsigned char *)(uintptr_t)m->lo;
    m->resident = 1;
    if (path == end) { /* anonymous: libc's bss when right after its data */
        m->kind = prev && prev->kind == HEAPWALK_LIBC && prev->hi == m->lo ? HEAPWALK_LIBC
                                                                           : HEAPWALK_ANON;
        return 0;
    }
    if (end - path == 6 && memcmp(path, "[heap]", 6) == 0) {
        m->kind = HEAPWALK_BRK;
        return 0;
    }
    if (*path == '[')
        return -1; /* [stack], [vvar]... */
    for (base = end; base > path && base[-1] != '/'; base--)
        ;
    if ((end - base >= 7 && memcmp(base, "libc.so", 7) == 0) ||
        (end - base >= 5 && memcmp(base, "libc-", 5) == 0)) {
        /* libc's data segment lies past its first page; a writable private
         * map of the file from its start is a reader's copy (elfutils maps
         * so): not libc's data, and the anonymous map after it (a thread
         * heap, at times) not its bss */
        if (offset == 0)
            return -1;
        m->kind = HEAPWALK_LIBC;
        return 0;
    }
    if (end - base >= 3 && memcmp(base, "ld-", 3) == 0) {
        m->kind = HEAPWALK_OTHER; /* the loader's data: its lists of threads */
        return 0;
    }
    return -1; /* a file's data: never a heap */
}

/* heapwalk_self()'s table of mappings, a line of /proc/self/maps at a time. */
struct maps_acc {
    struct heapwalk_map *maps;
    size_t n;
    struct heapwalk_map last;
    int any;
};

static void maps_add(char *text, size_t len, void *arg)
{
    struct maps_acc *a = arg;
    struct heapwalk_map line;

    if (map_line(text, text + len, &line, a->any ? &a->last : NULL) == 0) {
        if (a->n < HW_MAX_MAPS)
            a->maps[a->n++] = line;
        a->last = line;
        a->any = 1;
    } else {
        a->last.kind = HEAPWALK_OTHER;
    }
}

int heapwalk_self(const uint64_t *skip, size_t n_skip, const struct heapwalk_tls *tls,
                  heapwalk_block_fn *fn, void *arg, struct heapwalk_stats *st, const char **why)
{
    enum { BUF = 1 << 16 };
    size_t maps_bytes = HW_MAX_MAPS * sizeof(struct heapwalk_map), n;
    struct heapwalk_map *maps;
    char *buf;
    int rc;

    maps = mmap(NULL, maps_bytes + BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (maps == MAP_FAILED) {
        *why = heapwalk_strerror(HEAPWALK_ENOMEM);
        return HEAPWALK_ENOMEM;
    }
    buf = (char *)maps + maps_bytes;
    {
        struct maps_acc acc = {maps, 0, {0}, 0};

        procmaps_each(buf, BUF, maps_add, &acc);
        n = acc.n;
    }
    if (n == 0) {
        munmap(maps, maps_bytes + BUF);
        *why = "heapwalk: /proc/self/maps is unreadable";
        return HEAPWALK_ENOHEAP;
    }
    {
        /* reads of a range that faults after all come back to the walk */
        struct faultcatch fc;

        faultcatch_begin(&fc, on_fault);
        rc = image(maps, n, maps, skip, n_skip, tls, fn, arg, st, why);
        faultcatch_end(&fc);
        catching = NULL;
    }
    munmap(maps, maps_bytes + BUF);
    return rc;
}

const char *heapwalk_strerror(int code)
{
    switch (code) {
    case 0:
        return "ok";
    case HEAPWALK_ENOHEAP:
        return "heapwalk: no glibc heap found";
    case HEAPWALK_ECORRUPT:
        return "heapwalk: the heap does not add up";
    case HEAPWALK_ENOMEM:
        return "heapwalk: out of memory";
    }
    return "heapwalk: unknown error";
}
