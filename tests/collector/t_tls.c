/*
 * t_tls.c - frees at thread exit: 4 threads each allocate 1000 blocks of 48
 * bytes at site_tls, keep them in a thread-specific array and exit; the
 * pthread key's destructor frees them after the thread function returned
 * (late in the thread's life, after the collector may have retired its
 * buffer). Then one more thread allocates at site_tls_after and also exits.
 * Expected at end: site_tls 4000 allocations, nothing live; site_tls_after 1
 * block of 16 live (kept in a global).
 */
#include <pthread.h>

#include "t_common.h"

#define N 1000

SITE void *site_tls(size_t n) { return sink(malloc(n)); }
SITE void *site_tls_after(size_t n) { return sink(malloc(n)); }

static pthread_key_t key;
static void *kept;

static void release(void *v)
{
    void **blocks = v;
    for (int i = 0; i < N; i++)
        free(blocks[i]);
    free(blocks);
}

static void *worker(void *arg)
{
    void **blocks = site_tls(N * sizeof(void *)) ;
    for (int i = 0; i < N - 1; i++)
        blocks[i] = site_tls(48);
    blocks[N - 1] = NULL;
    pthread_setspecific(key, blocks);
    return arg;
}

static void *after(void *arg)
{
    kept = site_tls_after(16);
    return arg;
}

int main(void)
{
    pthread_t t[4];
    T_ASSERT(pthread_key_create(&key, release) == 0);
    for (int i = 0; i < 4; i++)
        T_ASSERT(pthread_create(&t[i], NULL, worker, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    T_ASSERT(pthread_create(&t[0], NULL, after, NULL) == 0);
    pthread_join(t[0], NULL);
    return 0;
}
