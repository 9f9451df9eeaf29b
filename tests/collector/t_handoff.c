/*
 * t_handoff.c - a producer thread allocates 200,000 blocks of 40 bytes at
 * site_handoff and hands each to a consumer thread that frees it at once;
 * the allocator reuses the addresses while both run, so a collector that
 * orders one thread's free after another thread's reuse gets it wrong.
 * Expected at end: 200,000 allocations, 8,000,000 bytes, nothing live.
 */
#include <pthread.h>
#include <stdlib.h>

#include "t_common.h"

#define N 200000
#define RING 64

SITE void *site_handoff(size_t n) { return sink(malloc(n)); }

static void *ring[RING];
static unsigned head, tail;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *consumer(void *arg)
{
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&mu);
        while (head == tail)
            pthread_cond_wait(&cv, &mu);
        void *p = ring[tail++ % RING];
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        free(p);
    }
    return arg;
}

int main(void)
{
    pthread_t c;
    T_ASSERT(pthread_create(&c, NULL, consumer, NULL) == 0);
    for (int i = 0; i < N; i++) {
        void *p = site_handoff(40);
        pthread_mutex_lock(&mu);
        while (head - tail == RING)
            pthread_cond_wait(&cv, &mu);
        ring[head++ % RING] = p;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    pthread_join(c, NULL);
    return 0;
}
