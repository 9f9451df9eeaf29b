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
 *
 * With the argument "deep", other shapes instead, for the screens' edges:
 *
 *   deep_alloc    72 x 100 B: 24 descents 24 calls of descend() deep, each
 *                 also allocating on the way back at depths 4 and 16 (tree
 *                 guides at any depth)
 *   pair_alloc     2 x 64 B from one line of make_pair() (two return
 *                 addresses, one tree node)
 *   many_alloc 10050 x 16 B (more objects than the objects view lists)
 *
 * With "list", a linked list of 1000 x 48 B (list_alloc) under the global
 * list_head, newest first, and then it waits in pause() to be killed: the
 * oldest entry is 1000 references from a root.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapline.h"

static int slow;

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    if (slow)
        ts =
            (struct timespec){.tv_sec = ms * 8 / 1000, .tv_nsec = (long)(ms * 8 % 1000) * 1000000L};
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
    return malloc(n);
}

/* The 8 allocations first, their pages after: the allocations fall within
 * microseconds, so a replay's cursor (whole milliseconds on the screen) is
 * before or after all of them. Each written as it came, page faults spread
 * them over 1-2 ms on a loaded machine, and the screen's state at a cursor
 * in that millisecond was neither report --at T's nor --at T + 1 ms's. */
__attribute__((noinline)) static void spike(void)
{
    void *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = temp_alloc(262144);
    for (int i = 0; i < 8; i++)
        memset(t[i], 3, 262144);
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

/* ---- deep ---- */

__attribute__((noinline)) static void *deep_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 5, n);
    return p;
}

__attribute__((noinline)) static void descend(int d)
{
    if (d == 0) {
        keep[nkeep++] = deep_alloc(100);
        return;
    }
    descend(d - 1);
    if (d == 4 || d == 16) /* a second callee: a branch, so a guide runs down */
        keep[nkeep++] = deep_alloc(100);
}

__attribute__((noinline)) static void *pair_alloc(size_t n)
{
    void *p = malloc(n);
    memset(p, 6, n);
    return p;
}

__attribute__((noinline)) static void make_pair(void)
{
    /* two calls on one line: two return addresses, one function and line */
    keep[nkeep++] = pair_alloc(64), keep[nkeep++] = pair_alloc(64);
}

__attribute__((noinline)) static void *many_alloc(size_t n)
{
    return malloc(n);
}

__attribute__((noinline)) static void deep_phase(void)
{
    static void *many[10050];
    for (int i = 0; i < 24; i++)
        descend(24);
    make_pair();
    for (int i = 0; i < 10050; i++)
        many[i] = many_alloc(16);
    pause_ms(50);
}

struct entry {
    struct entry *next;
    char payload[40];
};

struct entry *list_head;

__attribute__((noinline)) static struct entry *list_alloc(void)
{
    struct entry *e = malloc(sizeof *e);
    memset(e->payload, 7, sizeof e->payload);
    return e;
}

__attribute__((noinline)) static void list_phase(void)
{
    for (int i = 0; i < 1000; i++) {
        struct entry *e = list_alloc();
        e->next = list_head;
        list_head = e;
    }
    /* one blocking call: a thread that wakes across a scan's snapshot has its
     * whole stack scanned (collector/scansp.h), dead frames below its stack
     * pointer included, and one of them can still hold an entry's address */
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    slow = argc > 1 && strcmp(argv[1], "slow") == 0;
    if (argc > 1 && strcmp(argv[1], "deep") == 0)
        deep_phase();
    else if (argc > 1 && strcmp(argv[1], "list") == 0)
        list_phase();
    else
        run_phases();
    return 0;
}
