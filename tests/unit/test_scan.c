/*
 * test_scan.c - the backreference engine over real memory of this process:
 * a fake block source over malloc'd blocks, roots given by hand (scanbfs) or
 * gathered from the loaded modules through a real forked job (scan_start),
 * and the scan result message round trip (scanmsg), hostile bytes included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "scan.h"
#include "ownmaps.h"
#include "scanbfs.h"
#include "scanmsg.h"

/* The table of blocks lives in mmap'd memory: in a global it would be a root
 * holding every block. */
struct table {
    uint64_t addr[64];
    uint64_t size[64];
    uint32_t n;
};

static struct table *tab;

static void tab_each(void *ctx, scan_block_fn *fn, void *arg)
{
    struct table *t = ctx;

    for (uint32_t i = 0; i < t->n; i++)
        fn(arg, t->addr[i], t->size[i], 100 + i, i);
}

static void **blk(uint32_t i, size_t size)
{
    void **p = calloc(1, size);

    assert_non_null(p);
    tab->addr[i] = (uint64_t)(uintptr_t)p;
    tab->size[i] = size;
    if (tab->n <= i)
        tab->n = i + 1;
    return p;
}

static int setup(void **state)
{
    (void)state;
    tab = mmap(NULL, sizeof(*tab), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(tab != MAP_FAILED);
    memset(tab, 0, sizeof(*tab));
    /* the table of blocks stands for the collector's live table: its own
     * mapping, not a pool of the program's (a scan would take it as a root) */
    ownmaps_add(tab, sizeof(*tab));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < tab->n; i++)
        free((void *)(uintptr_t)tab->addr[i]);
    munmap(tab, sizeof(*tab));
    return 0;
}

static struct scan_source source(void)
{
    struct scan_source s = {tab_each, tab, tab->n, NULL, 0, 0, 0};
    return s;
}

static struct scanbfs_node nodes[4096];
static struct scanbfs_node nodes_scalar[4096];

/* Runs the search four times, with and without SIMD, with every level
 * scanning every block (no level-0 mark of the blocks that hold no heap
 * word), and with later levels reading the marked blocks rather than level
 * 0's list of words: all must agree exactly. */
static int run(uint64_t target, const struct scanbfs_root *roots, size_t n_roots, uint32_t depth,
               uint32_t fanout, size_t *n, struct scanbfs_stats *st)
{
    struct scan_source src = source();
    struct scanbfs_params p = {.target = target, .max_depth = depth, .max_fanout = fanout};
    struct scanbfs_stats st2;
    size_t n2;
    int rc, rc2;

    assert_true(scanbfs_max_nodes(&p) <= 4096);
    rc = scanbfs_run(&src, roots, n_roots, &p, nodes, n, st);
    for (int pass = 0; pass < 3; pass++) {
        p.no_simd = pass == 0;
        p.no_filter = pass == 1;
        p.no_list = pass == 2;
        rc2 = scanbfs_run(&src, roots, n_roots, &p, nodes_scalar, &n2, &st2);
        assert_int_equal(rc, rc2);
        if (rc == 0) {
            assert_int_equal(*n, n2);
            assert_int_equal(st->flags, st2.flags);
            assert_int_equal(st->levels, st2.levels);
            assert_memory_equal(nodes, nodes_scalar, n2 * sizeof(nodes[0]));
        }
    }
    return rc;
}

