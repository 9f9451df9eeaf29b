/*
 * test_model_query.c - the state at a time: exact figures from events, ticks or both, the peak,
 * sort and filter, groups by thread and tag.
 */
#include "t_model_stream.h"

static void test_events_exact(void **state)
{
    struct model *m = reference_run();
    const struct model_summary *s = model_summary(m);
    struct model_view v = {0};
    uint32_t lc = site_named(m, "load_config"), pa = site_named(m, "parse"),
             mn = site_named(m, "main");
    const struct model_row *r;

    (void)state;
    assert_int_equal(s->state, MODEL_ENDED);
    assert_int_equal(s->pid, 4242);
    assert_string_equal(s->exe, "/bin/app");
    assert_int_equal(s->events_exact, 1);
    assert_int_equal(s->allocations, 5);
    assert_int_equal(s->frees, 3);
    assert_int_equal(s->bytes_allocated, 660);
    assert_int_equal(s->heap_bytes, 350);
    assert_int_equal(s->heap_blocks, 2);
    assert_int_equal(s->peak_bytes, 560);
    assert_int_equal(s->peak_time, 26 * MS);
    assert_int_equal(s->unmatched_frees, 1);
    assert_int_equal(s->temporary, 1);
    assert_int_equal(s->leaked_bytes, 350);
    assert_int_equal(s->time_last, 30 * MS);

    /* end */
    view_at(m, MODEL_AT_END, 0, &v);
    r = row_of(&v, lc);
    assert_int_equal(r->live_bytes, 300);
    assert_int_equal(r->live_blocks, 1);
    assert_int_equal(r->allocations, 2);
    assert_int_equal(r->bytes_allocated, 400);
    assert_int_equal(r->peak_bytes, 300);
    assert_int_equal(r->leaked_bytes, 300);
    r = row_of(&v, pa);
    assert_int_equal(r->live_bytes, 50);
    assert_int_equal(r->allocations, 2);
    assert_int_equal(r->peak_bytes, 250);
    r = row_of(&v, mn);
    assert_int_equal(r->live_bytes, 0);
    assert_int_equal(r->temporary, 1);
    assert_int_equal(v.totals.heap_bytes, 350);
    assert_int_equal(v.totals.allocations, 5);

    /* 5 ms: after the first bucket (ends at 3 ms) */
    view_at(m, MODEL_AT_TIME, 5 * MS, &v);
    assert_int_equal(v.time, 5 * MS);
    assert_int_equal(row_of(&v, lc)->live_bytes, 0);
    assert_int_equal(row_of(&v, lc)->allocations, 1);
    assert_int_equal(row_of(&v, pa)->live_bytes, 50);
    assert_int_equal(v.totals.heap_bytes, 50);
    assert_int_equal(v.totals.allocations, 2);
    assert_int_equal(v.totals.frees, 1);

    /* 20 ms */
    view_at(m, MODEL_AT_TIME, 20 * MS, &v);
    assert_int_equal(row_of(&v, pa)->live_bytes, 250);
    assert_int_equal(row_of(&v, pa)->live_blocks, 2);
    assert_int_equal(v.totals.heap_bytes, 250);

    /* before anything */
    view_at(m, MODEL_AT_TIME, 0, &v);
    assert_int_equal(row_of(&v, pa)->live_bytes, 0);
    assert_int_equal(v.totals.heap_bytes, 0);

    /* the exact peak */
    view_at(m, MODEL_AT_PEAK, 0, &v);
    assert_int_equal(v.time, 26 * MS);
    assert_int_equal(v.totals.heap_bytes, 560);
    assert_int_equal(v.totals.allocations, 5);
    assert_int_equal(v.totals.frees, 1);
    assert_int_equal(row_of(&v, lc)->live_bytes, 300);
    assert_int_equal(row_of(&v, pa)->live_bytes, 250);
    assert_int_equal(row_of(&v, mn)->live_bytes, 10);
    assert_int_equal(row_of(&v, mn)->allocations, 1);

    /* markers */
    {
        uint32_t n;
        const struct model_marker *mk = model_markers(m, &n);
        assert_int_equal(n, 1);
        assert_string_equal(mk[0].label, "phase 2");
        assert_int_equal(mk[0].time, 14 * MS);
    }
    model_view_free(&v);
    model_free(m);
}

