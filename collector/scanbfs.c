/*
 * scanbfs.c - breadth-first backreference search, without malloc: the
 * levels, the frontier, and what a hit makes (a node, a root, a Python
 * chain end). The blocks are scanblocks.c's, the word loops scanwords.c's;
 * scanbfs_impl.h holds the state they share.
 *
 * Level 0 is one pass over every root word and every live block word, and
 * marks the blocks holding a word that may point into a block; later levels
 * read only those (copied into one stream). The check per word is designed
 * around the SMALL frontier of the level (at most max_fanout blocks, plus the
 * target at level 0), not around the millions of live blocks: a subtraction
 * and one unsigned compare against the frontier's [min, max) span, then a bit
 * of an 8 KiB page filter, and only then a binary search in the sorted
 * frontier ranges. Blocks are radix-sorted by address first so the heap is
 * walked in address order (prefetch-friendly).
 *
 * Invariant: node i > 0 always points into a node j < i (BFS order), so every
 * chain walked through `to` reaches node 0 (the target).
 */
#include "scanbfs_impl.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t scanbfs_max_nodes(const struct scanbfs_params *p)
{
    size_t depth = p->max_depth ? p->max_depth : 10;
    size_t fanout = p->max_fanout ? p->max_fanout : 64;
    size_t roots = p->max_roots ? p->max_roots : fanout;

    return 1 + depth * fanout + roots;
}

/* ---- the frontier ---- */

static void frontier_build(struct bfs *s, size_t first, size_t end)
{
    s->n_fr = 0;
    memset(s->filter, 0, sizeof(s->filter));
    for (size_t i = first; i < end; i++) {
        const struct scanbfs_node *nd = &s->nodes[i];
        struct frontier_range r;
        size_t j;

        if (nd->kind != SCANBFS_HEAP || nd->flags)
            continue; /* a root, or a Python chain end */
        r.lo = nd->addr;
        r.hi = nd->addr + (nd->size ? nd->size : 1);
        r.node = (uint32_t)i;
        r.ob = 0;
        if (s->py) {
            struct scanpy_obj o;
            if (scanpy_object(s->py, &s->view, nd->addr, nd->size, &o))
                r.ob = o.ob;
        }
        /* insertion sort: the frontier is small */
        for (j = s->n_fr; j > 0 && s->fr[j - 1].lo > r.lo; j--)
            s->fr[j] = s->fr[j - 1];
        s->fr[j] = r;
        s->n_fr++;
        if (((r.hi - 1) >> 12) - (r.lo >> 12) >= FILTER_MASK) {
            memset(s->filter, 0xff, sizeof(s->filter));
        } else {
            for (uint64_t pg = r.lo >> 12; pg <= (r.hi - 1) >> 12; pg++)
                s->filter[(pg & FILTER_MASK) >> 6] |= 1ull << (pg & 63);
        }
    }
    if (s->n_fr) {
        s->fmin = s->fr[0].lo;
        s->fspan = 0;
        for (size_t i = 0; i < s->n_fr; i++)
            if (s->fr[i].hi - s->fmin > s->fspan)
                s->fspan = s->fr[i].hi - s->fmin;
    } else {
        s->fmin = 0;
        s->fspan = 0;
    }
}

/* Python: whether the holder block b, already a node, is on the way from
 * frontier node `node` down to the target (then the target holds itself). */
static int on_own_chain(const struct bfs *s, size_t b, uint32_t node)
{
    for (;;) {
        const struct scanbfs_node *nd = &s->nodes[node];
        if (nd->kind == SCANBFS_HEAP && nd->addr == s->blocks[b].addr)
            return 1;
        if (node == 0)
            return 0;
        node = nd->to;
    }
}

/* Whether byte `off` of the block at addr is a deque block's word that holds
 * no item (a popped slot, an end link never written, a cached free block). */
static int deque_stale(const struct bfs *s, uint64_t addr, uint64_t off)
{
    size_t a = 0, b = s->n_dq;

    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (s->dq[mid].addr < addr)
            a = mid + 1;
        else
            b = mid;
    }
    return a < s->n_dq && s->dq[a].addr == addr && (off < s->dq[a].vlo || off >= s->dq[a].vhi);
}

