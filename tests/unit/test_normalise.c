/*
 * test_normalise.c - events of several threads arriving out of order become a
 * stream a reader can trust: implicit frees for reused addresses, straggling
 * and unknown frees dropped, realloc in every combination; exact totals. The
 * reader names blocks by allocation sequence number, as a client does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "live.h"
#include "normalise.h"
#include "sites.h"

__thread int track_guard; /* prefault.c's thread sets it (track.c is not linked) */

#define MAXOUT 2048

static struct wire_event out[MAXOUT];
static int n_out;
static uint64_t stream_live[MAXOUT]; /* seqs live in the emitted stream */
static int n_live;
static uint64_t reader_seq; /* the reader's allocation sequence number */

static int live_index(uint64_t a)
{
    for (int i = 0; i < n_live; i++)
        if (stream_live[i] == a)
            return i;
    return -1;
}

static void ctx(void *arg, uint32_t thread, uint32_t tag, int with_tag, int64_t time)
{
}

/* Checks the stream as a reader would. */
static void ev(void *arg, const struct wire_event *e)
{
    int i;

    assert_true(n_out < MAXOUT);
    out[n_out++] = *e;
    switch (e->op) {
    case WIRE_OP_ALLOC:
        stream_live[n_live++] = ++reader_seq;
        break;
    case WIRE_OP_FREE:
        i = live_index(reader_seq - e->back);
        assert_int_not_equal(i, -1);
        stream_live[i] = stream_live[--n_live];
        break;
    case WIRE_OP_REALLOC:
        i = live_index(reader_seq - e->back);
        assert_int_not_equal(i, -1);
        stream_live[i] = stream_live[--n_live];
        stream_live[n_live++] = ++reader_seq;
        break;
    }
}

static void stk(void *arg, uint32_t stack)
{
}

static const struct normalise_ops ops = {ctx, ev, stk, NULL};
static struct normalise_totals tot;
static struct normalise_stats st;

static int setup(void **state)
{
    n_out = n_live = 0;
    reader_seq = 0;
    memset(&tot, 0, sizeof(tot));
    memset(&st, 0, sizeof(st));
    assert_int_equal(live_init(), 0);
    assert_int_equal(sites_init(), 0);
    return 0;
}

static int teardown(void **state)
{
    live_reset();
    sites_reset();
    return 0;
}

static void alloc(uint32_t thread, uint64_t addr, uint64_t size, int64_t t, uint32_t stack)
{
    struct ring_event e = {.op = RING_ALLOC, .time = t, .addr = addr, .size = size, .stack = stack};

    assert_int_equal(normalise_apply(&e, thread, &ops, &tot, &st), 0);
}

static void release(uint32_t thread, uint64_t addr, int64_t t)
{
    struct ring_event e = {.op = RING_FREE, .time = t, .addr = addr};

    assert_int_equal(normalise_apply(&e, thread, &ops, &tot, &st), 0);
}

static void re(uint32_t thread, uint64_t old, uint64_t addr, uint64_t size, int64_t t0, int64_t t1,
               uint32_t stack)
{
    struct ring_event e = {.op = RING_REALLOC,
                           .time = t1,
                           .dt0 = (uint32_t)(t1 - t0),
                           .addr = addr,
                           .old_addr = old,
                           .size = size,
                           .stack = stack};

    assert_int_equal(normalise_apply(&e, thread, &ops, &tot, &st), 0);
}

static void test_simple(void **state)
{
    alloc(1, 0x1000, 100, 10, 5);
    release(1, 0x1000, 20);
    release(1, 0x2000, 21); /* never seen: dropped */
    assert_int_equal(n_out, 2);
    assert_int_equal(tot.allocations, 1);
    assert_int_equal(tot.frees, 1);
    assert_int_equal(tot.heap_bytes, 0);
    assert_int_equal(tot.peak, 100);
    assert_int_equal(st.unknown_frees, 1);
    assert_int_equal(sites_get(5)->allocations, 1);
    assert_int_equal(sites_get(5)->live_blocks, 0);
}

/* Thread 1 frees X at 30 but its event arrives after thread 2's malloc of X
 * at 35: the old X is evicted, the late free dropped, the new X freed later. */
static void test_straggler(void **state)
{
    alloc(1, 0x1000, 100, 10, 5);
    alloc(2, 0x1000, 200, 35, 6);
    assert_int_equal(out[1].op, WIRE_OP_FREE); /* the implicit free of seq 1 */
    assert_int_equal(out[1].back, 0);
    assert_int_equal(live_seq(live_find(0x1000)), 2);
    release(1, 0x1000, 30);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.stragglers, 1);
    assert_int_equal(tot.heap_bytes, 200);
    release(2, 0x1000, 40);
    assert_int_equal(out[n_out - 1].back, 0);
    assert_int_equal(tot.allocations, 2);
    assert_int_equal(tot.frees, 2);
    assert_int_equal(tot.heap_blocks, 0);
    assert_int_equal(n_live, 0);
    assert_int_equal(sites_get(5)->live_blocks, 0);
    assert_int_equal(sites_get(6)->live_blocks, 0);
}

