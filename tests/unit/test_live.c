/*
 * test_live.c - the live-allocation table against a reference model: random
 * inserts and removals keep exactly the right entries, growth and shrinking
 * keep them, the table stays within its memory bound per live block, and
 * every field reads back exact at its limits (sizes from 65535 up beside the
 * table, the time within and across epochs, early and late, the (thread,
 * tag) pairs however many a stack has); the times of blocks past the time
 * ring and of merged epochs keep the precision live.h states.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "live.h"
#include "prefault.h"

__thread int track_guard; /* prefault.c's thread sets it (track.c is not linked) */

#define N 200000

static uint64_t addrs[N], seqs[N];
static int present[N];

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void count_cb(void *arg, const struct live_entry *e)
{
    (*(size_t *)arg)++;
}

/* Mostly small sizes, one block in 1000 past the entry's 16 bits. */
static uint64_t size_of(int i)
{
    return i % 1000 == 7 ? (uint64_t)i << 20 : (uint64_t)i % 65535;
}

static void test_model(void **state)
{
    uint64_t s = 88172645463325252ull, last_seq = 0;
    size_t live = 0, max_live = 0, old = 0;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int i = 0; i < N; i++)
        addrs[i] = 0x10000 + (uint64_t)i * 48;
    for (int step = 0; step < 2000000; step++) {
        int i = (int)(rnd(&s) % (step < 1000000 ? N : N / 8));
        struct live_entry *e = live_find(addrs[i]);

        if (present[i]) {
            struct live_block b;

            assert_non_null(e);
            live_get(e, &b);
            assert_int_equal(b.addr, addrs[i]);
            assert_int_equal(b.size, size_of(i));
            assert_int_equal(b.stack, (uint32_t)i * 3);
            /* exact among the latest LIVE_TIME_RING inserts, else its
             * epoch's earliest time (epochs span under LIVE_EPOCH_SPAN) */
            if (last_seq - b.seq < LIVE_TIME_RING) {
                assert_int_equal(b.seq * 1000, b.time);
            } else {
                assert_true(b.time <= (int64_t)b.seq * 1000);
                assert_true((int64_t)b.seq * 1000 - b.time < LIVE_EPOCH_SPAN);
                old++;
            }
            assert_int_equal(b.tag, (uint32_t)i % 3);
            assert_int_equal(b.thread, 1 + (uint32_t)i % 5);
            live_remove(e);
            present[i] = 0;
            live--;
        } else {
            struct live_block n = {.addr = addrs[i],
                                   .tag = (uint32_t)i % 3,
                                   .size = size_of(i),
                                   .time = (int64_t)step * 1000,
                                   .seq = (uint64_t)step,
                                   .stack = (uint32_t)i * 3,
                                   .thread = 1 + (uint32_t)i % 5};

            assert_null(e);
            assert_int_equal(live_insert(&n), 0);
            last_seq = seqs[i] = n.seq;
            present[i] = 1;
            live++;
        }
        if (live > max_live)
            max_live = live;
        /* 16 bytes at least 0.3 full, and the side tables: the time ring
         * (2 bytes an insert, LIVE_TIME_RING at most), the stacks' first
         * pairs (4 bytes a stack id up to the largest, 3 * N, doubling) */
        if (live > 10000 && step % 9973 == 0)
            assert_true(live_bytes_used() <=
                        live * 54 + LIVE_TIME_RING * 2 + (4u << 20) + 65536 + 65536);
    }
    assert_int_equal(live_count(), live);
    size_t seen = 0;
    live_foreach(count_cb, &seen);
    assert_int_equal(seen, live);
    for (int i = 0; i < N; i++) {
        struct live_entry *e = live_find(addrs[i]);

        assert_int_equal(e != NULL, present[i]);
        if (!e)
            continue;
        if (last_seq - seqs[i] < LIVE_TIME_RING) {
            assert_int_equal(live_time(e), (int64_t)seqs[i] * 1000);
        } else {
            assert_true(live_time(e) <= (int64_t)seqs[i] * 1000);
            assert_true((int64_t)seqs[i] * 1000 - live_time(e) < LIVE_EPOCH_SPAN);
            old++;
        }
    }
    assert_true(old > 10000); /* blocks past the ring were read */
    /* interior lookups */
    for (int i = 0; i < N; i++)
        if (present[i] && i > 4) {
            struct live_entry *e = live_find_containing(addrs[i] + 3);
            assert_non_null(e);
            assert_int_equal(live_addr(e), addrs[i]);
            break;
        }
    live_reset();
}

