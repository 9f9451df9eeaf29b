/*
 * test_size.c - the one size parser (check's limits) and the size printer:
 * every unit spelling, fractions, the refusals, and the 2^62 ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "size.h"

static uint64_t parsed(const char *s)
{
    uint64_t v = 12345;

    assert_int_equal(size_parse(s, &v), 0);
    return v;
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parsed("0"), 0);
    assert_int_equal(parsed("4096"), 4096);
    assert_int_equal(parsed("100B"), 100);
    assert_int_equal(parsed("512K"), 512 * 1024);
    assert_int_equal(parsed("512k"), 512 * 1024);
    assert_int_equal(parsed("512KB"), 512 * 1024);
    assert_int_equal(parsed("512KiB"), 512 * 1024);
    assert_int_equal(parsed("10MiB"), 10 << 20);
    assert_int_equal(parsed("10 MB"), 10 << 20);
    assert_int_equal(parsed("10m"), 10 << 20);
    assert_int_equal(parsed("1G"), 1ull << 30);
    assert_int_equal(parsed("1gib"), 1ull << 30);
    assert_int_equal(parsed("2T"), 2ull << 40);
    /* fractions round to the nearest byte */
    assert_int_equal(parsed("1.5K"), 1536);
    assert_int_equal(parsed("4.5K"), 4608);
    assert_int_equal(parsed(".5M"), 512 * 1024);
    assert_int_equal(parsed("0.001K"), 1);
    /* the ceiling is 2^62 bytes, i.e. 4 EiB = 4194304 TiB */
    assert_int_equal(parsed("4194304T"), 1ull << 62);
}

static void test_refused(void **state)
{
    static const char *const bad[] = {"",     "K",     "-1",   "-1K",   "1X",       "10MiBs",
                                      "1 K ", " 1K",   "1  K", "1e400", "4194305T", "nan",
                                      "inf",  "0x10K", "1,5K", "1KiB2", NULL};
    uint64_t v;

    (void)state;
    for (int i = 0; bad[i]; i++) {
        v = 777;
        if (size_parse(bad[i], &v) != -1)
            fail_msg("'%s' was accepted as %llu", bad[i], (unsigned long long)v);
        assert_int_equal(v, 777); /* untouched */
    }
    assert_int_equal(size_parse(NULL, &v), -1);
}

static void test_format(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(size_format(buf, sizeof(buf), 0), "0 B");
    assert_string_equal(size_format(buf, sizeof(buf), 1023), "1023 B");
    assert_string_equal(size_format(buf, sizeof(buf), 1024), "1.00 KiB");
    assert_string_equal(size_format(buf, sizeof(buf), 9224), "9.01 KiB");
    assert_string_equal(size_format(buf, sizeof(buf), -2000), "-1.95 KiB");
    assert_string_equal(size_format(buf, sizeof(buf), 10 << 20), "10.00 MiB");
    assert_string_equal(size_format(buf, sizeof(buf), 3.0 * (1ull << 40)), "3.00 TiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
