/*
 * test_rewind.c - the live objects at an earlier state of a recording: a
 * stream applied to a model and written as a record file; the model says
 * where the cursor's state lies (model_query_events), a rewind reads the
 * file again up to there and lists exactly the blocks live then.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "encode.h"
#include "model.h"
#include "t_model.h"
#include "recfile.h"
#include "rewind.h"
#include "wire.h"

#define S 1000000000LL

static char mem[1 << 16];
static struct encode_buf B;
static char path[] = "/tmp/test_rewind.XXXXXX";

static void apply_all(struct model *m)
{
    msgpack_zone zone;
    size_t off = 0;

    msgpack_zone_init(&zone, 4096);
    while (off < B.len) {
        struct wire_msg msg;
        size_t used = 0;

        assert_int_equal(decode_one(B.data + off, B.len - off, &zone, &msg, &used), 1);
        assert_int_equal(model_apply(m, &msg), 0);
        off += used;
    }
    msgpack_zone_destroy(&zone);
}

/* B's bytes as a record file (zstd, as the collector writes it). */
static void write_recording(void)
{
    struct recfile_writer w;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(recfile_writer_open(&w, fd, 3), 0);
    assert_int_equal(recfile_write(&w, B.data, B.len, 1), 0);
    assert_int_equal(recfile_writer_close(&w), 0);
    close(fd);
}

/*
 * One batch: A (100 B, load_config, tag "cache") allocated at 1 s, B (200 B,
 * parse) at 2 s, A freed at 3 s; the program ends at 4 s. So A was live from
 * 1 to 3 s, and the latest state has only B.
 */
