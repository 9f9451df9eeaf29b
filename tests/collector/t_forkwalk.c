/*
 * t_forkwalk.c - forks while other threads are inside libunwind's walk.
 * Two threads allocate through STUBS copies of a small function written into
 * an anonymous mapping, as a JIT would (no module, no FDE): the table walk
 * has no rule for its frame and hands every one of their stacks to
 * libunwind, and the return address is a different copy's each time, so
 * libunwind's caches miss and its walk looks the frame up with
 * dl_iterate_phdr: those threads are inside glibc's loader lock much of the
 * time. glibc 2.36 does not reset that lock in a fork child: a fork at such
 * an instant would leave the child stuck at its first dl_iterate_phdr.
 *
 * Built -O2 -fomit-frame-pointer (so the collector chooses the table walk).
 * For 1.5 s the main thread forks; each child allocates through the stubs
 * (libunwind walks of its own) and exits; a child not gone after 3 s is
 * stuck and killed. Prints "N children, S stuck, W walks"; exit status 1 if
 * any child was stuck.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "t_common.h"

#define WALKERS 2

#define STUBS 16384
#define STUB_SIZE 32

typedef void *alloc_fn(size_t n);
static unsigned char *stubs;

/* push %rbp; mov %rsp,%rbp; movabs $malloc,%rax; call *%rax; pop %rbp; ret:
 * it keeps a frame pointer, so libunwind's guess past it finds the caller */
static void stubs_make(void)
{
    static const unsigned char head[] = {0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8};
    static const unsigned char tail[] = {0xff, 0xd0, 0x5d, 0xc3};
    void *(*m)(size_t) = malloc;

    stubs =
        mmap(NULL, STUBS * STUB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_ASSERT(stubs != MAP_FAILED);
    for (int i = 0; i < STUBS; i++) {
        unsigned char *s = stubs + i * STUB_SIZE;

        memcpy(s, head, sizeof(head));
        memcpy(s + sizeof(head), &m, sizeof(m));
        memcpy(s + sizeof(head) + sizeof(m), tail, sizeof(tail));
    }
    T_ASSERT(mprotect(stubs, STUBS * STUB_SIZE, PROT_READ | PROT_EXEC) == 0);
}

static void *walk_alloc(unsigned i, size_t n)
{
    alloc_fn *f = (alloc_fn *)(void *)(stubs + (i % STUBS) * STUB_SIZE);

    return f(n);
}

static atomic_int stop;
static atomic_long walks;

SITE static void *walker(void *arg)
{
    unsigned i = (unsigned)(size_t)arg * (STUBS / WALKERS);

    while (!atomic_load(&stop)) {
        free(sink(walk_alloc(i++, 24)));
        atomic_fetch_add(&walks, 1);
    }
    return NULL;
}

int main(void)
{
    pthread_t th[WALKERS];
    double t0;
    int n = 0, stuck = 0;

    stubs_make();
    for (int i = 0; i < WALKERS; i++)
        T_ASSERT(pthread_create(&th[i], NULL, walker, (void *)(size_t)i) == 0);
    t0 = t_now();
    while (t_now() - t0 < 1.5) {
        pid_t p = fork();

        if (p == 0) {
            for (unsigned i = 0; i < 20; i++)
                free(sink(walk_alloc(i, 16)));
            _exit(0);
        }
        if (p < 0)
            break;
        n++;
        stuck += t_reap(p, 3);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < WALKERS; i++)
        pthread_join(th[i], NULL);
    printf("%d children, %d stuck, %ld walks\n", n, stuck, atomic_load(&walks));
    return stuck != 0;
}
