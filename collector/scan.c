/*
 * scan.c - backreference scan jobs: snapshot by fork, search in the child,
 * name and encode in the parent.
 *
 * The child is made with a raw clone(2) with no exit signal rather than
 * fork(): no atfork handler runs on either side (the collector's and the
 * program's), glibc's malloc locks are not taken (the pause is the page-table
 * copy only), and the program never sees a SIGCHLD or a child in its own
 * waitpid(-1) (reaped here with __WALL). The child blocks every signal, dies
 * with its parent thread, calls nothing but syscalls and the malloc-free
 * engine (scanbfs), writes a flat result to a pipe and _exit()s.
 */
#include "scan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demangle.h"
#include "heaptls.h"
#include "ownmaps.h"
#include "scanbfs.h"
#include "scanheap.h"
#include "scanmsg.h"
#include "scanpy.h"
#include "scanroots.h"
#include "scansp.h"
#include "untracked.h"

_Static_assert((int)SCANBFS_HEAP == (int)SCANMSG_HEAP &&
                   (int)SCANBFS_GLOBAL == (int)SCANMSG_GLOBAL &&
                   (int)SCANBFS_STACK == (int)SCANMSG_STACK,
               "node kinds");
_Static_assert(SCANBFS_UNREACHABLE == SCANMSG_UNREACHABLE &&
                   SCANBFS_DEPTH_LIMIT == SCANMSG_DEPTH_LIMIT &&
                   SCANBFS_FANOUT_LIMIT == SCANMSG_FANOUT_LIMIT &&
                   SCANBFS_STOPPED_EARLY == SCANMSG_STOPPED_EARLY &&
                   SCANBFS_UNREADABLE == SCANMSG_UNREADABLE,
               "flags");
_Static_assert(SCANBFS_CYCLE == SCANMSG_CYCLE && SCANPY_HOP_OBJECT == SCANMSG_PY_OBJECT &&
                   SCANPY_HOP_PART == SCANMSG_PY_PART && SCANPY_HOP_MODULE == SCANMSG_PY_MODULE &&
                   SCANPY_HOP_CLASS == SCANMSG_PY_CLASS && SCANPY_HOP_FRAME == SCANMSG_PY_FRAME,
               "Python flags");

#define SCAN_CENSUS_ROWS 4096u /* types in a census */
#define SCAN_FRAME_ROOTS 4096u /* live Python frames scanned as roots */

#define SCAN_MAGIC 0x5343414eu /* "SCAN" */
#define SCAN_RETRY (-100000)   /* scan_child_hdr.status: the heap walk did not add up */

/* What the child writes: this header, then n_nodes struct scanbfs_node, then
 * n_hops (0 or n_nodes) struct scanpy_hop, then n_census rows. */
struct scan_child_hdr {
    uint32_t magic;
    int32_t status; /* 0 or -errno of scanbfs_run */
    uint32_t n_nodes;
    uint32_t n_hops;
    uint32_t n_census;
    uint32_t heap_flags; /* SCANMSG_HEAPWALK*, SCANMSG_PYMALLOC_POOLS */
    struct scanbfs_stats st;
};

struct scan_job {
    pid_t pid; /* 0 once reaped */
    int fd;
    uint32_t req_id;
    struct scanbfs_params params;
    uint64_t pause_ns;
    char *buf;
    size_t len, cap;
    int state; /* 0 running, 1 complete, negative failed */
    int32_t status;
    char err[160];
    struct scanroots roots;
    struct scansp sps; /* where the stacks of blocked threads start */
    struct scanpy py;  /* the interpreter, when the program is a known CPython */
    int pymalloc;      /* ... whose small objects are not heap blocks */
    int heap_walk;     /* scan_source.heap_walk */
    /* a heap walk that does not add up (a thread was changing the heap at
     * the snapshot) is tried on a new snapshot, SCAN_ATTEMPTS at most */
    unsigned attempt;               /* the snapshot's, from 1 */
    struct scan_source src;         /* the caller's, for a new snapshot; stacks: its own copy */
    const struct heapwalk_tls *tls; /* where the threads' tcaches are (NULL: by shape) */
};

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        c += w;
        n -= (size_t)w;
    }
}

