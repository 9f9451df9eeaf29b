/*
 * e2e_threads.c - four named threads w0..w3 allocate 100,000 x (id + 1) bytes
 * each at one site (thread_alloc), kept to the end; w0 and w1 under the tag
 * "low", w2 and w3 under "high". Grouping by thread shows each its own share
 * (97.7K, 195K, 293K, 391K), by tag 293K and 684K.
 *
 *   e2e_threads [FILE]   with FILE: first waits until FILE exists (a live TUI
 *                        has attached), and at the end until it is gone
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapline.h"

static void *volatile keep[4], *volatile keep_ready;

__attribute__((noinline)) static void *thread_alloc(size_t n)
{
    void *p = malloc(n);

    if (p)
        memset(p, 1, n);
    return p;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[8];

    snprintf(name, sizeof(name), "w%d", id);
    pthread_setname_np(pthread_self(), name);
    if (heapline_tag_push) /* weak: absent without the collector */
        heapline_tag_push(id < 2 ? "low" : "high");
    keep[id] = thread_alloc(100000 * (size_t)(id + 1));
    if (heapline_tag_pop)
        heapline_tag_pop();
    return NULL;
}

static void wait_for(const char *file, int present)
{
    struct timespec ts = {0, 20000000};

    for (int i = 0; i < 3000 && (access(file, F_OK) == 0) != present; i++)
        nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    pthread_t t[4];

    if (argc > 1) {
        keep_ready = thread_alloc(64); /* on screen once the TUI has attached */
        wait_for(argv[1], 1);
    }
    /* one after another, so every thread is named before it allocates */
    for (int i = 0; i < 4; i++) {
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
        pthread_join(t[i], NULL);
    }
    if (argc > 1)
        wait_for(argv[1], 0);
    return keep[0] && keep[1] && keep[2] && keep[3] ? 0 : 1;
}
