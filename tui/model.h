/*
 * model.h - everything heapline knows about one profiled run, fed one decoded
 * message at a time, queried at any time point. No curses, no I/O.
 *
 * The model is fed by a source (child, socket, file) through model_apply(),
 * its only mutator. Views and the report read it through the const queries
 * below; nothing here keeps a pointer into a wire message.
 *
 * Figures. A *site* is (function, file, line, module) of the attributed frame
 * of a stack: the first frame, from the leaf toward the root, that is not
 * allocator plumbing (libc, libstdc++, libgcc_s, ld-linux, libheapline, and
 * operator new / strdup-like wrappers). Every figure is kept per stack and
 * summed per site.
 *
 * Authority. A stream that carries events from its first message (a record
 * file) is *exact per event*: the site table, the totals and the peak come
 * from the events, and ticks add RSS and are cross-checked (see
 * model_summary.tick_mismatches). A stream that started with a SNAPSHOT
 * (attach, run) or was downgraded (MISSED) takes the site table and totals
 * from SNAPSHOT + TICK deltas, which the collector keeps exact; events then add
 * only object-level detail (objects, temporaries). The switch is seamless: the
 * first tick after a MISSED rebases every stack on the tick state.
 *
 * Time. Times are nanoseconds since the collector started (wire time; events
 * have microsecond resolution, wire.h). The
 * model keeps a timeline of points (one per tick, or per MODEL_BUCKET_NS of
 * events when a stream has no ticks) with per-stack deltas, plus periodic
 * per-site checkpoints, so the state at any time is a checkpoint plus a short
 * replay. State "at time T" is the state after the last point whose time is
 * <= T. The exact per-event peak is available with MODEL_AT_PEAK.
 *
 * Not thread-safe: one thread owns a model. Every pointer a query returns
 * stays valid until the next model_apply() or model_free(), except where
 * noted (strings of sites, frames, threads, tags and markers live as long as
 * the model).
 */
#ifndef HEAPLINE_MODEL_H
#define HEAPLINE_MODEL_H

#include <stddef.h>
#include <stdint.h>

struct liveset;
struct wire_msg;
struct model;

#define MODEL_BUCKET_NS 10000000LL /* 10 ms: timeline resolution without ticks */
#define MODEL_NONE UINT32_MAX

/* ---- life cycle ------------------------------------------------------- */

/* Returns a new, empty model, or NULL when out of memory. */
struct model *model_new(void);
void model_free(struct model *m);

/*
 * Applies one decoded message (any type; REQUEST and RESPONSE are counted
 * and otherwise ignored: answers are kept per request by whoever asked,
 * responses.h). Returns 0, or -1 with
 * model_error() set when the message is inconsistent with what came before
 * (an undefined parent, a stack id redefined differently, out of memory);
 * the model stays usable and keeps what it had. Bounded work per message
 * except the rebase after MISSED (linear in stacks).
 */
int model_apply(struct model *m, const struct wire_msg *msg);

/* Memory bounds: when the delta log passes log_entries (40 bytes each) or
 * the timeline passes points, the older half of the timeline is merged
 * pairwise (coarser old history, same recent detail, exact peak and latest
 * state). Defaults: 1.5M entries (60 MB), 256k points. */
void model_set_budget(struct model *m, uint64_t log_entries, uint32_t points);

/* Forgets everything (a new stream begins: the program exec'd and its new
 * image's collector starts afresh). The pointer stays valid, and so do the
 * strings and frames handed out before (until model_free); site ids, rows,
 * trees and other pointers do not (model_site() of an old id may return
 * NULL). model_generation() keeps growing.
 * Returns 0, or -1 when out of memory (the model is then unusable: free it). */
int model_reset(struct model *m);

