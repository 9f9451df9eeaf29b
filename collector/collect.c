/*
 * collect.c - the collector thread.
 *
 * Every millisecond it drains all rings (copying events out, so producers
 * never wait on anything slower than a copy), merges them by time, applies
 * them to the live table and the per-site figures, and encodes the result.
 * Invariants of the emitted stream: every stack node, frame, module, thread
 * and tag is defined before the first message that uses it (parents before
 * children); every FREE and every REALLOC's old block refers to a block that
 * is live in the stream; a block is never allocated twice without a FREE in
 * between. Events that arrive out of order across threads are normalised to
 * keep these true (normalise.h). Its own mallocs go to the real allocator:
 * the thread's guard is set for its whole life.
 */
#include "collect.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "fds.h"
#include "live.h"
#include "normalise.h"
#include "recfile.h"
#include "ring.h"
#include "server.h"
#include "sites.h"
#include "pyframes.h"
#include "symbols.h"
#include "stamp.h"
#include "tags.h"
#include "track.h"
#include "trie.h"
#include "unwind.h"
#include "wire.h"
#include "writer.h"

#define OUT_CAP (WIRE_MAX_MESSAGE + (1u << 20))
#define BATCH_MAX 8192u
#define HISTORY_MAX 100000u
#define SITES_CHUNK 20000u
#define NODES_CHUNK 50000u
#define HISTORY_CHUNK 20000u

struct staged {
    struct ring_event ev;
    uint32_t thread;
};

struct run {
    size_t pos, end; /* into stage[] */
    struct ring *ring;
};

struct thread_info {
    uint32_t id;
    pid_t tid;
    char name[64];
};

static struct {
    pthread_t thread;
    atomic_int alive;
    atomic_int stop;
    uint32_t end_reason;
    int32_t end_status;
    int64_t start_unix_ns;
    char exe[PATH_MAX];

    int rec_ok;
    char *out;
    struct encode_buf eb;
    char *scratch;
    struct encode_buf sb;

    struct staged *stage;
    size_t n_stage, cap_stage;
    struct run *runs;
    size_t n_runs, cap_runs;

    struct wire_event batch[BATCH_MAX];
    size_t n_batch;
    size_t batch_items, batch_real; /* msgpack items; ALLOC/FREE/REALLOC entries */
    uint32_t batch_thread, batch_tag;
    int64_t batch_base;

    uint32_t *pending; /* stack ids to define before the batch */
    size_t n_pending, cap_pending;
    struct wire_stack_node *nodes;
    size_t cap_nodes;
    uint32_t tags_sent;

    uint64_t rss; /* at the last tick */
    struct wire_history_row *history;
    size_t hist_head, hist_n;
    struct wire_site *sites_buf;

    char *defs; /* every definition message sent so far, for new clients */
    size_t defs_len, defs_cap;

    struct thread_info *threads;
    size_t n_threads, cap_threads;

    int64_t next_tick;
    int ticks;
    int disabled_sent;
    int server_on;
    int symbols_on;
    struct normalise_totals nt;
    struct normalise_stats ns;
    struct stamp_map map;              /* ring event stamps -> ns */
    atomic_ullong sync_req, sync_done; /* collect_sync() */
    int sync_pending;                  /* this pass answers a collect_sync() */
} C;

int collect_alive(void)
{
    return atomic_load_explicit(&C.alive, memory_order_relaxed);
}

struct encode_buf *collect_scratch(void)
{
    encode_init(&C.sb, C.scratch, WIRE_MAX_MESSAGE); /* a reader's bound */
    return &C.sb;
}

/* ---- output ---- */

/* Hands the output buffer to the writer thread and continues in the other
 * one; without a record file the bytes only went to the clients. */
static void out_flush(int flush)
{
    if (C.rec_ok && (C.eb.len || flush)) {
        C.out = writer_submit(C.eb.len, flush);
        encode_init(&C.eb, C.out, OUT_CAP);
    }
    C.eb.len = 0;
}

static void defs_append(const char *p, size_t n)
{
    if (C.defs_len + n > C.defs_cap) {
        size_t cap = C.defs_cap ? C.defs_cap : 1 << 16;
        char *d;

        while (cap < C.defs_len + n)
            cap *= 2;
        d = realloc(C.defs, cap);
        if (!d)
            return;
        C.defs = d;
        C.defs_cap = cap;
    }
    memcpy(C.defs + C.defs_len, p, n);
    C.defs_len += n;
}

enum { K_STREAM = 0, K_DEF = 1 };

static void relieve_rings(void);

/* Runs an encode_* call into the output buffer, flushing first when it does
 * not fit, then hands the message to the clients (and the definition log). */
#define EMIT(kind, n_events, call)                                                                 \
    do {                                                                                           \
        size_t mark_ = C.eb.len;                                                                   \
        struct encode_buf *b = &C.eb;                                                              \
        if ((call) == WIRE_ENOSPACE) {                                                             \
            out_flush(0);                                                                          \
            mark_ = 0;                                                                             \
            if ((call) != 0)                                                                       \
                break;                                                                             \
        }                                                                                          \
        if ((kind) == K_DEF)                                                                       \
            defs_append(C.eb.data + mark_, C.eb.len - mark_);                                      \
        if (C.server_on)                                                                           \
            server_broadcast(C.eb.data + mark_, C.eb.len - mark_, (n_events));                     \
    } while (0)

