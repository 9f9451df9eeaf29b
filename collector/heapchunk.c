/*
 * heapchunk.c - the chunks of glibc's heaps and what is free among them
 * (heapchunk.h): fastbins, tcaches, the chunks of a heap, mmapped chunks.
 *
 * Tcaches: each thread's TLS pointer `tcache` names its own (w->tls, found
 * by heaptls.h in libc's symbol table: its debug file's, libc6-dbg's). A
 * named one is one even when empty; when its counts and lists do not agree
 * a thread was changing it at the snapshot: it is torn, and the walk says
 * partial rather than trust it. Without the TLS (no symbols), by shape: the
 * first chunk of an arena is the tcache of the thread that made it
 * (tcache_init() allocates it on the thread's first malloc, before anything
 * else, from the arena just made); a 0x290 or 0x2a0 chunk elsewhere (a
 * thread that took over an arena) counts as one when its counts and lists
 * agree and at least one list holds a chunk whose key is the process's
 * tcache_key: an empty tcache there cannot be told from a block of zeros
 * and is reported as a block.
 *
 * Invariant: a chunk is yielded only when it is in use (the next chunk's
 * PREV_INUSE), names its heap's arena, and is in no free list and no tcache
 * (w->excl, sorted before the blocks are yielded).
 */
#include "heapchunk.h"

#include <string.h>
#include <sys/mman.h>

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

void heapchunk_vec_free(struct hw_vec *v)
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

void heapchunk_vec_sort(struct hw_vec *v) /* heapsort: no recursion, no allocation */
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

/* Chunk c lies in a heap of the table, 16-aligned, with size csize. */
int heapchunk_is(struct hw *w, uint64_t c, uint64_t csize)
{
    uint64_t s;

    return (c & 15) == 0 && rd(w, c + 8, &s) == 0 && (s & ~(uint64_t)7) == csize;
}

int heapchunk_fastbins(struct hw *w, uint64_t arena)
{
    for (unsigned i = 0; i < HW_NFASTBINS; i++) {
        uint64_t c, csize = 32 + 16 * (uint64_t)i, n = 0;
        if (rd(w, arena + HW_MS_FASTBINS + 8 * i, &c))
            return fail(w, "heapwalk: a fastbin is unreadable");
        while (c) {
            uint64_t fd;
            int rc;
            if (!heapchunk_is(w, c, csize) || rd(w, c + 16, &fd) || ++n > (1u << 26))
                return fail(w, "heapwalk: a fastbin list does not add up");
            if ((rc = vec_push(&w->excl, c)) != 0)
                return rc;
            w->st.fastbin++;
            c = ((c + 16) >> 12) ^ fd;
        }
    }
    return 0;
}

static int torn(struct hw *w, const char *why)
{
    fail(w, why);
    w->st.torn++;
    w->st.partial++;
    return 1;
}

/* The tcache_perthread_struct in the chunk at c: 1 when it is one (its
 * entries and itself are then in excl), 0 when not (excl unchanged), or a
 * negative code. */
int heapchunk_tcache(struct hw *w, uint64_t c, int how)
{
    uint64_t mem = c + 16, counts[HW_TCACHE_BINS / 4], key = w->key;
    size_t mark = w->excl.n, used = 0;
    int rc;

    for (unsigned k = 0; k < HW_TCACHE_BINS / 4; k++)
        if (rd(w, mem + 8 * k, &counts[k]))
            goto not_one;
    for (unsigned i = 0; i < HW_TCACHE_BINS; i++) {
        uint64_t cnt = (counts[i / 4] >> (16 * (i % 4))) & 0xffff, e;
        if (rd(w, mem + 0x80 + 8 * i, &e))
            goto not_one;
        if ((cnt == 0) != (e == 0))
            goto not_one;
        for (uint64_t k = 0; k < cnt; k++) {
            uint64_t next, ekey;
            if (!e || !heapchunk_is(w, e - 16, 32 + 16 * (uint64_t)i) || rd(w, e, &next) ||
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
    if (how == HC_TC_OTHER && used == 0)
        goto not_one;
    if ((rc = vec_push(&w->excl, c)) != 0)
        return rc;
    w->key = key;
    w->st.tcache += used;
    w->st.tcaches++;
    return 1;
not_one:
    if (how == HC_TC_NAMED) { /* it is one: a thread was changing it */
        if ((rc = vec_push(&w->excl, c)) != 0)
            return rc;
        w->st.tcaches++;
        return torn(w, "heapwalk: a tcache's counts do not match its lists (a thread was "
                       "changing it)");
    }
    w->excl.n = mark;
    return 0;
}

/* The tcaches of the threads on the list at head: none when the list does
 * not come back to its head (through readable nodes, HW_MAX_THREADS at
 * most). */
static int list_tcaches(struct hw *w, uint64_t head)
{
    const struct heapwalk_tls *t = w->tls;
    uint64_t node = head;
    size_t n = 0;

    do {
        if (++n > HW_MAX_THREADS || rd(w, node, &node)) {
            torn(w, "heapwalk: a list of threads does not add up");
            return 0;
        }
    } while (node != head);
    for (rd(w, head, &node); node != head; rd(w, node, &node)) {
        uint64_t tc;
        int rc;
        w->st.threads++;
        if (rd(w, node - t->list_off + (uint64_t)t->tcache_off, &tc)) {
            torn(w, "heapwalk: a thread's tcache pointer is unreadable");
            continue;
        }
        if (!tc)
            continue; /* no malloc yet, or its tcache is being freed */
        if (!heapchunk_is(w, tc - 16, HW_TCACHE_CHUNK) &&
            !heapchunk_is(w, tc - 16, HW_TCACHE_CHUNK2)) {
            torn(w, "heapwalk: a thread's tcache is not a tcache's chunk");
            continue;
        }
        if ((rc = heapchunk_tcache(w, tc - 16, HC_TC_NAMED)) < 0)
            return rc;
    }
    return 0;
}

int heapchunk_tls_tcaches(struct hw *w)
{
    for (int k = 0; k < 2; k++) {
        int rc;
        if (w->tls->heads[k] && (rc = list_tcaches(w, w->tls->heads[k])) < 0)
            return rc;
    }
    return 0;
}

/* Walks one heap. pass 1 notes the in-use 0x290 chunks (cands); pass 2
 * yields the in-use chunks not in excl. */
int heapchunk_walk_heap(struct hw *w, const struct hw_heap *h, int pass, heapwalk_block_fn *fn,
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
            if ((sz == HW_TCACHE_CHUNK || sz == HW_TCACHE_CHUNK2) && c != h->first && !w->tls &&
                (rc = vec_push(&w->cands, c)) != 0)
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

/* Whether p is in a heap outside [heap] (a thread heap's reservation, or
 * main_arena's mapped region), whose end is then in *end. */
static int in_heap(const struct hw *w, uint64_t p, uint64_t *end)
{
    for (size_t i = 0; i < w->n_heaps; i++) {
        const struct hw_heap *h = &w->heaps[i];
        if (!h->main && p >= h->base && p - h->base < HW_HEAP_MAX) {
            *end = h->base + HW_HEAP_MAX;
            return 1;
        }
        if (h->mapped && p >= h->start && p < h->end) {
            *end = h->end;
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

void heapchunk_mmapped(struct hw *w, const struct heapwalk_map *m, heapwalk_block_fn *fn, void *arg)
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
        if (in_heap(w, p, &end) || (end = skipped(w, p)) != 0) {
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
