/*
 * test_model.c - the model: exact figures at time points from synthetic
 * streams (events, ticks, both), site attribution, peak, leaks, temporaries,
 * trees, sorting, filters, checkpoints, and inconsistent input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "encode.h"
#include "model.h"
#include "t_model.h"
#include "scanmsg.h"
#include "wire.h"

#define MS 1000000LL

static char mem[1 << 20];
static struct encode_buf B;

/* Decodes every message of B and applies it; returns the number of
 * model_apply() errors. */
static int flush_into(struct model *m)
{
    msgpack_zone zone;
    size_t off = 0;
    int errs = 0;

    msgpack_zone_init(&zone, 4096);
    while (off < B.len) {
        struct wire_msg msg;
        size_t used = 0;
        int r = decode_one(B.data + off, B.len - off, &zone, &msg, &used);
        assert_int_equal(r, 1);
        if (model_apply(m, &msg) != 0)
            errs++;
        off += used;
    }
    msgpack_zone_destroy(&zone);
    encode_init(&B, mem, sizeof(mem));
    return errs;
}

/*
 * Stacks (leaf last):
 *   1 main                       site main
 *   2 main > load_config         site load_config
 *   3 main > load_config > malloc(libc)            -> load_config
 *   4 main > parse
 *   5 main > parse > strdup(libc)                  -> parse
 *   6 main > parse > xmalloc(app, a wrapper)
 *   7 main > parse > xmalloc > malloc(libc)         -> parse
 *   8 main > _Znwm(libstdc++) > malloc(libc)        -> main
 *   9 _Znwm > malloc (nothing but plumbing)         -> the leaf, malloc
 */
static void defs_rate(uint64_t sample_rate);
static void defs(void)
{
    defs_rate(0);
}

static void defs_rate(uint64_t sample_rate)
{
    struct wire_frame f[] = {
        {0x100, 2, "main", "app.c", 10, NULL, 0},
        {0x200, 2, "load_config", "app.c", 20, NULL, 0},
        {0x300, 2, "parse", "app.c", 30, NULL, 0},
        {0x400, 2, "xmalloc", "util.c", 40, NULL, 0},
        {0x900, 1, "malloc", NULL, 0, NULL, 0},
        {0x910, 1, "strdup", NULL, 0, NULL, 0},
        {0x500, 3, "_Znwm", NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x200}, {3, 2, 0x900}, {4, 1, 0x300},
                                  {5, 4, 0x910}, {6, 4, 0x400}, {7, 6, 0x900}, {8, 1, 0x500},
                                  {10, 8, 0x900}, {11, 0, 0x500}, {12, 11, 0x900}};

    assert_int_equal(encode_hello_sampled(&B, 4242, "/bin/app", 1, 4096, 64, 0, sample_rate), 0);
    assert_int_equal(encode_module(&B, 1, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0, 0, NULL), 0);
    assert_int_equal(encode_module(&B, 2, "/bin/app", 0, 0, NULL), 0);
    assert_int_equal(encode_module(&B, 3, "/usr/lib/libstdc++.so.6", 0, 0, NULL), 0);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        assert_int_equal(encode_frame(&B, &f[i]), 0);
    assert_int_equal(encode_stacks(&B, n, sizeof(n) / sizeof(n[0])), 0);
    assert_int_equal(encode_thread(&B, 1, 100, "main"), 0);
    assert_int_equal(encode_thread(&B, 2, 101, "worker"), 0);
    assert_int_equal(encode_tag(&B, 1, "loader"), 0);
}

static struct model *new_model(void)
{
    struct model *m = model_new();

    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    defs();
    assert_int_equal(flush_into(m), 0);
    return m;
}

static const struct model_row *row_of(const struct model_view *v, uint32_t site)
{
    for (uint32_t i = 0; i < v->n_rows; i++)
        if (v->rows[i].site == site)
            return &v->rows[i];
    return NULL;
}

static void view_at(const struct model *m, int at, int64_t t, struct model_view *v)
{
    struct model_query q = {.at = at, .time = t};

    assert_int_equal(model_view_at(m, &q, v), 0);
}

/* Blocks are named by allocation sequence number (wire.h): the n-th ALLOC or
 * REALLOC of a stream is seq n, and a FREE names seq_now - back. */
#define EV_ALLOC(t_, st_, sz_) {.op = WIRE_OP_ALLOC, .time = (t_), .stack = (st_), .size = (sz_)}
#define EV_FREE(t_, back_) {.op = WIRE_OP_FREE, .time = (t_), .back = (back_)}
#define EV_THREAD(id_) {.op = WIRE_OP_THREAD, .id = (id_)}
#define EV_TAG(id_) {.op = WIRE_OP_TAG, .id = (id_)}

/* An unnamed frame is "module+0xOFFSET" (ip minus the module's load
 * address: what addr2line takes), "0xIP" without a module; a named one its
 * function. Sites carry the offset of their frame. */
/* Sampling mode (HELLO's sample_rate): the events are samples, so the
 * figures come from the ticks, which carry the collector's estimates by site
 * and the exact totals; an exact stream keeps events authoritative. */
static void test_sampled(void **state)
{
    struct model *m = model_new();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100)};
    struct wire_site d[] = {{3, 4172, 41, 41, 4172}};
    struct wire_totals t = {.time = 10 * MS, .heap_bytes = 5008, .heap_blocks = 50, .rss = 9000,
                            .allocations = 60, .frees = 10, .bytes_allocated = 6000};
    struct model_view v = {0};
    const struct model_row *r;

    (void)state;
    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    defs_rate(4096);
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(encode_end(&B, 20 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->sample_rate, 4096);
    assert_int_equal(model_summary(m)->events_exact, 0);
    assert_int_equal(model_summary(m)->heap_bytes, 5008);
    assert_int_equal(model_summary(m)->heap_blocks, 50);
    assert_int_equal(model_summary(m)->allocations, 60);
    assert_int_equal(model_summary(m)->frees, 10);
    assert_int_equal(model_summary(m)->bytes_allocated, 6000);
    view_at(m, MODEL_AT_END, 0, &v);
    r = row_of(&v, model_stack_site(m, 3));
    assert_non_null(r);
    assert_int_equal(r->live_bytes, 4172); /* the estimate, not the sample's 100 */
    assert_int_equal(r->live_blocks, 41);
    model_view_free(&v);
    model_free(m);

    /* the same HELLO without the field: exact, events rule */
    m = new_model();
    assert_int_equal(model_summary(m)->sample_rate, 0);
    assert_int_equal(model_summary(m)->events_exact, 1);
    model_free(m);
}