static void test_sort_filter(void **state)
{
    struct model *m = reference_run();
    struct model_view v = {0};
    struct model_filter f = {.tag = MODEL_NONE, .thread = MODEL_NONE};
    uint32_t n;

    (void)state;
    view_at(m, MODEL_AT_TIME, 20 * MS, &v);
    model_rows_sort(m, v.rows, v.n_rows, MODEL_SORT_LIVE_BYTES, 0);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "parse");
    model_rows_sort(m, v.rows, v.n_rows, MODEL_SORT_FUNCTION, 0);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "load_config");
    model_rows_sort(m, v.rows, v.n_rows, MODEL_SORT_FUNCTION, 1);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "parse");
    model_rows_sort(m, v.rows, v.n_rows, MODEL_SORT_ALLOCATIONS, 0);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "parse");

    f.text = "PARS";
    n = model_rows_filter(m, v.rows, v.n_rows, &f);
    assert_int_equal(n, 1);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "parse");

    view_at(m, MODEL_AT_END, 0, &v);
    f.text = NULL;
    f.flags = MODEL_FILTER_LEAKS;
    n = model_rows_filter(m, v.rows, v.n_rows, &f);
    assert_int_equal(n, 2); /* load_config 300, parse 50 */
    view_at(m, MODEL_AT_END, 0, &v);
    f.flags = MODEL_FILTER_TEMPORARY;
    n = model_rows_filter(m, v.rows, v.n_rows, &f);
    assert_int_equal(n, 1);
    assert_string_equal(model_site(m, v.rows[0].site)->function, "main");
    view_at(m, MODEL_AT_END, 0, &v);
    f.flags = 0;
    f.thread = 2; /* nothing ran on the worker */
    assert_int_equal(model_rows_filter(m, v.rows, v.n_rows, &f), 0);
    model_view_free(&v);
    model_free(m);
}

/* Events and ticks together: ticks agree, and a disagreement is counted. */
static void test_events_and_ticks_agree(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 5, 40)};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 140,
                            .heap_blocks = 2,
                            .rss = 8192,
                            .allocations = 2,
                            .frees = 0,
                            .bytes_allocated = 140};
    struct wire_site d[] = {{3, 100, 1, 1, 100}, {5, 40, 1, 1, 40}};
    struct wire_event ev2[] = {EV_FREE(11 * MS, 1)}; /* seq 1 */
    struct model_view v = {0};
    uint32_t n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(encode_tick(&B, &t, d, 2), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 1), 0);
    t = (struct wire_totals){.time = 20 * MS,
                             .heap_bytes = 40,
                             .heap_blocks = 1,
                             .rss = 9000,
                             .allocations = 2,
                             .frees = 1,
                             .bytes_allocated = 140};
    d[0] = (struct wire_site){3, -100, -1, 0, 0};
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->tick_mismatches, 0);
    assert_int_equal(model_summary(m)->events_exact, 1);
    assert_int_equal(model_summary(m)->rss, 9000);
    model_timeline(m, &n);
    assert_int_equal(n, 3);
    /* the first point: the state before the first event (1 ms) */
    assert_int_equal(model_timeline(m, &n)[0].time, 1 * MS);
    assert_int_equal(model_timeline(m, &n)[0].heap_bytes, 0);
    assert_int_equal(model_timeline(m, &n)[1].rss, 8192);
    /* the point the tick closes is the state after its last event, at 2 ms */
    assert_int_equal(model_timeline(m, &n)[1].time, 2 * MS);
    view_at(m, MODEL_AT_TIME, 10 * MS, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 100);
    /* the free at 11 ms is in the state at 15 ms, though its tick came at 20 */
    view_at(m, MODEL_AT_TIME, 15 * MS, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 0);

    /* a tick that disagrees with the events */
    t.time = 30 * MS;
    t.heap_bytes = 41;
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->tick_mismatches, 1);
    assert_int_equal(model_summary(m)->heap_bytes, 40); /* events rule */
    model_view_free(&v);
    model_free(m);
}