static struct live_block got(uint64_t addr)
{
    struct live_entry *e = live_find(addr);
    struct live_block b = {0};

    assert_non_null(e);
    live_get(e, &b);
    assert_int_equal(b.time, live_time(e));
    return b;
}

/* Every field keeps its full range: the address, stack, thread and tag at
 * their limits, sizes on either side of the entry's 16 bits, times and
 * sequence numbers at their widths. */
static void test_fields(void **state)
{
    struct live_block n = {.addr = (1ull << 47) - 8,
                           .tag = 0xffff,
                           .size = (1ull << 47) - 1,
                           .time = (1ll << 56) - 1,
                           .seq = (1ull << 40) - 1,
                           .stack = (1u << LIVE_STACK_BITS) - 1,
                           .thread = 0xffffff};
    struct live_block m = {.addr = 8, .size = 65534, .time = 5, .seq = 1ull << 40};
    struct live_block b;

    (void)state;
    assert_int_equal(sizeof(struct live_entry), 16);
    assert_true(live_fits(n.addr, n.size));
    assert_true(live_fits(0x1008, 16)); /* 8-aligned: jemalloc's 8-byte class */
    assert_false(live_fits(1ull << 47, 1));
    assert_false(live_fits(0x1000, 1ull << 47));
    assert_false(live_fits(0x1004, 16));
    assert_int_equal(live_init(), 0);
    assert_int_equal(live_insert(&n), 0);
    assert_int_equal(live_insert(&m), 0);
    b = got((1ull << 47) - 8);
    assert_int_equal(b.addr, (1ull << 47) - 8);
    assert_int_equal(b.size, (1ull << 47) - 1);
    assert_int_equal(live_size(live_find(n.addr)), (1ull << 47) - 1);
    assert_int_equal(b.time, (1ll << 56) - 1);
    assert_int_equal(b.seq, (1ull << 40) - 1);
    assert_int_equal(b.stack, (1u << LIVE_STACK_BITS) - 1);
    assert_int_equal(b.thread, 0xffffff);
    assert_int_equal(b.tag, 0xffff);
    b = got(8);
    assert_int_equal(b.size, 65534); /* the largest size in the entry */
    assert_int_equal(b.time, 5);     /* an event from long before the last */
    assert_int_equal(b.seq, 0);      /* 2^40 mod 2^40 */
    assert_int_equal(b.thread, 0);
    assert_int_equal(b.stack, 0);
    assert_null(live_find(1ull << 47));
    assert_null(live_find(0x1004));
    /* a big block's size goes with it */
    live_remove(live_find((1ull << 47) - 8));
    n.addr = 0x2000;
    n.size = 65535; /* the smallest beside the table */
    n.seq = (1ull << 40) + 1;
    n.time = 6;
    assert_int_equal(live_insert(&n), 0);
    assert_int_equal(live_size(live_find(0x2000)), 65535);
    assert_int_equal(live_size(live_find(8)), 65534);
    n.addr = 0x3000;
    n.size = 0;
    n.seq++;
    n.time = -70000; /* stamped before the collector's start: a new epoch */
    assert_int_equal(live_insert(&n), 0);
    assert_int_equal(got(0x3000).size, 0);
    assert_int_equal(got(0x3000).time, -70000);
    assert_int_equal(got(0x2000).time, 6);
    assert_null(live_find((1ull << 47) - 8));
    live_reset();
}

/* Sizes beside the table: thousands of big blocks inserted and removed at
 * random (the hash's backward shift), each size exact, none left behind. */
static void test_big_sizes(void **state)
{
    uint64_t s = 0x9E3779B97F4A7C15ull, seq = 1;
    static int in[20000];

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int step = 0; step < 400000; step++) {
        int i = (int)(rnd(&s) % 20000);
        uint64_t addr = 0x7f0000000000ull + ((uint64_t)i << 16);
        struct live_entry *e = live_find(addr);

        if (in[i]) {
            assert_non_null(e);
            assert_int_equal(live_size(e), 65535 + (uint64_t)i * 4097);
            live_remove(e);
            in[i] = 0;
        } else {
            struct live_block b = {.addr = addr, .size = 65535 + (uint64_t)i * 4097, .seq = seq++};

            b.time = (int64_t)b.seq;
            assert_null(e);
            assert_int_equal(live_insert(&b), 0);
            in[i] = 1;
        }
    }
    for (int i = 0; i < 20000; i++) {
        struct live_entry *e = live_find(0x7f0000000000ull + ((uint64_t)i << 16));

        assert_int_equal(e != NULL, in[i]);
        if (e)
            assert_int_equal(live_size(e), 65535 + (uint64_t)i * 4097);
    }
    live_reset();
}

