/*
 * emit.c - the collector's output stream (emit.h).
 *
 * Messages are encoded into one buffer that is handed to the writer thread
 * when full and at every flush; each is also broadcast to the socket's
 * clients, and definitions are logged for clients that attach later. Event
 * batches wait for the definitions of the stacks they use: a stack is queued
 * when an allocation names it and defined (nodes from the root down, their
 * frames and modules first) just before the batch goes out. Its own mallocs
 * go to the real allocator: the collector thread's guard is set.
 */
#include "emit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "defstore.h"
#include "drain.h"
#include "procfd.h"
#include "pyframes.h"
#include "sample.h"
#include "server.h"
#include "sites.h"
#include "symbols.h"
#include "unwind.h"
#include "tags.h"
#include "trie.h"
#include "wire.h"
#include "writer.h"

#define BATCH_MAX 8192u
#define NODES_CHUNK 50000u
/* The record file is flushed at every tick and whenever this much of the
 * stream waits: a collector catching up (after the warm-up, or behind a
 * fast program) applies a tick period of events in a pass, and the file,
 * which a failed write cuts back to its last flush, would otherwise hold
 * nothing of them. One flush costs a zstd block header; churn flushes about
 * every 70k events. While the recording is young the bound is what was
 * handed over so far (from FLUSH_MIN_BYTES): a file size limit or a disk
 * that fills early still keeps the first events, not the header alone (16
 * KiB of room held none of t_threads' when its first pass applied 30k
 * events), for a few more block headers in all. */
#define FLUSH_BYTES (256u << 10)
#define FLUSH_MIN_BYTES (4u << 10)
/* In sampling mode a tick's flush waits until this long after the last one
 * (the end's does not): a sampled tick is a few dozen bytes, and sqlite3's
 * record file, written and grown at every 10 ms tick, had its writes
 * committed with each of the program's fdatasyncs on the same disk. The
 * clients' messages are not delayed: they are broadcast as encoded. */
#define SAMPLED_TICK_FLUSH_NS 250000000ll

/* Threads whose comm stays open between ticks (procfd.h): the first few
 * (the collector's descriptors are a table of 64, fds.h); the others' is
 * opened at each look, as before. */
#define COMM_KEPT 8u

struct thread_info {
    uint32_t id;
    pid_t tid;
    char name[64];
    struct procfd comm; /* /proc/self/task/<tid>/comm */
};

static struct emit_state {
    int rec_ok;
    int server_on;
    char *out;
    struct encode_buf eb;
    size_t handed;      /* stream bytes handed to the writer so far */
    int64_t flushed_ns; /* core_now() at the last tick's flush (emit_out_tick) */

    size_t n_batch;
    size_t batch_items, batch_real; /* msgpack items; ALLOC/FREE/REALLOC entries */
    uint32_t batch_thread, batch_tag;
    int64_t batch_base;
    int64_t floor;       /* no event goes out dated earlier (emit_time_floor) */
    uint64_t dated_late; /* events that went out at the floor, not their stamp */

    uint32_t *pending; /* stack ids to define before the batch */
    size_t n_pending, cap_pending;
    struct wire_stack_node *nodes;
    size_t cap_nodes;
    uint32_t tags_sent;
    int symbols_on;

    struct thread_info *threads;
    size_t n_threads, cap_threads;

    struct normalise_totals nt;
    struct normalise_stats ns;

    struct wire_event batch[BATCH_MAX]; /* last: emit_init() leaves it alone */
} E;

void emit_init(char *out, int rec, int server)
{
    /* the previous stream's memory was the parent's (a fork child) or is
     * given back by then: start from nothing. Not the batch's 320 KiB, which
     * n_batch says are unused (zeroing them was 80 page faults before main) */
    memset(&E, 0, offsetof(struct emit_state, batch));
    defstore_forget();
    E.batch_thread = E.batch_tag = UINT32_MAX;
    E.rec_ok = rec;
    E.server_on = server;
    E.out = out;
    encode_init(&E.eb, out, EMIT_OUT_CAP);
}

int emit_server_on(void)
{
    return E.server_on;
}

void emit_server_off(void)
{
    E.server_on = 0;
}

void emit_server_opened(void)
{
    E.server_on = 1;
}

void emit_record_off(void)
{
    E.rec_ok = 0;
}

struct encode_buf *emit_buf(void)
{
    return &E.eb;
}

const struct normalise_totals *emit_totals(void)
{
    return &E.nt;
}

const struct normalise_stats *emit_stats(void)
{
    return &E.ns;
}

/* Hands the output buffer to the writer thread and continues in the other
 * one; without a record file the bytes only went to the clients. */
void emit_out_flush(int flush)
{
    if (E.rec_ok && (E.eb.len || flush)) {
        E.handed += E.eb.len;
        E.out = writer_submit(E.eb.len, flush);
        encode_init(&E.eb, E.out, EMIT_OUT_CAP);
    }
    E.eb.len = 0;
}

void emit_out_tick(int final)
{
    int64_t now = core_now();

    if (E.rec_ok && !final && sample_on() && now - E.flushed_ns < SAMPLED_TICK_FLUSH_NS)
        return; /* kept for the file (EMIT hands a full buffer over) */
    emit_out_flush(1);
    E.flushed_ns = now;
}