/* From now on (and across model_reset()) EVENTS batches are counted in
 * summary.skipped_batches and not applied (a source's reads do not even
 * decode them, so they reach the model, and that count, only when it is
 * fed otherwise): for a client that needs the
 * definitions (stacks, sites, threads) and the summary, never the blocks
 * (heapline backrefs). Figures then come from ticks, as after MISSED
 * (summary.events_exact is 0); objects, temporaries and the per-event peak
 * are not kept. A stack's site is known once a SNAPSHOT or TICK names the
 * stack. Returns 0, or -1 (out of memory, model_error()). */
int model_skip_events(struct model *m);
/* Whether model_skip_events() was called: a source then has its decoder step
 * over EVENTS unread (source_read). */
int model_skipping_events(const struct model *m);

/* The last error of model_apply(), "" when none. */
const char *model_error(const struct model *m);

/* Increases every time model_apply() changes something visible: views cache
 * query results and recompute only when it moves. */
uint64_t model_generation(const struct model *m);

/* ---- run summary (status line, header, report) ------------------------ */

enum model_state {
    MODEL_WAITING = 0, /* nothing received yet */
    MODEL_RUNNING = 1, /* HELLO seen, no END */
    MODEL_ENDED = 2,   /* END seen: end_reason, end_status */
    MODEL_DISABLED = 3 /* DISABLED seen: the collector stopped, figures stop */
};

#define MODEL_NOTES 16

struct model_summary {
    int state; /* enum model_state */
    uint32_t pid;
    const char *exe; /* "" when unknown */
    int64_t start_unix_ns;
    uint32_t version, page_size, max_depth, hello_flags;

    int64_t time_first;                    /* time of the first timeline point (0 when none) */
    int64_t time_last;                     /* latest time seen in any message: the run's duration */
    uint64_t heap_bytes, heap_blocks, rss; /* now */
    uint64_t allocations, frees, bytes_allocated; /* whole run so far */
    uint64_t peak_bytes; /* exact: per event when events are authoritative */
    int64_t peak_time;
    uint64_t peak_rss;
    uint64_t leaked_bytes, leaked_blocks; /* live now (= at end once ended) */
    uint64_t temporary;                   /* temporary allocations (events only) */

    uint64_t events;          /* alloc/free/realloc events applied */
    uint64_t messages;        /* messages applied */
    uint64_t unmatched_frees; /* FREE/REALLOC naming no live block (blocks allocated
                               * before an attach excepted) */
    uint64_t missed;          /* events the collector says this client missed */
    uint64_t skipped_batches; /* EVENTS batches seen, not applied (model_skip_events) */
    int64_t missed_time;      /* time_last when the first MISSED came */
    uint64_t tick_mismatches; /* ticks whose totals disagreed with the events */
    int events_exact;         /* 1: figures from events; 0: from ticks */
    uint64_t sample_rate;     /* sampling mode's mean interval in bytes, 0 exact: per-site
                               * figures are then estimates (model_estimate_error()),
                               * the totals exact with heap bytes in usable bytes */
    int attached;             /* the stream started with a SNAPSHOT with history */
    int since_attach;         /* HELLO's WIRE_HELLO_ATTACHED: heapline attach loaded the
                               * collector into the running program, so the totals count
                               * from then (sampling: heap bytes are the net change since,
                               * never below 0; exact: the blocks allocated since, live) */
    int snapshot;             /* a SNAPSHOT came (a client joins a running collector) */

    uint32_t end_reason; /* enum wire_end, when state == MODEL_ENDED */
    int32_t end_status;
    int64_t end_time;
    /* DISABLED seen: the collector stopped tracking, or stopped writing the
     * recording (cause, enum wire_off). It stays set when END follows, which it
     * does: the run's figures stop at disabled_time whatever state says. */
    int disabled;
    const char *disabled_reason; /* "" until DISABLED */
    int64_t disabled_time;       /* the collector off: its time; the record file failed:
                                  * the last time the file holds (its last flush) */
    uint32_t disabled_cause;
    /* NOTEs: what the collector had to tell the user, in order (the first
     * MODEL_NOTES kept; the same note sent again to a later client is
     * counted once) */
    uint32_t n_notes;
    const char *notes[MODEL_NOTES];
    int64_t note_time[MODEL_NOTES];
};