/* Within an epoch the low 16 bits give the time exact: blocks at both ends
 * of a span of 65535 ns, one stamped before the epoch's first (late), and
 * the next that would widen it to 65536 ns starts an epoch of its own. */
static void test_epoch_span(void **state)
{
    const int64_t t0 = 123456789012345;
    const int64_t times[] = {t0,         t0 + 65535, t0 + 1, t0 + 30000, t0 + 65536,
                             t0 + 65535, t0 + 65536, t0 - 1, t0 + 131070};
    const size_t n = sizeof(times) / sizeof(times[0]);

    (void)state;
    assert_int_equal(live_init(), 0);
    for (size_t i = 0; i < n; i++) {
        struct live_block b = {.addr = 0x1000 + 16 * i, .size = 16, .time = times[i], .seq = i + 1};

        assert_int_equal(live_insert(&b), 0);
    }
    for (size_t i = 0; i < n; i++) {
        struct live_entry *e = live_find(0x1000 + 16 * i);

        assert_int_equal(live_time(e), times[i]);
        assert_false(live_newer(e, times[i]));
        assert_true(live_newer(e, times[i] - 1));
        assert_false(live_newer(e, t0 + 200000)); /* past every insert */
    }
    live_reset();
}

/* Times are exact across epochs: a run of hours with events spread over it,
 * some of them late (a time before the last event's), and the sequence
 * numbers past 2^40. */
static void test_times(void **state)
{
    uint64_t s = 0x2545F4914F6CDD1Dull, seq0 = (1ull << 40) - 5000;
    int64_t t = 1000;
    static int64_t times[20000];

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int i = 0; i < 20000; i++) {
        struct live_block n = {.addr = 0x100000 + 16 * (uint64_t)i, .size = 1, .seq = seq0 + i};

        t += (int64_t)(rnd(&s) % (i % 100 == 0 ? 20000000000ull : 3000000ull));
        /* one in 7 arrives late: stamped up to 300 ms before the last */
        times[i] = i % 7 == 3 ? t - (int64_t)(rnd(&s) % 300000000ull) : t;
        n.time = times[i];
        assert_int_equal(live_insert(&n), 0);
    }
    for (int i = 0; i < 20000; i++) {
        struct live_entry *e = live_find(0x100000 + 16 * (uint64_t)i);
        struct live_block b;

        assert_non_null(e);
        live_get(e, &b);
        assert_int_equal(b.time, times[i]);
        assert_int_equal(live_time(e), times[i]);
        assert_int_equal(b.seq, (seq0 + i) & ((1ull << 40) - 1));
    }
    live_reset();
}

/* Many blocks an epoch: 10 ns apart on average, one in 5 stamped up to
 * 50 us before the latest (late), every time exact. */
static void test_dense(void **state)
{
    enum { D = 200000 };
    static int64_t times[D];
    uint64_t s = 0x1234567887654321ull;
    int64_t t = 5000000000;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int i = 0; i < D; i++) {
        struct live_block b = {.addr = 0x10000 + 16 * (uint64_t)i, .size = 8, .seq = i + 1ull};

        t += (int64_t)(rnd(&s) % 20);
        times[i] = i % 5 == 2 ? t - (int64_t)(rnd(&s) % 50000) : t;
        b.time = times[i];
        assert_int_equal(live_insert(&b), 0);
    }
    for (int i = 0; i < D; i++) {
        struct live_entry *e = live_find(0x10000 + 16 * (uint64_t)i);

        assert_int_equal(live_time(e), times[i]);
        assert_true(live_newer(e, times[i] - 1));
        assert_false(live_newer(e, times[i]));
    }
    /* 2M ns of stamps: about 31 spans of 65536 ns, a few more for the late
     * (a page); a page each of pair ids and their hash (one pair: no
     * stack's first pair kept); the time ring, 2 bytes an insert */
    assert_true(live_bytes_used() - live_slots() * sizeof(struct live_entry) <=
                3 * 4096 + (D * 2 + 4095) / 4096 * 4096);
    live_reset();
}