/* Attach: SNAPSHOT (absolute) + HISTORY + TICK deltas; ticks are the truth. */
static void test_ticks_only(void **state)
{
    struct model *m = new_model();
    struct wire_history_row h[] = {{1 * MS, 10, 1, 100}, {2 * MS, 20, 2, 200}};
    struct wire_totals t = {.time = 5 * MS,
                            .heap_bytes = 500,
                            .heap_blocks = 5,
                            .rss = 4096,
                            .allocations = 9,
                            .frees = 4,
                            .bytes_allocated = 900};
    struct wire_site snap[] = {{3, 300, 3, 5, 500}, {5, 200, 2, 4, 400}};
    struct wire_site d[] = {{3, -300, -3, 0, 0}, {7, 64, 1, 1, 64}};
    /* seq 42 at the attach: back 0 and back 2 name blocks from before it,
     * back 0 after one allocation a block allocated since */
    struct wire_event ev[] = {EV_THREAD(1), EV_FREE(6 * MS, 0), EV_FREE(6 * MS, 2),
                              EV_ALLOC(7 * MS, 7, 64), EV_FREE(8 * MS, 0)};
    struct model_view v = {0};
    uint32_t n, lc, pa;
    const struct model_point *p;

    (void)state;
    assert_int_equal(encode_history(&B, h, 2), 0);
    assert_int_equal(encode_snapshot(&B, &t, snap, 2, 42), 0);
    assert_int_equal(encode_events(&B, 0, ev, 5), 0);
    t = (struct wire_totals){.time = 15 * MS,
                             .heap_bytes = 264,
                             .heap_blocks = 3,
                             .rss = 5000,
                             .allocations = 10,
                             .frees = 7,
                             .bytes_allocated = 964};
    assert_int_equal(encode_tick(&B, &t, d, 2), 0);
    assert_int_equal(flush_into(m), 0);
    lc = site_named(m, "load_config");
    pa = site_named(m, "parse");
    assert_int_equal(model_summary(m)->events_exact, 0);
    assert_int_equal(model_summary(m)->attached, 1);
    assert_int_equal(model_summary(m)->unmatched_frees, 0); /* blocks from before the attach */
    assert_int_equal(model_summary(m)->temporary, 1);
    assert_int_equal(model_summary(m)->heap_bytes, 264);
    assert_int_equal(model_summary(m)->peak_bytes, 500);
    assert_int_equal(model_summary(m)->peak_time, 5 * MS);
    p = model_timeline(m, &n);
    assert_int_equal(n, 4);
    assert_int_equal(p[0].flags, MODEL_POINT_HISTORY);
    assert_int_equal(p[1].heap_bytes, 20);
    assert_int_equal(p[2].time, 5 * MS);

    view_at(m, MODEL_AT_TIME, 10 * MS, &v);
    assert_int_equal(row_of(&v, lc)->live_bytes, 300);
    assert_int_equal(row_of(&v, lc)->allocations, 5);
    assert_int_equal(row_of(&v, pa)->live_bytes, 200);
    view_at(m, MODEL_AT_END, 0, &v);
    assert_int_equal(row_of(&v, lc)->live_bytes, 0);
    assert_int_equal(row_of(&v, pa)->live_bytes, 264);
    assert_int_equal(row_of(&v, pa)->live_blocks, 3);
    assert_int_equal(row_of(&v, pa)->allocations, 5);
    assert_int_equal(row_of(&v, pa)->peak_bytes, 264);
    view_at(m, MODEL_AT_PEAK, 0, &v);
    assert_int_equal(row_of(&v, lc)->live_bytes, 300);
    assert_int_equal(v.totals.heap_bytes, 500);
    view_at(m, MODEL_AT_TIME, 1 * MS, &v); /* history: totals only */
    assert_int_equal(v.totals.heap_bytes, 10);
    assert_int_equal(row_of(&v, lc)->live_bytes, 0);
    model_view_free(&v);
    model_free(m);
}