/* Always valid (never NULL). */
const struct model_summary *model_summary(const struct model *m);

/* ---- timeline ---------------------------------------------------------- */

#define MODEL_POINT_HISTORY 1u /* from HISTORY: totals only, before the client attached */

struct model_point {
    int64_t time;
    uint64_t heap_bytes, heap_blocks, rss;
    uint64_t heap_max; /* from events: the most heap_bytes reached since the point before (a
                        * 12 ms program's 1.10M peak inside a 10 ms bucket); 0 for a tick's
                        * point, which knows only its own state */
    uint64_t allocations, frees, bytes_allocated; /* cumulative; 0 in HISTORY points */
    uint64_t events; /* ALLOC/FREE/REALLOC events of the stream, in stream order, whose
                      * changes this state holds (a prefix of the stream: where a second
                      * reader stops to rebuild it, see model_query_events()) */
    uint32_t flags;
};

/* The whole-run series, oldest first (the sparkline). *n gets the count. */
const struct model_point *model_timeline(const struct model *m, uint32_t *n);

/* Index of the last point with time <= t, or MODEL_NONE when t is before the
 * first point. */
uint32_t model_point_at(const struct model *m, int64_t t);

/* Samples heap bytes (and rss when rss != NULL) at k evenly spaced times over
 * [t0, t1] (the value at each time, per model_point_at; 0 before the first
 * point). For drawing the header sparkline at any width. */
void model_sample_totals(const struct model *m, int64_t t0, int64_t t1, uint32_t k, int64_t *heap,
                         int64_t *rss);

/* The most heap bytes from point i's time to point j's (one sparkline
 * cell): point i's state, the states of the points between, and the most
 * reached in the events of points i+1 .. j (heap_max: those events lie in
 * that span; point j's too when it exists). i MODEL_NONE: from the start.
 * rss: the largest over points [i, j). */
void model_range_max(const struct model *m, uint32_t i, uint32_t j, uint64_t *heap, uint64_t *rss);

struct model_marker {
    int64_t time;
    const char *label;
};

/* Markers in time order. */
const struct model_marker *model_markers(const struct model *m, uint32_t *n);

/* ---- definitions ------------------------------------------------------- */

/* A frame of a stack as people read it. One return address (ip) holds a
 * frame per function inlined there, each a frame of its own, in order:
 * model_frame(ip) is the innermost (file:line from the line table), and
 * `outer` leads outward, same ip, each at the line of its call to the one
 * before, to the function the machine code belongs to (outer NULL). Every
 * query that walks stacks (sites, callers, trees, model_stack_frames) walks
 * these frames. */
struct model_frame {
    uint64_t ip;
    const char *function; /* "" when unknown */
    const char *file;     /* "" when unknown */
    uint32_t line;
    const char *module;              /* basename, "" when unknown */
    uint64_t offset;                 /* ip - the module's load address (module known) */
    uint32_t inline_depth;           /* 0: the machine code's own function; k: inlined k calls
                                      * deep into it */
    const struct model_frame *outer; /* the frame it is inlined into, NULL when depth 0 */
};

/* A frame's name for people: its function; without one, "module+0xOFFSET"
 * (stable across runs, and what addr2line -e takes for a PIE or library),
 * else "0xIP". Returns function, or buf filled. */
const char *model_frame_label(const struct model_frame *f, char *buf, size_t n);

/* 1 when a site looks through f: allocator plumbing (the runtimes' modules,
 * operator new and malloc's wrappers, the C++ standard library's functions
 * and headers). */
int model_frame_is_plumbing(const struct model_frame *f);

/* The frame of an instruction pointer, or a frame with empty names. */
const struct model_frame *model_frame(const struct model *m, uint64_t ip);

