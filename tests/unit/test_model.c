/*
 * test_model.c - the model's life cycle: inconsistent input, DISABLED and responses, scan results,
 * reset, events skipped.
 */
#include "t_model_stream.h"

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

/* A RESPONSE is counted and otherwise left to whoever asked (responses.h:
 * test_responses.c has what the old "last response" was checked for). */
static void test_disabled_and_response(void **state)
{
    struct model *m = new_model();
    struct wire_object o[] = {{0x1000, 64, 3, 5, 1, 0, 77}};
    uint64_t messages = model_summary(m)->messages;

    (void)state;
    assert_int_equal(encode_resp_objects(&B, 9, o, 1, 7), 0);
    assert_int_equal(encode_disabled(&B, 5 * MS, "out of memory", WIRE_OFF_COLLECTOR), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->state, MODEL_DISABLED);
    assert_string_equal(model_summary(m)->disabled_reason, "out of memory");
    assert_int_equal(model_summary(m)->messages, messages + 2);
    assert_int_equal(model_summary(m)->heap_blocks, 0);
    model_free(m);
}

/* The stacks of a site, for a REQ_OBJECTS of its objects. */
static void test_scan_and_site_stacks(void **state)
{
    struct model *m = reference_run();
    uint32_t st[8];

    (void)state;
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

/* The definitions and one batch of two allocations (stacks 3 and 7), into
 * m, which skips events: the batch is counted, nothing else. */
static void defs_and_skipped_batch(struct model *m)
{
    struct wire_event ev[] = {EV_THREAD(1), EV_ALLOC(1 * MS, 3, 100), EV_ALLOC(2 * MS, 7, 200)};

    defs();
    assert_int_equal(encode_events(&B, 0, ev, 3), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->skipped_batches, 1);
    assert_int_equal(model_summary(m)->events, 0);
    assert_int_equal(model_summary(m)->heap_bytes, 0);
    assert_int_equal(model_summary(m)->events_exact, 0);
}

/* model_skip_events(): EVENTS batches are counted, not applied; the figures
 * come from ticks, and a stack has its site once a tick names it. It holds
 * across a reset. */
static void test_skip_events(void **state)
{
    struct model *m = model_new();
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 300,
                            .heap_blocks = 2,
                            .rss = 4096,
                            .allocations = 2,
                            .bytes_allocated = 300};
    struct wire_site d[] = {{3, 100, 1, 1, 100}};
    struct model_view v = {0};
    uint32_t st[4];

    (void)state;
    assert_non_null(m);
    assert_int_equal(model_skip_events(m), 0);
    encode_init(&B, mem, sizeof(mem));
    defs_and_skipped_batch(m);
    assert_int_equal(model_stack_site(m, 3), MODEL_NONE); /* no event, no tick named it yet */
    assert_int_equal(encode_tick(&B, &t, d, 1), 0);
    assert_int_equal(flush_into(m), 0);
    assert_int_equal(model_summary(m)->heap_bytes, 300);
    assert_int_equal(model_summary(m)->allocations, 2);
    assert_int_equal(model_stack_site(m, 3), site_named(m, "load_config"));
    assert_int_equal(model_stack_site(m, 7), MODEL_NONE);
    assert_int_equal(model_site_stacks(m, site_named(m, "load_config"), st, 4), 1);
    assert_int_equal(st[0], 3);
    view_at(m, MODEL_AT_END, 0, &v);
    assert_int_equal(row_of(&v, site_named(m, "load_config"))->live_bytes, 100);
    model_view_free(&v);

    assert_int_equal(model_reset(m), 0);
    defs_and_skipped_batch(m);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inconsistent),         cmocka_unit_test(test_disabled_and_response),
        cmocka_unit_test(test_scan_and_site_stacks), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_skip_events),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
