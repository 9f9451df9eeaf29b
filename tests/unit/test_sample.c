/*
 * test_sample.c - the sampled-block filter the free hook asks: a block in
 * it always tests "maybe", a block taken out of a home nobody else holds
 * tests "surely not", and that stays true while two threads add and remove
 * blocks of one home at once (the bit map follows the per-home counts).
 * And the per-thread countdown and counters the hooks' fast path uses: the
 * sampling rule, a rate change, the exact totals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>

#include "sample.h"

#include "core.h"
#include "sites.h"
#include "track.h"

/* what sample.c needs from the rest of the collector */
__thread int track_guard;
void core_disable(const char *reason)
{
    (void)reason;
}
void core_say(const char *msg)
{
    (void)msg;
}
void sites_set_sample_rate(uint64_t rate)
{
    (void)rate;
}

#define BASE 0x5555000010a0ull

/* n 16-aligned addresses from BASE up whose home is home */
static void same_home(uint32_t home, uintptr_t *out, size_t n)
{
    size_t k = 0;

    for (uintptr_t a = BASE; k < n; a += 16)
        if (sample_home((void *)a) == home)
            out[k++] = a;
}

static void test_add_del(void **state)
{
    uintptr_t a[2];
    void *p, *q;

    (void)state;
    same_home(sample_home((void *)(uintptr_t)BASE), a, 2);
    p = (void *)a[0];
    q = (void *)a[1];
    assert_int_equal(sample_maybe(p), 0);
    assert_int_equal(sample_filter_add(p), 0);
    assert_int_equal(sample_maybe(p), 1);
    assert_int_equal(sample_maybe(q), 1); /* same home: maybe */
    assert_int_equal(sample_filter_add(q), 0);
    assert_int_equal(sample_filter_del(p), 1);
    assert_int_equal(sample_filter_del(p), 0); /* not in it any more */
    assert_int_equal(sample_maybe(q), 1);      /* q still holds the home */
    assert_int_equal(sample_filter_del(q), 1);
    assert_int_equal(sample_maybe(p), 0);
    assert_int_equal(sample_maybe(q), 0);
}

#define ROUNDS 200000

struct racer {
    uintptr_t addr;
    atomic_int *go;
    long misses, kept;
};

/* Adds its block, checks the free hook's test says maybe, removes it;
 * over and over, while the other racer does the same in the same home. */
static void *race(void *arg)
{
    struct racer *r = arg;

    while (!atomic_load(r->go))
        ;
    /* ROUNDS, and on until this racer kept one: on a loaded machine the
     * other may be preempted while it clears the home, and every add of a
     * whole time slice is then dropped (10 s at most) */
    time_t give_up = time(NULL) + 10;
    for (long i = 0; i < ROUNDS || (r->kept == 0 && time(NULL) < give_up); i++) {
        if (sample_filter_add((void *)r->addr) != 0)
            continue; /* the other's last entry was going out: dropped */
        r->kept++;
        if (!sample_maybe((void *)r->addr))
            r->misses++;
        sample_filter_del((void *)r->addr);
    }
    return NULL;
}

static void test_two_threads_one_home(void **state)
{
    uintptr_t a[3];
    atomic_int go = 0;
    struct racer r[2];
    pthread_t t[2];

    (void)state;
    same_home(12345, a, 3);
    for (int i = 0; i < 2; i++) {
        r[i] = (struct racer){a[i], &go, 0, 0};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(r[0].misses, 0);
    assert_int_equal(r[1].misses, 0);
    /* both raced: a sample is dropped only while the other thread clears
     * the home's bit (a few instructions, longer if it is preempted there) */
    assert_true(r[0].kept > 0 && r[1].kept > 0);
    /* both gone: the home tests "surely not" again */
    assert_int_equal(sample_maybe((void *)a[2]), 0);
}

#define RATE 4096u

/* The countdown kept as left (at most the rate, all the hooks' fast path
 * tests) and reserve samples exactly as the rule it replaced: an allocation
 * is sampled when it reaches the sample point or is RATE bytes or more,
 * and an unsampled one moves the point size bytes nearer. */
static void test_countdown_rule(void **state)
{
    struct sample_thread *t;
    uint64_t seed = 7, hits = 0, big = 0;
    double expect = 0;

    (void)state;
    assert_int_equal(sample_configure(RATE), 0);
    t = sample_self();
    assert_non_null(t);
    for (int i = 0; i < 200000; i++) {
        size_t size;
        uint64_t before = t->left + t->reserve;
        int hit, want;

        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size = (seed >> 60) == 0 ? RATE + (seed >> 40) % 3 - 1 : 1 + (seed >> 33) % 700;
        want = size >= before || size >= RATE;
        if (size < RATE)
            expect += -expm1(-(double)size / RATE);
        hit = sample_alloc(t, size, size);
        assert_int_equal(hit, want);
        assert_true(t->left >= 1 || hit);
        assert_true(t->left <= RATE);
        if (size < before)
            assert_int_equal(t->left + t->reserve, before - size);
        else
            assert_int_equal(t->left + t->reserve, 0);
        if (hit) {
            sample_next(t);
            assert_true(t->left >= 1 && t->left <= RATE);
            hits++;
            big += size >= RATE;
        }
        sample_free(t, size);
    }
    /* a block of s < RATE bytes holds a sample point with p = 1 - e^(-s/RATE)
     * (exponential intervals): the hits within 5 standard deviations */
    assert_true(fabs((double)(hits - big) - expect) < 5 * sqrt(expect));
}

/* A smaller rate configured (an attach) moves the excess of left into the
 * reserve: the countdown is the same, the fast path's test is sound again. */
static void test_rate_clamp(void **state)
{
    struct sample_thread *t = sample_self();
    uint64_t total;

    (void)state;
    assert_int_equal(sample_configure(1u << 20), 0);
    t->left = 300000;
    t->reserve = 5;
    total = t->left + t->reserve;
    assert_int_equal(sample_configure(2048), 0);
    assert_int_equal(t->left, 2048);
    assert_int_equal(t->left + t->reserve, total);
    assert_int_equal(sample_configure(RATE), 0);
}

/* The exact totals: usable bytes live from usable + 8 a block less 8 a
 * live block (the hooks add glibc's chunk size, sample.h). */
static void test_totals(void **state)
{
    struct sample_thread *t = sample_self();
    struct sample_totals before, after;

    (void)state;
    sample_totals(&before);
    sample_alloc(t, 20, 24);
    sample_alloc(t, 100, 104);
    sample_alloc(t, 1, 24);
    sample_free(t, 104);
    sample_totals(&after);
    assert_int_equal(after.allocations - before.allocations, 3);
    assert_int_equal(after.frees - before.frees, 1);
    assert_int_equal(after.bytes_allocated - before.bytes_allocated, 121);
    assert_int_equal(after.heap_blocks - before.heap_blocks, 2);
    assert_int_equal(after.heap_bytes - before.heap_bytes, 48);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_del),        cmocka_unit_test(test_two_threads_one_home),
        cmocka_unit_test(test_countdown_rule), cmocka_unit_test(test_rate_clamp),
        cmocka_unit_test(test_totals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
