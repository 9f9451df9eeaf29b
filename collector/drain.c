/*
 * drain.c - from the rings to events applied in time order (drain.h).
 *
 * Events are copied out of the rings (producers never wait on anything
 * slower than a copy) into stage[], one time-sorted run per ring, merged by
 * time and applied. Only events stamped before the pass began are applied:
 * an event is committed before anything it causes on another thread starts
 * (a block is handed over after malloc returned, and the free reads the
 * clock after that), so a free never arrives before its block's allocation.
 * Events that arrive out of order across threads anyway (a thread preempted
 * between its stamp and its commit) are normalised (normalise.h).
 */
#include "drain.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "emit.h"
#include "live.h"
#include "ownmaps.h"
#include "ring.h"
#include "sites.h"
#include "spill.h"
#include "stamp.h"
#include "unwind.h"

/* A staged event: its thread in ev.thread, so 48 bytes, not 56 (the
 * stage of 65536 events is 3.1 MB resident, not 3.7). */
struct staged {
    struct ring_event ev;
};

struct run {
    size_t begin, pos, end; /* into stage[] */
    struct ring *ring;
};

static struct {
    struct staged *stage;
    size_t n_stage, cap_stage;
    struct run *runs;
    size_t n_runs, cap_runs;
    struct stamp_map map;     /* ring event stamps -> ns */
    int64_t last_ns;          /* the time of the last event applied */
    int64_t applied_ns;       /* every event up to this time is applied */
    size_t buf_bytes;         /* mapped by buf_resize() now */
    size_t buf_peak;          /* and at most (HEAPLINE_STATS) */
    int64_t stage_big_ns;     /* the last pass that staged past STAGE_KEEP, 0: none since */
    int64_t backlog_given_ns; /* backlogs_give_back()'s last look */
    struct drain_stats st;    /* HEAPLINE_STATS */
    pid_t pid;                /* getpid() at drain_start(): release_dead's, every pass */
    int cpus;                 /* the CPUs the process may run on, at drain_start() */
    size_t producing;         /* rings whose head moved in the last PRODUCING_NS */
} D;

/* Resizes a buffer of the collector's that holds copies of ring events
 * (old and want in bytes; want 0 frees it). Returns the buffer, or NULL
 * when it cannot grow (p is then unchanged). Mapped and known as the
 * collector's (ownmaps.h): the events name live blocks, and a stale copy in
 * a large malloc'd buffer (an anonymous mapping of its own) was a root to
 * a backreference scan, a reference the program does not hold.
 *
 * Not inherited across fork (MADV_DONTFORK): a scan's snapshot child never
 * reads them (its blocks come from the live table, its roots from the
 * program's own mappings, and these are left out as the collector's), and
 * each page of them the collector wrote while a snapshot child lived was a
 * copy-on-write fault on the collector thread: up to 100 MB of them on a
 * 2M-block program behind, 50 scans a second, and the program's threads
 * waited on full rings meanwhile. A program's own fork child forgets them
 * (drain_atfork_child). */
static void *buf_resize(void *p, size_t old, size_t want)
{
    void *q;

    if (!want) {
        if (p) {
            ownmaps_del(p);
            munmap(p, old);
            D.buf_bytes -= old;
        }
        return NULL;
    }
    q = p ? mremap(p, old, want, MREMAP_MAYMOVE)
          : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return NULL;
    (void)madvise(q, want, MADV_DONTFORK); /* kept by mremap: again in case */
    if (p)
        ownmaps_del(p);
    ownmaps_add(q, want);
    D.buf_bytes += want - (p ? old : 0);
    if (D.buf_bytes > D.buf_peak)
        D.buf_peak = D.buf_bytes;
    return q;
}

void drain_start(void)
{
    if (D.pid == getpid()) { /* heapline attach again: the last run's buffers */
        D.stage = buf_resize(D.stage, D.cap_stage * sizeof(*D.stage), 0);
        free(D.runs);
    }
    memset(&D, 0, sizeof(D)); /* a fork child's copy was the parent's */
    D.pid = getpid();
    stamp_map_start(&D.map);
    {
        cpu_set_t set;

        D.cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    }
}

