/*
 * test_estimate.c - the 95% bound of a sampled block count against the
 * sampling itself: blocks of one size picked as the collector picks them
 * (p = 1 - e^(-s/R), each picked block counting 1 / p, protocol/weight.h),
 * many times over with a fixed seed, land within the bound of their own
 * estimate about 95% of the time; and the bound is the bytes' bound over the
 * mean size, as tui/estimate.h derives it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "estimate.h"
#include "weight.h"

static uint64_t seed = 88172645463325252ull;

static double uniform(void) /* xorshift64: the same draws on every run */
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (double)(seed >> 11) / 9007199254740992.0;
}

/* Of trials samplings of n blocks of size s at rate r: how many estimates
 * lie within their own bound of n. */
static int covered(uint64_t r, uint64_t s, int n, int trials)
{
    double p = -expm1(-(double)s / (double)r);
    uint64_t wbytes, wblocks_fp;
    int in = 0;

    weight_of(r, s, &wbytes, &wblocks_fp);
    for (int t = 0; t < trials; t++) {
        uint64_t blocks_fp = 0, bytes = 0;

        for (int i = 0; i < n; i++)
            if (uniform() < p) {
                blocks_fp += wblocks_fp;
                bytes += wbytes;
            }
        int64_t est = (int64_t)((blocks_fp + 32768) / 65536);
        uint64_t bound = estimate_blocks_error(r, (int64_t)bytes, est);
        if (est - n <= (int64_t)bound && n - est <= (int64_t)bound)
            in++;
    }
    return in;
}

/* 2000 samplings each: 1900 expected within the bound, binomial sd 10 */
static void test_blocks_bound_covers_95(void **state)
{
    (void)state;
    int a = covered(4096, 64, 2000, 2000);     /* x = 1/64: ~31 picked of 2000 */
    int b = covered(524288, 4096, 5000, 2000); /* x = 1/128: ~39 picked of 5000 */
    int c = covered(4096, 1024, 300, 2000);    /* x = 1/4: ~66 picked of 300 */

    print_message("within the 95%% bound: %d, %d, %d of 2000\n", a, b, c);
    assert_in_range(a, 1860, 1940);
    assert_in_range(b, 1860, 1940);
    assert_in_range(c, 1860, 1940);
}

static void test_blocks_bound_is_bytes_bound_over_mean_size(void **state)
{
    (void)state;
    /* t_sample's site_small sampled at 4 KiB: 117199 blocks, 7500576 bytes */
    uint64_t blocks = estimate_blocks_error(4096, 7500576, 117199);
    uint64_t bytes = estimate_error(4096, 7500576, 117199);

    assert_int_equal(blocks, (uint64_t)llround((double)bytes / (7500576.0 / 117199.0)));
    assert_int_equal(estimate_blocks_error(0, 7500576, 117199), 0); /* exact */
    assert_int_equal(estimate_blocks_error(4096, 0, 0), 0);         /* nothing */
    assert_int_equal(estimate_blocks_error(4096, 6 << 20, 6), 0);   /* 1 MiB blocks at 4K */
    assert_int_not_equal(estimate_blocks_error(4096, 0, 10), 0);    /* 0-byte blocks: as 1 */
}

static void test_format_count(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(estimate_format_count(buf, sizeof buf, 1547), "+-1547");
    assert_string_equal(estimate_format_count(buf, sizeof buf, 0), "+-0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_bound_covers_95),
        cmocka_unit_test(test_blocks_bound_is_bytes_bound_over_mean_size),
        cmocka_unit_test(test_format_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