static void test_labels(void **state)
{
    struct model *m = model_new();
    struct wire_frame f[] = {{0x5555000012f9, 4, NULL, NULL, 0, NULL, 0},
                             {0x7777, 99, NULL, NULL, 0, NULL, 0}};
    struct wire_stack_node n[] = {{1, 0, 0x5555000012f9}, {2, 0, 0x7777}};
    struct wire_event ev[] = {EV_ALLOC(10, 1, 100)};
    char buf[64];

    (void)state;
    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(encode_hello(&B, 1, "/usr/bin/git", 1, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&B, 4, "/usr/bin/git", 0x555500000000, 0x400000, NULL), 0);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(encode_frame(&B, &f[i]), 0);
    assert_int_equal(encode_stacks(&B, n, 2), 0);
    assert_int_equal(encode_events(&B, 0, ev, 1), 0);
    assert_int_equal(flush_into(m), 0);
    assert_string_equal(model_frame_label(model_frame(m, 0x5555000012f9), buf, sizeof(buf)),
                        "git+0x12f9");
    assert_string_equal(model_frame_label(model_frame(m, 0x7777), buf, sizeof(buf)), "0x7777");
    assert_int_equal(model_site_count(m), 1);
    assert_int_equal(model_site(m, 0)->offset, 0x12f9);
    assert_string_equal(model_site_label(model_site(m, 0), buf, sizeof(buf)), "git+0x12f9");
    model_free(m);
}

static void test_attribution(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1),       EV_ALLOC(1, 3, 1),  EV_ALLOC(2, 5, 1),
                              EV_ALLOC(3, 7, 1),  EV_ALLOC(4, 10, 1), EV_ALLOC(5, 12, 1),
                              EV_ALLOC(6, 1, 1)};

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 7), 0);
    assert_int_equal(flush_into(m), 0);
    assert_string_equal(model_site(m, model_stack_site(m, 3))->function, "load_config");
    assert_string_equal(model_site(m, model_stack_site(m, 5))->function, "parse");
    assert_int_equal(model_stack_site(m, 7), model_stack_site(m, 5));
    assert_string_equal(model_site(m, model_stack_site(m, 10))->function, "main");
    assert_int_equal(model_stack_site(m, 10), model_stack_site(m, 1));
    assert_string_equal(model_site(m, model_stack_site(m, 12))->function, "malloc");
    assert_string_equal(model_site(m, model_stack_site(m, 12))->module, "libc.so.6");
    assert_string_equal(model_site(m, model_stack_site(m, 3))->file, "app.c");
    assert_int_equal(model_site(m, model_stack_site(m, 3))->line, 20);
    assert_string_equal(model_site(m, model_stack_site(m, 3))->module, "app");
    assert_int_equal(model_site(m, model_stack_site(m, 5))->n_stacks, 2);
    model_free(m);
}

/*
 * Python sites. Stacks (leaf last; PY = a Python frame, wire.h):
 *   7  main > Eval > PY <module> > PY load > list_resize > PyObject_Malloc > malloc
 *                                                   -> load svc.py:10 (the interpreter looked through)
 *   10 main > Eval > PY <module> > cfunction_call > encoder_call(_json) > malloc
 *                                                   -> encoder_call, its caller <module>
 *   12 ... > encoder_call > PyUnicode_New > malloc  -> encoder_call (the extension's own)
 *   14 main > PyUnicode_New > malloc (no Python)    -> PyUnicode_New, as before
 */