void drain_atfork_child(void)
{
    /* the parent's buffers were not copied (MADV_DONTFORK): forget them,
     * and their entries among the collector's mappings, before the rings
     * that point at them go (ring_atfork_child) */
    for (struct ring *r = ring_list(); r; r = r->next) {
        if (r->backlog)
            ownmaps_del(r->backlog);
        r->backlog = NULL;
        r->backlog_head = r->n_backlog = r->cap_backlog = r->backlog_reach = 0;
    }
    if (D.stage)
        ownmaps_del(D.stage);
    spill_atfork_child();
    memset(&D, 0, sizeof(D)); /* D.runs, malloc'd, is the parent's copy: left */
}

int64_t drain_applied_ns(void)
{
    return D.applied_ns;
}

const struct drain_stats *drain_stats(void)
{
    return &D.st;
}

size_t drain_buffers_peak(void)
{
    return D.buf_peak;
}

void drain_release(void)
{
    D.stage = buf_resize(D.stage, D.cap_stage * sizeof(*D.stage), 0);
    D.n_stage = D.cap_stage = 0;
    spill_close();
}

/* Applies one staged event, its stamps converted to ns first (in place:
 * a staged event is applied once). */
static void apply(struct staged *s)
{
    struct ring_event *ev = &s->ev;

    ev->time = stamp_ns(&D.map, ev->time);
    D.last_ns = ev->time;
    if (ev->op == RING_REALLOC)
        ev->dt0 = (uint32_t)stamp_span_ns(&D.map, ev->dt0);
    emit_apply(ev, ev->thread);
}

/* Applies the next event of run u, first starting the load of the live
 * table slot that the event PREFETCH_AHEAD places later in the run will
 * look up: the table outgrows the caches, and each lookup was one miss. */
#define PREFETCH_AHEAD 12
static void apply_next(struct run *u)
{
    if (live_prefetch_worth && u->pos + PREFETCH_AHEAD < u->end) {
        const struct ring_event *ahead = &D.stage[u->pos + PREFETCH_AHEAD].ev;

        live_prefetch(ahead->op == RING_REALLOC ? ahead->old_addr : ahead->addr);
    }
    apply(&D.stage[u->pos++]);
}

/* ---- drain and merge ---- */

/* The stage's pages past its first STAGE_KEEP events (a full ring) are
 * given back once no pass has staged that many for STAGE_QUIET_NS: only the
 * passes that drain a backlog stage more, and the 1.6 MB they touched stayed
 * resident to the end (python3's JSON bench's peak). Not after every such
 * pass: a collector behind would fault them in again on each. */
#define STAGE_KEEP RING_EVENTS
#define STAGE_QUIET_NS 100000000ll
static void stage_give_back(int64_t now)
{
    size_t keep = (STAGE_KEEP * sizeof(*D.stage) + 4095) & ~(size_t)4095;
    size_t bytes = D.cap_stage * sizeof(*D.stage);

    if (D.stage_big_ns && now - D.stage_big_ns > STAGE_QUIET_NS) {
        if (bytes > keep)
            (void)madvise((char *)D.stage + keep, bytes - keep, MADV_DONTNEED);
        D.stage_big_ns = 0;
    }
}

static int stage_reserve(size_t more)
{
    if (D.n_stage + more <= D.cap_stage)
        return 0;
    size_t cap = D.cap_stage ? D.cap_stage : 65536;
    while (cap < D.n_stage + more)
        cap *= 2;
    void *p = buf_resize(D.stage, D.cap_stage * sizeof(*D.stage), cap * sizeof(*D.stage));
    if (!p)
        return -1;
    D.stage = p;
    D.cap_stage = cap;
    return 0;
}