static struct model *recorded(uint32_t pid)
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
    struct model *m = model_new();

    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    assert_int_equal(encode_hello(&B, pid, "/bin/app", 1234, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&B, 1, "/bin/app", 0, 0, NULL), 0);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        assert_int_equal(encode_frame(&B, &f[i]), 0);
    assert_int_equal(encode_stacks(&B, n, sizeof(n) / sizeof(n[0])), 0);
    assert_int_equal(encode_thread(&B, 1, 100, "main"), 0);
    assert_int_equal(encode_tag(&B, 1, "cache"), 0);
    assert_int_equal(encode_events(&B, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(encode_end(&B, 4 * S, WIRE_END_EXIT, 0), 0);
    apply_all(m);
    return m;
}

/* Where the cursor's state lies; 1 when it is the latest. */
static int cut_at(const struct model *m, int at, int64_t t, uint64_t *events)
{
    struct model_query q = {.at = at, .time = t};

    return model_query_events(m, &q, events);
}

static void read_all(struct rewind *rw)
{
    int r, calls = 0;

    while ((r = rewind_step(rw, 1)) == 0)
        assert_true(++calls < 100);
    assert_int_equal(r, 1);
}

static void test_objects_at_earlier_states(void **state)
{
    struct model *m = recorded(4242);
    uint32_t lc = site_named(m, "load_config"), pa = site_named(m, "parse");
    struct model_object *o;
    uint64_t cut, total;
    char err[256];
    int n;

    (void)state;
    write_recording();
    assert_int_not_equal(lc, MODEL_NONE);
    assert_int_not_equal(pa, MODEL_NONE);

    /* 2.5 s: A and B, though A is gone from the latest state */
    assert_int_equal(cut_at(m, MODEL_AT_TIME, 25 * S / 10, &cut), 0);
    assert_int_equal(cut, 2);
    n = model_objects(m, MODEL_NONE, 25 * S / 10, 10, &o, &total);
    assert_int_equal(n, 1); /* the latest state's answer: B only */
    free(o);
    struct rewind *rw = rewind_open(path, cut, m, err, sizeof(err));
    assert_non_null(rw);
    assert_int_equal(rewind_objects(rw, m, MODEL_NONE, 10, &o, &total), -1); /* not read yet */
    read_all(rw);
    assert_int_equal(rewind_events_read(rw), 2);
    n = rewind_objects(rw, m, MODEL_NONE, 10, &o, &total);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    assert_int_equal(o[0].seq, 1); /* A, oldest first */
    assert_int_equal(o[0].size, 100);
    assert_int_equal(o[0].time, 1 * S);
    assert_int_equal(model_stack_site(m, o[0].stack), lc);
    assert_int_equal(o[0].tag, 1);
    assert_int_equal(o[0].thread, 1);
    assert_int_equal(o[1].seq, 2); /* B */
    assert_int_equal(o[1].size, 200);
    assert_int_equal(o[1].time, 2 * S);
    assert_int_equal(model_stack_site(m, o[1].stack), pa);
    assert_int_equal(o[1].tag, 0);
    free(o);
    n = rewind_objects(rw, m, lc, 10, &o, &total); /* one site */
    assert_int_equal(n, 1);
    assert_int_equal(o[0].size, 100);
    free(o);

    /* the peak (300 B, after B's allocation) is the same state */
    assert_int_equal(cut_at(m, MODEL_AT_PEAK, 0, &cut), 0);
    assert_int_equal(cut, 2);

    /* 3.5 s: B alone; the latest state holds it, and a rewind that goes on
     * inside the same batch agrees */
    assert_int_equal(cut_at(m, MODEL_AT_TIME, 35 * S / 10, &cut), 1);
    assert_int_equal(cut, 3);
    n = model_objects(m, MODEL_NONE, 35 * S / 10, 10, &o, &total);
    assert_int_equal(n, 1);
    assert_int_equal(o[0].size, 200);
    free(o);
    assert_int_equal(rewind_retarget(rw, 3), 0);
    read_all(rw);
    n = rewind_objects(rw, m, MODEL_NONE, 10, &o, &total);
    assert_int_equal(n, 1);
    assert_int_equal(o[0].seq, 2);
    assert_int_equal(o[0].size, 200);
    assert_int_equal(model_stack_site(m, o[0].stack), pa);
    free(o);
    assert_int_equal(rewind_retarget(rw, 2), -1); /* behind it: a new rewind */
    rewind_close(rw);

    /* 0.5 s: before anything was allocated */
    assert_int_equal(cut_at(m, MODEL_AT_TIME, S / 2, &cut), 0);
    assert_int_equal(cut, 0);
    rw = rewind_open(path, cut, m, err, sizeof(err));
    assert_non_null(rw);
    read_all(rw);
    n = rewind_objects(rw, m, MODEL_NONE, 10, &o, &total);
    assert_int_equal(n, 0);
    assert_int_equal(total, 0);
    free(o);
    rewind_close(rw);

    unlink(path);
    model_free(m);
}

/* A file that is not the stream the model read, or that stops early: one
 * line saying so, never a wrong list. */
static void test_other_recording(void **state)
{
    struct model *m = recorded(4242), *other;
    struct model_object *o;
    uint64_t total;
    char err[256];
    struct rewind *rw;

    (void)state;
    strcpy(path, "/tmp/test_rewind.XXXXXX");
    write_recording();
    other = recorded(777); /* a different pid in its HELLO */
    rw = rewind_open(path, 2, other, err, sizeof(err));
    assert_non_null(rw);
    assert_int_equal(rewind_step(rw, 100), -1);
    assert_non_null(strstr(rewind_error(rw), "not the recording that was loaded"));
    assert_int_equal(rewind_objects(rw, other, MODEL_NONE, 10, &o, &total), -1);
    rewind_close(rw);

    rw = rewind_open(path, 5, m, err, sizeof(err)); /* more events than it has */
    assert_non_null(rw);
    assert_int_equal(rewind_step(rw, 100), -1);
    assert_non_null(strstr(rewind_error(rw), "ends before"));
    rewind_close(rw);

    assert_null(rewind_open("/nonexistent/x.heapline", 1, m, err, sizeof(err)));
    assert_non_null(strstr(err, "No such file"));
    unlink(path);
    model_free(other);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_at_earlier_states),
        cmocka_unit_test(test_other_recording),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
