/*
 * test_model_log.c - the timeline: points from events and ticks, markers, tick parts, MISSED,
 * checkpoints and compaction.
 */
#include "t_model_stream.h"

static void test_timeline_and_growth(void **state)
{
    struct model *m = reference_run();
    uint32_t n, pa = site_named(m, "parse");
    const struct model_point *p = model_timeline(m, &n);
    struct model_query q = {.at = MODEL_AT_TIME,
                            .time = 20 * MS,
                            .window = 10 * MS,
                            .spark_from = 0,
                            .spark_to = 30 * MS,
                            .spark_points = 4};
    struct model_view v = {0};
    int64_t heap[3];

    (void)state;
    /* the timeline begins at the first event (1 ms) in the state before
     * it, then a point per 10 ms bucket, at its last event */
    assert_int_equal(n, 4);
    assert_int_equal(p[0].time, 1 * MS);
    assert_int_equal(p[0].heap_bytes, 0);
    assert_int_equal(p[0].events, 0);
    p++;
    assert_int_equal(p[0].time, 3 * MS);
    assert_int_equal(p[0].heap_bytes, 50);
    assert_int_equal(p[1].time, 15 * MS);
    assert_int_equal(p[1].heap_bytes, 250);
    assert_int_equal(p[2].time, 29 * MS);
    assert_int_equal(p[2].heap_bytes, 350);
    assert_int_equal(model_point_at(m, 0 * MS), MODEL_NONE);
    assert_int_equal(model_point_at(m, 2 * MS), 0);
    assert_int_equal(model_point_at(m, 3 * MS), 1);
    assert_int_equal(model_point_at(m, 16 * MS), 2);
    assert_int_equal(model_point_at(m, 99 * MS), 3);

    model_sample_totals(m, 0, 20 * MS, 3, heap, NULL);
    assert_int_equal(heap[0], 0);
    assert_int_equal(heap[1], 50);
    assert_int_equal(heap[2], 250);

    assert_int_equal(model_view_at(m, &q, &v), 0);
    /* parse: 250 at 20 ms, 50 at 10 ms */
    assert_int_equal(row_of(&v, pa)->growth, 200);
    /* sparkline at 0, 10, 20, 30 ms */
    assert_non_null(row_of(&v, pa)->spark);
    assert_int_equal(row_of(&v, pa)->spark[0], 0);
    assert_int_equal(row_of(&v, pa)->spark[1], 50);
    assert_int_equal(row_of(&v, pa)->spark[2], 250);
    assert_int_equal(row_of(&v, pa)->spark[3], 50);
    {
        uint64_t h, r;
        /* a cell of the graph shows the most heap in it: the peak, 560 at
         * 26 ms (a temporary block, freed at 27), which no point's state
         * holds (350 at 29 ms) */
        assert_int_equal(p[2].heap_max, 560);
        assert_int_equal(p[1].heap_max, 250);
        assert_int_equal(p[0].heap_max, 150); /* 100 + 50, then the free at 3 ms */
        assert_int_equal(p[-1].heap_max, 0);  /* the state before any event */
        model_range_max(m, 1, 4, &h, &r);
        assert_int_equal(h, 560);
        model_range_max(m, 1, 3, &h, &r); /* 3 to 29 ms: the peak's bucket ends at 29 */
        assert_int_equal(h, 560);
        model_range_max(m, 1, 2, &h, &r); /* 3 to 15 ms */
        assert_int_equal(h, 250);
        model_range_max(m, 3, 4, &h, &r); /* from 29 ms on: the state then */
        assert_int_equal(h, 350);
        model_range_max(m, 0, 1, &h, &r); /* 1 to 3 ms: the first bucket's 150 */
        assert_int_equal(h, 150);
    }
    model_view_free(&v);
    model_free(m);
}

/*
 * A collector that starts late ticks (at 85 ms) before it has drained the
 * events stamped before the tick: they come after it. The timeline stays
 * in time order, so the first point is the first state and a time finds
 * the state of that time (perl, git: the first tick came at 0.5 s, Home
 * landed there and showed an empty heap).
 */
