/*
 * t_tools.c - a program whose memory is known exactly for every pair of
 * arguments, for diff, flame graph and check tests: `t_tools KEEP CHURN`.
 *
 *   site_fixed   one 4096-byte block, freed before exit
 *   site_keep    KEEP blocks of 1000 bytes, never freed (leaked)
 *   site_churn   CHURN blocks of 100 bytes, each freed right away
 *   site_extra   KEEP - 3 blocks of 64 bytes (none for KEEP <= 3), freed
 *
 * No stdio, nothing else allocates: the peak is 4096 + 1000 KEEP + 100 (a
 * churn block on top of the kept ones), or + 64 (KEEP - 3) when that is more.
 * Built twice in the tests, once with -include pad.h (code before every
 * function: new addresses, the same lines), to compare two builds.
 */
#include <stdlib.h>

#include "t_common.h"

SITE void *site_fixed(size_t n) { return sink(malloc(n)); }
SITE void *site_keep(size_t n) { return sink(malloc(n)); }
SITE void *site_churn(size_t n) { return sink(malloc(n)); }
SITE void *site_extra(size_t n) { return sink(malloc(n)); }

/* the caller of every site, so the folded stacks have a frame between main
 * and the sites */
SITE void work(int keep, int churn)
{
    void *fixed = site_fixed(4096), *extra[64];
    int n_extra = keep > 3 ? keep - 3 : 0;

    for (int i = 0; i < keep; i++)
        site_keep(1000);
    for (int i = 0; i < churn; i++)
        free(site_churn(100));
    for (int i = 0; i < n_extra && i < 64; i++)
        extra[i] = site_extra(64);
    for (int i = 0; i < n_extra && i < 64; i++)
        free(extra[i]);
    free(fixed);
}

int main(int argc, char **argv)
{
    work(argc > 1 ? atoi(argv[1]) : 3, argc > 2 ? atoi(argv[2]) : 10);
    return 0;
}