/* A module (the executable, a library) as the collector described it. */
struct model_module {
    uint32_t id;
    const char *path, *name; /* name: the basename */
    uint64_t base, size;     /* load address, bytes */
    const char *build_id;    /* lowercase hex, "" when unknown */
    uint32_t symbols;        /* where its function names come from: enum wire_symbols
                              * (WIRE_SYMBOLS_EXPORTED: stripped, no debug file found) */
    const char *debug_file;  /* the separate debug file read, "" when none */
};

/* Modules by id; NULL for ids never defined. Ids are < model_module_limit(). */
const struct model_module *model_module(const struct model *m, uint32_t id);
uint32_t model_module_limit(const struct model *m);

struct model_thread {
    uint32_t id, os_tid;
    const char *name; /* "" when unnamed */
};

/* Threads by heapline thread id; NULL for ids never defined. */
const struct model_thread *model_thread(const struct model *m, uint32_t id);
uint32_t model_thread_limit(const struct model *m); /* ids are < this */

/* Tag names by id (0 is "no tag"); NULL for ids never defined. */
const char *model_tag_name(const struct model *m, uint32_t id);
uint32_t model_tag_limit(const struct model *m); /* ids are < this */

/* ---- sites ------------------------------------------------------------- */

struct model_site {
    uint32_t id;
    const char *function; /* "" unknown: shown as the ip */
    const char *file;     /* "" unknown */
    uint32_t line;
    const char *module; /* basename */
    uint64_t ip;        /* of the attributed frame (first stack seen) */
    uint64_t offset;    /* its offset in the module (model_frame) */
    uint32_t n_stacks;  /* distinct stacks attributed to this site */
    uint32_t tag;       /* first tag seen on an allocation here, 0 none */
    uint32_t thread;    /* first thread seen allocating here */
};

/* model_frame_label() for a site (its attributed frame). */
const char *model_site_label(const struct model_site *s, char *buf, size_t n);

/* 1 when spec names site s: its function exactly, or without its C++
 * parameters and leading scopes (cxxname_matches: "Registry::add" names
 * "jobs::Registry::add(int) [clone .isra.0]"), or FILE:LINE, where FILE
 * is the site's file or its last path components ("leaky_service.py:76",
 * "assets/leaky_service.py:76", "t_alloc.c:40"). Native and Python sites
 * alike. */
int model_site_is(const struct model_site *s, const char *spec);

/* Sites have ids 0..model_site_count()-1, in order of first sight. */
uint32_t model_site_count(const struct model *m);
const struct model_site *model_site(const struct model *m, uint32_t site);

/* Site of a stack id (MODEL_NONE when the stack is unknown). */
uint32_t model_stack_site(const struct model *m, uint32_t stack);

/* 1 when an allocation of this site carried the tag / ran on the thread
 * (events only; in ticks-only streams every site matches). */
int model_site_has_tag(const struct model *m, uint32_t site, uint32_t tag);
int model_site_has_thread(const struct model *m, uint32_t site, uint32_t thread);

/* ---- the state at a time point ------------------------------------------ */

enum model_at {
    MODEL_AT_TIME = 0, /* query.time */
    MODEL_AT_END = 1,  /* the latest state */
    MODEL_AT_PEAK = 2  /* the exact state at the total heap peak */
};

struct model_query {
    int at;             /* enum model_at */
    int64_t time;       /* MODEL_AT_TIME */
    int64_t window;     /* growth = live(t) - live(t - window); 0: growth since start */
    int64_t spark_from; /* per-site sparkline over [spark_from, spark_to] ... */
    int64_t spark_to;
    uint32_t spark_points; /* ... with this many samples; 0: no sparkline */
};

