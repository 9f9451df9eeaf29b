/*
 * test_live.c - the live-allocation table against a reference model: random
 * inserts and removals keep exactly the right entries, growth and shrinking
 * keep them, and the table stays within its memory bound per live block.
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
            assert_non_null(e);
            assert_int_equal(e->size, (uint64_t)i);
            assert_int_equal(e->stack, (uint32_t)i * 3);
            assert_int_equal(e->seq, e->time);
            assert_int_equal(e->tag, 2);
            assert_int_equal(e->thread, 1);
            live_remove(e);
            present[i] = 0;
            live--;
        } else {
            struct live_entry n = {.addr = addrs[i], .tag = 2, .size = (uint64_t)i,
                                   .time = (uint64_t)step, .seq = (uint64_t)step,
                                   .stack = (uint32_t)i * 3, .thread = 1};

            assert_null(e);
            assert_int_equal(live_insert(&n), 0);
            present[i] = 1;
            live++;
        }
        if (live > max_live)
            max_live = live;
        if (live > 10000 && step % 9973 == 0)
            assert_true(live_bytes_used() <= live * 72);
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
            assert_int_equal(e->addr, addrs[i]);
            break;
        }
    live_reset();
}

/* Every field keeps its full range in the packed entry. */
static void test_fields(void **state)
{
    struct live_entry n = {.addr = (1ull << 48) - 16, .tag = 0xffff, .size = (1ull << 48) - 1,
                           .time = (1ull << 56) - 1, .seq = (1ull << 40) - 1,
                           .stack = 0xffffff, .thread = 0xffffff};
    struct live_entry *e;

    (void)state;
    assert_int_equal(sizeof(struct live_entry), 32);
    assert_true(live_fits(n.addr, n.size));
    assert_false(live_fits(1ull << 48, 1));
    assert_false(live_fits(0x1000, 1ull << 48));
    assert_int_equal(live_init(), 0);
    assert_int_equal(live_insert(&n), 0);
    e = live_find((1ull << 48) - 16);
    assert_non_null(e);
    assert_int_equal(e->size, (1ull << 48) - 1);
    assert_int_equal(e->time, (1ull << 56) - 1);
    assert_int_equal(e->seq, (1ull << 40) - 1);
    assert_int_equal(e->stack, 0xffffff);
    assert_int_equal(e->thread, 0xffffff);
    assert_int_equal(e->tag, 0xffff);
    assert_null(live_find(1ull << 48));
    live_reset();
}

/* live_pack() builds the same 32 bytes as the bit-field initializer, values
 * cut to their widths alike. */
static void test_pack(void **state)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;

    (void)state;
    for (int i = 0; i < 100000; i++) {
        uint64_t v[7];
        struct live_entry a, b;

        for (int k = 0; k < 7; k++) {
            v[k] = rnd(&s);
            if (i & 1)
                v[k] >>= rnd(&s) % 64; /* small values too */
        }
        memset(&a, 0, sizeof(a));
        a.addr = v[0];
        a.tag = v[1];
        a.size = v[2];
        a.time = v[3];
        a.seq = v[4];
        a.stack = v[5];
        a.thread = v[6];
        live_pack(&b, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_pack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
