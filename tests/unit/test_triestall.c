/*
 * test_triestall.c - the stack trie when the thread growing its index is
 * held up: built from collector/trie.c with a small first index and a hook
 * at its race points, where the test runs, on the grower's own stack (as a
 * signal handler would), the interning that other threads would do while
 * the grower is preempted. Every stack keeps one id and none is cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define TRIE_MIN_SLOTS (1u << 8)
#define TRIE_RACE_POINT(where) race_point(where)
static void race_point(int where);
#include "trie.c"

void core_say(const char *msg);
void core_say(const char *msg)
{
    (void)msg;
}

#define STACKS 1000
#define MIDDLES 10
#define HELD_FROM 500 /* the stacks interned while the grower is held up */
static uint32_t ids[STACKS], held_ids[STACKS];
static int stall_at, stalled;

static uint32_t intern_k(int k)
{
    uintptr_t ips[3] = {0x100000 + (uintptr_t)k * 16, 0x2000 + (uintptr_t)(k % MIDDLES) * 16,
                        0x1000};

    return trie_intern(ips, 3);
}

/* At the chosen point of the first growth: the stacks already interned are
 * found again, and 500 new ones (past 7/8 of the next index) go in. */
static void race_point(int where)
{
    if (where != stall_at || stalled)
        return;
    stalled = 1;
    for (int k = 0; k < HELD_FROM; k++)
        if (ids[k])
            held_ids[k] = intern_k(k);
    for (int k = HELD_FROM; k < STACKS; k++)
        held_ids[k] = intern_k(k);
}

static void held_up_at(int point)
{
    uint32_t parent;
    uint64_t ip;

    assert_int_equal(trie_init(), 0);
    stall_at = point;
    stalled = 0;
    for (int k = 0; k < STACKS; k++)
        ids[k] = held_ids[k] = 0;
    for (int k = 0; k < STACKS; k++)
        ids[k] = intern_k(k);
    assert_int_equal(stalled, 1);
    for (int k = 0; k < STACKS; k++) {
        if (held_ids[k])
            assert_int_equal(held_ids[k], ids[k]);
        assert_int_equal(intern_k(k), ids[k]);
        assert_int_equal(trie_node(ids[k], &parent, &ip), 0); /* a leaf, not a cut stack */
        assert_int_equal(ip, 0x100000 + (uintptr_t)k * 16);
    }
    /* 1 + 10 + 1000 nodes, each once: single-threaded, no id is lost */
    assert_int_equal(trie_lost_ids(), 0);
    assert_int_equal(trie_limit(), 1 + 1 + MIDDLES + STACKS);
    trie_reset();
}

/* The grower claimed the next index but was held up before publishing it
 * (in mmap, say): the first index used to fill, then cut every new stack. */
static void test_held_before_publishing(void **state)
{
    (void)state;
    held_up_at(5);
}

/* Held up as its copy began: the new index used to fill, the copy then
 * dropped ids, and a stack interned again got a second id. */
static void test_held_while_copying(void **state)
{
    (void)state;
    held_up_at(6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_before_publishing),
        cmocka_unit_test(test_held_while_copying),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
