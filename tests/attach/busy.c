/*
 * busy.c - a target for heapline attach: THREADS threads churn the heap
 * (deterministic sizes and contents) in epochs of ROUNDS rounds, until
 * SIGTERM (or SIGINT) ends the epoch in progress; the main thread leaks one
 * 4096-byte block every 10 ms at leak_here() meanwhile. At the end each
 * thread prints its first epoch's checksum and whether every later epoch
 * gave the same one: the output is the same with or without any number of
 * attaches. With BUSY_GAPS=1, each thread's longest gap between two rounds
 * (a stop by ptrace, or the scheduler) goes to stderr. It lets any process
 * trace it (Yama's ptrace_scope 1 on CI).
 *
 *   busy THREADS ROUNDS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

static long rounds;
static volatile sig_atomic_t stop;
static void *volatile leaks[100000]; /* kept: the leak is real */
static int gaps;

struct result {
    uint64_t first;
    int consistent;
    long epochs;
    double max_gap_ms;
};
static struct result results[64];

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void *churn(void *arg)
{
    struct result *res = &results[(uintptr_t)arg];
    unsigned char *keep[64] = {0};
    double last = now_ms();

    res->consistent = 1;
    do {
        uint64_t seed = (uintptr_t)arg * 2654435761u + 1, sum = 0;

        for (long r = 0; r < rounds; r++) {
            int slot = (int)(r & 63);
            size_t size;

            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size = 16 + (seed >> 33) % 2000;
            free(keep[slot]);
            keep[slot] = malloc(size);
            memset(keep[slot], (int)(r & 0xff), size);
            keep[slot][size - 1] = (unsigned char)(seed >> 40);
            sum = sum * 31 + keep[slot][size - 1] + size;
            if (gaps && (r & 15) == 0) {
                double t = now_ms();

                if (t - last > res->max_gap_ms)
                    res->max_gap_ms = t - last;
                last = t;
            }
        }
        if (res->epochs++ == 0)
            res->first = sum;
        else if (sum != res->first)
            res->consistent = 0;
    } while (!stop);
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return NULL;
}

__attribute__((noinline)) static void *leak_here(void)
{
    void *p = malloc(4096);

    memset(p, 1, 4096);
    return p;
}

static void on_stop(int sig)
{
    stop = 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    pthread_t t[64];
    struct timespec tick = {0, 10000000};
    long n_leaks = 0;

    if (n < 1 || n > 64)
        n = 8;
    rounds = argc > 2 ? atol(argv[2]) : 100000;
    gaps = getenv("BUSY_GAPS") != NULL;
    prctl(PR_SET_PTRACER, (unsigned long)-1, 0, 0, 0); /* PR_SET_PTRACER_ANY */
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", (int)getpid());
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
    for (int i = 0; i < n; i++) {
        while (pthread_tryjoin_np(t[i], NULL) != 0) {
            if (n_leaks < 100000)
                leaks[n_leaks++] = leak_here();
            nanosleep(&tick, NULL);
        }
        printf("thread %d: %llu %s\n", i, (unsigned long long)results[i].first,
               results[i].consistent ? "every epoch the same" : "EPOCHS DIFFER");
        if (gaps)
            fprintf(stderr, "thread %d: longest gap %.3f ms over %ld epochs\n", i,
                    results[i].max_gap_ms, results[i].epochs);
    }
    return 0;
}
