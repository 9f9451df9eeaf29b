/*
 * sample.c - sampling mode: the rate, the per-thread slots (sample point
 * countdown and exact counters), the sampled-block filter and the
 * estimator's weights.
 *
 * Invariants: a slot is written only by the thread that holds it (used = 1)
 * and its counters only grow, so the sum over every slot ever used is the
 * process's totals whoever held them, and a run's totals are the sums less
 * those its start took (a second attach counts from 0); a filter entry is stored and cleared
 * only by the thread that allocates or frees its block, and homes[h]
 * counts the entries whose home is h. Bit h of sample_home_bits is set
 * before an entry at home h is handed to the program and cleared only by
 * the thread that removes the home's last entry, while no entry can come
 * (home_give), so a clear bit proves a handed-out block unsampled.
 */
#include "sample.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "sites.h"
#include "track.h"

_Atomic uint64_t sample_rate_bytes;

__thread struct sample_thread *sample_self_tls;
__thread struct sample_thread *sample_fast_tls;
static int fast_ok; /* sample_set_fast() */
static struct sample_thread slots[SAMPLE_SLOTS];
static atomic_uint slots_hi;   /* slots [0, slots_hi) have been used */
static atomic_uint slots_hint; /* where the next search starts */
static pthread_key_t slot_key;
static atomic_int slot_key_ok;

#define FILTER_SIZE (1u << SAMPLE_FILTER_BITS)
#define FILTER_WINDOW 32u /* an entry lies at most this far past its home */
_Atomic uint64_t sample_home_bits[FILTER_SIZE / 64];
static _Atomic uint8_t homes[FILTER_SIZE]; /* at most FILTER_WINDOW each, or HOME_BUSY */
static _Atomic uintptr_t filter[FILTER_SIZE];
static _Atomic uint64_t dropped;

/* ---- configuration ---- */

uint64_t sample_parse(const char *s)
{
    uint64_t v = 0, mul = 1;
    const char *p = s;

    if (!s || *s < '0' || *s > '9')
        return 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > SAMPLE_RATE_MAX)
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    switch (*p) {
    case 'k':
    case 'K':
        mul = UINT64_C(1) << 10;
        p++;
        break;
    case 'm':
    case 'M':
        mul = UINT64_C(1) << 20;
        p++;
        break;
    case 'g':
    case 'G':
        mul = UINT64_C(1) << 30;
        p++;
        break;
    default:
        break;
    }
    if (mul > 1 && *p == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B')
        p++;
    if (*p || v > SAMPLE_RATE_MAX / mul)
        return 0;
    v *= mul;
    return v >= SAMPLE_RATE_MIN && v <= SAMPLE_RATE_MAX ? v : 0;
}

static void slot_release(void *arg);
static void countdown_clamp(uint64_t rate);

int sample_configure(uint64_t rate)
{
    if (rate && (rate < SAMPLE_RATE_MIN || rate > SAMPLE_RATE_MAX))
        return -1;
    if (rate && !atomic_load(&slot_key_ok)) {
        int guard = track_guard;

        track_guard = 1;
        if (pthread_key_create(&slot_key, slot_release) == 0)
            atomic_store(&slot_key_ok, 1);
        track_guard = guard;
    }
    sites_set_sample_rate(rate);
    atomic_store(&sample_rate_bytes, rate);
    countdown_clamp(rate);
    return 0;
}

void sample_configure_env(void)
{
    const char *v = getenv("HEAPLINE_SAMPLE");
    uint64_t rate;

    if (!v || !*v || strcmp(v, "off") == 0 || strcmp(v, "0") == 0) {
        sample_configure(0);
        return;
    }
    rate = sample_parse(v);
    if (!rate) {
        core_say("HEAPLINE_SAMPLE: expected a size from 1K to 1T (512K, 2M) or off; "
                 "sampling off, every allocation recorded");
        sample_configure(0);
        return;
    }
    sample_configure(rate);
}

/* ---- slots ---- */

