/*
 * test_responses.c - the answers to requests, kept per request id
 * (tui/responses.c) and scan results copied out of their message
 * (scanmsg_copy): objects, bytes and messages survive the stream's bytes and
 * zone, several requests are answered side by side, the oldest answer goes
 * first when the table is full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "encode.h"
#include "responses.h"
#include "scanmsg.h"
#include "wire.h"

static char mem[1 << 16];
static struct encode_buf B;

/* Decodes every message of B into rs, then wipes the bytes and the zone: what
 * is kept must be the table's own. Returns the first error of
 * responses_keep(), 0 when none. */
static int keep_all(struct responses *rs)
{
    msgpack_zone zone;
    size_t off = 0;
    int rc = 0;

    msgpack_zone_init(&zone, 4096);
    while (off < B.len) {
        struct wire_msg msg;
        size_t used = 0;
        int r;

        assert_int_equal(decode_one(B.data + off, B.len - off, &zone, &msg, &used), 1);
        r = responses_keep(rs, &msg);
        if (r && !rc)
            rc = r;
        off += used;
    }
    msgpack_zone_destroy(&zone);
    memset(mem, 0xee, sizeof(mem));
    encode_init(&B, mem, sizeof(mem));
    return rc;
}

static void test_objects_read_error(void **state)
{
    struct responses *rs = responses_new();
    struct wire_object o[] = {{0x1000, 64, 3, 5, 1, 0, 77}, {0x2000, 32, 4, 6, 2, 1, 78}};
    const struct response *r;

    (void)state;
    assert_non_null(rs);
    encode_init(&B, mem, sizeof(mem));
    assert_null(responses_get(rs, 9));
    assert_int_equal(encode_resp_objects(&B, 9, o, 2, 7), 0);
    assert_int_equal(encode_resp_read(&B, 10, 0x1000, 64, "abcd", 4), 0);
    assert_int_equal(encode_resp_error(&B, 11, -2, "no such block"), 0);
    assert_int_equal(encode_end(&B, 5, WIRE_END_EXIT, 0), 0); /* not a response: ignored */
    assert_int_equal(keep_all(rs), 0);

    r = responses_get(rs, 9); /* three answers side by side, each by its id */
    assert_non_null(r);
    assert_int_equal(r->id, 9);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->kind, WIRE_REQ_OBJECTS);
    assert_int_equal(r->total, 7);
    assert_int_equal(r->n_objects, 2);
    assert_int_equal(r->objects[0].addr, 0x1000);
    assert_int_equal(r->objects[0].size, 64);
    assert_int_equal(r->objects[0].seq, 77);
    assert_int_equal(r->objects[1].addr, 0x2000);
    assert_int_equal(r->objects[1].tag, 1);
    assert_null(r->scan);

    r = responses_get(rs, 10);
    assert_non_null(r);
    assert_int_equal(r->kind, WIRE_REQ_READ);
    assert_int_equal(r->addr, 0x1000);
    assert_int_equal(r->n_bytes, 4);
    assert_memory_equal(r->bytes, "abcd", 4);

    r = responses_get(rs, 11);
    assert_non_null(r);
    assert_int_equal(r->status, -2); /* -ENOENT */
    assert_string_equal(r->message, "no such block");

    responses_drop(rs, 10);
    assert_null(responses_get(rs, 10));
    assert_non_null(responses_get(rs, 9));
    responses_free(rs);
}

/* The table keeps the last RESPONSES_KEEP answers: the oldest goes first. */
static void test_oldest_goes(void **state)
{
    struct responses *rs = responses_new();

    (void)state;
    encode_init(&B, mem, sizeof(mem));
    for (uint32_t id = 1; id <= RESPONSES_KEEP + 2; id++)
        assert_int_equal(encode_resp_error(&B, id, -2, "gone"), 0);
    assert_int_equal(keep_all(rs), 0);
    assert_null(responses_get(rs, 1));
    assert_null(responses_get(rs, 2));
    for (uint32_t id = 3; id <= RESPONSES_KEEP + 2; id++)
        assert_int_equal(responses_get(rs, id)->id, id);
    /* an answer to the same id replaces the earlier one */
    assert_int_equal(encode_resp_error(&B, 5, -22, "again"), 0);
    assert_int_equal(keep_all(rs), 0);
    assert_string_equal(responses_get(rs, 5)->message, "again");
    assert_non_null(responses_get(rs, 3));
    responses_free(rs);
}