static void test_late_first_tick(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100)};
    struct wire_event ev2[] = {EV_THREAD(1), EV_ALLOC(5 * MS, 3, 100), EV_ALLOC(15 * MS, 3, 100),
                               EV_ALLOC(25 * MS, 3, 100)};
    struct wire_totals t = {.time = 85 * MS,
                            .heap_bytes = 100,
                            .heap_blocks = 1,
                            .rss = 8192,
                            .allocations = 1,
                            .frees = 0,
                            .bytes_allocated = 100};
    struct wire_site d[] = {{3, 100, 1, 1, 100}};
    struct model_view v = {0};
    const struct model_point *tl;
    uint32_t n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 4), 0);
    assert_int_equal(encode_end(&B, 90 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    tl = model_timeline(m, &n);
    assert_true(n >= 3);
    for (uint32_t i = 1; i < n; i++)
        assert_true(tl[i].time >= tl[i - 1].time);
    assert_int_equal(tl[0].time, 1 * MS);
    assert_int_equal(model_summary(m)->time_first, 1 * MS);
    view_at(m, MODEL_AT_TIME, 10 * MS, &v);
    assert_int_equal(v.totals.allocations, 2);
    assert_int_equal(v.totals.heap_bytes, 200);
    view_at(m, MODEL_AT_TIME, 20 * MS, &v);
    assert_int_equal(v.totals.heap_bytes, 300);
    model_view_free(&v);
    model_free(m);
}

/*
 * The state just after a marker is a point of its own, so `n` lands on it,
 * even with no tick between the marker and the next events (a collector
 * that starts late); a marker after later events adds none.
 */
static void test_marker_point(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 3, 100)};
    struct wire_event ev2[] = {EV_THREAD(1), EV_ALLOC(40 * MS, 5, 50)};
    const struct model_point *tl;
    uint32_t n, k = MODEL_NONE;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(encode_marker(&B, 5 * MS, "loaded"), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 2), 0);
    assert_int_equal(encode_marker(&B, 30 * MS, "late"), 0); /* after the 40 ms event */
    assert_int_equal(encode_end(&B, 50 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    tl = model_timeline(m, &n);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            assert_true(tl[i].time >= tl[i - 1].time);
        if (tl[i].time == 5 * MS)
            k = i;
        assert_true(tl[i].time != 30 * MS);
    }
    assert_int_not_equal(k, MODEL_NONE);
    assert_int_equal(tl[k].allocations, 2);
    assert_int_equal(tl[k].heap_bytes, 200);
    assert_int_equal(model_point_at(m, 39 * MS), k);
    model_free(m);
}

/* A tick split into two messages (same time and totals) is one point. */
static void test_tick_parts(void **state)
{
    struct model *m = new_model();
    struct wire_totals t = {.time = 5 * MS,
                            .heap_bytes = 30,
                            .heap_blocks = 2,
                            .allocations = 2,
                            .bytes_allocated = 30};
    struct wire_site s0[] = {{1, 0, 0, 0, 0}};
    struct wire_site a[] = {{3, 10, 1, 1, 10}}, b[] = {{5, 20, 1, 1, 20}};
    struct model_view v = {0};
    uint32_t n;

    (void)state;
    t.allocations = 1; /* a non-empty snapshot: attach mode */
    t.heap_bytes = 1;
    assert_int_equal(encode_snapshot(&B, &t, s0, 1, 0), 0);
    t.time = 10 * MS;
    t.heap_bytes = 30;
    t.allocations = 2;
    assert_int_equal(encode_tick(&B, &t, a, 1), 0);
    assert_int_equal(encode_tick(&B, &t, b, 1), 0);
    assert_int_equal(flush_into(m), 0);
    model_timeline(m, &n);
    assert_int_equal(n, 2);
    view_at(m, MODEL_AT_TIME, 10 * MS, &v);
    assert_int_equal(row_of(&v, site_named(m, "parse"))->live_bytes, 20);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 10);
    model_view_free(&v);
    model_free(m);
}

/* A tick carries the events its collector had drained, which can be far
 * older than the tick (a starved collector thread): those events' state is
 * dated to them, not to the tick, and the timeline stays in time order. */
