/*
 * unwtable.c - the table of executable ranges the walks look return
 * addresses up in: per module, its range, whether it keeps frame pointers
 * (ehframe.h) and its unwind rules compiled (cfitab.h).
 *
 * Invariant: a table is built whole in a fresh mapping and published with
 * one release store; it is never changed or freed after, nor are the rule
 * tables it points to (a walk on any thread may still read one). A rebuild
 * (a module loaded or unloaded, or a module's rules asked for) reuses the
 * previous table's verdicts and compiled rules for the modules still at the
 * same place, so each module's rules are compiled once. Only the collector
 * thread builds (unwind_refresh), under refresh_mu, inside dl_iterate_phdr;
 * in sampling mode it compiles the rules after that returned, each module
 * held open meanwhile, so that the loader's lock is not held for the
 * milliseconds a compile takes (unwind_compile_apart()). unwtable_init()
 * and unwtable_start() build on the program's thread once, before tracking
 * starts.
 *
 * Nothing is worked out before a walk needs it: a module's rules are
 * compiled when a walk first finds them missing (unwtable_ask: 3 or 4 of a
 * program's 15-20 modules are ever on its stacks; compiling all 17 of
 * sqlite3's took 5 ms), but for the two every stack ends in (the main
 * program's and libc's, compiled when the collector thread starts), and
 * the frame-pointer survey (ehframe.h, every FDE
 * of a module) is made for every module only when the frame-pointer walk is
 * chosen; else for the main executable alone, which chooses it.
 *
 * fork: glibc 2.36 does not reset dl_iterate_phdr's lock in the child, so
 * no fork may happen while a thread is inside that call: the prepare handler
 * takes refresh_mu (the collector thread's calls) and holds the program's
 * threads out of libunwind's walk (its calls), 2 s at the most each.
 */
#include "unwind.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>

#include "cfitab.h"
#include "ehframe.h"
#include "unwind_int.h"

struct exec_table *_Atomic unwtable_tab;
struct unwtable_stats unwtable_stats;
static unsigned long long exec_adds, exec_subs;
atomic_uintptr_t unwtable_want;
static int refresh_on;  /* a walk uses the table: keep it current */
static int cfi_pending; /* every module's rules are compiled at the next refresh */
static int cfi_tables;  /* compile them: the table walk, or the frame-pointer walk's fallback */
static int survey_all;  /* every module's frame-pointer verdict (the frame-pointer walk) */
static atomic_int compile_stop;  /* unwind_stop_compiles(): the run ends */
static atomic_int compile_apart; /* unwind_compile_apart(): outside the loader's lock */
static int main_fp;
static int fp_threshold;         /* unwtable_init's */
static int built_threshold = -1; /* fp_threshold when the table was built */

#define COMPILE_ALL UINTPTR_MAX

struct scan_ctx {
    struct range *out;
    size_t n, cap;
    const struct exec_table *old; /* flags to reuse */
    uintptr_t want;               /* find the module containing this address ... */
    struct range found;           /* ... and return its executable range */
    unsigned long long adds, subs;
    int first_fp; /* the first module (the main executable) keeps frame pointers */
    int first_seen;
    uintptr_t compile;    /* compile the rules of the module holding this address
                           * (COMPILE_ALL: every module's; 0: none) */
    uintptr_t also[2];    /* and of the modules holding these (0: none) */
    struct pending *pend; /* compiles put off until the loader's lock is let go, or NULL */
};

/* A module whose rules a build wants: compiled after dl_iterate_phdr has
 * returned, with the module held open (dlopen RTLD_NOLOAD), so that the
 * loader's lock, which every walk of libunwind's and every dlopen of the
 * program takes, is not held while they compile (libc's 2-4 ms: sqlite3's
 * first sampled walk waited that long at the collector thread's start). */
#define PENDING_MAX 8
enum { PEND_WAITING, PEND_DONE, PEND_INLINE };
struct pending {
    int noting; /* the first pass: note, compile nothing */
    int n;
    struct {
        struct dl_phdr_info info;
        uintptr_t mlo, mhi;
        struct cfitab *tab; /* PEND_DONE's (NULL: tried, none) */
        int state;
        int main;   /* the program: never unloaded */
        void *held; /* its dlopen() handle, closed by pending_release() */
    } m[PENDING_MAX];
};

static int compile_wanted(const struct scan_ctx *c, uintptr_t mlo, uintptr_t mhi)
{
    if (c->compile == COMPILE_ALL || (c->compile >= mlo && c->compile < mhi))
        return 1;
    for (int i = 0; i < 2; i++)
        if (c->also[i] >= mlo && c->also[i] < mhi)
            return 1;
    return 0;
}