/* Past 2 * LIVE_EXACT_EPOCHS epochs the older ones are merged in pairs: the
 * latest LIVE_EXACT_EPOCHS epochs stay exact; an older block reads its
 * merged epoch's earliest time, at most a few epochs before its own and
 * never after; live_newer() stays exact outside the merged span; the epochs
 * take 1 MiB at most. */
static void test_merged(void **state)
{
    enum { M = 3 * LIVE_EXACT_EPOCHS };
    static int64_t times[M];
    int64_t t = 1000000;
    int coarse = 0;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int i = 0; i < M; i++) {
        struct live_block b = {.addr = 0x10000 + 16 * (uint64_t)i, .size = 8, .seq = i + 1ull};

        t += 100000; /* 100 us apart: an epoch each */
        b.time = times[i] = t;
        assert_int_equal(live_insert(&b), 0);
    }
    for (int i = 0; i < M; i++) {
        struct live_entry *e = live_find(0x10000 + 16 * (uint64_t)i);
        int64_t lt = live_time(e);

        if (i >= M - (int)LIVE_EXACT_EPOCHS) {
            assert_int_equal(lt, times[i]);
            assert_true(live_newer(e, times[i] - 1));
        } else {
            assert_true(lt <= times[i] && times[i] - lt <= 3 * 100000);
            assert_true(live_newer(e, lt - 1));
            coarse += lt != times[i];
        }
        assert_false(live_newer(e, times[i]));
    }
    assert_true(coarse >= (int)LIVE_EXACT_EPOCHS / 2);
    /* and the pairs: 4 KiB each of ids and hash; the time ring, 2 bytes an
     * insert */
    assert_true(live_bytes_used() - live_slots() * sizeof(struct live_entry) <=
                (1u << 20) + 8192 + (M * 2 + 4095) / 4096 * 4096);
    live_reset();
}

/* A table past 8 MB grows at 0.8 full by 1.25x: once it has (past 16 MB),
 * it stays 0.64 to 0.8 full while it grows, at most 25 bytes a live
 * block (and the side tables); every block is found again. */
/* Whether this kernel populates a mapping on MADV_POPULATE_WRITE (5.14). */
static int populate_write_works(void)
{
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok;

    if (m == MAP_FAILED)
        return 0;
    ok = madvise(m, 4096, 23 /* MADV_POPULATE_WRITE */) == 0;
    munmap(m, 4096);
    return ok;
}

static void test_large(void **state)
{
    const size_t n = 1500000;
    size_t checked = 0;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (size_t i = 0; i < n; i++) {
        struct live_block b = {.addr = 0x100000 + 32 * (uint64_t)i,
                               .size = i % 65535,
                               .time = (int64_t)i,
                               .seq = i + 1,
                               .stack = (uint32_t)i & ((1u << LIVE_STACK_BITS) - 1),
                               .thread = 1};

        assert_int_equal(live_insert(&b), 0);
        /* 25 bytes a block in the table; beside it the time ring (one
         * pair: no stack's first pair kept) */
        if (live_slots() * sizeof(struct live_entry) > (16u << 20) && i % 1000 == 0) {
            assert_true(live_bytes_used() <= (i + 1) * 25 + LIVE_TIME_RING * 2 + 65536);
            checked++;
        }
    }
    assert_true(checked > 100);
    /* past 4 MB each growth's pages were faulted in ahead (prefault.h), and
     * the table waited for them: every block is still found below (a kernel
     * before 5.14 has no MADV_POPULATE_WRITE: the table faults its own) */
    if (populate_write_works())
        assert_true(prefault_done_bytes() >= (4u << 20));
    for (size_t i = 0; i < n; i += 2)
        live_remove(live_find(0x100000 + 32 * (uint64_t)i));
    assert_int_equal(live_count(), n / 2);
    for (size_t i = 0; i < n; i++) {
        struct live_entry *e = live_find(0x100000 + 32 * (uint64_t)i);

        if (i % 2 == 0) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_int_equal(live_size(e), i % 65535);
            if (n - 1 - i < LIVE_TIME_RING)
                assert_int_equal(live_time(e), (int64_t)i);
            else /* past the time ring: its epoch's earliest */
                assert_true(live_time(e) <= (int64_t)i &&
                            (int64_t)i - live_time(e) < LIVE_EPOCH_SPAN);
        }
    }
    live_reset();
}

