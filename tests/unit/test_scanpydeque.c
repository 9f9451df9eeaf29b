/*
 * test_scanpydeque.c - a collections.deque's blocks and the bytes of each
 * that hold items, from deques built as _collectionsmodule.c builds them
 * (3.11's layout: 64 slots a block, leftindex 32 for a new deque): a deque
 * over three blocks lists its left block from leftindex on, its middle one
 * whole and its right one up to rightindex; one block between the indices;
 * an empty deque nothing; its cached free blocks nothing at all; and a
 * deque whose fields do not add up (indices, length, a chain that ends
 * early, a misaligned link, more blocks than room) lists none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "scanpy.h"
#include "scanpy_layout.h"

/* 3.11's dequeobject and block (Modules/_collectionsmodule.c) */
static const struct scanpy_layout lay = {
    .var_size = 16,
    .gc_head = 16,
    .deque_basic = 216,
    .deque_leftblock = 24,
    .deque_rightblock = 32,
    .deque_leftindex = 40,
    .deque_rightindex = 48,
    .deque_numfree = 72,
    .deque_freeblocks = 80,
    .deque_maxfree = 16,
    .deque_blocklen = 64,
};

#define BLOCK_WORDS 66 /* leftlink, data[64], rightlink */

static uint64_t blocks[6][BLOCK_WORDS];
static uint64_t ob[27];
static struct scanpy py = {.lay = &lay};

static uint64_t addr_of(int i)
{
    return (uint64_t)(uintptr_t)blocks[i];
}

/* A deque of len items from leftindex li over blocks 0..n-1, linked. */
static struct scanpy_obj make_deque(uint64_t li, uint64_t len, int n)
{
    struct scanpy_obj o = {.ob = (uint64_t)(uintptr_t)ob, .kind = SCANPY_DEQUE};

    memset(ob, 0, sizeof(ob));
    memset(blocks, 0xab, sizeof(blocks)); /* never written: stale */
    for (int i = 0; i + 1 < n; i++) {
        blocks[i][BLOCK_WORDS - 1] = addr_of(i + 1);
        blocks[i + 1][0] = addr_of(i);
    }
    ob[2] = len;
    ob[3] = addr_of(0);
    ob[4] = addr_of(n - 1);
    ob[5] = li;
    ob[6] = len ? (li + len - 1) % 64 : li - 1;
    ob[8] = (uint64_t)-1; /* maxlen: unbounded */
    return o;
}

static void test_three_blocks(void **state)
{
    struct scanpy_dqblock out[8];
    struct scanpy_obj o = make_deque(32, 100, 3); /* items 32..131: rightindex 3 */

    (void)state;
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 3);
    assert_true(out[0].addr == addr_of(0) && out[0].vlo == 8 + 8 * 32 && out[0].vhi == 528);
    assert_true(out[1].addr == addr_of(1) && out[1].vlo == 0 && out[1].vhi == 528);
    assert_true(out[2].addr == addr_of(2) && out[2].vlo == 0 && out[2].vhi == 8 + 8 * 4);
}

static void test_one_block(void **state)
{
    struct scanpy_dqblock out[8];
    struct scanpy_obj o = make_deque(10, 5, 1); /* items 10..14 */

    (void)state;
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 1);
    assert_true(out[0].addr == addr_of(0) && out[0].vlo == 88 && out[0].vhi == 128);
}

static void test_empty_and_free_blocks(void **state)
{
    struct scanpy_dqblock out[8];
    struct scanpy_obj o = make_deque(32, 0, 1); /* a new deque: leftindex 32, rightindex 31 */

    (void)state;
    ob[9] = 2; /* numfreeblocks */
    ob[10] = addr_of(4);
    ob[11] = addr_of(5);
    ob[12] = addr_of(3); /* past numfreeblocks: not one of them */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 3);
    assert_true(out[0].addr == addr_of(0) && out[0].vlo == out[0].vhi);
    assert_true(out[1].addr == addr_of(4) && out[1].vlo == 0 && out[1].vhi == 0);
    assert_true(out[2].addr == addr_of(5) && out[2].vlo == 0 && out[2].vhi == 0);
}

static void test_fields_that_do_not_add_up(void **state)
{
    struct scanpy_dqblock out[8];
    struct scanpy_obj o;

    (void)state;
    o = make_deque(32, 100, 3);
    ob[6] = 4; /* rightindex disagrees with the length */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 100, 3);
    ob[5] = 64; /* leftindex past a block */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 100, 3);
    ob[4] = addr_of(1); /* the chain reaches rightblock a block early */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 100, 3);
    blocks[0][BLOCK_WORDS - 1] = addr_of(1) + 4; /* a misaligned link */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 0, 2); /* empty, but over two blocks */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 100, 3);
    ob[9] = 17; /* more free blocks than a deque keeps */
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
    o = make_deque(32, 100, 3);
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 2), 0); /* no room for its blocks */
    o = make_deque(32, 100, 3);
    o.kind = SCANPY_LIST;
    assert_int_equal(scanpy_deque_blocks(&py, &o, out, 8), 0);
}

static void test_object_bytes(void **state)
{
    struct scanpy none = {0};

    (void)state;
    assert_int_equal(scanpy_deque_object_bytes(&py), 232);
    assert_int_equal(scanpy_deque_object_bytes(&none), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_blocks),
        cmocka_unit_test(test_one_block),
        cmocka_unit_test(test_empty_and_free_blocks),
        cmocka_unit_test(test_fields_that_do_not_add_up),
        cmocka_unit_test(test_object_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
