/*
 * t_teardown.c - a teardown faster than the collector: N blocks (default
 * 1.5M, 16-64 bytes) at site_many, then all of them freed in one tight loop
 * (glibc frees them about three times faster than the collector applies the
 * frees: its ring fills, and the events go to the spill file), then 1000
 * blocks of 100 bytes at site_after, kept. Nothing else allocates after
 * start-up: site_many holds 0 blocks at the end, site_after 1000 and
 * 100000 bytes.
 */
#include <stdlib.h>

#include "t_common.h"

SITE void *site_many(size_t n)
{
    return sink(malloc(n));
}
SITE void *site_after(size_t n)
{
    return sink(malloc(n));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1500000;
    void **p = calloc(n, sizeof(*p)); /* from before: not a site of ours */

    T_ASSERT(p);
    for (size_t i = 0; i < n; i++)
        T_ASSERT((p[i] = site_many(16 + (i % 4) * 16)));
    for (size_t i = 0; i < n; i++)
        free(p[i]);
    for (int i = 0; i < 1000; i++)
        T_ASSERT(site_after(100));
    return 0;
}