/* Blocks past the time ring read their epoch's earliest time, at most
 * LIVE_EPOCH_SPAN - 1 early; live_newer() stays exact outside the epoch's
 * span; the latest LIVE_TIME_RING inserts read exact. */
static void test_ring(void **state)
{
    const uint64_t n = LIVE_TIME_RING + 5000;
    int64_t t = 1000;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (uint64_t i = 0; i < n; i++) {
        struct live_block b = {.addr = 0x100000 + 16 * i, .size = 8, .seq = i + 1};

        t += 7 + (int64_t)(i % 13); /* 13 ns apart on average: about 5000 an epoch */
        b.time = t;
        assert_int_equal(live_insert(&b), 0);
    }
    t = 1000;
    for (uint64_t i = 0; i < n; i++) {
        struct live_entry *e = live_find(0x100000 + 16 * i);
        int64_t lt = live_time(e);

        t += 7 + (int64_t)(i % 13);
        if (i < 5000) { /* past the ring */
            assert_true(lt <= t && t - lt < LIVE_EPOCH_SPAN);
            assert_true(live_newer(e, lt - 1));
            assert_false(live_newer(e, lt + LIVE_EPOCH_SPAN));
        } else {
            assert_int_equal(lt, t);
            assert_true(live_newer(e, t - 1));
            assert_false(live_newer(e, t));
        }
    }
    assert_int_equal(live_time(live_find(0x100000)), 1007); /* the first epoch's first */
    live_reset();
}

/* The (thread, tag) pairs by stack: one pair alone at first (no stack's
 * first pair kept), then 300 pairs at one stack (126 further indices, then
 * pairs kept by address), 3 at others, inserted, removed and inserted
 * again at random; every block reads its own thread and tag. */
static void test_pairs(void **state)
{
    enum { P = 40000 };
    static uint32_t thr[P], tag[P], stk[P];
    static int in[P];
    uint64_t s = 0xDEADBEEFCAFEull, seq = 1;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (int step = 0; step < 400000; step++) {
        int i = (int)(rnd(&s) % P);
        uint64_t addr = 0x200000 + 16 * (uint64_t)i;
        struct live_entry *e = live_find(addr);

        if (in[i]) {
            struct live_block b;

            assert_non_null(e);
            live_get(e, &b);
            assert_int_equal(b.thread, thr[i]);
            assert_int_equal(b.tag, tag[i]);
            assert_int_equal(b.stack, stk[i]);
            live_remove(e);
            in[i] = 0;
        } else {
            uint64_t r = rnd(&s);
            struct live_block b = {.addr = addr, .size = 16, .seq = seq, .time = (int64_t)seq};

            seq++;
            stk[i] = b.stack = r % 4 == 0 ? 7 : 100 + (uint32_t)(r % 1000);
            thr[i] = b.thread = step < 30000 ? 1 : 1 + (uint32_t)(b.stack == 7 ? r % 100 : r % 3);
            tag[i] = b.tag = b.stack == 7 && step >= 30000 ? (uint32_t)(r >> 32) % 3 : 0;
            assert_null(e);
            assert_int_equal(live_insert(&b), 0);
            in[i] = 1;
        }
    }
    for (int i = 0; i < P; i++) {
        struct live_entry *e = live_find(0x200000 + 16 * (uint64_t)i);
        struct live_block b;

        assert_int_equal(e != NULL, in[i]);
        if (!e)
            continue;
        live_get(e, &b);
        assert_int_equal(b.thread, thr[i]);
        assert_int_equal(b.tag, tag[i]);
        live_remove(e);
    }
    assert_int_equal(live_count(), 0);
    live_reset();
}

/* A table under 0.3 full shrinks only once it stayed so for
 * LIVE_SHRINK_AFTER_NS of the collector's turns (a teardown that ends the
 * program pays for no shrink), then at once to 0.3-0.6 full; going over 0.3
 * again calls it off. Every block is found after. */