static void test_late_tick(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 3, 50)};
    struct wire_event ev2[] = {EV_ALLOC(150 * MS, 3, 7)};
    struct wire_totals t = {.time = 262 * MS,
                            .heap_bytes = 150,
                            .heap_blocks = 2,
                            .allocations = 2,
                            .bytes_allocated = 150,
                            .rss = 4096};
    struct model_view v = {0};
    const struct model_point *p;
    uint32_t n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    t.time = 270 * MS; /* event-less */
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 1), 0); /* drained after it */
    t = (struct wire_totals){.time = 280 * MS,
                             .heap_bytes = 157,
                             .heap_blocks = 3,
                             .allocations = 3,
                             .bytes_allocated = 157,
                             .rss = 4096};
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(flush_into(m), 0);
    view_at(m, MODEL_AT_TIME, 100 * MS, &v);
    assert_int_equal(v.totals.heap_bytes, 150);
    assert_int_equal(v.totals.rss, 4096);
    p = model_timeline(m, &n);
    assert_int_equal(n, 4);
    assert_int_equal(p[0].time, 1 * MS); /* the state before the first event */
    assert_int_equal(p[0].heap_bytes, 0);
    p++;
    assert_int_equal(p[0].time, 2 * MS);
    assert_int_equal(p[1].time, 270 * MS);
    assert_int_equal(p[2].time, 270 * MS); /* the event of 150 ms: not before a point */
    assert_int_equal(p[2].heap_bytes, 157);
    assert_int_equal(model_summary(m)->tick_mismatches, 0);
    model_view_free(&v);
    model_free(m);
}

/* MISSED: events stop being the truth; the next tick rebases every stack. */
static void test_missed_rebase(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100)};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 100,
                            .heap_blocks = 1,
                            .allocations = 1,
                            .bytes_allocated = 100};
    struct wire_site d[] = {{3, 100, 1, 1, 100}};
    struct wire_site d2[] = {{3, 50, 1, 1, 50}, {5, 70, 1, 1, 70}};
    struct model_view v = {0};

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(encode_missed(&B, 2), 0);
    t = (struct wire_totals){.time = 20 * MS,
                             .heap_bytes = 220,
                             .heap_blocks = 3,
                             .allocations = 3,
                             .bytes_allocated = 220};
    assert_int_equal(encode_tick(&B, &t, d2, 2), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->events_exact, 0);
    assert_int_equal(model_summary(m)->missed, 2);
    assert_int_equal(model_summary(m)->heap_bytes, 220);
    view_at(m, MODEL_AT_END, 0, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 150);
    assert_int_equal(row_of(&v, site_named(m, "parse"))->live_bytes, 70);
    view_at(m, MODEL_AT_TIME, 15 * MS, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 100);
    model_view_free(&v);
    model_free(m);
}

/* Many ticks: checkpoints must give the same answers as a plain sum. */
static void test_checkpoints(void **state)
{
    enum { TICKS = 3000, STACKS = 11 };
    static const uint32_t ids[STACKS] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12};
    struct model *m = new_model();
    struct wire_site d[STACKS];
    struct wire_site s0[] = {{1, 1, 1, 1, 1}};
    struct wire_totals t = {
        .time = 0, .allocations = 1, .heap_bytes = 1, .heap_blocks = 1, .bytes_allocated = 1};
    int64_t *expect = calloc((size_t)TICKS * 64, sizeof(*expect));
    int64_t live[64] = {0};
    struct model_view v = {0};

    (void)state;
    live[model_stack_site(m, 1) == MODEL_NONE ? 0 : 0] = 0;
    assert_int_equal(encode_snapshot(&B, &t, s0, 1, 0), 0);
    assert_int_equal(flush_into(m), 0);
    for (int k = 0; k < TICKS; k++) {
        for (int s = 0; s < STACKS; s++)
            d[s] = (struct wire_site){ids[s], (k * 7 + s * 13) % 50 - 20, 0, 1, 1};
        t.time = (int64_t)(k + 1) * 10 * MS;
        assert_int_equal(encode_tick(&B, &t, d, STACKS), 0);
        assert_int_equal(flush_into(m), 0);
        for (int s = 0; s < STACKS; s++) {
            uint32_t site = model_stack_site(m, ids[s]);
            live[site] += d[s].live_bytes;
        }
        live[model_stack_site(m, 1)] += k == 0 ? 1 : 0; /* the snapshot's byte */
        memcpy(expect + (size_t)k * 64, live, sizeof(live));
    }
    for (int k = 0; k < TICKS; k += 97) {
        view_at(m, MODEL_AT_TIME, (int64_t)(k + 1) * 10 * MS + 5, &v);
        for (uint32_t s = 0; s < model_site_count(m); s++)
            assert_int_equal(row_of(&v, s)->live_bytes, expect[(size_t)k * 64 + s]);
    }
    free(expect);
    model_view_free(&v);
    model_free(m);
}