/* ---- definitions ---- */

static void thread_name(pid_t tid, char *name, size_t cap)
{
    char path[64];
    int fd;
    ssize_t n = -1;

    snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, name, cap - 1);
        close(fd);
    }
    if (n < 0)
        n = 0;
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
        n--;
    name[n] = 0;
}

/* Thread ids are handed out in order from 1: the table is indexed by id. */
static struct thread_info *thread_get(uint32_t id)
{
    return id < C.n_threads && C.threads[id].id == id ? &C.threads[id] : NULL;
}

static void thread_announce(struct ring *r)
{
    struct thread_info *t;

    if (r->thread_id >= C.cap_threads) {
        size_t cap = C.cap_threads ? C.cap_threads * 2 : 64;
        void *p;

        while (cap <= r->thread_id)
            cap *= 2;
        p = realloc(C.threads, cap * sizeof(*C.threads));
        if (!p)
            return;
        memset((struct thread_info *)p + C.cap_threads, 0,
               (cap - C.cap_threads) * sizeof(*C.threads));
        C.threads = p;
        C.cap_threads = cap;
    }
    if (r->thread_id >= C.n_threads)
        C.n_threads = r->thread_id + 1;
    t = &C.threads[r->thread_id];
    t->id = r->thread_id;
    t->tid = r->tid;
    thread_name(r->tid, t->name, sizeof(t->name));
    if (!t->name[0])
        memcpy(t->name, r->self_name, sizeof(r->self_name)); /* the thread is gone */
    EMIT(K_DEF, 0, encode_thread(b, t->id, (uint32_t)t->tid, t->name));
}

static void threads_rename(void)
{
    for (struct ring *r = ring_list(); r; r = r->next) {
        struct thread_info *t = thread_get(r->thread_id);
        char name[64];

        if (!t || atomic_load(&r->dead))
            continue;
        thread_name(r->tid, name, sizeof(name));
        if (name[0] && strcmp(name, t->name) != 0) {
            memcpy(t->name, name, sizeof(name));
            EMIT(K_DEF, 0, encode_thread(b, t->id, (uint32_t)t->tid, t->name));
        }
    }
}

static void pending_add(uint32_t stack)
{
    struct site *s = sites_get(stack);

    if (s->defined || stack == 0)
        return;
    s->defined = 2; /* queued */
    if (C.n_pending == C.cap_pending) {
        size_t cap = C.cap_pending ? C.cap_pending * 2 : 4096;
        void *p = realloc(C.pending, cap * sizeof(*C.pending));

        if (!p)
            return;
        C.pending = p;
        C.cap_pending = cap;
    }
    C.pending[C.n_pending++] = stack;
}

