/*
 * model_int.h - the model's private state, shared by its files and no one
 * else (views and commands include model.h only).
 *
 *   model.c          life cycle, model_apply() and the definitions
 *                    (modules, frames, stacks, threads, tags, markers)
 *   model_sites.c    frames, stacks and the attribution rule: which frame
 *                    of a stack is its site
 *   model_events.c   what events and ticks change: the per-stack figures,
 *                    the exact peak, the (site, thread, tag) parties
 *   model_log.c      the timeline: points, the delta log and its
 *                    checkpoints and compaction, behind a cursor
 *   model_query.c    the state at a time: rows, sort, filter, groups
 *   model_tree.c     the stack tree of a site and every site's callers
 *   model_objects.c  the live objects of a site
 *
 * Invariant: `cur` (per stack) is the authoritative current state and every
 * change to it is also written to the delta log, grouped by timeline point;
 * the per-site checkpoints are copies of the per-site sums at some points.
 * So the state at any point = nearest checkpoint + the log since it, and the
 * latest state = cur. Only model_log.c reads the log and the checkpoints;
 * the others walk it through a struct log_cursor.
 *
 * Strings, frames and sites live in chunks that never move, so pointers
 * handed to views stay valid for the model's life.
 */
#ifndef HEAPLINE_MODEL_INT_H
#define HEAPLINE_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "hashtab.h"
#include "liveset.h"
#include "model.h"
#include "strpool.h"

#define MODEL_CHUNK 1024u
#define MAX_SITE_TAGS 16u
#define MAX_SITE_THREADS 32u
#define SET_OVERFLOW UINT32_MAX

struct fig {
    int64_t live_bytes, live_blocks;
    uint64_t allocations, bytes_allocated;
};

struct delta {
    uint32_t stack;
    uint32_t pad;
    struct fig d;
};

struct stack_node {
    uint32_t parent;
    uint32_t site;  /* MODEL_NONE until first used */
    uint32_t frame; /* index of the frame of ip */
    uint32_t defined;
    uint64_t ip;
};

struct site_ext {
    uint32_t tags[MAX_SITE_TAGS];
    uint32_t n_tags; /* SET_OVERFLOW: too many to list, matches any */
    uint32_t threads[MAX_SITE_THREADS];
    uint32_t n_threads;
    uint64_t temporary;
    uint64_t peak_bytes;
};

/*
 * A site's share of one thread and tag (events only): a "party". Its figures
 * follow the blocks, so a block freed on another thread still counts against
 * the thread (and tag) that allocated it. cur is the latest state, pk the
 * state at the exact peak (as for stacks, through a dirty list); the history
 * is the party log, one entry per party changed in a timeline point, stamped
 * with that point's time: the state at a point is the entries stamped at or
 * before its time, which stays true when compaction merges points.
 */
struct party {
    uint32_t site, thread, tag;
    uint8_t pk_dirty, pending;
    struct fig cur, pk, pend;
};

struct party_delta {
    int64_t time;
    uint32_t party, pad;
    struct fig d;
};

struct checkpoint {
    uint32_t point; /* state after this point */
    uint32_t n_sites;
    struct fig *sites;
};

struct model {
    char err[256];
    uint64_t gen;
    struct model_summary sum;
    int hello_seen, any_event, any_tick, rebase_pending;
    int skip_events; /* model_skip_events(): batches counted, not applied */

    struct strpool strs; /* every string the model hands out */

    /* modules by id */
    struct model_module *mods; /* name NULL: never defined */
    uint32_t n_mods;

    /* frames: chunked, + ip -> index hash */
    struct model_frame **frame_chunks;
    uint32_t n_frames;
    struct hashtab frame_hash; /* by ip */
    struct model_frame unknown_frame;

    /* stacks */
    struct stack_node *nodes;
    uint32_t n_nodes; /* array length (max id + 1) */
    uint32_t n_defined;
    struct fig *cur; /* authoritative, per stack */
    struct fig *tk;  /* from SNAPSHOT + TICK, per stack */
    struct fig *pk;  /* at the exact peak (events), per stack */
    uint8_t *pk_dirty;
    uint32_t *dirty;
    uint32_t n_dirty, dirty_cap;

    /* sites: chunked, + key hash */
    struct model_site **site_chunks;
    struct site_ext **ext_chunks;
    uint32_t n_sites;
    struct hashtab site_hash; /* by key: function, file, line, module */
    struct fig *site_cur;     /* per site, authoritative */
    uint32_t site_cap;

