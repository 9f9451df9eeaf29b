/*
 * collect.c - the collector thread: its loop, ticks, and the burst a new
 * client is sent.
 *
 * Every millisecond while the program allocates it makes a drain pass
 * (drain.h: the rings' events applied in time order and encoded, emit.h);
 * every tick period it sends a TICK with the totals and per-site deltas,
 * dated by the drain's watermark, and flushes the record file (in sampling
 * mode, the first tick 250 ms after the last flush: emit_out_tick). Its own
 * mallocs go to the real allocator: the thread's guard is set for its whole
 * life.
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
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "defstore.h"
#include "drain.h"
#include "emit.h"
#include "grace.h"
#include "fds.h"
#include "live.h"
#include "ownmaps.h"
#include "ring.h"
#include "sample.h"
#include "server.h"
#include "sites.h"
#include "spill.h"
#include "stamp.h"
#include "prefault.h"
#include "procfd.h"
#include "pyframes.h"
#include "symbols.h"
#include "track.h"
#include "trie.h"
#include "unwind.h"
#include "wire.h"
#include "writer.h"

#define HISTORY_MAX 100000u
#define SITES_CHUNK 20000u
#define HISTORY_CHUNK 20000u

static struct {
    pthread_t thread;
    int joinable;     /* thread was started and not joined yet */
    pid_t thread_pid; /* by this process (a fork child's C is its parent's) */
    char *own_out;    /* the output buffer when there is no file (the writer's else) */
    atomic_int alive;
    atomic_int stop;
    uint32_t end_reason;
    int32_t end_status;
    int64_t start_unix_ns;
    char exe[PATH_MAX];

    int rec_ok;
    int later;            /* HELLO and socket on the collector thread (collect_start) */
    char sock_later[108]; /* the socket it opens then, "" none */
    char *scratch;
    struct encode_buf sb;

    uint64_t rss;        /* at the last tick */
    struct procfd statm; /* /proc/self/statm, kept open */
    struct wire_history_row *history;
    size_t hist_head, hist_n;
    struct wire_site *sites_buf;

    int64_t next_tick;
    int ticks;
    int disabled_sent;
    unsigned notes_sent;               /* core_note()s sent */
    atomic_ullong sync_req, sync_done; /* collect_sync() */
} C;

static long page_size = 4096; /* sysconf's, read at collect_start() */

/* ---- a deferred start ----
 *
 * A sampled recording of a program with one thread starts no thread of
 * ours with it: the program keeps glibc's single-thread paths (its mutexes
 * and malloc's arena lock without atomics; a second thread, even asleep,
 * cost sqlite3's shell 1-2% of its run). The samples wait in the ring, and
 * at each sample point at least a tick period after the last one the
 * program's thread notes a tick: the stamp, the exact totals and the
 * resident size (collect_point()). The thread starts when there is work
 * that cannot wait: the exit, a fatal signal, a dlclose, a second thread in
 * the program (the single-thread paths are gone then), more stacks than
 * DEFER_MAX_NODES to name, the ring half full, the tick log full, a
 * second of deferral (DEFER_MAX_NS), or a client at the socket (looked at on
 * each noted tick). It then applies the events tick by tick, each tick dated
 * and counted as the program noted it, and goes on as if it had always run. */
#define DEFER_TICKS 1024u /* a second's at HEAPLINE_TICK_MS=1 */
/* Stack nodes to name past which the thread starts: naming is most of the
 * deferred work (sqlite3's 64 nodes, 3 ms at the exit; python3's JSON bench
 * 1800, 71 ms, which with the thread from the start ran beside the program
 * and cost it 1.7% instead of 8%). Past this many, the work the exit would
 * wait for is worth more than the single-thread paths for the rest of the
 * run. */
#define DEFER_MAX_NODES 256u
/* How long the thread may wait at most: what a program killed outright
 * (SIGKILL, the OOM killer) takes with it is what the ring held, the first
 * second of its samples at most; a run as long as that pays the thread's
 * 1-2% from then on. */