/* Python: whether the hit is no reference (a GC link, a dead object's stale
 * word); *end is set when the holder ends the chain (module, class). */
static int py_skip(struct bfs *s, const struct frontier_range *r, uint32_t kind, size_t b,
                   uint64_t off, uint64_t v, uint32_t *end)
{
    struct scanpy_obj o;

    *end = 0;
    if (r->ob && v != r->ob)
        return 1; /* into its GC head (the GC's lists) or its middle: not a reference */
    if (kind != SCANBFS_HEAP)
        return 0;
    if (!scanpy_object(s->py, &s->view, s->blocks[b].addr, blk_size(s, b), &o))
        /* a values array's prefix: stale words of the chunk's earlier use;
         * a deque block's slot outside its items */
        return scanpy_in_values_prefix(s->py, s->blocks[b].addr, blk_size(s, b), off) ||
               deque_stale(s, s->blocks[b].addr, off);
    if (o.refcnt == 0)
        return 1; /* dead: a free list's object keeps stale words */
    if (scanpy_is_data_word(s->py, &o, s->blocks[b].addr, off))
        return 1; /* a str's state bits, a bytes' contents: data, not references */
    if (scanpy_is_gc_link(s->py, &o, s->blocks[b].addr, off))
        return 1;
    *end = scanpy_chain_end(s->py, &o, s->blocks[b].addr, off);
    return 0;
}

/* A word at word_addr (inside a root, or block b when kind == HEAP) holds v,
 * which points into frontier range fi. */
