/*
 * test_widget.c - the TUI's pure widgets rendered into buffers: exact strings
 * for known inputs (numbers, braille / block / ASCII sparklines, rows).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "widget.h"

static void test_fmt_bytes(void **state)
{
    char b[32];
    (void)state;
    widget_fmt_bytes(b, sizeof b, 0, 0);
    assert_string_equal(b, "0B");
    widget_fmt_bytes(b, sizeof b, 1023, 0);
    assert_string_equal(b, "1023B");
    widget_fmt_bytes(b, sizeof b, 1024, 0);
    assert_string_equal(b, "1.00K");
    widget_fmt_bytes(b, sizeof b, 1536, 0);
    assert_string_equal(b, "1.50K");
    widget_fmt_bytes(b, sizeof b, 102400, 0);
    assert_string_equal(b, "100K");
    widget_fmt_bytes(b, sizeof b, 1048576, 0);
    assert_string_equal(b, "1.00M");
    widget_fmt_bytes(b, sizeof b, 1048575, 0); /* 1023.999K must not print "1024K" */
    assert_string_equal(b, "1.00M");
    widget_fmt_bytes(b, sizeof b, 3 * 1048576 + 1048576 / 2, 1);
    assert_string_equal(b, "+3.50M");
    widget_fmt_bytes(b, sizeof b, -200, 1);
    assert_string_equal(b, "-200B");
    widget_fmt_bytes(b, sizeof b, 0, 1);
    assert_string_equal(b, "0B");
    widget_fmt_bytes(b, sizeof b, (int64_t)5 << 30, 0);
    assert_string_equal(b, "5.00G");
}

static void test_fmt_numbers(void **state)
{
    char b[32];
    (void)state;
    widget_fmt_count(b, sizeof b, 999);
    assert_string_equal(b, "999");
    widget_fmt_count(b, sizeof b, 1234);
    assert_string_equal(b, "1.23k");
    widget_fmt_count(b, sizeof b, 45600000);
    assert_string_equal(b, "45.6M");
    widget_fmt_exact(b, sizeof b, 1048576);
    assert_string_equal(b, "1,048,576");
    widget_fmt_exact(b, sizeof b, 999);
    assert_string_equal(b, "999");
    widget_fmt_exact(b, sizeof b, -1000);
    assert_string_equal(b, "-1,000");
    widget_fmt_time(b, sizeof b, 0);
    assert_string_equal(b, "0.000s");
    widget_fmt_time(b, sizeof b, 12345678901LL);
    assert_string_equal(b, "12.345s");
    widget_fmt_time(b, sizeof b, 125300000000LL);
    assert_string_equal(b, "2m05.3s");
    widget_fmt_time(b, sizeof b, 3720LL * 1000000000LL);
    assert_string_equal(b, "1h02m");
}

static void test_spark_block(void **state)
{
    char b[128];
    int64_t v[] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    (void)state;
    assert_int_equal(widget_spark(b, sizeof b, v, 9, 8, WIDGET_SPARK_BLOCK, 1, 0), 9);
    assert_string_equal(b, " ▁▂▃▄▅▆▇█");
    /* two rows: the top row starts where the bottom one is full */
    int64_t w[] = {0, 4, 8, 12, 16};
    widget_spark(b, sizeof b, w, 5, 16, WIDGET_SPARK_BLOCK, 2, 1);
    assert_string_equal(b, " ▄███");
    widget_spark(b, sizeof b, w, 5, 16, WIDGET_SPARK_BLOCK, 2, 0);
    assert_string_equal(b, "   ▄█");
}

static void test_spark_braille(void **state)
{
    char b[128];
    int64_t v[] = {0, 0, 1, 4, 4, 1, 2, 3};
    (void)state;
    assert_int_equal(widget_spark(b, sizeof b, v, 8, 4, WIDGET_SPARK_BRAILLE, 1, 0), 4);
    /* (0,0) blank; (1,4) U+2800+0x40+0xb8; (4,1) 0x47+0x80; (2,3) 0x44+0xb0 */
    assert_string_equal(b, " \u28f8\u28c7\u28f4");
    /* an odd count pads the last cell with 0; a tiny value still shows */
    int64_t t[] = {1, 1000, 1};
    widget_spark(b, sizeof b, t, 3, 1000, WIDGET_SPARK_BRAILLE, 1, 0);
    assert_string_equal(b, "\u28f8\u2840");
}

static void test_spark_ascii(void **state)
{
    char b[64];
    int64_t v[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, -5};
    (void)state;
    widget_spark(b, sizeof b, v, 10, 8, WIDGET_SPARK_ASCII, 1, 0);
    assert_string_equal(b, " ._-:=+*# ");
    widget_spark(b, sizeof b, v, 10, 0, WIDGET_SPARK_ASCII, 1, 0);
    assert_string_equal(b, "          ");
    /* a small buffer is cut on a whole code point */
    widget_spark(b, 5, v + 7, 2, 8, WIDGET_SPARK_BLOCK, 1, 0);
    assert_string_equal(b, "▇");
}

static void test_row(void **state)
{
    char b[256];
    (void)state;
    struct widget_col cols[] = {
        {"main_alloc", -1, WIDGET_LEFT},
        {"src/a.c:12", 8, WIDGET_LEFT_CUT_HEAD},
        {"1.00M", 6, WIDGET_RIGHT},
        {"▁▂█", 3, WIDGET_LEFT},
    };
    widget_row(b, sizeof b, cols, 4, 40);
    assert_string_equal(b, "main_alloc           ~/a.c:12  1.00M ▁▂█");
    assert_int_equal(widget_width(b), 40);
    widget_row(b, sizeof b, cols, 4, 24);
    assert_string_equal(b, "mai~ ~/a.c:12  1.00M ▁▂█");
    assert_int_equal(widget_width(b), 24);
    /* narrower than the fixed columns: cut at the width, never more */
    widget_row(b, sizeof b, cols, 4, 10);
    assert_int_equal(widget_width(b), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_bytes),   cmocka_unit_test(test_fmt_numbers),
        cmocka_unit_test(test_spark_block), cmocka_unit_test(test_spark_braille),
        cmocka_unit_test(test_spark_ascii), cmocka_unit_test(test_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
