/*
 * test_strpool.c - interned strings (tui/strpool.c) over the shared index
 * (tui/hashtab.c): one pointer per distinct bytes across rehashes and
 * chunks, and strings that outlive the pool once its chunks are handed over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strpool.h"

static void test_one_pointer_per_string(void **state)
{
    struct strpool p = {0};
    const char *first[5000];
    char buf[64];

    (void)state;
    assert_string_equal(strpool_intern(&p, "", 0), "");
    assert_string_equal(strpool_intern(&p, NULL, 3), "");
    /* 5000 strings: several rehashes of the index (1024 at first) */
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof(buf), "function_%d", i);
        first[i] = strpool_intern(&p, buf, (size_t)n);
        assert_non_null(first[i]);
        assert_string_equal(first[i], buf);
    }
    assert_int_equal(p.n, 5000);
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(buf, sizeof(buf), "function_%d", i);
        assert_ptr_equal(strpool_intern(&p, buf, (size_t)n), first[i]);
    }
    /* n bytes of a longer buffer, no NUL among them: a prefix is its own string */
    assert_ptr_equal(strpool_intern(&p, "function_12xyz", 11), first[12]);
    assert_ptr_not_equal(strpool_intern(&p, "function_1", 9), first[1]);
    assert_string_equal(strpool_intern(&p, "function_1", 9), "function_");
    assert_int_equal(p.n, 5001);
    strpool_free(&p);
}

/* A string longer than a chunk gets a chunk of its own; handed-over chunks
 * keep every string readable after the pool is emptied. */
static void test_hand_over(void **state)
{
    struct strpool p = {0};
    size_t big_n = 100000, n_chunks;
    char *big = malloc(big_n);
    const char *a, *b, *c;
    void **chunks;

    (void)state;
    assert_non_null(big);
    memset(big, 'x', big_n);
    a = strpool_intern(&p, "parse", 5);
    b = strpool_intern(&p, big, big_n);
    c = strpool_intern(&p, "main", 4);
    assert_int_equal(strlen(b), big_n);
    assert_int_equal(strpool_hand_over(&p, &chunks, &n_chunks), 0);
    assert_true(n_chunks >= 2);
    assert_int_equal(p.n, 0);
    assert_string_equal(a, "parse");
    assert_string_equal(c, "main");
    assert_int_equal(strlen(b), big_n);
    /* the emptied pool interns afresh */
    assert_ptr_not_equal(strpool_intern(&p, "parse", 5), a);
    for (size_t i = 0; i < n_chunks; i++)
        free(chunks[i]);
    free(chunks);
    strpool_free(&p);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_pointer_per_string),
        cmocka_unit_test(test_hand_over),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