void bfs_on_hit(struct bfs *s, uint32_t kind, uint32_t id, size_t b, uint64_t holder_lo,
                uint64_t word_addr, uint64_t v, long fi)
{
    const struct frontier_range *r = &s->fr[fi];
    struct scanbfs_node *to = &s->nodes[r->node];
    struct scanbfs_node *nd;
    uint32_t end = 0;

    if (kind & SCANBFS_KIND_PACKED) {
        kind &= ~SCANBFS_KIND_PACKED;
        bfs_packed_block(s, word_addr, &b, &holder_lo);
    }
    if (kind & SCANBFS_KIND_WORDS) {
        kind &= ~SCANBFS_KIND_WORDS;
        if (bfs_listed_word(s, &word_addr, &b, &holder_lo) != 0)
            return;
    }
    if (kind & SCANBFS_KIND_FRAME) {
        kind &= ~SCANBFS_KIND_FRAME;
        end = SCANBFS_NODE_END_FRAME;
    }
    if (s->py) {
        uint32_t py_end;
        if (py_skip(s, r, kind & ~SCANBFS_KIND_ALLOCATOR, b, word_addr - holder_lo, v, &py_end))
            return;
        if (!end)
            end = py_end;
    }
    if (kind & SCANBFS_KIND_ALLOCATOR) {
        /* the allocator's own state (glibc's main_arena bins) points at free
         * chunk headers, which overlap the last word of the live block before
         * them: 16-aligned, at least 16 bytes in, within the last 8 bytes of
         * the block as requested. Not a reference. */
        uint64_t in = v - r->lo;
        if ((v & 15) == 0 && in >= 16 && in + 8 >= to->size)
            return;
        kind &= ~SCANBFS_KIND_ALLOCATOR;
    }
    to->inbound++;
    if (kind == SCANBFS_HEAP && !end) {
        if (s->visited[b >> 6] & (1ull << (b & 63))) {
            if (s->py && on_own_chain(s, b, r->node))
                s->flags |= SCANBFS_CYCLE;
            return; /* already a node: an earlier level, or found at this one */
        }
        if (s->added >= s->max_fanout) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->visited[b >> 6] |= 1ull << (b & 63);
        s->added++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = s->blocks[b].addr;
        nd->size = blk_size(s, b);
        nd->id = s->blocks[b].aux;
        nd->inbound = 0;
        nd->flags = 0;
    } else if (end == SCANBFS_NODE_END_FRAME) { /* a live frame's local */
        if (s->ends >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->ends++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = word_addr;
        nd->size = 8;
        nd->id = id;
        nd->inbound = -1;
        nd->flags = SCANBFS_NODE_END_FRAME;
    } else if (end) { /* a Python chain end: a root that is a block */
        if (s->visited[b >> 6] & (1ull << (b & 63)))
            return;
        if (s->ends >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->visited[b >> 6] |= 1ull << (b & 63);
        s->ends++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = s->blocks[b].addr;
        nd->size = blk_size(s, b);
        nd->id = s->blocks[b].aux;
        nd->inbound = -1;
        nd->flags = end == SCANPY_END_MODULE ? SCANBFS_NODE_END_MODULE : SCANBFS_NODE_END_CLASS;
    } else {
        if (s->roots >= s->max_roots) {
            s->flags |= SCANBFS_FANOUT_LIMIT;
            return;
        }
        s->roots++;
        nd = &s->nodes[s->n_nodes++];
        nd->addr = word_addr;
        nd->size = 8;
        nd->id = id;
        nd->inbound = -1;
        nd->flags = 0;
    }
    nd->kind = kind;
    nd->offset = word_addr - holder_lo;
    nd->interior = v - r->lo;
    nd->to = r->node;
    nd->level = s->level + 1;
}

/* Fault recovery (catch_faults): the live table lags the program by the
 * events not yet drained, so a block freed just before the fork may be
 * unmapped (large blocks are munmap()ed at once). A SIGSEGV/SIGBUS while
 * reading a range jumps back to scan_level(), which skips that range. The
 * cursor lives in the struct (volatile) so it survives the jump. */
static sigjmp_buf *fault_jmp;

static void on_fault(int sig)
{
    (void)sig;
    if (fault_jmp)
        siglongjmp(*fault_jmp, 1);
    _exit(128 + sig);
}

/* Scans root r's words in [lo, hi) but those of the scan's own mappings. */
static void scan_root(struct bfs *s, scan_words_fn *scan, const struct scanbfs_root *r, uint64_t lo,
                      uint64_t hi)
{
    uint32_t kind = r->kind | (r->flags & SCANBFS_ROOT_ALLOCATOR ? SCANBFS_KIND_ALLOCATOR : 0) |
                    (r->flags & SCANBFS_ROOT_FRAME ? SCANBFS_KIND_FRAME : 0);

    while (lo < hi) {
        size_t first = BFS_OWN_MAX;
        uint64_t end;

        /* the own mapping that starts first in [lo, hi), if any */
        for (size_t k = 0; k < s->n_own; k++)
            if (s->own_hi[k] > lo && s->own_lo[k] < hi &&
                (first == BFS_OWN_MAX || s->own_lo[k] < s->own_lo[first]))
                first = k;
        end = first == BFS_OWN_MAX    ? hi
              : s->own_lo[first] > lo ? s->own_lo[first] & ~(uint64_t)7
                                      : lo;
        if (end > lo) {
            s->level_bytes += end - lo;
            scan(s, lo, end, kind, r->id, 0, r->lo);
        }
        if (first == BFS_OWN_MAX)
            break;
        lo = (s->own_hi[first] + 7) & ~(uint64_t)7;
    }
}

static void scan_level(struct bfs *s, const struct scanbfs_root *roots, size_t n_roots)
{
    const struct scanbfs_params *p = s->p;
    scan_words_fn *volatile scan = bfs_pick_scan_words(p);
    sigjmp_buf jb;

    s->phase = 0;
    s->cur = 0;
    if (p->catch_faults) {
        if (sigsetjmp(jb, 1)) {
            s->faults++;
            if (s->phase == 1 && s->level == 0)
                s->wl_n = s->wl_block; /* the block is skipped: its words too */
            s->cur = s->phase >= 2 ? s->pk_next : s->cur + 1;
        }
        fault_jmp = &jb;
    }
    for (; s->phase == 0 && s->cur < n_roots; s->cur++) {
        const struct scanbfs_root *r = &roots[s->cur];
        uint64_t lo = (r->lo + 7) & ~(uint64_t)7, hi = r->hi & ~(uint64_t)7;
        if (hi <= lo)
            continue;
        if ((r->flags & SCANBFS_ROOT_ANON) && bfs_any_block_in(s, r->lo, r->hi))
            continue;
        if (p->skip_hi > p->skip_lo && lo < p->skip_hi && p->skip_lo < hi)
            continue;
        /* a Python program's own anonymous memory is the interpreter's (its
         * frames' data stack, arenas): Python chains end at Python roots */
        if (s->py && (r->flags & (SCANBFS_ROOT_INTERP | SCANBFS_ROOT_ANON)))
            continue;
        if (!s->py && (r->flags & SCANBFS_ROOT_FRAME))
            continue;
        scan_root(s, scan, r, lo, hi);
    }
    if (s->phase == 0) {
        s->phase = s->level && wl_used(s) ? 3 : s->pk ? 2 : 1;
        s->cur = 0;
    }
    bfs_scan_blocks(s, scan);
    fault_jmp = NULL;
}

/* Sorts the deque table by address (heapsort: the child has no malloc). */
static void dq_sort(struct scanpy_dqblock *a, size_t n)
{
    if (n < 2)
        return;
    for (size_t end = n, start = n / 2;;) {
        size_t root, child;
        struct scanpy_dqblock t;
        if (start > 0)
            start--;
        else if (--end > 0) {
            t = a[0], a[0] = a[end], a[end] = t;
        } else
            return;
        for (root = start; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && a[child].addr < a[child + 1].addr)
                child++;
            if (a[root].addr >= a[child].addr)
                break;
            t = a[root], a[root] = a[child], a[child] = t;
        }
    }
}

/* The deque table: every deque's blocks (an object of a deque's size whose
 * type is deque), in one pass over the blocks; a fault skips the block being
 * read, as scan_level() does. Room for as many entries as blocks (a block is
 * in one deque), mapped without MAP_POPULATE: only what is written costs. */
static void deque_table(struct bfs *s)
{
    uint64_t osize = scanpy_deque_object_bytes(s->py);
    size_t bytes = s->n_blocks * sizeof(*s->dq);
    volatile size_t n = 0;
    sigjmp_buf jb;
    void *m;

    if (!osize || !s->n_blocks)
        return;
    m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0);
    if (m == MAP_FAILED)
        return;
    s->dq = m;
    s->dq_bytes = bytes;
    bfs_exclude_range(s, (uint64_t)(uintptr_t)m, (uint64_t)(uintptr_t)m + bytes);
    s->cur = 0;
    if (s->p->catch_faults) {
        if (sigsetjmp(jb, 1)) {
            s->faults++;
            s->cur++;
        }
        fault_jmp = &jb;
    }
    for (; s->cur < s->n_blocks; s->cur++) {
        const struct blk *b = &s->blocks[s->cur];
        struct scanpy_obj o;
        if (b->size < osize || b->size >= osize + 16 ||
            !scanpy_object(s->py, &s->view, b->addr, b->size, &o) || o.kind != SCANPY_DEQUE)
            continue;
        n += scanpy_deque_blocks(s->py, &o, s->dq + n, s->n_blocks - n);
        if (n > s->n_blocks)
            n = s->n_blocks; /* a snapshot whose deques share blocks: no more than fit */
    }
    fault_jmp = NULL;
    s->n_dq = n;
    dq_sort(s->dq, s->n_dq);
}

