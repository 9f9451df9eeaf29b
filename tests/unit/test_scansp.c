/*
 * test_scansp.c - stack pointers of blocked threads: a thread blocked in
 * read() has its stack cut just below its sp (its live frames kept); a
 * running thread, the calling thread and a thread that ran between the two
 * reads (even back in the same read() at the same sp) keep their whole stack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "scansp.h"

struct worker {
    pthread_t th;
    int fds[2];
    int spin; /* spin instead of blocking */
    _Atomic int tid;
    _Atomic int reads;      /* bytes read so far */
    _Atomic uint64_t frame; /* an address in the worker's live frame */
    _Atomic int stop;
    uint64_t lo, hi;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    volatile char c = 0;
    pthread_attr_t attr;
    void *addr;
    size_t size;

    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    w->lo = (uint64_t)(uintptr_t)addr;
    w->hi = w->lo + size;
    atomic_store(&w->frame, (uint64_t)(uintptr_t)&c);
    atomic_store(&w->tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&w->stop)) {
        char b;
        if (w->spin)
            continue;
        if (read(w->fds[0], &b, 1) == 1)
            atomic_fetch_add(&w->reads, 1);
        else
            break;
    }
    return NULL;
}

/* 1 when the thread shows in a system call in /proc (off the CPU) */
static int blocked(int tid)
{
    char path[64], buf[256];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    ok = fgets(buf, sizeof(buf), f) && strncmp(buf, "running", 7) != 0;
    fclose(f);
    return ok;
}

static void wait_until(int (*cond)(struct worker *), struct worker *w)
{
    struct timespec ms = {0, 1000000};

    for (int i = 0; i < 5000 && !cond(w); i++)
        nanosleep(&ms, NULL);
    assert_true(cond(w));
}

static int started(struct worker *w)
{
    return atomic_load(&w->tid) != 0;
}

static int is_blocked(struct worker *w)
{
    return blocked(atomic_load(&w->tid));
}

static void start(struct worker *w, int spin)
{
    memset(w, 0, sizeof(*w));
    w->spin = spin;
    assert_int_equal(pipe(w->fds), 0);
    assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
    wait_until(started, w);
    if (!spin)
        wait_until(is_blocked, w);
}

static void finish(struct worker *w)
{
    atomic_store(&w->stop, 1);
    close(w->fds[1]);
    pthread_join(w->th, NULL);
    close(w->fds[0]);
}

static struct scan_range range_of(const struct worker *w, uint32_t id)
{
    struct scan_range r = {w->lo, w->hi, id, atomic_load(&w->tid)};

    return r;
}

static struct scanbfs_root root_of(const struct scan_range *r)
{
    struct scanbfs_root root = {r->lo, r->hi, SCANBFS_STACK, r->thread_id, 0};

    return root;
}

static void test_blocked_and_running(void **state)
{
    struct worker a, b;
    struct scan_range ranges[3];
    struct scanbfs_root roots[4];
    struct scansp s;
    pthread_attr_t attr;
    void *addr;
    size_t size;

    (void)state;
    start(&a, 0);
    start(&b, 1);
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    ranges[0] = range_of(&a, 2);
    ranges[1] = range_of(&b, 3);
    ranges[2] = (struct scan_range){(uint64_t)(uintptr_t)addr, (uint64_t)(uintptr_t)addr + size, 1,
                                    (pid_t)syscall(SYS_gettid)};
    /* a global segment first: stacks come after, in the ranges' order */
    roots[0] = (struct scanbfs_root){4096, 8192, SCANBFS_GLOBAL, 0, 0};
    for (int i = 0; i < 3; i++)
        roots[i + 1] = root_of(&ranges[i]);

    scansp_begin(&s, ranges, 3);
    scansp_settle(&s);
    assert_int_equal(scansp_apply(&s, roots, 4, 1000), 1);
    assert_int_equal(roots[0].lo, 4096);
    /* the blocked thread: cut below its sp, its live frame kept */
    assert_true(roots[1].lo > a.lo);
    assert_true(roots[1].lo <= atomic_load(&a.frame));
    assert_true(atomic_load(&a.frame) - roots[1].lo < 4096);
    assert_int_equal(roots[1].lo % 8, 0);
    assert_int_equal(scansp_cut(&s, 2), 1);
    /* the running one and the caller: whole */
    assert_int_equal(roots[2].lo, b.lo);
    assert_int_equal(scansp_cut(&s, 3), 0);
    assert_int_equal(roots[3].lo, (uint64_t)(uintptr_t)addr);
    assert_int_equal(scansp_cut(&s, 1), 0);
    scansp_free(&s);
    finish(&a);
    finish(&b);
}

static int read_one(struct worker *w)
{
    return atomic_load(&w->reads) == 1 && blocked(atomic_load(&w->tid));
}

/* The thread wakes between the reads, runs, and blocks again in the same
 * read() at the same sp: the switch counts moved, so no cut. */
static void test_ran_in_between(void **state)
{
    struct worker a;
    struct scan_range range;
    struct scanbfs_root root;
    struct scansp s;

    (void)state;
    start(&a, 0);
    range = range_of(&a, 2);
    root = root_of(&range);
    scansp_begin(&s, &range, 1);
    assert_int_equal(write(a.fds[1], "x", 1), 1);
    wait_until(read_one, &a);
    scansp_settle(&s);
    assert_int_equal(scansp_apply(&s, &root, 1, 1000), 0);
    assert_int_equal(root.lo, a.lo);
    assert_int_equal(scansp_cut(&s, 2), 0);
    scansp_free(&s);

    /* blocked throughout this time: cut */
    root = root_of(&range);
    scansp_begin(&s, &range, 1);
    scansp_settle(&s);
    assert_int_equal(scansp_apply(&s, &root, 1, 1000), 1);
    scansp_free(&s);
    finish(&a);
}

/* No verdict (settle not called yet): the child gives up after its timeout
 * and keeps every stack whole. */
static void test_no_verdict(void **state)
{
    struct worker a;
    struct scan_range range;
    struct scanbfs_root root;
    struct scansp s;

    (void)state;
    start(&a, 0);
    range = range_of(&a, 2);
    root = root_of(&range);
    scansp_begin(&s, &range, 1);
    assert_int_equal(scansp_apply(&s, &root, 1, 20), 0);
    assert_int_equal(root.lo, a.lo);
    assert_int_equal(scansp_cut(&s, 2), 0);
    scansp_settle(&s);
    scansp_free(&s);
    finish(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_and_running),
        cmocka_unit_test(test_ran_in_between),
        cmocka_unit_test(test_no_verdict),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
