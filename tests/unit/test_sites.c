/*
 * test_sites.c - per-stack figures keyed by stack id, with a site only for
 * the stacks that allocate: exact figures and deltas across the tables'
 * growth, absolute figures in stack id order, the sent marks of stacks that
 * have no site, and what the tables map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sites.h"

static int setup(void **state)
{
    (void)state;
    return sites_init();
}

static int teardown(void **state)
{
    (void)state;
    sites_reset();
    return 0;
}

static void test_figures_and_deltas(void **state)
{
    struct wire_site out[8];
    size_t n;

    (void)state;
    sites_alloc(70000, 100); /* past the first map of stack ids (65536) */
    sites_alloc(3, 10);
    sites_alloc(3, 30);
    sites_free(3, 10);
    assert_int_equal(sites_count(), 2);
    assert_int_equal(sites_get(3)->live_bytes, 30);
    assert_int_equal(sites_get(3)->live_blocks, 1);
    assert_int_equal(sites_get(3)->allocations, 2);
    assert_int_equal(sites_get(3)->bytes_allocated, 40);
    assert_int_equal(sites_get(70000)->stack, 70000);

    /* deltas come out last touched first, once */
    n = sites_take_deltas(out, 8);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].stack, 3);
    assert_int_equal(out[0].live_bytes, 30);
    assert_int_equal(out[0].live_blocks, 1);
    assert_int_equal(out[0].allocations, 2);
    assert_int_equal(out[0].bytes_allocated, 40);
    assert_int_equal(out[1].stack, 70000);
    assert_int_equal(out[1].live_bytes, 100);
    assert_int_equal(sites_take_deltas(out, 8), 0);

    sites_free(70000, 100);
    n = sites_take_deltas(out, 8);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].stack, 70000);
    assert_int_equal(out[0].live_bytes, -100);
    assert_int_equal(out[0].live_blocks, -1);
    assert_int_equal(out[0].allocations, 0);
}

/* The absolute figures are those of the last tick, in stack id order, a
 * chunk at a time. */
static void test_absolute(void **state)
{
    struct wire_site out[2];
    uint32_t cursor = 0;

    (void)state;
    sites_alloc(9, 1);
    sites_alloc(4, 2);
    sites_alloc(7, 4);
    assert_int_equal(sites_take_deltas((struct wire_site[4]){0}, 4), 3);
    sites_alloc(4, 8); /* not taken yet: not in the absolute figures */
    sites_alloc(5, 16);

    assert_int_equal(sites_absolute(out, 2, &cursor), 2);
    assert_int_equal(out[0].stack, 4);
    assert_int_equal(out[0].live_bytes, 2);
    assert_int_equal(out[0].allocations, 1);
    assert_int_equal(out[1].stack, 7);
    assert_int_equal(out[1].live_bytes, 4);
    assert_int_equal(sites_absolute(out, 2, &cursor), 1);
    assert_int_equal(out[0].stack, 9);
    assert_int_equal(out[0].bytes_allocated, 1);
    assert_int_equal(sites_absolute(out, 2, &cursor), 0);
}

/* 10000 sites (the table starts at 4096) among 300000 stack ids: every
 * figure stays its own, and the tables map a word per stack id and a site
 * per allocating stack, not a site per stack id. */
static void test_growth(void **state)
{
    static struct wire_site out[10000];
    size_t n = 0, k;
    uint64_t sum = 0;

    (void)state;
    for (uint32_t i = 0; i < 10000; i++)
        sites_alloc(30 * i + 7, i + 1);
    for (uint32_t i = 0; i < 10000; i += 2)
        sites_free(30 * i + 7, i + 1);
    assert_int_equal(sites_count(), 10000);
    assert_false(sites_failed());
    while ((k = sites_take_deltas(out + n, 1000)) > 0)
        n += k;
    assert_int_equal(n, 10000);
    for (size_t i = 0; i < n; i++) {
        uint32_t j = (out[i].stack - 7) / 30;

        assert_int_equal(out[i].stack, 30 * j + 7);
        assert_int_equal(out[i].bytes_allocated, j + 1);
        assert_int_equal(out[i].live_bytes, j % 2 ? j + 1 : 0);
        sum += out[i].bytes_allocated;
    }
    assert_int_equal(sum, 10000ull * 10001 / 2);
    /* stack ids to 299977: 524288 words; sites: 16384 */
    assert_int_equal(sites_mapped_bytes(),
                     524288 * 4 + 16384 * sizeof(struct site) + 16384 * sizeof(uint32_t));
}

/* A stack node's sent mark is kept whether or not its stack allocates, and
 * does not touch the figures. */
static void test_defined(void **state)
{
    (void)state;
    assert_int_equal(sites_defined(12), SITES_UNSENT);
    assert_int_equal(sites_defined(1u << 20), SITES_UNSENT); /* past the map */
    sites_set_defined(12, SITES_QUEUED);
    sites_set_defined(100000, SITES_SENT);
    assert_int_equal(sites_defined(12), SITES_QUEUED);
    assert_int_equal(sites_defined(100000), SITES_SENT);
    assert_int_equal(sites_count(), 0);

    sites_alloc(12, 5);
    assert_int_equal(sites_defined(12), SITES_QUEUED);
    sites_set_defined(12, SITES_SENT);
    assert_int_equal(sites_get(12)->live_bytes, 5);
    assert_int_equal(sites_defined(12), SITES_SENT);
    assert_int_equal(sites_count(), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_figures_and_deltas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_defined, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
