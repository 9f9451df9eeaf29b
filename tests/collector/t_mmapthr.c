/*
 * t_mmapthr.c - the program's blocks are placed as without heapline: glibc
 * raises its mmap threshold to the size of any mmapped chunk freed above it,
 * so a free of the collector's own (a test block at start-up, a buffer it
 * let go while the program ran) kept the program's big blocks in the heap,
 * where realloc copies what mremap moved. Prints, for a block of 200000
 * bytes at start and one of 250000 after the collector has had 20000 calls
 * and 300 ms to work on them, whether glibc mmapped it: "mmapped mmapped"
 * bare, and it must print the same under heapline.
 */
#include <time.h>

#include "t_common.h"

SITE void *site_thr_big(size_t n)
{
    return sink(malloc(n));
}
SITE void *site_thr_small(size_t n)
{
    return sink(malloc(n));
}

/* glibc's chunk header: bit 1 of the size word before the block, IS_MMAPPED */
static const char *placed(const void *p)
{
    return ((const size_t *)p)[-1] & 2 ? "mmapped" : "heap";
}

int main(void)
{
    struct timespec ts = {0, 300000000};
    void *a = site_thr_big(200000), *b, *keep[64] = {0};

    T_ASSERT(a);
    for (int i = 0; i < 20000; i++) {
        free(keep[i % 64]);
        keep[i % 64] = site_thr_small((size_t)(16 + i % 2000));
    }
    nanosleep(&ts, NULL);
    b = site_thr_big(250000);
    T_ASSERT(b);
    printf("%s %s\n", placed(a), placed(b));
    for (int i = 0; i < 64; i++)
        free(keep[i]);
    free(a);
    free(b);
    return 0;
}
