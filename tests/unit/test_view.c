/*
 * test_view.c - the screens' logic without a terminal: the site table's
 * sorting, filtering, grouping and a selection that stays on its site while
 * new data arrives; the stack tree's guides, collapse and a cursor kept by
 * node key across rebuilds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "encode.h"
#include "keys.h"
#include "model.h"
#include "report.h"
#include "scanmsg.h"
#include "chain.h"
#include "view_ctx.h"
#include "view_header.h"
#include "view_objects.h"
#include "view_refs.h"
#include "view_sites.h"
#include "view_tree.h"
#include "widget.h"

static char mem[1 << 16];
static struct encode_buf buf;

static void flush(struct model *m)
{
    size_t off = 0;
    while (off < buf.len) {
        msgpack_zone z;
        struct wire_msg msg;
        size_t used = 0;
        msgpack_zone_init(&z, 4096);
        assert_int_equal(decode_one(buf.data + off, buf.len - off, &z, &msg, &used), 1);
        assert_int_equal(model_apply(m, &msg), 0);
        msgpack_zone_destroy(&z);
        off += used;
    }
    encode_init(&buf, mem, sizeof mem);
}

/* main (1) -> run (2) -> alpha (3) | beta (4) | gamma (5); beta also via
 * main -> other (6) -> beta (7) */
static struct model *make_model(void)
{
    struct model *m = model_new();
    static const char *names[] = {"main", "run", "alpha", "beta", "gamma", "other"};
    encode_init(&buf, mem, sizeof mem);
    encode_hello(&buf, 42, "/bin/t", 0, 4096, 64, 0);
    encode_module(&buf, 1, "/bin/t", 0x400000, 0x10000, "");
    for (int i = 0; i < 6; i++) {
        struct wire_frame f = {.ip = 0x401000 + 0x100 * (uint64_t)i,
                               .module = 1,
                               .function = names[i],
                               .file = "t.c",
                               .line = 10 + (uint32_t)i};
        encode_frame(&buf, &f);
    }
    struct wire_stack_node n[] = {{1, 0, 0x401000}, {2, 1, 0x401100}, {3, 2, 0x401200},
                                  {4, 2, 0x401300}, {5, 2, 0x401400}, {6, 1, 0x401500},
                                  {7, 6, 0x401300}};
    encode_stacks(&buf, n, 7);
    encode_tag(&buf, 1, "cache");
    encode_thread(&buf, 1, 100, "main");
    flush(m);
    return m;
}

static void alloc(struct model *m, int64_t t, uint32_t stack, uint64_t size, uint32_t tag)
{
    struct wire_event ev[] = {
        {.op = WIRE_OP_THREAD, .id = 1},
        {.op = WIRE_OP_TAG, .id = tag},
        {.op = WIRE_OP_ALLOC, .stack = stack, .time = t, .size = size},
    };
    encode_events(&buf, t, ev, 3);
    flush(m);
}

/* a tick at time t with the heap the events left: heap bytes and blocks */
static void tick(struct model *m, int64_t t, uint64_t heap, uint64_t blocks)
{
    struct wire_totals tot = {.time = t,
                              .heap_bytes = heap,
                              .heap_blocks = blocks,
                              .rss = 4096,
                              .allocations = blocks,
                              .bytes_allocated = heap};
    encode_tick(&buf, &tot, NULL, 0);
    flush(m);
}

static void refresh(struct ui *ui)
{
    struct model_query q;
    view_ctx_query(ui, &q);
    assert_int_equal(model_view_at(ui->m, &q, &ui->mv), 0);
    view_sites_rebuild(ui);
}

/* the site table's lines as the last rebuild left them */
static const struct view_line *lines_of(struct ui *ui, uint32_t *n, int *sel)
{
    return view_sites_lines(ui, n, sel);
}

static uint32_t n_lines(struct ui *ui)
{
    uint32_t n;
    lines_of(ui, &n, NULL);
    return n;
}

static const char *line_name(struct ui *ui, uint32_t i)
{
    uint32_t n;
    const struct view_line *l = &lines_of(ui, &n, NULL)[i];
    if (l->row == MODEL_NONE)
        return "(heading)";
    return model_site(ui->m, ui->mv.rows[l->row].site)->function;
}

