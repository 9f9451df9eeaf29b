/*
 * test_pymheap.c - pymalloc's pools read from their bytes: a pool built as
 * obmalloc.c builds one (blocks carved at 48 + i * size, frees pushed on
 * the free chain) yields exactly its allocated blocks; a full pool all its
 * carved ones; an empty one none; a header or chain that does not add up
 * (a loop, a pointer outside, off the grid, a count that disagrees, a size
 * class or end that is not pymalloc's) none, with -1; and pymheap_self()
 * finds such a pool in an anonymous mapping of the process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>

#include "pymheap.h"

#define BASE 0x7f1234560000ull

struct got {
    uint64_t addr[1100], size[1100];
    size_t n;
};

static void take(void *arg, uint64_t addr, uint64_t size)
{
    struct got *g = arg;

    if (g->n < 1100) {
        g->addr[g->n] = addr;
        g->size[g->n++] = size;
    }
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

/* A pool of szidx's class with `carved` blocks carved, the blocks of
 * freed[0..n_freed) pushed on the free chain in that order (the last freed
 * first), as obmalloc.c leaves it; addr where it lies. */
static void build(unsigned char *pool, uint64_t addr, uint32_t szidx, uint32_t carved,
                  const uint32_t *freed, size_t n_freed)
{
    uint32_t size = (szidx + 1) * 16;
    uint64_t head = 0;

    memset(pool, 0xa5, PYMHEAP_POOL); /* object bytes */
    put32(pool, carved - (uint32_t)n_freed);
    put32(pool + 4, 0);
    put64(pool + 16, 0x1111);
    put64(pool + 24, 0x2222);
    put32(pool + 32, 7); /* arenaindex */
    put32(pool + 36, szidx);
    put32(pool + 40, 48 + carved * size);
    put32(pool + 44, PYMHEAP_POOL - size);
    for (size_t i = 0; i < n_freed; i++) {
        put64(pool + 48 + (uint64_t)freed[i] * size, head);
        head = addr + 48 + (uint64_t)freed[i] * size;
    }
    put64(pool + 8, head);
}

static unsigned char pool[PYMHEAP_POOL];

static void test_used(void **state)
{
    static const uint32_t freed[] = {3, 0, 9};
    struct got g = {.n = 0};

    (void)state;
    build(pool, BASE, 2, 12, freed, 3); /* 48-byte blocks, 12 carved, 9 allocated */
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), 9);
    assert_int_equal(g.n, 9);
    for (uint32_t i = 0, k = 0; i < 12; i++) {
        if (i == 0 || i == 3 || i == 9)
            continue;
        assert_int_equal(g.addr[k], BASE + 48 + i * 48);
        assert_int_equal(g.size[k], 48);
        k++;
    }
}

static void test_full_and_empty(void **state)
{
    struct got g = {.n = 0};
    uint32_t size = 512, carved = (PYMHEAP_POOL - 48) / size;

    (void)state;
    build(pool, BASE, 31, carved, NULL, 0); /* nextoffset past maxnextoffset: full */
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), (int)carved);
    assert_int_equal(g.addr[carved - 1], BASE + 48 + (carved - 1) * size);
    g.n = 0;
    build(pool, BASE, 0, 1019, NULL, 0); /* 16-byte blocks, all carved but two */
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), 1019);
    g.n = 0;
    put32(pool, 0); /* count 0: an empty pool kept for reuse, stale bytes */
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), 0);
    memset(pool, 0, sizeof(pool)); /* never used */
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), 0);
    assert_int_equal(g.n, 0);
}

static void test_bad(void **state)
{
    static const uint32_t freed[] = {1, 4, 6};
    struct got g = {.n = 0};

    (void)state;
    /* a loop: block 6's link back to block 4 */
    build(pool, BASE, 2, 8, freed, 3);
    put64(pool + 48 + 4 * 48, BASE + 48 + 6 * 48);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    /* a link outside the carved blocks, then one off the grid */
    build(pool, BASE, 2, 8, freed, 3);
    put64(pool + 48 + 4 * 48, BASE + 48 + 8 * 48);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    put64(pool + 48 + 4 * 48, BASE + 48 + 1 * 48 + 8);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    /* a count that disagrees with the chain */
    build(pool, BASE, 2, 8, freed, 3);
    put32(pool, 4);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    /* not pymalloc's size classes or end */
    build(pool, BASE, 32, 8, NULL, 0);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    build(pool, BASE, 2, 8, NULL, 0);
    put32(pool + 44, PYMHEAP_POOL - 64);
    assert_int_equal(pymheap_pool(pool, BASE, take, &g), -1);
    /* a pool must sit on a 16 KiB boundary */
    build(pool, BASE + 4096, 2, 8, NULL, 0);
    assert_int_equal(pymheap_pool(pool, BASE + 4096, take, &g), -1);
    assert_int_equal(g.n, 0);
}

struct inside {
    uint64_t lo, hi;
    size_t n;
};

static void count_inside(void *arg, uint64_t addr, uint64_t size)
{
    struct inside *in = arg;

    (void)size;
    in->n += addr >= in->lo && addr < in->hi;
}

static void test_self(void **state)
{
    static const uint32_t freed[] = {2, 5};
    size_t len = 4 * PYMHEAP_POOL;
    unsigned char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pymheap_stats st;
    struct inside in;
    uint64_t a;

    (void)state;
    assert_true(m != MAP_FAILED);
    a = ((uint64_t)(uintptr_t)m + PYMHEAP_POOL - 1) & ~(uint64_t)(PYMHEAP_POOL - 1);
    build((unsigned char *)(uintptr_t)a, a, 4, 20, freed, 2); /* 80-byte blocks, 18 allocated */
    in = (struct inside){a, a + PYMHEAP_POOL, 0};
    assert_int_equal(pymheap_self(NULL, 0, count_inside, &in, &st), 0);
    assert_int_equal(in.n, 18);
    assert_true(st.pools >= 1 && st.blocks >= 18);
    /* the caller's own memory is skipped */
    {
        uint64_t skip[2] = {a, a + PYMHEAP_POOL};
        in.n = 0;
        assert_int_equal(pymheap_self(skip, 1, count_inside, &in, &st), 0);
        assert_int_equal(in.n, 0);
    }
    munmap(m, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_used),
        cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
