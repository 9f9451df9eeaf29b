/*
 * scanheap.c - a scan's blocks from glibc's heap, named from the live table
 * (scanheap.h).
 *
 * Invariant: every block is reported once: the walk's blocks (with the
 * table's entry when it has one at that address), then the table's blocks
 * the walk did not give. Nothing here allocates or locks: it runs in the
 * scan child.
 */
#include "scanheap.h"

#include "untracked.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int grow(struct scanheap_block **v, size_t n, size_t *cap, size_t want)
{
    struct scanheap_block *p;
    size_t cap2 = *cap ? *cap : 4096;

    if (want <= *cap)
        return 0;
    while (cap2 < want)
        cap2 *= 2;
    p = mmap(NULL, cap2 * sizeof(*p), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    if (*v) {
        memcpy(p, *v, n * sizeof(*p));
        munmap(*v, *cap * sizeof(*p));
    }
    *v = p;
    *cap = cap2;
    return 0;
}

static void sift(struct scanheap_block *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        struct scanheap_block t;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1].addr > a[c].addr)
            c++;
        if (a[i].addr >= a[c].addr)
            return;
        t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

static void sort_blocks(struct scanheap_block *a, size_t n) /* heapsort: no recursion */
{
    for (size_t i = n / 2; i-- > 0;)
        sift(a, i, n);
    for (size_t k = n; k > 1; k--) {
        struct scanheap_block t = a[0];
        a[0] = a[k - 1];
        a[k - 1] = t;
        sift(a, 0, k - 1);
    }
}

static long find(const struct scanheap_block *a, size_t n, uint64_t addr)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].addr < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo].addr == addr ? (long)lo : -1;
}

struct build {
    struct scanheap *h;
    int failed;
};

static void from_pools(void *arg, uint64_t addr, uint64_t size)
{
    struct build *b = arg;
    struct scanheap *h = b->h;

    if (grow(&h->all, h->n_all, &h->cap_all, h->n_all + 1)) {
        b->failed = 1;
        return;
    }
    h->all[h->n_all++] = (struct scanheap_block){addr, size, size, SCAN_STACK_PYMALLOC, 0};
}

static void from_table(void *arg, uint64_t addr, uint64_t size, uint32_t stack, uint32_t seq)
{
    struct build *b = arg;
    struct scanheap *h = b->h;

    if (h->n_table < h->cap_table)
        h->table[h->n_table++] = (struct scanheap_block){addr, size, 0, stack, seq};
}

static void from_walk(void *arg, uint64_t addr, uint64_t usable)
{
    struct build *b = arg;
    struct scanheap *h = b->h;

    if (grow(&h->all, h->n_all, &h->cap_all, h->n_all + 1)) {
        b->failed = 1;
        return;
    }
    h->all[h->n_all++] = (struct scanheap_block){addr, usable, usable, SCAN_STACK_NONE, 0};
}

int scanheap_build(struct scanheap *h, const struct scan_source *src, const uint64_t *skip,
                   size_t n_skip, const struct heapwalk_tls *tls, int (*untracked)(uint64_t),
                   unsigned walk)
{
    struct build b = {h, 0};
    size_t n_walk, kept = 0;

    memset(h, 0, sizeof(*h));
    h->py_rc = -1;
    if (grow(&h->table, 0, &h->cap_table, src->n_blocks + 1))
        return -ENOMEM;
    src->for_each_block(src->ctx, from_table, &b);
    sort_blocks(h->table, h->n_table);
    if (walk & SCANHEAP_GLIBC)
        h->rc = heapwalk_self(skip, n_skip, tls, from_walk, &b, &h->st, &h->why);
    if (b.failed)
        return -ENOMEM;
    if (h->rc)
        h->n_all = 0; /* a walk that stopped halfway: the table alone */
    n_walk = h->n_all;
    for (size_t i = 0; i < n_walk; i++) {
        struct scanheap_block *w = &h->all[i];
        long k = find(h->table, h->n_table, w->addr);
        if (k < 0 && untracked && untracked(w->addr) == UNTRACKED_OWN) {
            h->n_own++; /* the collector's: no holder of the program's */
            continue;
        }
        h->all[kept++] = *w;
        w = &h->all[kept - 1];
        if (k < 0) {
            h->n_untracked++;
            continue;
        }
        w->size = h->table[k].size; /* what the program asked for */
        w->stack = h->table[k].stack;
        w->seq = h->table[k].seq;
        h->table[k].stack = SCAN_STACK_NONE - 1; /* seen */
    }
    h->n_all = kept;
    for (size_t i = 0; i < h->n_table; i++) {
        if (h->table[i].stack == SCAN_STACK_NONE - 1)
            continue;
        if (grow(&h->all, h->n_all, &h->cap_all, h->n_all + 1))
            return -ENOMEM;
        h->all[h->n_all++] = h->table[i];
        h->n_table_only++;
    }
    if (walk & SCANHEAP_PYMALLOC) {
        /* after the table's: scanheap_check() finds those at the end */
        size_t before = h->n_all;
        h->py_rc = pymheap_self(skip, n_skip, from_pools, &b, &h->py);
        if (b.failed)
            return -ENOMEM;
        if (h->py_rc)
            h->n_all = before;
        /* the table's only ones now sit before the pools' blocks */
        h->n_pools = h->n_all - before;
    }
    return 0;
}

void scanheap_each(void *ctx, scan_block_fn *fn, void *arg)
{
    const struct scanheap *h = ctx;

    for (size_t i = 0; i < h->n_all; i++)
        fn(arg, h->all[i].addr, h->all[i].size, h->all[i].stack, h->all[i].seq);
}