#define DEFER_MAX_NS 1000000000LL

struct defer_tick {
    int64_t stamp;
    uint64_t rss;
    struct sample_totals tot;
};

static struct {
    atomic_int on;       /* the thread waits to start */
    atomic_int noting;   /* a program thread is in collect_point() */
    atomic_uint n;       /* ticks noted (release: the entry is written) */
    int64_t next_ns;     /* core_now() of the next one */
    int64_t since_ns;    /* core_now() when it was deferred */
    struct procfd statm; /* the program's own, apart from the thread's */
    struct defer_tick log[DEFER_TICKS];
} DF = {.statm = PROCFD_INIT};

int collect_alive(void)
{
    return atomic_load_explicit(&C.alive, memory_order_relaxed);
}

struct encode_buf *collect_scratch(void)
{
    encode_init(&C.sb, C.scratch, WIRE_MAX_MESSAGE); /* a reader's bound */
    return &C.sb;
}

/* ---- ticks ---- */

static struct wire_totals totals(int64_t time)
{
    const struct normalise_totals *nt = emit_totals();

    if (sample_on()) {
        /* exact counts of every call; the peak is the highest tick (wire.h) */
        struct sample_totals s;

        sample_totals(&s);
        return (struct wire_totals){
            time, s.heap_bytes, s.heap_blocks, C.rss, s.allocations, s.frees, s.bytes_allocated, 0,
            0};
    }
    /* the peak's time as its event went out (event_time), so it names the
     * same moment a recording of the run does */
    return (struct wire_totals){time,
                                nt->heap_bytes,
                                nt->heap_blocks,
                                C.rss,
                                nt->allocations,
                                nt->frees,
                                nt->bytes_allocated,
                                nt->peak,
                                emit_event_time(nt->peak_time)};
}

/* The resident size from statm's second field; 0 when unreadable. Parsed
 * by hand: a deferred tick reads it on the program's thread (no stdio). */
