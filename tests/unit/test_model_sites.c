/*
 * test_model_sites.c - frames and sites: labels, the attribution rule (allocator plumbing, Python,
 * inlined frames).
 */
#include "t_model_stream.h"

/* A model and an empty stream whose HELLO says sampling mode at 4096 B. */
static struct model *sampled_model(void)
{
    struct model *m = model_new();

    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    defs_rate(4096);
    return m;
}

/* The site of `stack` at `at` holds these figures. */
static void assert_site_at(struct model *m, int at, uint32_t stack, uint64_t bytes, uint64_t blocks)
{
    struct model_view v = {0};
    const struct model_row *r;

    view_at(m, at, 0, &v);
    r = row_of(&v, model_stack_site(m, stack));
    assert_non_null(r);
    assert_int_equal(r->live_bytes, bytes);
    assert_int_equal(r->live_blocks, blocks);
    model_view_free(&v);
}

/* Sampling mode (HELLO's sample_rate): the events are samples, so the
 * figures come from the ticks, which carry the collector's estimates by site
 * and the exact totals; an exact stream keeps events authoritative. */
static void test_sampled(void **state)
{
    struct model *m = sampled_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100)};
    struct wire_site d[] = {{3, 4172, 41, 41, 4172}};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 5008,
                            .heap_blocks = 50,
                            .rss = 9000,
                            .allocations = 60,
                            .frees = 10,
                            .bytes_allocated = 6000};

    (void)state;
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
    assert_site_at(m, MODEL_AT_END, 3, 4172, 41); /* the estimate, not the sample's 100 */
    model_free(m);

    /* the same HELLO without the field: exact, events rule */
    m = new_model();
    assert_int_equal(model_summary(m)->sample_rate, 0);
    assert_int_equal(model_summary(m)->events_exact, 1);
    model_free(m);
}

/* Sampling mode: a tick's exact totals are read when it is sent, its sites
 * only reach the drain's watermark. A run that ends within that lag of its
 * peak sends the peak's totals twice, the sites with the second: the peak
 * is the later tick, and the site is there at the peak (git log ran 15 ms
 * and showed "(nothing live)" at the peak). A tick with other totals stays
 * where it was. */
static void test_sampled_peak_late_sites(void **state)
{
    struct model *m = sampled_model();
    struct wire_site d[] = {{3, 4172, 41, 41, 4172}};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 5008,
                            .heap_blocks = 50,
                            .allocations = 60,
                            .bytes_allocated = 6000};

    (void)state;
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    t.time = 12 * MS;
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    t.time = 14 * MS; /* a free since: lower, not the peak */
    t.heap_bytes -= 8;
    t.heap_blocks--;
    t.frees++;
    assert_int_equal(encode_tick(&B, &t, NULL, 0), 0);
    assert_int_equal(encode_end(&B, 15 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->peak_bytes, 5008);
    assert_int_equal(model_summary(m)->peak_time, 12 * MS);
    assert_site_at(m, MODEL_AT_PEAK, 3, 4172, 41);
    model_free(m);
}

/* Sampling mode split by thread: each thread's figures are its samples'
 * weights, as the site's are (4096 B rate: a 100 B sample weighs 4146 B and
 * 41.46 blocks, one of 8192 B its own size and 1 block), and no share of
 * the site is "not known": every sample is an event. */
static void test_sampled_threads(void **state)
{
    struct model *m = sampled_model();
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_THREAD(2),
                              EV_ALLOC(2 * MS, 3, 100), EV_ALLOC(3 * MS, 3, 8192)};
    /* the collector's estimate: 2 * 4146 + 8192 B, (2 * 2717256 + 65536) / 65536 blocks */
    struct wire_site d[] = {{3, 16484, 84, 84, 16484}};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 8392,
                            .heap_blocks = 3,
                            .rss = 9000,
                            .allocations = 3,
                            .bytes_allocated = 8392};
    struct model_query q = {.at = MODEL_AT_END};
    struct model_group_row *r = NULL;
    int n;

    (void)state;
    assert_int_equal(encode_events(&B, 0, ev, 5), 0);
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(encode_end(&B, 20 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(flush_into(m), 0);
    n = model_group_rows(m, &q, 1, &r);
    assert_int_equal(n, 2);
    assert_int_equal(r[0].group, 1);
    assert_int_equal(r[0].live_bytes, 4146);
    assert_int_equal(r[0].live_blocks, 41);
    assert_int_equal(r[0].allocations, 41);
    assert_int_equal(r[0].bytes_allocated, 4146);
    assert_int_equal(r[1].group, 2);
    assert_int_equal(r[1].live_bytes, 4146 + 8192);
    assert_int_equal(r[1].live_blocks, 42);
    assert_int_equal(r[1].allocations, 42);
    free(r);
    model_free(m);
}

/* An unnamed frame is "module+0xOFFSET" (ip minus the module's load
 * address: what addr2line takes), "0xIP" without a module; a named one its
 * function. Sites carry the offset of their frame. */
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
    struct wire_event ev[] = {EV_THREAD(1),      EV_ALLOC(1, 3, 1),  EV_ALLOC(2, 5, 1),
                              EV_ALLOC(3, 7, 1), EV_ALLOC(4, 10, 1), EV_ALLOC(5, 12, 1),
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
 *                                                   -> load svc.py:10 (the interpreter looked
 * through) 10 main > Eval > PY <module> > cfunction_call > encoder_call(_json) > malloc
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
    struct wire_stack_node n[] = {{1, 0, 0x1000},
                                  {2, 1, 0x1100},
                                  {3, 2, py + (2 << 28) + 9},
                                  {4, 3, py + (1 << 28) + 5},
                                  {5, 4, 0x1300},
                                  {6, 5, 0x1200},
                                  {7, 6, 0x2000},
                                  {8, 3, 0x1400},
                                  {9, 8, 0x3000},
                                  {10, 9, 0x2000},
                                  {11, 9, 0x1500},
                                  {12, 11, 0x2000},
                                  {13, 1, 0x1500},
                                  {14, 13, 0x2000}};
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
    assert_int_equal(
        encode_module(&B, 3, "/usr/lib/_json.cpython-311-x86_64-linux-gnu.so", 0, 0, NULL), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_sampled),
        cmocka_unit_test(test_sampled_peak_late_sites),
        cmocka_unit_test(test_sampled_threads),
        cmocka_unit_test(test_attribution),
        cmocka_unit_test(test_python_sites),
        cmocka_unit_test(test_inlined),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
