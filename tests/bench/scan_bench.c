/*
 * scan_bench.c - speed of the backreference scan (issue 4's targets: >= 5 GB/s
 * per level, the full chain of a 1 GiB heap in < 1 s, fork pause < 50 ms).
 *
 * Builds a heap of ~100 MB and of ~1 GiB in a few million blocks (16..496
 * bytes), filled with random words and two pointers per block to random
 * other blocks (so the frontier's span is full of heap pointers, as in a
 * real program), plus a known chain: target <- 4 heap blocks <- a global.
 * Then runs the engine directly (scanbfs_run, in this process) and as a real
 * job (scan_start: clone snapshot, child scan, result through the pipe) and
 * prints the figures.
 *
 * Build (make bench does it):
 *   cc -O2 -D_GNU_SOURCE -Iprotocol -Icollector tests/bench/scan_bench.c \
 *      collector/scan.c collector/scanbfs.c collector/scanroots.c collector/scansp.c \
 *      protocol/[a-z]*.c \
 *      $(pkg-config --cflags --libs msgpack libzstd) -o scan_bench
 *   scan_bench [MB...]        default: 100 1024
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "scan.h"
#include "scanbfs.h"
#include "scanmsg.h"

struct heap {
    uint64_t *addr, *size; /* mmap'd: not a root */
    size_t n;
};

void *bench_root; /* the global at the end of the chain */

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void each(void *ctx, scan_block_fn *fn, void *arg)
{
    struct heap *h = ctx;

    for (size_t i = 0; i < h->n; i++)
        fn(arg, h->addr[i], h->size[i], (uint32_t)(i % 97) + 1, (uint32_t)i);
}

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    return p;
}

/* Builds ~mb MB of blocks; returns the target. */
static uint64_t build(struct heap *h, size_t mb)
{
    size_t want = mb << 20, total = 0, cap = want / 16 + 16;
    uint64_t chain[5];

    h->addr = map(cap * 8);
    h->size = map(cap * 8);
    h->n = 0;
    while (total < want) {
        size_t sz = 16 + (rnd() % 31) * 16;
        uint64_t *p = malloc(sz);
        h->addr[h->n] = (uint64_t)(uintptr_t)p;
        h->size[h->n] = sz;
        h->n++;
        total += sz;
    }
    /* random words, then two random heap pointers per block */
    for (size_t i = 0; i < h->n; i++) {
        uint64_t *w = (uint64_t *)(uintptr_t)h->addr[i];
        for (size_t k = 0; k < h->size[i] / 8; k++)
            w[k] = rnd() & 0x0000ffffffffffffull;
        w[0] = h->addr[rnd() % h->n];
        w[1] = h->addr[rnd() % h->n] + 8;
    }
    /* the chain: target <- c1 (+16) <- c2 <- c3 <- c4 <- bench_root */
    for (int k = 0; k < 5; k++)
        chain[k] = h->addr[rnd() % h->n];
    for (int k = 1; k < 5; k++)
        ((uint64_t *)(uintptr_t)chain[k])[2] = chain[k - 1];
    bench_root = (void *)(uintptr_t)chain[4];
    /* the collector's live table hands blocks out in hash order, not by address */
    for (size_t i = h->n - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1);
        uint64_t t = h->addr[i], z = h->size[i];
        h->addr[i] = h->addr[j];
        h->size[i] = h->size[j];
        h->addr[j] = t;
        h->size[j] = z;
    }
    return chain[0];
}

static void drop(struct heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        free((void *)(uintptr_t)h->addr[i]);
    munmap(h->addr, (h->n / 1 + 16) * 8);
    munmap(h->size, (h->n / 1 + 16) * 8);
}

/* Depth of the first chain to a root, or -1. */
static int chain_depth(const struct scanbfs_node *nodes, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (nodes[i].kind != SCANBFS_HEAP)
            return (int)nodes[i].level;
    return -1;
}