static void test_python_sites(void **state)
{
    const uint64_t py = WIRE_PYTHON_IP_BASE;
    struct model *m = model_new();
    struct wire_frame f[] = {
        {0x1000, 1, "main", NULL, 0, NULL, 0},
        {0x1100, 1, "_PyEval_EvalFrameDefault", "Python/ceval.c", 1, NULL, 0},
        {0x1200, 1, "PyObject_Malloc", NULL, 0, NULL, 0},
        {0x1300, 1, "list_resize", NULL, 0, NULL, 0},
        {0x1400, 1, "cfunction_call", NULL, 0, NULL, 0},
        {0x1500, 1, "PyUnicode_New", NULL, 0, NULL, 0},
        {0x2000, 2, "malloc", NULL, 0, NULL, 0},
        {0x3000, 3, "encoder_call", "Modules/_json.c", 77, NULL, 0},
        {py + (1 << 28) + 5, 4, "load", "/srv/app/svc.py", 10, NULL, 0},
        {py + (2 << 28) + 9, 4, "<module>", "/srv/app/svc.py", 20, NULL, 0},
    };
    struct wire_stack_node n[] = {
        {1, 0, 0x1000},  {2, 1, 0x1100},  {3, 2, py + (2 << 28) + 9}, {4, 3, py + (1 << 28) + 5},
        {5, 4, 0x1300},  {6, 5, 0x1200},  {7, 6, 0x2000},            {8, 3, 0x1400},
        {9, 8, 0x3000},  {10, 9, 0x2000}, {11, 9, 0x1500},           {12, 11, 0x2000},
        {13, 1, 0x1500}, {14, 13, 0x2000}};
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1, 7, 100), EV_ALLOC(2, 10, 30),
                              EV_ALLOC(3, 12, 20), EV_ALLOC(4, 14, 5)};
    struct model_query q = {.at = MODEL_AT_END};
    struct model_callers t;
    const struct model_caller *c;
    const struct model_site *s;
    uint32_t nc;

    (void)state;
    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(encode_hello(&B, 1, "/usr/bin/python3.11", 1, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&B, 1, "/usr/bin/python3.11", 0, 0x100000, NULL), 0);
    assert_int_equal(encode_module(&B, 2, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0, 0, NULL), 0);
    assert_int_equal(encode_module(&B, 3, "/usr/lib/_json.cpython-311-x86_64-linux-gnu.so", 0, 0,
                                   NULL), 0);
    assert_int_equal(encode_module(&B, 4, WIRE_PYTHON_MODULE, py, ~0ull - py, NULL), 0);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        assert_int_equal(encode_frame(&B, &f[i]), 0);
    assert_int_equal(encode_stacks(&B, n, sizeof(n) / sizeof(n[0])), 0);
    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(flush_into(m), 0);

    s = model_site(m, model_stack_site(m, 7));
    assert_string_equal(s->function, "load");
    assert_string_equal(s->file, "/srv/app/svc.py");
    assert_int_equal(s->line, 10);
    assert_string_equal(s->module, "python");
    assert_string_equal(model_site(m, model_stack_site(m, 10))->function, "encoder_call");
    assert_int_equal(model_stack_site(m, 12), model_stack_site(m, 10));
    assert_string_equal(model_site(m, model_stack_site(m, 14))->function, "PyUnicode_New");

    /* the extension's caller is the Python line, through cfunction_call */
    assert_int_equal(model_callers(m, &q, &t), 0);
    c = model_callers_of(&t, model_stack_site(m, 10), &nc);
    assert_int_equal(nc, 1);
    assert_string_equal(c[0].frame->function, "<module>");
    assert_int_equal(c[0].live_bytes, 50);
    c = model_callers_of(&t, model_stack_site(m, 7), &nc);
    assert_int_equal(nc, 1);
    assert_string_equal(c[0].frame->function, "<module>");
    model_callers_free(&t);

    /* --site FILE:LINE, for Python and native sites */
    s = model_site(m, model_stack_site(m, 7));
    assert_true(model_site_is(s, "load"));
    assert_true(model_site_is(s, "svc.py:10"));
    assert_true(model_site_is(s, "app/svc.py:10"));
    assert_true(model_site_is(s, "/srv/app/svc.py:10"));
    assert_false(model_site_is(s, "vc.py:10"));
    assert_false(model_site_is(s, "svc.py:11"));
    assert_false(model_site_is(s, "svc.py:"));
    assert_false(model_site_is(s, ":10"));
    assert_true(model_site_is(model_site(m, model_stack_site(m, 10)), "_json.c:77"));
    assert_true(model_site_is(model_site(m, model_stack_site(m, 10)), "Modules/_json.c:77"));
    model_free(m);
}

