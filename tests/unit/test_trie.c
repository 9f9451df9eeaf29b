/*
 * test_trie.c - stack interning: one id per distinct stack, parents before
 * children, prefixes shared, the same ids from several threads racing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "trie.h"

void core_say(const char *msg);
void core_say(const char *msg)
{
    (void)msg;
}

static void test_basic(void **state)
{
    uintptr_t a[3] = {0x30, 0x20, 0x10}; /* innermost first */
    uintptr_t b[2] = {0x20, 0x10};       /* a's parent */
    uintptr_t c[3] = {0x31, 0x20, 0x10}; /* a's sibling */
    uint32_t ia, ib, ic, parent;
    uint64_t ip;

    (void)state;
    assert_int_equal(trie_init(), 0);
    ia = trie_intern(a, 3);
    ib = trie_intern(b, 2);
    ic = trie_intern(c, 3);
    assert_true(ia > 0 && ib > 0 && ic > 0);
    assert_int_equal(trie_intern(a, 3), ia);
    assert_int_not_equal(ia, ic);
    assert_int_equal(trie_node(ia, &parent, &ip), 0);
    assert_int_equal(parent, ib);
    assert_int_equal(ip, 0x30);
    assert_true(parent < ia);
    assert_int_equal(trie_node(ic, &parent, &ip), 0);
    assert_int_equal(parent, ib);
    assert_int_equal(trie_intern(NULL, 0), 0);
    trie_reset();
}

#define THREADS 4
#define STACKS 2000
static uint32_t ids[THREADS][STACKS];

static void *racer(void *arg)
{
    long t = (long)arg;

    for (int k = 0; k < STACKS; k++) {
        uintptr_t ips[8];
        for (int j = 0; j < 8; j++)
            ips[j] = 0x1000 + (uintptr_t)((k >> j) & 7) * 16 + (uintptr_t)j;
        ids[t][k] = trie_intern(ips, 8);
    }
    return NULL;
}

static void test_race(void **state)
{
    pthread_t th[THREADS];

    (void)state;
    assert_int_equal(trie_init(), 0);
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, racer, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int k = 0; k < STACKS; k++)
        for (int t = 1; t < THREADS; t++)
            assert_int_equal(ids[t][k], ids[0][k]);
    /* every published node's parent is published and smaller */
    for (uint32_t id = 1; id < trie_limit(); id++) {
        uint32_t parent;
        uint64_t ip;

        if (trie_node(id, &parent, &ip) == 0 && parent)
            assert_true(parent < id);
    }
    trie_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
