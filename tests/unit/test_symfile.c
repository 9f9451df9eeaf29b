/*
 * test_symfile.c - symfile_sort orders function symbols as the lookups need
 * them: by start, the preferred alias (global, weak, local) first, aliases of
 * one rank in table order; and symfile_find then names the function covering
 * an address; symfile_cover says where libdwfl may find a name at all. Checked against a plain
 * insertion sort on tables shaped like a library's (starts sharing their high bytes) and on starts
 * that differ in every byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "symfile.h"

static int before(const struct symfile_sym *a, const struct symfile_sym *b)
{
    return a->lo < b->lo || (a->lo == b->lo && a->rank > b->rank);
}

/* the order wanted: stable, by (start, rank descending) */
static void insertion_sort(struct symfile_sym *v, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && before(&v[j], &v[j - 1]); j--) {
            struct symfile_sym t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* n symbols with starts base + (random & mask), many of them aliases */
static void check_random(size_t n, uint64_t base, uint64_t mask)
{
    struct symfile_sym *a = calloc(n, sizeof(*a)), *b = calloc(n, sizeof(*b));
    static char names[4096];

    assert_non_null(a);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = base + (next() & mask);

        if (i > 0 && next() % 4 == 0)
            lo = a[next() % i].lo; /* an alias of an earlier one */
        a[i] = (struct symfile_sym){lo, lo + 16, &names[i % sizeof(names)], (int)(next() % 3)};
    }
    memcpy(b, a, n * sizeof(*a));
    symfile_sort(a, n);
    insertion_sort(b, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a[i].lo, b[i].lo);
        assert_int_equal(a[i].rank, b[i].rank);
        assert_ptr_equal(a[i].name, b[i].name); /* aliases of one rank in table order */
    }
    free(a);
    free(b);
}

static void test_library_shaped(void **state)
{
    (void)state;
    check_random(3000, 0x7f3a12000000ull, 0x1fffff); /* a 2 MiB library */
}

static void test_every_byte(void **state)
{
    (void)state;
    check_random(3000, 0, ~0ull);
}

static void test_small(void **state)
{
    (void)state;
    for (size_t n = 0; n < 40; n++)
        check_random(n, 0x400000, 0xfff);
}

static void test_find(void **state)
{
    struct symfile_sym v[] = {
        {0x2000, 0x2100, "weak_b", 1},  {0x1000, 0x1080, "f", 2}, {0x2000, 0x2100, "b", 2},
        {0x2000, 0x2100, "local_b", 0}, {0x1100, 0x1200, "g", 0},
    };
    const struct symfile_sym *s;

    (void)state;
    symfile_sort(v, 5);
    assert_string_equal(v[0].name, "f");
    assert_string_equal(v[2].name, "b"); /* global before weak before local */
    assert_string_equal(v[3].name, "weak_b");
    assert_string_equal(v[4].name, "local_b");
    s = symfile_find(v, 5, 0x2050);
    assert_non_null(s);
    assert_string_equal(s->name, "b");
    s = symfile_find(v, 5, 0x1150);
    assert_non_null(s);
    assert_string_equal(s->name, "g");
    assert_null(symfile_find(v, 5, 0x1090)); /* between f and g */
    assert_null(symfile_find(v, 5, 0x0fff));
}

/* where libdwfl may name something: inside a sized symbol (one nested in
 * another included), or at and above a sizeless one; nothing else */
static void test_cover(void **state)
{
    struct symfile_sym v[] = {
        {0x2100, 0x2200, NULL, 0},
        {0x5000, UINT64_MAX, NULL, 0}, /* sizeless */
        {0x1000, 0x1100, NULL, 0},
        {0x2000, 0x3000, NULL, 0},
    };
    struct symfile_cover c, none = {0};

    (void)state;
    assert_int_equal(symfile_cover_build(&c, v, 4), 0);
    assert_int_equal(symfile_cover_may(&c, 0x0fff), 0);
    assert_int_equal(symfile_cover_may(&c, 0x1000), 1);
    assert_int_equal(symfile_cover_may(&c, 0x10ff), 1);
    assert_int_equal(symfile_cover_may(&c, 0x1100), 0);
    assert_int_equal(symfile_cover_may(&c, 0x2500), 1); /* past the nested one, in the outer */
    assert_int_equal(symfile_cover_may(&c, 0x3000), 0);
    assert_int_equal(symfile_cover_may(&c, 0x4fff), 0);
    assert_int_equal(symfile_cover_may(&c, 0x5000), 1);
    assert_int_equal(symfile_cover_may(&c, 0x7fffffffffffull), 1);
    symfile_cover_free(&c);
    assert_int_equal(symfile_cover_may(&none, 0x1234), 1); /* not built: anywhere */
    assert_int_equal(symfile_cover_build(&c, v, 0), 0);
    assert_int_equal(symfile_cover_may(&c, 0x1234), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_shaped), cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_small),          cmocka_unit_test(test_find),
        cmocka_unit_test(test_cover),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