static int cmp_node(const void *a, const void *b)
{
    const struct wire_stack_node *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static void emit_frame(uint64_t ip)
{
    struct wire_frame f;
    const struct symbols_module *mod;

    if (!symbols_first(ip))
        return;
    if (!C.symbols_on) {
        C.symbols_on = 1;
        symbols_init();
    }
    relieve_rings();
    if (pyframes_is_ip(ip))
        pyframes_frame(ip, &f, &mod);
    else
        symbols_frame(ip, &f, &mod);
    if (mod)
        EMIT(K_DEF, 0,
             encode_module_symbols(b, mod->id, mod->path, mod->base, mod->size, mod->build_id,
                                   mod->symbols, mod->debug_file));
    EMIT(K_DEF, 0, encode_frame(b, &f));
}

/* Sends the stack nodes (with their frames) that queued stacks need. */
static void define_pending(void)
{
    size_t n = 0;

    for (size_t i = 0; i < C.n_pending; i++) {
        uint32_t id = C.pending[i];

        while (id != 0) {
            struct site *s = sites_get(id);
            uint32_t parent;
            uint64_t ip;

            if (s->defined == 1 || trie_node(id, &parent, &ip) < 0)
                break;
            s->defined = 1;
            if (n == C.cap_nodes) {
                size_t cap = C.cap_nodes ? C.cap_nodes * 2 : 4096;
                void *p = realloc(C.nodes, cap * sizeof(*C.nodes));

                if (!p)
                    break;
                C.nodes = p;
                C.cap_nodes = cap;
            }
            C.nodes[n++] = (struct wire_stack_node){id, parent, ip};
            id = parent;
        }
    }
    C.n_pending = 0;
    if (!n)
        return;
    qsort(C.nodes, n, sizeof(*C.nodes), cmp_node);
    for (size_t i = 0; i < n; i++)
        emit_frame(C.nodes[i].ip);
    for (size_t i = 0; i < n; i += NODES_CHUNK) {
        size_t k = n - i < NODES_CHUNK ? n - i : NODES_CHUNK;

        EMIT(K_DEF, 0, encode_stacks(b, C.nodes + i, k));
    }
}

static void define_tags(void)
{
    uint32_t n = tags_count();

    if (C.tags_sent == 0)
        C.tags_sent = 1;
    for (; C.tags_sent < n; C.tags_sent++)
        EMIT(K_DEF, 0, encode_tag(b, C.tags_sent, tags_name(C.tags_sent)));
}

/* ---- events ---- */

static void batch_flush(void)
{
    size_t n_real = 0;

    if (!C.n_batch)
        return;
    define_tags();
    define_pending();
    n_real = C.batch_real;
    EMIT(K_STREAM, (uint32_t)n_real,
         encode_events_counted(b, C.batch_base, C.batch, C.n_batch, C.batch_items));
    C.n_batch = 0;
    C.batch_items = C.batch_real = 0;
    C.batch_thread = C.batch_tag = UINT32_MAX;
}

/* apply() makes room for one event's entries first (NORMALISE_MAX_OUT), so
 * a batch never splits between an event and the THREAD/TAG entries it
 * relies on. */

/* Event times go out in whole EVENT_QUANTUM_NS. Per-event microseconds
 * were most of a recording of a real program: sqlite3 inserting 200k rows
 * (1.2M events) took 277 KB with them, 56 KB in 100 us steps (the deltas are
 * then mostly 0, and zstd finds the program's repeating patterns again);
 * churn's stream, whose events are 100 ns apart, is unchanged. The peak
 * stays exact (the model marks it by event, not by time), and 100 us is
 * finer than anything the timeline shows. Ticks keep nanoseconds. */
#define EVENT_QUANTUM_NS 100000
static inline int64_t event_time(int64_t t)
{
    return t - t % EVENT_QUANTUM_NS;
}

static void batch_push(const struct wire_event *e)
{
    int64_t t = event_time(e->time);

    if (C.n_batch == 0)
        C.batch_base = t;
    struct wire_event *d = &C.batch[C.n_batch++];

    /* field by field: e was just built with narrow stores (op, stack), which
     * a whole-struct copy would reload with wide loads (a store-forwarding
     * stall per event) */
    d->op = e->op;
    d->stack = e->stack;
    d->id = e->id;
    d->time = t;
    d->size = e->size;
    d->back = e->back;
    C.batch_items += encode_events_items(e->op);
    C.batch_real += e->op <= WIRE_OP_REALLOC;
}

static void batch_context(uint32_t thread, uint32_t tag, int with_tag, int64_t time)
{
    if (C.n_batch == 0)
        C.batch_base = event_time(time);
    if (thread != C.batch_thread) {
        C.batch[C.n_batch++] = (struct wire_event){.op = WIRE_OP_THREAD, .id = thread};
        C.batch_items += 2;
        C.batch_thread = thread;
        /* readers keep a tag per thread (liveset.c): the next allocation
         * names its tag again, or a thread that allocates under the tag the
         * thread before it used would be read as untagged */
        C.batch_tag = UINT32_MAX;
    }
    if (with_tag && tag != C.batch_tag) {
        C.batch[C.n_batch++] = (struct wire_event){.op = WIRE_OP_TAG, .id = tag};
        C.batch_items += 2;
        C.batch_tag = tag;
    }
}

static void norm_context(void *arg, uint32_t thread, uint32_t tag, int with_tag, int64_t time)
{
    batch_context(thread, tag, with_tag, time);
}

static void norm_event(void *arg, const struct wire_event *e)
{
    batch_push(e);
}

static void norm_stack(void *arg, uint32_t stack)
{
    pending_add(stack);
}

static const struct normalise_ops norm_ops = {norm_context, norm_event, norm_stack, NULL};

/* Applies one staged event, its stamps converted to ns first (in place:
 * a staged event is applied once). */
static void apply(struct staged *s)
{
    struct ring_event *ev = &s->ev;

    ev->time = stamp_ns(&C.map, ev->time);
    if (ev->op == RING_REALLOC)
        ev->dt0 = (uint32_t)stamp_span_ns(&C.map, ev->dt0);

    if (C.n_batch + NORMALISE_MAX_OUT > BATCH_MAX)
        batch_flush();
    if (ev->op == RING_MARK) {
        batch_flush();
        EMIT(K_DEF, 0, encode_marker(b, ev->time, tags_string(ev->addr)));
        return;
    }
    int r = normalise_apply(ev, s->thread, &norm_ops, &C.nt, &C.ns);

    if (r == -1)
        core_disable("cannot grow the live-allocation table");
    else if (r < 0)
        core_disable("a block lies above 2^48 (not supported)");
}

/* Applies the next event of run u, first starting the load of the live
 * table slot that the event PREFETCH_AHEAD places later in the run will
 * look up: the table outgrows the caches, and each lookup was one miss. */
#define PREFETCH_AHEAD 12
static void apply_next(struct run *u)
{
    if (live_prefetch_worth && u->pos + PREFETCH_AHEAD < u->end) {
        const struct ring_event *ahead = &C.stage[u->pos + PREFETCH_AHEAD].ev;

        live_prefetch(ahead->op == RING_REALLOC ? ahead->old_addr : ahead->addr);
    }
    apply(&C.stage[u->pos++]);
}

/* ---- drain and merge ---- */

static int stage_reserve(size_t more)
{
    if (C.n_stage + more <= C.cap_stage)
        return 0;
    size_t cap = C.cap_stage ? C.cap_stage : 65536;
    while (cap < C.n_stage + more)
        cap *= 2;
    void *p = realloc(C.stage, cap * sizeof(*C.stage));
    if (!p)
        return -1;
    C.stage = p;
    C.cap_stage = cap;
    return 0;
}

static int run_push(size_t pos, size_t end, struct ring *ring)
{
    if (C.n_runs == C.cap_runs) {
        size_t cap = C.cap_runs ? C.cap_runs * 2 : 64;
        void *p = realloc(C.runs, cap * sizeof(*C.runs));

        if (!p)
            return -1;
        C.runs = p;
        C.cap_runs = cap;
    }
    C.runs[C.n_runs++] = (struct run){pos, end, ring};
    return 0;
}

/* ---- backlogs ----
 * A ring's backlog holds, oldest first in backlog[backlog_head, n_backlog),
 * events moved out of the ring while the collector was busy (relieve_rings)
 * and events a merge could not apply yet (carry_over). All of them are older
 * than what is still in the ring. */

static size_t backlog_len(const struct ring *r)
{
    return r->n_backlog - r->backlog_head;
}

/* Makes the backlog an array of cap >= at + len + more events whose live
 * part starts at index at (moving it there). Returns 0 or -1 (out of memory). */
static int backlog_layout(struct ring *r, size_t more, size_t at)
{
    size_t len = backlog_len(r), cap = r->cap_backlog ? r->cap_backlog : RING_EVENTS;

    while (cap < at + len + more)
        cap *= 2;
    if (cap != r->cap_backlog) {
        void *p = realloc(r->backlog, cap * sizeof(*r->backlog));

        if (!p)
            return -1;
        r->backlog = p;
        r->cap_backlog = cap;
    }
    if (r->backlog_head != at)
        memmove(r->backlog + at, r->backlog + r->backlog_head, len * sizeof(*r->backlog));
    r->backlog_head = at;
    r->n_backlog = at + len;
    return 0;
}

/* Room for more events at the end of the backlog. */
static int backlog_reserve(struct ring *r, size_t more)
{
    if (r->n_backlog + more <= r->cap_backlog)
        return 0;
    return backlog_layout(r, more, 0);
}

/* Consumes k events from the front. An empty backlog starts over at 0, and
 * one that a burst made large is given back. */
static void backlog_consume(struct ring *r, size_t k)
{
    r->backlog_head += k;
    if (r->backlog_head < r->n_backlog)
        return;
    r->backlog_head = r->n_backlog = 0;
    if (r->cap_backlog > 4 * RING_EVENTS) {
        free(r->backlog);
        r->backlog = NULL;
        r->cap_backlog = 0;
    }
}

/* Moves every ring's pending events into its backlog, so producers do not
 * wait while the collector is busy with something slow (symbolizing a
 * module with large debug information). Called between such steps. A
 * backlog takes at most BACKLOG_MAX events (25 MB, 150 ms of python3 at
 * full speed): past that, the program waits on its full ring as it would
 * without relief. A collector that stays slower than the program (python3,
 * whose new frames kept it symbolizing) otherwise grew one to 8M events,
 * 400 MB. */
#define BACKLOG_MAX (1u << 19)
static void relieve_rings(void)
{
    static int64_t last;
    int64_t now = core_now();

    if (now - last < 500000)
        return;
    last = now;
    for (struct ring *r = ring_list(); r; r = r->next) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        size_t n = (size_t)(h - t), len = backlog_len(r);

        if (len >= BACKLOG_MAX)
            continue;
        if (n > BACKLOG_MAX - len)
            n = BACKLOG_MAX - len;
        if (!n || backlog_reserve(r, n) < 0)
            continue;
        for (uint64_t i = t; i < t + n; i++)
            r->backlog[r->n_backlog++] = r->ev[i & (RING_EVENTS - 1)];
        atomic_store_explicit(&r->tail, t + n, memory_order_release);
    }
}