static int run_push(size_t pos, size_t end, struct ring *ring)
{
    if (D.n_runs == D.cap_runs) {
        size_t cap = D.cap_runs ? D.cap_runs * 2 : 64;
        void *p = realloc(D.runs, cap * sizeof(*D.runs));

        if (!p)
            return -1;
        D.runs = p;
        D.cap_runs = cap;
    }
    D.runs[D.n_runs++] = (struct run){pos, pos, end, ring};
    return 0;
}

/* ---- backlogs ----
 * A ring's backlog holds, oldest first, n_backlog events from
 * backlog[backlog_head] on, circular (indexes modulo cap_backlog, a power of
 * two): events moved out of the ring while the collector was busy
 * (drain_relieve, at its back) and events a merge could not apply yet
 * (carry_over, at its front). All of them are older than what is still in
 * the ring. Circular, so that neither end moves the rest: a backlog compacted
 * to its start on each carry-over moved all of it each pass, 41% of the
 * collector thread's instructions on python3's JSON bench. */

static size_t backlog_len(const struct ring *r)
{
    return r->n_backlog;
}

/* The backlog's i-th event, oldest first. */
static struct ring_event *backlog_at(const struct ring *r, size_t i)
{
    return &r->backlog[(r->backlog_head + i) & (r->cap_backlog - 1)];
}

/* Notes the slots written so far (backlog_consume gives their pages back). */
static void backlog_touch(struct ring *r)
{
    size_t end = r->backlog_head + r->n_backlog;

    if (end > r->cap_backlog) /* wrapped: every slot */
        end = r->cap_backlog;
    if (end > r->backlog_reach)
        r->backlog_reach = end;
}

/* Room for more events, at either end. Growing keeps the events' order: the
 * part that had wrapped to the start goes after the old end (the new
 * capacity is at least twice the old). Returns 0 or -1 (out of memory). */
static int backlog_reserve(struct ring *r, size_t more)
{
    size_t len = backlog_len(r), old = r->cap_backlog, cap = old ? old : RING_EVENTS;
    void *p;

    if (len + more <= old)
        return 0;
    while (cap < len + more)
        cap *= 2;
    p = buf_resize(r->backlog, old * sizeof(*r->backlog), cap * sizeof(*r->backlog));
    if (!p)
        return -1;
    r->backlog = p;
    r->cap_backlog = cap;
    if (r->backlog_head + len > old) {
        size_t wrapped = r->backlog_head + len - old;

        memcpy(r->backlog + old, r->backlog, wrapped * sizeof(*r->backlog));
    }
    backlog_touch(r);
    return 0;
}

/* Moves the events to the start of the backlog (before it shrinks). */
static void backlog_unwrap(struct ring *r)
{
    size_t len = backlog_len(r), cap = r->cap_backlog, head = r->backlog_head;
    size_t first = head + len > cap ? cap - head : len; /* before the wrap */

    /* the wrapped part to its place behind the first, then the first: with
     * len <= cap / 4 neither lands on the first part's old place */
    memmove(r->backlog + first, r->backlog, (len - first) * sizeof(*r->backlog));
    memmove(r->backlog, r->backlog + head, first * sizeof(*r->backlog));
    r->backlog_head = 0;
}

/* A backlog a burst made large is given back as it empties: halved while
 * it is more than BACKLOG_KEEP events and its live part fits in a quarter
 * of it (so a pass's carry-over, at most DRAIN_BUDGET, still fits without
 * growing it again). Without this a backlog that never emptied (a collector
 * behind by a little for the rest of the run) held its peak, 25 MB a
 * thread, to the end. */
#define BACKLOG_KEEP (4 * RING_EVENTS)
static void backlog_trim(struct ring *r)
{
    size_t len = backlog_len(r), cap = r->cap_backlog;
    void *p;

    while (cap > BACKLOG_KEEP && len <= cap / 4)
        cap /= 2;
    if (cap == r->cap_backlog)
        return;
    backlog_unwrap(r);
    p = buf_resize(r->backlog, r->cap_backlog * sizeof(*r->backlog), cap * sizeof(*r->backlog));
    if (p) {
        r->backlog = p;
        r->cap_backlog = cap;
        if (r->backlog_reach > cap)
            r->backlog_reach = cap;
    }
}

