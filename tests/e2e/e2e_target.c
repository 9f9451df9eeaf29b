/*
 * e2e_target.c - a small program with known figures for the TUI end-to-end
 * tests. Each phase allocates from its own function, so every site has a
 * distinct name and a known live size:
 *
 *   config_alloc   4 x 262144 B = 1 MiB, kept to the end
 *   cache_alloc   64 x  16384 B = 1 MiB under the tag "cache", freed at the end
 *   temp_alloc     8 x 262144 B = 2 MiB, freed at once (the peak: 4 MiB)
 *   leak_alloc   100 x   1000 B = 100000 B, never freed
 *
 * Markers "loaded", "cached", "spike-freed". With the argument "slow" every
 * pause is longer (a live `heapline run` test watches it). Prints nothing:
 * it runs under the TUI.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapline.h"

static int slow;

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    if (slow)
        ts = (struct timespec){.tv_sec = ms * 8 / 1000, .tv_nsec = (long)(ms * 8 % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *keep[256];
static int nkeep;

__attribute__((noinline)) static void *config_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

__attribute__((noinline)) static void load_config(void)
{
    for (int i = 0; i < 4; i++)
        keep[nkeep++] = config_alloc(262144);
}

__attribute__((noinline)) static void *cache_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 2, n);
    return p;
}

__attribute__((noinline)) static void fill_cache(void **cache)
{
    HEAPLINE_TAG_PUSH("cache");
    for (int i = 0; i < 64; i++)
        cache[i] = cache_alloc(16384);
    HEAPLINE_TAG_POP();
}

__attribute__((noinline)) static void *temp_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 3, n);
    return p;
}

__attribute__((noinline)) static void spike(void)
{
    void *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = temp_alloc(262144);
    pause_ms(100);
    for (int i = 0; i < 8; i++)
        free(t[i]);
}

__attribute__((noinline)) static void *leak_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 4, n);
    return p;
}

__attribute__((noinline)) static void leak_some(void)
{
    for (int i = 0; i < 100; i++)
        (void)leak_alloc(1000);
}

__attribute__((noinline)) static void run_phases(void)
{
    void *cache[64];
    load_config();
    HEAPLINE_MARK("loaded");
    pause_ms(150);
    fill_cache(cache);
    HEAPLINE_MARK("cached");
    pause_ms(150);
    spike();
    HEAPLINE_MARK("spike-freed");
    pause_ms(150);
    leak_some();
    pause_ms(150);
    for (int i = 0; i < 64; i++)
        free(cache[i]);
    pause_ms(150);
}

int main(int argc, char **argv)
{
    slow = argc > 1 && strcmp(argv[1], "slow") == 0;
    run_phases();
    return 0;
}