/* ---- the check ---- */

struct line {
    char buf[512];
    size_t n; /* < sizeof(buf): room for the newline */
};

static void put(struct line *l, const char *s)
{
    while (*s && l->n < sizeof(l->buf) - 1)
        l->buf[l->n++] = *s++;
}

static void put_u64(struct line *l, uint64_t v, int hex)
{
    char d[24];
    int n = 0;

    if (hex)
        put(l, "0x");
    do {
        unsigned r = (unsigned)(v % (hex ? 16 : 10));
        d[n++] = (char)(r < 10 ? '0' + r : 'a' + r - 10);
        v /= hex ? 16 : 10;
    } while (v);
    while (n > 0 && l->n < sizeof(l->buf) - 1)
        l->buf[l->n++] = d[--n];
}

static void out(int fd, struct line *l)
{
    l->buf[l->n++] = '\n';
    if (write(fd, l->buf, l->n) < 0)
        return;
    l->n = 0;
}

size_t scanheap_check(const struct scanheap *h, int fd, int (*untracked)(uint64_t))
{
    struct line l = {.n = 0};
    size_t same = 0, sizes = 0, only_walk = 0, own_n = h->n_own, off_n = 0, only_table = 0;
    size_t shown = 0;

    if (h->rc) {
        put(&l, "heapline: heapwalk check: ");
        put(&l, h->why);
        put(&l, " (faults ");
        put_u64(&l, h->st.faults, 0);
        put(&l, ")");
        out(fd, &l);
        return 1;
    }
    size_t end = h->n_all - h->n_pools; /* the check is glibc's */

    for (size_t i = 0; i < end; i++) {
        const struct scanheap_block *b = &h->all[i];
        const char *what = NULL;
        if (i >= end - h->n_table_only) {
            only_table++;
            what = "only in the table";
        } else if (b->stack == SCAN_STACK_NONE) {
            int kind = untracked ? untracked(b->addr) : 0;
            if (kind) {
                *(kind == 2 ? &own_n : &off_n) += 1;
                continue;
            }
            only_walk++;
            what = "only in the heap";
        } else {
            same++;
            /* the walk's usable size is glibc's own answer, the table's
             * (asked) size is not above it */
            if (malloc_usable_size((void *)(uintptr_t)b->addr) != b->usable)
                what = "usable size is not malloc_usable_size()";
            else if (b->usable < b->size)
                what = "usable size below the table's size";
            else
                sizes++;
        }
        if (what && shown++ < 8) {
            put(&l, "heapline: heapwalk check: ");
            put(&l, what);
            put(&l, ": ");
            put_u64(&l, b->addr, 1);
            put(&l, " size ");
            put_u64(&l, b->size, 0);
            out(fd, &l);
        }
    }
    put(&l, "heapline: heapwalk check: heap ");
    put_u64(&l, end - h->n_table_only + h->n_own, 0);
    put(&l, " blocks, table ");
    put_u64(&l, h->n_table, 0);
    put(&l, ", same ");
    put_u64(&l, same, 0);
    put(&l, " (sizes agree ");
    put_u64(&l, sizes, 0);
    put(&l, "), only in the heap ");
    put_u64(&l, only_walk, 0);
    put(&l, " (untracked: the collector's ");
    put_u64(&l, own_n, 0);
    put(&l, ", before it started ");
    put_u64(&l, off_n, 0);
    put(&l, "), only in the table ");
    put_u64(&l, only_table, 0);
    put(&l, ", heaps left out ");
    put_u64(&l, h->st.partial, 0);
    if (h->st.partial) {
        put(&l, " (");
        put(&l, h->why);
        put(&l, ")");
    }
    put(&l, "; arenas ");
    put_u64(&l, h->st.arenas, 0);
    put(&l, ", thread heaps ");
    put_u64(&l, h->st.heaps, 0);
    put(&l, ", mmapped ");
    put_u64(&l, h->st.mmapped, 0);
    put(&l, ", in fastbins ");
    put_u64(&l, h->st.fastbin, 0);
    put(&l, ", in tcaches ");
    put_u64(&l, h->st.tcache, 0);
    put(&l, ", tcaches ");
    put_u64(&l, h->st.tcaches, 0);
    if (h->st.tcache_how == HEAPWALK_TCACHE_TLS) {
        put(&l, " named by the TLS of ");
        put_u64(&l, h->st.threads, 0);
        put(&l, " threads");
    } else {
        put(&l, " by shape");
    }
    put(&l, ", faults ");
    put_u64(&l, h->st.faults, 0);
    put(&l, ", snapshot ");
    put_u64(&l, h->attempt, 0);
    out(fd, &l);
    return only_walk + only_table + (same - sizes) + h->st.partial;
}

void scanheap_retry_line(const struct scanheap *h, int fd)
{
    struct line l = {.n = 0};

    put(&l, "heapline: heapwalk check: snapshot ");
    put_u64(&l, h->attempt, 0);
    put(&l, " did not add up (");
    put(&l, h->why ? h->why : heapwalk_strerror(h->rc));
    put(&l, "): a new one");
    out(fd, &l);
}

void scanheap_free(struct scanheap *h)
{
    if (h->table)
        munmap(h->table, h->cap_table * sizeof(*h->table));
    if (h->all)
        munmap(h->all, h->cap_all * sizeof(*h->all));
    memset(h, 0, sizeof(*h));
}