/* Appends the ring's events [t, t + n) (room reserved). */
static void backlog_append(struct ring *r, uint64_t t, size_t n)
{
    D.st.to_backlog += n;
    for (uint64_t i = t; i < t + n; i++) {
        *backlog_at(r, r->n_backlog) = r->ev[i & (RING_EVENTS - 1)];
        r->n_backlog++;
    }
    backlog_touch(r);
}

/* Consumes k events from the front. An empty backlog starts over at 0, and
 * one larger than a ring is given back: trimmed to BACKLOG_KEEP and empty
 * for the rest of the run, python3's JSON bench's kept 6.3 MB resident to
 * its peak. One of a ring's size is kept (a pass's carry-over lands in it
 * most passes); backlogs_give_back() returns the pages passes filled. */
static void backlog_consume(struct ring *r, size_t k)
{
    r->n_backlog -= k;
    r->backlog_head = (r->backlog_head + k) & (r->cap_backlog - 1);
    if (r->n_backlog)
        return;
    r->backlog_head = 0;
    if (r->cap_backlog > RING_EVENTS) {
        r->backlog = buf_resize(r->backlog, r->cap_backlog * sizeof(*r->backlog), 0);
        r->cap_backlog = r->backlog_reach = 0;
    }
}

/* The pages past the first BACKLOG_RESIDENT bytes of each empty backlog
 * that passes filled since, given back at most every BACKLOG_GIVE_NS (1.5 MB
 * of python3's peak). Not each time one empties: a collector behind carries
 * more than that over most passes, and python3's JSON bench made 455
 * madvise calls a run, each page faulted in again by the next pass. */
#define BACKLOG_RESIDENT (64u << 10)
#define BACKLOG_GIVE_NS 100000000ll
static void backlogs_give_back(int64_t now)
{
    if (now - D.backlog_given_ns < BACKLOG_GIVE_NS)
        return;
    D.backlog_given_ns = now;
    for (struct ring *r = ring_list(); r; r = r->next)
        if (!r->n_backlog && r->cap_backlog &&
            r->backlog_reach * sizeof(*r->backlog) > BACKLOG_RESIDENT) {
            (void)madvise((char *)r->backlog + BACKLOG_RESIDENT,
                          r->cap_backlog * sizeof(*r->backlog) - BACKLOG_RESIDENT, MADV_DONTNEED);
            r->backlog_reach = 0;
        }
}

/* Puts k staged events back, in order, in front of the backlog's (room
 * reserved). An empty backlog takes them at its start. */
static void backlog_prepend(struct ring *r, const struct staged *s, size_t k)
{
    D.st.carried += k;
    r->backlog_head = r->n_backlog ? (r->backlog_head - k) & (r->cap_backlog - 1) : 0;
    r->n_backlog += k;
    for (size_t j = 0; j < k; j++)
        *backlog_at(r, j) = s[j].ev;
    backlog_touch(r);
}

/* Moves every ring's pending events into its backlog, so producers do not
 * wait while the collector is busy with something slow (symbolizing a
 * module with large debug information). Called between such steps. The
 * backlogs take at most BACKLOG_MAX events in all (25 MB, 150 ms of python3
 * at full speed): past that, the program waits on its full rings as it would
 * without relief. A collector that stays slower than the program (python3,
 * whose new frames kept it symbolizing) otherwise grew one to 8M events,
 * 400 MB; and with the cap by ring, a busy 8-thread program recorded exactly
 * after an attach grew its memory by 228 MB (the bound must not grow with
 * the threads). */
#define BACKLOG_MAX (1u << 19)

