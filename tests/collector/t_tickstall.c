/*
 * t_tickstall.c - a thread stopped between an allocation's stamp and its
 * ring write. Two threads allocate and free nonstop at site_stall_alloc
 * (64 blocks each kept at a time, all freed at the end); 400 times, 4 ms
 * apart, main sends the first one a signal whose handler sleeps 3 ms, so
 * the thread stops wherever the signal finds it, now and then inside the
 * collector's hook after it read the clock. The other thread goes on, the
 * collector's drain passes that stamp and sends ticks (1 ms apart under
 * HEAPLINE_TICK_MS=1) dated past it, and the stopped event arrives after
 * them (tests/collector/run.sh, tick-stall). Prints "allocations N" (both
 * threads' total) at the end.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "t_common.h"

#define KEEP 64
#define STALLS 400

SITE void *site_stall_alloc(size_t n)
{
    return sink(malloc(n));
}

static atomic_int stop, stalled_tid;
static atomic_ulong allocations;

static void on_usr1(int sig)
{
    struct timespec ts = {0, 3000000};

    (void)sig;
    nanosleep(&ts, NULL);
}

static void *churn(void *first)
{
    void *keep[KEEP] = {0};
    unsigned long i = 0;

    if (first)
        atomic_store(&stalled_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop)) {
        free(keep[i % KEEP]);
        keep[i % KEEP] = site_stall_alloc(16 + i % 256);
        i++;
    }
    for (int k = 0; k < KEEP; k++)
        free(keep[k]);
    atomic_fetch_add(&allocations, i);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    struct sigaction sa = {0};

    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_create(&a, NULL, churn, (void *)1);
    pthread_create(&b, NULL, churn, NULL);
    while (!atomic_load(&stalled_tid))
        usleep(100);
    for (int k = 0; k < STALLS; k++) {
        struct timespec ts = {0, 4000000};

        syscall(SYS_tgkill, getpid(), atomic_load(&stalled_tid), SIGUSR1);
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("allocations %lu\n", atomic_load(&allocations));
    return 0;
}
