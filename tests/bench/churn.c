/*
 * churn.c - the malloc-heavy benchmark target of tests/bench/run.sh.
 *
 * THREADS threads make CALLS allocation calls in total (default 2 and 4
 * million): malloc, calloc and realloc at four distinct sites, sizes from 8
 * bytes to 64 KiB (mostly small), each made at a call depth of 5 to 25 frames
 * through three mutually recursive functions. Each thread keeps a window of
 * 4096 blocks: a new block replaces a random old one, which is freed, so most
 * blocks are freed and a few thousand stay live at the end (not freed).
 * Deterministic: the same calls in the same order per thread on every run.
 *
 * usage: churn [CALLS [THREADS]]
 *        churn --live N     allocate N blocks of 32 bytes, keep them, wait
 *                           300 ms, print "rss_kb R hwm_kb H" from /proc
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, noclone))
#define WINDOW 4096

struct worker {
    uint64_t rng;
    long calls;
    void *win[WINDOW];
    size_t win_size[WINDOW];
};

void *volatile churn_sink;

static uint64_t rnd(struct worker *w)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static size_t pick_size(struct worker *w)
{
    uint64_t r = rnd(w);
    switch (r & 15) {
    case 0:
        return 4096 + (r >> 8) % 61440; /* 1 in 16: a buffer up to 64 KiB */
    case 1:
    case 2:
    case 3:
        return 256 + (r >> 8) % 3840;
    default:
        return 8 + (r >> 8) % 248;
    }
}

/* The four sites. Each stores its result so the call is not a tail call. */
NOINLINE static void *site_node(size_t n) { return churn_sink = malloc(n); }
NOINLINE static void *site_string(size_t n) { return churn_sink = malloc(n); }
NOINLINE static void *site_table(size_t n) { return churn_sink = calloc(1, n); }
NOINLINE static void *site_grow(void *p, size_t n) { return churn_sink = realloc(p, n); }

static void one_call(struct worker *w)
{
    unsigned slot = (unsigned)(rnd(w) % WINDOW);
    size_t n = pick_size(w);
    void *old = w->win[slot];
    void *p;
    switch (rnd(w) % 10) {
    case 0:
    case 1: /* realloc the block in the slot: one allocation call, no separate free */
        p = site_grow(old, n);
        if (!p)
            abort();
        w->win[slot] = p;
        w->win_size[slot] = n;
        return;
    case 2:
        p = site_table(n);
        break;
    case 3:
    case 4:
    case 5:
        p = site_string(n);
        break;
    default:
        p = site_node(n);
        break;
    }
    if (!p)
        abort();
    ((char *)p)[0] = 1;
    free(old);
    w->win[slot] = p;
    w->win_size[slot] = n;
}

NOINLINE static int descend_b(struct worker *w, int depth);
NOINLINE static int descend_c(struct worker *w, int depth);

/* Recurse `depth` frames through a/b/c, then make one call; the work after the
 * recursive call keeps every frame on the stack. */
NOINLINE static int descend_a(struct worker *w, int depth)
{
    if (depth <= 0) {
        one_call(w);
        return 1;
    }
    return descend_b(w, depth - 1) + 1;
}
NOINLINE static int descend_b(struct worker *w, int depth)
{
    if (depth <= 0) {
        one_call(w);
        return 2;
    }
    return descend_c(w, depth - 1) + 2;
}
NOINLINE static int descend_c(struct worker *w, int depth)
{
    if (depth <= 0) {
        one_call(w);
        return 3;
    }
    return descend_a(w, depth - 1) + 3;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    long sum = 0;
    for (long i = 0; i < w->calls; i++) {
        /* frames between the thread's start and malloc: 5..25 */
        int depth = 1 + (int)(rnd(w) % 21);
        sum += descend_a(w, depth);
    }
    /* Free three quarters of the window; the rest stays live at exit. */
    for (unsigned i = 0; i < WINDOW; i++)
        if (i % 4)
            free(w->win[i]);
    return (void *)sum;
}

static void read_rss(long *rss, long *hwm)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *rss = *hwm = -1;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss = atol(line + 6);
        else if (!strncmp(line, "VmHWM:", 6))
            *hwm = atol(line + 6);
    }
    fclose(f);
}

static int live_mode(long n)
{
    void **keep = NULL;
    /* The array of pointers comes from mmap-sized malloc: one block. */
    keep = malloc((size_t)n * sizeof(*keep));
    if (!keep)
        return 1;
    for (long i = 0; i < n; i++) {
        keep[i] = site_node(32);
        if (!keep[i])
            return 1;
    }
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    long rss, hwm;
    read_rss(&rss, &hwm);
    printf("rss_kb %ld hwm_kb %ld\n", rss, hwm);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--live"))
        return live_mode(atol(argv[2]));
    long calls = argc > 1 ? atol(argv[1]) : 4000000;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1 || threads > 64 || calls < 1) {
        fprintf(stderr, "usage: churn [CALLS [THREADS]] | churn --live N\n");
        return 2;
    }
    pthread_t th[64];
    struct worker *w = calloc((size_t)threads, sizeof(*w));
    if (!w)
        return 1;
    for (int t = 0; t < threads; t++) {
        w[t].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
        w[t].calls = calls / threads + (t < calls % threads);
        if (pthread_create(&th[t], NULL, worker_main, &w[t]))
            return 1;
    }
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return 0;
}