void emit_publish(enum emit_kind kind, size_t mark, uint32_t n_events)
{
    if (kind == EMIT_DEF)
        (void)defstore_append(E.eb.data + mark, E.eb.len - mark);
    if (E.server_on)
        server_broadcast(E.eb.data + mark, E.eb.len - mark, n_events);
}

/* ---- definitions ---- */

static void thread_name(struct thread_info *t, char *name, size_t cap)
{
    char path[64];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)t->tid);
    n = procfd_read(&t->comm, path, name, cap - 1, t->id < COMM_KEPT);
    if (n < 0)
        n = 0;
    while (n > 0 && (name[n - 1] == '\n' || name[n - 1] == 0))
        n--;
    name[n] = 0;
}

/* Thread ids are handed out in order from 1: the table is indexed by id. */
static struct thread_info *thread_get(uint32_t id)
{
    return id < E.n_threads && E.threads[id].id == id ? &E.threads[id] : NULL;
}

void emit_thread_announce(struct ring *r)
{
    struct thread_info *t;

    if (r->thread_id >= E.cap_threads) {
        size_t cap = E.cap_threads ? E.cap_threads * 2 : 64;
        void *p;

        while (cap <= r->thread_id)
            cap *= 2;
        p = realloc(E.threads, cap * sizeof(*E.threads));
        if (!p)
            return;
        memset((struct thread_info *)p + E.cap_threads, 0,
               (cap - E.cap_threads) * sizeof(*E.threads));
        for (size_t i = E.cap_threads; i < cap; i++)
            ((struct thread_info *)p)[i].comm = (struct procfd)PROCFD_INIT;
        E.threads = p;
        E.cap_threads = cap;
    }
    if (r->thread_id >= E.n_threads)
        E.n_threads = r->thread_id + 1;
    t = &E.threads[r->thread_id];
    procfd_close(&t->comm); /* a thread id is announced once; not open, then */
    t->id = r->thread_id;
    t->tid = r->tid;
    thread_name(t, t->name, sizeof(t->name));
    if (!t->name[0])
        memcpy(t->name, r->self_name, sizeof(r->self_name)); /* the thread is gone */
    EMIT(EMIT_DEF, 0, encode_thread(b, t->id, (uint32_t)t->tid, t->name));
}

void emit_threads_rename(void)
{
    for (struct ring *r = ring_list(); r; r = r->next) {
        struct thread_info *t = thread_get(r->thread_id);
        char name[64];

        if (!t || atomic_load(&r->dead))
            continue;
        thread_name(t, name, sizeof(name));
        if (name[0] && strcmp(name, t->name) != 0) {
            memcpy(t->name, name, sizeof(name));
            EMIT(EMIT_DEF, 0, encode_thread(b, t->id, (uint32_t)t->tid, t->name));
        }
    }
}

static void pending_add(uint32_t stack)
{
    if (stack == 0 || sites_defined(stack) != SITES_UNSENT)
        return;
    sites_set_defined(stack, SITES_QUEUED);
    if (E.n_pending == E.cap_pending) {
        size_t cap = E.cap_pending ? E.cap_pending * 2 : 4096;
        void *p = realloc(E.pending, cap * sizeof(*E.pending));

        if (!p)
            return;
        E.pending = p;
        E.cap_pending = cap;
    }
    E.pending[E.n_pending++] = stack;
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
    if (!E.symbols_on) {
        E.symbols_on = 1;
        symbols_init();
    }
    drain_relieve();
    unwind_serve(); /* the program's walks wait on libunwind until then */
    if (pyframes_is_ip(ip))
        pyframes_frame(ip, &f, &mod);
    else
        symbols_frame(ip, &f, &mod);
    if (mod)
        EMIT(EMIT_DEF, 0,
             encode_module_symbols(b, mod->id, mod->path, mod->base, mod->size, mod->build_id,
                                   mod->symbols, mod->debug_file));
    EMIT(EMIT_DEF, 0, encode_frame(b, &f));
}

/* Sends the stack nodes (with their frames) that queued stacks need. */
static void define_pending(void)
{
    size_t n = 0;

    for (size_t i = 0; i < E.n_pending; i++) {
        uint32_t id = E.pending[i];

        while (id != 0) {
            uint32_t parent;
            uint64_t ip;

            if (sites_defined(id) == SITES_SENT || trie_node(id, &parent, &ip) < 0)
                break;
            sites_set_defined(id, SITES_SENT);
            if (n == E.cap_nodes) {
                size_t cap = E.cap_nodes ? E.cap_nodes * 2 : 4096;
                void *p = realloc(E.nodes, cap * sizeof(*E.nodes));

                if (!p)
                    break;
                E.nodes = p;
                E.cap_nodes = cap;
            }
            E.nodes[n++] = (struct wire_stack_node){id, parent, ip};
            id = parent;
        }
    }
    E.n_pending = 0;
    if (!n)
        return;
    qsort(E.nodes, n, sizeof(*E.nodes), cmp_node);
    for (size_t i = 0; i < n; i++)
        emit_frame(E.nodes[i].ip);
    for (size_t i = 0; i < n; i += NODES_CHUNK) {
        size_t k = n - i < NODES_CHUNK ? n - i : NODES_CHUNK;

        EMIT(EMIT_DEF, 0, encode_stacks(b, E.nodes + i, k));
    }
}