/* The events every backlog holds. */
static size_t backlogs_len(void)
{
    size_t all = 0;

    for (struct ring *r = ring_list(); r; r = r->next)
        all += backlog_len(r);
    return all;
}

/* What the backlogs may still take when they hold all events. */
static size_t backlogs_room(size_t all)
{
    return all < BACKLOG_MAX ? BACKLOG_MAX - all : 0;
}

/* Whether the spill file may take events: while the threads making events
 * leave a CPU to the collector. Then a thread that goes on rather than
 * wait leaves the collector its CPU, and the events the file holds are
 * applied when the thread makes fewer (python3's teardown: 4-6% off its
 * run). When they take every CPU, its copies and writes are work the
 * collector adds to a machine with none to spare: churn's two threads on
 * two CPUs spilled 6-7M of 8M events and ran 6% slower. */
#define PRODUCING_NS 10000000ll
/* And while what the collector has applied is less than half a second old
 * (python3's teardown spilled at most 170 ms of its work): a client's
 * request waits for the events up to its time a second at most
 * (requests.c), and the program's exit for all of them. */
#define SPILL_LAG_NS 500000000ll
static int spill_worth(void)
{
    return D.producing < (size_t)D.cpus && core_now() - D.last_ns < SPILL_LAG_NS;
}

/* Moves a ring's n pending events from slot t to the spill file. Returns
 * whether they went. */
static int spill_ring(struct ring *r, uint64_t t, size_t n)
{
    if (!n || !spill_worth() || spill_append(r, t, n) < 0)
        return 0;
    atomic_store_explicit(&r->tail, t + n, memory_order_release);
    ring_tail_moved(r);
    return 1;
}

void drain_relieve(void)
{
    static int64_t last;
    int64_t now = core_now();
    size_t all;

    if (now - last < 500000)
        return;
    last = now;
    all = backlogs_len();
    for (struct ring *r = ring_list(); r; r = r->next) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        size_t n = (size_t)(h - t);

        /* behind the ring's chunks in the file, if any: its order */
        if (r->n_spill || !backlogs_room(all)) {
            spill_ring(r, t, n);
            continue;
        }
        if (n > backlogs_room(all))
            n = backlogs_room(all);
        if (!n || backlog_reserve(r, n) < 0)
            continue;
        backlog_append(r, t, n);
        atomic_store_explicit(&r->tail, t + n, memory_order_release);
        ring_tail_moved(r);
        all += n;
    }
}

/* During a long merge, every 1024 events applied: a ring half full goes to
 * the spill file, not the backlogs (they would grow the program's memory),
 * so that its thread does not wait on the collector. On python3's JSON
 * bench the program waited 80-150 ms on its full ring in its teardown,
 * whose 2M frees the collector applies three times slower than glibc makes
 * them, though the teardown's last 130 ms (malloc_consolidate) make none:
 * spilled, the collector applies them then. */
#define SPILL_AT (RING_EVENTS / 2)
static void relieve_to_file(void)
{
    for (struct ring *r = ring_list(); r; r = r->next) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);

        if (h - t >= SPILL_AT)
            spill_ring(r, t, (size_t)(h - t));
    }
}

/* An empty backlog of a ring with events in the spill file takes its
 * oldest chunks back (RING_EVENTS at least). Returns the events taken, or
 * -1: they could not be read, tracking is off. */
static long refill(struct ring *r)
{
    long got;

    if (!r->n_spill || backlog_len(r) || backlog_reserve(r, RING_EVENTS) < 0)
        return 0;
    got = spill_take(r, r->backlog, r->cap_backlog); /* empty: from slot 0 */
    if (got < 0) {
        core_disable("cannot read back the events spilled beside the record file");
        return -1;
    }
    r->backlog_head = 0;
    r->n_backlog = (size_t)got;
    D.st.from_spill += (uint64_t)got;
    backlog_touch(r);
    return got;
}