static void bench(size_t mb)
{
    struct heap h;
    uint64_t target;
    struct scan_source src;
    struct scanbfs_params p = {0};
    struct scanbfs_stats st;
    struct scanbfs_root root;
    static struct scanbfs_node nodes[1 + 10 * 64 + 64];
    size_t n;
    double t0, build_s;
    const char *err = NULL;
    struct scan_job *job;
    char *buf;
    struct encode_buf b;
    struct scanmsg_result res;
    msgpack_zone zone;

    t0 = now_s();
    target = build(&h, mb);
    build_s = now_s() - t0;
    src = (struct scan_source){each, &h, h.n, NULL, 0, 0, 0};
    printf("heap %zu MB in %zu blocks (built in %.1f s)\n", mb, h.n, build_s);

    /* the engine alone, in this process */
    memset(&root, 0, sizeof(root));
    root.lo = (uint64_t)(uintptr_t)&bench_root;
    root.hi = root.lo + 8;
    root.kind = SCANBFS_GLOBAL;
    root.id = 0;
    p.target = target;
    p.max_depth = 10;
    p.max_fanout = 64;
    if (scanbfs_run(&src, &root, 1, &p, nodes, &n, &st)) {
        printf("  engine: failed\n");
        drop(&h);
        return;
    }
    printf("  engine: %" PRIu32 " levels, chain depth %d, %zu nodes\n", st.levels,
           chain_depth(nodes, n), n);
    printf("    per level: %.2f GB/s (%.1f MB a level, %.1f ms a level)\n",
           (double)st.bytes_scanned / (double)st.scan_ns,
           (double)(st.heap_bytes + st.root_bytes) / 1e6, (double)st.scan_ns / 1e6 / st.levels);
    printf("    collect+sort %zu blocks: %.1f ms\n", (size_t)st.n_blocks, st.prep_ns / 1e6);
    printf("    time to the full chain: %.1f ms (whole search %.1f ms)\n", st.first_root_ns / 1e6,
           st.duration_ns / 1e6);

    /* a real job: clone snapshot, child scan, pipe, encode (nodes[] is a
     * global of this program: cleared, or it would be a root) */
    memset(nodes, 0, sizeof(nodes));
    t0 = now_s();
    job = scan_start(&src, 1, target, 10, 64, &err);
    if (!job) {
        printf("  job: %s\n", err);
        drop(&h);
        return;
    }
    if (scan_job_wait(job, 60000) != 1) {
        printf("  job: failed\n");
        scan_job_free(job);
        drop(&h);
        return;
    }
    buf = malloc(WIRE_MAX_MESSAGE);
    encode_init(&b, buf, WIRE_MAX_MESSAGE);
    msgpack_zone_init(&zone, 65536);
    if (scan_job_encode(job, &b) == 0 && scanmsg_decode_bytes(buf, b.len, &zone, &res) == 0) {
        struct scanmsg_node nd;
        int depth = -1;
        for (uint32_t i = 1; i < scanmsg_count(&res) && depth < 0; i++)
            if (scanmsg_node_at(&res, i, &nd) == 0 && nd.kind != SCANMSG_HEAP)
                depth = (int)nd.level;
        /* the first root: nothing here names globals (the collector's
         * symbols do), and this program's own locals and statics hold the
         * target too, so the root is often one hop away */
        printf("  job (fork + scan + result): %.1f ms end to end; fork pause %.2f ms; "
               "first root %s at depth %d\n",
               (now_s() - t0) * 1e3, res.pause_ns / 1e6,
               depth < 0                   ? "none"
               : nd.kind == SCANMSG_GLOBAL ? "a global"
                                           : "a thread's stack",
               depth);
    } else {
        printf("  job: could not encode the result\n");
    }
    msgpack_zone_destroy(&zone);
    free(buf);
    scan_job_free(job);
    drop(&h);
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {100, 1024};
    int n = 2;

    if (argc > 1) {
        n = 0;
        for (int i = 1; i < argc && n < 8; i++)
            sizes[n++] = (size_t)strtoul(argv[i], NULL, 10);
    }
    printf("backreference scan benchmark (targets: >= 5 GB/s a level, full chain of 1 GiB "
           "< 1 s, fork pause < 50 ms)\n");
    for (int i = 0; i < n; i++)
        bench(sizes[i]);
    return 0;
}
