/*
 * t_rename.c - a thread renamed while it runs: the main thread, then a second
 * thread, allocate, sleep past a few ticks (10 ms), rename themselves and
 * allocate again. The recording defines each thread again under its new name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static void *keep[4];

static void nap(void)
{
    struct timespec t = {0, 40000000};

    nanosleep(&t, NULL);
}

static void *second(void *arg)
{
    keep[2] = malloc(2000);
    nap();
    pthread_setname_np(pthread_self(), "second-new");
    keep[3] = malloc(3000);
    nap();
    return arg;
}

int main(void)
{
    pthread_t t;

    pthread_setname_np(pthread_self(), "main-old");
    keep[0] = malloc(1000);
    nap();
    pthread_setname_np(pthread_self(), "main-new");
    keep[1] = malloc(1500);
    nap();
    pthread_create(&t, NULL, second, NULL);
    pthread_join(t, NULL);
    for (int i = 0; i < 4; i++)
        free(keep[i]);
    return 0;
}
