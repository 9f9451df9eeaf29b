/*
 * pymheap.c - pymalloc's allocated blocks from its pools (pymheap.h).
 *
 * Invariant: a block is yielded only from a pool whose header and whole
 * free chain add up, and only after they did: a pool is read twice, once to
 * check it, once to yield. Nothing here allocates, locks or writes to the
 * program's memory.
 */
#include "pymheap.h"

#include "faultcatch.h"
#include "procmaps.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define POOL_OVERHEAD 48u
#define SIZE_CLASSES 32u
#define MAX_BLOCKS ((PYMHEAP_POOL - POOL_OVERHEAD) / 16u)

struct header {
    uint32_t count;
    uint64_t freeblock;
    uint32_t szidx, nextoffset, maxnextoffset;
};

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* The header's fields, when they describe a pool with objects. */
static int read_header(const unsigned char *b, struct header *h)
{
    uint32_t size, carved;

    h->count = rd32(b);
    h->freeblock = rd64(b + 8);
    h->szidx = rd32(b + 36);
    h->nextoffset = rd32(b + 40);
    h->maxnextoffset = rd32(b + 44);
    if (h->count == 0 || h->szidx >= SIZE_CLASSES)
        return -1;
    size = (h->szidx + 1) * 16u;
    if (h->maxnextoffset != PYMHEAP_POOL - size || h->nextoffset < POOL_OVERHEAD + size ||
        h->nextoffset > PYMHEAP_POOL || (h->nextoffset - POOL_OVERHEAD) % size != 0)
        return -1;
    carved = (h->nextoffset - POOL_OVERHEAD) / size;
    return h->count <= carved ? 0 : -1;
}

/* Marks the free blocks in free[] (one bit a carved block). Returns 0 when
 * the chain visits exactly carved - count distinct carved blocks. */
static int mark_free(const unsigned char *b, uint64_t addr, const struct header *h, uint64_t *free)
{
    uint32_t size = (h->szidx + 1) * 16u, carved = (h->nextoffset - POOL_OVERHEAD) / size;
    uint32_t want = carved - h->count, seen = 0;
    uint64_t p = h->freeblock;

    memset(free, 0, (MAX_BLOCKS + 63) / 64 * sizeof(*free));
    while (p) {
        uint64_t off, i;

        if (p < addr + POOL_OVERHEAD || p >= addr + h->nextoffset)
            return -1;
        off = p - addr - POOL_OVERHEAD;
        if (off % size)
            return -1;
        i = off / size;
        if (free[i / 64] & (1ull << (i % 64)) || ++seen > want)
            return -1; /* a loop, or more free blocks than the count allows */
        free[i / 64] |= 1ull << (i % 64);
        p = rd64(b + POOL_OVERHEAD + off);
    }
    return seen == want ? 0 : -1;
}

int pymheap_pool(const unsigned char *bytes, uint64_t addr, pymheap_block_fn *fn, void *arg)
{
    uint64_t free[(MAX_BLOCKS + 63) / 64];
    struct header h;
    uint32_t size, carved;
    int n = 0;

    if (addr % PYMHEAP_POOL)
        return -1;
    if (rd32(bytes) == 0)
        return 0; /* empty (cached for reuse), never used, or not a pool */
    if (read_header(bytes, &h) || mark_free(bytes, addr, &h, free))
        return -1;
    size = (h.szidx + 1) * 16u;
    carved = (h.nextoffset - POOL_OVERHEAD) / size;
    for (uint32_t i = 0; i < carved; i++)
        if (!(free[i / 64] & (1ull << (i % 64)))) {
            fn(arg, addr + POOL_OVERHEAD + (uint64_t)i * size, size);
            n++;
        }
    return n;
}

/* ---- the process's own pools ---- */

#define MAX_RANGES 8192u

struct ranges {
    uint64_t (*r)[2];
    size_t n;
    uint64_t dropped;
};

/* "lo-hi rw-p offset dev inode [path]": private, writable, anonymous (no
 * path, or a name given with prctl: "[anon:...]"). */
static void take_line(char *line, size_t len, void *arg)
{
    struct ranges *rs = arg;
    unsigned long long lo = 0, hi = 0;
    char *p = line, *end = line + len;
    int field = 0;

    while (p < end && *p != '-')
        lo = lo * 16 + (unsigned)(*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10), p++;
    for (p++; p < end && *p != ' '; p++)
        hi = hi * 16 + (unsigned)(*p <= '9' ? *p - '0' : (*p | 32) - 'a' + 10);
    if (end - p < 5 || memcmp(p + 1, "rw-p", 4) != 0)
        return;
    /* past perms, offset, dev and inode to the path */
    while (p < end && field < 4) {
        while (p < end && *p == ' ')
            p++;
        while (p < end && *p != ' ')
            p++;
        field++;
    }
    while (p < end && *p == ' ')
        p++;
    if (p < end && strncmp(p, "[anon:", 6) != 0)
        return;
    if (hi <= lo)
        return;
    if (rs->n == MAX_RANGES) {
        rs->dropped++;
        return;
    }
    rs->r[rs->n][0] = lo;
    rs->r[rs->n][1] = hi;
    rs->n++;
}