/* Copies pending events into stage[], one time-sorted run per ring, its
 * backlog first, and frees the ring space: at most DRAIN_BUDGET in all (at
 * least DRAIN_MIN_QUOTA a ring), so stage[] stays bounded however far the
 * collector fell behind (a 4M-event stage was 235 MB). Where a ring's events
 * were cut short, *limit is lowered to the stamp of its first one left
 * behind: nothing later may be applied before it is staged. */
#define DRAIN_BUDGET 65536u
#define DRAIN_MIN_QUOTA 4096u
static size_t drain_copy(int64_t *limit)
{
    size_t total = 0, rings = 0, quota;

    C.n_stage = 0;
    C.n_runs = 0;
    for (struct ring *r = ring_list(); r; r = r->next)
        rings++;
    quota = rings ? DRAIN_BUDGET / rings : DRAIN_BUDGET;
    if (quota < DRAIN_MIN_QUOTA)
        quota = DRAIN_MIN_QUOTA;
    for (struct ring *r = ring_list(); r; r = r->next) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        size_t from_log = backlog_len(r), from_ring = (size_t)(h - t), start = C.n_stage;
        const struct ring_event *left = NULL; /* the first event left behind */

        if (!r->announced) {
            r->announced = 1;
            thread_announce(r);
        }
        if (from_log > quota)
            from_log = quota;
        if (from_ring > quota - from_log)
            from_ring = quota - from_log;
        if (stage_reserve(from_log + from_ring) < 0) {
            core_disable("out of memory on the collector thread");
            continue;
        }
        for (size_t i = 0; i < from_log; i++) {
            C.stage[C.n_stage].ev = r->backlog[r->backlog_head + i];
            C.stage[C.n_stage].thread = r->thread_id;
            C.n_stage++;
        }
        backlog_consume(r, from_log);
        for (uint64_t i = t; i < t + from_ring; i++) {
            C.stage[C.n_stage].ev = r->ev[i & (RING_EVENTS - 1)];
            C.stage[C.n_stage].thread = r->thread_id;
            C.n_stage++;
        }
        /* read before the slots are handed back to the producer */
        if (backlog_len(r))
            left = &r->backlog[r->backlog_head];
        else if (t + from_ring < h)
            left = &r->ev[(t + from_ring) & (RING_EVENTS - 1)];
        if (left && left->time < *limit)
            *limit = left->time;
        atomic_store_explicit(&r->tail, t + from_ring, memory_order_release);
        total += C.n_stage - start;
        if (C.n_stage > start)
            run_push(start, C.n_stage, r);
    }
    return total;
}