/* The module [mlo, mhi)'s rules: the previous table's, compiled now when c
 * asks for them, or none yet. Sets *flags' RANGE_TRIED when compiled. */
static const struct cfitab *module_rules(struct scan_ctx *c, struct dl_phdr_info *info,
                                         uintptr_t mlo, uintptr_t mhi, int *flags)
{
    const struct range *o = c->old ? find_exec(c->old, mlo) : NULL;
    struct cfitab *t;

    if (o && (o->flags & RANGE_TRIED) &&
        (o->tab ? o->tab->lo == mlo && o->tab->hi == mhi : o->lo == mlo)) {
        *flags |= RANGE_TRIED;
        return o->tab; /* compiled before (a fork child starts with its parent's) */
    }
    if (!compile_wanted(c, mlo, mhi))
        return NULL;
    if (c->pend) {
        struct pending *p = c->pend;
        int i = 0;

        while (i < p->n && (p->m[i].mlo != mlo || p->m[i].mhi != mhi))
            i++;
        if (i < p->n && p->m[i].state == PEND_DONE) {
            *flags |= RANGE_TRIED;
            return p->m[i].tab;
        }
        if (p->noting) { /* the first pass, whose table is not published */
            if (i == p->n && i < PENDING_MAX) {
                p->m[i].info = *info;
                p->m[i].main = !c->first_seen;
                p->m[i].mlo = mlo;
                p->m[i].mhi = mhi;
                p->m[i].state = PEND_WAITING;
                p->n++;
            }
            return NULL; /* no room: compiled on the second pass, here */
        }
        /* PEND_INLINE (it could not be held open), or no room: here, as before */
    }
    t = cfitab_build_until(info, mlo, mhi, &compile_stop);
    if (!t && atomic_load(&compile_stop))
        return NULL; /* given up: the run ends */
    *flags |= RANGE_TRIED;
    if (t) {
        unwtable_stats.bytes += t->map_bytes;
        unwtable_stats.rows += t->n;
        unwtable_stats.modules++;
    }
    return t;
}

/* The frame-pointer verdict of the module whose first executable range is
 * [lo, hi): the previous table's, or surveyed now when wanted (the main
 * executable's always); 0 unasked. Sets *flags' RANGE_SURVEYED when known. */
static int module_fp(struct scan_ctx *c, struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi,
                     int *flags)
{
    const struct range *o = c->old ? find_exec(c->old, lo) : NULL;
    int want = survey_all || !c->first_seen;

    if (o && o->lo == lo && o->hi == hi && ((o->flags & RANGE_SURVEYED) || !want)) {
        *flags |= o->flags & RANGE_SURVEYED;
        return o->fp;
    }
    if (!want)
        return 0;
    *flags |= RANGE_SURVEYED;
    return ehframe_fp_percent(info) >= fp_threshold;
}

static int collect_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan_ctx *c = arg;
    int fp = -1, flags = 0;
    const struct cfitab *tab = NULL;
    struct cfitab_src src = {0};
    uintptr_t mlo = UINTPTR_MAX, mhi = 0;

    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < mlo)
            mlo = lo;
        if (hi > mhi)
            mhi = hi;
    }
    if (c->out && mlo < mhi) {
        tab = module_rules(c, info, mlo, mhi, &flags);
        if (!tab)
            cfitab_src_of(info, &src);
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (c->out && c->n < c->cap) {
            if (fp < 0)
                fp = module_fp(c, info, lo, hi, &flags);
            c->out[c->n++] = (struct range){lo, hi, fp, flags, tab, src};
        }
        if (c->want >= lo && c->want < hi)
            c->found = (struct range){.lo = lo, .hi = hi};
    }
    if (!c->first_seen) {
        c->first_seen = 1;
        c->first_fp = fp > 0;
    }
    return 0;
}

struct range unwtable_module(const void *addr)
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

/* Compiles p's waiting modules, each held open so that it cannot be
 * unloaded meanwhile (the main program and its start-up libraries never
 * are). One that cannot be held (gone, or not dlopen()able: the vDSO) is
 * left to the next pass, inside the lock. */
static void compile_pending(struct pending *p)
{
    for (int i = 0; i < p->n; i++) {
        const char *name = p->m[i].info.dlpi_name;
        struct link_map *lm = NULL;
        void *h = NULL;

        if (p->m[i].state != PEND_WAITING)
            continue;
        p->m[i].state = PEND_INLINE;
        if (!p->m[i].main) {
            h = name && name[0] ? dlopen(name, RTLD_LAZY | RTLD_NOLOAD) : NULL;
            p->m[i].held = h;
            if (!h || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm ||
                lm->l_addr != p->m[i].info.dlpi_addr)
                continue;
        }
        p->m[i].tab = cfitab_build_until(&p->m[i].info, p->m[i].mlo, p->m[i].mhi, &compile_stop);
        if (!p->m[i].tab && atomic_load(&compile_stop))
            continue; /* given up: the run ends */
        p->m[i].state = PEND_DONE;
        if (p->m[i].tab) {
            unwtable_stats.bytes += p->m[i].tab->map_bytes;
            unwtable_stats.rows += p->m[i].tab->n;
            unwtable_stats.modules++;
        }
    }
}

