/*
 * t_peak.c - a peak that lasts microseconds: 10 x 1 MiB at site_peak_a, all
 * freed, then 5 x 1 MiB at site_peak_b kept. No stdio, nothing else
 * allocates: the peak is exactly 10 MiB, with site_peak_a holding it.
 * With an argument N, sleeps N ms at the peak (so ticks see it too).
 */
#include <stdlib.h>
#include <time.h>

#include "t_common.h"

SITE void *site_peak_a(size_t n) { return sink(malloc(n)); }
SITE void *site_peak_b(size_t n) { return sink(malloc(n)); }

int main(int argc, char **argv)
{
    void *a[10];
    for (int i = 0; i < 10; i++)
        a[i] = site_peak_a(1 << 20);
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 10; i++)
        free(a[i]);
    for (int i = 0; i < 5; i++)
        site_peak_b(1 << 20);
    return 0;
}
