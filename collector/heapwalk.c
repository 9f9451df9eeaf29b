/*
 * heapwalk.c - glibc's heap, walked read-only (heapwalk.h).
 *
 * Invariant: every byte read goes through rd(), which finds the range in the
 * caller's table first; a chunk that leaves its heap, a list that does not
 * end, an arena that does not check out ends the walk with a reason.
 *
 * The layouts are glibc 2.26 to 2.36 on x86-64 (malloc.c, arena.c):
 * struct malloc_state is 0x898 bytes (mutex, flags, have_fastchunks,
 * fastbinsY[10] at 0x10, top at 0x60, last_remainder, bins[254] at 0x70,
 * binmap, next at 0x870, next_free, attached_threads, system_mem at 0x888);
 * heap_info is 0x30 bytes (ar_ptr, prev, size, mprotect_size, pagesize);
 * a tcache_perthread_struct is a 0x290 chunk (uint16 counts[64], then
 * entries[64] pointing at the user memory of the cached chunks); fastbin and
 * tcache next pointers are safe-linked since 2.32: stored as (where >> 12) ^
 * next.
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
 * Tcaches: the first chunk of an arena is the tcache of the thread that
 * made it (tcache_init() allocates it on the thread's first malloc, before
 * anything else, from the arena just made). A 0x290 chunk elsewhere (a
 * thread that took over an arena) counts as a tcache when its counts and
 * lists agree and at least one list holds a chunk whose key is the
 * process's tcache_key: an empty tcache there cannot be told from a block
 * of zeros and is reported as a block.
 */
#include "heapwalk.h"
#include "procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HW_HEAP_MAX (64u << 20) /* HEAP_MAX_SIZE: 2 * 4 MiB * sizeof(long) */
#define HW_MSTATE 0x898u        /* sizeof(struct malloc_state) */
#define HW_MS_FASTBINS 0x10u    /* fastbinsY[0] */
#define HW_NFASTBINS 10u
#define HW_MS_TOP 0x60u
#define HW_MS_BINS 0x70u /* bins[0], bins[1]: the unsorted bin's fd, bk */
#define HW_MS_NEXT 0x870u
#define HW_HEAP_INFO 0x30u     /* sizeof(heap_info) */
#define HW_TCACHE_CHUNK 0x290u /* the chunk of a tcache_perthread_struct */
#define HW_TCACHE_BINS 64u
#define HW_MINSIZE 32u
#define HW_PAGE 4096u
#define HW_MAX_ARENAS 4096u

#define PREV_INUSE 1u
#define IS_MMAPPED 2u
#define NON_MAIN_ARENA 4u

struct hw_vec { /* a growable array of words in mmap'd memory */
    uint64_t *v;
    size_t n, cap;
};

struct hw_heap {
    uint64_t start, end; /* chunks in [start, end) */
    int bad;             /* left out: it did not add up */
    uint64_t top;        /* the arena's top chunk when it is in this heap, else 0 */
    uint64_t arena;
    uint64_t first; /* the arena's first chunk (its tcache) when this is its first heap */
    uint64_t base;  /* a thread heap's HEAP_MAX_SIZE-aligned start; 0 for [heap] */
    int main;
};

struct hw {
    const struct heapwalk_map *maps;
    size_t n_maps, last;
    struct hw_heap *heaps;
    size_t n_heaps, cap_heaps;
    uint64_t arenas[HW_MAX_ARENAS];
    unsigned char arena_bad[HW_MAX_ARENAS]; /* its fastbins did not add up */
    size_t n_arenas;
    struct hw_vec excl;   /* chunks never yielded: fastbin, tcache entries, tcaches */
    struct hw_vec cands;  /* in-use 0x290 chunks: tcaches maybe */
    uint64_t key;         /* tcache_key, once seen */
    const uint64_t *skip; /* lo, hi pairs sorted by lo: never mmapped chunks */
    size_t n_skip;
    /* this process (heapwalk_self): a read of a range that faults after all
     * (a guard region inside a mapping, userfaultfd, ASan's shadow) lands
     * here; the range is dropped and the walk starts again */
    struct heapwalk_map *own_maps; /* writable: NULL for an image */
    sigjmp_buf *jb;
    volatile uint64_t fault_addr;
    volatile uint64_t reading; /* an address of the range being read (when the fault
                                  is elsewhere: a sanitizer's check of its shadow) */
    uint64_t vec_lo;           /* mmapped(): the page mincore's vector starts at */
    struct heapwalk_stats st;
    const char *why;
};

