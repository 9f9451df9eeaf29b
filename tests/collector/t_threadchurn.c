/*
 * t_threadchurn.c - 2000 short-lived threads (at most 8 at once), each 10
 * allocations of 64 bytes at site_churn, 9 freed at once, 1 kept: 20000
 * allocations, 2000 blocks (128000 bytes) live at the end.
 */
#include <pthread.h>

#include "t_common.h"

#define THREADS 2000

SITE void *site_churn(size_t n) { return sink(malloc(n)); }

static void *kept[THREADS];

static void *worker(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < 10; i++) {
        void *p = site_churn(64);
        if (i == 9)
            kept[t] = p;
        else
            free(p);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[8];
    for (long t = 0; t < THREADS; t += 8) {
        for (int j = 0; j < 8; j++)
            T_ASSERT(pthread_create(&th[j], NULL, worker, (void *)(t + j)) == 0);
        for (int j = 0; j < 8; j++)
            pthread_join(th[j], NULL);
    }
    return 0;
}
