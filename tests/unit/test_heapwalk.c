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
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapimage.h"
#include "heaptls.h"
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

static const struct heapwalk_tls *image_tls; /* NULL: tcaches by shape */
static struct heapwalk_tls the_image_tls;

static int walk_image(struct seen *s, struct heapwalk_stats *st, const char **why)
{
    struct heapwalk_map maps[4];
    size_t n = heapimage_maps(&im, maps);

    s->n = 0;
    *why = NULL;
    return heapwalk_image(maps, n, image_tls, note, s, st, why);
}

/* this process's threads' tcaches (NULL: by shape, and why) */
static const struct heapwalk_tls *tls;
static const char *tls_why;

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
    assert_int_equal(st.tcache_how, HEAPWALK_TCACHE_SHAPE);
    assert_int_equal(st.locked, 0);

    /* the same with the threads' TLS: the same blocks, both tcaches named */
    the_image_tls = heapimage_tls(&im);
    image_tls = &the_image_tls;
    assert_int_equal(walk_image(&after, &st, &why), 0);
    image_tls = NULL;
    sort_seen(&after);
    assert_int_equal(after.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(after.addr[i], want[i][0]);
    assert_int_equal(st.tcache_how, HEAPWALK_TCACHE_TLS);
    assert_int_equal(st.threads, 2);
    assert_int_equal(st.tcaches, 2);
    assert_int_equal(st.tcache, 1);
    assert_int_equal(st.partial, 0);
}

/* A thread's empty tcache in the middle of [heap] (it shares main_arena):
 * by shape a block of zeros, by its TLS a tcache. */
static void test_image_empty_tcache(void **state)
{
    struct heapwalk_stats st;
    const char *why;
    const uint64_t b = HI_BRK, t = HI_BRK + 0x440;

    (void)state;
    heapimage_build(&im);
    the_image_tls = heapimage_tls(&im);
    hi_put(im.brk, HI_BRK, t + 0x8, 0x291);                                /* the tcache */
    hi_put(im.brk, HI_BRK, t + 0x290 + 0x8, (0x2000 - 0x440 - 0x290) | 1); /* top after it */
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x60, t + 0x290);
    hi_thread(&im, HI_USED, HI_LIBC + 0x1c00, t + 0x10);
    assert_int_equal(walk_image(&after, &st, &why), 0);
    assert_int_equal(after.n, 5); /* by shape: taken for a block */
    assert_true(find(&after, t + 0x10) >= 0);
    assert_int_equal(st.tcaches, 2);
    image_tls = &the_image_tls;
    assert_int_equal(walk_image(&after, &st, &why), 0);
    assert_int_equal(after.n, 4);
    assert_int_equal(find(&after, t + 0x10), -1);
    assert_int_equal(st.tcaches, 3);
    assert_int_equal(st.threads, 3);
    assert_int_equal(st.partial, 0);
    /* a tcache of 0x2a0 (a free chunk 16 bytes larger taken whole) */
    hi_put(im.brk, HI_BRK, t + 0x8, 0x2a1);
    hi_put(im.brk, HI_BRK, t + 0x2a0 + 0x8, (0x2000 - 0x440 - 0x2a0) | 1);
    hi_put(im.libc, HI_LIBC, HI_MAIN + 0x60, t + 0x2a0);
    assert_int_equal(walk_image(&after, &st, &why), 0);
    assert_int_equal(after.n, 4);
    assert_int_equal(st.tcaches, 3);
    assert_int_equal(st.partial, 0);
    image_tls = NULL;
    (void)b;
}

/* With the TLS: a torn tcache or list of threads makes the walk partial. */
static void expect_torn(const char *want_why, size_t n)
{
    struct heapwalk_stats st;
    const char *why;

    image_tls = &the_image_tls;
    assert_int_equal(walk_image(&after, &st, &why), 0);
    image_tls = NULL;
    assert_int_equal(st.torn, 1);
    assert_int_equal(st.partial, 1);
    assert_non_null(why);
    assert_string_equal(why, want_why);
    assert_int_equal(after.n, n);
}