/* The reference run: three timeline buckets (3 ms, 15 ms, 25 ms), then END. */
static struct model *reference_run(void)
{
    struct model *m = new_model();
    struct wire_event ev[] = {
        EV_THREAD(1),
        EV_ALLOC(1 * MS, 3, 100),  /* seq 1, load_config */
        EV_ALLOC(2 * MS, 5, 50),   /* seq 2, parse */
        EV_FREE(3 * MS, 1),        /* seq 1 */
        EV_ALLOC(15 * MS, 7, 200), /* seq 3, parse */
        EV_ALLOC(25 * MS, 3, 300), /* seq 4, load_config */
        EV_ALLOC(26 * MS, 1, 10),  /* seq 5, main: the peak, 560; temporary */
        EV_FREE(27 * MS, 0),       /* seq 5 */
        EV_FREE(28 * MS, 4),       /* seq 1 again: not live, ignored */
        EV_FREE(29 * MS, 2),       /* seq 3 */
    };

    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(encode_marker(&B, 14 * MS, "phase 2"), 0);
    assert_int_equal(encode_end(&B, 30 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    return m;
}

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

static void test_timeline_and_growth(void **state)
{
    struct model *m = reference_run();
    uint32_t n, pa = site_named(m, "parse");
    const struct model_point *p = model_timeline(m, &n);
    struct model_query q = {.at = MODEL_AT_TIME, .time = 20 * MS, .window = 10 * MS,
                            .spark_from = 0, .spark_to = 30 * MS, .spark_points = 4};
    struct model_view v = {0};
    int64_t heap[3];

    (void)state;
    assert_int_equal(n, 3);
    assert_int_equal(p[0].time, 3 * MS);
    assert_int_equal(p[0].heap_bytes, 50);
    assert_int_equal(p[1].time, 15 * MS);
    assert_int_equal(p[1].heap_bytes, 250);
    assert_int_equal(p[2].time, 29 * MS);
    assert_int_equal(p[2].heap_bytes, 350);
    assert_int_equal(model_point_at(m, 2 * MS), MODEL_NONE);
    assert_int_equal(model_point_at(m, 3 * MS), 0);
    assert_int_equal(model_point_at(m, 16 * MS), 1);
    assert_int_equal(model_point_at(m, 99 * MS), 2);

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
        model_range_max(m, 0, 3, &h, &r);
        assert_int_equal(h, 350);
    }
    model_view_free(&v);
    model_free(m);
}

/*
 * One function called from one line at two return addresses (0x700, 0x710:
 * perl's five Perl_av_make under Perl_pp_anonlist) is one tree node with
 * the figures of both; a call from another line (0x720) and unnamed frames
 * at two addresses (0xa00, 0xa10) stay apart.
 */
static void test_tree_merge(void **state)
{
    struct model *m = model_new();
    struct wire_frame f[] = {
        {0x100, 2, "main", "app.c", 10, NULL, 0},  {0x700, 2, "make", "app.c", 50, NULL, 0},
        {0x710, 2, "make", "app.c", 50, NULL, 0},  {0x720, 2, "make", "app.c", 51, NULL, 0},
        {0x900, 1, "malloc", NULL, 0, NULL, 0},    {0xa00, 2, NULL, NULL, 0, NULL, 0},
        {0xa10, 2, NULL, NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x700}, {3, 2, 0x900}, {4, 1, 0x710},
                                  {5, 4, 0x900}, {6, 1, 0x720}, {7, 6, 0x900}, {8, 1, 0xa00},
                                  {9, 8, 0x900}, {10, 1, 0xa10}, {11, 10, 0x900}};
    struct wire_event ev[] = {EV_THREAD(1),          EV_ALLOC(1 * MS, 3, 100),
                              EV_ALLOC(15 * MS, 5, 30), EV_ALLOC(16 * MS, 5, 20),
                              EV_ALLOC(17 * MS, 7, 7),  EV_ALLOC(18 * MS, 9, 4),
                              EV_ALLOC(19 * MS, 11, 2)};
    struct model_query q = {.at = MODEL_AT_END};
    struct model_tree t = {0};
    uint32_t i, c;
    uint64_t key;

    (void)state;
    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(encode_hello(&B, 4242, "/bin/app", 1, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&B, 1, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0, 0, NULL), 0);
    assert_int_equal(encode_module(&B, 2, "/bin/app", 0, 0, NULL), 0);
    for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++)
        assert_int_equal(encode_frame(&B, &f[k]), 0);
    assert_int_equal(encode_stacks(&B, n, sizeof(n) / sizeof(n[0])), 0);
    assert_int_equal(encode_thread(&B, 1, 100, "main"), 0);
    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(encode_end(&B, 30 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);

    /* main (163) > make app.c:50 (150: 0x700's 100 + 0x710's 50), make
     * app.c:51 (7), app+0xa00 (4), app+0xa10 (2); each > malloc */
    assert_int_equal(model_tree_build(m, MODEL_NONE, &q, MODEL_TREE_TOP_DOWN, &t), 0);
    assert_int_equal(t.n, 9);
    i = t.first_root;
    assert_string_equal(t.nodes[i].frame->function, "main");
    assert_int_equal(t.nodes[i].incl_bytes, 163);
    assert_int_equal(t.nodes[i].next_sibling, MODEL_NONE);
    c = t.nodes[i].first_child;
    assert_string_equal(t.nodes[c].frame->function, "make");
    assert_int_equal(t.nodes[c].frame->line, 50);
    assert_int_equal(t.nodes[c].incl_bytes, 150);
    assert_int_equal(t.nodes[c].incl_blocks, 3);
    assert_int_equal(t.nodes[c].allocations, 3);
    assert_int_equal(t.nodes[t.nodes[c].first_child].own_bytes, 150);
    assert_int_equal(t.nodes[t.nodes[c].first_child].next_sibling, MODEL_NONE);
    key = t.nodes[c].key;
    c = t.nodes[c].next_sibling;
    assert_int_equal(t.nodes[c].frame->line, 51);
    assert_int_equal(t.nodes[c].incl_bytes, 7);
    c = t.nodes[c].next_sibling;
    assert_int_equal(t.nodes[c].frame->ip, 0xa00);
    assert_int_equal(t.nodes[c].incl_bytes, 4);
    c = t.nodes[c].next_sibling;
    assert_int_equal(t.nodes[c].frame->ip, 0xa10);
    assert_int_equal(t.nodes[c].incl_bytes, 2);
    assert_int_equal(t.nodes[c].next_sibling, MODEL_NONE);

    /* the merged node keeps its key at another time (a cursor stays on it),
     * with the figures of that time: 0x700's block alone at 10 ms */
    q = (struct model_query){.at = MODEL_AT_TIME, .time = 10 * MS};
    assert_int_equal(model_tree_build(m, MODEL_NONE, &q, MODEL_TREE_TOP_DOWN, &t), 0);
    c = model_tree_find(&t, key);
    assert_int_not_equal(c, MODEL_NONE);
    assert_int_equal(t.nodes[c].incl_bytes, 100);

    /* bottom-up: malloc > make:50 (150), make:51, two unnamed callers */
    q.at = MODEL_AT_END;
    assert_int_equal(model_tree_build(m, MODEL_NONE, &q, MODEL_TREE_BOTTOM_UP, &t), 0);
    i = t.first_root;
    assert_string_equal(t.nodes[i].frame->function, "malloc");
    assert_int_equal(t.nodes[i].incl_bytes, 163);
    c = t.nodes[i].first_child;
    assert_int_equal(t.nodes[c].frame->line, 50);
    assert_int_equal(t.nodes[c].incl_bytes, 150);
    assert_int_equal(t.n, 9);
    model_tree_free(&t);
    model_free(m);
}

static void test_tree(void **state)
{
    struct model *m = reference_run();
    struct model_query q = {.at = MODEL_AT_TIME, .time = 20 * MS};
    struct model_tree t = {0};
    uint32_t pa = site_named(m, "parse"), i, c;
    uint64_t key;

    (void)state;
    /* top-down at 20 ms: main > parse > {xmalloc > malloc: 200, strdup: 50} */
    assert_int_equal(model_tree_build(m, pa, &q, MODEL_TREE_TOP_DOWN, &t), 0);
    assert_int_equal(t.n, 5);
    i = t.first_root;
    assert_int_equal(i, 0);
    assert_string_equal(t.nodes[i].frame->function, "main");
    assert_int_equal(t.nodes[i].incl_bytes, 250);
    assert_int_equal(t.nodes[i].own_bytes, 0);
    assert_int_equal(t.nodes[i].next_sibling, MODEL_NONE);
    i = t.nodes[i].first_child;
    assert_string_equal(t.nodes[i].frame->function, "parse");
    c = t.nodes[i].first_child;
    assert_string_equal(t.nodes[c].frame->function, "xmalloc"); /* largest first */
    assert_int_equal(t.nodes[c].incl_bytes, 200);
    assert_int_equal(t.nodes[c].depth, 2);
    assert_string_equal(t.nodes[t.nodes[c].first_child].frame->function, "malloc");
    assert_int_equal(t.nodes[t.nodes[c].first_child].own_bytes, 200);
    c = t.nodes[c].next_sibling;
    assert_string_equal(t.nodes[c].frame->function, "strdup");
    assert_int_equal(t.nodes[c].own_bytes, 50);
    assert_int_equal(t.nodes[c].allocations, 1);
    key = t.nodes[c].key;

    /* at the end strdup's block is still live, xmalloc's is freed: order flips,
     * keys stay */
    q.at = MODEL_AT_END;
    assert_int_equal(model_tree_build(m, pa, &q, MODEL_TREE_TOP_DOWN, &t), 0);
    c = model_tree_find(&t, key);
    assert_int_not_equal(c, MODEL_NONE);
    assert_string_equal(t.nodes[c].frame->function, "strdup");
    assert_int_equal(t.nodes[t.nodes[c].parent].first_child, c);

    /* bottom-up: roots are the allocating frames */
    q.at = MODEL_AT_TIME;
    assert_int_equal(model_tree_build(m, pa, &q, MODEL_TREE_BOTTOM_UP, &t), 0);
    i = t.first_root;
    assert_string_equal(t.nodes[i].frame->function, "malloc");
    assert_int_equal(t.nodes[i].incl_bytes, 200);
    assert_string_equal(t.nodes[t.nodes[i].first_child].frame->function, "xmalloc");
    i = t.nodes[i].next_sibling;
    assert_string_equal(t.nodes[i].frame->function, "strdup");
    assert_int_equal(t.nodes[i].next_sibling, MODEL_NONE);

    /* depth-first order: every node's parent comes before it */
    for (i = 0; i < t.n; i++)
        if (t.nodes[i].parent != MODEL_NONE)
            assert_true(t.nodes[i].parent < i);
    model_tree_free(&t);
    model_free(m);
}

/* Inlined frames are frames of their own, in order, everywhere. At 0x200
 * the code of std::vector<int>::push_back (a libstdc++ header) is inlined
 * into fill, itself inlined into run, whose machine code it is:
 *   main > run > fill > push_back > malloc(libc)
 * The site is fill app.c:20 (push_back is inlined plumbing), its caller run
 * app.c:25, and the tree has a node per level. */
static void test_inlined(void **state)
{
    static const struct wire_inline chain[] = {{"fill", "app.c", 20}, {"run", "app.c", 25}};
    struct wire_frame f[] = {
        {0x100, 2, "main", "app.c", 30, NULL, 0},
        {0x200, 2, "std::vector<int, std::allocator<int> >::push_back(int const&)",
         "/usr/include/c++/12/bits/stl_vector.h", 1287, chain, 2},
        {0x900, 1, "malloc", NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x200}, {3, 2, 0x900}};
    struct wire_event ev[] = {EV_ALLOC(10, 3, 64), EV_ALLOC(20, 3, 64)};
    static const char *const want[] = {
        "malloc", "std::vector<int, std::allocator<int> >::push_back(int const&)", "fill", "run",
        "main"};
    static const uint32_t lines[] = {0, 1287, 20, 25, 30}, depths[] = {0, 2, 1, 0, 0};
    const struct model_frame *fr[8];
    struct model_query q = {.at = MODEL_AT_END};
    struct model_callers callers;
    struct model_tree t = {0};
    struct model *m = model_new();
    uint32_t site, nc, i, k;
    const struct model_caller *c;

    (void)state;
    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(encode_hello(&B, 1, "/bin/app", 1, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&B, 1, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0, 0, NULL), 0);
    assert_int_equal(encode_module(&B, 2, "/bin/app", 0, 0, NULL), 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(encode_frame(&B, &f[i]), 0);
    assert_int_equal(encode_stacks(&B, n, 3), 0);
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(flush_into(m), 0);

    /* the stack: five frames, three of them at one ip */
    assert_int_equal(model_stack_frames(m, 3, fr, 8), 5);
    for (i = 0; i < 5; i++) {
        assert_string_equal(fr[i]->function, want[i]);
        assert_int_equal(fr[i]->line, lines[i]);
        assert_int_equal(fr[i]->inline_depth, depths[i]);
    }
    assert_true(fr[1]->ip == 0x200 && fr[2]->ip == 0x200 && fr[3]->ip == 0x200);
    assert_ptr_equal(fr[1]->outer, fr[2]);
    assert_ptr_equal(fr[2]->outer, fr[3]);
    assert_null(fr[3]->outer);
    assert_string_equal(fr[2]->module, "app");

    /* the site: the user's line, not the inlined library's */
    site = model_stack_site(m, 3);
    assert_int_equal(site, site_named(m, "fill"));
    assert_string_equal(model_site(m, site)->file, "app.c");
    assert_int_equal(model_site(m, site)->line, 20);
    assert_int_equal(site_named(m, "std::vector<int, std::allocator<int> >::push_back(int const&)"),
                     MODEL_NONE);

    /* its caller: the function fill is inlined into, at fill's call */
    assert_int_equal(model_callers(m, &q, &callers), 0);
    c = model_callers_of(&callers, site, &nc);
    assert_int_equal(nc, 1);
    assert_string_equal(c[0].frame->function, "run");
    assert_int_equal(c[0].frame->line, 25);
    assert_int_equal(c[0].live_bytes, 128);
    assert_int_equal(model_callers_top_stack(&callers, site), 3);
    model_callers_free(&callers);

    /* the tree: a node per frame, in order, each with the figures */
    assert_int_equal(model_tree_build(m, site, &q, MODEL_TREE_TOP_DOWN, &t), 0);
    assert_int_equal(t.n, 5);
    for (i = t.first_root, k = 5; i != MODEL_NONE; i = t.nodes[i].first_child) {
        assert_string_equal(t.nodes[i].frame->function, want[--k]);
        assert_int_equal(t.nodes[i].depth, 4 - k);
        assert_int_equal(t.nodes[i].incl_bytes, 128);
        assert_int_equal(t.nodes[i].next_sibling, MODEL_NONE);
    }
    assert_int_equal(k, 0);
    assert_int_equal(model_tree_build(m, site, &q, MODEL_TREE_BOTTOM_UP, &t), 0);
    assert_int_equal(t.n, 5);
    for (i = t.first_root, k = 0; i != MODEL_NONE; i = t.nodes[i].first_child)
        assert_string_equal(t.nodes[i].frame->function, want[k++]);
    assert_int_equal(k, 5);
    model_tree_free(&t);
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

static void test_tags_threads_objects(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {
        EV_THREAD(2), EV_TAG(1), EV_ALLOC(1 * MS, 3, 64),
        EV_THREAD(1), EV_ALLOC(2 * MS, 3, 32),
        EV_THREAD(2), EV_ALLOC(3 * MS, 5, 16), /* thread 2 still carries tag 1 */
        EV_THREAD(1), EV_ALLOC(4 * MS, 3, 8),
    };
    struct model_object *o;
    uint64_t total, bytes[64], blocks[64];
    uint32_t lc, pa;
    int n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(flush_into(m), 0);
    lc = site_named(m, "load_config");
    pa = site_named(m, "parse");
    assert_true(model_site_has_tag(m, lc, 1));
    assert_true(model_site_has_tag(m, lc, 0));
    assert_true(model_site_has_tag(m, pa, 1));
    assert_false(model_site_has_tag(m, pa, 0));
    assert_true(model_site_has_thread(m, pa, 2));
    assert_false(model_site_has_thread(m, pa, 1));
    assert_string_equal(model_tag_name(m, 1), "loader");
    assert_string_equal(model_thread(m, 2)->name, "worker");
    assert_int_equal(model_thread(m, 2)->os_tid, 101);

    n = model_objects(m, lc, 3 * MS, 10, &o, &total);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    assert_int_equal(o[0].seq, 1); /* oldest first */
    assert_int_equal(o[0].addr, 0);  /* the events carry no addresses */
    assert_int_equal(o[0].tag, 1);
    assert_int_equal(o[0].thread, 2);
    assert_int_equal(o[1].seq, 2);
    assert_int_equal(o[1].tag, 0);
    free(o);
    n = model_objects(m, MODEL_NONE, INT64_MAX, 1, &o, &total);
    assert_int_equal(n, 1);
    assert_int_equal(total, 4);
    free(o);

    assert_true(model_tag_limit(m) <= 64);
    model_group_live(m, 0, bytes, blocks);
    assert_int_equal(bytes[1], 80);
    assert_int_equal(bytes[0], 40);
    assert_int_equal(blocks[0], 2);
    model_live_since(m, 2 * MS, bytes, blocks);
    assert_int_equal(bytes[lc], 40);
    assert_int_equal(blocks[lc], 2);
    assert_int_equal(bytes[pa], 16);
    model_free(m);
}

/* Realloc: one allocation at its site, the old block released. */
static void test_realloc_event(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {
        EV_THREAD(1),
        EV_ALLOC(1, 3, 100),
        {.op = WIRE_OP_REALLOC, .time = 2, .stack = 5, .size = 300, .back = 0},
    };
    struct model_view v = {0};

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(flush_into(m), 0);
    view_at(m, MODEL_AT_END, 0, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 0);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->allocations, 1);
    assert_int_equal(row_of(&v, site_named(m, "parse"))->live_bytes, 300);
    assert_int_equal(row_of(&v, site_named(m, "parse"))->allocations, 1);
    assert_int_equal(model_summary(m)->allocations, 2);
    assert_int_equal(model_summary(m)->frees, 1);
    assert_int_equal(model_summary(m)->heap_blocks, 1);
    /* heaptrack's rule: the block the realloc released right after its malloc */
    assert_int_equal(model_summary(m)->temporary, 1);
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
    struct wire_totals t = {.time = 85 * MS, .heap_bytes = 100, .heap_blocks = 1, .rss = 8192,
                            .allocations = 1, .frees = 0, .bytes_allocated = 100};
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

/* Events and ticks together: ticks agree, and a disagreement is counted. */
static void test_events_and_ticks_agree(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 5, 40)};
    struct wire_totals t = {.time = 10 * MS, .heap_bytes = 140, .heap_blocks = 2, .rss = 8192,
                            .allocations = 2, .frees = 0, .bytes_allocated = 140};
    struct wire_site d[] = {{3, 100, 1, 1, 100}, {5, 40, 1, 1, 40}};
    struct wire_event ev2[] = {EV_FREE(11 * MS, 1)}; /* seq 1 */
    struct model_view v = {0};
    uint32_t n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(encode_tick(&B, &t, d, 2), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 1), 0);
    t = (struct wire_totals){.time = 20 * MS, .heap_bytes = 40, .heap_blocks = 1, .rss = 9000,
                             .allocations = 2, .frees = 1, .bytes_allocated = 140};
    d[0] = (struct wire_site){3, -100, -1, 0, 0};
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->tick_mismatches, 0);
    assert_int_equal(model_summary(m)->events_exact, 1);
    assert_int_equal(model_summary(m)->rss, 9000);
    model_timeline(m, &n);
    assert_int_equal(n, 2);
    assert_int_equal(model_timeline(m, &n)[0].rss, 8192);
    /* the point the tick closes is the state after its last event, at 2 ms */
    assert_int_equal(model_timeline(m, &n)[0].time, 2 * MS);
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
    struct wire_totals t = {.time = 5 * MS, .heap_bytes = 500, .heap_blocks = 5, .rss = 4096,
                            .allocations = 9, .frees = 4, .bytes_allocated = 900};
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
    t = (struct wire_totals){.time = 15 * MS, .heap_bytes = 264, .heap_blocks = 3, .rss = 5000,
                             .allocations = 10, .frees = 7, .bytes_allocated = 964};
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
    struct wire_totals t = {.time = 5 * MS, .heap_bytes = 500, .heap_blocks = 5,
                            .allocations = 9, .frees = 4, .bytes_allocated = 900,
                            .peak_bytes = 800, .peak_time = 3200000};
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
    t = (struct wire_totals){.time = 15 * MS, .heap_bytes = 264, .heap_blocks = 3,
                             .allocations = 10, .frees = 7, .bytes_allocated = 964,
                             .peak_bytes = 900, .peak_time = 12300000};
    assert_int_equal(encode_tick(&B, &t, d, 2), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->heap_bytes, 264);
    assert_int_equal(model_summary(m)->peak_bytes, 900);
    assert_int_equal(model_summary(m)->peak_time, 12300000);
    model_free(m);

    /* events rule: the tick's peak is checked against theirs (150 B at 2 ms) */
    m = new_model();
    assert_int_equal(encode_events(&B, 0, ev, 4), 0);
    t = (struct wire_totals){.time = 10 * MS, .heap_bytes = 100, .heap_blocks = 1,
                             .allocations = 2, .frees = 1, .bytes_allocated = 150,
                             .peak_bytes = 150, .peak_time = 2 * MS};
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