/* A client that reads ticks (attached, or behind) shows the collector's exact
 * peak, which came between ticks: not the highest tick (500 B at 5 ms). A
 * recording's ticks carry the same peak; one that disagrees with the events
 * is counted as a mismatch. */
static void test_ticks_exact_peak(void **state)
{
    struct model *m = new_model();
    struct wire_totals t = {.time = 5 * MS,
                            .heap_bytes = 500,
                            .heap_blocks = 5,
                            .allocations = 9,
                            .frees = 4,
                            .bytes_allocated = 900,
                            .peak_bytes = 800,
                            .peak_time = 3200000};
    struct wire_site snap[] = {{3, 300, 3, 5, 500}, {5, 200, 2, 4, 400}};
    struct wire_site d[] = {{3, -300, -3, 0, 0}, {7, 64, 1, 1, 64}};
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 3, 50),
                              EV_FREE(3 * MS, 0)};

    (void)state;
    assert_int_equal(encode_snapshot(&B, &t, snap, 2, 42), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->events_exact, 0);
    assert_int_equal(model_summary(m)->peak_bytes, 800);
    assert_int_equal(model_summary(m)->peak_time, 3200000);
    t = (struct wire_totals){.time = 15 * MS,
                             .heap_bytes = 264,
                             .heap_blocks = 3,
                             .allocations = 10,
                             .frees = 7,
                             .bytes_allocated = 964,
                             .peak_bytes = 900,
                             .peak_time = 12300000};
    assert_int_equal(encode_tick(&B, &t, d, 2), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->heap_bytes, 264);
    assert_int_equal(model_summary(m)->peak_bytes, 900);
    assert_int_equal(model_summary(m)->peak_time, 12300000);
    model_free(m);

    /* events rule: the tick's peak is checked against theirs (150 B at 2 ms) */
    m = new_model();
    assert_int_equal(encode_events(&B, 0, ev, 4), 0);
    t = (struct wire_totals){.time = 10 * MS,
                             .heap_bytes = 100,
                             .heap_blocks = 1,
                             .allocations = 2,
                             .frees = 1,
                             .bytes_allocated = 150,
                             .peak_bytes = 150,
                             .peak_time = 2 * MS};
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    t.time = 20 * MS;
    t.peak_time = 1 * MS; /* wrong */
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->events_exact, 1);
    assert_int_equal(model_summary(m)->peak_bytes, 150);
    assert_int_equal(model_summary(m)->peak_time, 2 * MS);
    assert_int_equal(model_summary(m)->tick_mismatches, 1);
    model_free(m);
}

/* Four threads w0..w3 (ids 3..6) allocate 100,000 x (id + 1) bytes each at one
 * site (load_config); w3 frees w1's block at 30 ms, which stays w1's loss. The
 * site is reached under the tag loader (w0, w1) and without a tag (w2, w3).
 * Grouping splits the site's figures exactly, at the end, at a time and at the
 * peak, where the site's first thread used to get all of them. */