struct model_row {
    uint32_t site;
    int64_t live_bytes, live_blocks;       /* at the time */
    uint64_t allocations, bytes_allocated; /* up to the time */
    int64_t growth;                        /* live bytes over the window */
    uint64_t peak_bytes;                   /* the site's highest live bytes, whole run */
    uint64_t leaked_bytes, leaked_blocks;  /* live at the latest state */
    uint64_t temporary;                    /* temporary allocations, whole run */
    const int64_t *spark;                  /* spark_points live-byte samples, or NULL */
    uint32_t group;                        /* MODEL_NONE; a view that splits rows by thread
                                            * or tag (model_group_rows) sets it */
};

struct model_view {
    int64_t time;              /* the resolved time */
    struct model_point totals; /* totals at that time */
    struct model_row *rows;    /* one per site, by site id; sort/filter freely */
    uint32_t n_rows;
    /* private: buffers reused by the next model_view_at() on the same view */
    int64_t *spark_buf;
    size_t spark_cap;
    uint32_t rows_cap;
};

/* A zeroed view is an empty view: struct model_view v = {0}. */

/*
 * Fills v with every site's figures at the query's time. Cost: one
 * checkpoint copy plus the deltas since it (bounded), plus a sweep over the
 * sparkline range when spark_points > 0. Returns 0, or -1 when out of memory.
 */
int model_view_at(const struct model *m, const struct model_query *q, struct model_view *v);
void model_view_free(struct model_view *v);

enum model_sort {
    MODEL_SORT_LIVE_BYTES = 0,
    MODEL_SORT_LIVE_BLOCKS,
    MODEL_SORT_ALLOCATIONS,
    MODEL_SORT_BYTES_ALLOCATED,
    MODEL_SORT_GROWTH,
    MODEL_SORT_PEAK,
    MODEL_SORT_LEAKED,
    MODEL_SORT_TEMPORARY,
    MODEL_SORT_FUNCTION,
    MODEL_SORT_FILE,
    MODEL_SORT_COUNT
};

/*
 * Where the state a query resolves to lies in the stream: *events gets the
 * number of ALLOC/FREE/REALLOC events (stream order) whose changes it holds,
 * the same state model_view_at() shows (the point at or before the time, or
 * the exact peak). A second reader of the same stream that stops after that
 * many events (liveset_apply()'s limit) holds exactly that state's live
 * blocks (rewind.c). Returns 1 when that is every event read so far (the
 * latest state: model_objects() answers it), else 0.
 */
int model_query_events(const struct model *m, const struct model_query *q, uint64_t *events);

/* Sorts rows by key, largest first for figures and A-Z for names (reverse
 * flips it); ties by site id, so the order is stable across redraws. */
void model_rows_sort(const struct model *m, struct model_row *rows, uint32_t n, int key,
                     int reverse);

#define MODEL_FILTER_ACTIVE 1u    /* drop rows with no live bytes and no allocations */
#define MODEL_FILTER_LEAKS 2u     /* keep rows with leaked bytes */
#define MODEL_FILTER_TEMPORARY 4u /* keep rows with temporary allocations */
#define MODEL_FILTER_LIVE 8u      /* keep rows with live bytes > 0 at the time */

struct model_filter {
    const char *text; /* case-insensitive substring of function, file or module; NULL any */
    uint32_t tag;     /* MODEL_NONE: any */
    uint32_t thread;  /* MODEL_NONE: any */
    unsigned flags;   /* MODEL_FILTER_* */
};

/* How many sites rows[0..n) hold: grouped by thread or tag (model_group_rows)
 * a site has a row in each of its groups, so a pool's site in four workers
 * is four rows and one site. n when out of memory. */
uint32_t model_rows_sites(const struct model *m, const struct model_row *rows, uint32_t n);

/* Keeps the rows that pass f, in order, compacted to the front. Returns the
 * new count. */
/* Whether hay contains needle, ignoring ASCII case (an empty needle: yes):
 * the "/" filters' test, of sites and of the census's types. */
int model_text_matches(const char *hay, const char *needle);