/* Closes the handles compile_pending() held, once refresh_mu is let go: a
 * close that unloads (the program closed the module meanwhile) takes glibc's
 * fork-handler lock, which a fork holds while its prepare handler waits for
 * refresh_mu. */
static void pending_release(struct pending *p)
{
    for (int i = 0; i < p->n; i++)
        if (p->m[i].held)
            dlclose(p->m[i].held);
    p->n = 0;
}

static struct exec_table *build_pass(uintptr_t compile, const uintptr_t also[2],
                                     struct pending *pend, size_t *bytes_out);

/* Builds and publishes a table. The modules it must compile are compiled
 * between two passes over the loaded modules, outside the loader's lock;
 * the first pass's table is dropped. pend: where the modules compiled are
 * held open (pending_release() after), or NULL to compile inside the lock. */
static void build_table(uintptr_t compile, const uintptr_t also[2], struct pending *pend)
{
    struct exec_table *t;
    size_t bytes;

    if (pend)
        pend->noting = 1;
    t = build_pass(compile, also, (compile || also) ? pend : NULL, &bytes);
    if (pend)
        pend->noting = 0;
    if (t && pend && pend->n) {
        compile_pending(pend);
        munmap(t, bytes);
        t = build_pass(compile, also, pend, &bytes);
    }
    if (t)
        atomic_store_explicit(&unwtable_tab, t, memory_order_release);
}

/* One pass: a table of the loaded modules, sorted; rules already compiled
 * reused, the modules wanted compiled here, or noted in pend (not NULL)
 * when waiting there. NULL when out of memory. */
static struct exec_table *build_pass(uintptr_t compile, const uintptr_t also[2],
                                     struct pending *pend, size_t *bytes_out)
{
    size_t cap = 1024, bytes;
    struct exec_table *t;
    struct scan_ctx c = {0};

    for (;;) {
        bytes = sizeof(*t) + cap * sizeof(struct range);
        t = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED)
            return NULL;
        memset(&c, 0, sizeof(c));
        c.pend = pend;
        c.out = t->r;
        c.cap = cap;
        c.old = atomic_load(&unwtable_tab);
        c.compile = compile;
        if (also)
            memcpy(c.also, also, sizeof(c.also));
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
    built_threshold = fp_threshold;
    main_fp = c.first_fp;
    *bytes_out = bytes;
    return t;
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct scan_ctx *c = arg;

    c->adds = info->dlpi_adds;
    c->subs = info->dlpi_subs;
    return 1;
}

/* Held around the collector thread's dl_iterate_phdr calls, and by fork()'s
 * prepare handler. dl_iterate_phdr holds glibc's dl_load_write_lock (while
 * its callback lists the modules and surveys them), which glibc 2.36's
 * fork does not reset in the child: a program that forked then left its
 * child stuck at its first dl_iterate_phdr (libunwind's, or ours), as a
 * pyenv shim's bash did now and then under load (tests/collector's
 * python-wrapper timed out). */
static pthread_mutex_t refresh_mu = PTHREAD_MUTEX_INITIALIZER;

/* the program's threads inside libunwind's walk, and the fork's hold on
 * them (unwind_int.h) */
atomic_int unwtable_inside, unwtable_held;

#define HOLD_NS 2000000000ll /* the longest either side waits */

static int64_t hold_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000ll + t.tv_nsec - t0->tv_nsec;
}

__attribute__((cold)) void unwtable_wait(void)
{
    const struct timespec nap = {0, 50000};
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        atomic_fetch_sub(&unwtable_inside, 1);
        while (atomic_load(&unwtable_held) && hold_since(&t0) < HOLD_NS)
            nanosleep(&nap, NULL);
        atomic_fetch_add(&unwtable_inside, 1);
    } while (atomic_load(&unwtable_held) && hold_since(&t0) < HOLD_NS);
}

/* Returns once no program thread is inside libunwind's walk (or after 2 s),
 * and keeps new walks out until hold_end(). */
static void hold_walks(void)
{
    const struct timespec nap = {0, 50000};
    struct timespec t0;

    atomic_store(&unwtable_held, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&unwtable_inside) > 0 && hold_since(&t0) < HOLD_NS)
        nanosleep(&nap, NULL);
}

