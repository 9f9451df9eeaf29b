/*
 * busy.c - a target for heapline attach: THREADS threads churn the heap
 * (deterministic sizes and contents) for ROUNDS rounds each, and the main
 * thread leaks one 4096-byte block every 10 ms at leak_here() until they
 * end. It prints one checksum per thread: the same with or without an
 * attach. It lets any process trace it (Yama's ptrace_scope 1 on CI).
 *
 *   busy THREADS ROUNDS
 */
#define _GNU_SOURCE
#include <pthread.h>
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
static void *volatile leaks[100000]; /* kept: the leak is real */
static volatile int done;

static void *churn(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 2654435761u + 1, sum = 0;
    unsigned char *keep[64] = {0};

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
    }
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    return (void *)(uintptr_t)sum;
}

__attribute__((noinline)) static void *leak_here(void)
{
    void *p = malloc(4096);

    memset(p, 1, 4096);
    return p;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 8;
    pthread_t t[64];
    struct timespec tick = {0, 10000000};
    long n_leaks = 0;

    rounds = argc > 2 ? atol(argv[2]) : 1000000;
    prctl(PR_SET_PTRACER, (unsigned long)-1, 0, 0, 0); /* PR_SET_PTRACER_ANY */
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ready %d\n", (int)getpid());
    for (int i = 0; i < n && i < 64; i++)
        pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)i);
    for (int i = 0; i < n && i < 64; i++) {
        void *sum;

        while (pthread_tryjoin_np(t[i], &sum) != 0) {
            if (n_leaks < 100000)
                leaks[n_leaks++] = leak_here();
            nanosleep(&tick, NULL);
        }
        printf("thread %d: %llu\n", i, (unsigned long long)(uintptr_t)sum);
    }
    printf("leaked %ld\n", n_leaks > 0);
    return 0;
}