static uint64_t rng_next(struct sample_thread *t)
{
    /* xorshift64*: the draws need independence from the program, not secrecy */
    uint64_t x = t->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    t->rng = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* An exponential interval of mean R bytes, at least 1. */
static int64_t draw(struct sample_thread *t)
{
    uint64_t rate = atomic_load_explicit(&sample_rate_bytes, memory_order_relaxed);
    /* u in (0, 1]: 53 random bits, never 0 */
    double u = (double)((rng_next(t) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double x = -log(u) * (double)rate;

    return x < 1.0 ? 1 : x > 9.0e18 ? INT64_MAX : (int64_t)x;
}

/* The countdown to total bytes, left at most the rate. */
static void countdown_set(struct sample_thread *t, uint64_t total, uint64_t rate)
{
    t->left = total < rate ? total : rate;
    t->reserve = total - t->left;
}

/* A slot's left drawn at another rate would prove unsampled a block of the
 * new rate or more: moved into its reserve. Called with tracking off (no
 * hook takes from a countdown then; core.h). */
static void countdown_clamp(uint64_t rate)
{
    unsigned hi = atomic_load(&slots_hi);

    for (unsigned i = 0; rate && i < hi; i++) {
        struct sample_thread *t = &slots[i];
        uint64_t left = __atomic_load_n(&t->left, __ATOMIC_RELAXED);

        if (left > rate) {
            __atomic_store_n(&t->reserve, t->reserve + (left - rate), __ATOMIC_RELAXED);
            __atomic_store_n(&t->left, rate, __ATOMIC_RELAXED);
        }
    }
}

int sample_point(struct sample_thread *t, size_t size)
{
    uint64_t rate = atomic_load_explicit(&sample_rate_bytes, memory_order_relaxed);
    uint64_t total = t->left + size + t->reserve; /* before sample_countdown() */
    int hit = size >= total || size >= rate;

    countdown_set(t, size < total ? total - size : 0, rate);
    return hit;
}

void sample_next(struct sample_thread *t)
{
    if (t->left == 0)
        countdown_set(t, (uint64_t)draw(t),
                      atomic_load_explicit(&sample_rate_bytes, memory_order_relaxed));
}

void sample_set_fast(int on)
{
    fast_ok = on;
}

static void slot_release(void *arg)
{
    struct sample_thread *t = arg;

    if (t && t == sample_self_tls) {
        sample_self_tls = NULL;
        sample_fast_tls = NULL;
        atomic_store_explicit(&t->used, 0, memory_order_release);
    }
}

void sample_thread_exit(void)
{
    slot_release(sample_self_tls);
}

struct sample_thread *sample_self_slow(void)
{
    unsigned start = atomic_fetch_add_explicit(&slots_hint, 1, memory_order_relaxed);
    struct timespec ts;

    for (unsigned k = 0; k < SAMPLE_SLOTS; k++) {
        unsigned i = (start + k) % SAMPLE_SLOTS;
        struct sample_thread *t = &slots[i];
        int expect = 0;

        if (atomic_load_explicit(&t->used, memory_order_relaxed) ||
            !atomic_compare_exchange_strong(&t->used, &expect, 1))
            continue;
        unsigned hi = atomic_load(&slots_hi);
        while (hi <= i && !atomic_compare_exchange_weak(&slots_hi, &hi, i + 1))
            ;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
                 ((uint64_t)(uintptr_t)&ts << 7) ^ ((uint64_t)i * UINT64_C(0x9e3779b97f4a7c15)) ^
                 (uint64_t)getpid();
        if (!t->rng)
            t->rng = 0x853c49e6748fea9bULL;
        countdown_set(t, (uint64_t)draw(t),
                      atomic_load_explicit(&sample_rate_bytes, memory_order_relaxed));
        sample_self_tls = t;
        sample_fast_tls = fast_ok ? t : NULL;
        if (atomic_load(&slot_key_ok)) {
            int guard = track_guard;

            track_guard = 1; /* setspecific may allocate its second-level array */
            pthread_setspecific(slot_key, t);
            track_guard = guard;
        }
        return t;
    }
    core_disable("more than 4096 threads at once in sampling mode");
    return NULL;
}

void sample_atfork_child(void)
{
    unsigned hi = atomic_load(&slots_hi);

    for (unsigned i = 0; i < hi; i++)
        if (&slots[i] != sample_self_tls)
            atomic_store(&slots[i].used, 0);
}

/* ---- filter ---- */

#define HOME_BUSY 0xffu /* homes[h] while its last entry's bit is cleared */

/* Counts an entry at home h and sets its bit. 0, or -1 when the home's last
 * entry is being taken out this instant (the caller then drops the sample:
 * waiting would be a lock on the program's thread). */
static int home_take(uint32_t h)
{
    uint8_t v = atomic_load(&homes[h]);

    do {
        if (v == HOME_BUSY)
            return -1;
    } while (!atomic_compare_exchange_weak(&homes[h], &v, (uint8_t)(v + 1)));
    atomic_fetch_or(&sample_home_bits[h / 64], UINT64_C(1) << (h % 64));
    return 0;
}

/* Uncounts an entry at home h; the last one clears the bit, holding the
 * count at HOME_BUSY meanwhile so that no entry comes in between (a bit
 * cleared after another thread's entry set it would hide that entry from
 * the free hook). */
static void home_give(uint32_t h)
{
    uint8_t v = atomic_load(&homes[h]);

    for (;;) {
        if (v == HOME_BUSY) { /* not ours to see (our entry still counts): reread */
            v = atomic_load(&homes[h]);
            continue;
        }
        if (v == 1) {
            if (atomic_compare_exchange_weak(&homes[h], &v, HOME_BUSY)) {
                atomic_fetch_and(&sample_home_bits[h / 64], ~(UINT64_C(1) << (h % 64)));
                atomic_store(&homes[h], 0);
                return;
            }
        } else if (atomic_compare_exchange_weak(&homes[h], &v, (uint8_t)(v - 1))) {
            return;
        }
    }
}

void sample_filter_prefetch(const void *p)
{
    uint32_t h = sample_home(p);

    __builtin_prefetch(&filter[h], 1);
    __builtin_prefetch(&homes[h], 1);
    __builtin_prefetch(&sample_home_bits[h / 64], 1);
}

int sample_filter_add(const void *p)
{
    uint32_t h = sample_home(p);

    for (uint32_t i = 0; i < FILTER_WINDOW; i++) {
        uint32_t j = (h + i) & (FILTER_SIZE - 1);
        uintptr_t expect = 0;

        if (atomic_load_explicit(&filter[j], memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&filter[j], &expect, (uintptr_t)p)) {
            if (home_take(h) == 0)
                return 0;
            atomic_store(&filter[j], 0);
            break;
        }
    }
    atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
    return -1;
}

int sample_filter_del(const void *p)
{
    uint32_t h = sample_home(p);

    if (!atomic_load_explicit(&homes[h], memory_order_relaxed))
        return 0;
    for (uint32_t i = 0; i < FILTER_WINDOW; i++) {
        uint32_t j = (h + i) & (FILTER_SIZE - 1);
        uintptr_t expect = (uintptr_t)p;

        if (atomic_load_explicit(&filter[j], memory_order_relaxed) == (uintptr_t)p &&
            atomic_compare_exchange_strong(&filter[j], &expect, 0)) {
            home_give(h);
            return 1;
        }
    }
    return 0;
}

/* ---- collector side ---- */

/* The sums over every slot ever used; all wrap mod 2^64 alike. */
struct sums {
    uint64_t allocs, frees, asked, usable8;
};
static struct sums run_base; /* at the start of this run: sample_totals_restart() */

static struct sums sum_slots(void)
{
    unsigned hi = atomic_load(&slots_hi);
    struct sums s = {0, 0, 0, 0};

    for (unsigned i = 0; i < hi; i++) {
        const struct sample_thread *t = &slots[i];

        s.allocs += atomic_load_explicit(&t->allocs, memory_order_relaxed);
        s.frees += atomic_load_explicit(&t->frees, memory_order_relaxed);
        s.asked += atomic_load_explicit(&t->bytes_asked, memory_order_relaxed);
        s.usable8 += atomic_load_explicit(&t->usable8, memory_order_relaxed);
    }
    return s;
}

void sample_totals_restart(void)
{
    run_base = sum_slots();
}

void sample_totals(struct sample_totals *out)
{
    struct sums s = sum_slots();
    uint64_t net = s.usable8 - run_base.usable8;

    memset(out, 0, sizeof(*out));
    out->allocations = s.allocs - run_base.allocs;
    out->frees = s.frees - run_base.frees;
    out->bytes_allocated = s.asked - run_base.asked;
    net -= 8 * (out->allocations - out->frees); /* usable8's 8 a block (sample.h) */
    /* slots are read one after another: a block freed on a thread read
     * later than the one that allocated it can show for a moment as a
     * negative; never below 0 */
    out->heap_bytes = (int64_t)net > 0 ? net : 0;
    out->heap_blocks = out->allocations > out->frees ? out->allocations - out->frees : 0;
    out->dropped = atomic_load_explicit(&dropped, memory_order_relaxed);
}