/* The figures of (group, site) among rows, or NULL. */
static const struct model_group_row *group_row(const struct model_group_row *r, int n,
                                               uint32_t group, uint32_t site)
{
    for (int i = 0; i < n; i++)
        if (r[i].group == group && r[i].site == site)
            return &r[i];
    return NULL;
}

static int groups_at(const struct model *m, int at, int64_t t, int by_thread,
                     struct model_group_row **r)
{
    struct model_query q = {.at = at, .time = t};
    int n = model_group_rows(m, &q, by_thread, r);

    assert_true(n >= 0);
    return n;
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
        EV_THREAD(3), EV_TAG(1), EV_ALLOC(1 * MS, 3, 100000),
        EV_THREAD(4), EV_TAG(1), EV_ALLOC(2 * MS, 3, 200000),
        EV_THREAD(5), EV_TAG(0), EV_ALLOC(15 * MS, 3, 300000),
        EV_THREAD(6), EV_TAG(0), EV_ALLOC(16 * MS, 3, 400000),
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
    struct wire_totals t = {.time = 5 * MS, .heap_bytes = 500, .heap_blocks = 5,
                            .allocations = 9, .frees = 4, .bytes_allocated = 900};
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
    t = (struct wire_totals){.time = 15 * MS, .heap_bytes = 600, .heap_blocks = 6,
                             .allocations = 11, .frees = 5, .bytes_allocated = 1200};
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

/* A tick carries the events its collector had drained, which can be far
 * older than the tick (a starved collector thread): those events' state is
 * dated to them, not to the tick, and the timeline stays in time order. */
static void test_late_tick(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 3, 50)};
    struct wire_event ev2[] = {EV_ALLOC(150 * MS, 3, 7)};
    struct wire_totals t = {.time = 262 * MS, .heap_bytes = 150, .heap_blocks = 2,
                            .allocations = 2, .bytes_allocated = 150, .rss = 4096};
    struct model_view v = {0};
    const struct model_point *p;
    uint32_t n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    t.time = 270 * MS; /* event-less */
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(encode_events(&B, 0, ev2, 1), 0); /* drained after it */
    t = (struct wire_totals){.time = 280 * MS, .heap_bytes = 157, .heap_blocks = 3,
                             .allocations = 3, .bytes_allocated = 157, .rss = 4096};
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(flush_into(m), 0);
    view_at(m, MODEL_AT_TIME, 100 * MS, &v);
    assert_int_equal(v.totals.heap_bytes, 150);
    assert_int_equal(v.totals.rss, 4096);
    p = model_timeline(m, &n);
    assert_int_equal(n, 3);
    assert_int_equal(p[0].time, 2 * MS);
    assert_int_equal(p[1].time, 270 * MS);
    assert_int_equal(p[2].time, 270 * MS); /* the event of 150 ms: not before a point */
    assert_int_equal(p[2].heap_bytes, 157);
    assert_int_equal(model_summary(m)->tick_mismatches, 0);
    model_view_free(&v);
    model_free(m);
}