static void test_shrink_later(void **state)
{
    const size_t n = 400000;
    size_t big, left = 0;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (size_t i = 0; i < n; i++) {
        struct live_block b = {.addr = 0x100000 + 48 * (uint64_t)i, .size = 48, .seq = i + 1};

        assert_int_equal(live_insert(&b), 0);
    }
    big = live_slots();
    /* down to 0.2 full: nothing moves yet */
    for (size_t i = 0; live_count() * 5 > big; i++)
        live_remove(live_find(0x100000 + 48 * (uint64_t)(i * 2 % n + (i * 2 >= n))));
    assert_int_equal(live_slots(), big);
    live_maintain(5000000000LL); /* first seen under 0.3 */
    live_maintain(5000000000LL + LIVE_SHRINK_AFTER_NS - 1);
    assert_int_equal(live_slots(), big);
    /* back over 0.3 full: called off, however long after */
    for (size_t i = 0; live_count() * 10 < big * 4; i++) {
        struct live_block b = {
            .addr = 0x9000000000 + 48 * (uint64_t)i, .size = 48, .seq = n + i + 1};

        assert_int_equal(live_insert(&b), 0);
    }
    live_maintain(9000000000LL);
    live_maintain(19000000000LL);
    assert_int_equal(live_slots(), big);
    /* under 0.3 again, for a second: 0.3 to 0.6 full at once */
    for (size_t i = 0; live_count() * 10 >= big; i++) {
        struct live_entry *e = live_find(0x9000000000 + 48 * (uint64_t)i);

        if (e)
            live_remove(e);
        else
            break;
    }
    while (live_count() * 10 >= big) { /* and of the first blocks, to 0.1 full */
        struct live_entry *e = NULL;

        for (; !e && left < n; left++)
            e = live_find(0x100000 + 48 * (uint64_t)left);
        assert_non_null(e);
        live_remove(e);
    }
    live_maintain(20000000000LL);
    assert_int_equal(live_slots(), big);
    live_maintain(20000000000LL + LIVE_SHRINK_AFTER_NS);
    assert_true(live_slots() < big / 2);
    assert_true(live_count() * 10 >= live_slots() * 3 && live_count() * 10 < live_slots() * 6);
    size_t found = 0;

    for (size_t i = 0; i < n; i++)
        found += live_find(0x100000 + 48 * (uint64_t)i) != NULL;
    for (size_t i = 0; i < n; i++)
        found += live_find(0x9000000000 + 48 * (uint64_t)i) != NULL;
    assert_int_equal(found, live_count());
    live_reset();
}

/* ---- growth's sweep (live.c's grow()): the table against a reference
 * through growths past 32 MB and shrinks, mid-sweep above all ---- */

#define GM 4000000u            /* blocks, by index */
#define GK 0x9E3779B97F4Bull   /* odd: i -> address is one-to-one */
#define GKINV 0x93dee219263ull /* GK's inverse mod 2^44 (checked) */
#define G44 ((1ull << 44) - 1)
static uint64_t *g_seq;                   /* 0: not live, else its seq */
static uint32_t *g_list, *g_pos, *g_seen; /* live indices; index in g_list; stamps */
static uint32_t g_n, g_stamp;

static uint64_t g_addr(uint32_t i)
{
    return (((uint64_t)i + 1) * GK & G44) << 3;
}

static uint32_t g_index(uint64_t addr)
{
    return (uint32_t)(((addr >> 3) * GKINV & G44) - 1);
}

static void g_block(uint32_t i, uint64_t seq, struct live_block *b)
{
    *b = (struct live_block){.addr = g_addr(i),
                             .size = size_of((int)i),
                             .time = (int64_t)seq * 100,
                             .seq = seq,
                             .stack = (i * 3) & ((1u << LIVE_STACK_BITS) - 1),
                             .thread = 1 + i % 5,
                             .tag = i % 3};
}

/* Every field of e as live.h states it, against block i inserted as seq. */
static void g_check(const struct live_entry *e, uint32_t i, uint64_t last)
{
    struct live_block b, want;

    g_block(i, g_seq[i], &want);
    live_get(e, &b);
    assert_int_equal(b.addr, want.addr);
    assert_int_equal(b.size, want.size);
    assert_int_equal(b.seq, want.seq);
    assert_int_equal(b.stack, want.stack);
    assert_int_equal(b.thread, want.thread);
    assert_int_equal(b.tag, want.tag);
    if (last - want.seq < LIVE_TIME_RING)
        assert_int_equal(b.time, want.time);
    else
        assert_true(b.time <= want.time && want.time - b.time < LIVE_EPOCH_SPAN);
}