/* Copies pending events into stage[], one time-sorted run per ring, its
 * backlog first, and frees the ring space: at most DRAIN_BUDGET in all (at
 * least DRAIN_MIN_QUOTA a ring), so stage[] stays bounded however far the
 * collector fell behind (a 4M-event stage was 235 MB). Where a ring's events
 * were cut short, *limit is lowered to the stamp of its first one left
 * behind: nothing later may be applied before it is staged. */
#define DRAIN_BUDGET 65536u
#define DRAIN_MIN_QUOTA 4096u
/* A ring's backlog that pending events may join in drain_copy (1.5 MB). */
#define DRAIN_BACKLOG_MAX RING_EVENTS
#define DRAIN_MIN_ROOM 1024u
static size_t drain_copy(int64_t *limit)
{
    size_t total = 0, rings = 0, quota, all = backlogs_len(); /* all: the backlogs' events */
    size_t producing = 0;
    int64_t now = core_now();

    D.n_stage = 0;
    D.n_runs = 0;
    for (struct ring *r = ring_list(); r; r = r->next)
        rings++;
    quota = rings ? DRAIN_BUDGET / rings : DRAIN_BUDGET;
    if (quota < DRAIN_MIN_QUOTA)
        quota = DRAIN_MIN_QUOTA;
    for (struct ring *r = ring_list(); r; r = r->next) {
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
        size_t from_log, from_ring = (size_t)(h - t), start = D.n_stage;
        int64_t left = INT64_MAX; /* the stamp of the first event left behind */

        if (h != r->seen_head) {
            r->seen_head = h;
            r->producing_ns = now;
        }
        producing += now - r->producing_ns < PRODUCING_NS;

        if (!r->announced) {
            r->announced = 1;
            emit_thread_announce(r);
        }
        long got = refill(r); /* the file's oldest chunks, when the backlog is empty */

        if (got < 0)
            continue;
        all += (size_t)got;
        from_log = backlog_len(r);
        /* a backlog (events carried over, or moved out while the collector
         * symbolized) fills the pass first, and the ring's events are staged
         * straight behind it when all of it fits the quota (not through
         * the backlog: after a pass that carried over its last few events,
         * the next moved the whole ring through it, a second copy of 24-45%
         * of python3's JSON bench's events, and pages faulted in again) */
        size_t take_log = from_log < quota ? from_log : quota, moved = 0;
        /* the ring's events come after its chunks in the spill file */
        size_t take_ring = take_log < from_log || r->n_spill ? 0 : quota - take_log;

        if (take_ring > from_ring)
            take_ring = from_ring;
        if (stage_reserve(take_log + take_ring) < 0) {
            core_disable("out of memory on the collector thread");
            continue;
        }
        if (r->n_spill) {
            /* behind its chunks in the file: the rest of the ring joins them */
            if (spill_ring(r, t, from_ring)) {
                t += from_ring;
                h = t;
            }
        } else if (from_log && from_ring) {
            /* the rest of the ring goes behind the backlog, so its producer
             * gets room on every pass (up to DRAIN_BACKLOG_MAX, or as much
             * as the last pass took of this ring past that), never waits
             * for the whole backlog (4 threads waited 330 ms on a 2M-block
             * program) */
            size_t room = from_log < DRAIN_BACKLOG_MAX ? DRAIN_BACKLOG_MAX - from_log : 0;

            if (room < r->applied_last)
                room = r->applied_last;
            if (room < DRAIN_MIN_ROOM)
                room = DRAIN_MIN_ROOM;
            if (room > backlogs_room(all)) /* the bound is for every backlog at once */
                room = backlogs_room(all);
            if (room > from_ring)
                room = from_ring;
            moved = room > take_ring ? room - take_ring : 0;
            r->applied_last = 0;
            if (moved && backlog_reserve(r, moved) == 0)
                backlog_append(r, t + take_ring, moved);
            else
                moved = 0;
            all += moved;
        }
        for (size_t i = 0; i < take_log; i++) {
            D.stage[D.n_stage].ev = *backlog_at(r, i);
            D.stage[D.n_stage].ev.thread = r->thread_id;
            D.n_stage++;
        }
        backlog_consume(r, take_log);
        all -= take_log;
        for (uint64_t i = t; i < t + take_ring; i++) {
            D.stage[D.n_stage].ev = r->ev[i & (RING_EVENTS - 1)];
            D.stage[D.n_stage].ev.thread = r->thread_id;
            D.n_stage++;
        }
        t += take_ring + moved;
        /* read before the slots are handed back to the producer */
        if (backlog_len(r))
            left = backlog_at(r, 0)->time;
        else if (r->n_spill)
            left = spill_first_stamp(r);
        else if (t < h)
            left = r->ev[t & (RING_EVENTS - 1)].time;
        if (left < *limit)
            *limit = left;
        atomic_store_explicit(&r->tail, t, memory_order_release);
        ring_tail_moved(r);
        total += D.n_stage - start;
        if (D.n_stage > start)
            run_push(start, D.n_stage, r);
    }
    if (D.n_stage > STAGE_KEEP)
        D.stage_big_ns = core_now(); /* stage_give_back() */
    D.producing = producing;
    return total;
}

