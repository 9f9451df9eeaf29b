/*
 * target.c - the program the stress suite runs under the collector.
 *
 *   target N_HOLD THREADS SECONDS
 *
 * Allocates N_HOLD blocks kept live (site hold_block, reachable from a global
 * array), prints "ready PID", waits for a line on stdin, then runs THREADS
 * threads that free and allocate (site churn_block) for SECONDS, timing each
 * of its own malloc calls, and prints
 *
 *   ops OPS maxwait_us MAX p9999_us P
 *
 * (operations done, the longest malloc, the 99.99th percentile), writes the
 * eight longest waits over 5 ms to stderr ("target: malloc waited W ms at T
 * ms", T after go, with the CLOCK_MONOTONIC second it began, to line up with
 * what the collector did then), then waits for stdin to close and exits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 256
#define BUCKETS 4096 /* 10 us each: a histogram of malloc waits up to 41 ms, then the tail */

void **held;
static atomic_int stop;
static atomic_ullong hist[BUCKETS + 1];
static atomic_ullong max_ns;
static uint64_t go_ns;
/* the longest waits, when they started (ms after go): on stderr at the end */
#define LONG_KEEP 8
static struct {
    uint64_t at, dt;
} longest[LONG_KEEP];
static pthread_mutex_t long_mutex = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) void *hold_block(size_t n)
{
    return malloc(n);
}

__attribute__((noinline)) void *churn_block(size_t n)
{
    return malloc(n);
}

static void note_long(uint64_t t0, uint64_t dt)
{
    int w = 0;

    pthread_mutex_lock(&long_mutex);
    for (int i = 1; i < LONG_KEEP; i++)
        if (longest[i].dt < longest[w].dt)
            w = i;
    if (dt > longest[w].dt) {
        longest[w].at = t0;
        longest[w].dt = dt;
    }
    pthread_mutex_unlock(&long_mutex);
}

static void *churn(void *arg)
{
    void *slot[SLOTS] = {0};
    unsigned long long ops = 0, mx = 0;
    unsigned k = 0;

    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        free(slot[k]);
        uint64_t t0 = now_ns();
        slot[k] = churn_block(16 + (k & 63) * 8);
        uint64_t dt = now_ns() - t0;
        if (dt > mx)
            mx = dt;
        if (dt > 5000000)
            note_long(t0, dt);
        atomic_fetch_add_explicit(&hist[dt / 10000 < BUCKETS ? dt / 10000 : BUCKETS], 1,
                                  memory_order_relaxed);
        k = (k + 1) % SLOTS;
        ops++;
    }
    for (unsigned i = 0; i < SLOTS; i++)
        free(slot[i]);
    unsigned long long cur = atomic_load(&max_ns);
    while (mx > cur && !atomic_compare_exchange_weak(&max_ns, &cur, mx))
        ;
    return (void *)(uintptr_t)ops;
}

int main(int argc, char **argv)
{
    char line[64];

    if (argc != 4) {
        fprintf(stderr, "usage: target N_HOLD THREADS SECONDS\n");
        return 2;
    }
    long n_hold = atol(argv[1]);
    int threads = atoi(argv[2]);
    double seconds = atof(argv[3]);
    pthread_t tid[64];

    if (threads < 1 || threads > 64 || n_hold < 1)
        return 2;
    held = malloc((size_t)n_hold * sizeof(*held));
    for (long i = 0; i < n_hold; i++)
        held[i] = hold_block(24);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 1;
    go_ns = now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&tid[i], NULL, churn, NULL);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&stop, 1);
    unsigned long long ops = 0, total = 0, seen = 0;
    for (int i = 0; i < threads; i++) {
        void *r;
        pthread_join(tid[i], &r);
        ops += (uintptr_t)r;
    }
    for (int i = 0; i <= BUCKETS; i++)
        total += hist[i];
    int p = 0;
    for (; p <= BUCKETS; p++) {
        seen += hist[p];
        if (seen * 10000 >= total * 9999)
            break;
    }
    printf("ops %llu maxwait_us %.1f p9999_us %d\n", ops, atomic_load(&max_ns) / 1000.0,
           (p + 1) * 10);
    fflush(stdout);
    for (int i = 0; i < LONG_KEEP; i++)
        if (longest[i].dt)
            fprintf(stderr, "target: malloc waited %.1f ms at %.1f ms (monotonic %.3f s)\n",
                    longest[i].dt / 1e6, ((double)longest[i].at - (double)go_ns) / 1e6,
                    longest[i].at / 1e9);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}