static void define_tags(void);

void emit_define(void)
{
    define_tags();
    define_pending();
}

void emit_threads_close(void)
{
    for (size_t i = 0; i < E.n_threads; i++)
        procfd_close(&E.threads[i].comm);
}

void emit_thread_gone(struct ring *r)
{
    struct thread_info *ti = thread_get(r->thread_id);

    if (ti)
        procfd_close(&ti->comm);

    if (ti && r->self_name[0] && strncmp(ti->name, r->self_name, 15) != 0) {
        memcpy(ti->name, r->self_name, sizeof(r->self_name));
        EMIT(EMIT_DEF, 0, encode_thread(b, ti->id, (uint32_t)ti->tid, ti->name));
    }
}

static void define_tags(void)
{
    uint32_t n = tags_count();

    if (E.tags_sent == 0)
        E.tags_sent = 1;
    for (; E.tags_sent < n; E.tags_sent++)
        EMIT(EMIT_DEF, 0, encode_tag(b, E.tags_sent, tags_name(E.tags_sent)));
}

/* ---- events ---- */

void emit_batch_flush(void)
{
    size_t n_real = 0;

    if (!E.n_batch)
        return;
    define_tags();
    define_pending();
    n_real = E.batch_real;
    EMIT(EMIT_STREAM, (uint32_t)n_real,
         encode_events_counted(b, E.batch_base, E.batch, E.n_batch, E.batch_items));
    E.n_batch = 0;
    E.batch_items = E.batch_real = 0;
    E.batch_thread = E.batch_tag = UINT32_MAX;
    if (E.eb.len >= FLUSH_BYTES ||
        (E.rec_ok && E.handed < FLUSH_BYTES && E.eb.len >= FLUSH_MIN_BYTES && E.eb.len >= E.handed))
        emit_out_flush(1);
}

/* apply() makes room for one event's entries first (NORMALISE_MAX_OUT), so
 * a batch never splits between an event and the THREAD/TAG entries it
 * relies on. */

/* An event's time on the wire: in whole EMIT_QUANTUM_NS, and not before
 * the last tick sent (emit_time_floor). */
static inline int64_t wire_time(int64_t t)
{
    t = emit_event_time(t);
    if (__builtin_expect(t < E.floor, 0)) {
        E.dated_late++;
        return E.floor;
    }
    return t;
}

void emit_time_floor(int64_t ns)
{
    int64_t t = emit_event_time(ns);

    if (t > E.floor)
        E.floor = t;
}

uint64_t emit_dated_late(void)
{
    return E.dated_late;
}

static void batch_push(const struct wire_event *e)
{
    int64_t t = wire_time(e->time);

    if (E.n_batch == 0)
        E.batch_base = t;
    struct wire_event *d = &E.batch[E.n_batch++];

    /* field by field: e was just built with narrow stores (op, stack), which
     * a whole-struct copy would reload with wide loads (a store-forwarding
     * stall per event) */
    d->op = e->op;
    d->stack = e->stack;
    d->id = e->id;
    d->time = t;
    d->size = e->size;
    d->back = e->back;
    E.batch_items += encode_events_items(e->op);
    E.batch_real += e->op <= WIRE_OP_REALLOC;
}

static void batch_context(uint32_t thread, uint32_t tag, int with_tag, int64_t time)
{
    if (E.n_batch == 0) /* events go out as deltas from it: one raised to the floor is later */
        E.batch_base = emit_event_time(time);
    if (thread != E.batch_thread) {
        E.batch[E.n_batch++] = (struct wire_event){.op = WIRE_OP_THREAD, .id = thread};
        E.batch_items += 2;
        E.batch_thread = thread;
        /* readers keep a tag per thread (liveset.c): the next allocation
         * names its tag again, or a thread that allocates under the tag the
         * thread before it used would be read as untagged */
        E.batch_tag = UINT32_MAX;
    }
    if (with_tag && tag != E.batch_tag) {
        E.batch[E.n_batch++] = (struct wire_event){.op = WIRE_OP_TAG, .id = tag};
        E.batch_items += 2;
        E.batch_tag = tag;
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

void emit_apply(const struct ring_event *ev, uint32_t thread)
{
    if (E.n_batch + NORMALISE_MAX_OUT > BATCH_MAX)
        emit_batch_flush();
    if (ev->op == RING_MARK) {
        emit_batch_flush();
        EMIT(EMIT_DEF, 0, encode_marker(b, ev->time, tags_string(ev->addr)));
        return;
    }
    int r = normalise_apply(ev, thread, &norm_ops, &E.nt, &E.ns);

    if (r == -1)
        core_disable("cannot grow the live-allocation table");
    else if (r < 0)
        core_disable("a block lies above 2^48 or is not 8-byte aligned (not supported)");
}