/* root word -> C -> B -> A (interior pointer at A+16) */
static void test_chain_to_root(void **state)
{
    void **a = blk(0, 64), **b = blk(1, 48), **c = blk(2, 32);
    void *rootmem[4] = {0};
    struct scanbfs_root root = {(uint64_t)(uintptr_t)rootmem, (uint64_t)(uintptr_t)(rootmem + 4),
                                SCANBFS_GLOBAL, 7, 0};
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    b[3] = (char *)a + 16;
    c[1] = b;
    rootmem[2] = c;
    assert_int_equal(run((uint64_t)(uintptr_t)a + 8, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(n, 4);
    assert_int_equal(nodes[0].addr, (uint64_t)(uintptr_t)a);
    assert_int_equal(nodes[0].interior, 8);
    assert_int_equal(nodes[0].id, 100);
    assert_int_equal(nodes[0].inbound, 1);
    assert_int_equal(nodes[1].kind, SCANBFS_HEAP);
    assert_int_equal(nodes[1].addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nodes[1].offset, 24);
    assert_int_equal(nodes[1].interior, 16);
    assert_int_equal(nodes[1].to, 0);
    assert_int_equal(nodes[1].size, 48);
    assert_int_equal(nodes[1].id, 101);
    assert_int_equal(nodes[2].addr, (uint64_t)(uintptr_t)c);
    assert_int_equal(nodes[2].offset, 8);
    assert_int_equal(nodes[2].to, 1);
    assert_int_equal(nodes[2].level, 2);
    assert_int_equal(nodes[3].kind, SCANBFS_GLOBAL);
    assert_int_equal(nodes[3].addr, (uint64_t)(uintptr_t)&rootmem[2]);
    assert_int_equal(nodes[3].offset, 16);
    assert_int_equal(nodes[3].id, 7);
    assert_int_equal(nodes[3].to, 2);
    assert_int_equal(nodes[3].level, 3);
    assert_int_equal(st.flags & SCANBFS_UNREACHABLE, 0);
    assert_int_equal(st.words_listed, 2); /* b[3] and c[1]: later levels read those alone */
    assert_int_equal(st.n_blocks, 3);
    assert_int_equal(st.heap_bytes, 64 + 48 + 32);
}

/* A heap mostly of data (text, small integers): later levels scan only the
 * words level 0 found that may point into a block (or the blocks that hold
 * them, from the copy made of them: run()'s no_list pass). root -> E -> D -> C -> B -> A, each
 * pointer in a different place: the first word, the last word of an odd-sized block, the tail after
 * eight-word strides, an interior pointer; 40 text blocks; E also holds a small integer. */
static void test_marked_levels(void **state)
{
    void **a = blk(0, 40), **b = blk(1, 8), **c = blk(2, 77), **d = blk(3, 96), **e = blk(4, 24);
    void *rootmem[2] = {0};
    struct scanbfs_root root = {(uint64_t)(uintptr_t)rootmem, (uint64_t)(uintptr_t)(rootmem + 2),
                                SCANBFS_GLOBAL, 3, 0};
    uint64_t text = 0, refs = 8 + 72 + 96 + 24;
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    for (uint32_t i = 5; i < 45; i++) {
        char *t = (char *)blk(i, 200 + i);
        for (uint32_t k = 0; k < 200 + i; k++)
            t[k] = (char)('a' + (i + k) % 26);
        text += 200 + i;
    }
    b[0] = a;
    c[8] = b;              /* the last whole word of 77 bytes */
    d[9] = c;              /* after one stride of eight words */
    e[1] = (char *)d + 40; /* interior */
    e[2] = (void *)(uintptr_t)12345;
    rootmem[1] = e;
    assert_int_equal(run((uint64_t)(uintptr_t)a, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(n, 6);
    assert_int_equal(nodes[1].addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nodes[2].addr, (uint64_t)(uintptr_t)c);
    assert_int_equal(nodes[2].offset, 64);
    assert_int_equal(nodes[3].addr, (uint64_t)(uintptr_t)d);
    assert_int_equal(nodes[3].offset, 72);
    assert_int_equal(nodes[4].addr, (uint64_t)(uintptr_t)e);
    assert_int_equal(nodes[4].offset, 8);
    assert_int_equal(nodes[4].interior, 40);
    assert_int_equal(nodes[5].kind, SCANBFS_GLOBAL);
    assert_int_equal(nodes[5].to, 4);
    assert_int_equal(st.levels, 5);
    assert_int_equal(st.heap_bytes, 40 + refs + text + 5);
    /* level 0 every block (A holds no heap word), levels 1-4 the 4 holders
     * (by their 4 words that point into a block; 12345 is not one) */
    assert_int_equal(st.bytes_scanned, st.heap_bytes + 4 * refs + 5 * sizeof(rootmem));
    assert_int_equal(st.words_listed, 4);
}

/* A block that faults halfway at level 0 (its second page unreadable) is
 * skipped whole: the word of its first page that points into B, read
 * before the fault, is not in level 0's list either, so B's holder is
 * found by no level, with the list or without (a forked child: catching
 * faults installs its handlers for good). */
static void test_fault_drops_listed(void **state)
{
    void **a = blk(0, 32), **b = blk(1, 32);
    char *f = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int status;
    pid_t pid;

    (void)state;
    assert_true(f != MAP_FAILED);
    b[0] = a;
    ((void **)(void *)f)[0] = b;
    assert_int_equal(mprotect(f + 4096, 4096, PROT_NONE), 0);
    tab->addr[2] = (uint64_t)(uintptr_t)f;
    tab->size[2] = 8192;
    tab->n = 3;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct scan_source src = source();
        struct scanbfs_params p = {.target = (uint64_t)(uintptr_t)a, .catch_faults = 1};
        struct scanbfs_stats st;
        size_t n;
        int bad = 0;
        for (int pass = 0; pass < 2; pass++) {
            p.no_list = pass == 1;
            bad |= scanbfs_run(&src, NULL, 0, &p, nodes, &n, &st) != 0 || n != 2 ||
                   nodes[1].addr != (uint64_t)(uintptr_t)b || st.faults != 1 ||
                   !(st.flags & SCANBFS_UNREACHABLE) || st.words_listed != (pass ? 0 : 1);
        }
        _exit(bad);
    }
    tab->n = 2; /* f is not malloc's: teardown must not free it */
    assert_int_equal(waitpid(pid, &status, 0), pid);
    munmap(f, 8192);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* A heap whose first 2 MiB are a pointer in 32 bytes, then 40 MiB of text:
 * the list would fit its room (a word per 64 bytes of heap), but it grows
 * past a quarter of the bytes read, so level 0 drops it (its pages are
 * fresh memory) and later levels read the marked blocks. The blocks are
 * parts of one mapping, in address order. */
static void test_list_dropped(void **state)
{
    size_t bytes = 44u << 20;
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    assert_true(m != MAP_FAILED);
    tab->addr[0] = (uint64_t)(uintptr_t)m;
    tab->size[0] = 64;
    for (uint32_t k = 1; k <= 8; k++) { /* 256 KiB each, from 256 KiB on */
        void **w = (void **)(void *)(m + ((size_t)k << 18));
        tab->addr[k] = (uint64_t)(uintptr_t)w;
        tab->size[k] = 1u << 18;
        for (size_t i = 0; i < (1u << 18) / 8; i += 4)
            w[i] = m;
    }
    for (uint32_t k = 9; k < 49; k++) { /* 1 MiB each, from 3 MiB on */
        tab->addr[k] = (uint64_t)(uintptr_t)m + ((uint64_t)(k - 6) << 20);
        tab->size[k] = 1u << 20;
        memset((void *)(uintptr_t)tab->addr[k], 'a', 1u << 20);
    }
    tab->n = 49;
    assert_int_equal(run((uint64_t)(uintptr_t)m, NULL, 0, 3, 64, &n, &st), 0);
    tab->n = 0; /* not malloc's: teardown must not free them */
    assert_int_equal(n, 9);
    assert_int_equal(nodes[0].inbound, 8 * 8192);
    for (size_t i = 1; i < n; i++)
        assert_int_equal(nodes[i].addr, (uint64_t)(uintptr_t)m + ((uint64_t)i << 18));
    assert_int_equal(st.words_listed, 0);
    munmap(m, bytes);
}

/* A <-> B, nothing else: leaked */
static void test_cycle_unreachable(void **state)
{
    void **a = blk(0, 32), **b = blk(1, 32);
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    blk(2, 64)[0] = (void *)0x10; /* unrelated */
    a[0] = b;
    b[1] = a;
    assert_int_equal(run((uint64_t)(uintptr_t)a, NULL, 0, 10, 64, &n, &st), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nodes[1].offset, 8);
    assert_true(st.flags & SCANBFS_UNREACHABLE);
    assert_int_equal(nodes[0].inbound, 1);
    assert_int_equal(nodes[1].inbound, 1);
}

/* ten holders, fan-out 4: the first four by address, every reference counted */
static void test_fanout_and_inbound(void **state)
{
    void **t = blk(0, 16);
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    for (uint32_t i = 1; i <= 10; i++)
        blk(i, 16)[1] = t;
    t[0] = t; /* a self reference counts too */
    assert_int_equal(run((uint64_t)(uintptr_t)t, NULL, 0, 10, 4, &n, &st), 0);
    assert_int_equal(nodes[0].inbound, 11);
    /* 11 words that point into a block in 176 bytes: more than the list
     * holds (a word in 64 bytes): later levels read the blocks */
    assert_int_equal(st.words_listed, 0);
    assert_true(st.flags & SCANBFS_FANOUT_LIMIT);
    assert_false(st.flags & SCANBFS_UNREACHABLE);
    assert_int_equal(n, 5);
    for (size_t i = 2; i < n; i++)
        assert_true(nodes[i].addr > nodes[i - 1].addr);
}

static void test_depth_limit(void **state)
{
    void **prev = blk(0, 16);
    uint64_t target = (uint64_t)(uintptr_t)prev;
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    for (uint32_t i = 1; i < 8; i++) {
        void **p = blk(i, 16);
        p[0] = prev;
        prev = p;
    }
    assert_int_equal(run(target, NULL, 0, 3, 64, &n, &st), 0);
    assert_int_equal(n, 4);
    assert_true(st.flags & SCANBFS_DEPTH_LIMIT);
    assert_false(st.flags & SCANBFS_UNREACHABLE);
    assert_int_equal(nodes[3].level, 3);
    assert_int_equal(nodes[3].inbound, -1);
    assert_int_equal(st.levels, 3);
}

static void test_stack_root_and_not_found(void **state)
{
    void **a = blk(0, 40);
    void *stack[16] = {0};
    struct scanbfs_root root = {(uint64_t)(uintptr_t)stack, (uint64_t)(uintptr_t)(stack + 16),
                                SCANBFS_STACK, 3, 0};
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    stack[5] = (char *)a + 39;
    assert_int_equal(run((uint64_t)(uintptr_t)a, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].kind, SCANBFS_STACK);
    assert_int_equal(nodes[1].id, 3);
    assert_int_equal(nodes[1].offset, 40);
    assert_int_equal(nodes[1].interior, 39);
    /* one past the end is not inside */
    assert_int_equal(run((uint64_t)(uintptr_t)a + 40, &root, 1, 10, 64, &n, &st), -ENOENT);
}

/* glibc's main_arena points at free chunk headers, which overlap the last
 * word of the live block before them: not a reference from libc's data */
static void test_allocator_root(void **state)
{
    void **a = blk(0, 24);
    void *libc[4] = {0};
    struct scanbfs_root root = {(uint64_t)(uintptr_t)libc, (uint64_t)(uintptr_t)(libc + 4),
                                SCANBFS_GLOBAL, 1, SCANBFS_ROOT_ALLOCATOR};
    struct scanbfs_stats st;
    size_t n;

    (void)state;
    libc[0] = (char *)a + 16; /* the next chunk's header */
    libc[1] = (char *)a + 16;
    assert_int_equal(run((uint64_t)(uintptr_t)a, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(n, 1);
    assert_int_equal(nodes[0].inbound, 0);
    assert_true(st.flags & SCANBFS_UNREACHABLE);
    /* a real pointer from libc (to the start) still holds it */
    libc[2] = a;
    assert_int_equal(run((uint64_t)(uintptr_t)a, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(n, 2);
    assert_int_equal(nodes[1].kind, SCANBFS_GLOBAL);
    assert_int_equal(nodes[1].offset, 16);
    assert_int_equal(nodes[0].inbound, 1);
    /* from another module, the same word is a reference */
    root.flags = 0;
    libc[2] = NULL;
    assert_int_equal(run((uint64_t)(uintptr_t)a, &root, 1, 10, 64, &n, &st), 0);
    assert_int_equal(nodes[0].inbound, 2);
}

/* ---- through a real job: fork, roots from the loaded modules ---- */

void *scan_test_holder; /* a global of this executable */
static void *scan_test_static_holder;

/* From bytes: decode.c's response.raw points into decode_one()'s own stack
 * frame (a bug reported to the protocol owner), so it is not used here. */
static void decode_job(struct scan_job *job, struct scanmsg_result *r, struct decode *d,
                       struct wire_msg *m, char *buf, size_t cap)
{
    struct encode_buf b;

    encode_init(&b, buf, cap);
    assert_int_equal(scan_job_encode(job, &b), 0);
    assert_int_equal(decode_feed(d, buf, b.len), 0);
    assert_int_equal(decode_next(d, m), 1);
    assert_int_equal(m->type, WIRE_RESPONSE);
    assert_int_equal(m->u.response.id, 42);
    if (m->u.response.status == 0)
        assert_int_equal(scanmsg_decode_bytes(buf, b.len, d->zone, r), 0);
}

static void test_job_global(void **state)
{
    void **a = blk(0, 64), **b = blk(1, 128);
    struct scan_source src = source();
    const char *err = NULL;
    struct scan_job *job;
    struct scanmsg_result r;
    struct scanmsg_node nd;
    struct wire_msg m;
    struct decode zone;
    static char buf[1 << 16];

    (void)state;
    b[5] = a;
    scan_test_holder = b;
    scan_test_static_holder = (char *)a + 8;
    job = scan_start(&src, 42, (uint64_t)(uintptr_t)a, 10, 64, &err);
    assert_non_null(job);
    assert_true(scan_job_fd(job) >= 0);
    assert_int_equal(scan_job_wait(job, 10000), 1);
    decode_init(&zone);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_int_equal(r.target, (uint64_t)(uintptr_t)a);
    assert_int_equal(r.n_blocks, 2);
    assert_true(r.pause_ns > 0);
    /* level 1: the static global (a root: the search stops at this level,
     * the shortest chains) and b, in scan order: roots first */
    assert_int_equal(scanmsg_count(&r), 3);
    assert_true(r.flags & SCANMSG_STOPPED_EARLY);
    assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
    assert_int_equal(nd.kind, SCANMSG_GLOBAL);
    assert_int_equal(nd.addr, (uint64_t)(uintptr_t)&scan_test_static_holder);
    assert_int_equal(nd.symbol.len, strlen("scan_test_static_holder"));
    assert_memory_equal(nd.symbol.ptr, "scan_test_static_holder", nd.symbol.len);
    assert_int_equal(nd.offset, 0);
    assert_int_equal(nd.interior, 8);
    assert_non_null(nd.module.ptr);
    assert_non_null(memmem(nd.module.ptr, nd.module.len, "/test_scan", 10));
    assert_int_equal(scanmsg_node_at(&r, 2, &nd), 0);
    assert_int_equal(nd.kind, SCANMSG_HEAP);
    assert_int_equal(nd.addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nd.offset, 40);
    assert_int_equal(nd.id, 101);
    assert_int_equal(nd.inbound, -1);
    scan_job_free(job);

    /* without the static holder: a <- b (+40) <- scan_test_holder; and a
     * block of the table that is no longer mapped (freed since): skipped */
    scan_test_static_holder = NULL;
    {
        /* PROT_NONE rather than unmapped: the address cannot be reused */
        void *gone = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(gone != MAP_FAILED);
        tab->addr[2] = (uint64_t)(uintptr_t)gone;
        tab->size[2] = 8192;
        tab->n = 3;
        src = source();
    }
    job = scan_start(&src, 42, (uint64_t)(uintptr_t)a + 63, 10, 64, &err);
    assert_non_null(job);
    assert_int_equal(scan_job_wait(job, 10000), 1);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_int_equal(r.target, (uint64_t)(uintptr_t)a + 63);
    assert_int_equal(scanmsg_count(&r), 3);
    assert_true(r.chain_ns > 0 && r.prep_ns > 0);
    assert_true(r.flags & SCANMSG_UNREADABLE);
    assert_int_equal(r.n_blocks, 3);
    assert_int_equal(scanmsg_node_at(&r, 0, &nd), 0);
    assert_int_equal(nd.interior, 63);
    assert_int_equal(nd.inbound, 1);
    assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
    assert_int_equal(nd.addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nd.inbound, 1);
    assert_int_equal(scanmsg_node_at(&r, 2, &nd), 0);
    assert_int_equal(nd.kind, SCANMSG_GLOBAL);
    assert_int_equal(nd.to, 1);
    assert_int_equal(nd.level, 2);
    assert_int_equal(nd.symbol.len, strlen("scan_test_holder"));
    assert_memory_equal(nd.symbol.ptr, "scan_test_holder", nd.symbol.len);
    scan_job_free(job);

    /* an address in no block: an error response */
    job = scan_start(&src, 42, 16, 10, 64, &err);
    assert_non_null(job);
    assert_int_equal(scan_job_wait(job, 10000), -1);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_int_equal(m.u.response.status, -ENOENT);
    assert_memory_equal(m.u.response.message.ptr, "no live block at 0x10", 21);
    scan_job_free(job);
    decode_free(&zone);
    munmap((void *)(uintptr_t)tab->addr[2], 8192);
    tab->n = 2; /* the unmapped one is not freed by teardown */
    scan_test_holder = scan_test_static_holder = NULL;
}

/* ---- a heap walk that does not add up: a new snapshot ---- */

static void *arena_blocks(void *arg)
{
    void **out = arg;

    for (int i = 0; i < 3; i++)
        out[i] = malloc(200);
    return NULL;
}

/* One scan of a sampled run (the blocks from glibc's heap) for a, held by
 * b (+40) held by scan_test_holder: the job, complete. */
static struct scan_job *scan_sampled(void **a, volatile uint64_t *size_word, uint64_t bent,
                                     uint64_t saved)
{
    struct scan_source src = source();
    const char *err = NULL;
    struct scan_job *job;

    src.heap_walk = SCAN_SAMPLED;
    *size_word = bent;
    job = scan_start(&src, 42, (uint64_t)(uintptr_t)a, 10, 64, &err);
    *size_word = saved; /* the first snapshot has it bent, a new one not (unless saved is) */
    assert_non_null(job);
    assert_int_equal(scan_job_wait(job, 20000), 1);
    return job;
}

/* A block of a thread's arena whose size is bent (its heap's chunks no
 * longer tile it) as a thread in the middle of malloc would leave it: bent
 * at the first snapshot and put back right after, the scan walks a second
 * snapshot and its answer is complete; bent for good, SCAN_ATTEMPTS
 * snapshots and the answer says partial. The chain is found either way. */
static void test_job_badheap(void **state)
{
    void **a = blk(0, 64), **b = blk(1, 128);
    static void *tb[3];
    pthread_t th;
    volatile uint64_t *size_word;
    uint64_t saved;
    struct scan_job *job;
    struct scanmsg_result r;
    struct scanmsg_node nd;
    struct wire_msg m;
    struct decode zone;
    static char buf[1 << 16];

    (void)state;
    b[5] = a;
    scan_test_holder = b;
    /* a thread's own arena: this thread never allocates from it */
    assert_int_equal(pthread_create(&th, NULL, arena_blocks, tb), 0);
    pthread_join(th, NULL);
    size_word = (volatile uint64_t *)tb[1] - 1;
    saved = *size_word;
    decode_init(&zone);

    job = scan_sampled(a, size_word, saved + 0x10, saved);
    printf("scan: a heap bent at the first snapshot: %u snapshots\n", scan_job_attempts(job));
    assert_int_equal(scan_job_attempts(job), 2);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_true(r.flags & SCANMSG_HEAPWALK);
    assert_false(r.flags & (SCANMSG_HEAPWALK_PARTIAL | SCANMSG_HEAPWALK_FAILED));
    assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
    assert_int_equal(nd.addr, (uint64_t)(uintptr_t)b);
    assert_int_equal(nd.offset, 40);
    scan_job_free(job);

    job = scan_sampled(a, size_word, saved + 0x10, saved + 0x10);
    *size_word = saved;
    printf("scan: a heap bent for good: %u snapshots\n", scan_job_attempts(job));
    assert_int_equal(scan_job_attempts(job), SCAN_ATTEMPTS);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_true(r.flags & SCANMSG_HEAPWALK);
    assert_true(r.flags & SCANMSG_HEAPWALK_PARTIAL);
    assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
    assert_int_equal(nd.addr, (uint64_t)(uintptr_t)b);
    scan_job_free(job);

    job = scan_sampled(a, size_word, saved, saved); /* a heap that adds up: one */
    assert_int_equal(scan_job_attempts(job), 1);
    decode_job(job, &r, &zone, &m, buf, sizeof(buf));
    assert_false(r.flags & SCANMSG_HEAPWALK_PARTIAL);
    scan_job_free(job);

    decode_free(&zone);
    for (int i = 0; i < 3; i++)
        free(tb[i]);
    scan_test_holder = NULL;
}

/* ---- the message against hostile bytes ---- */

static void test_scanmsg_hostile(void **state)
{
    static char buf[4096];
    struct scanmsg_node in[3] = {
        {.kind = SCANMSG_HEAP, .addr = 0x1000, .size = 64, .id = 9, .inbound = 2},
        {.kind = SCANMSG_HEAP, .addr = 0x2000, .size = 32, .offset = 8, .to = 0, .level = 1},
        {.kind = SCANMSG_GLOBAL,
         .addr = 0x3000,
         .to = 1,
         .symbol = {"g", 1},
         .module = {"/bin/x", 6},
         .module_offset = 0x30,
         .level = 2,
         .inbound = -1},
    };
    struct scanmsg_result r = {.target = 0x1008, .flags = 0, .levels = 2};
    struct encode_buf b;
    struct decode d;

    (void)state;
    decode_init(&d);
    /* truncated: need more */
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len - 1, d.zone, &r), WIRE_ENEEDMORE);
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), 0);
    assert_int_equal(scanmsg_count(&r), 3);
    /* a node pointing forward (a cycle for a reader) is corrupt */
    in[1].to = 2;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    in[1].to = 0;
    in[2].kind = 4;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    /* a stack word in a live frame: its index in the trailing list */
    in[2] = (struct scanmsg_node){.kind = SCANMSG_STACK,
                                  .addr = 0x7000,
                                  .size = 8,
                                  .to = 1,
                                  .id = 3,
                                  .level = 2,
                                  .inbound = -1,
                                  .live_frame = 1};
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), 0);
    {
        struct scanmsg_node nd;
        assert_int_equal(r.live.n, 1);
        assert_int_equal(scanmsg_node_at(&r, 2, &nd), 0);
        assert_int_equal(nd.live_frame, 1);
        assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
        assert_int_equal(nd.live_frame, 0);
    }
    /* ... and an index past the nodes is corrupt (the list [2] comes before the
     * empty Python, census, untracked and pymalloc lists that end the message) */
    assert_int_equal((unsigned char)buf[b.len - 6], 0x91);
    assert_int_equal((unsigned char)buf[b.len - 4], 0x90);
    assert_int_equal((unsigned char)buf[b.len - 3], 0x90);
    assert_int_equal((unsigned char)buf[b.len - 2], 0x90);
    assert_int_equal((unsigned char)buf[b.len - 1], 0x90);
    buf[b.len - 5] = 3;
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    /* a block from glibc's heap the table lacked: its index in the last list */
    in[1].untracked = 1;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), 0);
    {
        struct scanmsg_node nd;
        struct scanmsg_result *c;
        assert_int_equal(r.untracked.n, 1);
        assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
        assert_int_equal(nd.untracked, 1);
        assert_int_equal(scanmsg_node_at(&r, 0, &nd), 0);
        assert_int_equal(nd.untracked, 0);
        c = scanmsg_copy(&r); /* the owned copy keeps it */
        assert_non_null(c);
        assert_int_equal(scanmsg_node_at(c, 1, &nd), 0);
        assert_int_equal(nd.untracked, 1);
        free(c);
    }
    assert_int_equal((unsigned char)buf[b.len - 3], 0x91);
    assert_int_equal((unsigned char)buf[b.len - 1], 0x90); /* no pymalloc block */
    buf[b.len - 2] = 3;
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT); /* past */
    buf[b.len - 2] = 1;
    /* a collector before the pymalloc list (19 elements) still reads: no
     * pymalloc block; one before the untracked list (18): nothing untracked */
    assert_int_equal((unsigned char)buf[0], 0xdc);
    assert_int_equal((unsigned char)buf[2], 20);
    buf[2] = 19;
    assert_int_equal(scanmsg_decode_bytes(buf, b.len - 1, d.zone, &r), 0);
    assert_int_equal(r.untracked.n, 1);
    assert_int_equal(r.pymalloc.n, 0);
    buf[2] = 18;
    assert_int_equal(scanmsg_decode_bytes(buf, b.len - 3, d.zone, &r), 0);
    assert_int_equal(r.untracked.n, 0);
    assert_int_equal(scanmsg_count(&r), 3);
    /* a block of pymalloc's pools: its index in the pymalloc list */
    in[1].pymalloc = 1;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), 0);
    {
        struct scanmsg_node nd;
        struct scanmsg_result *c;
        assert_int_equal(r.pymalloc.n, 1);
        assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
        assert_int_equal(nd.pymalloc, 1);
        assert_int_equal(nd.untracked, 1);
        assert_int_equal(scanmsg_node_at(&r, 2, &nd), 0);
        assert_int_equal(nd.pymalloc, 0);
        c = scanmsg_copy(&r);
        assert_non_null(c);
        assert_int_equal(scanmsg_node_at(c, 1, &nd), 0);
        assert_int_equal(nd.pymalloc, 1);
        free(c);
    }
    assert_int_equal((unsigned char)buf[b.len - 2], 0x91);
    buf[b.len - 1] = 3; /* past the nodes */
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    in[1].untracked = 0;
    in[1].pymalloc = 0;
    /* too small a buffer: nothing written */
    encode_init(&b, buf, 20);
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 3), WIRE_ENOSPACE);
    assert_int_equal(b.len, 0);
    decode_free(&d);
}

