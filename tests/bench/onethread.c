/*
 * onethread.c - a preloaded library whose only act is to start one thread
 * that sleeps until the program exits: what any in-process collector thread
 * costs a program before it does anything (tests/bench/run.sh, section 7).
 * glibc runs single-threaded programs on fast paths (pthread_mutex_lock
 * without its locked cmpxchg, malloc without its arena lock) while
 * __libc_single_threaded is set, and pthread_create clears it for good.
 */
#include <pthread.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

__attribute__((constructor)) static void start(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, sleeper, NULL) == 0)
        pthread_detach(t);
}
