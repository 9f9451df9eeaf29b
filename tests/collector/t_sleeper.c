/*
 * t_sleeper.c - site_sleeper 10 x 100 (kept), then sleeps argv[1] ms: a
 * target for attach and socket tests.
 */
#include <time.h>

#include "t_common.h"

SITE void *site_sleeper(size_t n) { return sink(malloc(n)); }

int main(int argc, char **argv)
{
    long ms = argc > 1 ? atol(argv[1]) : 3000;
    for (int i = 0; i < 10; i++)
        site_sleeper(100);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}