static void test_reallocs(void **state)
{
    alloc(1, 0x1000, 10, 10, 5);
    re(1, 0x1000, 0x2000, 20, 15, 16, 7); /* moves */
    assert_int_equal(out[n_out - 1].op, WIRE_OP_REALLOC);
    assert_int_equal(out[n_out - 1].back, 0);
    re(1, 0x2000, 0x2000, 30, 17, 18, 7); /* in place */
    assert_int_equal(out[n_out - 1].op, WIRE_OP_REALLOC);
    re(1, 0x9000, 0x3000, 40, 19, 20, 8); /* old block unknown: an ALLOC */
    assert_int_equal(out[n_out - 1].op, WIRE_OP_ALLOC);
    assert_int_equal(tot.allocations, 4);
    assert_int_equal(tot.frees, 2);
    assert_int_equal(tot.heap_bytes, 70);
    assert_int_equal(live_count(), 2);
    assert_int_equal(live_size(live_find(0x2000)), 30);
    assert_int_equal(live_seq(live_find(0x2000)), 3);
    assert_int_equal(live_seq(live_find(0x3000)), 4);
    assert_int_equal(tot.seq, 4);
}

/* back counts allocations between, whatever the thread; mod 2^40. */
static void test_back(void **state)
{
    alloc(1, 0x1000, 1, 10, 5);
    alloc(2, 0x2000, 2, 11, 5);
    alloc(1, 0x3000, 3, 12, 5);
    release(2, 0x1000, 13);
    assert_int_equal(out[n_out - 1].back, 2);
    re(1, 0x2000, 0x4000, 4, 14, 15, 5);
    assert_int_equal(out[n_out - 1].back, 1);
    release(1, 0x4000, 16);
    assert_int_equal(out[n_out - 1].back, 0);
    assert_int_equal(n_live, 1);
    /* near the wrap: seqs and backs stay 40 bits */
    tot.seq = WIRE_SEQ_MASK - 1;
    alloc(1, 0x5000, 1, 20, 5); /* seq 2^40 - 1 */
    alloc(1, 0x6000, 1, 21, 5); /* seq 2^40 = 0 mod 2^40 */
    assert_int_equal(live_seq(live_find(0x6000)), 0);
    release(1, 0x5000, 22);
    assert_int_equal(out[n_out - 1].back, 1);
}

/* A block above 2^48 is refused (the caller stops tracking). */
static void test_high_address(void **state)
{
    struct ring_event e = {.op = RING_ALLOC, .time = 1, .addr = 1ull << 48, .size = 8};

    assert_int_equal(normalise_apply(&e, 1, &ops, &tot, &st), -2);
    assert_int_equal(live_count(), 0);
}

/* Thread 1 reallocs A (started at 15) but A was reused by thread 2 at 20
 * after the real realloc released it: the old block is not released again. */
static void test_realloc_straggler(void **state)
{
    alloc(1, 0xA000, 10, 10, 5);
    alloc(2, 0xA000, 11, 20, 6); /* evicts the first A */
    re(1, 0xA000, 0xB000, 12, 15, 25, 7);
    assert_int_equal(out[n_out - 1].op, WIRE_OP_ALLOC);
    assert_non_null(live_find(0xA000));
    assert_int_equal(live_size(live_find(0xA000)), 11);
    assert_int_equal(tot.heap_blocks, 2);
}

/* Late frees against blocks in many epochs (live.h: a time's low 16 bits
 * within a span under 65536 ns): told from their blocks to the ns. */
static void test_straggler_epochs(void **state)
{
    for (int i = 0; i < 1000; i++) /* 100 us apart: an epoch each */
        alloc(1, 0x10000 + 16 * (uint64_t)i, 8, 100000ll * i, 5);
    alloc(2, 0x10000 + 16 * 500, 9, 100000ll * 1000 + 1, 6); /* evicts block 500 */
    release(1, 0x10000 + 16 * 500, 100000ll * 1000);         /* its free, 1 ns before */
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.stragglers, 1);
    release(1, 0x10000 + 16 * 20, 100000ll * 20 - 1); /* older than block 20 */
    assert_int_equal(st.stragglers, 2);
    release(1, 0x10000 + 16 * 10, 100000ll * 10); /* late, at block 10's own time */
    release(1, 0x10000 + 16 * 30, 100000ll * 30 + 65535);
    assert_int_equal(st.stragglers, 2);
    assert_int_equal(tot.frees, 3);
    assert_int_equal(tot.heap_blocks, 998);
    assert_int_equal(live_size(live_find(0x10000 + 16 * 500)), 9);
    assert_null(live_find(0x10000 + 16 * 10));
    assert_non_null(live_find(0x10000 + 16 * 20));
}

/* realloc onto an address whose free has not arrived yet. */
static void test_realloc_onto_live(void **state)
{
    alloc(1, 0xA000, 10, 10, 5);
    alloc(2, 0xB000, 20, 11, 6);
    re(1, 0xA000, 0xB000, 30, 20, 21, 7);
    release(2, 0xB000, 18); /* straggler */
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.stragglers, 1);
    assert_int_equal(tot.heap_blocks, 1);
    assert_int_equal(tot.heap_bytes, 30);
    assert_int_equal(n_live, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_simple, setup, teardown),
        cmocka_unit_test_setup_teardown(test_straggler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reallocs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_straggler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_straggler_epochs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_realloc_onto_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_high_address, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