static void test_sites(void **state)
{
    struct model *m = make_model();
    struct ui ui;
    (void)state;
    memset(&ui, 0, sizeof ui);
    ui.m = m;
    ui.table_h = 10;
    ui.cols = 80;
    assert_int_equal(view_sites_ops.open(&ui), 0);
    uint32_t nl;
    int sel;

    alloc(m, 20000000, 3, 300, 0); /* alpha 300 */
    alloc(m, 40000000, 4, 200, 1); /* beta 200 + 50, tagged */
    alloc(m, 50000000, 7, 50, 1);
    alloc(m, 60000000, 5, 100, 0); /* gamma 100 */
    refresh(&ui);
    assert_int_equal(n_lines(&ui), 3);
    assert_string_equal(line_name(&ui, 0), "alpha");
    assert_string_equal(line_name(&ui, 1), "beta");
    assert_int_equal(ui.mv.rows[lines_of(&ui, &nl, NULL)[1].row].live_bytes, 250);
    assert_string_equal(line_name(&ui, 2), "gamma");

    /* select beta; gamma overtakes everyone: the selection stays on beta */
    view_sites_move(&ui, 1, 0);
    assert_string_equal(model_site(m, view_sites_selected(&ui))->function, "beta");
    alloc(m, 80000000, 5, 1000, 0);
    refresh(&ui);
    assert_string_equal(line_name(&ui, 0), "gamma");
    lines_of(&ui, &nl, &sel);
    assert_int_equal(sel, 2);
    assert_string_equal(model_site(m, view_sites_selected(&ui))->function, "beta");

    /* the filter keeps the sites whose names match */
    view_sites_set_filter(&ui, "ALP");
    refresh(&ui);
    assert_int_equal(n_lines(&ui), 1);
    assert_string_equal(line_name(&ui, 0), "alpha");
    /* and the status bar counts what the table shows, of all */
    char count[48];
    ui.mv_valid = 1;
    view_sites_count(&ui, count, sizeof count);
    assert_string_equal(count, "1 of 3 sites");
    view_sites_set_filter(&ui, "");
    refresh(&ui);
    view_sites_count(&ui, count, sizeof count);
    assert_string_equal(count, "3 sites");

    /* grouped by tag: the untagged group (1400 B) first, then "cache" */
    view_sites_set_group(&ui, VIEW_GROUP_TAG);
    refresh(&ui);
    assert_int_equal(n_lines(&ui), 5);
    assert_int_equal(lines_of(&ui, &nl, NULL)[0].row, MODEL_NONE);
    assert_int_equal(lines_of(&ui, &nl, NULL)[0].group, 0);
    assert_int_equal(lines_of(&ui, &nl, NULL)[0].bytes, 1400);
    assert_int_equal(lines_of(&ui, &nl, NULL)[3].row, MODEL_NONE);
    assert_int_equal(lines_of(&ui, &nl, NULL)[3].group, 1);
    assert_int_equal(lines_of(&ui, &nl, NULL)[3].bytes, 250);
    assert_string_equal(line_name(&ui, 4), "beta");

    /* the state at an earlier time */
    view_sites_set_group(&ui, VIEW_GROUP_NONE);
    ui.at = VIEW_AT_TIME;
    ui.cursor = 45000000; /* events-only points close per 10 ms bucket */
    refresh(&ui);
    assert_int_equal(ui.mv.totals.heap_bytes, 500);

    view_sites_free(&ui);
    model_view_free(&ui.mv);
    model_free(m);
}

