/*
 * unwind.c - stack capture.
 *
 * The frame-pointer walk trusts a frame only if it lies inside the thread's
 * stack, above the previous one, 16-byte aligned, and its return address
 * lands in an executable mapping; reading *fp is therefore always safe. A chain
 * that ends in libc (which calls main and thread functions and has no frame
 * pointers on most distributions) or at a zero frame pointer is complete; any
 * other break falls back to unw_backtrace for that call. The executable-range
 * table is published as an immutable array; old arrays are never freed, so a
 * reader on any thread can keep using the one it loaded.
 */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

struct range {
    uintptr_t lo, hi;
};

struct exec_table {
    size_t n;
    struct range r[];
};

static struct exec_table *_Atomic exec_tab;
static struct range self_range, libc_range, unw_range;
static unsigned long long exec_adds, exec_subs;
static int unwind_fp;
static atomic_ullong fp_fallback;

struct scan_ctx {
    struct range *out;
    size_t n, cap;
    uintptr_t want; /* find the module containing this address ... */
    struct range found; /* ... and return its executable range */
    unsigned long long adds, subs;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan_ctx *c = arg;

    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (c->out && c->n < c->cap)
            c->out[c->n++] = (struct range){lo, hi};
        if (c->want >= lo && c->want < hi)
            c->found = (struct range){lo, hi};
    }
    return 0;
}

static struct range module_range(const void *addr)
{
    struct scan_ctx c = {0};

    c.want = (uintptr_t)addr;
    dl_iterate_phdr(collect_cb, &c);
    return c.found;
}

static int range_cmp(const struct range *a, const struct range *b)
{
    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

static void build_table(void)
{
    size_t cap = 1024;
    struct exec_table *t;
    struct scan_ctx c = {0};

    for (;;) {
        size_t bytes = sizeof(*t) + cap * sizeof(struct range);

        t = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED)
            return;
        memset(&c, 0, sizeof(c));
        c.out = t->r;
        c.cap = cap;
        dl_iterate_phdr(collect_cb, &c);
        if (c.n < cap)
            break;
        munmap(t, bytes);
        cap *= 4;
    }
    t->n = c.n;
    /* insertion sort: a few hundred ranges at most */
    for (size_t i = 1; i < t->n; i++)
        for (size_t j = i; j > 0 && range_cmp(&t->r[j - 1], &t->r[j]) > 0; j--) {
            struct range tmp = t->r[j];
            t->r[j] = t->r[j - 1];
            t->r[j - 1] = tmp;
        }
    exec_adds = c.adds;
    exec_subs = c.subs;
    atomic_store_explicit(&exec_tab, t, memory_order_release);
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan_ctx *c = arg;

    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    return 1;
}

void unwind_refresh(void)
{
    struct scan_ctx c = {0};

    if (!unwind_fp)
        return;
    dl_iterate_phdr(count_cb, &c);
    if (c.adds != exec_adds || c.subs != exec_subs)
        build_table();
}

int unwind_init(int use_fp)
{
    Dl_info di;

    unwind_fp = use_fp;
    self_range = module_range((const void *)unwind_init);
    unw_range = module_range((const void *)unw_backtrace);
    if (dladdr(dlsym(RTLD_NEXT, "malloc"), &di) && di.dli_fbase) {
        void *libc_start = dlsym(RTLD_DEFAULT, "__libc_start_main");
        libc_range = module_range(libc_start ? libc_start : di.dli_saddr);
    }
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    if (use_fp)
        build_table();
    return 0;
}

static inline int in_range(const struct range *r, uintptr_t a)
{
    return a >= r->lo && a < r->hi;
}

static const struct range *find_exec(const struct exec_table *t, uintptr_t a)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (a < t->r[mid].lo)
            hi = mid;
        else if (a >= t->r[mid].hi)
            lo = mid + 1;
        else
            return &t->r[mid];
    }
    return NULL;
}

/* Returns the frames, or -1 when the chain breaks early. Consecutive return
 * addresses are mostly in one module: the last range found is tried first. */
static __attribute__((noinline)) int walk_fp(uintptr_t *ips, int max, uintptr_t lo, uintptr_t hi)
{
    const struct exec_table *t = atomic_load_explicit(&exec_tab, memory_order_acquire);
    uintptr_t *fp = __builtin_frame_address(0);
    struct range last = {0, 0};
    int n = 0, skipping = 1;

    if (!t)
        return -1;
    while (n < max) {
        uintptr_t f = (uintptr_t)fp;

        if (f < lo || f + 16 > hi || (f & 15))
            return -1;
        uintptr_t next = fp[0], ret = fp[1];
        if (!in_range(&last, ret)) {
            const struct range *r = find_exec(t, ret);

            if (!r)
                return -1;
            last = *r;
        }
        if (skipping && in_range(&self_range, ret)) {
            /* the collector's own frame */
        } else {
            skipping = 0;
            ips[n++] = ret;
        }
        if (next == 0)
            return n;
        if (next <= f || next + 16 > hi || (next & 15)) {
            /* the chain left frame-pointer code: complete if it went through libc */
            return in_range(&libc_range, ret) ? n : -1;
        }
        fp = (uintptr_t *)next;
    }
    return n;
}

static int capture_unw(uintptr_t *ips, int max)
{
    void *buf[CORE_MAX_DEPTH + 16];
    int want = max + 16, n, skip = 0;

    if (want > (int)(sizeof(buf) / sizeof(buf[0])))
        want = (int)(sizeof(buf) / sizeof(buf[0]));
    n = unw_backtrace(buf, want);
    while (skip < n && (in_range(&self_range, (uintptr_t)buf[skip]) ||
                        in_range(&unw_range, (uintptr_t)buf[skip])))
        skip++;
    n -= skip;
    if (n > max)
        n = max;
    for (int i = 0; i < n; i++)
        ips[i] = (uintptr_t)buf[skip + i];
    return n;
}

int unwind_capture(uintptr_t *ips, int max, uint64_t stack_lo, uint64_t stack_hi)
{
    if (unwind_fp && stack_hi) {
        int n = walk_fp(ips, max, (uintptr_t)stack_lo, (uintptr_t)stack_hi);

        if (n >= 0)
            return n;
        atomic_fetch_add_explicit(&fp_fallback, 1, memory_order_relaxed);
    }
    return capture_unw(ips, max);
}

uint64_t unwind_fallbacks(void)
{
    return atomic_load(&fp_fallback);
}
