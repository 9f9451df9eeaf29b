/*
 * test_heapwalk.c - glibc's heap walked read-only: a synthetic image
 * (heapimage.h) gives exactly its four blocks and its counts, and each
 * corruption one reason, not a crash; this process's own heap, after main
 * and thread arenas, frees into bins, fastbins and tcaches, mmapped and
 * memalign'd blocks, gives exactly the blocks this test holds plus those
 * that were there before it started, each with malloc_usable_size().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapimage.h"
#include "heapwalk.h"

#define MAX_SEEN 200000

struct seen {
    uint64_t addr[MAX_SEEN], usable[MAX_SEEN];
    size_t n;
};

static struct seen before, after;

static void note(void *arg, uint64_t addr, uint64_t usable)
{
    struct seen *s = arg;

    if (s->n < MAX_SEEN) {
        s->addr[s->n] = addr;
        s->usable[s->n] = usable;
    }
    s->n++;
}

static long find(const struct seen *s, uint64_t addr)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->addr[i] == addr)
            return (long)i;
    return -1;
}

static struct heapimage im;

static int cmp_seen(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;

    return *x < *y ? -1 : *x > *y;
}

/* s's blocks by address (the walk goes heap by heap) */
static void sort_seen(struct seen *s)
{
    static uint64_t pairs[MAX_SEEN][2];

    for (size_t i = 0; i < s->n; i++) {
        pairs[i][0] = s->addr[i];
        pairs[i][1] = s->usable[i];
    }
    qsort(pairs, s->n, sizeof(pairs[0]), cmp_seen);
    for (size_t i = 0; i < s->n; i++) {
        s->addr[i] = pairs[i][0];
        s->usable[i] = pairs[i][1];
    }
}

static int walk_image(struct seen *s, struct heapwalk_stats *st, const char **why)
{
    struct heapwalk_map maps[4];
    size_t n = heapimage_maps(&im, maps);

    s->n = 0;
    *why = NULL;
    return heapwalk_image(maps, n, note, s, st, why);
}

static void test_image(void **state)
{
    struct heapwalk_stats st;
    const char *why;
    static const uint64_t want[][2] = {{HI_BRK + 0x2a0, 0x28},
                                       {HI_BRK + 0x350, 0xf8},
                                       {HI_HEAP + 0xb70, 0x28},
                                       {HI_MMAP + 0x10, 0x1ff0}};

    heapimage_build(&im);
    assert_int_equal(walk_image(&after, &st, &why), 0);
    assert_int_equal(after.n, 4);
    sort_seen(&after);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(after.addr[i], want[i][0]);
        assert_int_equal(after.usable[i], want[i][1]);
    }
    assert_int_equal(st.arenas, 2);
    assert_int_equal(st.heaps, 1);
    assert_int_equal(st.in_use, 4);
    assert_int_equal(st.in_use_bytes, 0x28 + 0xf8 + 0x28 + 0x1ff0);
    assert_int_equal(st.mmapped, 1);
    assert_int_equal(st.free_chunks, 1);
    assert_int_equal(st.fastbin, 1);
    assert_int_equal(st.tcache, 1);
    assert_int_equal(st.tcaches, 2);
    assert_int_equal(st.locked, 0);
}

static void expect_reason(int want_rc, const char *want_why)
{
    struct heapwalk_stats st;
    const char *why;

    assert_int_equal(walk_image(&after, &st, &why), want_rc);
    assert_non_null(why);
    assert_string_equal(why, want_why);
}

/* The walk goes on without what did not add up: n blocks, the first reason. */
static void expect_left_out(const char *want_why, size_t n)
{
    struct heapwalk_stats st;
    const char *why;

    assert_int_equal(walk_image(&after, &st, &why), 0);
    assert_true(st.partial >= 1);
    assert_non_null(why);
    assert_string_equal(why, want_why);
    assert_int_equal(after.n, n);
}