/* The census: every block through scanpy_census_add(), faults skipped as
 * scan_level() skips them. */
static void census(struct bfs *s, struct scanbfs_params *p)
{
    sigjmp_buf jb;

    s->cur = 0;
    if (p->catch_faults) {
        if (sigsetjmp(jb, 1)) {
            s->faults++;
            s->cur++;
        }
        fault_jmp = &jb;
    }
    for (; s->cur < s->n_blocks; s->cur++) {
        const struct blk *b = &s->blocks[s->cur];
        if (b->size && scanpy_census_add(s->py, &s->view, b->addr, blk_size(s, s->cur), b->aux,
                                         p->census, p->cap_census, &p->n_census))
            s->flags |= SCANBFS_FANOUT_LIMIT; /* more types than rows */
    }
    fault_jmp = NULL;
}

/* Python names of every node (after the search): node i's type, and the slot
 * through which it holds node `to`. Nodes are read in index order, so the
 * node below (to < i) is named first. */
static void name_python(struct bfs *s, const struct scanbfs_params *p)
{
    struct scanpy_hop *h = p->hops;
    sigjmp_buf jb;
    volatile size_t i = 0;

    if (p->catch_faults) {
        if (sigsetjmp(jb, 1))
            i++; /* leave that node unnamed */
        fault_jmp = &jb;
    }
    for (; i < s->n_nodes; i++) {
        const struct scanbfs_node *nd = &s->nodes[i];
        const struct scanbfs_node *below = &s->nodes[nd->to];
        struct scanpy_obj o;
        int part;

        memset(&h[i], 0, sizeof(h[i]));
        if (nd->kind == SCANBFS_STACK && (nd->flags & SCANBFS_NODE_END_FRAME)) {
            for (size_t k = 0; k < s->view.n_roots; k++) {
                const struct scanbfs_root *rt = &s->view.roots[k];
                if ((rt->flags & SCANBFS_ROOT_FRAME) && nd->addr >= rt->lo && nd->addr < rt->hi &&
                    scanpy_frame_local(s->py, rt->lo, nd->addr, h[i].owner, sizeof(h[i].owner),
                                       h[i].via, sizeof(h[i].via)) == 0) {
                    h[i].flags |= SCANPY_HOP_FRAME;
                    break;
                }
            }
            continue;
        }
        if (nd->kind != SCANBFS_HEAP || !scanpy_object(s->py, &s->view, nd->addr, nd->size, &o))
            continue;
        h[i].flags |= SCANPY_HOP_OBJECT;
        snprintf(h[i].type, sizeof(h[i].type), "%s", o.name);
        if (i == 0)
            continue;
        part = scanpy_name_slot(s->py, &s->view, &o, nd->addr, nd->offset, nd->interior,
                                below->addr, nd->to ? (int64_t)below->offset : -1,
                                (h[nd->to].flags & SCANPY_HOP_OBJECT) != 0, &h[i]);
        if (part)
            h[nd->to].flags |= SCANPY_HOP_PART;
        if (nd->flags) { /* the chain's end: the dict below is its globals / __dict__ */
            h[nd->to].flags |= SCANPY_HOP_PART;
            snprintf(h[i].via, sizeof(h[i].via), "%s", h[nd->to].key);
            if (nd->flags & SCANBFS_NODE_END_MODULE) {
                h[i].flags |= SCANPY_HOP_MODULE;
                scanpy_module_name(s->py, &o, h[i].owner, sizeof(h[i].owner));
            } else {
                h[i].flags |= SCANPY_HOP_CLASS;
                scanpy_type_name(s->py, o.ob, h[i].owner, sizeof(h[i].owner));
            }
        }
    }
    fault_jmp = NULL;
}

