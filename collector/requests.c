/*
 * requests.c - the clients' requests: objects of some stacks, a read of a
 * block, a backreference scan or census.
 *
 * Invariant: nothing here makes the program wait on a client. Every request
 * is answered from work done in steps of at most SERVER_TURN_NS per
 * collector turn, and a quarter of the collector's time in the long run
 * (objects and containing-block lookups walk the live table a slice at a
 * time); scans run in forked children, at most max_scans at once, with
 * SERVER_SCANS_WAITING more queued. A request about the heap (objects,
 * scan, census) waits until the collector's own drain passes, bounded per
 * turn (drain.c), have applied every event up to its arrival: it is
 * answered from the heap as it was when asked, and catching up adds
 * nothing to a turn. A client is served one request at a time: its next
 * request is read once the last is answered, so a client that never reads
 * its replies holds one reply, not thousands.
 */
#include "requests.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clients.h"
#include "collect.h"
#include "core.h"
#include "drain.h"
#include "live.h"
#include "ring.h"
#include "sample.h"
#include "wire.h"

/* A request may not pass SERVER_REQUEST_MAX bytes. */
#define SERVER_REQUEST_MAX (128u << 10)
/* Objects in one answer (the TUI's objects view asks 10000; the answer's
 * total says how many there are): an objects job holds 16 bytes a block
 * while it walks and 48 when it answers. */
#define SERVER_MAX_OBJECTS 10000u
/* Time: request work per collector turn, and in the long run a quarter of
 * the time at most (of one core: the collector thread's); live-table slots
 * walked between two looks at the clock. */
#define SERVER_TURN_NS 1000000
#define SERVER_WORK_SHARE 4
#define SERVER_WALK_STEP 8192u
/* Scans: forked children at once, and requests waiting for one. */
#define SERVER_MAX_SCANS 2 /* on 4 CPUs or more; 1 below (a scan takes a CPU) */
#define SERVER_SCANS_WAITING 30
/* A request waits at most this long for the collector to catch up with
 * its time; past that it is answered from the table as it is. */
#define SERVER_CATCH_UP_NS 1000000000

/* The scan engine may not be linked in: call it through weak references. */
extern struct scan_job *scan_start(const struct scan_source *src, uint32_t req_id, uint64_t target,
                                   uint32_t max_depth, uint32_t max_fanout, const char **err)
    __attribute__((weak));
extern int scan_job_fd(const struct scan_job *job) __attribute__((weak));
extern int scan_job_read(struct scan_job *job) __attribute__((weak));
extern int scan_job_encode(struct scan_job *job, struct encode_buf *b) __attribute__((weak));
extern void scan_job_free(struct scan_job *job) __attribute__((weak));

/* A block selected for an objects answer. 24 bytes rather than a whole
 * wire_object: the heap's sifts were cache misses (a 100000-object request
 * on 300k blocks took 3x longer with 48-byte items). The sequence number
 * orders blocks of one time (an old block's time is its epoch's, live.h)
 * and tells the block from a later one at its address when it is checked:
 * its time may read coarser by then. */
struct sel_key {
    int64_t time;
    uint64_t seq; /* mod 2^40 */
    uint64_t addr;
};

static uint64_t job_order;
static int work_left;                      /* request work is waiting: do not sleep in poll */
static int64_t work_tokens, work_refilled; /* ns of request work allowed now */
static int max_scans = 1;                  /* scan children at once */
static int64_t longest_work;               /* CPU ns: the longest requests_work (HEAPLINE_STATS) */

void requests_init(void)
{
    max_scans = sysconf(_SC_NPROCESSORS_ONLN) >= 4 ? SERVER_MAX_SCANS : 1;
}

int requests_busy(void)
{
    return work_left;
}

int64_t requests_longest_ns(void)
{
    return longest_work;
}