static void test_groups_split_sites(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {
        EV_THREAD(3),        EV_TAG(1), EV_ALLOC(1 * MS, 3, 100000),
        EV_THREAD(4),        EV_TAG(1), EV_ALLOC(2 * MS, 3, 200000),
        EV_THREAD(5),        EV_TAG(0), EV_ALLOC(15 * MS, 3, 300000),
        EV_THREAD(6),        EV_TAG(0), EV_ALLOC(16 * MS, 3, 400000),
        EV_FREE(30 * MS, 2), /* seq 4 - 2: w1's block, freed on w3 */
    };
    struct model_group_row *r;
    uint32_t lc;
    int n;

    (void)state;
    for (uint32_t i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof(name), "w%u", i);
        assert_int_equal(encode_thread(&B, 3 + i, 200 + i, name), 0);
    }
    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(flush_into(m), 0);
    lc = site_named(m, "load_config");

    n = groups_at(m, MODEL_AT_END, 0, 1, &r);
    assert_int_equal(n, 4);
    assert_int_equal(group_row(r, n, 3, lc)->live_bytes, 100000);
    assert_int_equal(group_row(r, n, 4, lc)->live_bytes, 0);
    assert_int_equal(group_row(r, n, 4, lc)->live_blocks, 0);
    assert_int_equal(group_row(r, n, 4, lc)->allocations, 1);
    assert_int_equal(group_row(r, n, 5, lc)->live_bytes, 300000);
    assert_int_equal(group_row(r, n, 6, lc)->live_bytes, 400000);
    assert_int_equal(group_row(r, n, 6, lc)->bytes_allocated, 400000);
    free(r);
    n = groups_at(m, MODEL_AT_END, 0, 0, &r);
    assert_int_equal(n, 2);
    assert_int_equal(group_row(r, n, 1, lc)->live_bytes, 100000);
    assert_int_equal(group_row(r, n, 1, lc)->allocations, 2);
    assert_int_equal(group_row(r, n, 0, lc)->live_bytes, 700000);
    assert_int_equal(group_row(r, n, 0, lc)->live_blocks, 2);
    free(r);

    /* at 10 ms: the first bucket (w0, w1) only */
    n = groups_at(m, MODEL_AT_TIME, 10 * MS, 1, &r);
    assert_int_equal(n, 2);
    assert_int_equal(group_row(r, n, 3, lc)->live_bytes, 100000);
    assert_int_equal(group_row(r, n, 4, lc)->live_bytes, 200000);
    free(r);

    /* the peak (1,000,000 B at 16 ms): w1's block still live */
    assert_int_equal(model_summary(m)->peak_bytes, 1000000);
    n = groups_at(m, MODEL_AT_PEAK, 0, 1, &r);
    assert_int_equal(n, 4);
    assert_int_equal(group_row(r, n, 4, lc)->live_bytes, 200000);
    assert_int_equal(group_row(r, n, 6, lc)->live_bytes, 400000);
    free(r);
    n = groups_at(m, MODEL_AT_PEAK, 0, 0, &r);
    assert_int_equal(group_row(r, n, 1, lc)->live_bytes, 300000);
    assert_int_equal(group_row(r, n, 0, lc)->live_bytes, 700000);
    free(r);
    model_free(m);
}

/* Compaction coarsens the party log with the timeline: at any time a site's
 * per-thread rows add up to its row, and at the end each thread's share is
 * exact (threads 1 and 2 take turns, 2000 buckets, a budget of 64 points). */
