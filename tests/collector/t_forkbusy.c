/*
 * t_forkbusy.c - fork while the collector is busy: four threads allocate and
 * free at site_work as fast as they can (the collector falls behind and holds
 * events in its stage and backlogs, which a fork child does not inherit),
 * while the main thread forks CHILDREN children one after another. Each
 * child allocates and frees CHURN blocks at site_churn (its own collector
 * maps its own buffers), keeps 3 x 500 at site_child and exits 0. Then the
 * threads stop and free what they hold: site_work ends with no live block.
 * argv[1]: file the children's pids are written to, one a line, then
 * "work N" (the site_work allocations made). No stdio.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "t_common.h"

#define THREADS 4
#define CHILDREN 6
#define CHURN 100000

SITE void *site_work(size_t n)
{
    return sink(malloc(n));
}
SITE void *site_churn(size_t n)
{
    return sink(malloc(n));
}
SITE void *site_child(size_t n)
{
    return sink(malloc(n));
}

static atomic_int running, stop;
static atomic_ulong made;

static void *worker(void *arg)
{
    void *keep[64] = {0};
    unsigned long i;

    (void)arg;
    atomic_fetch_add(&running, 1);
    for (i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
        free(keep[i % 64]);
        keep[i % 64] = site_work(16 + (i % 32) * 8);
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    atomic_fetch_add(&made, i);
    return NULL;
}

static void child(void)
{
    for (int i = 0; i < CHURN; i++)
        free(site_churn(32 + (i % 8) * 16));
    for (int i = 0; i < 3; i++)
        site_child(500);
    exit(0);
}

int main(int argc, char **argv)
{
    pthread_t t[THREADS];
    char buf[64 * (CHILDREN + 1)];
    int n = 0, fd;

    T_ASSERT(argc == 2);
    for (long i = 0; i < THREADS; i++)
        T_ASSERT(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
    while (atomic_load(&running) < THREADS)
        usleep(1000);
    usleep(200000); /* the threads have made a million events or so */
    for (int c = 0; c < CHILDREN; c++) {
        int st;
        pid_t pid = fork();

        T_ASSERT(pid >= 0);
        if (pid == 0)
            child();
        T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%d\n", (int)pid);
        usleep(20000);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        T_ASSERT(pthread_join(t[i], NULL) == 0);
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "work %lu\n", atomic_load(&made));
    fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0 && write(fd, buf, (size_t)n) == n);
    close(fd);
    return 0;
}