    /* timeline */
    struct model_point *points;
    uint64_t *delta_end; /* log index after each point */
    uint32_t n_points, points_cap;
    struct delta *log;
    uint64_t n_log, log_cap;
    struct checkpoint *cps;
    uint32_t n_cps, cps_cap;
    uint64_t log_at_cp;
    uint64_t log_budget, next_compact_log; /* compaction thresholds (entries) */
    uint32_t point_budget, next_compact_points;

    /* open bucket (events) */
    uint32_t *pend_idx; /* per stack: index into pend + 1 */
    struct delta *pend;
    uint32_t n_pend, pend_cap;
    int bucket_open;
    int64_t bucket_start, bucket_last;
    uint64_t bucket_max; /* the most heap bytes since the last point (its heap_max) */
    /* the state before the first event, when events begin the timeline (the
     * bucket opened with no point yet): its first point, logged as that
     * bucket closes, so that the first bucket's events are on the graph */
    struct model_point first_before;

    /* peak totals (exact) */
    struct model_point peak_pt;

    /* parties: (site, thread, tag) figures, events only */
    struct party *parties;
    uint32_t n_parties, parties_cap;
    struct hashtab party_hash;                             /* by (site, thread, tag) */
    uint32_t *party_pend, n_party_pend, party_pend_cap;    /* changed in the open bucket */
    uint32_t *party_dirty, n_party_dirty, party_dirty_cap; /* changed since the peak */
    struct party_delta *plog;
    uint64_t n_plog, plog_cap;

    /* markers, threads, tags */
    struct model_marker *markers;
    uint32_t n_markers, markers_cap;
    struct model_thread *threads;
    uint32_t threads_cap;
    const char **tags;
    uint32_t tags_cap;

    /* the blocks live in the latest state, and the event stream's numbering */
    struct liveset ls;
    uint64_t ev_in_state; /* events whose changes the figures hold (points record it) */

    /* other blocks that live as long as the model (the frames inlined at an ip) */
    void **misc;
    size_t n_misc;

    /* strings and frames of streams before a model_reset(): views may still
     * hold pointers to them until they query again */
    void **grave;
    size_t n_grave;

    /* latest tick totals (ticks authority), rss */
    uint64_t rss;
};

/* ---- model.c: errors and arrays ------------------------------------------ */

