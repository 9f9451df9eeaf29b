/*
 * t_exit_thread.c - a thread calls exit(0) while 3 others allocate and free
 * as fast as they can: no crash, no hang, a readable recording.
 */
#include <pthread.h>
#include <time.h>

#include "t_common.h"

SITE void *site_spin(size_t n) { return sink(malloc(n)); }

static void *spinner(void *arg)
{
    for (;;)
        free(site_spin(32 + ((size_t)arg & 7) * 16));
    return NULL;
}

static void *exiter(void *arg)
{
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL);
    exit(0);
    return arg;
}

int main(void)
{
    pthread_t t;
    for (long i = 0; i < 3; i++)
        T_ASSERT(pthread_create(&t, NULL, spinner, (void *)i) == 0);
    T_ASSERT(pthread_create(&t, NULL, exiter, NULL) == 0);
    for (;;)
        free(site_spin(24));
}
