/*
 * t_sample.c - a target for sampling mode: sites whose live bytes the
 * sampled estimate must come within 10% of (at the 4 KiB rate the test uses,
 * site_small holds about 1900 intervals, site_mixed 2500), a site of blocks larger
 * than the rate (recorded exactly), a churning site that ends with nothing
 * live, a realloc'd buffer, and frees handed between two threads. Sizes come
 * from a fixed seed, so an exact run and a sampled run allocate the same.
 * Prints "usable N" on stderr at the end: the usable bytes of the blocks it
 * still holds, from malloc_usable_size.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "t_common.h"

#define N_SMALL 120000 /* 64 B: 7.3 MiB */
#define N_MIXED 40000  /* 16..512 B: about 10 MiB */
#define N_BIG 6        /* 1 MiB each: recorded exactly */
#define N_CHURN 300000

static void *small[N_SMALL], *mixed[N_MIXED], *big[N_BIG], *thr[N_SMALL / 2];
static uint64_t seed = 12345;

static uint32_t rnd(void)
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(seed >> 33);
}

SITE void *site_small(void)
{
    return sink(malloc(64));
}

SITE void *site_mixed(size_t n)
{
    return sink(malloc(n));
}

SITE void *site_big(void)
{
    return sink(calloc(1, 1 << 20));
}

SITE void *site_churn(size_t n)
{
    return sink(malloc(n));
}

SITE void *site_grow(void *p, size_t n)
{
    return sink(realloc(p, n));
}

SITE void *site_thread(void)
{
    return sink(malloc(48));
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_SMALL / 2; i++)
        thr[i] = site_thread();
    return NULL;
}

int main(void)
{
    pthread_t t;
    void *grow = NULL;
    size_t usable = 0;
    char line[64];
    int n;

    T_ASSERT(pthread_create(&t, NULL, worker, NULL) == 0);
    for (int i = 0; i < N_SMALL; i++)
        small[i] = site_small();
    for (int i = 0; i < N_MIXED; i++)
        mixed[i] = site_mixed(16 + rnd() % 497);
    for (int i = 0; i < N_BIG; i++)
        big[i] = site_big();
    for (int i = 0; i < N_CHURN; i++)
        free(site_churn(8 + rnd() % 256));
    for (size_t k = 1; k <= 64; k++)
        grow = site_grow(grow, k * 4096);
    T_ASSERT(pthread_join(t, NULL) == 0);
    /* the worker's blocks: every other one freed here, on another thread */
    for (int i = 0; i < N_SMALL / 2; i += 2) {
        free(thr[i]);
        thr[i] = NULL;
    }
    for (int i = 0; i < N_SMALL; i++)
        usable += malloc_usable_size(small[i]);
    for (int i = 0; i < N_MIXED; i++)
        usable += malloc_usable_size(mixed[i]);
    for (int i = 0; i < N_BIG; i++)
        usable += malloc_usable_size(big[i]);
    for (int i = 0; i < N_SMALL / 2; i++)
        usable += thr[i] ? malloc_usable_size(thr[i]) : 0;
    usable += malloc_usable_size(grow);
    n = snprintf(line, sizeof(line), "usable %zu\n", usable);
    (void)!write(2, line, (size_t)n);
    return 0;
}