static void test_tree(void **state)
{
    struct model *m = make_model();
    struct ui ui;
    char pre[256];
    (void)state;
    memset(&ui, 0, sizeof ui);
    ui.m = m;
    ui.table_h = 10;
    assert_int_equal(view_tree_ops.open(&ui), 0);
    const uint32_t *vis;
    uint32_t n_vis;
    int tsel;
    alloc(m, 1000, 4, 200, 0);
    alloc(m, 2000, 7, 50, 0);

    uint32_t beta = model_stack_site(m, 4);
    view_tree_open(&ui, beta);
    view_tree_rebuild(&ui);
    /* main -> run -> beta, main -> other -> beta */
    const struct model_tree *t = view_tree_shown(&ui, &vis, &n_vis, &tsel);
    assert_int_equal(n_vis, 5);
    assert_string_equal(t->nodes[vis[0]].frame->function, "main");
    assert_int_equal(t->nodes[vis[0]].incl_bytes, 250);
    assert_string_equal(t->nodes[vis[1]].frame->function, "run");
    view_tree_prefix(t, vis[0], 0, 0, 0, pre, sizeof pre);
    assert_string_equal(pre, "\u25be ");
    view_tree_prefix(t, vis[1], 0, 0, 0, pre, sizeof pre);
    assert_string_equal(pre, "\u251c\u2500\u25be ");
    view_tree_prefix(t, vis[2], 0, 0, 0, pre, sizeof pre);
    assert_string_equal(pre, "\u2502 \u2514\u2500  ");
    view_tree_prefix(t, vis[2], 0, 1, 0, pre, sizeof pre);
    assert_string_equal(pre, "| `-  ");
    view_tree_prefix(t, vis[3], 1, 1, 0, pre, sizeof pre);
    assert_string_equal(pre, "`-+ ");

    /* the cursor on "other"; collapse "run"; new data: the cursor stays on "other" */
    view_tree_move(&ui, 3, 1);
    t = view_tree_shown(&ui, &vis, &n_vis, &tsel);
    assert_string_equal(t->nodes[vis[tsel]].frame->function, "other");
    view_tree_move(&ui, 1, 1);
    assert_int_equal(ui_act_tree_collapse(&ui, '-'), KEYS_REQUERY);
    view_tree_rebuild(&ui);
    view_tree_shown(&ui, &vis, &n_vis, &tsel);
    assert_int_equal(n_vis, 4);
    view_tree_move(&ui, 2, 1);
    alloc(m, 3000, 3, 10, 0); /* another site: the tree of beta is unchanged */
    view_tree_rebuild(&ui);
    t = view_tree_shown(&ui, &vis, &n_vis, &tsel);
    assert_string_equal(t->nodes[vis[tsel]].frame->function, "other");
    assert_int_equal(n_vis, 4);

    /* bottom-up: beta first */
    ui_act_tree_flip(&ui, 'b');
    view_tree_rebuild(&ui);
    t = view_tree_shown(&ui, &vis, &n_vis, &tsel);
    assert_string_equal(t->nodes[vis[0]].frame->function, "beta");

    view_tree_free(&ui);
    model_free(m);
}

/* object <- processor (heap) <- slots (heap) <- instance_map (global);
 * object <- a thread's stack */
/* An object's allocation stack, as the objects view shows it: from the
 * site's frame outward, inlined frames included, each with its line. At
 * 0x402000 std::vector's push_back is inlined into fill, inlined into run. */
static void test_objects_stack_line(void **state)
{
    static const struct wire_inline chain[] = {
        {"fill(std::vector<int, std::allocator<int> >&)", "src/app.c", 20},
        {"run", "src/app.c", 25}};
    struct wire_frame f[] = {
        {0x401000, 1, "main", "src/app.c", 30, NULL, 0},
        {0x402000, 1, "std::vector<int, std::allocator<int> >::push_back(int const&)",
         "/usr/include/c++/12/bits/stl_vector.h", 1287, chain, 2},
        {0x403000, 1, "operator new(unsigned long)", NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x401000}, {2, 1, 0x402000}, {3, 2, 0x403000}};
    struct model *m = model_new();
    char line[256];

    (void)state;
    encode_init(&buf, mem, sizeof mem);
    encode_hello(&buf, 42, "/bin/app", 0, 4096, 64, 0);
    encode_module(&buf, 1, "/bin/app", 0x400000, 0x10000, "");
    for (int i = 0; i < 3; i++)
        encode_frame(&buf, &f[i]);
    encode_stacks(&buf, n, 3);
    encode_thread(&buf, 1, 100, "main");
    flush(m);
    alloc(m, 1000, 3, 64, 0);
    assert_string_equal(view_objects_stack_line(m, 3, 40, 0, line, sizeof line),
                        "fill app.c:20 < run app.c:25 < main app.c:30");
    /* cut to the buffer, never past it */
    assert_int_equal(strlen(view_objects_stack_line(m, 3, 40, 0, line, 16)), 15);
    model_free(m);
}

/* A task's object in a g++ -O2 -g thread pool: process_job and the lambda
 * are inlined into std::function's invoker, which ThreadPool::loop calls
 * from a thread libc started. The library's frames between the program's
 * own, and libc's after them, are each one "...". */