uint32_t model_rows_filter(const struct model *m, struct model_row *rows, uint32_t n,
                           const struct model_filter *f);

/* ---- the stack tree of a site ------------------------------------------- */

enum model_tree_dir {
    MODEL_TREE_TOP_DOWN = 0, /* roots are the outermost frames (main), leaves allocate */
    MODEL_TREE_BOTTOM_UP = 1 /* roots are the allocating frames, children their callers */
};

struct model_tree_node {
    uint64_t key;          /* stable across rebuilds and time: hash of the frame path */
                           /* (frames as sites are keyed: function, file, line, module) */
    uint32_t parent;       /* index, MODEL_NONE for a root */
    uint32_t first_child;  /* index, MODEL_NONE; children sorted by incl_bytes, largest first */
    uint32_t next_sibling; /* index, MODEL_NONE */
    uint32_t depth;        /* 0 for roots */
    const struct model_frame *frame;
    int64_t own_bytes, own_blocks;   /* allocated by this frame itself: of stacks that end
                                      * here top-down, that start here (a root) bottom-up */
    int64_t incl_bytes, incl_blocks; /* this node and below */
    uint64_t allocations;            /* inclusive, up to the time */
    uint64_t bytes_allocated;        /* inclusive, up to the time */
};

struct model_tree {
    struct model_tree_node *nodes; /* nodes[0..n); roots have parent MODEL_NONE */
    uint32_t n;
    uint32_t first_root; /* MODEL_NONE when the tree is empty */
    uint32_t cap;        /* private */
};

/*
 * Builds the tree of every stack attributed to `site` with figures at the
 * query's time (q->at, q->time; window and sparkline ignored). Reuses t's
 * memory; a zeroed struct is empty. site == MODEL_NONE builds the tree of
 * all stacks. Nodes are in depth-first order (a node's subtree follows it).
 * Sibling frames of one function and line (calls from several return
 * addresses) are one node with their figures summed; unnamed frames stay
 * apart by ip. Returns 0 or -1 when out of memory.
 */
int model_tree_build(const struct model *m, uint32_t site, const struct model_query *q, int dir,
                     struct model_tree *t);
void model_tree_free(struct model_tree *t);

/* Index of the node with this key, or MODEL_NONE (to restore a cursor). */
uint32_t model_tree_find(const struct model_tree *t, uint64_t key);

/* One caller of a site: the frame right above the site's own frame in some
 * of its stacks, with those stacks' figures. */
struct model_caller {
    uint32_t site;
    const struct model_frame *frame;       /* NULL: the site's frame is the outermost */
    int64_t live_bytes, live_blocks;       /* at the query's time */
    uint64_t allocations, bytes_allocated; /* up to it */
};

struct model_callers {
    struct model_caller *c; /* by site, each site's callers in order */
    uint32_t *start;        /* site s has c[start[s], start[s + 1]) */
    uint32_t *top_stack;    /* by site: its stack with the most live bytes, then
                             * allocations, then the lowest id (0: none) */
    uint32_t n_sites;
};

/*
 * Every site's callers at the query's time (q->at, q->time), in one pass over
 * the stacks: where the memory of an allocation wrapper (Perl_safesysmalloc,
 * a stripped program's xmalloc) comes from. Callers are summed as sites are
 * (function, file, line, module) and ordered largest live bytes first, then
 * most allocations. Returns 0, or -1 when out of memory (t is then empty).
 * Free with model_callers_free().
 */
int model_callers(const struct model *m, const struct model_query *q, struct model_callers *t);

/* The heaviest stack of a site at the query's time (its top_stack), 0 when
 * none: with model_stack_frames(), the whole chain a site's memory comes
 * through, inlined frames included. */
uint32_t model_callers_top_stack(const struct model_callers *t, uint32_t site);

/* The callers of one site, *n of them (none for an unknown site: NULL when
 * *n is 0). */
const struct model_caller *model_callers_of(const struct model_callers *t, uint32_t site,
                                            uint32_t *n);
