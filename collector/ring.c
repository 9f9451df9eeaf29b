/*
 * ring.c - per-thread event rings and the thread registry.
 *
 * Invariant: a ring is unmapped only by the collector thread, only once it is
 * unlinked, dead (its thread exited or marked it) and drained; a producer never
 * touches a ring after marking it dead. The registry mutex is the only lock,
 * taken once per thread at registration and by the collector when it unlinks.
 */
#include "ring.h"
#include "ownmaps.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "core.h"
#include "unwind.h"

static pthread_mutex_t ring_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct ring *_Atomic ring_head;
static uint32_t ring_next_id = 1;
static atomic_ullong ring_waited;
static atomic_ullong ring_waited_ns;
int ring_wake_fd = -1;
atomic_int ring_shared;

uint64_t ring_waits(void)
{
    return atomic_load(&ring_waited);
}

uint64_t ring_waited_ns_total(void)
{
    return atomic_load(&ring_waited_ns);
}

struct ring *ring_register(void)
{
    struct ring *r =
        mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_attr_t attr;

    if (r == MAP_FAILED)
        return NULL;
    ownmaps_add(r, sizeof(*r));
    for (int k = 0; k < RING_PATHS; k++)
        r->path_order[k] = (uint8_t)k;
    r->tid = (pid_t)syscall(SYS_gettid);
    prctl(PR_GET_NAME, r->self_name, 0, 0, 0);
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;

        if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
            r->stack_lo = (uint64_t)(uintptr_t)addr;
            r->stack_hi = r->stack_lo + size;
        }
        pthread_attr_destroy(&attr);
    }
    unwind_roots(r->roots);
    pthread_mutex_lock(&ring_mutex);
    if (ring_next_id > 1)
        atomic_store(&ring_shared, 1);
    r->thread_id = ring_next_id++;
    r->next = atomic_load_explicit(&ring_head, memory_order_relaxed);
    atomic_store_explicit(&ring_head, r, memory_order_release);
    pthread_mutex_unlock(&ring_mutex);
    /* the ring is listed before this thread reads anything shared: a grace
     * period that starts later sees it (grace.c) */
    atomic_thread_fence(memory_order_seq_cst);
    return r;
}

struct ring *ring_list(void)
{
    return atomic_load_explicit(&ring_head, memory_order_acquire);
}

void ring_release(struct ring *r)
{
    pthread_mutex_lock(&ring_mutex);
    struct ring *p = atomic_load_explicit(&ring_head, memory_order_relaxed);

    if (p == r) {
        atomic_store_explicit(&ring_head, r->next, memory_order_release);
    } else {
        while (p && p->next != r)
            p = p->next;
        if (p)
            p->next = r->next;
    }
    pthread_mutex_unlock(&ring_mutex);
    ownmaps_del(r);
    munmap(r, sizeof(*r));
}

void ring_tail_moved(struct ring *r)
{
    /* the store to tail before the look at waiters; the producer sets
     * waiters before it looks at tail: one of the two sees the other's */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&r->waiters, memory_order_relaxed)) {
        atomic_store_explicit(&r->waiters, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->wake_seq, 1, memory_order_release);
        syscall(SYS_futex, &r->wake_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    }
}

struct ring_event *ring_slot_wait(struct ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    unsigned spins = 0;
    int64_t waited_from = 0, began = 0;

    while (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING_EVENTS) {
        if (spins == 0) {
            atomic_fetch_add_explicit(&ring_waited, 1, memory_order_relaxed);
            began = core_now();
        }
        /* Full: wait for the collector, but never for a collector that is not
         * there, and never forever. */
        if (!atomic_load_explicit(&core_on, memory_order_relaxed))
            return NULL;
        if (collect_deferred())
            collect_undefer();
        if (!core_collector_alive()) {
            core_disable("collector thread not running");
            return NULL;
        }
        if (++spins < 64) {
            __builtin_ia32_pause();
        } else if (spins < 128) {
            sched_yield();
        } else {
            /* asleep until the collector moves tail (ring_tail_moved), 10 ms
             * at most: eight threads waking every 50 us to look took a
             * quarter of the CPU the collector they waited for needed */
            struct timespec ts = {0, 10000000};
            int64_t now = core_now();
            unsigned seq = atomic_load_explicit(&r->wake_seq, memory_order_acquire);

            if (!waited_from)
                waited_from = now;
            else if (now - waited_from > 10 * 1000000000LL) {
                core_disable("collector thread stalled for 10 s");
                return NULL;
            }
            atomic_store_explicit(&r->waiters, 1, memory_order_relaxed);
            atomic_thread_fence(memory_order_seq_cst); /* against ring_tail_moved's */
            if (h - atomic_load_explicit(&r->tail, memory_order_relaxed) >= RING_EVENTS)
                syscall(SYS_futex, &r->wake_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        }
    }
    if (spins)
        atomic_fetch_add_explicit(&ring_waited_ns, (uint64_t)(core_now() - began),
                                  memory_order_relaxed);
    if (h - atomic_load_explicit(&r->tail, memory_order_relaxed) == RING_EVENTS / 2 &&
        ring_wake_fd >= 0) {
        uint64_t one = 1;

        if (collect_deferred()) /* the drain cannot wait any longer */
            collect_undefer();
        (void)!write(ring_wake_fd, &one, sizeof(one)); /* async-signal-safe */
    }
    return &r->ev[h & (RING_EVENTS - 1)];
}

void ring_atfork_prepare(void)
{
    pthread_mutex_lock(&ring_mutex);
}

void ring_atfork_parent(void)
{
    pthread_mutex_unlock(&ring_mutex);
}

void ring_forget_all(void)
{
    struct ring *r = atomic_exchange(&ring_head, NULL);

    while (r) {
        struct ring *next = r->next;

        ownmaps_del(r);
        munmap(r, sizeof(*r));
        r = next;
    }
}

void ring_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&ring_mutex, &fresh, sizeof(fresh));
    ring_forget_all();
    ring_next_id = 1;
    atomic_store(&ring_shared, 0);
}
