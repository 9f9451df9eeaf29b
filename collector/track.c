/*
 * track.c - per-thread capture: stack, stack id, clock, one ring event.
 *
 * Invariant: the thread's ring pointer is set once per thread (re-registered
 * only after the thread-exit destructor dropped it) and only this thread
 * writes its ring's head, tag stack and stack cache.
 */
#include "track.h"

#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

#include "core.h"
#include "heapline.h"
#include "pyframes.h"
#include "ring.h"
#include "sample.h"
#include "stamp.h"
#include "tags.h"
#include "trie.h"
#include "unwind.h"

__thread int track_guard;
static __thread struct ring *track_ring;
static pthread_key_t track_key;
static int track_key_ok;

static void track_thread_exit(void *arg)
{
    struct ring *r = arg;

    if (r && r == track_ring) {
        track_ring = NULL;
        prctl(PR_GET_NAME, r->self_name, 0, 0, 0); /* a name set late is not lost */
        atomic_store_explicit(&r->dead, 1, memory_order_release);
    }
}

int track_init(void)
{
    if (!track_key_ok && pthread_key_create(&track_key, track_thread_exit) == 0)
        track_key_ok = 1;
    return track_key_ok ? 0 : -1;
}

void track_atfork_child(void)
{
    sample_atfork_child();
    track_ring = NULL;
    if (track_key_ok)
        pthread_setspecific(track_key, NULL);
}

static struct ring *track_get_ring(void)
{
    struct ring *r = track_ring;

    if (__builtin_expect(r != NULL, 1))
        return r;
    r = ring_register();
    if (!r) {
        core_disable("cannot map a thread buffer");
        return NULL;
    }
    track_ring = r;
    if (track_key_ok)
        pthread_setspecific(track_key, r);
    return r;
}

/* The trie node of ips[0..n) (innermost first), interned below the outer
 * frames it shares with the one of the thread's recent stacks (r->paths)
 * it shares most with: at start-up a Python program's stacks are a hundred
 * frames deep and differ in a few inner ones, and each frame looked up was
 * a hash and a probe, two cache misses. With the last stack alone, stacks of
 * two kinds that took turns (an import's unmarshalling and its execution)
 * shared 10 frames where they shared 100 with the stack before last: python3
 * -c 'import json' looked up 52 frames an interned stack, 17 with 8 stacks.
 * The stack takes the place of the one it extends when it shares at least
 * half of that one, else of the least recently used. */
static uint32_t track_intern(struct ring *r, const uintptr_t *ips, int n)
{
    uint32_t ids[CORE_MAX_DEPTH];
    int best = r->path_order[0], j = -1, done, at = 0, v;
    struct ring_path *p;
    uint32_t leaf;

    for (int k = 0; k < RING_PATHS; k++) {
        const struct ring_path *q = &r->paths[r->path_order[k]];
        int m = q->n < n ? q->n : n, i = 0;

        while (i < m && q->ips[i] == ips[n - 1 - i])
            i++;
        if (i > j)
            j = i, best = r->path_order[k], at = k;
    }
    p = &r->paths[best];
    leaf = trie_intern_below(j ? p->ids[j - 1] : 0, ips, n - j, ids, &done);
    v = best;
    if (2 * j < p->n) { /* a stack of another kind: in the oldest's place */
        at = RING_PATHS - 1;
        v = r->path_order[at];
        if (v != best) {
            memcpy(r->paths[v].ips, p->ips, (size_t)j * sizeof(p->ips[0]));
            memcpy(r->paths[v].ids, p->ids, (size_t)j * sizeof(p->ids[0]));
            p = &r->paths[v];
        }
    }
    for (int k = 0; k < done; k++) {
        p->ips[j + k] = ips[n - 1 - j - k];
        p->ids[j + k] = ids[n - 1 - j - k];
    }
    p->n = j + done;
    memmove(&r->path_order[1], &r->path_order[0], (size_t)at);
    r->path_order[0] = (uint8_t)v;
    return leaf;
}

/* Captures and interns the caller's stack. The per-thread cache is four-way
 * set associative, most recently used first, so a few hot stacks that share
 * a set do not evict each other (two ways thrashed on churn's 84 stacks:
 * 2% of calls went to the trie). */
static inline __attribute__((always_inline)) uint32_t track_stack(struct ring *r)
{
    uintptr_t ips[CORE_MAX_DEPTH];
    uint64_t h;
    const uintptr_t *rest;
    /* the walk starts at this frame (ours, skipped like the ones below it):
     * walk_fp's and unwind_capture's frames are not walked */
    int n = unwind_capture_lazy(__builtin_frame_address(0), ips, core_cfg.depth, r->stack_lo,
                                r->stack_hi, r->roots, &h, &rest);
    struct ring_cache_entry *set;
    struct pyframes_walk pw;
    unsigned w;

    if (n <= 0)
        return 0;
    /* with Python frames the key is the native stack's and the Python
     * frames' hashes together: a stack seen before is found without
     * splicing it (pyframes_merge) or hashing it again */
    pw.np = 0;
    if (atomic_load_explicit(&pyframes_on, memory_order_relaxed) && pyframes_walk(&pw))
        h = (h ^ pw.hash) * 0x9E3779B97F4A7C15ull;
    set = &r->cache[(h & (RING_CACHE / RING_CACHE_WAYS - 1)) * RING_CACHE_WAYS];
    if (set[0].hash == h && set[0].ip0 == ips[0] && set[0].depth == (uint32_t)n && set[0].leaf)
        return set[0].leaf;
    for (w = 1; w < RING_CACHE_WAYS; w++)
        if (set[w].hash == h && set[w].ip0 == ips[0] && set[w].depth == (uint32_t)n && set[w].leaf)
            break;
    struct ring_cache_entry hit;
    if (w < RING_CACHE_WAYS) {
        hit = set[w];
    } else {
        int added, k = n;

        hit = (struct ring_cache_entry){h, ips[0], (uint32_t)n, 0};
        if (rest) /* the frames past the first, from the walk's trace */
            memcpy(ips + 1, rest + 1, (size_t)(n - 1) * sizeof(ips[0]));
        if (pw.np)
            k = pyframes_merge(ips, n, CORE_MAX_DEPTH, &pw, &added);
        hit.leaf = track_intern(r, ips, k);
        w = RING_CACHE_WAYS - 1;
    }
    memmove(&set[1], &set[0], w * sizeof(set[0]));
    set[0] = hit;
    return hit.leaf;
}