static void hold_end(int child)
{
    if (child)
        atomic_store(&unwtable_inside, 0);
    atomic_store(&unwtable_held, 0);
}

void unwind_atfork_prepare(void)
{
    pthread_mutex_lock(&refresh_mu);
    hold_walks();
}

void unwind_atfork_parent(void)
{
    hold_end(0);
    pthread_mutex_unlock(&refresh_mu);
}

void unwind_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    hold_end(1);
    memcpy(&refresh_mu, &fresh, sizeof(fresh));
}

static void refresh(const uintptr_t also[2]);

void unwind_refresh(void)
{
    refresh(NULL);
}

/* The modules every stack ends in: the main program's (its entry point,
 * _start) and libc's (__libc_start_call_main). A walk needs one module's
 * rules at a time and asks for the next only once it gets there: python3's
 * first stacks waited on three compiles in turn (libpython, libc, python3's
 * _start), some 20 ms, and 8,000 to 20,000 of them went to libunwind (3,500
 * instructions each) meanwhile. */
void unwind_serve_start(void)
{
    const uintptr_t outer[2] = {(uintptr_t)getauxval(AT_ENTRY), (uintptr_t)getauxval};

    if (refresh_on && cfi_tables && !survey_all)
        refresh(outer);
}

static void refresh(const uintptr_t also[2])
{
    struct pending pend = {0};
    struct scan_ctx c = {0};
    uintptr_t compile;

    if (!refresh_on)
        return;
    pthread_mutex_lock(&refresh_mu);
    dl_iterate_phdr(count_cb, &c);
    compile = cfi_pending ? COMPILE_ALL : cfi_tables ? atomic_exchange(&unwtable_want, 0) : 0;
    if (compile && compile != COMPILE_ALL && c.adds == exec_adds && c.subs == exec_subs) {
        const struct exec_table *t = atomic_load_explicit(&unwtable_tab, memory_order_relaxed);

        if (t && !find_exec(t, compile))
            compile = 0; /* code in no module (JIT): no rebuild for nothing */
    }
    if (also && c.adds == exec_adds && c.subs == exec_subs) {
        const struct exec_table *t = atomic_load_explicit(&unwtable_tab, memory_order_relaxed);
        const struct range *a = t ? find_exec(t, also[0]) : NULL,
                           *b = t ? find_exec(t, also[1]) : NULL;

        /* compiled in an earlier run (heapline attach again): no table for nothing */
        if (a && b && (a->flags & RANGE_TRIED) && (b->flags & RANGE_TRIED))
            also = NULL;
    }
    if (compile || also || c.adds != exec_adds || c.subs != exec_subs) {
        struct timespec a, b;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        build_table(compile, also, atomic_load(&compile_apart) ? &pend : NULL);
        cfi_pending = 0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        if (compile || also)
            unwtable_stats.build_ns += (b.tv_sec - a.tv_sec) * 1000000000ll + b.tv_nsec - a.tv_nsec;
    }
    pthread_mutex_unlock(&refresh_mu);
    pending_release(&pend);
}

void unwind_compile_apart(int on)
{
    atomic_store(&compile_apart, on);
}

void unwind_serve(void)
{
    if (atomic_load_explicit(&unwtable_want, memory_order_relaxed))
        unwind_refresh();
}

void unwind_stop_compiles(void)
{
    atomic_store(&compile_stop, 1);
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg);

/* Whether the published table is what a build would make now: no module
 * loaded or unloaded since, built with this threshold. A table is never
 * freed, so heapline attach again on an unchanged program keeps its own
 * (building two each run left 128 KB behind at every attach). */
static int table_current(void)
{
    struct scan_ctx c = {0};

    if (!atomic_load(&unwtable_tab) || built_threshold != fp_threshold)
        return 0;
    dl_iterate_phdr(count_cb, &c);
    return c.adds == exec_adds && c.subs == exec_subs;
}

int unwtable_init(int threshold, int *main_fp_out)
{
    fp_threshold = threshold;
    atomic_store(&compile_stop, 0); /* a new run (heapline attach again) */
    if (!table_current())
        build_table(0, NULL, NULL);
    if (!atomic_load(&unwtable_tab))
        return -1;
    *main_fp_out = main_fp;
    return 0;
}

void unwtable_start(int survey, int rules)
{
    refresh_on = 1;
    cfi_tables = rules;
    if (survey && !(survey_all && table_current())) {
        survey_all = 1;
        build_table(0, NULL, NULL);
    }
}

void unwtable_compile_all(void)
{
    cfi_pending = cfi_tables;
    unwind_refresh();
}