static void g_seen_cb(void *arg, const struct live_entry *e)
{
    uint32_t i = g_index(live_addr(e));

    assert_true(i < GM);
    assert_true(g_seq[i] != 0);        /* live in the reference */
    assert_true(g_seen[i] != g_stamp); /* seen once */
    g_seen[i] = g_stamp;
    (*(size_t *)arg)++;
}

/* live_foreach (leaving the table as it is: the generation stays) and a
 * stepped live_walk (which ends a growth's sweep at its first step: the
 * generation stays from there on) each see exactly the live set. With
 * walk, only the walk in steps. */
static void g_check_all(int walk)
{
    size_t seen = 0, at;
    unsigned gen = live_generation();

    g_stamp++;
    live_foreach(g_seen_cb, &seen);
    assert_int_equal(seen, g_n);
    assert_int_equal(live_generation(), gen);
    if (!walk)
        return;
    g_stamp++;
    seen = 0;
    at = live_walk(0, 4096, g_seen_cb, &seen);
    gen = live_generation();
    while (at < live_slots())
        at = live_walk(at, 4096, g_seen_cb, &seen);
    assert_int_equal(live_generation(), gen);
    assert_int_equal(seen, g_n);
}

static void test_grow_sweep(void **state)
{
    /* live targets: up past 2M blocks (a 32 MB table and three growths
     * past it), down through shrinks, up again, down to nothing */
    static const uint32_t target[] = {2400000, 300000, 1200000, 20000, 900000, 0};
    uint64_t s = 0x2545F4914F6CDD1Dull, seq = 0;
    size_t mid_checks = 0, grew_big = 0, ops = 0, shrinks = 0;
    unsigned gen = live_generation(), prev_gen_change = 0;

    (void)state;
    assert_int_equal((uint64_t)(GK * GKINV & G44), 1);
    g_seq = calloc(GM, sizeof(*g_seq));
    g_list = calloc(GM, sizeof(*g_list));
    g_pos = calloc(GM, sizeof(*g_pos));
    g_seen = calloc(GM, sizeof(*g_seen));
    assert_true(g_seq && g_list && g_pos && g_seen);
    g_n = 0;
    assert_int_equal(live_init(), 0);
    for (size_t ph = 0; ph < sizeof(target) / sizeof(*target); ph++) {
        int up = g_n < target[ph];

        while (up ? g_n < target[ph] : g_n > target[ph]) {
            uint64_t r = rnd(&s);
            uint32_t i = (uint32_t)(r % GM);
            int add = (r >> 40) % 8 < (up ? 7u : 1u);
            struct live_entry *slot, *e;

            if (!add && g_n) /* a live block, at random */
                i = g_list[(r >> 20) % g_n];
            e = (r >> 62) ? live_find(g_addr(i)) : live_find_slot(g_addr(i), &slot);
            if (g_seq[i]) {
                assert_non_null(e);
                if (!(r >> 62))
                    assert_null(slot);
                g_check(e, i, seq);
                if (!add) {
                    live_remove(e);
                    g_seq[i] = 0;
                    g_list[g_pos[i]] = g_list[--g_n];
                    g_pos[g_list[g_pos[i]]] = g_pos[i];
                }
            } else {
                struct live_block b;

                assert_null(e);
                g_block(i, ++seq, &b);
                if (add && (r >> 62))
                    assert_int_equal(live_insert(&b), 0);
                else if (add)
                    assert_int_equal(live_insert_at(&b, slot), 0);
                if (add) {
                    g_seq[i] = seq;
                    g_pos[i] = g_n;
                    g_list[g_n++] = i;
                }
            }
            ops++;
            assert_int_equal(live_count(), g_n);
            if (live_slots() * sizeof(struct live_entry) > (32u << 20))
                grew_big++;
            /* the collector's loop, 100 ms of a fake clock every 1024
             * events: a table under 0.3 full shrinks 10 turns on */
            if (ops % 1024 == 0) {
                size_t before = live_slots();

                live_maintain((int64_t)(ops / 1024) * 100000000);
                shrinks += live_slots() < before;
            }
            /* the generation moves at every event of a sweep: check the
             * whole set now and then while one is under way */
            if (live_generation() != gen) {
                if (prev_gen_change + 1 == ops && (r & 0x3ffff) < 8 && mid_checks < 60) {
                    g_check_all(mid_checks % 4 == 3);
                    mid_checks++;
                }
                prev_gen_change = (unsigned)ops;
                gen = live_generation();
            }
        }
        g_check_all(1);
    }
    assert_true(ops > 5000000);
    assert_true(mid_checks >= 10);
    assert_true(grew_big > 0);
    assert_true(shrinks >= 3); /* down to 300k, 20k and 0 */
    assert_int_equal(live_count(), 0);
    live_reset();
    free(g_seq);
    free(g_list);
    free(g_pos);
    free(g_seen);
}