size_t requests_held(const struct requests_job *j)
{
    return j->cap_sel * sizeof(struct sel_key) +
           (j->out ? j->n_sel * sizeof(struct wire_object) : 0) + j->n_ids * sizeof(uint32_t);
}

int requests_scan_fd(const struct client *c)
{
    return c->scan ? scan_job_fd(c->scan) : -1;
}

void requests_drop(struct client *c)
{
    if (c->scan && scan_job_free)
        scan_job_free(c->scan);
    c->scan = NULL;
    requests_end(&c->job);
}

void requests_atfork_child(void)
{
    work_left = 0;
    longest_work = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Older first: by time, then sequence number. */
static int obj_before(const struct sel_key *x, const struct sel_key *y)
{
    return x->time != y->time ? x->time < y->time : x->seq < y->seq;
}

/* The max-heap of the selection (the newest kept block on top). */
static void sift_down(struct sel_key *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;

        if (l < n && obj_before(&h[m], &h[l]))
            m = l;
        if (l + 1 < n && obj_before(&h[m], &h[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        struct sel_key t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(struct sel_key *h, size_t i)
{
    while (i > 0 && obj_before(&h[(i - 1) / 2], &h[i])) {
        struct sel_key t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void obj_cb(void *arg, const struct live_entry *e)
{
    struct requests_job *j = arg;
    uint32_t stack = live_stack(e);
    struct sel_key o;

    if (!bsearch(&stack, j->ids, j->n_ids, sizeof(uint32_t), cmp_u32))
        return;
    j->total++;
    o = (struct sel_key){live_time(e), live_seq(e), live_addr(e)};
    if (j->n_sel < j->max_sel) {
        if (j->n_sel == j->cap_sel) {
            size_t cap = j->cap_sel ? j->cap_sel * 2 : 256;
            void *p;

            if (cap > j->max_sel)
                cap = j->max_sel;
            p = realloc(j->sel, cap * sizeof(*j->sel));
            if (!p)
                return;
            j->sel = p;
            j->cap_sel = cap;
        }
        j->sel[j->n_sel] = o;
        sift_up(j->sel, j->n_sel++);
    } else if (j->max_sel && obj_before(&o, &j->sel[0])) {
        j->sel[0] = o;
        sift_down(j->sel, j->n_sel, 0);
    }
}

static void find_cb(void *arg, const struct live_entry *e)
{
    struct requests_job *j = arg;

    uint64_t a = live_addr(e), size = live_size(e);

    if (!j->found && j->addr >= a && j->addr - a < (size ? size : 1))
        j->found = a;
}

/* Queues a reply. Returns -1 when the client was dropped (out of memory). */
static int reply(int i, struct encode_buf *b)
{
    if (b->len &&
        clients_queue_put(&clients_list[i]->replies, &clients_reply_bytes, b->data, b->len) < 0) {
        clients_drop(i);
        return -1;
    }
    return 0;
}

void requests_end(struct requests_job *j)
{
    free(j->ids);
    free(j->sel);
    free(j->out);
    memset(j, 0, sizeof(*j));
}

static void answer_read(int i, uint32_t req_id, const struct live_entry *e, uint32_t len)
{
    struct encode_buf *b = collect_scratch();
    char bytes[WIRE_MAX_READ];
    uint64_t addr = live_addr(e), size = live_size(e);

    if (len > WIRE_MAX_READ)
        len = WIRE_MAX_READ;
    if (len > size)
        len = (uint32_t)size;
    /* process_vm_readv: the program may have freed (and unmapped) the block
     * since; a fault is then an error, not a crash */
    struct iovec local = {bytes, len}, remote = {(void *)(uintptr_t)addr, len};
    if (len && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)len)
        encode_resp_error(b, req_id, -EFAULT, "block no longer readable");
    else
        encode_resp_read(b, req_id, addr, size, bytes, len);
    reply(i, b);
}

static void answer_error(int i, uint32_t req_id, int32_t status, const char *msg)
{
    struct encode_buf *b = collect_scratch();

    encode_resp_error(b, req_id, status, msg);
    reply(i, b);
}

/* The live block containing addr when it starts at most 4 KB before it
 * (256 lookups at the 16-byte steps malloc aligns blocks to). NULL with
 * *none set when the nearest block before ends before addr (blocks do not
 * overlap: nothing contains it); NULL alone when a walk of the table must
 * tell. */
static struct live_entry *find_near(uint64_t addr, int *none)
{
    *none = 0;
    for (uint64_t k = 0, a = addr & ~15ull; k < 256 && a >= 16 * k; k++) {
        struct live_entry *e = live_find(a - 16 * k);

        if (e) {
            uint64_t size = live_size(e);

            *none = addr - live_addr(e) >= (size ? size : 1);
            return *none ? NULL : e;
        }
    }
    return NULL;
}

static int scans_running(void)
{
    int n = 0;

    for (int i = 0; i < clients_n; i++)
        n += clients_list[i]->scan != NULL;
    return n;
}

static int scans_asked(void)
{
    int n = 0;

    for (int i = 0; i < clients_n; i++) {
        const struct requests_job *j = &clients_list[i]->job;

        n += clients_list[i]->scan != NULL || j->kind == JOB_SCAN;
    }
    return n;
}

/* Takes one request: answers it at once when that is cheap (a read of a
 * block start, an error), else makes it the client's job. */
static void take_request(int i, const struct wire_msg *m)
{
    struct client *c = clients_list[i];
    struct requests_job *j = &c->job;
    uint32_t id = m->u.request.id;

    switch (m->u.request.kind) {
    case WIRE_REQ_OBJECTS: {
        size_t n = 0, max = m->u.request.max;

        j->ids = malloc((m->u.request.stacks.n + 1) * sizeof(uint32_t));
        if (!j->ids) {
            answer_error(i, id, -ENOMEM, "out of memory");
            return;
        }
        for (uint32_t k = 0; k < m->u.request.stacks.n; k++)
            if (decode_u32_at(&m->u.request.stacks, k, WIRE_MAX_STACK_ID, &j->ids[n]) == 1)
                n++;
        qsort(j->ids, n, sizeof(*j->ids), cmp_u32);
        j->n_ids = n;
        j->max_sel = max > SERVER_MAX_OBJECTS ? SERVER_MAX_OBJECTS : max;
        j->kind = JOB_OBJECTS;
        j->asked_ns = core_now();
        break;
    }
    case WIRE_REQ_READ: {
        int none;
        struct live_entry *e = find_near(m->u.request.addr, &none);

        if (e) {
            answer_read(i, id, e, m->u.request.len);
            return;
        }
        if (none) {
            answer_error(i, id, -EFAULT, "not inside a live block");
            return;
        }
        j->kind = JOB_FIND;
        break;
    }
    case WIRE_REQ_SCAN: {
        if (!scan_start || !scan_job_fd || !scan_job_read || !scan_job_encode || !scan_job_free) {
            answer_error(i, id, -ENOSYS, "scan engine not available");
            return;
        }
        if (scans_asked() >= max_scans + SERVER_SCANS_WAITING) {
            char msg[80];

            snprintf(msg, sizeof(msg),
                     "too many scans at once (%d running, %d waiting): try again later", max_scans,
                     SERVER_SCANS_WAITING);
            answer_error(i, id, -EBUSY, msg);
            return;
        }
        /* the scan child finds the block around the address itself (by
         * binary search in the blocks of its snapshot), after the collector
         * has applied every event up to the request (behind()): walking
         * the table here for an address it lacks took 10 s and more in an
         * attached run, whose table misses the blocks from before */
        j->kind = JOB_SCAN; /* address 0: the census (wire.h) */
        j->asked_ns = core_now();
        break;
    }
    default:
        answer_error(i, id, -EINVAL, "unknown request");
        return;
    }
    j->req_id = id;
    j->kind_req = m->u.request.kind;
    j->addr = m->u.request.addr;
    j->len = m->u.request.len;
    j->depth = m->u.request.max_depth;
    j->fanout = m->u.request.max_fanout;
    j->order = ++job_order;
    j->gen = live_generation();
}

int requests_can_take(const struct client *c)
{
    return c->job.kind == JOB_NONE && !c->scan && c->replies.bytes < SERVER_REPLY_SOFT;
}

/* Takes the client's requests already received while it may have more. */
static void client_decode(int i)
{
    struct client *c = clients_list[i];
    struct wire_msg m;
    int rc = 1;

    if (c->starved)
        return;
    while (requests_can_take(c) && (rc = decode_next(&c->dec, &m)) == 1) {
        if (m.type != WIRE_REQUEST)
            continue;
        take_request(i, &m);
        if (i >= clients_n || clients_list[i] != c)
            return; /* dropped */
    }
    c->starved = rc == WIRE_ENEEDMORE;
    if ((rc < 0 && rc != WIRE_ENEEDMORE) || c->dec.len - c->dec.off > SERVER_REQUEST_MAX)
        clients_drop(i); /* a corrupt request stream, or a request too large */
}

void requests_read(int i)
{
    struct client *c = clients_list[i];
    char buf[16384];
    ssize_t r;

    if (!fdid_same(c->fd, &c->id)) {
        clients_drop(i);
        return;
    }
    r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
        clients_drop(i);
        return;
    }
    if (r < 0)
        return;
    c->starved = 0;
    if (decode_feed(&c->dec, buf, (size_t)r) < 0) {
        clients_drop(i);
        return;
    }
    client_decode(i);
}

static void scan_blocks(void *ctx, scan_block_fn *fn, void *arg);

struct scan_walk {
    scan_block_fn *fn;
    void *arg;
};

static void scan_block_cb(void *arg, const struct live_entry *e)
{
    struct scan_walk *w = arg;

    w->fn(w->arg, live_addr(e), live_size(e), live_stack(e), (uint32_t)live_seq(e));
}

static void scan_blocks(void *ctx, scan_block_fn *fn, void *arg)
{
    struct scan_walk w = {fn, arg};

    live_foreach(scan_block_cb, &w);
}

static void start_scan(int i)
{
    struct client *c = clients_list[i];
    struct requests_job *j = &c->job;
    struct scan_source src = {0};
    struct scan_range *stacks = NULL;
    size_t n = 0, cap = 0;
    const char *err = NULL;

    for (struct ring *r = ring_list(); r; r = r->next) {
        if (atomic_load(&r->dead) || !r->stack_hi)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            void *p = realloc(stacks, cap * sizeof(*stacks));
            if (!p)
                break;
            stacks = p;
        }
        stacks[n++] = (struct scan_range){r->stack_lo, r->stack_hi, r->thread_id, r->tid};
    }
    src.for_each_block = scan_blocks;
    src.ctx = NULL;
    src.n_blocks = live_count();
    /* a sampled or attached run's table misses blocks: chains through them
     * would be cut */
    src.heap_walk = (sample_on() ? SCAN_SAMPLED : 0) | (core_cfg.attached ? SCAN_ATTACHED : 0);
    src.heap_check = core_cfg.heap_check;
    src.stacks = stacks;
    src.n_stacks = n;
    core_scan_fork_enter();
    c->scan = scan_start(&src, j->req_id, j->addr, j->depth, j->fanout, &err);
    c->scan_req = j->req_id;
    c->scan_addr = j->addr;
    c->scan_depth = j->depth;
    c->scan_fanout = j->fanout;
    core_scan_fork_leave();
    free(stacks);
    requests_end(j);
    if (!c->scan)
        answer_error(i, c->scan_req, -EIO, err ? err : "scan failed");
}

/* The bytes a job's answer may take (an objects answer: ~35 per object). */
static size_t reply_estimate(const struct requests_job *j)
{
    size_t n = j->kind == JOB_FIND ? WIRE_MAX_READ : j->max_sel * 40;

    return (n < WIRE_MAX_MESSAGE ? n : WIRE_MAX_MESSAGE) + 64;
}

/* 1 while job j waits for the collector to apply the events up to its
 * request's time (SERVER_CATCH_UP_NS at most). */
static int behind(const struct requests_job *j)
{
    return j->asked_ns && drain_applied_ns() < j->asked_ns &&
           core_now() - j->asked_ns < SERVER_CATCH_UP_NS;
}

/* The oldest job that walks (want_walk) or waits for a scan slot, of those
 * that may go on: a walk not started yet starts when its answer fits in
 * what is left of SERVER_REPLIES_ALL (a large answer nobody reads does not
 * hold back small ones), a scan while anything is left; neither while the
 * collector is behind its request. -1 when none. */
static int oldest_job(int want_walk)
{
    int w = -1;
    size_t room =
        clients_reply_bytes < SERVER_REPLIES_ALL ? SERVER_REPLIES_ALL - clients_reply_bytes : 0;

    for (int i = 0; i < clients_n; i++) {
        const struct requests_job *j = &clients_list[i]->job;
        int walk = j->kind != JOB_NONE && j->kind != JOB_SCAN;
        int started = j->kind != JOB_FIND && (j->kind != JOB_OBJECTS || j->cursor > 0);

        if (j->kind == JOB_NONE || walk != want_walk || behind(j))
            continue;
        if (walk ? !started && reply_estimate(j) > room : room == 0)
            continue;
        if (w < 0 || j->order < clients_list[w]->job.order)
            w = i;
    }
    return w;
}

static int reply_as(int i, const char *msg, size_t n, uint32_t id);

/* The same objects request asked by others while c's was answered, not
 * started yet: answered by it (twenty `heapline backrefs --site F` at once
 * ask the same thing, and each walk of the table took its turn). */
static void answer_same_objects(const struct client *c, const struct encode_buf *b)
{
    const struct requests_job *j = &c->job;

    for (int k = clients_n - 1; k >= 0; k--) {
        struct requests_job *o = k < clients_n ? &clients_list[k]->job : NULL;

        if (!o || clients_list[k] == c || o->kind != JOB_OBJECTS || o->cursor || o->total ||
            o->max_sel != j->max_sel || o->n_ids != j->n_ids ||
            memcmp(o->ids, j->ids, j->n_ids * sizeof(*j->ids)) != 0)
            continue;
        if (reply_as(k, b->data, b->len, o->req_id) == 0)
            requests_end(o);
    }
}

/* One step (SERVER_WALK_STEP slots or entries) of the client's job. */
static void job_step(int i)
{
    struct client *c = clients_list[i];
    struct requests_job *j = &c->job;

    switch (j->kind) {
    case JOB_OBJECTS:
    case JOB_FIND:
        if (j->gen != live_generation()) { /* the table was resized: again */
            j->gen = live_generation();
            j->cursor = 0;
            j->n_sel = 0;
            j->total = 0;
            j->found = 0;
        }
        j->cursor =
            live_walk(j->cursor, SERVER_WALK_STEP, j->kind == JOB_FIND ? find_cb : obj_cb, j);
        if (j->kind == JOB_FIND && (j->found || j->cursor >= live_slots())) {
            struct live_entry *e = j->found ? live_find(j->found) : NULL;

            /* only reads look (a scan's child finds its block itself) */
            if (!e)
                answer_error(i, j->req_id, -EFAULT, "not inside a live block");
            else
                answer_read(i, j->req_id, e, j->len);
            if (i < clients_n && clients_list[i] == c) /* else dropped, job and all */
                requests_end(j);
        } else if (j->kind == JOB_OBJECTS && j->cursor >= live_slots()) {
            j->kind = JOB_SORT;
            j->cursor = j->n_sel; /* heap sort: the heap is sel[0, cursor) */
        }
        break;
    case JOB_SORT:
        for (unsigned k = 0; k < SERVER_WALK_STEP && j->cursor > 1; k++) {
            struct sel_key t = j->sel[0];

            j->sel[0] = j->sel[--j->cursor];
            j->sel[j->cursor] = t;
            sift_down(j->sel, j->cursor, 0);
        }
        if (j->cursor <= 1) {
            j->out = malloc((j->n_sel ? j->n_sel : 1) * sizeof(*j->out));
            if (!j->out) {
                answer_error(i, j->req_id, -ENOMEM, "out of memory");
                if (i < clients_n && clients_list[i] == c)
                    requests_end(j);
                break;
            }
            j->kind = JOB_CHECK;
            j->cursor = 0;
            j->found = 0; /* entries kept so far */
        }
        break;
    case JOB_CHECK: {
        size_t end =
            j->cursor + SERVER_WALK_STEP < j->n_sel ? j->cursor + SERVER_WALK_STEP : j->n_sel;

        for (; j->cursor < end; j->cursor++) {
            const struct sel_key *o = &j->sel[j->cursor];
            struct live_entry *e = live_find(o->addr);
            int dup = j->found && j->out[j->found - 1].addr == o->addr;
            struct live_block b;

            if (e)
                live_get(e, &b);
            if (!e || b.seq != o->seq || dup) {
                j->total -= j->total > 0;
                continue;
            }
            j->out[j->found++] =
                (struct wire_object){b.addr, b.size, b.stack, b.time, b.thread, b.tag, b.seq};
        }
        if (j->cursor == j->n_sel) {
            struct encode_buf *b = collect_scratch();
            size_t n = j->found;

            while (encode_resp_objects(b, j->req_id, j->out, n, j->total) == WIRE_ENOSPACE && n)
                n /= 2;
            answer_same_objects(c, b);
            for (i = 0; i < clients_n && clients_list[i] != c; i++)
                ; /* where c is now (a drop moves the last client) */
            reply(i, b);
            if (i < clients_n && clients_list[i] == c)
                requests_end(j);
        }
        break;
    }
    default:
        break;
    }
}

/* When all clients' unsent replies reach SERVER_REPLIES_ALL, drops those
 * that hold replies and have taken nothing for SERVER_EVICT_NS (largest
 * first): a client that asks and never reads may not hold the others'
 * answers back. */
static void relieve_replies(void)
{
    int64_t now = core_now();

    while (clients_reply_bytes >= SERVER_REPLIES_ALL) {
        int w = -1;

        for (int i = 0; i < clients_n; i++) {
            const struct client *c = clients_list[i];

            if (c->replies.bytes && now - c->last_progress >= SERVER_EVICT_NS &&
                (w < 0 || c->replies.bytes > clients_list[w]->replies.bytes))
                w = i;
        }
        if (w < 0)
            return;
        clients_drop(w);
    }
}

/* The collector thread's CPU time (HEAPLINE_STATS: a turn's cost without
 * the time others had the CPU). */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Request work for this turn: new requests, walks (oldest first) and scans
 * waiting for a slot, for SERVER_TURN_NS at most. Sets work_left when some
 * is left for the next turn. */
void requests_work(void)
{
    int64_t now = core_now(), until, began = core_cfg.stats ? thread_cpu_ns() : 0;
    int w;

    work_tokens += (now - work_refilled) / SERVER_WORK_SHARE;
    if (work_tokens > SERVER_TURN_NS)
        work_tokens = SERVER_TURN_NS;
    work_refilled = now;
    until = now + work_tokens;

    for (int i = clients_n - 1; i >= 0; i--)
        if (i < clients_n && requests_can_take(clients_list[i]))
            client_decode(i);
    work_left = 0;
    relieve_replies();
    while (work_tokens > 0 && (w = oldest_job(1)) >= 0) {
        job_step(w);
        int64_t t = core_now();
        work_tokens -= t - now;
        now = t;
        if (now >= until)
            break;
    }
    /* more to do: come back at once while this turn's share lasts, else
     * at the collector's own pace */
    work_left = work_tokens > 0 && oldest_job(1) >= 0;
    while (scans_running() < max_scans && (w = oldest_job(0)) >= 0)
        start_scan(w);
    for (int i = clients_n - 1; i >= 0; i--)
        if (i < clients_n && clients_list[i]->replies.head)
            clients_write(i);
    /* a request waiting for the collector to catch up: the loop's next
     * drain pass (a new stamp pair every 0.1 ms) is what it needs */
    for (int i = 0; i < clients_n && !work_left; i++)
        work_left = (requests_can_take(clients_list[i]) && !clients_list[i]->starved) ||
                    behind(&clients_list[i]->job);
    if (core_cfg.stats && thread_cpu_ns() - began > longest_work)
        longest_work = thread_cpu_ns() - began;
}

/* Queues the RESPONSE msg[0, n) with its request id replaced by id.
 * Returns 0, 1 when msg is not a RESPONSE it can rewrite (nothing queued),
 * or -1 when the client was dropped. */
static int reply_as(int i, const char *msg, size_t n, uint32_t id)
{
    const unsigned char *p = (const unsigned char *)msg;
    size_t off = (p[0] & 0xf0) == 0x90 ? 1 : p[0] == 0xdc ? 3 : p[0] == 0xdd ? 5 : 0;
    size_t w = 0;
    char *copy;
    struct encode_buf b;

    if (off && off + 1 < n && p[off] == WIRE_RESPONSE) {
        unsigned char c = p[off + 1];

        w = c <= 0x7f ? 1 : c == 0xcc ? 2 : c == 0xcd ? 3 : c == 0xce ? 5 : 0;
    }
    if (!w || off + 1 + w > n || !(copy = malloc(n + 8)))
        return 1;
    unsigned char *q = (unsigned char *)copy + off + 1;
    size_t k = 0;

    memcpy(copy, msg, off + 1);
    if (id <= 0x7f) {
        q[k++] = (unsigned char)id;
    } else if (id <= 0xff) {
        q[k++] = 0xcc;
        q[k++] = (unsigned char)id;
    } else if (id <= 0xffff) {
        q[k++] = 0xcd;
        q[k++] = (unsigned char)(id >> 8);
        q[k++] = (unsigned char)id;
    } else {
        q[k++] = 0xce;
        for (int s = 24; s >= 0; s -= 8)
            q[k++] = (unsigned char)(id >> s);
    }
    memcpy(q + k, msg + off + 1 + w, n - off - 1 - w);
    encode_init(&b, copy, n + 8);
    b.len = n - w + k;
    int r = reply(i, &b);
    free(copy);
    return r;
}

void requests_scan_done(int i)
{
    struct client *c = clients_list[i];
    int r = scan_job_read(c->scan);

    if (r == 0)
        return;
    struct encode_buf *b = collect_scratch();
    scan_job_encode(c->scan, b);
    scan_job_free(c->scan);
    c->scan = NULL;
    /* the same scan asked by others while this one ran: answered by it
     * (twenty `heapline backrefs --site F` at once pick the same block) */
    for (int k = clients_n - 1; k >= 0; k--) {
        struct requests_job *j = k < clients_n ? &clients_list[k]->job : NULL;

        if (k != i && j && j->kind == JOB_SCAN && j->addr == c->scan_addr &&
            j->depth == c->scan_depth && j->fanout == c->scan_fanout) {
            int q = reply_as(k, b->data, b->len, j->req_id);

            if (q == 0)
                requests_end(j);
            else if (q < 0 && i == clients_n)
                i = k; /* client i was moved into k's place */
        }
    }
    reply(i, b);
}