static void test_image_torn(void **state)
{
    static const char counts[] =
        "heapwalk: a tcache's counts do not match its lists (a thread was changing it)";

    (void)state;
    heapimage_build(&im); /* counts[0] = 2, one chunk on the list (a put half done) */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.brk, HI_BRK, HI_BRK + 0x10, 2);
    expect_torn(counts, 4);

    heapimage_build(&im); /* the list's chunk is its own next: a loop */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.brk, HI_BRK, HI_BRK + 0x310, ((HI_BRK + 0x310) >> 12) ^ (HI_BRK + 0x310));
    expect_torn(counts, 4);

    heapimage_build(&im); /* an entry that leaves the heap */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.brk, HI_BRK, HI_BRK + 0x90, HI_BRK + 0x5000);
    expect_torn(counts, 5);

    heapimage_build(&im); /* counts 0 with an entry (a get half done): its chunk is yielded */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.brk, HI_BRK, HI_BRK + 0x10, 0);
    expect_torn(counts, 5);

    heapimage_build(&im); /* a thread's tcache pointer into no chunk of a tcache's size */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.libc, HI_LIBC, HI_PD_THREAD + HI_TCACHE_OFF, HI_BRK + 0x2a0);
    expect_torn("heapwalk: a thread's tcache is not a tcache's chunk", 5);

    heapimage_build(&im); /* the list of threads loops without coming back to its head */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.libc, HI_LIBC, HI_PD_THREAD + HI_LIST_OFF, HI_PD_THREAD + HI_LIST_OFF);
    expect_torn("heapwalk: a list of threads does not add up", 5);

    heapimage_build(&im); /* ... or leaves every range */
    the_image_tls = heapimage_tls(&im);
    hi_put(im.libc, HI_LIBC, HI_PD_THREAD + HI_LIST_OFF, 0x1000);
    expect_torn("heapwalk: a list of threads does not add up", 5);
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
        int rc = heapwalk_self(NULL, 0, tls, note, &before, &st, &why);
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
        int rc = heapwalk_self(NULL, 0, tls, note, &before, &st, &why);
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
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &after, &st, &why), 0);
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
    if (tls) { /* the threads joined: the main thread's tcache alone */
        assert_int_equal(st.tcache_how, HEAPWALK_TCACHE_TLS);
        assert_int_equal(st.threads, 1);
        assert_int_equal(st.tcaches, 1);
    }
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
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &before, &st, &why), 0);
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
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &after, &st, &why), 0);
    printf("heapwalk: a faulting range at %p: %llu fault(s), %zu blocks as before\n",
           (void *)aligned, (unsigned long long)st.faults, after.n);
    assert_true(st.faults >= 1);
    assert_int_equal(after.n, n_clean);
    munmap(area, 3u << 26);
    close(uffd);
}

/* A reader's copy of libc (elfutils maps the file writable and private, from
 * its start) right below a thread heap: neither is libc's data and bss, the
 * heap's arena is found (it was not: the anonymous map after a libc mapping
 * was taken for its bss, the heap missed, the ring did not match). */
static void test_self_libc_copy(void **state)
{
    struct heapwalk_stats st0, st;
    const char *why = NULL;
    char line[512], libc[256] = "";
    uint64_t heap = 0, prev_hi = 0;
    size_t len = 1u << 20;
    FILE *f = fopen("/proc/self/maps", "r");
    void *copy;
    int fd;

    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[8], path[256] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms, path) < 3)
            continue;
        if (!libc[0] && strstr(path, "/libc.so"))
            snprintf(libc, sizeof(libc), "%s", path);
        if (!heap && !path[0] && strcmp(perms, "rw-p") == 0 && (lo & ((1ul << 26) - 1)) == 0 &&
            lo - prev_hi >= len)
            heap = lo; /* a thread heap with room below it */
        prev_hi = hi;
    }
    fclose(f);
    if (!heap || !libc[0]) {
        printf("heapwalk: no thread heap with room below, or no libc: not tested\n");
        skip();
    }
    before.n = after.n = 0;
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &before, &st0, &why), 0);
    fd = open(libc, O_RDONLY);
    assert_true(fd >= 0);
    copy = mmap((void *)(uintptr_t)(heap - len), len, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
    close(fd);
    assert_true(copy == (void *)(uintptr_t)(heap - len));
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &after, &st, &why), 0);
    printf("heapwalk: libc's file mapped at %p below the thread heap at %#llx: %llu arenas, %zu "
           "blocks (%llu, %zu without)\n",
           copy, (unsigned long long)heap, (unsigned long long)st.arenas, after.n,
           (unsigned long long)st0.arenas, before.n);
    munmap(copy, len);
    assert_int_equal(st.partial, 0);
    assert_int_equal(st.arenas, st0.arenas);
    assert_int_equal(after.n, before.n);
}

