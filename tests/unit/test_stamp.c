/*
 * test_stamp.c - the stamp -> ns map: stamps converted by the collector's map
 * agree with CLOCK_MONOTONIC, the map never runs backwards across segments,
 * spans convert at the counter's rate, and without a TSC stamps are ns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "stamp.h"

int64_t core_start_ns; /* core.c's, which the test does not link */

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};

    nanosleep(&ts, NULL);
}

/* |stamp_ns(stamp_now()) - core_now()| at its smallest over a few tries (a
 * preemption between the two reads only makes it larger) */
static int64_t map_error(const struct stamp_map *m)
{
    int64_t best = INT64_MAX;

    for (int i = 0; i < 20; i++) {
        int64_t s = stamp_now(), n = core_now(), d = stamp_ns(m, s) - n;

        if (d < 0)
            d = -d;
        if (d < best)
            best = d;
    }
    return best;
}

static void test_tsc_map(void **state)
{
    struct stamp_map m;
    int64_t prev_stamp, prev_ns = 0;

    (void)state;
#if !defined(__x86_64__)
    skip();
#endif
    stamp_tsc = 1; /* the map's arithmetic, whatever this machine's clocksource */
    stamp_map_start(&m);
    prev_stamp = stamp_now();
    for (int i = 0; i < 40; i++) {
        int64_t w;

        pause_us(i % 4 == 0 ? 20 : 400); /* some drains closer than a segment */
        int moved = stamp_map_advance(&m, &w);

        assert_true(w >= prev_stamp);
        assert_int_equal(moved, w != prev_stamp); /* a new segment, a new watermark */
        assert_true(w == m.tsc1); /* drains apply stamps up to the newer pair only */
        /* the last drain's stamp, converted on the new segment, does not go
         * below what it converted to on the old one by more than the jitter */
        assert_true(stamp_ns(&m, prev_stamp) + 2000 >= prev_ns);
        prev_ns = stamp_ns(&m, w);
        prev_stamp = w;
        assert_true(m.mult > 0);
        assert_true(map_error(&m) < 20000); /* 20 us: the pairs' jitter is far below */
    }
    /* a span of 2 ms in ticks converts to 2 ms within 1% */
    int64_t s0 = stamp_now(), n0 = core_now();
    pause_us(2000);
    int64_t s1 = stamp_now(), n1 = core_now();
    int64_t span = (int64_t)stamp_span_ns(&m, (uint64_t)(s1 - s0));
    assert_true(span > (n1 - n0) * 99 / 100 && span < (n1 - n0) * 101 / 100);
    /* stamps never convert below the start */
    assert_int_equal(stamp_ns(&m, m.tsc0 - (int64_t)1e15), 0);
}

static void test_identity(void **state)
{
    struct stamp_map m;

    (void)state;
    stamp_tsc = 0;
    stamp_map_start(&m);
    int64_t a = stamp_now(), w, b;

    assert_int_equal(stamp_map_advance(&m, &w), 1); /* without a TSC, always */
    b = core_now();
    assert_true(a <= w && w <= b);
    assert_int_equal(stamp_ns(&m, 123456789), 123456789);
    assert_int_equal(stamp_span_ns(&m, 4242), 4242);
}

static void test_init(void **state)
{
    (void)state;
    stamp_init(); /* either answer is right; the stamps must then work */
    int64_t a = stamp_now(), b = stamp_now();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsc_map),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_init),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