/* ---- reading through the table ---- */

/* One word of the walked memory. Never instrumented: a sanitizer would
 * take the walk's reads of memory the program does not own for bugs (and
 * its check of its own shadow for one of ours). */
__attribute__((no_sanitize("address"))) static uint64_t load64(const unsigned char *p)
{
    uint64_t v;

    __builtin_memcpy(&v, p, 8);
    return v;
}

static const struct heapwalk_map *find_map(struct hw *w, uint64_t addr)
{
    size_t lo = 0, hi = w->n_maps;

    if (w->last < w->n_maps && addr >= w->maps[w->last].lo && addr < w->maps[w->last].hi)
        return &w->maps[w->last];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->maps[mid].hi <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < w->n_maps && addr >= w->maps[lo].lo) {
        w->last = lo;
        return &w->maps[lo];
    }
    return NULL;
}

/* 0 with the word at addr (8-aligned) in *out, -1 when it is not readable. */
static int rd(struct hw *w, uint64_t addr, uint64_t *out)
{
    const struct heapwalk_map *m;

    if (addr & 7)
        return -1;
    w->reading = addr;
    m = find_map(w, addr);
    if (!m || m->hi - addr < 8)
        return -1;
    *out = load64(m->bytes + (addr - m->lo));
    return 0;
}

/* Whether [addr, addr + n) lies in one range of the table. */
static int readable(struct hw *w, uint64_t addr, uint64_t n)
{
    const struct heapwalk_map *m = find_map(w, addr);

    return m && m->hi - addr >= n;
}

static int fail(struct hw *w, const char *why)
{
    if (!w->why)
        w->why = why;
    return HEAPWALK_ECORRUPT;
}

/* ---- scratch ---- */