#define SCAN_RETRY_FLAG 0x80000000u /* heap_blocks(): a new snapshot, please */

/* The blocks from glibc's heap (scanheap.h) when src asks for them, and
 * pymalloc's (pymheap.h) when the program keeps Python objects there: *src
 * then points at hsrc. Returns SCANMSG_HEAPWALK* and SCANMSG_PYMALLOC_POOLS
 * flags. Scan child. */
static uint32_t heap_blocks(const struct scan_job *job, const struct scan_source **src,
                            struct scan_source *hsrc, struct scanheap *heap)
{
    static uint64_t skip[2 * (OWNMAPS_MAX + 4)]; /* the child's own copy */
    size_t n_skip = ownmaps_copy(skip, OWNMAPS_MAX);
    unsigned walk = ((*src)->heap_walk || (*src)->heap_check ? SCANHEAP_GLIBC : 0) |
                    (job->pymalloc ? SCANHEAP_PYMALLOC : 0);
    uint32_t flags = 0;

    for (uint32_t i = 0; i < job->params.n_own; i++) {
        skip[2 * n_skip] = job->params.own[i].lo;
        skip[2 * n_skip + 1] = job->params.own[i].hi;
        n_skip++;
    }
    for (size_t i = 1; i < n_skip; i++) /* by start: insertion, a thousand at most */
        for (size_t k = i; k > 0 && skip[2 * k - 2] > skip[2 * k]; k--) {
            uint64_t lo = skip[2 * k], hi = skip[2 * k + 1];
            skip[2 * k] = skip[2 * k - 2];
            skip[2 * k + 1] = skip[2 * k - 1];
            skip[2 * k - 2] = lo;
            skip[2 * k - 1] = hi;
        }
    if (scanheap_build(heap, *src, skip, n_skip, job->tls, untracked_kind, walk) != 0)
        return SCANMSG_HEAPWALK_FAILED;
    heap->attempt = job->attempt;
    if ((walk & SCANHEAP_GLIBC) && job->attempt < SCAN_ATTEMPTS &&
        (heap->rc == HEAPWALK_ECORRUPT || heap->st.partial)) {
        if ((*src)->heap_check)
            scanheap_retry_line(heap, 2);
        return SCAN_RETRY_FLAG;
    }
    if ((*src)->heap_check)
        scanheap_check(heap, 2, untracked_kind);
    if (heap->py_rc == 0)
        flags |=
            SCANMSG_PYMALLOC_POOLS |
            (heap->py.bad || heap->py.faults || heap->py.dropped ? SCANMSG_HEAPWALK_PARTIAL : 0);
    if ((*src)->heap_walk) {
        if (heap->rc)
            return flags | SCANMSG_HEAPWALK_FAILED;
        flags |= SCANMSG_HEAPWALK | (heap->st.partial ? SCANMSG_HEAPWALK_PARTIAL : 0);
    } else if (heap->py_rc != 0) {
        return flags; /* the table alone, as without the walk */
    }
    *hsrc = **src;
    hsrc->for_each_block = scanheap_each;
    hsrc->ctx = heap;
    hsrc->n_blocks = heap->n_all;
    *src = hsrc;
    return flags;
}

