/*
 * graphs.c - programs with known reference graphs for `heapline backrefs`.
 *
 *   graphs SCENARIO [LIB]
 *
 * Builds the graph of SCENARIO, prints one line "ready pid=P target=0x.. ..."
 * (the addresses the runner asserts), then waits to be killed. Pointers to the
 * graph are kept only where the scenario says: helpers are noinline and the
 * stack is scrubbed before waiting, so no stale copy becomes a root.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

void *g_holder;                                       /* a global of the executable */
static void *volatile s_holder __attribute__((used)); /* a static global */
void **g_chain;                                       /* the root of a heap chain */
void *g_interior;                                     /* points 40 bytes into its target */
static void *s_keep[4]; /* scenario-private pointers, printed then cleared */

NOINLINE void *alloc_target(size_t n)
{
    return calloc(1, n);
}

NOINLINE void **alloc_link_a(void)
{
    return calloc(1, 64);
}

NOINLINE void **alloc_link_b(void)
{
    return calloc(1, 48);
}

NOINLINE void **alloc_link_c(void)
{
    return calloc(1, 96);
}

/* Clears the dead frames below the caller (the allocator hooks' frames hold
 * the last addresses they handled). */
NOINLINE static void scrub(void)
{
    char junk[512 * 1024];

    explicit_bzero(junk, sizeof(junk));
}

static void ready(void)
{
    printf("ready pid=%d", (int)getpid());
    for (int i = 0; i < 4; i++)
        printf(" p%d=%p", i, s_keep[i]);
    printf("\n");
    fflush(stdout);
    memset(s_keep, 0, sizeof(s_keep));
}

static volatile int stop;

static void *thread_holder(void *arg)
{
    void *volatile mine = alloc_target(72); /* held by this stack only */

    (void)arg;
    s_keep[0] = mine;
    scrub();
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (;;)
        pause();
    return (void *)mine;
}

/* Allocates into a volatile local and ends: once joined, its stack stays
 * mapped in glibc's cache of stacks, the pointer still in its frame. */
static void *thread_exits(void *arg)
{
    void *volatile mine = alloc_target(56);

    (void)arg;
    s_keep[0] = mine;
    return NULL;
}

/* Allocates into a volatile local depth frames down and returns: the
 * pointer stays in dead frames below the caller's stack pointer (nothing
 * overwrites them: the caller then only blocks in read(), a shallow call). */
NOINLINE static void bury(int depth)
{
    volatile char pad[256];
    void *volatile local;

    pad[0] = (char)depth;
    if (depth > 0) {
        bury(depth - 1);
    } else {
        local = alloc_target(88);
        s_keep[0] = local;
    }
    (void)pad[0];
}

static int block_fd[2] = {-1, -1};

static void *thread_deadframe(void *arg)
{
    char c;

    (void)arg;
    bury(32);
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (;;)
        if (read(block_fd[0], &c, 1) <= 0)
            pause(); /* never written, never closed: read() blocks */
    return NULL;
}

static ucontext_t fiber_caller, fiber_ctx;

/* A fiber (ucontext, as coroutine libraries switch stacks) that allocates
 * into a local and switches back: only its suspended stack holds the block. */
static void fiber_body(void)
{
    void *volatile mine = alloc_target(40);

    s_keep[0] = mine;
    swapcontext(&fiber_ctx, &fiber_caller);
}

static void *thread_churn(void *arg)
{
    void *ring[256] = {0};
    unsigned i = (unsigned)(uintptr_t)arg;

    for (;;) {
        free(ring[i % 256]);
        /* one in 16 above the mmap threshold: freed blocks are unmapped at
         * once, before the collector's table catches up */
        ring[i % 256] = malloc(i % 16 ? 16 + (i * 7919) % 2000 : 256 * 1024);
        i++;
    }
    return NULL;
}

