/*
 * test_model_objects.c - the live objects of a site: tags, threads, realloc.
 */
#include "t_model_stream.h"

static void test_tags_threads_objects(void **state)
{
    struct model *m = new_model();
    struct wire_event ev[] = {
        EV_THREAD(2),
        EV_TAG(1),
        EV_ALLOC(1 * MS, 3, 64),
        EV_THREAD(1),
        EV_ALLOC(2 * MS, 3, 32),
        EV_THREAD(2),
        EV_ALLOC(3 * MS, 5, 16), /* thread 2 still carries tag 1 */
        EV_THREAD(1),
        EV_ALLOC(4 * MS, 3, 8),
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
    assert_int_equal(o[0].seq, 1);  /* oldest first */
    assert_int_equal(o[0].addr, 0); /* the events carry no addresses */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tags_threads_objects),
        cmocka_unit_test(test_realloc_event),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