static void test_objects_stack_line_cxx(void **state)
{
    static const struct wire_inline chain[] = {
        {"operator()", "/src/pool.cpp", 98},
        {"__invoke_impl<void, main(int, char**)::<lambda()>&>", "/usr/include/c++/12/bits/invoke.h",
         61},
        {"std::_Function_handler<void (), main::{lambda()#1}>::_M_invoke(std::_Any_data const&)",
         "/usr/include/c++/12/bits/std_function.h", 290}};
    struct wire_frame f[] = {
        {0x503000, 2, "start_thread", NULL, 0, NULL, 0},
        {0x402000, 1, "ThreadPool::loop()", "/src/pool.cpp", 66, NULL, 0},
        {0x401000, 1, "process_job", "/src/pool.cpp", 78, chain, 3},
        {0x504000, 3, "operator new(unsigned long)", NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {
        {1, 0, 0x503000}, {2, 1, 0x402000}, {3, 2, 0x401000}, {4, 3, 0x504000}};
    struct model *m = model_new();
    char line[256];

    (void)state;
    encode_init(&buf, mem, sizeof mem);
    encode_hello(&buf, 42, "/src/pool", 0, 4096, 64, 0);
    encode_module(&buf, 1, "/src/pool", 0x400000, 0x10000, "");
    encode_module(&buf, 2, "/lib/x86_64-linux-gnu/libc.so.6", 0x500000, 0x3000, "");
    encode_module(&buf, 3, "/lib/x86_64-linux-gnu/libstdc++.so.6", 0x504000, 0x1000, "");
    for (int i = 0; i < 4; i++)
        encode_frame(&buf, &f[i]);
    encode_stacks(&buf, n, 4);
    encode_thread(&buf, 1, 100, "worker-0");
    flush(m);
    alloc(m, 1000, 4, 32, 0);
    assert_string_equal(view_objects_stack_line(m, 4, 40, 0, line, sizeof line),
                        "process_job pool.cpp:78 < operator() pool.cpp:98 < ... < "
                        "ThreadPool::loop pool.cpp:66 < ...");
    model_free(m);
}

static void test_refs(void **state)
{
    struct model *m = make_model();
    struct ui ui;
    char text[512];
    (void)state;
    memset(&ui, 0, sizeof ui);
    ui.m = m;
    ui.table_h = 10;
    alloc(m, 20000000, 3, 4096, 0); /* alpha: the object */
    alloc(m, 30000000, 4, 64, 0);   /* beta: the processor */

    struct scanmsg_result r = {.target = 0x10000, .levels = 3, .flags = 0};
    struct scanmsg_node n[5] = {
        {.kind = SCANMSG_HEAP, .addr = 0x10000, .size = 4096, .id = 3, .inbound = 2},
        {.kind = SCANMSG_HEAP,
         .addr = 0x20000,
         .size = 64,
         .offset = 8,
         .to = 0,
         .id = 4,
         .inbound = 1},
        {.kind = SCANMSG_STACK, .addr = 0x7ff0, .to = 0, .id = 1, .inbound = -1},
        {.kind = SCANMSG_HEAP,
         .addr = 0x30000,
         .size = 256,
         .offset = 16,
         .to = 1,
         .id = 5,
         .interior = 0,
         .inbound = 1},
        {.kind = SCANMSG_GLOBAL,
         .addr = 0x404040,
         .offset = 0,
         .to = 3,
         .inbound = -1,
         .symbol = {"instance_map", 12},
         .module = {"/srv/leaky_service", 18}},
    };
    char wbuf[4096];
    struct encode_buf eb;
    encode_init(&eb, wbuf, sizeof wbuf);
    assert_int_equal(scanmsg_encode(&eb, 7, &r, n, 5), 0);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    struct scanmsg_result got;
    struct chain ch = {0};
    assert_int_equal(scanmsg_decode_bytes(eb.data, eb.len, &z, &got), 0);

    assert_int_equal(chain_take(&ch, &got, 0), 0);
    msgpack_zone_destroy(&z); /* the view keeps its own copy */
    assert_int_equal(ch.n_lines, 5);
    /* depth first: object, processor, slots, instance_map, then the stack */
    static const uint32_t order[] = {0, 1, 3, 4, 2};
    static const uint32_t depth[] = {0, 1, 2, 3, 1};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ch.lines[i].node, order[i]);
        assert_int_equal(ch.lines[i].depth, depth[i]);
    }
    /* guides: the processor's chain runs on beside the stack, the last child */
    chain_prefix(&ch, 1, 0, 0, text, sizeof text);
    assert_string_equal(text, "\u251c\u2500 ");
    chain_prefix(&ch, 3, 0, 0, text, sizeof text);
    assert_string_equal(text, "\u2502     \u2514\u2500 ");
    chain_prefix(&ch, 4, 1, 0, text, sizeof text);
    assert_string_equal(text, "`- ");
    chain_hop_text(ui.m, &ch.nodes[0], 1, text, sizeof text);
    assert_string_equal(text, "object 0x10000 (4096 B) from alpha t.c:12  [2 refs]");
    chain_hop_text(ui.m, &ch.nodes[1], 0, text, sizeof text);
    assert_string_equal(text, "heap 0x20000 +8 (64 B) from beta t.c:13  [1 ref]");
    chain_hop_text(ui.m, &ch.nodes[4], 0, text, sizeof text);
    assert_string_equal(text, "global instance_map +0 in leaky_service  (root)");
    chain_hop_text(ui.m, &ch.nodes[2], 0, text, sizeof text);
    assert_string_equal(text, "stack of thread main (tid 100) at 0x7ff0  (root)");
    chain_clear(&ch);

    /* after an attach: blocks from glibc's heap the collector never saw
     * allocated say so, with their chunk's size, and no site */
    r.flags = SCANMSG_HEAPWALK | SCANMSG_ATTACHED;
    n[0].untracked = 1;
    n[0].id = 0;
    n[3].untracked = 1;
    n[3].id = 0;
    encode_init(&eb, wbuf, sizeof wbuf);
    assert_int_equal(scanmsg_encode(&eb, 7, &r, n, 5), 0);
    msgpack_zone_init(&z, 4096);
    assert_int_equal(scanmsg_decode_bytes(eb.data, eb.len, &z, &got), 0);
    assert_int_equal(chain_take(&ch, &got, 0), 0);
    msgpack_zone_destroy(&z);
    chain_hop_text(ui.m, &ch.nodes[0], 1, text, sizeof text);
    assert_string_equal(text, "object 0x10000 (4096 B) allocated before the attach  [2 refs]");
    chain_hop_text(ui.m, &ch.nodes[3], 0, text, sizeof text);
    assert_string_equal(text, "heap 0x30000 +16 (256 B) allocated before the attach  [1 ref]");
    chain_hop_text(ui.m, &ch.nodes[1], 0, text, sizeof text);
    assert_string_equal(text, "heap 0x20000 +8 (64 B) from beta t.c:13  [1 ref]");
    chain_clear(&ch);
    model_free(m);
}

