/*
 * test_objects.c - the live objects of a site at a time, one answer for every
 * source (tui/objects.c): the model's latest state, a rewind of the recording
 * for an earlier state, a clear failure when the recording is gone, and no
 * collector to ask for a file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "model.h"
#include "objects.h"
#include "recfile.h"
#include "source.h"
#include "t_model.h"
#include "wire.h"

#define S 1000000000LL

static char mem[1 << 16];
static char path[] = "/tmp/test_objects.XXXXXX";

/*
 * A (100 B, load_config, tag "cache") allocated at 1 s, B (200 B, parse) at
 * 2 s, A freed at 3 s, the end at 4 s: at 2.5 s both are live, at the end
 * only B. Written as a record file.
 */
static void write_recording(void)
{
    struct wire_frame f[] = {
        {0x100, 1, "main", "app.c", 10, NULL, 0},
        {0x200, 1, "load_config", "app.c", 20, NULL, 0},
        {0x300, 1, "parse", "app.c", 30, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x200}, {3, 1, 0x300}};
    struct wire_event ev[] = {
        {.op = WIRE_OP_THREAD, .id = 1},
        {.op = WIRE_OP_TAG, .id = 1},
        {.op = WIRE_OP_ALLOC, .time = 1 * S, .stack = 2, .size = 100}, /* A: seq 1 */
        {.op = WIRE_OP_TAG, .id = 0},
        {.op = WIRE_OP_ALLOC, .time = 2 * S, .stack = 3, .size = 200}, /* B: seq 2 */
        {.op = WIRE_OP_FREE, .time = 3 * S, .back = 1},                /* A */
    };
    struct encode_buf b;
    struct recfile_writer w;
    int fd;

    strcpy(path, "/tmp/test_objects.XXXXXX");
    fd = mkstemp(path);
    encode_init(&b, mem, sizeof(mem));
    assert_int_equal(encode_hello(&b, 77, "/bin/app", 1234, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&b, 1, "/bin/app", 0, 0, NULL), 0);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        assert_int_equal(encode_frame(&b, &f[i]), 0);
    assert_int_equal(encode_stacks(&b, n, sizeof(n) / sizeof(n[0])), 0);
    assert_int_equal(encode_thread(&b, 1, 100, "main"), 0);
    assert_int_equal(encode_tag(&b, 1, "cache"), 0);
    assert_int_equal(encode_events(&b, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(encode_end(&b, 4 * S, WIRE_END_EXIT, 0), 0);
    assert_true(fd >= 0);
    assert_int_equal(recfile_writer_open(&w, fd, 3), 0);
    assert_int_equal(recfile_write(&w, b.data, b.len, 1), 0);
    assert_int_equal(recfile_writer_close(&w), 0);
    close(fd);
}

/* The recording replayed into a new model through its file source. */
static struct source *replayed(struct model **m)
{
    char err[256];
    struct source *src;

    write_recording();
    src = source_open_file(path, err, sizeof(err));
    assert_non_null(src);
    *m = model_new();
    assert_non_null(*m);
    while (source_state(src) == SOURCE_OPEN)
        assert_true(source_read(src, *m, 1000) >= 0);
    assert_int_equal(source_state(src), SOURCE_DONE);
    return src;
}

/* Asks at a time (at: MODEL_AT_TIME, MODEL_AT_END) and reads it to the end. */
static int ask(struct objects *o, const struct model *m, struct source *src, const char *fn, int at,
               int64_t t)
{
    struct model_query q = {.at = at, .time = t};
    int state = objects_ask(o, m, src, site_named(m, fn), &q, at == MODEL_AT_END ? INT64_MAX : t);

    for (int i = 0; state == OBJECTS_READING && i < 1000; i++) {
        objects_work(o, m, src, 0);
        state = objects_state(o);
    }
    return state;
}

static void test_latest_and_earlier(void **state)
{
    struct model *m;
    struct source *src = replayed(&m);
    struct objects *o = objects_new();
    const struct model_object *l;
    uint64_t total;
    int n;

    (void)state;
    assert_non_null(o);
    /* the latest state: the model's own live set, B only */
    assert_int_equal(ask(o, m, src, "parse", MODEL_AT_END, 0), OBJECTS_READY);
    l = objects_list(o, &n, &total);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    assert_int_equal(l[0].seq, 2);
    assert_int_equal(l[0].size, 200);
    assert_int_equal(l[0].addr, 0); /* a recording keeps no addresses */
    assert_int_equal(ask(o, m, src, "load_config", MODEL_AT_END, 0), OBJECTS_READY);
    objects_list(o, &n, &total);
    assert_int_equal(n, 0);

    /* 2.5 s: A was live then; the recording is read again */
    assert_int_equal(ask(o, m, src, "load_config", MODEL_AT_TIME, 2500000000LL), OBJECTS_READY);
    l = objects_list(o, &n, &total);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].seq, 1);
    assert_int_equal(l[0].size, 100);
    assert_int_equal(l[0].time, 1 * S);
    assert_int_equal(l[0].tag, 1);
    assert_string_equal(objects_error(o), "");
    /* another site at the same state: the same rewind answers */
    assert_int_equal(ask(o, m, src, "parse", MODEL_AT_TIME, 2500000000LL), OBJECTS_READY);
    l = objects_list(o, &n, &total);
    assert_int_equal(n, 1);
    assert_int_equal(l[0].seq, 2);

    /* a recording has no collector to ask */
    assert_int_equal(objects_ask_collector(o, m, src, site_named(m, "parse")), -1);
    assert_int_equal(objects_from_collector(o), 0);
    assert_int_equal(objects_state(o), OBJECTS_READY);

    objects_free(o);
    source_close(src);
    model_free(m);
    unlink(path);
}

/* The recording is gone: an earlier state cannot be had, and says why; the
 * model still answers the latest state. */
static void test_recording_gone(void **state)
{
    struct model *m;
    struct source *src = replayed(&m);
    struct objects *o = objects_new();
    int n;

    (void)state;
    unlink(path);
    assert_int_equal(ask(o, m, src, "load_config", MODEL_AT_TIME, 2500000000LL), OBJECTS_FAILED);
    objects_list(o, &n, NULL);
    assert_int_equal(n, 0);
    assert_non_null(strstr(objects_error(o), "No such file or directory"));
    assert_int_equal(ask(o, m, src, "parse", MODEL_AT_END, 0), OBJECTS_READY);
    objects_list(o, &n, NULL);
    assert_int_equal(n, 1);
    assert_string_equal(objects_error(o), "");
    objects_free(o);
    source_close(src);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latest_and_earlier),
        cmocka_unit_test(test_recording_gone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