/* Events later than the merge's watermark were not applied: they go back,
 * in order, to the front of their ring's backlog (older than all of it). */
static void carry_over(void)
{
    for (size_t i = 0; i < D.n_runs; i++) {
        struct run *u = &D.runs[i];
        struct ring *r = u->ring;
        size_t k = u->end - u->pos;

        r->applied_last = u->pos - u->begin;
        if (k) {
            if (backlog_reserve(r, k) < 0) {
                core_disable("out of memory on the collector thread");
                continue;
            }
            backlog_prepend(r, &D.stage[u->pos], k);
            u->pos = u->end;
        }
        backlog_trim(r);
    }
}

/* Unmaps the rings of threads that have exited, once everything is applied. */
static void release_dead(int check_gone)
{
    pid_t pid = D.pid;
    struct ring *next;

    for (struct ring *r = ring_list(); r; r = next) {
        int dead = atomic_load_explicit(&r->dead, memory_order_acquire);

        next = r->next;
        if (!dead && check_gone && syscall(SYS_tgkill, pid, r->tid, 0) < 0 && errno == ESRCH)
            dead = 1;
        if (dead && !backlog_len(r) && !r->n_spill &&
            atomic_load(&r->head) == atomic_load(&r->tail)) {
            emit_thread_gone(r);
            r->backlog = buf_resize(r->backlog, r->cap_backlog * sizeof(*r->backlog), 0);
            ring_release(r);
        }
    }
}

/* Nonzero once the pass has run past its deadline (looked at every 1024
 * events): the merge stops there, as if its watermark were the time reached,
 * and the rest is carried over to the next pass. Every 1024 events it also
 * serves a walk's ask for a module's rules (one load when there is none): a
 * pass of a collector behind the program lasts a tick period. */
static int merge_late(size_t *applied, int64_t deadline)
{
    if ((++*applied & 1023) != 0)
        return 0;
    unwind_serve(); /* a module's rules a walk asked for: libunwind walks until then */
    relieve_to_file();
    return core_now() > deadline;
}

/* k-way merge of the runs by time (a binary heap of run indexes), applying
 * events up to the watermark, or until the deadline. Returns 1 when it
 * stopped at the deadline, else 0 (every staged event up to the watermark
 * is applied). */
