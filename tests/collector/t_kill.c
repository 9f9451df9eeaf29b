/*
 * t_kill.c - site_kill 1000 x 64 (kept), then writes its pid to argv[1] and
 * waits to be killed; with argv[2] == "abort", aborts instead after 300 ms,
 * with "segv", dereferences NULL.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "t_common.h"

SITE void *site_kill(size_t n) { return sink(malloc(n)); }

int main(int argc, char **argv)
{
    T_ASSERT(argc >= 2);
    for (int i = 0; i < 1000; i++)
        site_kill(64);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0 && write(fd, buf, (size_t)n) == n);
    close(fd);
    T_ASSERT(rename(tmp, argv[1]) == 0);
    if (argc > 2) {
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        if (!strcmp(argv[2], "abort"))
            abort();
        if (!strcmp(argv[2], "segv")) {
            int *volatile nowhere = NULL;
            *nowhere = 0;
        }
    }
    for (;;)
        pause();
}