/* Events later than the merge's watermark were not applied: they go back,
 * in order, to the front of their ring's backlog (older than all of it). */
static void carry_over(void)
{
    for (size_t i = 0; i < C.n_runs; i++) {
        struct run *u = &C.runs[i];
        struct ring *r = u->ring;
        size_t k = u->end - u->pos;

        if (!k)
            continue;
        if (r->backlog_head < k && backlog_layout(r, 0, k) < 0) {
            core_disable("out of memory on the collector thread");
            continue;
        }
        r->backlog_head -= k;
        for (size_t j = 0; j < k; j++)
            r->backlog[r->backlog_head + j] = C.stage[u->pos + j].ev;
        u->pos = u->end;
    }
}

/* Unmaps the rings of threads that have exited, once everything is applied. */
static void release_dead(int check_gone)
{
    pid_t pid = getpid();
    struct ring *next;

    for (struct ring *r = ring_list(); r; r = next) {
        int dead = atomic_load_explicit(&r->dead, memory_order_acquire);

        next = r->next;
        if (!dead && check_gone && syscall(SYS_tgkill, pid, r->tid, 0) < 0 && errno == ESRCH)
            dead = 1;
        if (dead && !backlog_len(r) && atomic_load(&r->head) == atomic_load(&r->tail)) {
            struct thread_info *ti = thread_get(r->thread_id);

            if (ti && r->self_name[0] && strncmp(ti->name, r->self_name, 15) != 0) {
                memcpy(ti->name, r->self_name, sizeof(r->self_name));
                EMIT(K_DEF, 0, encode_thread(b, ti->id, (uint32_t)ti->tid, ti->name));
            }
            free(r->backlog);
            ring_release(r);
        }
    }
}

/* Nonzero once the pass has run past its deadline (looked at every 1024
 * events): the merge stops there, as if its watermark were the time reached,
 * and the rest is carried over to the next pass. */
static int merge_late(size_t *applied, int64_t deadline)
{
    return (++*applied & 1023) == 0 && core_now() > deadline;
}

/* k-way merge of the runs by time (a binary heap of run indexes), applying
 * events up to the watermark, or until the deadline. */