/* VmSwap's answer: 1 when some of the process is swapped out (then
 * a page out of memory may still hold a pool, and every page is read). */
static int swapped(void)
{
    char buf[4096], *v;
    ssize_t n;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 1;
    buf[n] = 0;
    v = strstr(buf, "\nVmSwap:");
    if (!v)
        return 0;
    for (v += 8; *v == ' ' || *v == '\t'; v++)
        ;
    return !(v[0] == '0' && v[1] == ' ');
}

static sigjmp_buf *volatile catching;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    if (catching)
        siglongjmp(*catching, 1);
    _exit(5);
}

struct walk {
    const uint64_t *skip;
    size_t n_skip;
    pymheap_block_fn *fn;
    void *arg;
    struct pymheap_stats *st;
    unsigned char *vec; /* mincore's answers for one range, or NULL: read all */
    size_t cap_vec;
};

static int skipped(const struct walk *w, uint64_t a)
{
    for (size_t i = 0; i < w->n_skip; i++)
        if (a < w->skip[2 * i + 1] && a + PYMHEAP_POOL > w->skip[2 * i])
            return 1;
    return 0;
}

/* The pools of [lo, hi). Volatile: they survive a fault's siglongjmp. */
static void walk_range(struct walk *w, uint64_t lo, uint64_t hi)
{
    sigjmp_buf jb;
    volatile uint64_t a = (lo + PYMHEAP_POOL - 1) & ~(uint64_t)(PYMHEAP_POOL - 1);
    long page = sysconf(_SC_PAGESIZE);
    volatile int resident_only = 0;

    w->st->mapped += hi - lo;
    if (w->vec && (hi - lo) / (uint64_t)page <= w->cap_vec &&
        mincore((void *)(uintptr_t)lo, hi - lo, w->vec) == 0)
        resident_only = 1;
    if (sigsetjmp(jb, 1)) {
        w->st->faults++;
        catching = NULL;
        return;
    }
    catching = &jb;
    for (; a + PYMHEAP_POOL <= hi; a += PYMHEAP_POOL) {
        int n;

        if (resident_only && !(w->vec[(a - lo) / (uint64_t)page] & 1))
            continue; /* never written, so never a pool */
        if (skipped(w, a))
            continue;
        n = pymheap_pool((const unsigned char *)(uintptr_t)a, a, w->fn, w->arg);
        if (n < 0) {
            /* only what began like a pool counts as a bad one */
            const unsigned char *b = (const unsigned char *)(uintptr_t)a;
            uint32_t szidx = rd32(b + 36);
            if (szidx < SIZE_CLASSES && rd32(b + 44) == PYMHEAP_POOL - (szidx + 1) * 16u)
                w->st->bad++;
            continue;
        }
        if (n > 0) {
            w->st->pools++;
            w->st->blocks += (uint64_t)n;
            w->st->bytes +=
                (uint64_t)n * (rd32((const unsigned char *)(uintptr_t)a + 36) + 1) * 16u;
        }
    }
    catching = NULL;
}

int pymheap_self(const uint64_t *skip, size_t n_skip, pymheap_block_fn *fn, void *arg,
                 struct pymheap_stats *st)
{
    enum { BUF = 1 << 16, VEC = 1 << 20 };
    size_t bytes = MAX_RANGES * sizeof(uint64_t[2]) + BUF + VEC;
    struct ranges rs = {0};
    struct walk w = {skip, n_skip, fn, arg, st, NULL, 0};
    struct faultcatch fc;
    char *mem;

    memset(st, 0, sizeof(*st));
    mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    rs.r = (uint64_t(*)[2])(void *)mem;
    if (procmaps_each(mem + MAX_RANGES * sizeof(uint64_t[2]), BUF, take_line, &rs) < 0) {
        munmap(mem, bytes);
        return -1;
    }
    if (!swapped()) {
        w.vec = (unsigned char *)mem + MAX_RANGES * sizeof(uint64_t[2]) + BUF;
        w.cap_vec = VEC;
    }
    faultcatch_begin(&fc, on_fault);
    for (size_t i = 0; i < rs.n; i++)
        walk_range(&w, rs.r[i][0], rs.r[i][1]);
    faultcatch_end(&fc);
    st->dropped = rs.dropped;
    munmap(mem, bytes);
    return 0;
}