/* The search's own mappings, released together. */
struct bfs_maps {
    size_t visited_bytes, fr_bytes;
};

static int bfs_release(struct bfs *s, struct bfs_maps *m, int rc)
{
    bfs_unmap(s->blocks, s->blocks_bytes);
    bfs_unmap(s->big, s->big_bytes);
    bfs_unmap(s->hist, BFS_HIST_BYTES);
    bfs_unmap(s->visited, m->visited_bytes);
    bfs_unmap(s->refs, m->visited_bytes);
    bfs_unmap(s->pk, s->pk_bytes);
    bfs_unmap(s->wl, s->wl_bytes);
    bfs_unmap(s->wl_at, s->wl_at_bytes);
    bfs_unmap(s->pk_at, s->pk_at_bytes);
    bfs_unmap(s->fr, m->fr_bytes);
    bfs_unmap(s->dq, s->dq_bytes);
    bfs_unmap(s, sizeof(*s));
    return rc;
}

/* Maps the search's arrays, takes the live blocks sorted by address and
 * marks the scan's own mappings; NULL (*err: -errno) when out of memory. */
static struct bfs *bfs_prepare(const struct scan_source *src, const struct scanbfs_root *roots,
                               size_t n_roots, struct scanbfs_params *p, struct scanbfs_node *nodes,
                               struct scanbfs_stats *st, struct bfs_maps *m, int *err)
{
    struct bfs *s = bfs_map(sizeof(*s));