static void merge_apply(int64_t watermark, int64_t deadline)
{
    size_t k = C.n_runs, applied = 0;
    size_t *heap;

    if (k == 0)
        return;
    if (k == 1) {
        struct run *u = &C.runs[0];

        while (u->pos < u->end && C.stage[u->pos].ev.time <= watermark &&
               !merge_late(&applied, deadline))
            apply_next(u);
        return;
    }
    if (k == 2) { /* two threads: the heap below, without it (same ties: stay) */
        struct run *a = &C.runs[0], *o = &C.runs[1], *t;

        if (C.stage[o->pos].ev.time < C.stage[a->pos].ev.time)
            t = a, a = o, o = t;
        while (C.stage[a->pos].ev.time <= watermark && !merge_late(&applied, deadline)) {
            apply_next(a);
            if (a->pos == a->end) {
                while (o->pos < o->end && C.stage[o->pos].ev.time <= watermark &&
                       !merge_late(&applied, deadline))
                    apply_next(o);
                return;
            }
            if (C.stage[o->pos].ev.time < C.stage[a->pos].ev.time)
                t = a, a = o, o = t;
        }
        return;
    }
    heap = malloc(k * sizeof(*heap));
    if (!heap)
        return;
#define KEY(r) (C.stage[C.runs[r].pos].ev.time)
    size_t n = 0;
    for (size_t r = 0; r < k; r++) {
        size_t i = n++;

        heap[i] = r;
        while (i > 0 && KEY(heap[(i - 1) / 2]) > KEY(heap[i])) {
            size_t t = heap[i];
            heap[i] = heap[(i - 1) / 2];
            heap[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    }
    while (n > 0 && KEY(heap[0]) <= watermark && !merge_late(&applied, deadline)) {
        size_t r = heap[0];

        apply_next(&C.runs[r]);
        if (C.runs[r].pos == C.runs[r].end)
            heap[0] = heap[--n];
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, m = i;

            if (l < n && KEY(heap[l]) < KEY(heap[m]))
                m = l;
            if (l + 1 < n && KEY(heap[l + 1]) < KEY(heap[m]))
                m = l + 1;
            if (m == i)
                break;
            size_t t = heap[i];
            heap[i] = heap[m];
            heap[m] = t;
            i = m;
        }
    }
#undef KEY
    free(heap);
}

/* One pass. Only events stamped before the pass began are applied: an event
 * is committed before anything it causes on another thread starts (a block is
 * handed over after malloc returned, and the free reads the clock after
 * that), so everything that happened before an applied event has been
 * committed by the time its ring is read, and a free never arrives before
 * its block's allocation. Later events wait for the next pass; final applies
 * everything. A pass that is behind stops after a tick period, applied up to
 * a time (the rest waits for the next pass): the loop ticks, and each tick
 * flushes the record file, so the file is flushed every tick period
 * (HEAPLINE_TICK_MS) however far behind the collector is; what it holds lags
 * the program by the backlog not applied yet. */
static size_t drain(int check_gone, int final)
{
    int64_t watermark, limit;
    /* final, or a collect_sync() waiting (dlclose): everything up to the
     * watermark, whatever it takes */
    int64_t deadline =
        final || C.sync_pending ? INT64_MAX : core_now() + (int64_t)core_cfg.tick_ms * 1000000;
    size_t n = 0, k;

    if (!stamp_map_advance(&C.map, &watermark) && !final)
        return 0; /* no new segment yet: nothing new to apply (the loop sleeps 1 ms) */
    if (final)
        watermark = INT64_MAX;
    do { /* in budgets: until no ring was cut short before the watermark */
        limit = INT64_MAX;
        k = drain_copy(&limit);
        n += k;
        merge_apply(watermark < limit ? watermark : limit, deadline);
        carry_over();
        batch_flush();
    } while (k && limit < watermark && core_now() <= deadline);
    if (sites_failed())
        core_disable("cannot grow the site table");
    release_dead(check_gone);
    return n;
}

/* ---- ticks ---- */

static struct wire_totals totals(int64_t time)
{
    /* the peak's time as its event went out (event_time), so it names the
     * same moment a recording of the run does */
    return (struct wire_totals){time,
                                C.nt.heap_bytes,
                                C.nt.heap_blocks,
                                C.rss,
                                C.nt.allocations,
                                C.nt.frees,
                                C.nt.bytes_allocated,
                                C.nt.peak,
                                event_time(C.nt.peak_time)};
}

static uint64_t read_rss(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n;
    unsigned long long size = 0, res = 0;

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    if (sscanf(buf, "%llu %llu", &size, &res) != 2)
        return 0;
    return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void tick(int64_t now)
{
    size_t n;
    int first = 1;
    struct wire_totals tot;

    C.rss = read_rss();
    tot = totals(now);
    threads_rename();
    define_tags();
    define_pending();
    do {
        n = sites_take_deltas(C.sites_buf, SITES_CHUNK);
        if (n || first)
            EMIT(K_STREAM, 0, encode_tick(b, &tot, C.sites_buf, n));
        first = 0;
    } while (n == SITES_CHUNK);
    C.history[(C.hist_head + C.hist_n) % HISTORY_MAX] =
        (struct wire_history_row){now, tot.heap_bytes, tot.heap_blocks, tot.rss};
    if (C.hist_n < HISTORY_MAX)
        C.hist_n++;
    else
        C.hist_head = (C.hist_head + 1) % HISTORY_MAX;
    if (C.server_on)
        server_tick();
    out_flush(1);
    unwind_refresh();
    pyframes_refresh();
    C.ticks++;
}

/* ---- attach ---- */

void collect_attach_burst(collect_send_fn *send, void *arg)
{
    struct encode_buf *b = collect_scratch();
    uint32_t cursor = 0;
    size_t n;

    encode_hello(b, (uint32_t)getpid(), C.exe, C.start_unix_ns, (uint32_t)sysconf(_SC_PAGESIZE),
                 (uint32_t)core_cfg.depth, core_cfg.unwind == CORE_UNWIND_FP ? WIRE_HELLO_FP : 0);
    send(arg, b->data, b->len);
    if (C.defs_len)
        send(arg, C.defs, C.defs_len);
    for (size_t i = 0; i < C.hist_n; i += HISTORY_CHUNK) {
        struct wire_history_row rows[256];
        size_t k = C.hist_n - i < HISTORY_CHUNK ? C.hist_n - i : HISTORY_CHUNK;
        /* rows are in a ring: copy them out in order through the scratch */
        struct wire_history_row *tmp = malloc(k * sizeof(*tmp));

        (void)rows;
        if (!tmp)
            break;
        for (size_t j = 0; j < k; j++)
            tmp[j] = C.history[(C.hist_head + i + j) % HISTORY_MAX];
        b = collect_scratch();
        if (encode_history(b, tmp, k) == 0)
            send(arg, b->data, b->len);
        free(tmp);
    }
    struct wire_totals t = totals(core_now());
    int first = 1;
    do {
        n = sites_absolute(C.sites_buf, SITES_CHUNK, &cursor);
        if (n || first) {
            b = collect_scratch();
            if (encode_snapshot(b, &t, C.sites_buf, n, C.nt.seq) == 0)
                send(arg, b->data, b->len);
        }
        first = 0;
    } while (n);
}

/* ---- thread ---- */

static void final_messages(void)
{
    int64_t now;

    drain(1, 1);
    atomic_store(&core_on, 0);
    drain(1, 1);
    now = core_now();
    if (core_disabled_reason() && !C.disabled_sent) {
        C.disabled_sent = 1;
        EMIT(K_STREAM, 0, encode_disabled(b, now, core_disabled_reason(), WIRE_OFF_COLLECTOR));
    }
    tick(now);
    EMIT(K_STREAM, 0, encode_end(b, now, C.end_reason, C.end_status));
    out_flush(1);
    if (core_cfg.stats) {
        char msg[700], walks[300];

        unwind_describe(walks, sizeof(walks));
        snprintf(msg, sizeof(msg),
                 "stats: %llu events, %llu implicit frees, %llu straggling frees, %llu frees "
                 "of unknown blocks, %s, %llu waits on a full "
                 "buffer, live table %zu bytes for %zu blocks",
                 (unsigned long long)C.ns.events, (unsigned long long)C.ns.evicted,
                 (unsigned long long)C.ns.stragglers, (unsigned long long)C.ns.unknown_frees, walks,
                 (unsigned long long)ring_waits(), live_bytes_used(), live_count());
        core_say(msg);
    }
}

static void *collect_main(void *arg)
{
    int64_t last_busy = 0;

    track_guard = 1;
    pthread_setname_np(pthread_self(), "heapline");
    C.next_tick = core_now() + (int64_t)core_cfg.tick_ms * 1000000;
    while (!atomic_load(&C.stop)) {
        uint64_t sync = atomic_load(&C.sync_req);
        C.sync_pending = sync != atomic_load(&C.sync_done);
        size_t n = drain(C.ticks % 16 == 0, 0);

        atomic_store(&C.sync_done, sync);
        int64_t now = core_now();

        if (!atomic_load_explicit(&core_on, memory_order_relaxed) && core_disabled_reason() &&
            !C.disabled_sent) {
            C.disabled_sent = 1;
            drain(0, 1);
            EMIT(K_STREAM, 0, encode_disabled(b, now, core_disabled_reason(), WIRE_OFF_COLLECTOR));
            tick(now);
            /* nothing is tracked from here on: give the program back what
             * tracking held (the live table, 43-64 bytes a block; the
             * staging buffer), which under `ulimit -v` it may need */
            live_reset();
            live_init();
            free(C.stage);
            C.stage = NULL;
            C.n_stage = C.cap_stage = 0;
        }
        if (now >= C.next_tick) {
            tick(now);
            C.next_tick = now + (int64_t)core_cfg.tick_ms * 1000000;
        }
        /* Drain every millisecond while the program allocates; when it has
         * been quiet for 100 ms, sleep until the next tick (a producer whose
         * ring gets half full wakes us through ring_wake_fd). */
        if (n)
            last_busy = now;
        int wait_ms = n                             ? 0
                      : now - last_busy < 100000000 ? 1
                                                    : (int)((C.next_tick - now) / 1000000) + 1;
        if (wait_ms > core_cfg.tick_ms)
            wait_ms = core_cfg.tick_ms;
        if (C.server_on) {
            server_poll(wait_ms, ring_wake_fd);
        } else if (wait_ms) {
            struct pollfd p = {ring_wake_fd, POLLIN, 0};
            uint64_t v;

            if (poll(&p, 1, wait_ms) > 0)
                (void)!read(ring_wake_fd, &v, sizeof(v));
        }
    }
    final_messages();
    if (C.server_on)
        server_close(1000);
    C.server_on = 0;
    if (C.rec_ok)
        writer_stop();
    C.rec_ok = 0;
    symbols_fini();
    atomic_store(&C.alive, 0);
    return NULL;
}

extern void *__tls_get_addr(void *); /* ld.so's: new threads' TLS is allocated there */

static void *warm_main(void *arg)
{
    track_guard = 1;
    if (symbols_init() == 0) {
        symbols_warm((uint64_t)getauxval(AT_ENTRY) + 1);
        symbols_warm((uint64_t)(uintptr_t)getpid + 1);
        symbols_warm((uint64_t)(uintptr_t)__tls_get_addr + 1);
    }
    return arg;
}

/* On a thread of its own: the tables' memory comes from that thread's malloc
 * arena, which the collector thread takes over when it starts, rather than
 * from the main arena the program is about to use (its layout stays the
 * program's own). */
void collect_warm(void)
{
    sigset_t all, old;
    pthread_t t;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&t, NULL, warm_main, NULL) == 0)
        pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int collect_start(const char *record_path, const char *socket_path, const char **why)
{
    struct timespec ts;
    sigset_t all, old;
    pthread_attr_t attr;
    ssize_t n;

    memset(&C, 0, sizeof(C));
    C.batch_thread = C.batch_tag = UINT32_MAX;
    stamp_map_start(&C.map); /* before tracking starts: every stamp is later */
    clock_gettime(CLOCK_REALTIME, &ts);
    C.start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    n = readlink("/proc/self/exe", C.exe, sizeof(C.exe) - 1);
    C.exe[n > 0 ? n : 0] = 0;
    C.scratch = malloc(OUT_CAP);
    C.history = malloc(HISTORY_MAX * sizeof(*C.history));
    C.sites_buf = malloc(SITES_CHUNK * sizeof(*C.sites_buf));
    if (!C.scratch || !C.history || !C.sites_buf) {
        *why = "out of memory at start-up";
        return -1;
    }
    if (record_path[0]) {
        if (writer_start(record_path, core_cfg.compress, OUT_CAP, why) < 0)
            return -1;
        C.rec_ok = 1;
        C.out = writer_buffer();
    } else {
        C.out = malloc(OUT_CAP);
        if (!C.out) {
            *why = "out of memory at start-up";
            return -1;
        }
    }
    encode_init(&C.eb, C.out, OUT_CAP);
    if (socket_path[0]) {
        const char *swhy = NULL;
        char def[108];
        int is_default =
            server_default_path(def, sizeof(def)) == 0 && strcmp(def, socket_path) == 0;

        if (server_open(socket_path, is_default, &swhy) == 0) {
            C.server_on = 1;
        } else {
            char msg[200];

            snprintf(msg, sizeof(msg), "socket off: %s", swhy);
            core_say(msg);
        }
    }
    if (!C.rec_ok && !C.server_on) {
        *why = "no output";
        return -1;
    }
    EMIT(K_STREAM, 0,
         encode_hello(b, (uint32_t)getpid(), C.exe, C.start_unix_ns,
                      (uint32_t)sysconf(_SC_PAGESIZE), (uint32_t)core_cfg.depth,
                      core_cfg.unwind == CORE_UNWIND_FP ? WIRE_HELLO_FP : 0));
    out_flush(1);

    if (ring_wake_fd < 0) {
        ring_wake_fd = fds_adopt(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
    atomic_store(&C.alive, 1);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    int r = pthread_create(&C.thread, &attr, collect_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        atomic_store(&C.alive, 0);
        *why = "cannot start the collector thread";
        return -1;
    }
    return 0;
}

void collect_stop(uint32_t reason, int32_t status)
{
    struct timespec ts;

    if (!atomic_load(&C.alive))
        return;
    if (pthread_equal(pthread_self(), C.thread))
        return;
    C.end_reason = reason;
    C.end_status = status;
    atomic_store(&C.stop, 1);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_timedjoin_np(C.thread, NULL, &ts) != 0)
        core_say("collector thread did not stop in time; the recording may lack its end");
}

void collect_crash(int sig)
{
    struct timespec ts = {0, 1000000};

    if (!atomic_load(&C.alive) || pthread_equal(pthread_self(), C.thread))
        return;
    C.end_reason = WIRE_END_SIGNAL;
    C.end_status = sig;
    atomic_store(&C.stop, 1);
    for (int i = 0; i < 2000 && atomic_load(&C.alive); i++)
        nanosleep(&ts, NULL);
}

void collect_sync(void)
{
    struct timespec ts = {0, 200000};
    uint64_t want, one = 1;

    if (!atomic_load(&C.alive) || pthread_equal(pthread_self(), C.thread))
        return;
    want = atomic_fetch_add(&C.sync_req, 1) + 1;
    if (ring_wake_fd >= 0)
        (void)!write(ring_wake_fd, &one, sizeof(one));
    for (int i = 0; i < 10000 && atomic_load(&C.alive) && atomic_load(&C.sync_done) < want; i++)
        nanosleep(&ts, NULL);
}

void collect_atfork_child(void)
{
    /* The parent's collector thread does not exist here. Close its outputs
     * without flushing or unlinking; drop its memory (it is the parent's). */
    atomic_store(&C.alive, 0);
    C.rec_ok = 0;
    if (ring_wake_fd >= 0)
        fds_close(ring_wake_fd);
    ring_wake_fd = -1;
    writer_atfork_child();
    if (C.server_on)
        server_atfork_child();
    C.server_on = 0;
    symbols_atfork_child();
    pyframes_atfork_child();
}
