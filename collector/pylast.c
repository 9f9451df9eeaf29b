/*
 * pylast.c - a thread's Python walk state: mapped on the thread's first
 * walk (not in TLS: see pylast.h), unmapped when the thread exits.
 *
 * Invariant: py_thr is this thread's mapping or NULL; the key's destructor
 * clears it before unmapping, so a walk later in the thread's exit (a
 * destructor that allocates) maps a new one rather than reading freed pages.
 */
#include "pylast.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

__thread struct py_thread *py_thr;
static pthread_key_t memo_key;
static atomic_int memo_key_ok;

static void memo_drop(void *p)
{
    py_thr = NULL;
    munmap(p, sizeof(struct py_thread));
}

struct py_thread *pylast_thread_new(void)
{
    void *p;

    if (!atomic_load_explicit(&memo_key_ok, memory_order_acquire))
        return NULL;
    p = mmap(NULL, sizeof(struct py_thread), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    py_thr = p;
    py_thr->self = (uintptr_t)pthread_self();
    pthread_setspecific(memo_key, p);
    return py_thr;
}

void pylast_init(void)
{
    if (!atomic_load(&memo_key_ok) && pthread_key_create(&memo_key, memo_drop) == 0)
        atomic_store_explicit(&memo_key_ok, 1, memory_order_release);
}
