/*
 * test_model_tree.c - the stack tree of a site, top-down and bottom-up, and sibling frames merged.
 */
#include "t_model_stream.h"

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
    /* own: what the frame allocated itself, the root's, none of its callers' */
    assert_int_equal(t.nodes[i].own_bytes, 200);
    assert_string_equal(t.nodes[t.nodes[i].first_child].frame->function, "xmalloc");
    assert_int_equal(t.nodes[t.nodes[i].first_child].own_bytes, 0);
    for (c = 0; c < t.n; c++)
        if (t.nodes[c].parent != MODEL_NONE)
            assert_int_equal(t.nodes[c].own_bytes, 0);
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
        {0x100, 2, "main", "app.c", 10, NULL, 0}, {0x700, 2, "make", "app.c", 50, NULL, 0},
        {0x710, 2, "make", "app.c", 50, NULL, 0}, {0x720, 2, "make", "app.c", 51, NULL, 0},
        {0x900, 1, "malloc", NULL, 0, NULL, 0},   {0xa00, 2, NULL, NULL, 0, NULL, 0},
        {0xa10, 2, NULL, NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x700},  {3, 2, 0x900},  {4, 1, 0x710},
                                  {5, 4, 0x900}, {6, 1, 0x720},  {7, 6, 0x900},  {8, 1, 0xa00},
                                  {9, 8, 0x900}, {10, 1, 0xa10}, {11, 10, 0x900}};
    struct wire_event ev[] = {EV_THREAD(1),
                              EV_ALLOC(1 * MS, 3, 100),
                              EV_ALLOC(15 * MS, 5, 30),
                              EV_ALLOC(16 * MS, 5, 20),
                              EV_ALLOC(17 * MS, 7, 7),
                              EV_ALLOC(18 * MS, 9, 4),
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_merge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