/* Sets model_error() and returns -1. */
int model_fail(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Grows *p to hold need elements of elem bytes (doubling, at least 16), the
 * new part zeroed. Returns 0, or -1 when out of memory (*p unchanged). */
int model_grow(void **p, size_t *cap, size_t need, size_t elem);
int model_grow32(void **p, uint32_t *cap, size_t need, size_t elem);

/* Interns a wire string; NULL when out of memory. */
const char *model_intern_w(struct model *m, const struct wire_str *s);

/* Wrapping arithmetic: hostile figures may overflow, never into UB. */
static inline int64_t wadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline void fig_add(struct fig *a, const struct fig *d)
{
    a->live_bytes = wadd(a->live_bytes, d->live_bytes);
    a->live_blocks = wadd(a->live_blocks, d->live_blocks);
    a->allocations += d->allocations;
    a->bytes_allocated += d->bytes_allocated;
}

static inline void model_see_time(struct model *m, int64_t t)
{
    if (t > m->sum.time_last)
        m->sum.time_last = t;
}

/* ---- model_sites.c: frames, stacks, sites ------------------------------- */

static inline struct model_frame *frame_at(const struct model *m, uint32_t i)
{
    return &m->frame_chunks[i / MODEL_CHUNK][i % MODEL_CHUNK];
}

static inline struct model_site *site_at(const struct model *m, uint32_t i)
{
    return &m->site_chunks[i / MODEL_CHUNK][i % MODEL_CHUNK];
}

static inline struct site_ext *ext_at(const struct model *m, uint32_t i)
{
    return &m->ext_chunks[i / MODEL_CHUNK][i % MODEL_CHUNK];
}

/* The index of the frame of ip, created with empty names; MODEL_NONE when
 * out of memory. */
uint32_t model_sites_frame_get(struct model *m, uint64_t ip);

/* Makes stack ids < n valid indexes of every per-stack array. */
int model_sites_reserve(struct model *m, uint32_t n);

/* The site of a defined stack (an undefined one is filed as stack 0),
 * computed at first use; MODEL_NONE when out of memory. */
uint32_t model_sites_of_stack(struct model *m, uint32_t stack);

/* An allocation at a site carried this tag and ran on this thread. */
void model_sites_note(struct model *m, uint32_t site, uint32_t tag, uint32_t thread);

/* The frames of a stack, leaf first, the inlined ones included (model.h):
 * a node's innermost frame, outward through `outer`, then the parent node's
 * innermost. node is 0 (and f NULL) past the outermost. */
struct fwalk {
    uint32_t node;
    const struct model_frame *f;
};

static inline struct fwalk fwalk_at(const struct model *m, uint32_t node)
{
    return (struct fwalk){node, node ? frame_at(m, m->nodes[node].frame) : NULL};
}

static inline struct fwalk fwalk_next(const struct model *m, struct fwalk w)
{
    if (w.f->outer)
        return (struct fwalk){w.node, w.f->outer};
    return fwalk_at(m, m->nodes[w.node].parent);
}

/* Where in a defined stack its site's frame is; node 0 for the empty stack. */
struct fwalk model_sites_site_frame(const struct model *m, uint32_t stack);

/* The frame one up from a site's frame w (its caller, interpreter frames
 * looked through), NULL when w is the outermost. */
const struct model_frame *model_sites_caller_frame(const struct model *m, struct fwalk w);

/* A frame's key as a site (function, file, line, module; ip when unnamed),
 * its hash and equality: sites, tree nodes and callers are keyed alike. */
struct model_site model_sites_key(const struct model_frame *f);
uint32_t model_sites_key_hash(const struct model_site *s);
int model_sites_key_eq(const struct model_site *a, const struct model_site *b);

/* ---- model_events.c: what events and ticks change ----------------------- */

/* The current totals as a timeline point at `time`. */
struct model_point model_events_totals(const struct model *m, int64_t time);

/* Applies a per-stack change to the authoritative state (site sums, site
 * peaks, exact-peak dirtiness). Does not log. */
void model_events_cur_apply(struct model *m, uint32_t stack, const struct fig *d);

/* The open bucket closes as a point at `time`: its party changes go to the
 * party log stamped with it. */
int model_events_party_close(struct model *m, int64_t time);

int model_events_apply(struct model *m, const struct wire_msg *msg);   /* EVENTS */
int model_events_state(struct model *m, const struct wire_msg *msg);   /* TICK, SNAPSHOT */
int model_events_history(struct model *m, const struct wire_msg *msg); /* HISTORY */

/* ---- model_log.c: the timeline and the delta log -------------------------- */

/* Appends a change of one stack to the log (it belongs to the next point). */
int model_log_push(struct model *m, uint32_t stack, const struct fig *d);

/* Adds a change to the open event bucket. */
int model_log_pend(struct model *m, uint32_t stack, const struct fig *d);

/* Appends a timeline point whose changes are the log since the previous one
 * (compacting and checkpointing when due). */
int model_log_point(struct model *m, const struct model_point *p);

/* Closes the open event bucket as a timeline point at `time`. */
int model_log_bucket_close(struct model *m, int64_t time, uint64_t rss);

/* The log since the last point joins it (a continuation part of a tick). */
int model_log_join_last(struct model *m);

/* Puts k HISTORY points (totals only, oldest first, all before the first
 * point) in front of the timeline. */
int model_log_prepend(struct model *m, const struct model_point *pts, uint32_t k);

/* Per-site figures after point p (MODEL_NONE: before everything) into out
 * (n_sites entries): the nearest checkpoint plus the log since it. */
void model_log_sites_at(const struct model *m, uint32_t p, struct fig *out);

/* A reader of the changes of a run of points, in log order. */
struct log_cursor {
    const struct delta *at, *end;
};

/* The changes after point `from` (MODEL_NONE: from the start) up to and
 * including point `to` (MODEL_NONE: none). */
void model_log_between(const struct model *m, uint32_t from, uint32_t to, struct log_cursor *c);

/* The next change, NULL past the last. */
static inline const struct delta *log_cursor_next(struct log_cursor *c)
{
    return c->at < c->end ? c->at++ : NULL;
}

/* ---- model_query.c ------------------------------------------------------ */

/* Resolves a query to a point (MODEL_NONE), "latest" (*latest = 1) or the
 * exact peak (*peak = 1); returns the resolved time. */
int64_t model_query_resolve(const struct model *m, const struct model_query *q, uint32_t *p,
                            int *latest, int *peak);

#endif