/* A tick split into two messages (same time and totals) is one point. */
static void test_tick_parts(void **state)
{
    struct model *m = new_model();
    struct wire_totals t = {.time = 5 * MS, .heap_bytes = 30, .heap_blocks = 2,
                            .allocations = 2, .bytes_allocated = 30};
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

/* MISSED: events stop being the truth; the next tick rebases every stack. */
static void test_missed_rebase(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100)};
    struct wire_totals t = {.time = 10 * MS, .heap_bytes = 100, .heap_blocks = 1,
                            .allocations = 1, .bytes_allocated = 100};
    struct wire_site d[] = {{3, 100, 1, 1, 100}};
    struct wire_site d2[] = {{3, 50, 1, 1, 50}, {5, 70, 1, 1, 70}};
    struct model_view v = {0};

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(encode_missed(&B, 2), 0);
    t = (struct wire_totals){.time = 20 * MS, .heap_bytes = 220, .heap_blocks = 3,
                             .allocations = 3, .bytes_allocated = 220};
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
    struct wire_totals t = {.time = 0, .allocations = 1, .heap_bytes = 1, .heap_blocks = 1,
                            .bytes_allocated = 1};
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
        t.heap_bytes = (uint64_t)k;
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

static void test_inconsistent(void **state)
{
    struct model *m = new_model();
    struct wire_stack_node bad_parent[] = {{20, 19, 0x100}};
    struct wire_stack_node jump[] = {{0x7ffffff0, 1, 0x100}};
    struct wire_stack_node redefine[] = {{2, 1, 0x999}};
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1, 999, 10)}; /* undefined stack */

    (void)state;
    assert_int_equal(encode_stacks(&B, bad_parent, 1), 0);
    assert_int_equal(flush_into(m), 1);
    assert_non_null(strstr(model_error(m), "undefined parent"));
    assert_int_equal(encode_stacks(&B, jump, 1), 0);
    assert_int_equal(flush_into(m), 1);
    assert_int_equal(encode_stacks(&B, redefine, 1), 0);
    assert_int_equal(flush_into(m), 1);
    assert_int_equal(encode_events(&B, 0, ev, 2), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->heap_bytes, 10);
    assert_int_equal(model_stack_site(m, 999), MODEL_NONE);
    model_free(m);
}