/* A Python chain: each hop's Python name after "=", buffers "owned by the
 * next", the module global marked as the root. */
static void test_refs_python(void **state)
{
    struct model *m = make_model();
    struct ui ui;
    char text[512];
    (void)state;
    memset(&ui, 0, sizeof ui);
    ui.m = m;
    ui.table_h = 10;

    struct scanmsg_result r = {.target = 0x10000, .levels = 3, .flags = SCANMSG_PYTHON};
    struct scanmsg_node n[4] = {
        {.kind = SCANMSG_HEAP,
         .addr = 0x10000,
         .size = 56,
         .id = 3,
         .inbound = 1,
         .py_flags = SCANMSG_PY_OBJECT,
         .py_type = {"Processor", 9}},
        {.kind = SCANMSG_HEAP,
         .addr = 0x20000,
         .size = 120,
         .offset = 48,
         .to = 0,
         .id = 4,
         .inbound = 1,
         .py_flags = SCANMSG_PY_PART},
        {.kind = SCANMSG_HEAP,
         .addr = 0x30000,
         .size = 64,
         .offset = 48,
         .to = 1,
         .id = 5,
         .inbound = 1,
         .py_flags = SCANMSG_PY_OBJECT,
         .py_type = {"dict", 4},
         .py_via = {"['app-0']", 9}},
        {.kind = SCANMSG_HEAP,
         .addr = 0x40000,
         .size = 72,
         .offset = 32,
         .to = 2,
         .id = 5,
         .inbound = -1,
         .py_flags = SCANMSG_PY_OBJECT | SCANMSG_PY_MODULE,
         .py_type = {"module", 6},
         .py_via = {"instance_map", 12},
         .py_owner = {"__main__", 8}},
    };
    char wbuf[4096];
    struct encode_buf eb;
    encode_init(&eb, wbuf, sizeof wbuf);
    assert_int_equal(scanmsg_encode(&eb, 7, &r, n, 4), 0);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    struct scanmsg_result got;
    struct chain ch = {0};
    assert_int_equal(scanmsg_decode_bytes(eb.data, eb.len, &z, &got), 0);
    assert_int_equal(chain_take(&ch, &got, 0), 0);
    msgpack_zone_destroy(&z);
    /* the Python name first: at 80 columns it is what stays of the line */
    chain_hop_text(ui.m, &ch.nodes[0], 1, text, sizeof text);
    assert_string_equal(text, "= Processor: object 0x10000 (56 B) from stack 3  [1 ref]");
    chain_hop_text(ui.m, &ch.nodes[1], 0, text, sizeof text);
    assert_string_equal(text,
                        "= owned by the next: heap 0x20000 +48 (120 B) from stack 4  [1 ref]");
    chain_hop_text(ui.m, &ch.nodes[2], 0, text, sizeof text);
    assert_string_equal(text, "= dict ['app-0']: heap 0x30000 +48 (64 B) from stack 5  [1 ref]");
    chain_hop_text(ui.m, &ch.nodes[3], 0, text, sizeof text);
    assert_string_equal(text, "= module __main__ global instance_map (root): heap 0x40000 +32 "
                              "(72 B) from stack 5");
    /* the python: line: the owned buffer folded into the dict */
    chain_python_line(&ch, text, sizeof text);
    assert_string_equal(text, "Processor <- dict ['app-0'] <- module __main__ global instance_map");
    chain_clear(&ch);
    model_free(m);
}