/* ---- threads that share an arena ---- */

static pthread_barrier_t bar_go, bar_ready, bar_done;
static void *volatile one[N_THREADS + 1]; /* seen: the compiler keeps the malloc */
static atomic_int n_one;

static void *hold_one(void *arg)
{
    int k = atomic_fetch_add(&n_one, 1);

    one[k] = malloc((size_t)(uintptr_t)arg); /* its tcache, then this: nothing freed */
    pthread_barrier_wait(&bar_ready);
    pthread_barrier_wait(&bar_done);
    free(one[k]);
    return NULL;
}

static void *hold_one_later(void *arg)
{
    pthread_barrier_wait(&bar_go); /* the walk before: this thread made, no malloc yet */
    return hold_one(arg);
}

/* More threads than arenas: a thread that shares an arena gets its tcache
 * from the middle of it, and until it frees something the tcache is empty:
 * a block of zeros by shape, a tcache by its TLS. */
static void test_self_shared_arena(void **state)
{
    pthread_t th[N_THREADS + 1];
    struct heapwalk_stats st, st_shape;
    const char *why = NULL;
    static struct seen shape;

    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    if (!tls) {
        printf("heapwalk: no TLS for the tcaches (%s): not tested\n", tls_why);
        skip();
    }
    /* fillers take the arenas test_self's threads left (and make new ones) */
    pthread_barrier_init(&bar_ready, NULL, N_THREADS + 1);
    pthread_barrier_init(&bar_done, NULL, N_THREADS + 2);
    for (long i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hold_one, (void *)(uintptr_t)24), 0);
    pthread_barrier_wait(&bar_ready);
    mallopt(M_ARENA_MAX, 1 + N_THREADS); /* no new arena from here */
    pthread_barrier_destroy(&bar_ready);
    pthread_barrier_init(&bar_ready, NULL, 2);
    pthread_barrier_init(&bar_go, NULL, 2);
    assert_int_equal(pthread_create(&th[N_THREADS], NULL, hold_one_later, (void *)(uintptr_t)100),
                     0);
    before.n = 0;
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &before, &st, &why), 0);
    assert_int_equal(st.tcaches, 1 + N_THREADS);
    pthread_barrier_wait(&bar_go);
    pthread_barrier_wait(&bar_ready);
    after.n = shape.n = 0;
    assert_int_equal(heapwalk_self(NULL, 0, tls, note, &after, &st, &why), 0);
    assert_int_equal(heapwalk_self(NULL, 0, NULL, note, &shape, &st_shape, &why), 0);
    printf("heapwalk: %d threads on %d arenas: %zu blocks before the last thread, %zu after "
           "(its one block); by shape %zu (%llu tcaches); by TLS %llu tcaches of %llu threads\n",
           N_THREADS + 2, N_THREADS + 1, before.n, after.n, shape.n,
           (unsigned long long)st_shape.tcaches, (unsigned long long)st.tcaches,
           (unsigned long long)st.threads);
    assert_int_equal(after.n, before.n + 1);
    assert_true(find(&after, (uint64_t)(uintptr_t)one[N_THREADS]) >= 0);
    assert_int_equal(st.tcaches, N_THREADS + 2);
    assert_int_equal(st.threads, N_THREADS + 2);
    assert_int_equal(st.partial, 0);
    assert_int_equal(shape.n, after.n + 1); /* its empty tcache */
    pthread_barrier_wait(&bar_done);
    for (int i = 0; i <= N_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar_go);
    pthread_barrier_destroy(&bar_ready);
    pthread_barrier_destroy(&bar_done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image),
        cmocka_unit_test(test_image_broken),
        cmocka_unit_test(test_image_empty_tcache),
        cmocka_unit_test(test_image_torn),
        cmocka_unit_test(test_self),
        cmocka_unit_test(test_self_fault),
        cmocka_unit_test(test_self_libc_copy),
        cmocka_unit_test(test_self_shared_arena),
    };

    tls = heaptls_find(&tls_why);
    printf("heapwalk: tcaches %s\n", tls ? "named by each thread's TLS (libc's symbols)" : tls_why);

    return cmocka_run_group_tests(tests, NULL, NULL);
}
