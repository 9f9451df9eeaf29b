/*
 * test_live.c - the live-allocation table against a reference model: random
 * inserts and removals keep exactly the right entries, growth and shrinking
 * keep them, the table stays within its memory bound per live block, and
 * every field (the time across epochs, sizes past 4 GiB) reads back exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "live.h"

#define N 200000

static uint64_t addrs[N];
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

static void test_model(void **state)
{
    uint64_t s = 88172645463325252ull;
    size_t live = 0, max_live = 0;

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
            assert_int_equal(b.size, (uint64_t)i);
            assert_int_equal(b.stack, (uint32_t)i * 3);
            assert_int_equal(b.seq * 1000, b.time);
            assert_int_equal(b.tag, (uint32_t)i % 3);
            assert_int_equal(b.thread, 1 + (uint32_t)i % 5);
            live_remove(e);
            present[i] = 0;
            live--;
        } else {
            struct live_block n = {.addr = addrs[i],
                                   .tag = (uint32_t)i % 3,
                                   .size = (uint64_t)i,
                                   .time = (int64_t)step * 1000,
                                   .seq = (uint64_t)step,
                                   .stack = (uint32_t)i * 3,
                                   .thread = 1 + (uint32_t)i % 5};

            assert_null(e);
            assert_int_equal(live_insert(&n), 0);
            present[i] = 1;
            live++;
        }
        if (live > max_live)
            max_live = live;
        /* 24 bytes at least 0.3 full, and the side tables */
        if (live > 10000 && step % 9973 == 0)
            assert_true(live_bytes_used() <= live * 80 + 65536);
    }
    assert_int_equal(live_count(), live);
    size_t seen = 0;
    live_foreach(count_cb, &seen);
    assert_int_equal(seen, live);
    for (int i = 0; i < N; i++)
        assert_int_equal(live_find(addrs[i]) != NULL, present[i]);
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

/* Every field keeps its full range: sizes from 4 GiB up beside the table,
 * any thread and tag, times and sequence numbers at their widths. */
static void test_fields(void **state)
{
    struct live_block n = {.addr = (1ull << 48) - 16,
                           .tag = 0xffff,
                           .size = (1ull << 48) - 1,
                           .time = (1ll << 56) - 1,
                           .seq = (1ull << 40) - 1,
                           .stack = 0xffffff,
                           .thread = 0xffffff};
    struct live_block m = {.addr = 8, .size = UINT32_MAX - 1, .time = 5, .seq = 1ull << 40};
    struct live_block b;
    struct live_entry *e;

    (void)state;
    assert_int_equal(sizeof(struct live_entry), 24);
    assert_true(live_fits(n.addr, n.size));
    assert_false(live_fits(1ull << 48, 1));
    assert_false(live_fits(0x1000, 1ull << 48));
    assert_false(live_fits(0x1004, 16));
    assert_int_equal(live_init(), 0);
    assert_int_equal(live_insert(&n), 0);
    assert_int_equal(live_insert(&m), 0);
    e = live_find((1ull << 48) - 16);
    assert_non_null(e);
    live_get(e, &b);
    assert_int_equal(b.addr, (1ull << 48) - 16);
    assert_int_equal(b.size, (1ull << 48) - 1);
    assert_int_equal(live_size(e), (1ull << 48) - 1);
    assert_int_equal(b.time, (1ll << 56) - 1);
    assert_int_equal(b.seq, (1ull << 40) - 1);
    assert_int_equal(b.stack, 0xffffff);
    assert_int_equal(b.thread, 0xffffff);
    assert_int_equal(b.tag, 0xffff);
    e = live_find(8);
    assert_non_null(e);
    live_get(e, &b);
    assert_int_equal(b.size, UINT32_MAX - 1);
    assert_int_equal(b.time, 5); /* an event from before the last epoch's start */
    assert_int_equal(b.seq, 0);  /* 2^40 mod 2^40 */
    assert_int_equal(b.thread, 0);
    assert_null(live_find(1ull << 48));
    assert_null(live_find(0x1004));
    /* a big block's size goes with it */
    live_remove(live_find((1ull << 48) - 16));
    n.addr = 0x2000;
    n.size = UINT32_MAX;
    n.seq = (1ull << 40) + 1;
    assert_int_equal(live_insert(&n), 0);
    assert_int_equal(live_size(live_find(0x2000)), UINT32_MAX);
    assert_int_equal(live_size(live_find(8)), UINT32_MAX - 1);
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

/* A table past 8 MB grows at 0.8 full by 1.25x: once it has (past 16 MB),
 * it stays 0.64 to 0.8 full while it grows, at most 37.5
 * bytes a live block (and the side tables); every block is found again. */
static void test_large(void **state)
{
    const size_t n = 1500000;
    size_t checked = 0;

    (void)state;
    assert_int_equal(live_init(), 0);
    for (size_t i = 0; i < n; i++) {
        struct live_block b = {.addr = 0x100000 + 32 * (uint64_t)i,
                               .size = i,
                               .time = (int64_t)i,
                               .seq = i + 1,
                               .stack = (uint32_t)i & 0xffffff,
                               .thread = 1};

        assert_int_equal(live_insert(&b), 0);
        if (live_slots() * sizeof(struct live_entry) > (16u << 20) && i % 1000 == 0) {
            assert_true(live_bytes_used() <= (i + 1) * 75 / 2 + 65536);
            checked++;
        }
    }
    assert_true(checked > 100);
    for (size_t i = 0; i < n; i += 2)
        live_remove(live_find(0x100000 + 32 * (uint64_t)i));
    assert_int_equal(live_count(), n / 2);
    for (size_t i = 0; i < n; i++) {
        struct live_entry *e = live_find(0x100000 + 32 * (uint64_t)i);

        if (i % 2 == 0) {
            assert_null(e);
        } else {
            assert_non_null(e);
            assert_int_equal(live_size(e), i);
            assert_int_equal(live_time(e), (int64_t)i);
        }
    }
    live_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