/* Python names and census rows: a round trip, then hostile variants. */
static void test_scanmsg_python(void **state)
{
    static char buf[4096];
    struct scanmsg_node in[2] = {
        {.kind = SCANMSG_HEAP,
         .addr = 0x1000,
         .size = 56,
         .py_flags = SCANMSG_PY_OBJECT,
         .py_type = {"bytearray", 9}},
        {.kind = SCANMSG_HEAP,
         .addr = 0x2000,
         .size = 72,
         .to = 0,
         .level = 1,
         .py_flags = SCANMSG_PY_OBJECT | SCANMSG_PY_MODULE,
         .py_type = {"module", 6},
         .py_via = {"instance_map", 12},
         .py_owner = {"__main__", 8}},
    };
    struct scanmsg_row rows[1] = {
        {.name = {"Processor", 9}, .count = 6, .bytes = 336, .oldest = 0x5000}};
    struct scanmsg_result r = {
        .target = 0x1000, .flags = SCANMSG_PYTHON, .levels = 1, .enc_rows = rows, .n_enc_rows = 1};
    struct scanmsg_node nd;
    struct scanmsg_row row;
    struct encode_buf b;
    struct decode d;

    (void)state;
    decode_init(&d);
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 2), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), 0);
    assert_int_equal(scanmsg_node_at(&r, 1, &nd), 0);
    assert_int_equal(nd.py_flags, SCANMSG_PY_OBJECT | SCANMSG_PY_MODULE);
    assert_int_equal(nd.py_via.len, 12);
    assert_memory_equal(nd.py_via.ptr, "instance_map", 12);
    assert_memory_equal(nd.py_owner.ptr, "__main__", 8);
    assert_int_equal(scanmsg_node_at(&r, 0, &nd), 0);
    assert_null(nd.py_via.ptr);
    assert_int_equal(scanmsg_row_count(&r), 1);
    assert_int_equal(scanmsg_row_at(&r, 0, &row), 0);
    assert_int_equal(row.count, 6);
    assert_int_equal(row.bytes, 336);
    assert_int_equal(row.oldest, 0x5000);
    /* py flags beyond the known ones are corrupt */
    in[1].py_flags = 32;
    r.enc_rows = rows;
    r.n_enc_rows = 1;
    r.flags = SCANMSG_PYTHON;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 2), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    /* a row without a name is corrupt */
    in[1].py_flags = SCANMSG_PY_OBJECT;
    rows[0].name.ptr = NULL;
    r.enc_rows = rows;
    r.n_enc_rows = 1;
    r.flags = SCANMSG_PYTHON;
    encode_init(&b, buf, sizeof(buf));
    assert_int_equal(scanmsg_encode(&b, 5, &r, in, 2), 0);
    assert_int_equal(scanmsg_decode_bytes(buf, b.len, d.zone, &r), WIRE_ECORRUPT);
    decode_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_to_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marked_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cycle_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault_drops_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_and_inbound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack_root_and_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocator_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_global, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_badheap, setup, teardown),
        cmocka_unit_test(test_scanmsg_hostile),
        cmocka_unit_test(test_scanmsg_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