/* Blocks whose homes all lie in the top 1/1024 of any table: their run
 * wraps into slot 0 at every size, so each growth takes that run out, puts
 * back what fits and stashes the rest; finds, fields, removals and the
 * walks stay exact through the sweeps. */
static void test_grow_wrap(void **state)
{
    enum { NW = 3000, NR = 70000 };
    static uint64_t wrap[NW];
    uint64_t s = 0x9E3779B97F4A7C15ull, seq = 0;
    size_t nw = 0, checks = 0;
    unsigned gen = live_generation();

    (void)state;
    for (uint64_t k = 1; nw < NW; k++)
        if ((k * 0x9E3779B97F4A7C15ull) >> 54 == 0x3ff)
            wrap[nw++] = k << 3;
    assert_int_equal(live_init(), 0);
    g_seq = calloc(GM, sizeof(*g_seq));
    g_list = calloc(GM, sizeof(*g_list));
    g_pos = calloc(GM, sizeof(*g_pos));
    g_seen = calloc(GM, sizeof(*g_seen));
    assert_true(g_seq && g_list && g_pos && g_seen);
    g_n = 0;
    for (uint32_t i = 0; i < NW + NR; i++) {
        /* the wrapping blocks first, then random ones; every 5th op
         * removes a wrapping block inserted earlier (often stashed) */
        uint32_t idx = i < NW ? i : (uint32_t)(rnd(&s) % (GM - NW)) + NW;
        struct live_block b;

        if (g_seq[idx])
            continue;
        g_block(idx, ++seq, &b);
        if (idx < NW)
            b.addr = wrap[idx];
        assert_null(live_find(b.addr));
        assert_int_equal(live_insert(&b), 0);
        g_seq[idx] = seq;
        g_pos[idx] = g_n;
        g_list[g_n++] = idx;
        if (i % 5 == 4 && i > NW) {
            uint32_t w = (uint32_t)(rnd(&s) % NW);
            struct live_entry *e = live_find(wrap[w]);

            if (g_seq[w]) {
                struct live_block got;

                assert_non_null(e);
                live_get(e, &got);
                assert_int_equal(got.seq, g_seq[w]);
                assert_int_equal(got.stack, (w * 3) & ((1u << LIVE_STACK_BITS) - 1));
                live_remove(e);
                g_seq[w] = 0;
                g_list[g_pos[w]] = g_list[--g_n];
                g_pos[g_list[g_pos[w]]] = g_pos[w];
            } else {
                assert_null(e);
            }
        }
        if (live_generation() != gen) {
            gen = live_generation();
            if (i % 64 == 0) { /* every live block found, as it was stored */
                for (uint32_t w = 0; w < NW; w++) {
                    struct live_entry *e = live_find(wrap[w]);

                    if (g_seq[w]) {
                        struct live_block got;

                        assert_non_null(e);
                        live_get(e, &got);
                        assert_int_equal(got.addr, wrap[w]);
                        assert_int_equal(got.seq, g_seq[w]);
                        assert_int_equal(got.size, size_of((int)w));
                    } else {
                        assert_null(e);
                    }
                }
                checks++;
            }
        }
    }
    {
        size_t seen = 0;

        live_foreach(count_cb, &seen);
        assert_int_equal(seen, g_n);
    }
    assert_int_equal(live_count(), g_n);
    assert_true(checks > 10);
    live_reset();
    free(g_seq);
    free(g_list);
    free(g_pos);
    free(g_seen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_big_sizes),    cmocka_unit_test(test_epoch_span),
        cmocka_unit_test(test_times),        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_merged),       cmocka_unit_test(test_large),
        cmocka_unit_test(test_ring),         cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_grow_sweep),   cmocka_unit_test(test_grow_wrap),
        cmocka_unit_test(test_shrink_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