static void test_disabled_and_response(void **state)
{
    struct model *m = new_model();
    struct wire_object o[] = {{0x1000, 64, 3, 5, 1, 0, 77}};

    (void)state;
    assert_int_equal(encode_resp_objects(&B, 9, o, 1, 7), 0);
    assert_int_equal(encode_disabled(&B, 5 * MS, "out of memory", WIRE_OFF_COLLECTOR), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->state, MODEL_DISABLED);
    assert_string_equal(model_summary(m)->disabled_reason, "out of memory");
    assert_int_equal(model_last_response(m)->seq, 1);
    assert_int_equal(model_last_response(m)->id, 9);
    assert_int_equal(model_last_response(m)->n_objects, 1);
    assert_int_equal(model_last_response(m)->objects[0].addr, 0x1000);
    assert_int_equal(model_last_response(m)->objects[0].seq, 77);
    model_free(m);
}

/* A scan result outlives the message it came in; stacks of a site. */
static void test_scan_and_site_stacks(void **state)
{
    struct model *m = reference_run();
    struct scanmsg_result r = {.target = 0xD0, .levels = 2, .n_blocks = 3};
    struct scanmsg_node nodes[] = {
        {.kind = SCANMSG_HEAP, .addr = 0xD0, .size = 300, .to = 0, .id = 3, .inbound = 1},
        {.kind = SCANMSG_GLOBAL, .addr = 0x601000, .to = 0, .inbound = 1, .level = 1,
         .symbol = {"table", 5}, .module = {"/bin/app", 8}},
    };
    const struct scanmsg_result *got;
    struct scanmsg_node n1;
    uint64_t seq = 99;
    uint32_t st[8];

    (void)state;
    assert_null(model_last_scan(m, &seq));
    assert_int_equal(seq, 0);
    assert_int_equal(scanmsg_encode(&B, 5, &r, nodes, 2), 0);
    assert_int_equal(flush_into(m), 0);
    memset(mem, 0xee, sizeof(mem)); /* the stream's bytes are gone */
    got = model_last_scan(m, &seq);
    assert_non_null(got);
    assert_int_equal(seq, 1);
    assert_int_equal(got->target, 0xD0);
    assert_int_equal(scanmsg_count(got), 2);
    assert_int_equal(scanmsg_node_at(got, 1, &n1), 0);
    assert_int_equal(n1.kind, SCANMSG_GLOBAL);
    assert_int_equal(n1.symbol.len, 5);
    assert_memory_equal(n1.symbol.ptr, "table", 5);
    assert_int_equal(model_last_response(m)->kind, WIRE_REQ_SCAN);

    assert_int_equal(model_site_stacks(m, site_named(m, "parse"), st, 8), 2);
    assert_int_equal(st[0], 5);
    assert_int_equal(st[1], 7);
    assert_int_equal(model_site_stacks(m, site_named(m, "parse"), st, 1), 2);
    model_free(m);
}