/* The cells of a UTF-8 line (one cell per code point: the guides are narrow). */
static int cells(const char *s, unsigned *cp, int max)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && n < max) {
        unsigned c = *p++;
        int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (more)
            c &= 0x3f >> more;
        while (more-- && (*p & 0xc0) == 0x80)
            c = c << 6 | (*p++ & 0x3f);
        cp[n++] = c;
    }
    return n;
}

/*
 * A chain 70 deep (deeper than the 64 ancestors the prefix once kept), with
 * a second child at depths 5 and 30: drawn with any skip, every line's
 * branch sits under its parent's expander, every bar under a bar or a tee,
 * and every line deeper than skip is indented by its depth less skip.
 */
#define DEEP 70
static void test_tree_deep(void **state)
{
    struct model_tree_node nd[DEEP + 2];
    struct model_tree t = {.nodes = nd, .n = DEEP + 2, .first_root = 0};
    static const uint32_t skips[] = {0, 1, 20, 69};
    char pre[1024];
    unsigned cp[DEEP + 2][600];
    int len[DEEP + 2];
    (void)state;
    /* depth-first: 0..29 the chain, 30 the chain's next, ...; the second
     * child of 4 (depth 5) and of 29 (depth 30) come after the chain */
    memset(nd, 0, sizeof nd);
    for (uint32_t i = 0; i < DEEP; i++)
        nd[i] = (struct model_tree_node){.key = i + 1,
                                         .parent = i ? i - 1 : MODEL_NONE,
                                         .first_child = i + 1 < DEEP ? i + 1 : MODEL_NONE,
                                         .next_sibling = MODEL_NONE,
                                         .depth = i};
    nd[DEEP] = (struct model_tree_node){.key = 100,
                                        .parent = 29,
                                        .first_child = MODEL_NONE,
                                        .next_sibling = MODEL_NONE,
                                        .depth = 30};
    nd[DEEP + 1] = (struct model_tree_node){
        .key = 101, .parent = 4, .first_child = MODEL_NONE, .next_sibling = MODEL_NONE, .depth = 5};
    nd[30].next_sibling = DEEP;
    nd[5].next_sibling = DEEP + 1;
    /* the drawing order: pre-order */
    uint32_t order[DEEP + 2], k = 0;
    for (uint32_t i = 0; i < 30; i++)
        order[k++] = i;
    for (uint32_t i = 30; i < DEEP; i++)
        order[k++] = i;
    order[k++] = DEEP;
    order[k++] = DEEP + 1;

    int checked = 0;
    view_tree_prefix(&t, DEEP - 1, 0, 0, 0, pre, sizeof pre);
    assert_int_equal(widget_width(pre), 2 * (DEEP - 1) + 2); /* every level drawn */
    for (size_t si = 0; si < sizeof skips / sizeof skips[0]; si++) {
        uint32_t skip = skips[si];
        int off = skip ? (int)strlen("+") + snprintf(NULL, 0, "%u", skip) + 1 : 0;
        if (off && off < 4)
            off = 4;
        for (uint32_t i = 0; i < k; i++) {
            view_tree_prefix(&t, order[i], 0, 0, skip, pre, sizeof pre);
            len[i] = cells(pre, cp[i], 600);
            uint32_t d = nd[order[i]].depth;
            int want = off + 2 * (int)(d > skip ? d - skip : 0) + 2;
            assert_int_equal(len[i], want);
            if (skip) {
                char head[16];
                snprintf(head, sizeof head, "+%u", d < skip ? d : skip);
                assert_memory_equal(pre, head, strlen(head));
            }
        }
        for (uint32_t i = 1; i < k; i++) {
            const struct model_tree_node *x = &nd[order[i]];
            /* the first child right under its parent: branch under expander */
            if (x->parent == order[i - 1] && x->depth > skip) {
                checked++;
                assert_true(cp[i][len[i] - 4] == 0x2514 || cp[i][len[i] - 4] == 0x251c);
                assert_int_equal(cp[i - 1][len[i] - 4], 0x25be);
            }
            for (int c = 0; c < len[i]; c++)
                if (cp[i][c] == 0x2502)
                    assert_true(c < len[i - 1] &&
                                (cp[i - 1][c] == 0x2502 || cp[i - 1][c] == 0x251c));
        }
    }
    assert_true(checked > 100);
    /* the window follows the cursor, and only when it leaves */
    assert_int_equal(view_tree_skip(0, 3, 5), 0);
    assert_int_equal(view_tree_skip(0, 5, 5), 1);
    assert_int_equal(view_tree_skip(1, 4, 5), 1);
    assert_int_equal(view_tree_skip(10, 12, 5), 10);
    assert_int_equal(view_tree_skip(10, 7, 5), 7);
    assert_int_equal(view_tree_skip(10, 69, 5), 65);
}

