/*
 * t_busy.c - eight threads allocate and free at site_busy until killed; the
 * main thread writes its pid to argv[1] once they all run. A recording killed
 * (SIGKILL) a moment later must already hold events: the record file may lag
 * the program by about a tick period, not by the collector's backlog.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "t_common.h"

#define THREADS 8

SITE void *site_busy(size_t n) { return sink(malloc(n)); }

static atomic_int running;

static void *worker(void *arg)
{
    void *keep[64] = {0};

    (void)arg;
    atomic_fetch_add(&running, 1);
    for (unsigned long i = 0;; i++) {
        free(keep[i % 64]);
        keep[i % 64] = site_busy(16 + (i % 32) * 8);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[THREADS];
    char buf[32], tmp[4096];

    T_ASSERT(argc == 2);
    for (long i = 0; i < THREADS; i++)
        T_ASSERT(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    while (atomic_load(&running) < THREADS)
        usleep(1000);
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0 && write(fd, buf, (size_t)n) == n);
    close(fd);
    T_ASSERT(rename(tmp, argv[1]) == 0);
    for (;;)
        pause();
}