void model_callers_free(struct model_callers *t);

/* ---- objects ------------------------------------------------------------ */

/* An object from the model (events) has no address (addr 0): the stream
 * names blocks by allocation sequence number (wire.h); one from the
 * collector (OBJECTS response) has both. */
struct model_object {
    uint64_t addr, size;
    uint64_t seq; /* allocation sequence number, mod 2^WIRE_SEQ_BITS */
    uint32_t stack, thread, tag;
    int64_t time; /* allocation time */
};

/*
 * The live objects of a site (MODEL_NONE: all sites) allocated at or before
 * `time` that are live in the latest state, oldest first, at most max. The
 * array is malloc'ed for the caller (free it); *total gets the number of
 * matches before the max cut. Returns the count, or -1 when out of memory.
 * Objects exist only for blocks whose ALLOC the model saw (events): on a
 * live source that attached to a running program (summary.attached) blocks
 * allocated before the attach are missing, so there a site's live blocks can
 * exceed its objects; ask the collector instead (model_site_stacks() +
 * source_request_objects(), answer in source_response()). In a replay
 * the objects are those live in the latest state (leaks when ended); those
 * of an earlier state come from a rewind of the recording (rewind.h).
 */
int model_objects(const struct model *m, uint32_t site, int64_t time, uint32_t max,
                  struct model_object **out, uint64_t *total);

/* The same list from another liveset of this model's stream (a rewind's):
 * stacks and sites as the model files them. */
int model_objects_in(const struct model *m, const struct liveset *ls, uint32_t site, int64_t time,
                     uint32_t max, struct model_object **out, uint64_t *total);

/*
 * Per site (arrays of model_site_count() entries, caller-owned): bytes and
 * blocks allocated at or after t0 that are still live in the latest state
 * ("never freed since a chosen time"; events only). Returns 0.
 */
int model_live_since(const struct model *m, int64_t t0, uint64_t *bytes, uint64_t *blocks);

/* Live bytes and blocks in the latest state per tag (group_by_thread == 0)
 * or per thread (1), from the live table (events only): arrays of
 * model_tag_limit() / model_thread_limit() entries, caller-owned. */
void model_group_live(const struct model *m, int group_by_thread, uint64_t *bytes,
                      uint64_t *blocks);

/* A site's figures within one thread or tag (model_group_rows). */
struct model_group_row {
    uint32_t group; /* thread id, tag id (0: none), or MODEL_NONE */
    uint32_t site;
    int64_t live_bytes, live_blocks;       /* at the query's time */
    uint64_t allocations, bytes_allocated; /* up to it */
};

/*
 * Every site's figures split by the thread (by_thread = 1) or the tag
 * (by_thread = 0) that allocated its blocks, at the query's time (q->at,
 * q->time; as model_view_at resolves it): one row per (group, site) with any
 * allocation or live block, ordered by group then site. A block counts
 * against the thread that allocated it wherever it is freed. Exact when
 * events rule (summary.events_exact): a site's rows add up to its
 * model_view_at() row. When ticks rule (a client that attached mid-run, or
 * fell behind) per-thread figures are not known: each site gets one row,
 * group MODEL_NONE, with its whole figures. *out is malloc'ed for the caller
 * (free it). Returns the count, or -1 when out of memory.
 */
int model_group_rows(const struct model *m, const struct model_query *q, int by_thread,
                     struct model_group_row **out);

/* Stack ids attributed to `site` (for REQ_OBJECTS on a live source), at most
 * max into out, in id order. Returns the total count (may exceed max). */
uint32_t model_site_stacks(const struct model *m, uint32_t site, uint32_t *out, uint32_t max);

/* The stack of a stack id as frames, leaf first; returns the depth (<= max). */
uint32_t model_stack_frames(const struct model *m, uint32_t stack, const struct model_frame **out,
                            uint32_t max);

#endif