/* A small budget: the timeline stays bounded, every answer is still the
 * exact state at some tick at or before the asked time, recent ticks keep
 * full resolution, and the latest state is exact. */
static void test_compaction(void **state)
{
    enum { TICKS = 2000, STACKS = 11 };
    static const uint32_t ids[STACKS] = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12};
    struct model *m = new_model();
    struct wire_site d[STACKS];
    struct wire_site s0[] = {{1, 1, 1, 1, 1}};
    struct wire_totals t = {.time = 0, .allocations = 1, .heap_bytes = 1, .heap_blocks = 1};
    int64_t *expect = calloc((size_t)TICKS * 64, sizeof(*expect));
    int64_t live[64] = {0};
    struct model_view v = {0};
    const struct model_point *pts;
    uint32_t n;

    (void)state;
    model_set_budget(m, 1024, 64);
    assert_int_equal(encode_snapshot(&B, &t, s0, 1, 0), 0);
    assert_int_equal(flush_into(m), 0);
    live[model_stack_site(m, 1)] = 1;
    for (int k = 0; k < TICKS; k++) {
        for (int s = 0; s < STACKS; s++)
            d[s] = (struct wire_site){ids[s], (k * 7 + s * 13) % 50 - 20, 0, 1, 1};
        t.time = (int64_t)(k + 1) * 10 * MS;
        t.heap_bytes = (uint64_t)(k % 2 ? 100000 + k : k); /* a spike every other tick */
        assert_int_equal(encode_tick(&B, &t, d, STACKS), 0);
        assert_int_equal(flush_into(m), 0);
        for (int s = 0; s < STACKS; s++)
            live[model_stack_site(m, ids[s])] += d[s].live_bytes;
        memcpy(expect + (size_t)k * 64, live, sizeof(live));
    }
    pts = model_timeline(m, &n);
    assert_true(n <= 100);
    assert_int_equal(pts[n - 1].time, (int64_t)TICKS * 10 * MS); /* the latest tick kept */
    assert_int_equal(pts[n - 2].time, (int64_t)(TICKS - 1) * 10 * MS);
    /* merged points keep what the dropped ones reached: the graph's cell from
     * one kept point to the next shows the highest tick between them */
    for (uint32_t i = 1; i < n; i++) {
        uint64_t want = 0, h;

        for (int k = 0; k < TICKS; k++) {
            int64_t tk = (int64_t)(k + 1) * 10 * MS;
            uint64_t hk = (uint64_t)(k % 2 ? 100000 + k : k);
            if (tk >= pts[i - 1].time && tk < pts[i].time && hk > want)
                want = hk;
        }
        model_range_max(m, i - 1, i, &h, NULL);
        assert_int_equal(h, want);
    }
    for (int k = 0; k < TICKS; k += 37) {
        int64_t at = (int64_t)(k + 1) * 10 * MS + 5;
        uint32_t p = model_point_at(m, at);
        int kk;

        view_at(m, MODEL_AT_TIME, at, &v);
        if (p == MODEL_NONE || pts[p].time == 0)
            continue; /* before the first kept tick: the snapshot point */
        kk = (int)(pts[p].time / (10 * MS)) - 1;
        assert_true(kk <= k);
        for (uint32_t s = 0; s < model_site_count(m); s++)
            assert_int_equal(row_of(&v, s)->live_bytes, expect[(size_t)kk * 64 + s]);
    }
    view_at(m, MODEL_AT_END, 0, &v);
    for (uint32_t s = 0; s < model_site_count(m); s++)
        assert_int_equal(row_of(&v, s)->live_bytes, expect[(size_t)(TICKS - 1) * 64 + s]);
    free(expect);
    model_view_free(&v);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeline_and_growth), cmocka_unit_test(test_late_first_tick),
        cmocka_unit_test(test_marker_point),        cmocka_unit_test(test_tick_parts),
        cmocka_unit_test(test_late_tick),           cmocka_unit_test(test_missed_rebase),
        cmocka_unit_test(test_checkpoints),         cmocka_unit_test(test_compaction),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