static inline uint16_t track_tag(const struct ring *r)
{
    int d = r->tag_depth > RING_TAG_DEPTH ? RING_TAG_DEPTH : r->tag_depth;

    return d > 0 ? r->tags[d - 1] : 0;
}

/* The ALLOC of p, size bytes, at stack into r. */
static inline void put_alloc(struct ring *r, void *p, size_t size, uint32_t stack)
{
    struct ring_event *e = ring_slot(r);

    if (!e)
        return;
    e->op = RING_ALLOC;
    e->time = r->last_stamp = stamp_now();
    e->addr = (uintptr_t)p;
    e->size = size;
    e->stack = stack;
    e->tag = track_tag(r);
    ring_commit(r);
}

void track_alloc(void *p, size_t size)
{
    struct ring *r = track_get_ring();

    if (r)
        put_alloc(r, p, size, track_stack(r));
}

void track_prefetch(void)
{
    struct ring *r = track_ring;

    if (__builtin_expect(r != NULL, 1)) {
        uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

        __builtin_prefetch(&r->ev[h & (RING_EVENTS - 1)], 1);
        __builtin_prefetch(&r->tail, 0);
    }
}

void track_alloc_sampled(void *p, size_t size)
{
    struct ring *r = track_get_ring();
    uint32_t stack;

    if (!r) {
        (void)sample_filter_add(p);
        return;
    }
    stack = track_stack(r);
    if (sample_filter_add(p) == 0)
        put_alloc(r, p, size, stack);
}

/* A FREE's stamp: no older than the allocation of the block it names
 * (normalise.c drops a FREE older than the block's ALLOC as a straggler of an
 * earlier incarnation). While no second thread registered (ring_shared), the
 * block was allocated by this thread, earlier in its ring, so a stamp no
 * older than the ring's last one will do, without stamp_now_ordered()'s
 * fence (19.5 ns, 5% of python3's thread under heapline record). Once a
 * second thread exists, the pointer may come from it: the thread set the
 * flag before it stamped the allocation, and whatever passed the pointer
 * over ordered that before this load (acquire), so the fence is taken. */
static inline int64_t track_free_stamp(struct ring *r)
{
    int64_t t;

    if (atomic_load_explicit(&ring_shared, memory_order_acquire))
        return r->last_stamp = stamp_now_ordered();
    t = stamp_now();
    if (t < r->last_stamp) /* rdtsc is not ordered with the one before it either */
        t = r->last_stamp;
    return r->last_stamp = t;
}

void track_free(void *p)
{
    struct ring *r = track_get_ring();
    struct ring_event *e;

    if (!r)
        return;
    e = ring_slot(r);
    if (!e)
        return;
    e->op = RING_FREE;
    e->time = track_free_stamp(r);
    e->addr = (uintptr_t)p;
    ring_commit(r);
}

void track_realloc(void *old_p, void *new_p, size_t size, int64_t t0)
{
    struct ring *r = track_get_ring();
    struct ring_event *e;
    uint32_t stack;
    int64_t t1;

    if (!r)
        return;
    stack = track_stack(r);
    e = ring_slot(r);
    if (!e)
        return;
    t1 = r->last_stamp = stamp_now();
    e->op = RING_REALLOC;
    e->time = t1;
    e->dt0 = t1 - t0 > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0);
    e->addr = (uintptr_t)new_p;
    e->old_addr = (uintptr_t)old_p;
    e->size = size;
    e->stack = stack;
    e->tag = track_tag(r);
    ring_commit(r);
}

/* ---- public API (heapline.h) ---- */

__attribute__((visibility("default"))) void heapline_tag_push(const char *name)
{
    struct ring *r;

    if (track_guard || !atomic_load_explicit(&core_on, memory_order_relaxed) || !name)
        return;
    track_guard = 1;
    r = track_get_ring();
    if (r) {
        uint16_t id = tags_intern(name);

        if (r->tag_depth < RING_TAG_DEPTH)
            r->tags[r->tag_depth] = id;
        r->tag_depth++;
    }
    track_guard = 0;
}

__attribute__((visibility("default"))) void heapline_tag_pop(void)
{
    struct ring *r = track_ring;

    if (r && r->tag_depth > 0)
        r->tag_depth--;
}

__attribute__((visibility("default"))) void heapline_mark(const char *label)
{
    struct ring *r;

    if (track_guard || !atomic_load_explicit(&core_on, memory_order_relaxed))
        return;
    track_guard = 1;
    r = track_get_ring();
    if (r) {
        uint32_t len = 0;
        uint64_t off = tags_store(label, &len);
        struct ring_event *e = off == UINT64_MAX ? NULL : ring_slot(r);

        if (e) {
            e->op = RING_MARK;
            e->time = stamp_now();
            e->addr = off;
            e->size = len;
            ring_commit(r);
        }
    }
    track_guard = 0;
}