/* A scan result outlives the message, the bytes and the zone it came in. */
static void test_scan_copy(void **state)
{
    struct responses *rs = responses_new();
    struct scanmsg_result r = {.target = 0xD0, .levels = 2, .n_blocks = 3};
    struct scanmsg_node nodes[] = {
        {.kind = SCANMSG_HEAP, .addr = 0xD0, .size = 300, .to = 0, .id = 3, .inbound = 1},
        {.kind = SCANMSG_GLOBAL,
         .addr = 0x601000,
         .to = 0,
         .inbound = 1,
         .level = 1,
         .symbol = {"table", 5},
         .module = {"/bin/app", 8}},
    };
    const struct response *got;
    struct scanmsg_node n1;

    (void)state;
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(scanmsg_encode(&B, 5, &r, nodes, 2), 0);
    assert_int_equal(keep_all(rs), 0);
    got = responses_get(rs, 5);
    assert_non_null(got);
    assert_int_equal(got->kind, WIRE_REQ_SCAN);
    assert_non_null(got->scan);
    assert_int_equal(got->scan->target, 0xD0);
    assert_int_equal(got->scan->levels, 2);
    assert_int_equal(got->scan->n_blocks, 3);
    assert_int_equal(scanmsg_count(got->scan), 2);
    assert_int_equal(scanmsg_node_at(got->scan, 1, &n1), 0);
    assert_int_equal(n1.kind, SCANMSG_GLOBAL);
    assert_int_equal(n1.addr, 0x601000);
    assert_int_equal(n1.symbol.len, 5);
    assert_memory_equal(n1.symbol.ptr, "table", 5);
    assert_memory_equal(n1.module.ptr, "/bin/app", 8);
    responses_free(rs);
}

/* scanmsg_copy of a decoded result: the same nodes, Python names and census
 * rows, in one block of its own. */
static void test_scanmsg_copy_python(void **state)
{
    struct scanmsg_row rows[] = {{{"dict", 4}, 10, 4096, 0xA0}};
    struct scanmsg_result r = {
        .target = 0, .flags = SCANMSG_PYTHON | SCANMSG_CENSUS, .enc_rows = rows, .n_enc_rows = 1};
    struct scanmsg_node nodes[] = {
        {.kind = SCANMSG_HEAP,
         .addr = 0xD0,
         .size = 64,
         .py_flags = SCANMSG_PY_OBJECT,
         .py_type = {"list", 4}},
        {.kind = SCANMSG_STACK,
         .addr = 0x7000,
         .to = 0,
         .id = 1,
         .live_frame = 1,
         .py_flags = SCANMSG_PY_FRAME,
         .py_via = {"items", 5},
         .py_owner = {"handle()", 8}},
    };
    msgpack_zone zone;
    struct scanmsg_result dec, *c;
    struct scanmsg_node n;
    struct scanmsg_row row;

    (void)state;
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(scanmsg_encode(&B, 1, &r, nodes, 2), 0);
    msgpack_zone_init(&zone, 4096);
    assert_int_equal(scanmsg_decode_bytes(B.data, B.len, &zone, &dec), 0);
    c = scanmsg_copy(&dec);
    assert_non_null(c);
    msgpack_zone_destroy(&zone);
    memset(mem, 0xee, sizeof(mem));
    assert_int_equal(c->flags, SCANMSG_PYTHON | SCANMSG_CENSUS);
    assert_int_equal(scanmsg_count(c), 2);
    assert_int_equal(scanmsg_node_at(c, 0, &n), 0);
    assert_int_equal(n.py_flags, SCANMSG_PY_OBJECT);
    assert_memory_equal(n.py_type.ptr, "list", 4);
    assert_int_equal(scanmsg_node_at(c, 1, &n), 0);
    assert_int_equal(n.live_frame, 1);
    assert_memory_equal(n.py_owner.ptr, "handle()", 8);
    assert_memory_equal(n.py_via.ptr, "items", 5);
    assert_int_equal(scanmsg_row_count(c), 1);
    assert_int_equal(scanmsg_row_at(c, 0, &row), 0);
    assert_memory_equal(row.name.ptr, "dict", 4);
    assert_int_equal(row.count, 10);
    assert_int_equal(row.bytes, 4096);
    assert_int_equal(row.oldest, 0xA0);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_read_error),
        cmocka_unit_test(test_oldest_goes),
        cmocka_unit_test(test_scan_copy),
        cmocka_unit_test(test_scanmsg_copy_python),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
