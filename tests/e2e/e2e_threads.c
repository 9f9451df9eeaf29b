/*
 * e2e_threads.c - four named threads w0..w3 allocate 100,000 x (id + 1) bytes
 * each at one site (thread_alloc), kept to the end; w0 and w1 under the tag
 * "low", w2 and w3 under "high". Grouping by thread shows each its own share
 * (97.7K, 195K, 293K, 391K), by tag 293K and 684K.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapline.h"

static void *volatile keep[4];

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

int main(void)
{
    pthread_t t[4];

    /* one after another, so every thread is named before it allocates */
    for (int i = 0; i < 4; i++) {
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
        pthread_join(t[i], NULL);
    }
    return keep[0] && keep[1] && keep[2] && keep[3] ? 0 : 1;
}