static void test_image_broken(void **state)
{
    (void)state;
    heapimage_build(&im); /* c5's size runs past [heap]: the [heap] left out */
    hi_put(im.brk, HI_BRK, HI_BRK + 0x348, 0x10001);
    expect_left_out("heapwalk: a chunk's size leaves its heap", 2);

    heapimage_build(&im); /* a fastbin chunk that is its own next: its arena left out */
    hi_put(im.brk, HI_BRK, HI_BRK + 0x330, ((HI_BRK + 0x330) >> 12) ^ (HI_BRK + 0x320));
    expect_left_out("heapwalk: a fastbin list does not add up", 2);

    heapimage_build(&im); /* a fastbin pointing outside every range */
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x10, 0x1000);
    expect_left_out("heapwalk: a fastbin list does not add up", 2);

    heapimage_build(&im); /* the ring names an arena that no heap mapping holds */
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x870, HI_LIBC + 0x1000);
    expect_left_out("heapwalk: the ring of arenas does not match the heap mappings", 4);

    heapimage_build(&im); /* the thread heap's block says it is the main arena's */
    hi_put(im.heap, HI_HEAP, HI_HEAP + 0xb68, 0x31);
    expect_left_out("heapwalk: a chunk in use names the wrong arena", 3);

    heapimage_build(&im); /* a top inside a block that does not reach the heap's end */
    hi_put(im.heap, HI_HEAP, HI_TARENA + 0x60, HI_HEAP + 0xb80);
    expect_left_out("heapwalk: the chunks do not end at the top chunk", 3);

    heapimage_build(&im); /* main_arena's top split after [heap]'s page was copied: the old
                           * top reaches the end, the new one is inside it */
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x60, HI_BRK + 0x440 + 0x100);
    assert_int_equal(walk_image(&after, &(struct heapwalk_stats){0}, &(const char *){NULL}), 0);
    assert_int_equal(after.n, 4);

    heapimage_build(&im); /* ... and then found through the ring: the top matches no word */
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x60, HI_BRK + 0x440 + 0x100);
    hi_put(im.libc, HI_LIBC, HI_LIBC + 0x800, HI_BRK + 0x440); /* a decoy of the old top */
    assert_int_equal(walk_image(&after, &(struct heapwalk_stats){0}, &(const char *){NULL}), 0);
    assert_int_equal(after.n, 4);

    heapimage_build(&im); /* no main_arena in libc's data */
    memset(im.libc, 0, sizeof(im.libc));
    expect_reason(HEAPWALK_ENOHEAP, "heapwalk: no glibc main arena found");
}

/* ---- this process ---- */

#define N_MAIN 6000
#define N_THREAD 400
#define N_THREADS 4

static void *held[N_MAIN + N_THREADS * N_THREAD];
static size_t n_held;
static void *gone[N_MAIN + N_THREADS * N_THREAD];
static size_t n_gone;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *thread_main(void *arg)
{
    long id = (long)(intptr_t)arg;
    void *p[N_THREAD];

    for (int i = 0; i < N_THREAD; i++)
        p[i] = malloc(16 + (size_t)(i * 37 + id) % 900);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < N_THREAD; i++)
        if (i % 2)
            held[n_held++] = p[i];
        else
            gone[n_gone++] = p[i];
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < N_THREAD; i += 2)
        free(p[i]);
    return NULL;
}

