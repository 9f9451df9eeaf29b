/*
 * ring.h - per-thread single-producer single-consumer event rings and the
 * registry of threads that own them.
 *
 * Each application thread that allocates owns one ring (mmap'd, never
 * malloc'd). The thread is the only producer; the collector thread is the only
 * consumer. head is written only by the producer, tail only by the consumer;
 * both only grow. The registry list is pushed under a mutex (once per thread)
 * and unlinked only by the collector thread.
 */
#ifndef HEAPLINE_RING_H
#define HEAPLINE_RING_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"
#include "unwind.h"

#define RING_EVENTS 32768u /* power of two */
#define RING_TAG_DEPTH 64
#define RING_CACHE 512u /* power of two */
#define RING_CACHE_WAYS 4u
#define RING_PATHS 8

enum ring_op {
    RING_ALLOC = 1,
    RING_FREE = 2,
    RING_REALLOC = 3,
    RING_MARK = 4 /* addr = string offset, size = length (tags.h) */
};

struct ring_event {
    int64_t time;      /* a stamp (stamp.h); REALLOC: after the real call */
    uint64_t addr;     /* the block; REALLOC: the new block */
    uint64_t old_addr; /* REALLOC: the old block */
    uint64_t size;
    uint32_t stack;
    uint32_t dt0; /* REALLOC: stamp units between the call's start and time */
    uint16_t tag;
    uint8_t op; /* enum ring_op */
    uint8_t pad;
    uint32_t thread; /* set in the drain's copies (drain.c): the ring's thread id */
};

_Static_assert(sizeof(struct ring_event) == 48, "a ring event is 48 bytes");

struct ring_path {
    int n;
    uintptr_t ips[CORE_MAX_DEPTH];
    uint32_t ids[CORE_MAX_DEPTH];
};

struct ring_cache_entry {
    uint64_t hash;
    uintptr_t ip0;
    uint32_t depth;
    uint32_t leaf;
};

struct spill_chunk;

struct ring {
    _Atomic uint64_t head; /* producer */
    char pad0[56];
    _Atomic uint64_t tail; /* consumer */
    char pad1[56];
    atomic_int dead; /* the thread has exited (set by the thread itself) */
    /* A full ring's producer sleeps on wake_seq (a futex) with waiters set;
     * the collector, having moved tail, bumps wake_seq and wakes it
     * (ring_tail_moved) */
    atomic_uint waiters, wake_seq;
    uint32_t thread_id; /* heapline thread id, 1.. */
    pid_t tid;
    uint64_t stack_lo, stack_hi;            /* the thread's stack, [lo, hi) */
    struct unwind_root roots[UNWIND_ROOTS]; /* where the thread's stack starts */
    struct ring *next;                      /* registry list */
    char self_name[16];                     /* the thread's name at registration and at exit */
    /* producer-private */
    uint16_t tags[RING_TAG_DEPTH];
    int tag_depth;
    struct ring_cache_entry cache[RING_CACHE];
    /* stacks interned lately, outermost frame first, with the trie node of
     * each of their prefixes: a new stack is interned below the outer frames
     * it shares with the one of them it shares most with (track.c) */
    struct ring_path paths[RING_PATHS];
    uint8_t path_order[RING_PATHS]; /* most recently used first */
    int64_t last_stamp;             /* the latest stamp of an ALLOC or FREE of the ring */
    /* collector-private */
    int announced;
    struct ring_event *backlog; /* events moved out while the collector was busy: */
    size_t backlog_head, n_backlog, cap_backlog; /* n_backlog from backlog_head, circular */
    size_t backlog_reach; /* backlog[0, reach) written since its pages were last given back */
    size_t applied_last;  /* events of the ring the last pass applied (drain.c) */
    /* events in the spill file, oldest first, newer than the backlog's
     * (spill.h) */
    struct spill_chunk *spill_head, *spill_tail;
    size_t n_spill;
    uint64_t seen_head;   /* head at the last drain (drain.c) */
    int64_t producing_ns; /* when that pass saw it move */
    unsigned grace_gen;   /* the grace period that saw head at grace_head (grace.c) */
    uint64_t grace_head;
    struct ring_event ev[RING_EVENTS];
};

/* Maps and registers a ring for the calling thread (stack bounds, tid, a
 * fresh thread id). Returns NULL when mmap fails. Takes the registry mutex;
 * may call malloc through pthread_getattr_np (the caller holds the guard). */
struct ring *ring_register(void);

/* Head of the registry list (acquire). Collector thread. */
struct ring *ring_list(void);

/* The collector moved r's tail: wakes its producer if it sleeps on a full
 * ring. Collector thread, after the store to tail. */
void ring_tail_moved(struct ring *r);

/* Unlinks a drained, dead ring and unmaps it. Collector thread only. */
void ring_release(struct ring *r);

/* The slot to fill when the ring is full or reaches half full (ring_slot's
 * slow path). */
struct ring_event *ring_slot_wait(struct ring *r);

/* Producer: the slot to fill, waiting while the ring is full. Returns NULL
 * (without waiting) when tracking is off or the collector is not running.
 * Inline: the common case is two loads and a compare. */
static inline struct ring_event *ring_slot(struct ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t used = h - atomic_load_explicit(&r->tail, memory_order_acquire);

    if (__builtin_expect(used < RING_EVENTS && used != RING_EVENTS / 2, 1))
        return &r->ev[h & (RING_EVENTS - 1)];
    return ring_slot_wait(r);
}

/* Set for good (sequentially consistent) when a second thread registers a
 * ring, before that thread stamps its first event; 0 again in a fork child
 * (one thread). While it is 0, every block the calling thread frees was
 * allocated by that thread, earlier in its ring (track.c: the FREE's stamp
 * needs no fence then). Any thread reads it. */
extern atomic_int ring_shared;

/* An eventfd the collector polls: a producer writes to it when its ring
 * reaches half full, so a sleeping collector wakes before the ring fills.
 * -1 when none. Set by the collector at start. */
extern int ring_wake_fd;

/* How many times a producer found its ring full and waited. */
uint64_t ring_waits(void);
/* And how long those waits took in all, in ns (HEAPLINE_STATS). */
uint64_t ring_waited_ns_total(void);

/* Producer: publishes the slot returned by ring_slot(). */
static inline void ring_commit(struct ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

/* fork handling: prepare locks the registry mutex, parent unlocks, child
 * forgets every ring (unmapping them) and resets the mutex and ids. */
void ring_atfork_prepare(void);
void ring_atfork_parent(void);
void ring_atfork_child(void);

/* Unmaps every ring and empties the registry (shutdown or fork child). */
void ring_forget_all(void);

#endif
