/*
 * prefault.c - the live table's next pages, faulted in before it needs them
 * (prefault.h).
 *
 * Invariant: the thread calls madvise() only on a piece of the request
 * current when it took busy, and holds busy until that call returns; the
 * collector changes the request under req and then takes busy once
 * (prefault_cancel), so after it returns no piece of a cancelled request is
 * being populated or will be. busy is never taken by the collector while it
 * holds req, and the thread takes req under busy only for a look: no cycle.
 */
#include "prefault.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "ownmaps.h"
#include "track.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* One madvise() at a time: a huge page, the kernel's unit for the table. */
#define PIECE ((size_t)2 << 20)

static struct {
    pthread_mutex_t req, busy;
    pthread_cond_t cv;
    uintptr_t addr;
    size_t len;
    unsigned gen; /* bumped by every change of the request */
    int started;  /* the thread was started (or could not be: failed) */
    int failed;   /* no thread, or madvise() refused: nothing more asked */
    atomic_size_t done;
} P = {.req = PTHREAD_MUTEX_INITIALIZER,
       .busy = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER};

/* The next piece of the request: up to the next PIECE boundary. */
static size_t piece_len(uintptr_t addr, size_t len)
{
    size_t to_edge = PIECE - (addr & (PIECE - 1));

    return len < to_edge ? len : to_edge;
}

static void *prefault_main(void *arg)
{
    (void)arg;
    track_guard = 1;
    ownmaps_thread_stack(1);
    pthread_setname_np(pthread_self(), "heapline-fault");
    for (;;) {
        uintptr_t addr;
        size_t n;
        unsigned gen;
        int r = 0;

        pthread_mutex_lock(&P.req);
        while (!P.len)
            pthread_cond_wait(&P.cv, &P.req);
        addr = P.addr;
        n = piece_len(addr, P.len);
        gen = P.gen;
        pthread_mutex_unlock(&P.req);

        pthread_mutex_lock(&P.busy);
        pthread_mutex_lock(&P.req);
        int current = P.gen == gen;
        pthread_mutex_unlock(&P.req);
        if (current)
            r = madvise((void *)addr, n, MADV_POPULATE_WRITE);
        pthread_mutex_unlock(&P.busy);

        pthread_mutex_lock(&P.req);
        if (current && r < 0 && errno == EINVAL) {
            P.failed = 1; /* an older kernel: it will not learn */
            P.len = 0;
        } else if (P.gen == gen) { /* done with that piece (or it was unmapped: ENOMEM) */
            P.addr += n;
            P.len -= n;
        }
        pthread_mutex_unlock(&P.req);
        if (current && r == 0)
            atomic_fetch_add_explicit(&P.done, n, memory_order_relaxed);
    }
    return NULL;
}

/* Starts the thread with every signal blocked and a small stack (it only
 * calls madvise()). Collector thread. */
static void start(void)
{
    pthread_attr_t attr;
    pthread_t thread;
    sigset_t all, old;

    P.started = 1;
    if (pthread_attr_init(&attr) != 0) {
        P.failed = 1;
        return;
    }
    pthread_attr_setstacksize(&attr, 64 << 10);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (pthread_create(&thread, &attr, prefault_main, NULL) != 0)
        P.failed = 1;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void prefault_ask(void *addr, size_t len)
{
    if (!P.started)
        start();
    pthread_mutex_lock(&P.req);
    if (!P.failed) {
        P.addr = (uintptr_t)addr;
        P.len = len;
        P.gen++;
        pthread_cond_signal(&P.cv);
    }
    pthread_mutex_unlock(&P.req);
}

void prefault_cancel(void)
{
    if (!P.started)
        return;
    pthread_mutex_lock(&P.req);
    P.len = 0;
    P.gen++;
    pthread_mutex_unlock(&P.req);
    pthread_mutex_lock(&P.busy); /* a piece under way ends first */
    pthread_mutex_unlock(&P.busy);
}

int prefault_busy(void)
{
    int busy;

    if (!P.started)
        return 0;
    pthread_mutex_lock(&P.req);
    busy = P.len != 0;
    pthread_mutex_unlock(&P.req);
    return busy;
}

size_t prefault_done_bytes(void)
{
    return atomic_load_explicit(&P.done, memory_order_relaxed);
}

void prefault_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

    memcpy(&P.req, &fresh, sizeof(fresh));
    memcpy(&P.busy, &fresh, sizeof(fresh));
    memcpy(&P.cv, &cv, sizeof(cv));
    P.addr = 0;
    P.len = 0;
    P.started = P.failed = 0;
    atomic_store(&P.done, 0);
}