/* allocs/s is over the column under the cursor: 0 in a quiet stretch */
static void test_header(void **state)
{
    struct model *m = make_model();
    char b[64];
    (void)state;
    alloc(m, 5000000, 3, 100, 0); /* 1 allocation at 5 ms */
    alloc(m, 6000000, 3, 100, 0); /* and at 6 ms */
    /* quiet: ticks at 300 (it closes the point at 6 ms), 400 and 450 ms */
    for (int64_t t = 300000000; t <= 450000000; t += t < 400000000 ? 100000000 : 50000000) {
        struct wire_totals tot = {.time = t,
                                  .heap_bytes = 200,
                                  .heap_blocks = 2,
                                  .rss = 4096,
                                  .allocations = 2,
                                  .bytes_allocated = 200};
        encode_tick(&buf, &tot, NULL, 0);
        flush(m);
    }
    alloc(m, 500000000, 4, 100, 0); /* nothing until 500 ms */
    alloc(m, 800000000, 4, 100, 0); /* the end: the point at 500 ms closes */
    int64_t span;
    /* [0, 10 ms): the point at 6 ms holds 2 allocations since the start */
    double r = view_header_rate(m, 0, 10000000, &span);
    assert_int_equal(span, 6000000);
    assert_true(r > 333.3 && r < 333.4);
    /* [100, 300 ms): inside the span of the tick's point at 400 ms (nothing
     * since 6 ms): 0, though the last second holds 2 */
    r = view_header_rate(m, 100000000, 300000000, &span);
    assert_int_equal(span, 394000000);
    assert_true(r == 0);
    /* [420, 460 ms): the point at 450 ms, nothing since 400 */
    r = view_header_rate(m, 420000000, 460000000, &span);
    assert_int_equal(span, 50000000);
    assert_true(r == 0);
    /* [460, 520 ms): the point at 500 ms, 1 allocation since 450 ms */
    r = view_header_rate(m, 460000000, 520000000, &span);
    assert_int_equal(span, 50000000);
    assert_true(r > 19.99 && r < 20.01);
    /* after the last point (live, the present): the last point's rate, 1
     * allocation in the 50 ms since 450 ms */
    r = view_header_rate(m, 900000000, 910000000, &span);
    assert_int_equal(span, 50000000);
    assert_true(r > 19.99 && r < 20.01);
    assert_true(view_header_rate(m, 400000000, 400000000, &span) == 0);
    view_header_scale(b, sizeof b, 0, 0, 4194304);
    assert_string_equal(b, " 4.00M");
    view_header_scale(b, sizeof b, 1, 2097152, 4194304);
    assert_string_equal(b, " 2.00M-4.00M");
    model_free(m);
}