static int merge_apply(int64_t watermark, int64_t deadline)
{
    size_t k = D.n_runs, applied = 0;
    size_t *heap;
    int late = 0;

    if (k == 0)
        return 0;
    if (k == 1) {
        struct run *u = &D.runs[0];

        while (u->pos < u->end && D.stage[u->pos].ev.time <= watermark)
            if (merge_late(&applied, deadline))
                return 1;
            else
                apply_next(u);
        return 0;
    }
    if (k == 2) { /* two threads: the heap below, without it (same ties: stay) */
        struct run *a = &D.runs[0], *o = &D.runs[1], *t;

        if (D.stage[o->pos].ev.time < D.stage[a->pos].ev.time)
            t = a, a = o, o = t;
        while (D.stage[a->pos].ev.time <= watermark) {
            if (merge_late(&applied, deadline))
                return 1;
            apply_next(a);
            if (a->pos == a->end) {
                while (o->pos < o->end && D.stage[o->pos].ev.time <= watermark)
                    if (merge_late(&applied, deadline))
                        return 1;
                    else
                        apply_next(o);
                return 0;
            }
            if (D.stage[o->pos].ev.time < D.stage[a->pos].ev.time)
                t = a, a = o, o = t;
        }
        return 0;
    }
    heap = malloc(k * sizeof(*heap));
    if (!heap)
        return 1; /* nothing applied: the time reached stays */
#define KEY(r) (D.stage[D.runs[r].pos].ev.time)
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
    while (n > 0 && KEY(heap[0]) <= watermark) {
        size_t r = heap[0];

        if (merge_late(&applied, deadline)) {
            late = 1;
            break;
        }
        apply_next(&D.runs[r]);
        if (D.runs[r].pos == D.runs[r].end)
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
    return late;
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
static size_t pass_until(int check_gone, int final, int whole, int64_t cap);

size_t drain_pass(int check_gone, int final, int whole)
{
    return pass_until(check_gone, final, whole, INT64_MAX);
}

size_t drain_pass_until(int64_t cap)
{
    return pass_until(0, 0, 1, cap);
}

static size_t pass_until(int check_gone, int final, int whole, int64_t cap)
{
    int64_t watermark, limit;
    /* final, or a collect_sync() waiting (dlclose): everything up to the
     * watermark, whatever it takes */
    int64_t deadline =
        final || whole ? INT64_MAX : core_now() + (int64_t)core_cfg.tick_ms * 1000000;
    size_t n = 0, k;

    if (cap != INT64_MAX && stamp_tsc && D.map.mult) {
        /* a catch-up (drain_pass_until): the segment the first of its passes
         * drew from the start up to now converts every stamp it applies; a
         * new pair would extrapolate older stamps from a newer segment, and
         * times of events applied apart could step back */
        watermark = D.map.tsc1; /* and cap, below */
    } else if (!stamp_map_advance(&D.map, &watermark) && !final) {
        if (!whole)
            return 0; /* no new segment yet: nothing new to apply (the loop sleeps 1 ms) */
        /* a collect_sync() waits for every event stamped before it (a
         * dlclose: its module's frames are named before it is unmapped),
         * and this watermark is older: the map moves on within
         * STAMP_MIN_SEGMENT_NS. Returning here let the dlclose go on with
         * nothing applied, and 1 t_dlopen run in 20 lost its library's
         * frames. */
        struct timespec ts = {0, 20000};

        while (!stamp_map_advance(&D.map, &watermark))
            nanosleep(&ts, NULL);
    }
    if (final)
        watermark = INT64_MAX;
    if (cap < watermark)
        watermark = cap;
    do { /* in budgets: until no ring was cut short before the watermark */
        int64_t bound, reached;

        limit = INT64_MAX;
        k = drain_copy(&limit);
        n += k;
        bound = watermark < limit ? watermark : limit;
        D.st.staged += k;
        D.st.merges++;
        if (merge_apply(bound, deadline)) {
            reached = D.last_ns; /* applied in time order up to there */
            D.st.late++;
        } else {
            reached = bound == INT64_MAX ? core_now() : stamp_ns(&D.map, bound);
        }
        if (reached > D.applied_ns)
            D.applied_ns = reached;
        carry_over();
        emit_batch_flush();
    } while (k && limit < watermark && core_now() <= deadline);
    if (sites_failed())
        core_disable("cannot grow the site table");
    stage_give_back(core_now());
    backlogs_give_back(core_now());
    spill_maintain(core_now());
    release_dead(check_gone);
    return n;
}