/* A new stream (the program exec'd): everything is forgotten, the
 * generation keeps growing, and the new stream's ids are fresh. */
static void test_reset(void **state)
{
    struct model *m = reference_run();
    uint64_t gen = model_generation(m);
    struct model_view v = {0};
    uint32_t n;
    const struct model_frame *old = model_frame(m, 0x300);
    const char *fn = model_site(m, site_named(m, "parse"))->function;

    (void)state;
    assert_string_equal(old->function, "parse");
    assert_int_equal(model_reset(m), 0);
    /* what views held before the reset is still readable */
    assert_string_equal(old->function, "parse");
    assert_string_equal(fn, "parse");
    assert_true(model_generation(m) > gen);
    assert_int_equal(model_site_count(m), 0);
    assert_int_equal(model_summary(m)->allocations, 0);
    assert_int_equal(model_summary(m)->state, MODEL_WAITING);
    model_timeline(m, &n);
    assert_int_equal(n, 0);
    defs(); /* the same stack ids again: no "redefined" error */
    assert_int_equal(flush_into(m), 0);
    view_at(m, MODEL_AT_END, 0, &v);
    assert_int_equal(v.totals.heap_bytes, 0);
    model_view_free(&v);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_sampled),
        cmocka_unit_test(test_attribution),
        cmocka_unit_test(test_events_exact),
        cmocka_unit_test(test_timeline_and_growth),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_inlined),
        cmocka_unit_test(test_tree_merge),
        cmocka_unit_test(test_late_first_tick),
        cmocka_unit_test(test_marker_point),
        cmocka_unit_test(test_sort_filter),
        cmocka_unit_test(test_tags_threads_objects),
        cmocka_unit_test(test_realloc_event),
        cmocka_unit_test(test_events_and_ticks_agree),
        cmocka_unit_test(test_ticks_only),
        cmocka_unit_test(test_tick_parts),
        cmocka_unit_test(test_missed_rebase),
        cmocka_unit_test(test_checkpoints),
        cmocka_unit_test(test_compaction),
        cmocka_unit_test(test_inconsistent),
        cmocka_unit_test(test_disabled_and_response),
        cmocka_unit_test(test_scan_and_site_stacks),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_python_sites),
        cmocka_unit_test(test_ticks_exact_peak),
        cmocka_unit_test(test_groups_split_sites),
        cmocka_unit_test(test_late_tick),
        cmocka_unit_test(test_groups_compaction),
        cmocka_unit_test(test_groups_attached),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