static uint64_t read_rss_from(struct procfd *f)
{
    char buf[128];
    ssize_t n = procfd_read(f, "/proc/self/statm", buf, sizeof(buf) - 1, 1);
    uint64_t res = 0;
    ssize_t i = 0;

    if (n <= 0)
        return 0;
    while (i < n && buf[i] >= '0' && buf[i] <= '9')
        i++;
    if (i == 0 || i >= n || buf[i] != ' ')
        return 0;
    for (i++; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
        res = res * 10 + (uint64_t)(buf[i] - '0');
    return res * (uint64_t)page_size;
}

static uint64_t read_rss(void)
{
    return read_rss_from(&C.statm);
}

/* Notices libraries loaded since: the walks' table of modules, and a
 * libpython that a program dlopen()ed (Python frames are captured from then
 * on). Every tick but the last (no walk follows it). */
static void refresh(void)
{
    unwind_refresh();
    pyframes_refresh();
}

/* A tick is dated by the drain's watermark, not the clock: its totals are
 * those of the events applied, and a collector behind the program (reading
 * symbols, or slower than it) would otherwise date them later than the
 * events they count, which then arrive after it. The last one (final) does
 * not refresh the walks' table: the program's walks are over. */
static void tick_with(int final, int64_t now, const struct wire_totals *given);

static void tick(int final)
{
    C.rss = read_rss();
    tick_with(final, drain_applied_ns(), NULL);
}

/* A tick at now with the totals given (a deferred tick's, taken by the
 * program at the time: collect_point()), or read now (NULL). */
static void tick_with(int final, int64_t now, const struct wire_totals *given)
{
    size_t n;
    int first = 1;
    struct wire_totals tot;

    tot = given ? *given : totals(now);
    emit_batch_flush(); /* the events it counts go before it (the batch is empty after a pass) */
    emit_threads_rename();
    emit_define();
    do {
        n = sites_take_deltas(C.sites_buf, SITES_CHUNK);
        if (n || first)
            EMIT(EMIT_STREAM, 0, encode_tick(b, &tot, C.sites_buf, n));
        first = 0;
    } while (n == SITES_CHUNK);
    emit_time_floor(now);
    C.history[(C.hist_head + C.hist_n) % HISTORY_MAX] =
        (struct wire_history_row){now, tot.heap_bytes, tot.heap_blocks, tot.rss};
    if (C.hist_n < HISTORY_MAX)
        C.hist_n++;
    else
        C.hist_head = (C.hist_head + 1) % HISTORY_MAX;
    if (emit_server_on())
        server_tick();
    emit_out_tick(final);
    if (!final)
        refresh();
    C.ticks++;
}

/* HELLO's flags: the unwinder, and whether heapline_attach() loaded this
 * collector into a running program (its totals then count from the attach). */
static uint32_t hello_flags(void)
{
    return (core_cfg.unwind == CORE_UNWIND_FP ? WIRE_HELLO_FP : 0) |
           (core_cfg.attached ? WIRE_HELLO_ATTACHED : 0);
}

/* ---- attach ---- */

void collect_attach_burst(collect_send_fn *send, void *arg)
{
    struct encode_buf *b = collect_scratch();
    uint32_t cursor = 0;
    size_t n;

    encode_hello_sampled(b, (uint32_t)getpid(), C.exe, C.start_unix_ns,
                         (uint32_t)sysconf(_SC_PAGESIZE), (uint32_t)core_cfg.depth, hello_flags(),
                         atomic_load(&sample_rate_bytes));
    send(arg, b->data, b->len);
    defstore_replay(send, arg, b->data, EMIT_OUT_CAP); /* the hello is sent: reused */
    for (size_t i = 0; i < C.hist_n; i += HISTORY_CHUNK) {
        size_t k = C.hist_n - i < HISTORY_CHUNK ? C.hist_n - i : HISTORY_CHUNK;
        /* rows are in a ring: copy them out in order */
        struct wire_history_row *tmp = malloc(k * sizeof(*tmp));

        if (!tmp)
            break;
        for (size_t j = 0; j < k; j++)
            tmp[j] = C.history[(C.hist_head + i + j) % HISTORY_MAX];
        b = collect_scratch();
        if (encode_history(b, tmp, k) == 0)
            send(arg, b->data, b->len);
        free(tmp);
    }
    struct wire_totals t = totals(drain_applied_ns());
    int first = 1;
    do {
        n = sites_absolute(C.sites_buf, SITES_CHUNK, &cursor);
        if (n || first) {
            b = collect_scratch();
            if (encode_snapshot(b, &t, C.sites_buf, n, emit_totals()->seq) == 0)
                send(arg, b->data, b->len);
        }
        first = 0;
    } while (n);
}

/* ---- warm-up ---- */

extern void *__tls_get_addr(void *); /* ld.so's: new threads' TLS is allocated there */

static void *warm_main(void *arg)
{
    track_guard = 1;
    ownmaps_thread_stack(1);
    if (symbols_init() == 0) {
        symbols_warm((uint64_t)getauxval(AT_ENTRY) + 1);
        symbols_warm((uint64_t)(uintptr_t)getpid + 1);
        symbols_warm((uint64_t)(uintptr_t)__tls_get_addr + 1);
    }
    ownmaps_thread_stack(0); /* glibc may give the stack to a program thread next */
    return arg;
}

/* ---- outputs ---- */

/* The stream's first message, in the file at once. */
static void hello(void)
{
    ssize_t n = readlink("/proc/self/exe", C.exe, sizeof(C.exe) - 1);

    C.exe[n > 0 ? n : 0] = 0;
    EMIT(EMIT_STREAM, 0,
         encode_hello_sampled(b, (uint32_t)getpid(), C.exe, C.start_unix_ns,
                              (uint32_t)sysconf(_SC_PAGESIZE), (uint32_t)core_cfg.depth,
                              hello_flags(), atomic_load(&sample_rate_bytes)));
    emit_out_flush(1);
}

/* Opens the live socket; 1 when it listens, else 0 (said on stderr). */
static int open_socket(const char *path)
{
    const char *swhy = NULL;
    char def[108], msg[200];
    int is_default = server_default_path(def, sizeof(def)) == 0 && strcmp(def, path) == 0;

    if (server_open(path, is_default, &swhy) == 0)
        return 1;
    snprintf(msg, sizeof(msg), "socket off: %s", swhy);
    core_say(msg);
    return 0;
}

/* ---- thread ---- */

/* Sends the notes core_say() kept since the last call (definitions: a
 * client that connects later gets them too). */
static void send_notes(void)
{
    char text[CORE_NOTE_BYTES];
    int64_t t;

    while (core_note(C.notes_sent, text, sizeof(text), &t)) {
        EMIT(EMIT_DEF, 0, encode_note(b, t, text));
        C.notes_sent++;
    }
}

static void final_messages(void)
{
    int64_t now;

    drain_pass(1, 1, 1);
    send_notes();
    atomic_store(&core_on, 0);
    drain_pass(1, 1, 1);
    now = core_now();
    if (core_disabled_reason() && !C.disabled_sent) {
        C.disabled_sent = 1;
        EMIT(EMIT_STREAM, 0, encode_disabled(b, now, core_disabled_reason(), WIRE_OFF_COLLECTOR));
    }
    tick(1);
    EMIT(EMIT_STREAM, 0, encode_end(b, now, C.end_reason, C.end_status));
    emit_out_flush(1);
    if (core_cfg.stats) {
        const struct normalise_stats *ns = emit_stats();
        char msg[1200], walks[600];
        struct timespec cpu = {0, 0};
        double cpu_ms;

        /* this thread's CPU time (final_messages runs on the collector
         * thread): issue 13's figure, the collector's CPU per event */
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
        cpu_ms = (double)cpu.tv_sec * 1e3 + (double)cpu.tv_nsec / 1e6;
        unwind_describe(walks, sizeof(walks));
        snprintf(msg, sizeof(msg),
                 "stats: %llu events, %llu implicit frees, %llu straggling frees, %llu frees "
                 "of unknown blocks, %s, %llu waits on a full "
                 "buffer, stack trie %u nodes (%zu KiB), live table %zu bytes for %zu blocks "
                 "(%zu KiB of its growths' pages faulted in ahead), "
                 "site table %zu bytes for %zu sites, %zu bytes of module files given back, "
                 "collector thread %.0f ms CPU (%.1f ns an event)",
                 (unsigned long long)ns->events, (unsigned long long)ns->evicted,
                 (unsigned long long)ns->stragglers, (unsigned long long)ns->unknown_frees, walks,
                 (unsigned long long)ring_waits(), trie_limit() - 1 - trie_lost_ids(),
                 trie_bytes() / 1024, live_bytes_used(), live_count(), prefault_done_bytes() / 1024,
                 sites_mapped_bytes(), sites_count(), symbols_trimmed_bytes(), cpu_ms,
                 ns->events ? cpu_ms * 1e6 / (double)ns->events : 0.0);
        core_say_stderr(msg);
        const struct drain_stats *ds = drain_stats();
        uint64_t sp_events, sp_peak;
        const char *sp_where, *sp_off;

        spill_stats(&sp_events, &sp_peak, &sp_where, &sp_off);
        snprintf(msg, sizeof(msg),
                 "stats: drain: %llu events staged in %llu merges (%llu stopped at their "
                 "deadline), %llu carried over, %llu moved to a backlog, %llu committed "
                 "after a tick dated past their stamp (dated at that tick); the program waited "
                 "%.1f ms on full buffers; %llu events spilled to a file%s%s (at most %.1f MB "
                 "held, %llu read back)%s%s",
                 (unsigned long long)ds->staged, (unsigned long long)ds->merges,
                 (unsigned long long)ds->late, (unsigned long long)ds->carried,
                 (unsigned long long)ds->to_backlog, (unsigned long long)emit_dated_late(),
                 (double)ring_waited_ns_total() / 1e6, (unsigned long long)sp_events,
                 sp_where ? " " : "", sp_where ? sp_where : "", (double)sp_peak / 1e6,
                 (unsigned long long)ds->from_spill, sp_off ? ", spilling off: " : "",
                 sp_off ? sp_off : "");
        core_say_stderr(msg);
    }
}

/* Unmaps the trie's older indexes once no thread can be reading them: a
 * grace period starts when some are retired, and they go when it ends. */
static void trie_release(void)
{
    static int waiting;

    if (waiting && grace_passed()) {
        trie_free_retired();
        waiting = 0;
    }
    if (!waiting && trie_retire()) {
        grace_start();
        waiting = 1;
    }
}

static void catch_up(void);

static void *collect_main(void *arg)
{
    int64_t last_busy = 0;

    track_guard = 1;
    ownmaps_thread_stack(1);
    pthread_setname_np(pthread_self(), "heapline");
    if (C.later) {
        hello();
        if (C.sock_later[0] && open_socket(C.sock_later))
            emit_server_opened();
    }
    /* a deferred thread started by the run's end (collect_stop) walks no
     * more: neither the trie's pages nor the outer modules' rules */
    int ending = atomic_load(&C.stop);

    if (!ending)
        trie_prefault();
    catch_up();
    C.next_tick = core_now() + (int64_t)core_cfg.tick_ms * 1000000;
    if (!ending)
        unwind_serve_start();
    while (!atomic_load(&C.stop)) {
        uint64_t sync = atomic_load(&C.sync_req);
        /* a collect_sync() waits (dlclose): everything up to the
         * watermark, whatever it takes */
        size_t n = drain_pass(C.ticks % 16 == 0, 0, sync != atomic_load(&C.sync_done));
        trie_maintain();
        trie_release();
        unwind_serve(); /* a module's rules a walk asked for */
        send_notes();

        atomic_store(&C.sync_done, sync);
        int64_t now = core_now();

        if (!atomic_load_explicit(&core_on, memory_order_relaxed) && core_disabled_reason() &&
            !C.disabled_sent) {
            C.disabled_sent = 1;
            drain_pass(0, 1, 1);
            EMIT(EMIT_STREAM, 0,
                 encode_disabled(b, now, core_disabled_reason(), WIRE_OFF_COLLECTOR));
            tick(0);
            emit_out_flush(1); /* in the file now, whatever the tick's pace */
            /* nothing is tracked from here on: give the program back what
             * tracking held (the live table, 43-64 bytes a block; the
             * staging buffer), which under `ulimit -v` it may need */
            live_reset();
            live_init();
            drain_release();
        }
        if (now >= C.next_tick) {
            tick(0);
            C.next_tick = now + (int64_t)core_cfg.tick_ms * 1000000;
        }
        symbols_trim(now);
        live_maintain(now);
        /* Drain every millisecond while the program allocates; when it has
         * been quiet for 100 ms, sleep until the next tick (a producer whose
         * ring gets half full wakes us through ring_wake_fd, and so does a
         * walk that asks for a module's rules). A sampled run's rings carry
         * only its samples, a few a millisecond at most: it sleeps until the
         * next tick from the start. Its thousand wake-ups a second took the
         * program's CPU under load (sqlite3 at 512K: 340 preemptions of the
         * program's thread in a 0.35 s run). */
        if (n)
            last_busy = now;
        int wait_ms = n ? 0
                      : !sample_on() && now - last_busy < 100000000
                          ? 1
                          : (int)((C.next_tick - now) / 1000000) + 1;
        if (wait_ms > core_cfg.tick_ms)
            wait_ms = core_cfg.tick_ms;
        if (emit_server_on()) {
            server_poll(wait_ms, ring_wake_fd);
        } else if (wait_ms) {
            struct pollfd p = {ring_wake_fd, POLLIN, 0};
            uint64_t v;

            if (poll(&p, 1, wait_ms) > 0)
                (void)!read(ring_wake_fd, &v, sizeof(v));
        }
    }
    final_messages();
    if (emit_server_on())
        server_close(1000);
    emit_server_off();
    if (C.rec_ok)
        writer_stop();
    C.rec_ok = 0;
    emit_record_off();
    procfd_close(&C.statm);
    procfd_close(&DF.statm); /* the program's threads note no more ticks */
    emit_threads_close();
    spill_close(); /* the final pass read every chunk back */
    /* The process is exiting and waits for this thread (collect_stop): the
     * symbol tables are not given back (0.1-0.15 ms of that wait, sqlite3) */
    if (C.end_reason != WIRE_END_EXIT)
        symbols_fini();
    ownmaps_thread_stack(0);
    atomic_store(&C.alive, 0);
    return NULL;
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

/* Starts the collector thread with every signal blocked on it. 0, or an
 * error number. */
static int start_thread(void)
{
    sigset_t all, old;
    pthread_attr_t attr;
    int r;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    r = pthread_create(&C.thread, &attr, collect_main, NULL);
    C.joinable = r == 0;
    C.thread_pid = getpid();
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* Joins a collector thread that has ended (C.alive is its last store): a
 * detached run's, whose stack and thread descriptor glibc keeps until then
 * (8 MB more of the program's address space at every heapline attach). */
static void join_ended(void)
{
    if (C.joinable && C.thread_pid == getpid() && !atomic_load(&C.alive) &&
        !pthread_equal(pthread_self(), C.thread)) {
        pthread_join(C.thread, NULL);
        C.joinable = 0;
    }
}

/* A deferred collector's start, by whichever thread needs it first (the
 * exchange lets one through). A thread that cannot start turns tracking
 * off: nothing would drain the ring. */
static void undefer(void)
{
    if (!atomic_load_explicit(&DF.on, memory_order_acquire) || !atomic_exchange(&DF.on, 0))
        return;
    if (start_thread() != 0) {
        atomic_store(&C.alive, 0);
        core_disable("cannot start the collector thread");
    }
}

int collect_deferred(void)
{
    return atomic_load_explicit(&DF.on, memory_order_relaxed);
}

void collect_undefer(void)
{
    undefer();
}

void collect_point(void)
{
    int64_t now;
    unsigned n;
    int due, go;

    if (!atomic_load_explicit(&DF.on, memory_order_relaxed))
        return;
    /* one at a time: threads that glibc does not know of (a raw clone()
     * leaves __libc_single_threaded set) must not write one entry twice */
    if (atomic_exchange_explicit(&DF.noting, 1, memory_order_acquire))
        return;
    now = core_now();
    n = atomic_load_explicit(&DF.n, memory_order_relaxed);
    due = now >= DF.next_ns && n < DEFER_TICKS;
    if (due) {
        /* noted even when the thread starts now: the level held until this
         * point (a program that slept holding its peak) is this tick's */
        struct defer_tick *d = &DF.log[n];

        DF.next_ns = now + (int64_t)core_cfg.tick_ms * 1000000;
        d->rss = read_rss_from(&DF.statm);
        sample_totals(&d->tot);
        d->stamp = stamp_now_ordered(); /* after the totals: the events they count are older */
        atomic_store_explicit(&DF.n, ++n, memory_order_release);
    }
    /* the program has threads now (ours costs nothing more), so many stacks
     * that naming them beside it is worth more, the log full, a second
     * gone, or a client waiting (looked at with each tick) */
    go = !__libc_single_threaded || trie_limit() > DEFER_MAX_NODES || n == DEFER_TICKS ||
         now - DF.since_ns > DEFER_MAX_NS || (due && emit_server_on() && server_pending());
    atomic_store_explicit(&DF.noting, 0, memory_order_release);
    if (go)
        undefer();
}

/* The deferred ticks, in order: the events up to each applied, then the tick
 * as the program noted it. Collector thread, as it starts. */
static void catch_up(void)
{
    unsigned n = atomic_load_explicit(&DF.n, memory_order_acquire);

    for (unsigned i = 0; i < n; i++) {
        const struct defer_tick *d = &DF.log[i];
        struct wire_totals tot;

        drain_pass_until(d->stamp);
        C.rss = d->rss;
        tot = (struct wire_totals){drain_applied_ns(),
                                   d->tot.heap_bytes,
                                   d->tot.heap_blocks,
                                   d->rss,
                                   d->tot.allocations,
                                   d->tot.frees,
                                   d->tot.bytes_allocated,
                                   0,
                                   0};
        tick_with(0, tot.time, &tot);
    }
    if (n)
        drain_pass_until(INT64_MAX - 1); /* the rest of the segment: no stamp converted off it */
    atomic_store_explicit(&DF.n, 0, memory_order_relaxed);
}

/* heapline attach again: the last run's thread joined and its buffers
 * freed, the writer's too (7 MB of the program's memory at every attach). Not in a fork
 * child, whose C is its parent's, thread included. */
static void reclaim_last_run(void)
{
    static pid_t run_pid;

    if (run_pid == getpid()) {
        join_ended();
        if (!C.joinable) { /* else it still runs: its buffers stay */
            free(C.scratch);
            free(C.history);
            free(C.sites_buf);
            free(C.own_out);
            writer_release();
        }
    }
    run_pid = getpid();
}

int collect_start(const char *record_path, const char *socket_path, const char **why)
{
    struct timespec ts;

    char *out;
    int server_on = 0;

    reclaim_last_run();
    memset(&C, 0, sizeof(C));
    C.statm = (struct procfd)PROCFD_INIT;
    page_size = sysconf(_SC_PAGESIZE);
    atomic_store(&DF.on, 0);
    atomic_store(&DF.n, 0);
    spill_prepare(); /* the environment is read here, not on the collector thread */
    drain_start();   /* before tracking starts: every stamp is later */
    clock_gettime(CLOCK_REALTIME, &ts);
    C.start_unix_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    C.scratch = malloc(EMIT_OUT_CAP);
    C.history = malloc(HISTORY_MAX * sizeof(*C.history));
    C.sites_buf = malloc(SITES_CHUNK * sizeof(*C.sites_buf));
    if (!C.scratch || !C.history || !C.sites_buf) {
        *why = "out of memory at start-up";
        return -1;
    }
    if (record_path[0]) {
        if (writer_start(record_path, core_cfg.compress, EMIT_OUT_CAP, sample_on(), why) < 0)
            return -1;
        C.rec_ok = 1;
        out = writer_buffer();
    } else {
        out = C.own_out = malloc(EMIT_OUT_CAP);
        if (!out) {
            *why = "out of memory at start-up";
            return -1;
        }
    }
    /* A sampled recording's HELLO, its first flush and an absolute socket
     * path are the collector thread's first acts, not the program's: the
     * inline writer (writer.h) compresses on the thread that hands over,
     * and the socket's bind and directory checks took 85 us of the
     * program's start-up. With no file, the socket is the output and its
     * failure stops the run here, as before. */
    /* deferred: HELLO is in the file from the start (a program killed
     * before its thread ran leaves a recording that says it was cut short,
     * not an empty file), and the socket listens from the start (a client
     * waiting there starts the thread, collect_point) */
    int defer = C.rec_ok && sample_on() && !core_cfg.defer_off && !core_cfg.attached &&
                __libc_single_threaded;
    C.later = C.rec_ok && sample_on() && !defer;
    if (socket_path[0] && C.later && socket_path[0] == '/')
        snprintf(C.sock_later, sizeof(C.sock_later), "%s", socket_path);
    else if (socket_path[0])
        server_on = open_socket(socket_path);
    if (!C.rec_ok && !server_on) {
        *why = "no output";
        return -1;
    }
    emit_init(out, C.rec_ok, server_on);
    if (!C.later)
        hello();

    if (ring_wake_fd < 0) {
        ring_wake_fd = fds_adopt(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
    atomic_store(&C.alive, 1);
    if (defer) {
        DF.since_ns = core_now();
        DF.next_ns = DF.since_ns + (int64_t)core_cfg.tick_ms * 1000000;
        atomic_store_explicit(&DF.on, 1, memory_order_release);
        return 0;
    }
    if (start_thread() != 0) {
        atomic_store(&C.alive, 0);
        if (C.later)
            hello();
        *why = "cannot start the collector thread";
        return -1;
    }
    return 0;
}

/* A deferred collector whose run ends (the exit, a signal, a stop): the end
 * is said before its thread starts, which then has only the end to write, no
 * rules to compile and no trie pages to fault in for walks that will not
 * come (sqlite3's exit compiled libc's 28,000 rules, 1.8 ms). 1 when it was
 * said here. */
static int end_before_start(uint32_t reason, int32_t status)
{
    if (!collect_deferred() || atomic_load(&C.stop))
        return 0;
    C.end_reason = reason;
    C.end_status = status;
    atomic_store(&C.stop, 1);
    unwind_stop_compiles();
    return 1;
}

void collect_stop(uint32_t reason, int32_t status)
{
    struct timespec ts;
    uint64_t one = 1;

    (void)end_before_start(reason, status);
    undefer(); /* the run's work, all of it now */
    if (!atomic_load(&C.alive)) {
        join_ended();
        return;
    }
    if (pthread_equal(pthread_self(), C.thread))
        return;
    if (!atomic_load(&C.stop)) { /* else collect_stop_async() or the above said why */
        C.end_reason = reason;
        C.end_status = status;
        atomic_store(&C.stop, 1);
    }
    unwind_stop_compiles(); /* nothing waits for a module no walk will use */
    if (ring_wake_fd >= 0)  /* now, not when its poll times out (1 ms, or a tick period idle) */
        (void)!write(ring_wake_fd, &one, sizeof(one));
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    if (pthread_timedjoin_np(C.thread, NULL, &ts) != 0)
        core_say("collector thread did not stop in time; the recording may lack its end");
    else
        C.joinable = 0;
}

void collect_stop_async(uint32_t reason, int32_t status)
{
    uint64_t one = 1;

    if (end_before_start(reason, status)) {
        undefer();
        return;
    }
    undefer();
    if (!atomic_load(&C.alive) || atomic_load(&C.stop))
        return;
    C.end_reason = reason;
    C.end_status = status;
    atomic_store(&C.stop, 1);
    unwind_stop_compiles();
    if (ring_wake_fd >= 0)
        (void)!write(ring_wake_fd, &one, sizeof(one));
}

void collect_crash(int sig)
{
    struct timespec ts = {0, 1000000};

    /* a thread started in a signal handler: the program is dying, and the
     * recording is otherwise only its header */
    (void)end_before_start(WIRE_END_SIGNAL, sig);
    undefer();
    if (!atomic_load(&C.alive) || pthread_equal(pthread_self(), C.thread))
        return;
    C.end_reason = WIRE_END_SIGNAL;
    C.end_status = sig;
    atomic_store(&C.stop, 1);
    unwind_stop_compiles();
    for (int i = 0; i < 2000 && atomic_load(&C.alive); i++)
        nanosleep(&ts, NULL);
}

const unsigned long long *collect_unknown_frees(void)
{
    _Static_assert(sizeof(emit_stats()->unknown_frees) == sizeof(unsigned long long),
                   "a 64-bit count");
    return (const unsigned long long *)&emit_stats()->unknown_frees;
}

void collect_sync(void)
{
    struct timespec ts = {0, 200000};
    uint64_t want, one = 1;

    undefer(); /* a dlclose: its frames are named while it is mapped */
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
    C.joinable = 0; /* the parent's thread: joining it here would wait for good */
    atomic_store(&DF.on, 0);
    atomic_store(&DF.n, 0);
    C.rec_ok = 0;
    emit_record_off();
    procfd_close(&C.statm); /* /proc/self was the parent */
    procfd_close(&DF.statm);
    emit_threads_close();
    if (ring_wake_fd >= 0)
        fds_close(ring_wake_fd);
    ring_wake_fd = -1;
    writer_atfork_child();
    if (emit_server_on())
        server_atfork_child();
    emit_server_off();
    symbols_atfork_child();
    pyframes_atfork_child();
}
