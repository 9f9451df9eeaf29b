/*
 * t_threads.c - 8 threads x 100,000 allocations at site_thread_alloc.
 * Block i of a thread has size 16 + (i % 100) * 8. Each thread frees its
 * blocks at once except i % 100 == 0 (kept: 1000 x 16 bytes per thread) and
 * i % 100 == 1 (1000 x 24 bytes, handed to main, which frees them after
 * join: frees from another thread).
 */
#include <pthread.h>
#include <stdlib.h>

#include "t_common.h"

#define THREADS 8
#define PER 100000

SITE void *site_thread_alloc(size_t n) { return sink(malloc(n)); }

static void *kept[THREADS][PER / 100];
static void *handed[THREADS][PER / 100];

static void *worker(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < PER; i++) {
        void *p = site_thread_alloc(16 + (size_t)(i % 100) * 8);
        if (i % 100 == 0)
            kept[t][i / 100] = p;
        else if (i % 100 == 1)
            handed[t][i / 100] = p;
        else
            free(p);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        T_ASSERT(pthread_create(&th[t], NULL, worker, (void *)t) == 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER / 100; i++)
            free(handed[t][i]);
    return 0;
}
