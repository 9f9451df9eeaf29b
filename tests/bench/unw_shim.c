/*
 * unw_shim.c - the floor of the benchmark: an LD_PRELOAD library that only
 * captures the stack of every malloc-family call and throws it away.
 *
 * UNW_SHIM=libunwind (default): unw_backtrace() into a local array of 64.
 * UNW_SHIM=fp: a frame-pointer walk bounded by the thread's stack.
 * It records nothing, so "heapline / shim" is what the collector costs on top
 * of the unwinding it cannot avoid (the targets are relative to it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int use_fp;
static __thread int in_hook __attribute__((tls_model("initial-exec")));
static __thread uintptr_t stack_lo, stack_hi __attribute__((tls_model("initial-exec")));
void *volatile unw_shim_sink;

/* dlsym's own calloc before the real one is known */
static char boot[4096];
static size_t boot_used;
static int initializing;

static void shim_init(void)
{
    if (real_malloc || initializing)
        return;
    initializing = 1;
    in_hook = 1;
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_free = dlsym(RTLD_NEXT, "free");
    const char *m = getenv("UNW_SHIM");
    use_fp = m && !strcmp(m, "fp");
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    in_hook = 0;
}

__attribute__((noinline)) static void capture(void)
{
    void *ips[64];
    int n = 0;
    if (use_fp) {
        if (!stack_hi) {
            pthread_attr_t a;
            void *lo;
            size_t sz;
            if (pthread_getattr_np(pthread_self(), &a) == 0) {
                pthread_attr_getstack(&a, &lo, &sz);
                pthread_attr_destroy(&a);
                stack_lo = (uintptr_t)lo;
                stack_hi = (uintptr_t)lo + sz;
            }
        }
        uintptr_t *fp = __builtin_frame_address(0);
        while (n < 64 && (uintptr_t)fp >= stack_lo && (uintptr_t)fp + 16 <= stack_hi &&
               ((uintptr_t)fp & 7) == 0) {
            ips[n++] = (void *)fp[1];
            uintptr_t *next = (uintptr_t *)fp[0];
            if (next <= fp)
                break;
            fp = next;
        }
    } else {
        n = unw_backtrace(ips, 64);
    }
    if (n > 0)
        unw_shim_sink = ips[n - 1];
}

void *malloc(size_t n)
{
    shim_init();
    if (in_hook)
        return real_malloc(n);
    in_hook = 1;
    capture();
    in_hook = 0;
    return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
    shim_init();
    if (!real_calloc) {
        /* dlsym in progress */
        size_t sz = (k * n + 15) & ~(size_t)15;
        if (boot_used + sz > sizeof(boot))
            return NULL;
        void *p = boot + boot_used;
        boot_used += sz;
        return p;
    }
    if (in_hook)
        return real_calloc(k, n);
    in_hook = 1;
    capture();
    in_hook = 0;
    return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
    shim_init();
    if (in_hook)
        return real_realloc(p, n);
    in_hook = 1;
    capture();
    in_hook = 0;
    return real_realloc(p, n);
}

void free(void *p)
{
    if ((char *)p >= boot && (char *)p < boot + sizeof(boot))
        return;
    shim_init();
    real_free(p);
}