static void test_labels(void **state)
{
    char b[64];
    struct model_thread w = {.id = 3, .os_tid = 4242, .name = "w0"};
    struct model_thread u = {.id = 4, .os_tid = 4243, .name = ""};
    (void)state;
    view_objects_thread(&w, 3, b, sizeof b);
    assert_string_equal(b, "w0 (4242)");
    view_objects_thread(&u, 4, b, sizeof b);
    assert_string_equal(b, "(4243)");
    view_objects_thread(NULL, 9, b, sizeof b);
    assert_string_equal(b, "#9");
    /* the scan's depth limit: 12, 48, 192, 768, then the most, 1000 */
    assert_int_equal(view_refs_deeper(12), 48);
    assert_int_equal(view_refs_deeper(192), 768);
    assert_int_equal(view_refs_deeper(768), 1000);
    assert_int_equal(view_refs_deeper(1000), 1000);
    /* a chain 500 holders long, with a second holder at depth 100 (its bar
     * runs down past depth 64, where a fixed mask once ended), 490 levels
     * scrolled off at the deepest line */
    static struct chain_node nodes[502];
    static struct chain_line lines[502];
    struct chain v = {.nodes = nodes, .lines = lines, .n_nodes = 502, .n_lines = 502};
    char pre[2048];
    for (uint32_t i = 0; i <= 500; i++) {
        nodes[i] = (struct chain_node){.to = i ? i - 1 : 0, .depth = i, .last = 1};
        lines[i] = (struct chain_line){.node = i, .depth = i, .last = 1};
    }
    nodes[501] = (struct chain_node){.to = 99, .depth = 100, .last = 1};
    lines[501] = (struct chain_line){.node = 501, .depth = 100, .last = 1};
    nodes[100].last = lines[100].last = 0; /* 501 is held too by 99, after 100 */
    chain_prefix(&v, 500, 1, 490, pre, sizeof pre);
    assert_int_equal(strlen(pre), 5 + 9 * 3 + 3);
    assert_memory_equal(pre, "+490 ", 5);
    assert_string_equal(pre + strlen(pre) - 3, "`- ");
    /* unscrolled at depth 200: the bar of the holder at depth 100 at its column */
    chain_prefix(&v, 200, 1, 0, pre, sizeof pre);
    assert_int_equal(strlen(pre), 200 * 3);
    assert_int_equal(pre[99 * 3], '|');
    assert_int_equal(pre[98 * 3], ' ');
    assert_int_equal(pre[100 * 3], ' ');
    chain_prefix(&v, 100, 1, 0, pre, sizeof pre);
    assert_string_equal(pre + 99 * 3, "|- ");
}

/* The cursor's time in the header is one `report --at` answers with the
 * state shown: whole milliseconds, finer where the next point lies within
 * the millisecond (a tick 0.3 ms after a bucket's last event once made the
 * report at the rounded time the next point's). */
static void test_cursor_label(void **state)
{
    struct model *m = make_model();
    char b[32];
    struct report_options o = {0};
    (void)state;
    alloc(m, 1200000, 3, 100, 0);  /* 1.2 ms */
    tick(m, 1500000, 100, 1);      /* closes the point at 1.2 ms */
    alloc(m, 1700001, 3, 100, 0);  /* 1.700001 ms: within the same millisecond */
    tick(m, 1700002, 200, 2);      /* the point at 1.700001 ms */
    alloc(m, 1700003, 3, 100, 0);  /* 2 ns after it */
    tick(m, 30000000, 300, 3);     /* the point at 1.700401 ms */
    alloc(m, 45000000, 3, 100, 0); /* the last point, at 45 ms */
    tick(m, 50000000, 400, 4);
    uint32_t np = 0;
    const struct model_point *tl = model_timeline(m, &np);
    const char *want[] = {"0.001200s", "0.001700001s", "0.002s", "0.045s"};
    uint32_t k = 0;
    for (uint32_t i = 0; i < np; i++) {
        if (i + 1 < np && tl[i + 1].time == tl[i].time)
            continue; /* the cursor lands on the last point of a time (here the
                         state before the first event, at its time) */
        assert_true(k < 4);
        view_header_cursor_label(m, tl[i].time, b, sizeof b);
        assert_string_equal(b, want[k++]);
        b[strlen(b) - 1] = '\0';
        assert_int_equal(report_parse_at(b, &o), 0);
        assert_int_equal(model_point_at(m, o.time), i);
    }
    assert_int_equal(k, 4);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sites),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_objects_stack_line),
        cmocka_unit_test(test_objects_stack_line_cxx),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_refs_python),
        cmocka_unit_test(test_tree_deep),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_cursor_label),
        cmocka_unit_test(test_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