    *err = -ENOMEM;
    if (!s)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->p = p;
    s->py = p->py && p->py->lay ? p->py : NULL;
    s->view.find = bfs_view_find;
    s->view.ctx = s;
    s->view.roots = roots;
    s->view.n_roots = n_roots;
    s->nodes = nodes;
    s->max_fanout = p->max_fanout ? p->max_fanout : 64;
    s->max_roots = p->max_roots ? p->max_roots : s->max_fanout;
    m->visited_bytes = (src->n_blocks / 64 + 1) * 8;
    m->fr_bytes = (s->max_fanout + 1) * sizeof(struct frontier_range);
    s->hist = bfs_map(BFS_HIST_BYTES);
    s->visited = bfs_map(m->visited_bytes);
    s->refs = bfs_map(m->visited_bytes);
    s->fr = bfs_map(m->fr_bytes);
    if (!s->hist || !s->visited || !s->refs || !s->fr) {
        bfs_release(s, m, 0);
        return NULL;
    }
    if (p->catch_faults) {
        struct sigaction sa;
        sigset_t faults;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_fault;
        sa.sa_flags = SA_NODEFER;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        sigemptyset(&faults);
        sigaddset(&faults, SIGSEGV);
        sigaddset(&faults, SIGBUS);
        sigprocmask(SIG_UNBLOCK, &faults, NULL);
    }
    /* a census names no node: its blocks keep the sequence number instead */
    if (bfs_collect_sorted(s, src, p->target == 0 && s->py && p->census) != 0) {
        bfs_release(s, m, 0);
        return NULL;
    }
    st->n_blocks = s->n_blocks;
    for (size_t b = 0; b < s->n_blocks; b++)
        st->heap_bytes += blk_size(s, b);
    for (size_t i = 0; i < n_roots; i++)
        if (roots[i].hi > roots[i].lo)
            st->root_bytes += roots[i].hi - roots[i].lo;

    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->blocks,
                      (uint64_t)(uintptr_t)s->blocks + s->blocks_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->big, (uint64_t)(uintptr_t)s->big + s->big_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->hist,
                      (uint64_t)(uintptr_t)s->hist + BFS_HIST_BYTES);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->visited,
                      (uint64_t)(uintptr_t)s->visited + m->visited_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->refs,
                      (uint64_t)(uintptr_t)s->refs + m->visited_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->fr, (uint64_t)(uintptr_t)s->fr + m->fr_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s, (uint64_t)(uintptr_t)s + sizeof(*s));
    bfs_exclude_range(s, (uint64_t)(uintptr_t)nodes,
                      (uint64_t)(uintptr_t)(nodes + scanbfs_max_nodes(p)));
    bfs_words_list_map(s, st->heap_bytes);
    if (s->wl) {
        bfs_exclude_range(s, (uint64_t)(uintptr_t)s->wl, (uint64_t)(uintptr_t)s->wl + s->wl_bytes);
        bfs_exclude_range(s, (uint64_t)(uintptr_t)s->wl_at,
                          (uint64_t)(uintptr_t)s->wl_at + s->wl_at_bytes);
    }
    for (uint32_t i = 0; i < p->n_own && i < 4; i++)
        bfs_exclude_range(s, p->own[i].lo, p->own[i].hi);
    bfs_regions_build(s);
    *err = 0;
    return s;
}

/* The search outward from nodes[0], level by level, until a level finds a
 * root (and extra_levels more), the depth limit, or nothing more. */
static void bfs_levels(struct bfs *s, const struct scanbfs_root *roots, size_t n_roots,
                       struct scanbfs_stats *st, uint64_t t0)
{
    const struct scanbfs_params *p = s->p;
    uint32_t max_depth = p->max_depth ? p->max_depth : 10;
    uint32_t root_level = 0; /* level (1-based hops) of the first root; 0: none */
    size_t level_first = 0, level_end = 1;