static void test_self(void **state)
{
    static void *p[N_MAIN];
    struct heapwalk_stats st;
    const char *why = NULL;
    pthread_t th[N_THREADS];
    size_t base, n = 0, own = 0;

    (void)state;
    before.n = after.n = 0;
#if defined(__SANITIZE_ADDRESS__)
    { /* ASan's allocator, not glibc's: only that the walk ends, whatever it finds */
        int rc = heapwalk_self(NULL, 0, note, &before, &st, &why);
        printf("heapwalk under ASan: %d %s, %llu faults\n", rc, rc ? why : "",
               (unsigned long long)st.faults);
        skip();
    }
#endif
    /* threads first: their arenas, their blocks, the main arena's TLS blocks */
    for (long i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    {
        int rc = heapwalk_self(NULL, 0, note, &before, &st, &why);
        if (rc)
            printf("heapwalk: %s (%llu faults)\n", why, (unsigned long long)st.faults);
        assert_int_equal(rc, 0);
    }
    assert_true(before.n < MAX_SEEN);
    for (size_t i = 0; i < n_held; i++) {
        long k = find(&before, (uint64_t)(uintptr_t)held[i]);
        assert_true(k >= 0);
        assert_int_equal(before.usable[k], malloc_usable_size(held[i]));
    }
    for (size_t i = 0; i < n_gone; i++) { /* unless a later thread got it again */
        int again = 0;
        for (size_t k = 0; k < n_held; k++)
            again |= held[k] == gone[i];
        if (!again)
            assert_int_equal(find(&before, (uint64_t)(uintptr_t)gone[i]), -1);
    }
    assert_true(st.arenas >= 2);

    /* then the main thread alone, no libc call that allocates in between */
    base = n_held;
    srand(7);
    for (int i = 0; i < N_MAIN - 4; i++)
        p[n++] = malloc((size_t)(rand() % 3000));
    p[n++] = malloc(300000);
    p[n++] = memalign(4096, 400000);
    p[n++] = memalign(64, 200000);
    p[n++] = memalign(256, 1000);
    for (size_t i = 0; i < n; i++) /* the last four are held */
        if (i < n - 4 && (i % 3 == 0 || i % 7 == 0))
            free(p[i]);
        else
            held[n_held++] = p[i];
    assert_int_equal(heapwalk_self(NULL, 0, note, &after, &st, &why), 0);
    printf("heapwalk: %zu blocks (%zu before, %zu held), %llu mmapped, %llu free, %llu in "
           "fastbins, %llu in %llu tcaches\n",
           after.n, before.n, n_held - base, (unsigned long long)st.mmapped,
           (unsigned long long)st.free_chunks, (unsigned long long)st.fastbin,
           (unsigned long long)st.tcache, (unsigned long long)st.tcaches);
    assert_true(st.fastbin + st.tcache > 0);
    assert_true(st.mmapped >= 3);
    { /* glibc's own count of its mmapped chunks and their bytes */
        struct mallinfo2 mi = mallinfo2();
        printf("heapwalk: %llu mmapped chunks of %llu bytes; mallinfo2: %zu of %zu\n",
               (unsigned long long)st.mmapped, (unsigned long long)st.mmapped_bytes, mi.hblks,
               mi.hblkhd);
        printf("heapwalk: %llu in fastbins, %llu free chunks + %llu tops; mallinfo2: %zu, %zu\n",
               (unsigned long long)st.fastbin, (unsigned long long)st.free_chunks,
               (unsigned long long)st.arenas, mi.smblks, mi.ordblks);
        assert_int_equal(st.mmapped, mi.hblks);
        assert_int_equal(st.mmapped_bytes, mi.hblkhd);
        assert_int_equal(st.fastbin, mi.smblks);
        assert_int_equal(st.free_chunks + st.arenas, mi.ordblks);
    }
    /* exactly: what was there before, plus what this test holds */
    for (size_t i = base; i < n_held; i++) {
        long k = find(&after, (uint64_t)(uintptr_t)held[i]);
        assert_true(k >= 0);
        assert_int_equal(after.usable[k], malloc_usable_size(held[i]));
        own++;
    }
    for (size_t i = 0; i < before.n; i++)
        assert_true(find(&after, before.addr[i]) >= 0);
    if (after.n != before.n + own) /* what is extra */
        for (size_t i = 0; i < after.n; i++) {
            int known = find(&before, after.addr[i]) >= 0;
            for (size_t k = base; !known && k < n_held; k++)
                known = after.addr[i] == (uint64_t)(uintptr_t)held[k];
            if (!known)
                printf("extra %#llx %llu\n", (unsigned long long)after.addr[i],
                       (unsigned long long)after.usable[i]);
        }
    assert_int_equal(after.n, before.n + own);
    for (size_t i = 0; i < n; i++)
        if (i >= n - 4 || (i % 3 != 0 && i % 7 != 0))
            free(p[i]);
}

/* A writable private mapping whose reads fault (userfaultfd with
 * UFFD_FEATURE_SIGBUS: every page not filled yet raises SIGBUS), at a
 * HEAP_MAX_SIZE-aligned address where the walk looks for a heap_info: the
 * range is dropped, the walk begins again and ends with the same blocks. */
static void test_self_fault(void **state)
{
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_SIGBUS};
    struct uffdio_register reg;
    struct heapwalk_stats st;
    const char *why = NULL;
    char *area, *aligned;
    size_t n_clean;
    int uffd;

    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0) {
        printf("heapwalk: no userfaultfd here (%s): not tested\n", strerror(errno));
        if (uffd >= 0)
            close(uffd);
        skip();
    }
    before.n = 0;
    assert_int_equal(heapwalk_self(NULL, 0, note, &before, &st, &why), 0);
    assert_int_equal(st.faults, 0);
    n_clean = before.n;
    area = mmap(NULL, 3u << 26, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(area != MAP_FAILED);
    aligned = (char *)(((uintptr_t)area + (1u << 26) - 1) & ~(uintptr_t)((1u << 26) - 1));
    reg.range.start = (uintptr_t)aligned;
    reg.range.len = 1u << 20;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    assert_int_equal(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
    after.n = 0;
    assert_int_equal(heapwalk_self(NULL, 0, note, &after, &st, &why), 0);
    printf("heapwalk: a faulting range at %p: %llu fault(s), %zu blocks as before\n",
           (void *)aligned, (unsigned long long)st.faults, after.n);
    assert_true(st.faults >= 1);
    assert_int_equal(after.n, n_clean);
    munmap(area, 3u << 26);
    close(uffd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_image_broken),
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_self_fault),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