/* The scan child. Never returns. */
static void scan_child(struct scan_job *job, const struct scan_source *src, int wfd, pid_t parent)
{
    static const int fatal[] = {SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    struct scan_child_hdr hdr;
    struct scan_source hsrc;
    struct scanheap heap;
    struct scanbfs_root *roots;
    struct scanbfs_node *nodes;
    struct scanpy_hop *hops = NULL;
    struct scanpy_census_row *rows = NULL;
    struct sigaction sa;
    sigset_t all;
    size_t cap_roots = job->roots.n_roots * 4 + 16 + SCAN_FRAME_ROOTS, n_roots, n_nodes = 0;
    size_t cap_nodes = scanbfs_max_nodes(&job->params);

    sigfillset(&all);
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, NULL, (size_t)_NSIG / 8);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
        sigaction(fatal[i], &sa, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(4);

    memset(&hdr, 0, sizeof(hdr));
    hdr.magic = SCAN_MAGIC;
    roots = mmap(NULL, cap_roots * sizeof(*roots), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    nodes = mmap(NULL, cap_nodes * sizeof(*nodes), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (job->py.lay) {
        void *h = mmap(NULL, cap_nodes * sizeof(*hops), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        void *c = mmap(NULL, SCAN_CENSUS_ROWS * sizeof(*rows), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (h != MAP_FAILED && c != MAP_FAILED && scanpy_begin(&job->py) == 0) {
            hops = h;
            rows = c;
            job->params.py = &job->py;
            job->params.hops = hops;
            job->params.census = rows;
            job->params.cap_census = SCAN_CENSUS_ROWS;
            job->params.own[1].lo = (uint64_t)(uintptr_t)hops;
            job->params.own[1].hi = (uint64_t)(uintptr_t)(hops + cap_nodes);
            job->params.own[2].lo = (uint64_t)(uintptr_t)rows;
            job->params.own[2].hi = (uint64_t)(uintptr_t)(rows + SCAN_CENSUS_ROWS);
            job->params.own[3].lo = (uint64_t)(uintptr_t)job->py.cache;
            /* exactly its mapping: 4 MiB took the blocks of the mapping
             * above it for the scan's own (a large dict's table, mmap'ed: a
             * chain lost; a thread's arena heap: a census without its
             * objects) */
            job->params.own[3].hi = job->params.own[3].lo + scanpy_cache_bytes();
        }
    }
    if (roots == MAP_FAILED || nodes == MAP_FAILED) {
        hdr.status = -ENOMEM;
    } else if (job->params.target == 0 && !job->params.py) {
        hdr.status = -ENOTSUP; /* a census needs a known Python */
    } else {
        job->params.own[0].lo = (uint64_t)(uintptr_t)roots;
        job->params.own[0].hi = (uint64_t)(uintptr_t)(roots + cap_roots);
        job->params.n_own = job->params.py ? 4 : 1;
        /* our copy of the roots: the parent names hops from the whole ranges */
        scansp_apply(&job->sps, job->roots.roots, job->roots.n_roots, 5000);
        n_roots = scanroots_clip(job->roots.roots, job->roots.n_roots, roots, cap_roots);
        if (job->params.py)
            n_roots =
                scanpy_frame_roots(&job->py, src->stacks, src->n_stacks, roots, n_roots, cap_roots);
        uint64_t walk_ns = mono_ns();
        if (src->heap_walk || src->heap_check || job->pymalloc)
            hdr.heap_flags = heap_blocks(job, &src, &hsrc, &heap);
        walk_ns = mono_ns() - walk_ns;
        if (hdr.heap_flags & SCAN_RETRY_FLAG) {
            hdr.heap_flags = 0;
            hdr.status = SCAN_RETRY;
            write_all(wfd, &hdr, sizeof(hdr));
            _exit(0);
        }
        hdr.status = scanbfs_run(src, roots, n_roots, &job->params, nodes, &n_nodes, &hdr.st);
        /* the heap walk is part of collecting the blocks */
        hdr.st.prep_ns += walk_ns;
        hdr.st.duration_ns += walk_ns;
        if (hdr.st.first_root_ns)
            hdr.st.first_root_ns += walk_ns;
    }
    hdr.n_nodes = hdr.status == 0 ? (uint32_t)n_nodes : 0;
    hdr.n_hops = hops ? hdr.n_nodes : 0;
    hdr.n_census = hdr.status == 0 && job->params.target == 0 ? (uint32_t)job->params.n_census : 0;
    write_all(wfd, &hdr, sizeof(hdr));
    if (hdr.n_nodes)
        write_all(wfd, nodes, n_nodes * sizeof(*nodes));
    if (hdr.n_hops)
        write_all(wfd, hops, hdr.n_hops * sizeof(*hops));
    if (hdr.n_census)
        write_all(wfd, rows, hdr.n_census * sizeof(*rows));
    _exit(0);
}

/* The interpreter's own module (the one whose data holds PyType_Type): its
 * writable data is the interpreter's bookkeeping, not a Python holder. */
static void mark_interpreter(struct scanroots *r, uint64_t type_type)
{
    for (size_t i = 0; i < r->n_roots; i++) {
        const struct scanbfs_root *t = &r->roots[i];
        if (t->kind != SCANBFS_GLOBAL || type_type < t->lo || type_type >= t->hi)
            continue;
        for (size_t k = 0; k < r->n_roots; k++)
            if (r->roots[k].kind == SCANBFS_GLOBAL && r->roots[k].id == t->id)
                r->roots[k].flags |= SCANBFS_ROOT_INTERP;
        return;
    }
}

/* A new snapshot: a child of this moment, its pipe on job->fd (the same
 * number as the last one's). 0, or -1 with *err. */
static int snapshot(struct scan_job *job, const char **err)
{
    int fds[2];
    uint64_t t0, pause;
    pid_t parent = getpid();
    long pid;

    if (pipe2(fds, O_CLOEXEC)) {
        *err = "scan: pipe failed";
        return -1;
    }
    if (job->fd >= 0) { /* the one the caller polls */
        if (dup3(fds[0], job->fd, O_CLOEXEC) < 0) {
            close(fds[0]);
            close(fds[1]);
            *err = "scan: pipe failed";
            return -1;
        }
        close(fds[0]);
        fds[0] = job->fd;
    }
    job->attempt++;
    job->len = 0;
    if (job->attempt > 1)
        scansp_free(&job->sps);
    /* right before the snapshot: the threads blocked now most likely still
     * are at the clone; scansp_settle() checks that they were */
    scansp_begin(&job->sps, job->src.stacks, job->src.n_stacks);
    t0 = mono_ns();
    pid = syscall(SYS_clone, 0L /* no exit signal */, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(fds[0]);
        scan_child(job, &job->src, fds[1], parent);
    }
    pause = mono_ns() - t0;
    if (pause > job->pause_ns)
        job->pause_ns = pause; /* the longest of the snapshots */
    scansp_settle(&job->sps);  /* the child waits for it before it scans */
    close(fds[1]);
    job->fd = fds[0];
    if (pid < 0) {
        *err = "scan: fork failed";
        return -1;
    }
    job->pid = (pid_t)pid;
    fcntl(job->fd, F_SETFL, fcntl(job->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

struct scan_job *scan_start(const struct scan_source *src, uint32_t req_id, uint64_t target,
                            uint32_t max_depth, uint32_t max_fanout, const char **err)
{
    struct scan_job *job;
    char here;

    if (!src || !src->for_each_block) {
        *err = "scan: no block source";
        return NULL;
    }
    job = calloc(1, sizeof(*job));
    if (!job) {
        *err = "scan: out of memory";
        return NULL;
    }
    job->fd = -1;
    job->req_id = req_id;
    job->heap_walk = src->heap_walk;
    job->params.target = target;
    job->params.max_depth = max_depth ? max_depth : 10;
    job->params.max_fanout = max_fanout ? max_fanout : 64;
    job->params.max_roots = job->params.max_fanout;
    job->params.extra_levels = 0; /* shortest chains only */
    job->params.catch_faults = 1; /* set in the child only: scan_child() runs the search */
    /* this thread's stack is the collector's (the child runs on a copy of it):
     * what it holds is the request, not the program's references */
    for (size_t i = 0; i < src->n_stacks; i++) {
        uint64_t a = (uint64_t)(uintptr_t)&here;
        if (a >= src->stacks[i].lo && a < src->stacks[i].hi) {
            job->params.skip_lo = src->stacks[i].lo;
            job->params.skip_hi = src->stacks[i].hi;
        }
    }
    if (scanroots_collect(&job->roots, src->stacks, src->n_stacks)) {
        free(job);
        *err = "scan: out of memory";
        return NULL;
    }
    if (scanpy_detect(&job->py) == 0) {
        /* the allocator is chosen at start-up from this variable: with
         * pymalloc (the default) small objects live in its pools, not in
         * heap blocks: the scan child reads them from the pools (pymheap.h) */
        const char *alloc = getenv("PYTHONMALLOC");
        job->pymalloc =
            !alloc || (strcmp(alloc, "malloc") != 0 && strcmp(alloc, "malloc_debug") != 0);
        mark_interpreter(&job->roots, job->py.types[SCANPY_TYPE]);
        /* a Python hop is up to two blocks (a list and its items, a dict and
         * its keys, an instance and its values): the depth counts Python hops */
        job->params.max_depth *= 2;
    } else if (target == 0) {
        *err = job->py.version
                   ? "census: this CPython version has no layout in heapline (3.11 has)"
                   : "census: not a Python program (the census reads CPython 3.11's objects)";
        scanroots_free(&job->roots);
        free(job);
        return NULL;
    }
    if (src->heap_walk || src->heap_check)
        job->tls = heaptls_find(NULL);
    job->src = *src;
    job->src.stacks = NULL;
    if (src->n_stacks) {
        struct scan_range *copy = malloc(src->n_stacks * sizeof(*copy));
        if (!copy) {
            scan_job_free(job);
            *err = "scan: out of memory";
            return NULL;
        }
        memcpy(copy, src->stacks, src->n_stacks * sizeof(*copy));
        job->src.stacks = copy;
    }
    if (snapshot(job, err) != 0) {
        scan_job_free(job);
        return NULL;
    }
    return job;
}

int scan_job_fd(const struct scan_job *job)
{
    return job->fd;
}

static void reap(struct scan_job *job, int *wstatus)
{
    *wstatus = 0;
    if (job->pid > 0) {
        while (waitpid(job->pid, wstatus, __WALL) < 0 && errno == EINTR)
            ;
        job->pid = 0;
    }
}

static int fail(struct scan_job *job, int32_t status, const char *msg)
{
    job->state = -1;
    job->status = status;
    snprintf(job->err, sizeof(job->err), "%s", msg);
    return -1;
}

int scan_job_read(struct scan_job *job)
{
    const struct scan_child_hdr *hdr;
    int wstatus;

    if (job->state != 0)
        return job->state > 0 ? 1 : -1;
    for (;;) {
        ssize_t got;
        if (job->cap - job->len < 65536) {
            size_t cap = job->cap ? job->cap * 2 : 65536 * 2;
            char *n = realloc(job->buf, cap);
            if (!n)
                return fail(job, -ENOMEM, "scan: out of memory");
            job->buf = n;
            job->cap = cap;
        }
        got = read(job->fd, job->buf + job->len, job->cap - job->len);
        if (got > 0) {
            job->len += (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        break; /* EOF or error */
    }
    reap(job, &wstatus);
    hdr = (const struct scan_child_hdr *)(void *)job->buf;
    if (job->len < sizeof(*hdr) || hdr->magic != SCAN_MAGIC) {
        char msg[96];
        if (WIFSIGNALED(wstatus))
            snprintf(msg, sizeof(msg), "scan: the scan process died of signal %d",
                     WTERMSIG(wstatus));
        else
            snprintf(msg, sizeof(msg), "scan: the scan process failed");
        return fail(job, -EIO, msg);
    }
    if (hdr->status == SCAN_RETRY) { /* the walk did not add up: a new snapshot */
        const char *err = NULL;
        if (job->attempt >= SCAN_ATTEMPTS || snapshot(job, &err) != 0)
            return fail(job, -EIO, err ? err : "scan: a retry past the last snapshot");
        return 0;
    }
    if (hdr->status == -ENOENT) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no live block at 0x%llx",
                 (unsigned long long)job->params.target);
        return fail(job, -ENOENT, msg);
    }
    if (hdr->status == -ENOTSUP)
        return fail(job, -ENOTSUP, "census: the scan process could not map its tables");
    if (hdr->status != 0)
        return fail(job, hdr->status, "scan: out of memory in the scan process");
    if (job->len != sizeof(*hdr) + (size_t)hdr->n_nodes * sizeof(struct scanbfs_node) +
                        (size_t)hdr->n_hops * sizeof(struct scanpy_hop) +
                        (size_t)hdr->n_census * sizeof(struct scanpy_census_row) ||
        (hdr->n_nodes == 0 && job->params.target != 0) ||
        (hdr->n_hops != 0 && hdr->n_hops != hdr->n_nodes))
        return fail(job, -EIO, "scan: truncated result");
    job->state = 1;
    return 1;
}

/* A child's fixed-size name as a wire string (nil when empty). */
static struct wire_str wstr_of(const char *s, size_t cap)
{
    struct wire_str w = {NULL, 0};

    if (s[0]) {
        w.ptr = s;
        w.len = (uint32_t)strnlen(s, cap);
    }
    return w;
}

/* Fills out[] from the child's nodes, naming globals and stacks. names holds
 * 256 bytes per node. */
static void name_nodes(const struct scan_job *job, const struct scanbfs_node *in,
                       const struct scanpy_hop *hops, size_t n, struct scanmsg_node *out,
                       char *names)
{
    const struct scanroots *r = &job->roots;

    for (size_t i = 0; i < n; i++) {
        const struct scanbfs_node *s = &in[i];
        struct scanmsg_node *d = &out[i];

        memset(d, 0, sizeof(*d));
        d->kind = s->kind;
        d->addr = s->addr;
        d->size = s->size;
        d->offset = s->offset;
        d->to = s->to;
        d->interior = s->interior;
        d->id = s->id;
        d->inbound = s->inbound;
        d->level = s->level;
        if (s->kind == SCANBFS_HEAP && s->id == SCAN_STACK_NONE) {
            d->untracked = 1; /* from glibc's heap: never seen allocated */
            d->id = 0;
        } else if (s->kind == SCANBFS_HEAP && s->id == SCAN_STACK_PYMALLOC) {
            d->untracked = 1; /* from pymalloc's pools: never a malloc call */
            d->pymalloc = 1;
            d->id = 0;
        }
        if (hops) {
            const struct scanpy_hop *h = &hops[i];
            d->py_flags = h->flags;
            d->py_type = wstr_of(h->type, sizeof(h->type));
            d->py_via = wstr_of(h->via, sizeof(h->via));
            d->py_owner = wstr_of(h->owner, sizeof(h->owner));
        }
        if (s->kind == SCANBFS_GLOBAL && s->id < r->n_mods) {
            const struct scanroots_module *m = &r->mods[s->id];
            char *sym = names + i * 256;
            uint64_t start;
            d->module.ptr = m->path;
            d->module.len = (uint32_t)strlen(m->path);
            d->module_offset = s->addr - m->base;
            d->offset = d->module_offset;
            if (scanroots_symbol(m->path, d->module_offset, sym, 256, &start) == 0) {
                demangle_in_place(sym, 256); /* _ZL9g_results: g_results */
                d->symbol.ptr = sym;
                d->symbol.len = (uint32_t)strlen(sym);
                d->offset = d->module_offset - start;
            }
        } else if (s->kind == SCANBFS_STACK) {
            for (size_t k = 0; k < r->n_roots; k++)
                if (r->roots[k].kind == SCANBFS_STACK && s->addr >= r->roots[k].lo &&
                    s->addr < r->roots[k].hi)
                    d->offset = s->addr - r->roots[k].lo;
            d->live_frame = (uint32_t)scansp_cut(&job->sps, s->id);
        }
    }
}

int scan_job_encode(struct scan_job *job, struct encode_buf *b)
{
    const struct scan_child_hdr *hdr;
    struct scanmsg_result res;
    struct scanmsg_node *nodes;
    const struct scanbfs_node *in;
    const struct scanpy_hop *hops;
    const struct scanpy_census_row *crow;
    struct scanmsg_row *rows = NULL;
    char *names;
    size_t n;
    int rc;

    if (job->state == 0)
        fail(job, -EAGAIN, "scan: not finished");
    if (job->state < 0)
        return encode_resp_error(b, job->req_id, job->status, job->err);
    hdr = (const struct scan_child_hdr *)(void *)job->buf;
    n = hdr->n_nodes;
    in = (const struct scanbfs_node *)(const void *)(job->buf + sizeof(*hdr));
    hops = (const struct scanpy_hop *)(const void *)(in + n);
    memset(&res, 0, sizeof(res));
    if (n == 0) { /* a census: node 0 is empty */
        static const struct scanbfs_node none = {.kind = SCANBFS_HEAP};
        n = 1;
        in = &none;
        hops = NULL;
        res.flags |= SCANMSG_CENSUS;
        crow = (const struct scanpy_census_row *)(const void *)(job->buf + sizeof(*hdr));
        rows = calloc(hdr->n_census ? hdr->n_census : 1, sizeof(*rows));
        if (!rows)
            return encode_resp_error(b, job->req_id, -ENOMEM, "scan: out of memory");
        for (size_t i = 0; i < hdr->n_census; i++) {
            rows[i].name = wstr_of(crow[i].name, sizeof(crow[i].name));
            rows[i].count = crow[i].count;
            rows[i].bytes = crow[i].bytes;
            rows[i].oldest = crow[i].oldest;
        }
        res.enc_rows = rows;
        res.n_enc_rows = hdr->n_census;
    }
    nodes = calloc(n, sizeof(*nodes));
    names = calloc(n, 256);
    if (!nodes || !names) {
        free(nodes);
        free(names);
        free(rows);
        return encode_resp_error(b, job->req_id, -ENOMEM, "scan: out of memory");
    }
    name_nodes(job, in, hdr->n_hops ? hops : NULL, n, nodes, names);
    res.flags |= hdr->st.flags | hdr->heap_flags;
    if (job->py.lay)
        res.flags |=
            SCANMSG_PYTHON |
            (job->pymalloc && !(res.flags & SCANMSG_PYMALLOC_POOLS) ? SCANMSG_PYMALLOC : 0);
    /* blocks left unseen (pymalloc's, a heap that could not be walked or
     * was changing): no holder found is no proof that none exists */
    if (res.flags & (SCANMSG_PYMALLOC | SCANMSG_HEAPWALK_FAILED | SCANMSG_HEAPWALK_PARTIAL))
        res.flags &= ~(SCANMSG_UNREACHABLE | SCANMSG_CYCLE);
    res.target = job->params.target;
    res.flags |= (job->heap_walk & SCAN_SAMPLED ? SCANMSG_SAMPLED : 0) |
                 (job->heap_walk & SCAN_ATTACHED ? SCANMSG_ATTACHED : 0);
    res.levels = hdr->st.levels;
    res.duration_ns = hdr->st.duration_ns;
    res.bytes_scanned = hdr->st.bytes_scanned;
    res.pause_ns = job->pause_ns;
    res.n_blocks = hdr->st.n_blocks;
    res.heap_bytes = hdr->st.heap_bytes;
    res.prep_ns = hdr->st.prep_ns;
    res.chain_ns = hdr->st.first_root_ns;
    /* too big for the caller's buffer: keep a prefix (still a valid tree) */
    while ((rc = scanmsg_encode(b, job->req_id, &res, nodes, n)) == WIRE_ENOSPACE && n > 1) {
        n /= 2;
        res.flags |= SCANMSG_FANOUT_LIMIT;
    }
    free(nodes);
    free(names);
    free(rows);
    return rc;
}

void scan_job_free(struct scan_job *job)
{
    int wstatus;

    if (!job)
        return;
    if (job->pid > 0)
        kill(job->pid, SIGKILL);
    reap(job, &wstatus);
    if (job->fd >= 0)
        close(job->fd);
    free(job->buf);
    free((void *)job->src.stacks);
    scanroots_free(&job->roots);
    scansp_free(&job->sps);
    free(job);
}

unsigned scan_job_attempts(const struct scan_job *job)
{
    return job->attempt;
}

int scan_job_wait(struct scan_job *job, int timeout_ms)
{
    uint64_t end = mono_ns() + (uint64_t)timeout_ms * 1000000u;
    int rc;

    while ((rc = scan_job_read(job)) == 0) {
        struct pollfd p = {job->fd, POLLIN, 0};
        uint64_t now = mono_ns();
        if (now >= end)
            return 0;
        poll(&p, 1, (int)((end - now) / 1000000u) + 1);
    }
    return rc;
}
