/*
 * test_untracked.c - the blocks the hooks hand out untracked: noted with
 * their kind, forgotten when freed with the guard set, the slot of a freed
 * block reused (64K slots hold far more than 64K blocks over a run), never
 * stored as the address itself, and nothing noted when switched off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "untracked.h"

#define BASE 0x5555000010a0ull

static void test_kinds(void **state)
{
    (void)state;
    untracked_set(UNTRACKED_ALL);
    untracked_alloc((void *)(uintptr_t)BASE, 1);
    untracked_alloc((void *)(uintptr_t)(BASE + 16), 0);
    assert_int_equal(untracked_kind(BASE), UNTRACKED_OWN);
    assert_int_equal(untracked_kind(BASE + 16), UNTRACKED_OFF);
    assert_int_equal(untracked_kind(BASE + 32), UNTRACKED_NONE);
    untracked_free((void *)(uintptr_t)BASE, 0); /* a free without the guard: noted still */
    assert_int_equal(untracked_kind(BASE), UNTRACKED_OWN);
    untracked_free((void *)(uintptr_t)BASE, 1);
    assert_int_equal(untracked_kind(BASE), UNTRACKED_NONE);
    untracked_alloc((void *)(uintptr_t)BASE, 0); /* the address again, now the program's */
    assert_int_equal(untracked_kind(BASE), UNTRACKED_OFF);
    untracked_alloc((void *)(uintptr_t)(BASE + 8), 1); /* not 16-aligned: not glibc's */
    assert_int_equal(untracked_kind(BASE + 8), UNTRACKED_NONE);
    /* guarded only: a block allocated with tracking off is not noted */
    untracked_set(UNTRACKED_GUARDED);
    untracked_alloc((void *)(uintptr_t)(BASE + 48), 0);
    assert_int_equal(untracked_kind(BASE + 48), UNTRACKED_NONE);
    untracked_set(0);
    untracked_alloc((void *)(uintptr_t)(BASE + 64), 1);
    assert_int_equal(untracked_kind(BASE + 64), UNTRACKED_NONE);
}

static void test_reuse(void **state)
{
    uint64_t dropped = untracked_dropped();

    (void)state;
    untracked_set(UNTRACKED_GUARDED);
    /* a million blocks, 1000 alive at a time: freed slots are taken again */
    for (uint64_t i = 0; i < 1000000; i++) {
        untracked_alloc((void *)(uintptr_t)(0x7f0000000000ull + 16 * i), 1);
        if (i >= 1000)
            untracked_free((void *)(uintptr_t)(0x7f0000000000ull + 16 * (i - 1000)), 1);
    }
    assert_int_equal(untracked_dropped(), dropped);
    for (uint64_t i = 1000000 - 1000; i < 1000000; i++)
        assert_int_equal(untracked_kind(0x7f0000000000ull + 16 * i), UNTRACKED_OWN);
    assert_int_equal(untracked_kind(0x7f0000000000ull + 16 * 5), UNTRACKED_NONE);
}

/* The table (in this program's bss) never holds a pointer to a noted block:
 * a scan reads the collector's bss. */
extern char __bss_start, _end;

/* Words of the bss in [lo, hi) (the whole bss is read: not under ASan's eye). */
__attribute__((no_sanitize("address"))) static size_t bss_words_in(uint64_t lo, uint64_t hi)
{
    const uint64_t *w = (const uint64_t *)(((uintptr_t)&__bss_start + 7) & ~(uintptr_t)7);
    size_t n = 0;

    for (; (const char *)(w + 1) <= &_end; w++) {
        uint64_t v;
        __builtin_memcpy(&v, w, 8);
        n += v >= lo && v < hi;
    }
    return n;
}

static void test_no_pointers(void **state)
{
    (void)state;
    assert_int_equal(
        bss_words_in(0x7f0000000000ull + 16 * (1000000 - 1000), 0x7f0000000000ull + 16 * 1000000),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_no_pointers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
