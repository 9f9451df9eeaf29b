/*
 * test_scanblocks.c - the scan's blocks collected and sorted by address
 * (bfs_collect_sorted), on made-up addresses that are never read: blocks in
 * a few 1 MiB regions far apart (a heap, an arena at 0x7f...) given in hash
 * order; one block in each of more regions than the region table holds (the
 * sort by the span instead); sizes of 4 GiB and more (kept beside the
 * array); a census's sequence numbers in place of stacks; a source holding
 * more blocks than it said (the first ones taken).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "scanbfs_impl.h"

struct fake {
    uint64_t *addr, *size;
    size_t n;
};

static void fake_each(void *ctx, scan_block_fn *fn, void *arg)
{
    const struct fake *f = ctx;

    for (size_t i = 0; i < f->n; i++)
        fn(arg, f->addr[i], f->size[i], (uint32_t)(f->addr[i] >> 4), (uint32_t)i + 7);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void shuffle(struct fake *f)
{
    for (size_t i = f->n - 1; i > 0; i--) {
        size_t j = rnd() % (i + 1);
        uint64_t a = f->addr[i], z = f->size[i];
        f->addr[i] = f->addr[j];
        f->size[i] = f->size[j];
        f->addr[j] = a;
        f->size[j] = z;
    }
}

/* Collects f (cap: what the source says it holds) and checks that the
 * blocks are the first cap of f, in address order, each with its size and
 * its stack (or, seq set, its sequence number). */
static void check_sorted(struct fake *f, size_t cap, int seq)
{
    struct scan_source src = {fake_each, f, cap, NULL, 0, 0, 0};
    struct bfs *s = calloc(1, sizeof(*s));
    uint64_t *want = malloc(cap * sizeof(*want));
    size_t n = cap < f->n ? cap : f->n;

    assert_non_null(s);
    assert_non_null(want);
    s->hist = bfs_map(BFS_HIST_BYTES);
    assert_non_null(s->hist);
    assert_int_equal(bfs_collect_sorted(s, &src, seq), 0);
    assert_int_equal(s->n_blocks, n);
    memcpy(want, f->addr, n * sizeof(*want));
    qsort(want, n, sizeof(*want), cmp_u64);
    for (size_t b = 0; b < n; b++) {
        size_t i = 0;
        assert_int_equal(s->blocks[b].addr, want[b]);
        while (f->addr[i] != want[b])
            i++;
        assert_int_equal(blk_size(s, b), f->size[i]);
        assert_int_equal(s->blocks[b].aux, seq ? (uint32_t)i + 7 : (uint32_t)(want[b] >> 4));
        /* a block's last byte is found in it */
        assert_int_equal(bfs_find_block(s, want[b] + f->size[i] - 1), (long)b);
    }
    bfs_unmap(s->blocks, s->blocks_bytes);
    bfs_unmap(s->big, s->big_bytes);
    bfs_unmap(s->hist, BFS_HIST_BYTES);
    free(want);
    free(s);
}

static struct fake make(size_t n)
{
    struct fake f = {calloc(n, 8), calloc(n, 8), n};

    assert_non_null(f.addr);
    assert_non_null(f.size);
    return f;
}

static void drop(struct fake *f)
{
    free(f->addr);
    free(f->size);
}

/* 3000 blocks of 16..496 bytes packed in a heap at 0x555555554000, 40 in an
 * arena at 0x7ffff0000000, 3 mmapped ones of 5, 4 and 1 GiB (0x7ff...) */
static struct fake heap_and_arena(void)
{
    struct fake f = make(3043);
    uint64_t at = 0x555555554010;
    size_t i = 0;

    for (; i < 3000; i++) {
        f.addr[i] = at;
        f.size[i] = 16 + (rnd() % 31) * 16;
        at += f.size[i] + 16;
    }
    for (at = 0x7ffff0000010; i < 3040; i++, at += 1024) {
        f.addr[i] = at;
        f.size[i] = 1000;
    }
    f.addr[i] = 0x7f0000000010, f.size[i++] = 5ull << 30;
    f.addr[i] = 0x7f8000000010, f.size[i++] = 4ull << 30;
    f.addr[i] = 0x7fc000000010, f.size[i++] = (1ull << 30) + 8;
    shuffle(&f);
    return f;
}

static void test_regions(void **state)
{
    struct fake f = heap_and_arena();

    (void)state;
    check_sorted(&f, f.n, 0);
    check_sorted(&f, f.n, 1); /* a census: sequence numbers */
    drop(&f);
}

static void test_more_than_said(void **state)
{
    struct fake f = heap_and_arena();

    (void)state;
    check_sorted(&f, 1000, 0); /* the walk's first 1000 */
    drop(&f);
}

/* one block in each of 20000 regions (more than RANK_MAX), 8-byte aligned */
static void test_sparse(void **state)
{
    struct fake f = make(20000);

    (void)state;
    for (size_t i = 0; i < f.n; i++) {
        f.addr[i] = 0x100000000ull + ((uint64_t)i << 20) + (rnd() % 4096) * 8;
        f.size[i] = 8 + (rnd() % 64) * 8;
    }
    shuffle(&f);
    check_sorted(&f, f.n, 0);
    drop(&f);
}

static void test_empty_and_one(void **state)
{
    struct fake f = make(1);

    (void)state;
    f.n = 0;
    check_sorted(&f, 0, 0);
    f.n = 1;
    f.addr[0] = 0x1008;
    f.size[0] = 24;
    check_sorted(&f, 1, 0);
    drop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regions),
        cmocka_unit_test(test_more_than_said),
        cmocka_unit_test(test_sparse),
        cmocka_unit_test(test_empty_and_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