NOINLINE static int build(const char *scenario, const char *lib)
{
    if (!strcmp(scenario, "global")) {
        g_holder = alloc_target(100);
        s_keep[0] = g_holder;
    } else if (!strcmp(scenario, "static")) {
        s_holder = alloc_target(200);
        s_keep[0] = s_holder;
    } else if (!strcmp(scenario, "dlopen")) {
        void *h = dlopen(lib, RTLD_NOW);
        void (*hold)(void *);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        *(void **)&hold = dlsym(h, "brlib_hold");
        s_keep[0] = alloc_target(300);
        hold(s_keep[0]);
    } else if (!strcmp(scenario, "stack")) {
        pthread_t t;
        pthread_create(&t, NULL, thread_holder, NULL);
        while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
            usleep(1000);
    } else if (!strcmp(scenario, "exited")) {
        /* only the stack of a thread that has ended points at the target */
        pthread_t t;
        pthread_create(&t, NULL, thread_exits, NULL);
        pthread_join(t, NULL);
    } else if (!strcmp(scenario, "deadframe")) {
        /* only dead frames of a thread blocked in read() point at the target */
        pthread_t t;
        if (pipe(block_fd))
            return 1;
        pthread_create(&t, NULL, thread_deadframe, NULL);
        while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
            usleep(1000);
    } else if (!strcmp(scenario, "chain") || !strcmp(scenario, "threads")) {
        /* g_chain -> c (+24) -> b (+8) -> a (+16) -> target */
        void *t = alloc_target(128);
        void **a = alloc_link_a(), **b = alloc_link_b(), **c = alloc_link_c();
        a[2] = t;
        b[1] = a;
        c[3] = b;
        g_chain = c;
        s_keep[0] = t;
        s_keep[1] = a;
        s_keep[2] = b;
        s_keep[3] = c;
        if (!strcmp(scenario, "threads"))
            mallopt(M_MMAP_THRESHOLD, 128 * 1024); /* fixed: 256 KiB blocks stay mmap()ed */
        if (!strcmp(scenario, "threads"))
            for (int i = 0; i < 4; i++) {
                pthread_t th;
                pthread_create(&th, NULL, thread_churn, (void *)(uintptr_t)(i * 1000));
            }
    } else if (!strcmp(scenario, "interior")) {
        char *t = alloc_target(256);
        g_interior = t + 40;
        s_keep[0] = t;
    } else if (!strcmp(scenario, "cycle")) {
        /* a <-> b, nothing else holds them */
        void **a = alloc_link_a(), **b = alloc_link_b();
        a[0] = b;
        b[5] = a;
        s_keep[0] = a;
        s_keep[1] = b;
    } else if (!strcmp(scenario, "arena")) {
        /* a leaked 24-byte block right before a free 2000-byte chunk: glibc's
         * unsorted bin (in libc's data) points at that chunk's header, which
         * overlaps the leaked block's last word. Still a leak. */
        for (int i = 0; i < 100 && !s_keep[0]; i++) {
            void *a = alloc_target(24), *x = malloc(2000);
            if ((char *)x - (char *)a == 32) {
                s_holder = malloc(24); /* keeps x off the top chunk */
                free(x);
                s_keep[0] = a;
            }
        }
    } else if (!strcmp(scenario, "pool")) {
        /* a pool the program mapped itself (64 KiB, anonymous) holds the only
         * pointer to a 120-byte block, at +4112: valgrind's "still
         * reachable", not a leak */
        void **pool = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (pool == MAP_FAILED)
            return 1;
        pool[514] = alloc_target(120);
        s_keep[0] = pool[514];
        s_keep[1] = pool;
    } else if (!strcmp(scenario, "fiber")) {
        /* the fiber's stack: 256 KiB mapped by the program, its lowest page
         * made a guard, as a thread's stack has one */
        size_t size = 256 * 1024;
        char *stk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (stk == MAP_FAILED || mprotect(stk, 4096, PROT_NONE))
            return 1;
        getcontext(&fiber_ctx);
        fiber_ctx.uc_stack.ss_sp = stk + 4096;
        fiber_ctx.uc_stack.ss_size = size - 4096;
        fiber_ctx.uc_link = &fiber_caller;
        makecontext(&fiber_ctx, fiber_body, 0);
        swapcontext(&fiber_caller, &fiber_ctx);
        s_keep[1] = stk + 4096;
    } else if (!strcmp(scenario, "big")) {
        /* LIB is a size in MB: blocks of 16..496 bytes holding random words
         * and a pointer to a random block each (one inbound reference a
         * block on average); a chain of 4 blocks from g_chain to p0 */
        size_t want = (size_t)atol(lib) << 20, total = 0, n = 0, cap = want / 16 + 16;
        uint64_t x = 88172645463325252ull;
        void ***all = malloc(cap * sizeof(*all));
        while (total < want && n < cap) {
            size_t sz;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            sz = 16 + (x % 31) * 16;
            all[n++] = malloc(sz);
            total += sz;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t *w = (uint64_t *)all[i];
            size_t words = malloc_usable_size(w) / 8;
            for (size_t k = 2; k < words && k < 62; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                w[k] = x & 0xffffffffffffull;
            }
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            w[0] = (uint64_t)(uintptr_t)all[x % n];
            w[1] = 0;
        }
        {
            void **chain[5];
            for (int k = 0; k < 5; k++) {
                size_t j = n / 5 * k;
                while (malloc_usable_size(all[j]) < 32)
                    j++;
                chain[k] = all[j];
            }
            for (int k = 1; k < 5; k++)
                chain[k][2] = chain[k - 1];
            g_chain = chain[4];
            s_keep[0] = chain[0];
        }
        free(all);
        printf("big: %zu blocks, %zu MB\n", n, total >> 20);
    } else {
        fprintf(stderr, "unknown scenario %s\n", scenario);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || build(argv[1], argc > 2 ? argv[2] : ""))
        return 2;
    ready();
    scrub();
    for (;;)
        pause();
}
