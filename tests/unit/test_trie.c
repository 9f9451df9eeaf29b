/*
 * test_trie.c - stack interning: one id per distinct stack, parents before
 * children, prefixes shared, the same ids from several threads racing.
 */
#include <pthread.h>
#include <stdatomic.h>
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

/* Interning below a known prefix gives the ids interning the whole stack
 * gives, and the node of each prefix. */
static void test_below(void **state)
{
    uintptr_t a[4] = {0x40, 0x30, 0x20, 0x10}; /* innermost first */
    uintptr_t c[4] = {0x41, 0x31, 0x20, 0x10}; /* shares a's two outer frames */
    uint32_t ids[4] = {0, 0, 0, 0}, ic, parent;
    uint64_t ip;
    int done;

    (void)state;
    assert_int_equal(trie_init(), 0);
    assert_int_equal(trie_intern_below(0, a, 4, ids, &done), trie_intern(a, 4));
    assert_int_equal(done, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ids[i], trie_intern(a + i, 4 - i));
    ic = trie_intern(c, 4);
    assert_int_equal(trie_intern_below(ids[2], c, 2, NULL, &done), ic);
    assert_int_equal(done, 2);
    assert_int_equal(trie_node(ic, &parent, &ip), 0);
    assert_int_equal(ip, 0x41);
    assert_int_equal(trie_intern_below(ids[0], a, 0, NULL, &done), ids[0]);
    assert_int_equal(done, 0);
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

/* Many more stacks than the first index holds, interned by racing threads
 * while the index doubles under them (and the collector's maintenance runs
 * beside them): every thread gets the same id for the same stack, each id
 * names its own (parent, ip), and the memory follows the count. */
#define GROW_STACKS 60000
static uint32_t gids[THREADS][GROW_STACKS];
static atomic_int grow_done;

static void grow_ips(int k, uintptr_t ips[3])
{
    ips[0] = 0x100000 + (uintptr_t)k * 16; /* a distinct leaf per stack */
    ips[1] = 0x2000 + (uintptr_t)(k % 50) * 16;
    ips[2] = 0x1000;
}

static void *grow_racer(void *arg)
{
    long t = (long)arg;

    for (int i = 0; i < GROW_STACKS; i++) {
        int k = t & 1 ? GROW_STACKS - 1 - i : i; /* two threads from each end */
        uintptr_t ips[3];

        grow_ips(k, ips);
        gids[t][k] = trie_intern(ips, 3);
    }
    return NULL;
}

static void *maintainer(void *arg)
{
    (void)arg;
    while (!atomic_load(&grow_done))
        trie_maintain();
    return NULL;
}

static void test_grow(void **state)
{
    pthread_t th[THREADS], m;

    (void)state;
    assert_int_equal(trie_init(), 0);
    assert_true(trie_bytes() <= (256u << 10)); /* nothing reserved up front */
    atomic_store(&grow_done, 0);
    pthread_create(&m, NULL, maintainer, NULL);
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, grow_racer, (void *)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    atomic_store(&grow_done, 1);
    pthread_join(m, NULL);
    for (int k = 0; k < GROW_STACKS; k++) {
        uintptr_t ips[3];
        uint32_t parent, mid;
        uint64_t ip;

        grow_ips(k, ips);
        assert_true(gids[0][k] > 0);
        for (int t = 1; t < THREADS; t++)
            assert_int_equal(gids[t][k], gids[0][k]);
        assert_int_equal(trie_intern(ips, 3), gids[0][k]); /* found again, after growth */
        assert_int_equal(trie_node(gids[0][k], &parent, &ip), 0);
        assert_int_equal(ip, ips[0]);
        assert_int_equal(trie_node(parent, &mid, &ip), 0);
        assert_int_equal(ip, ips[1]);
    }
    /* 60051 distinct nodes (the root frame, 50 middle ones, 60000 leaves)
     * and no duplicate: every id handed out (from 1) is a node or lost a
     * race (a gap, one id each; a few on a quiet machine, thousands when
     * two threads ran in step on a loaded one) */
    assert_int_equal(trie_limit(), 1 + 1 + 50 + GROW_STACKS + trie_lost_ids());
    /* nodes in 256 KiB segments, as many as the ids handed out need (the
     * gaps above can push them into a fifth), and indexes of 2^15 up to
     * 2^18 slots, 4 bytes each: about 3 MB, nothing more */
    size_t segs = (trie_limit() + (1u << 14) - 1) >> 14;
    assert_true(trie_bytes() <= segs * (256u << 10) + 4u * ((1u << 19) - (1u << 15)));
    trie_reset();
}

/* Older indexes are unmapped once retired (after the grace period the
 * collector waits for), and every stack is found as before: 60051 nodes grow
 * the index through 2^15, 2^16 and 2^17 slots, so the first two go; 10000
 * more reach 2^18, and then 2^17 goes too. */
static void test_retire(void **state)
{
    uint32_t *rid = malloc(70000 * sizeof(*rid));
    size_t before;

    (void)state;
    assert_non_null(rid);
    assert_int_equal(trie_init(), 0);
    assert_int_equal(trie_retire(), 0); /* one index: nothing to retire */
    for (int k = 0; k < 60000; k++) {
        uintptr_t ips[3];

        grow_ips(k, ips);
        rid[k] = trie_intern(ips, 3);
    }
    before = trie_bytes();
    assert_int_equal(trie_retire(), 1);
    assert_int_equal(trie_retire(), 0); /* not again until those are freed */
    assert_int_equal(trie_free_retired(), 4u * ((1u << 15) + (1u << 16)));
    assert_int_equal(trie_bytes(), before - 4u * ((1u << 15) + (1u << 16)));
    assert_int_equal(trie_retire(), 0); /* nothing new */
    for (int k = 0; k < 70000; k++) {
        uintptr_t ips[3];

        grow_ips(k, ips);
        if (k < 60000)
            assert_int_equal(trie_intern(ips, 3), rid[k]);
        else
            rid[k] = trie_intern(ips, 3);
    }
    assert_int_equal(trie_retire(), 1);
    assert_int_equal(trie_free_retired(), 4u << 17);
    for (int k = 0; k < 70000; k++) {
        uintptr_t ips[3];

        grow_ips(k, ips);
        assert_int_equal(trie_intern(ips, 3), rid[k]);
    }
    assert_int_equal(trie_limit(), 1 + 1 + 50 + 70000);
    trie_reset();
    free(rid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic), cmocka_unit_test(test_below),  cmocka_unit_test(test_race),
        cmocka_unit_test(test_grow),  cmocka_unit_test(test_retire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