static void test_groups_compaction(void **state)
{
    enum { BUCKETS = 2000 };
    struct model *m = new_model();
    struct model_view v = {0};
    struct model_group_row *r;
    int64_t want[3] = {0};
    uint32_t lc;
    int n;

    (void)state;
    model_set_budget(m, 1024, 64);
    for (int k = 0; k < BUCKETS; k++) {
        struct wire_event ev[] = {EV_THREAD(1 + k % 2), EV_ALLOC((k + 1) * 20 * MS, 3, k % 50 + 1)};
        assert_int_equal(encode_events(&B, 0, ev, 2), 0);
        want[1 + k % 2] += k % 50 + 1;
    }
    assert_int_equal(flush_into(m), 0);
    lc = site_named(m, "load_config");
    for (int k = 0; k < BUCKETS; k += 97) {
        int64_t at = (int64_t)(k + 1) * 20 * MS + 5 * MS, sum = 0;
        view_at(m, MODEL_AT_TIME, at, &v);
        n = groups_at(m, MODEL_AT_TIME, at, 1, &r);
        for (int i = 0; i < n; i++)
            if (r[i].site == lc)
                sum += r[i].live_bytes;
        assert_int_equal(sum, row_of(&v, lc)->live_bytes);
        free(r);
    }
    n = groups_at(m, MODEL_AT_END, 0, 1, &r);
    assert_int_equal(group_row(r, n, 1, lc)->live_bytes, want[1]);
    assert_int_equal(group_row(r, n, 2, lc)->live_bytes, want[2]);
    free(r);
    model_view_free(&v);
    model_free(m);
}

/* Attached to a running program (ticks rule): the blocks allocated since the
 * attach are known by thread, what the site held before (500 B, and 200 B of
 * it freed since) is "not known"; after a missed event nothing is. */
static void test_groups_attached(void **state)
{
    struct model *m = new_model();
    struct wire_totals t = {.time = 5 * MS,
                            .heap_bytes = 500,
                            .heap_blocks = 5,
                            .allocations = 9,
                            .frees = 4,
                            .bytes_allocated = 900};
    struct wire_site snap[] = {{3, 500, 5, 9, 900}};
    /* seq 42 at the attach; back 3 after two allocations: a block from before */
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(6 * MS, 3, 100), EV_THREAD(2),
                              EV_ALLOC(7 * MS, 3, 200), EV_FREE(8 * MS, 3)};
    struct wire_site d[] = {{3, 100, 1, 2, 300}};
    struct model_group_row *r;
    uint32_t lc;
    int n;

    (void)state;
    assert_int_equal(encode_snapshot(&B, &t, snap, 1, 42), 0);
    assert_int_equal(encode_events(&B, 0, ev, 5), 0);
    t = (struct wire_totals){.time = 15 * MS,
                             .heap_bytes = 600,
                             .heap_blocks = 6,
                             .allocations = 11,
                             .frees = 5,
                             .bytes_allocated = 1200};
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->attached, 1);
    lc = site_named(m, "load_config");
    n = groups_at(m, MODEL_AT_END, 0, 1, &r);
    assert_int_equal(n, 3);
    assert_int_equal(group_row(r, n, 1, lc)->live_bytes, 100);
    assert_int_equal(group_row(r, n, 2, lc)->live_bytes, 200);
    assert_int_equal(group_row(r, n, MODEL_NONE, lc)->live_bytes, 300);
    assert_int_equal(group_row(r, n, MODEL_NONE, lc)->live_blocks, 4);
    assert_int_equal(group_row(r, n, MODEL_NONE, lc)->allocations, 9);
    free(r);
    n = groups_at(m, MODEL_AT_TIME, 10 * MS, 1, &r); /* before the tick: the snapshot's */
    assert_int_equal(n, 1);
    assert_int_equal(group_row(r, n, MODEL_NONE, lc)->live_bytes, 500);
    free(r);

    assert_int_equal(encode_missed(&B, 5), 0);
    assert_int_equal(flush_into(m), 0);
    n = groups_at(m, MODEL_AT_END, 0, 1, &r);
    assert_int_equal(n, 1);
    assert_int_equal(group_row(r, n, MODEL_NONE, lc)->live_bytes, 600);
    free(r);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_exact),           cmocka_unit_test(test_sort_filter),
        cmocka_unit_test(test_events_and_ticks_agree), cmocka_unit_test(test_ticks_only),
        cmocka_unit_test(test_ticks_exact_peak),       cmocka_unit_test(test_groups_split_sites),
        cmocka_unit_test(test_groups_compaction),      cmocka_unit_test(test_groups_attached),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