    for (s->level = 0;; s->level++) {
        frontier_build(s, level_first, level_end);
        if (s->n_fr == 0)
            break;
        if (s->level >= max_depth || (root_level && s->level >= root_level + p->extra_levels)) {
            s->flags |= s->level >= max_depth ? SCANBFS_DEPTH_LIMIT : SCANBFS_STOPPED_EARLY;
            for (size_t i = level_first; i < level_end; i++)
                if (s->nodes[i].kind == SCANBFS_HEAP)
                    s->nodes[i].inbound = -1;
            break;
        }
        s->added = 0;
        s->level_bytes = 0;
        scan_level(s, roots, n_roots);
        st->levels++;
        st->bytes_scanned +=
            (s->level && !p->no_filter ? s->ref_bytes : st->heap_bytes) + s->level_bytes;
        if (s->level == 0 && !p->no_filter)
            bfs_pack_refs(s, st->heap_bytes);
        if (s->level == 0 && wl_used(s))
            st->words_listed = s->wl_n;
        /* Python: native roots (C stack words, stale words in buffers) do not
         * end the search; a module global or a class attribute does */
        if (!root_level && (s->py ? s->ends : s->roots)) {
            root_level = s->level + 1;
            st->first_root_ns = now_ns() - t0;
        }
        level_first = level_end;
        level_end = s->n_nodes;
    }
}

int scanbfs_run(const struct scan_source *src, const struct scanbfs_root *roots, size_t n_roots,
                struct scanbfs_params *p, struct scanbfs_node *nodes, size_t *n_nodes,
                struct scanbfs_stats *st)
{
    uint64_t t0 = now_ns(), t1;
    struct bfs_maps m;
    struct bfs *s;
    long tb;
    int err;

    memset(st, 0, sizeof(*st));
    memset(&m, 0, sizeof(m));
    *n_nodes = 0;
    s = bfs_prepare(src, roots, n_roots, p, nodes, st, &m, &err);
    if (!s)
        return err;
    t1 = now_ns();
    st->prep_ns = t1 - t0;
    if (p->target == 0 && s->py && p->census) {
        p->n_census = 0;
        census(s, p);
        st->flags = s->flags;
        st->faults = s->faults;
        st->scan_ns = now_ns() - t1;
        st->bytes_scanned = st->heap_bytes;
        bfs_release(s, &m, 0);
        st->duration_ns = now_ns() - t0;
        return 0;
    }
    tb = bfs_find_block(s, p->target);
    if (tb < 0)
        return bfs_release(s, &m, -ENOENT);
    s->visited[(size_t)tb >> 6] |= 1ull << ((size_t)tb & 63);
    nodes[0].addr = s->blocks[tb].addr;
    nodes[0].size = blk_size(s, (size_t)tb);
    nodes[0].offset = 0;
    nodes[0].interior = p->target - s->blocks[tb].addr;
    nodes[0].inbound = 0;
    nodes[0].kind = SCANBFS_HEAP;
    nodes[0].id = s->blocks[tb].aux;
    nodes[0].to = 0;
    nodes[0].level = 0;
    s->n_nodes = 1;
    if (s->py)
        deque_table(s);
    bfs_levels(s, roots, n_roots, st, t0);
    st->scan_ns = now_ns() - t1;
    if (!s->roots && !s->ends && !(s->flags & (SCANBFS_DEPTH_LIMIT | SCANBFS_FANOUT_LIMIT)))
        s->flags |= SCANBFS_UNREACHABLE;
    if (!(s->flags & SCANBFS_UNREACHABLE))
        s->flags &= ~SCANBFS_CYCLE; /* said of an unreachable target only */
    st->flags = s->flags;
    st->faults = s->faults;
    if (s->faults)
        st->flags |= SCANBFS_UNREADABLE;
    if (s->py && p->hops)
        name_python(s, p);
    *n_nodes = s->n_nodes;
    bfs_release(s, &m, 0);
    st->duration_ns = now_ns() - t0;
    return 0;
}