static int vec_push(struct hw_vec *v, uint64_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4096;
        uint64_t *n =
            mmap(NULL, cap * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (n == MAP_FAILED)
            return HEAPWALK_ENOMEM;
        if (v->v) {
            memcpy(n, v->v, v->n * 8);
            munmap(v->v, v->cap * 8);
        }
        v->v = n;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

static void vec_free(struct hw_vec *v)
{
    if (v->v)
        munmap(v->v, v->cap * 8);
    memset(v, 0, sizeof(*v));
}

static void sift(uint64_t *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        uint64_t t;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[i] >= a[c])
            return;
        t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

static void vec_sort(struct hw_vec *v) /* heapsort: no recursion, no allocation */
{
    uint64_t *a = v->v;

    for (size_t i = v->n / 2; i-- > 0;)
        sift(a, i, v->n);
    for (size_t n = v->n; n > 1; n--) {
        uint64_t t = a[0];
        a[0] = a[n - 1];
        a[n - 1] = t;
        sift(a, 0, n - 1);
    }
}

static int vec_has(const struct hw_vec *v, uint64_t x)
{
    size_t lo = 0, hi = v->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n && v->v[lo] == x;
}

static int add_heap(struct hw *w, const struct hw_heap *h)
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

/* ---- arenas ---- */

static int is_arena(const struct hw *w, uint64_t a)
{
    for (size_t i = 0; i < w->n_arenas; i++)
        if (w->arenas[i] == a)
            return 1;
    return 0;
}

/* The main heap's top chunk: the chunk that reaches the end of [heap] (or is
 * followed by nothing). 0 when the chunks do not add up. */
static uint64_t brk_top(struct hw *w, const struct heapwalk_map *m)
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
static uint64_t find_main_arena(struct hw *w, uint64_t top)
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
static uint64_t main_by_ring(struct hw *w)
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

static int find_thread_heaps(struct hw *w)
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
            if ((rc = add_heap(w, &th)) != 0)
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
static int check_ring(struct hw *w, uint64_t main)
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

/* ---- free lists ---- */

/* Chunk c lies in a heap of the table, 16-aligned, with size csize. */
static int chunk_is(struct hw *w, uint64_t c, uint64_t csize)
{
    uint64_t s;

    return (c & 15) == 0 && rd(w, c + 8, &s) == 0 && (s & ~(uint64_t)7) == csize;
}

static int fastbins(struct hw *w, uint64_t arena)
{
    for (unsigned i = 0; i < HW_NFASTBINS; i++) {
        uint64_t c, csize = 32 + 16 * (uint64_t)i, n = 0;
        if (rd(w, arena + HW_MS_FASTBINS + 8 * i, &c))
            return fail(w, "heapwalk: a fastbin is unreadable");
        while (c) {
            uint64_t fd;
            int rc;
            if (!chunk_is(w, c, csize) || rd(w, c + 16, &fd) || ++n > (1u << 26))
                return fail(w, "heapwalk: a fastbin list does not add up");
            if ((rc = vec_push(&w->excl, c)) != 0)
                return rc;
            w->st.fastbin++;
            c = ((c + 16) >> 12) ^ fd;
        }
    }
    return 0;
}

/* The tcache_perthread_struct in the chunk at c: 1 when it is one (its
 * entries and itself are then in excl), 0 when not (excl unchanged), or a
 * negative code. */
static int tcache(struct hw *w, uint64_t c, int first)
{
    uint64_t mem = c + 16, counts[HW_TCACHE_BINS / 4], key = w->key;
    size_t mark = w->excl.n, used = 0;
    int rc;

    for (unsigned k = 0; k < HW_TCACHE_BINS / 4; k++)
        if (rd(w, mem + 8 * k, &counts[k]))
            return 0;
    for (unsigned i = 0; i < HW_TCACHE_BINS; i++) {
        uint64_t cnt = (counts[i / 4] >> (16 * (i % 4))) & 0xffff, e;
        if (rd(w, mem + 0x80 + 8 * i, &e))
            goto not_one;
        if ((cnt == 0) != (e == 0))
            goto not_one;
        for (uint64_t k = 0; k < cnt; k++) {
            uint64_t next, ekey;
            if (!e || !chunk_is(w, e - 16, 32 + 16 * (uint64_t)i) || rd(w, e, &next) ||
                rd(w, e + 8, &ekey))
                goto not_one;
            if (!key)
                key = ekey;
            if (ekey != key)
                goto not_one;
            if ((rc = vec_push(&w->excl, e - 16)) != 0)
                return rc;
            e = (e >> 12) ^ next;
        }
        if (e)
            goto not_one;
        used += cnt;
    }
    if (!first && used == 0)
        goto not_one;
    if ((rc = vec_push(&w->excl, c)) != 0)
        return rc;
    w->key = key;
    w->st.tcache += used;
    w->st.tcaches++;
    return 1;
not_one:
    w->excl.n = mark;
    return 0;
}

/* ---- the chunks ---- */

/* Walks one heap. pass 1 notes the in-use 0x290 chunks (cands); pass 2
 * yields the in-use chunks not in excl. */
static int walk_heap(struct hw *w, const struct hw_heap *h, int pass, heapwalk_block_fn *fn,
                     void *arg)
{
    /* the heap lies in one range (thread_heap() and the [heap] map say so):
     * its headers are read from it directly, each once (a chunk's size word
     * is the next one's when it is read for the in-use bit) */
    const struct heapwalk_map *m = find_map(w, h->start);
    uint64_t c = h->start, s = 0;

    if (!m || m->hi < h->end)
        return fail(w, "heapwalk: a chunk header is unreadable");
    w->reading = h->start;
    if (c + 16 <= h->end)
        s = load64(m->bytes + (c + 8 - m->lo));
    while (c + 16 <= h->end && c != h->top) {
        uint64_t sz, ns;
        int rc;
        if (h->top && c > h->top)
            break; /* past it */
        sz = s & ~(uint64_t)7;
        if (sz == 0 && !h->top)
            return 0;   /* the end of a heap that is not the top one */
        if (sz == 16) { /* a fencepost */
            c += 16;
            if (c + 16 <= h->end)
                s = load64(m->bytes + (c + 8 - m->lo));
            continue;
        }
        if (h->top && h->top > c && h->top - c < sz && sz == h->end - c) {
            c = h->top; /* the old top: split after fork() copied this page */
            break;
        }
        if (sz < HW_MINSIZE || (sz & 15) || sz > h->end - c || (s & IS_MMAPPED))
            return fail(w, "heapwalk: a chunk's size leaves its heap");
        if (c + sz + 16 > m->hi || ((c + sz) & 7))
            return fail(w, "heapwalk: a chunk is not followed by another");
        ns = load64(m->bytes + (c + sz + 8 - m->lo));
        if (!(ns & PREV_INUSE)) {
            if (pass == 2)
                w->st.free_chunks++;
        } else if (!!(s & NON_MAIN_ARENA) != !h->main) {
            return fail(w, "heapwalk: a chunk in use names the wrong arena");
        } else if (pass == 1) {
            if (sz == HW_TCACHE_CHUNK && c != h->first && (rc = vec_push(&w->cands, c)) != 0)
                return rc;
        } else if (!vec_has(&w->excl, c)) {
            w->st.in_use++;
            w->st.in_use_bytes += sz - 8;
            fn(arg, c + 16, sz - 8);
        }
        c += sz;
        s = ns;
    }
    if (h->top && c != h->top)
        return fail(w, "heapwalk: the chunks do not end at the top chunk");
    return 0;
}

/* The page at p is resident (or not known to be otherwise). */
static int resident(const struct heapwalk_map *m, uint64_t p, unsigned char *vec, uint64_t *vec_lo)
{
    enum { SPAN = 1024 };

    if (!m->resident)
        return 1;
    if (*vec_lo == 0 || p < *vec_lo || p >= *vec_lo + (uint64_t)SPAN * HW_PAGE) {
        uint64_t n = (m->hi - p) / HW_PAGE;
        if (n > SPAN)
            n = SPAN;
        if (mincore((void *)(uintptr_t)p, n * HW_PAGE, vec) != 0)
            return 1;
        memset(vec + n, 0, SPAN - n);
        *vec_lo = p;
    }
    return vec[(p - *vec_lo) / HW_PAGE] & 1;
}

/* A memalign'd mmapped chunk inside the one at c of size s (its header at
 * c + prev_size): the offset, or 0. */
static uint64_t mmap_inner(struct hw *w, uint64_t c, uint64_t s)
{
    for (uint64_t a = 32; a <= s && a <= (1u << 24); a <<= 1) {
        uint64_t mem = c + 16, off, p, sz;
        if ((mem & (a - 1)) == 0)
            continue;
        off = ((mem + a - 1) & ~(a - 1)) - 16 - c;
        if (off < HW_MINSIZE)
            off += a;
        if (off >= s || rd(w, c + off, &p) || rd(w, c + off + 8, &sz))
            continue;
        if (p == off && (sz & IS_MMAPPED) && !(sz & NON_MAIN_ARENA) &&
            (sz & ~(uint64_t)7) == s - off)
            return off;
    }
    return 0;
}

static int in_thread_heap(const struct hw *w, uint64_t p, uint64_t *end)
{
    for (size_t i = 0; i < w->n_heaps; i++) {
        const struct hw_heap *h = &w->heaps[i];
        if (!h->main && p >= h->base && p - h->base < HW_HEAP_MAX) {
            *end = h->base + HW_HEAP_MAX;
            return 1;
        }
    }
    return 0;
}

/* The end of the skipped range holding p, or 0. */
static uint64_t skipped(const struct hw *w, uint64_t p)
{
    size_t lo = 0, hi = w->n_skip;

    while (lo < hi) { /* the first range starting above p */
        size_t mid = lo + (hi - lo) / 2;
        if (w->skip[2 * mid] <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && p < w->skip[2 * (lo - 1) + 1] ? w->skip[2 * (lo - 1) + 1] : 0;
}

static void mmapped(struct hw *w, const struct heapwalk_map *m, heapwalk_block_fn *fn, void *arg)
{
    unsigned char vec[1024];
    volatile uint64_t p = (m->lo + HW_PAGE - 1) & ~(uint64_t)(HW_PAGE - 1);
    sigjmp_buf jb, *outer = w->jb;

    w->vec_lo = 0;
    if (w->own_maps) { /* a page that faults: on to the next one */
        w->jb = &jb;
        if (sigsetjmp(jb, 1)) {
            p = ((w->fault_addr >= m->lo && w->fault_addr < m->hi ? w->fault_addr : p) &
                 ~(uint64_t)(HW_PAGE - 1)) +
                HW_PAGE;
            w->vec_lo = 0;
            w->st.faults++;
        }
    }

    while (p + 16 <= m->hi) {
        uint64_t prev, s, sz, end, off;
        if (in_thread_heap(w, p, &end) || (end = skipped(w, p)) != 0) {
            p = (end + HW_PAGE - 1) & ~(uint64_t)(HW_PAGE - 1);
            continue;
        }
        if (!resident(m, p, vec, &w->vec_lo) || rd(w, p, &prev) || rd(w, p + 8, &s) || prev != 0 ||
            (s & (IS_MMAPPED | NON_MAIN_ARENA)) != IS_MMAPPED) {
            p += HW_PAGE;
            continue;
        }
        sz = s & ~(uint64_t)7;
        if (sz < HW_PAGE || (sz & (HW_PAGE - 1)) || sz > m->hi - p) {
            p += HW_PAGE;
            continue;
        }
        off = mmap_inner(w, p, sz);
        w->st.in_use++;
        w->st.mmapped++;
        w->st.mmapped_bytes += sz;
        w->st.in_use_bytes += sz - off - 16;
        fn(arg, p + off + 16, sz - off - 16);
        p += sz;
    }
    w->jb = outer;
}

/* ---- the walk ---- */

/* Leaves out what does not add up: rc from walk_heap() or fastbins(). */
static int left_out(struct hw *w, int rc)
{
    if (rc != HEAPWALK_ECORRUPT)
        return rc;
    w->st.partial++;
    return 0;
}

static int arena_index(const struct hw *w, uint64_t a)
{
    for (size_t i = 0; i < w->n_arenas; i++)
        if (w->arenas[i] == a)
            return (int)i;
    return -1;
}

static const struct heapwalk_map *brk_map(const struct hw *w)
{
    for (size_t i = 0; i < w->n_maps; i++)
        if (w->maps[i].kind == HEAPWALK_BRK && w->maps[i].hi > w->maps[i].lo)
            return &w->maps[i];
    return NULL;
}

/* Everything before the blocks are yielded: arenas, heaps, what is free,
 * the tcaches. Reads only: a fault here restarts it without a range. */
static int prepare(struct hw *w)
{
    const struct heapwalk_map *brk = brk_map(w);
    uint64_t top = 0, main;
    int rc;

    if ((rc = find_thread_heaps(w)) != 0)
        return rc;
    main = main_by_ring(w); /* one read an arena; else a walk of [heap] for its top */
    if (!main && brk)
        top = brk_top(w, brk); /* 0 when the chunks do not add up */
    if (!main && (!brk || top))
        main = find_main_arena(w, top);
    if (!main) {
        w->why = "heapwalk: no glibc main arena found";
        return HEAPWALK_ENOHEAP;
    }
    if (w->n_arenas == HW_MAX_ARENAS)
        return fail(w, "heapwalk: more arenas than it can hold");
    w->arenas[w->n_arenas++] = main;
    if (brk) {
        struct hw_heap mh = {
            .start = brk->lo, .end = brk->hi, .arena = main, .first = brk->lo, .main = 1};
        if (rd(w, main + HW_MS_TOP, &mh.top) || mh.top < brk->lo || mh.top >= brk->hi)
            mh.top = 0;
        if (!mh.top) {
            mh.bad = 1;
            left_out(w, fail(w, "heapwalk: main_arena's top is not in [heap]"));
        }
        if ((rc = add_heap(w, &mh)) != 0)
            return rc;
    }
    if ((rc = left_out(w, check_ring(w, main))) != 0)
        return rc;
    for (size_t i = 0; i < w->n_arenas; i++) {
        uint64_t mutex;
        if (rd(w, w->arenas[i], &mutex) == 0 && (uint32_t)mutex != 0)
            w->st.locked++;
        if ((rc = fastbins(w, w->arenas[i])) == HEAPWALK_ECORRUPT)
            w->arena_bad[i] = 1;
        if ((rc = left_out(w, rc)) != 0)
            return rc;
    }
    for (size_t i = 0; i < w->n_heaps; i++) {
        struct hw_heap *h = &w->heaps[i];
        int k = arena_index(w, h->arena);
        if (k >= 0 && w->arena_bad[k])
            h->bad = 1;
    }
    for (size_t i = 0; i < w->n_heaps; i++) /* the arenas' first chunks */
        if (!w->heaps[i].bad && w->heaps[i].first &&
            chunk_is(w, w->heaps[i].first, HW_TCACHE_CHUNK) &&
            (rc = tcache(w, w->heaps[i].first, 1)) < 0)
            return rc;
    for (size_t i = 0; i < w->n_heaps; i++) {
        struct hw_heap *h = &w->heaps[i];
        if (h->bad)
            continue;
        if ((rc = walk_heap(w, h, 1, NULL, NULL)) == HEAPWALK_ECORRUPT)
            h->bad = 1;
        if ((rc = left_out(w, rc)) != 0)
            return rc;
    }
    for (size_t i = 0; i < w->cands.n; i++)
        if ((rc = tcache(w, w->cands.v[i], 0)) < 0)
            return rc;
    vec_sort(&w->excl);
    return 0;
}

/* Yields the blocks: the heaps as prepare() read them (the same outcome),
 * the mmapped chunks. */
static int emit(struct hw *w, heapwalk_block_fn *fn, void *arg)
{
    int rc;

    for (size_t i = 0; i < w->n_heaps; i++)
        if (!w->heaps[i].bad && (rc = walk_heap(w, &w->heaps[i], 2, fn, arg)) != 0)
            return rc;
    for (size_t i = 0; i < w->n_maps; i++)
        if (w->maps[i].kind == HEAPWALK_ANON)
            mmapped(w, &w->maps[i], fn, arg);
    w->st.arenas = w->n_arenas;
    w->st.heaps = w->n_heaps - (brk_map(w) ? 1 : 0);
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
                 const uint64_t *skip, size_t n_skip, heapwalk_block_fn *fn, void *arg,
                 struct heapwalk_stats *st, const char **why)
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
    vec_free(&w->excl);
    vec_free(&w->cands);
    if (w->heaps)
        munmap(w->heaps, w->cap_heaps * sizeof(*w->heaps));
    munmap(w, sizeof(*w));
    return rc;
}

int heapwalk_image(const struct heapwalk_map *maps, size_t n, heapwalk_block_fn *fn, void *arg,
                   struct heapwalk_stats *st, const char **why)
{
    return image(maps, n, NULL, NULL, 0, fn, arg, st, why);
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
    const char *path, *base;
    int field = 0;

    m->lo = hex(&s);
    if (*s++ != '-')
        return -1;
    m->hi = hex(&s);
    if (end - s < 5 || s[1] != 'r' || s[2] != 'w' || s[4] != 'p')
        return -1;
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
        m->kind = HEAPWALK_LIBC;
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

int heapwalk_self(const uint64_t *skip, size_t n_skip, heapwalk_block_fn *fn, void *arg,
                  struct heapwalk_stats *st, const char **why)
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
        /* reads of a range that faults after all come back to the walk:
         * SIGSEGV and SIGBUS caught (and unblocked: the scan child blocks
         * every signal) for the walk only */
        struct sigaction sa, old_segv, old_bus;
        sigset_t both, old_mask;

        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigemptyset(&both);
        sigaddset(&both, SIGSEGV);
        sigaddset(&both, SIGBUS);
        sigaction(SIGSEGV, &sa, &old_segv);
        sigaction(SIGBUS, &sa, &old_bus);
        sigprocmask(SIG_UNBLOCK, &both, &old_mask);
        rc = image(maps, n, maps, skip, n_skip, fn, arg, st, why);
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        sigaction(SIGSEGV, &old_segv, NULL);
        sigaction(SIGBUS, &old_bus, NULL);
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
