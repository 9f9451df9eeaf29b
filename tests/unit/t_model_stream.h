/*
 * t_model_stream.h - the synthetic stream the model's unit tests share: a
 * program's definitions (defs), helpers that encode messages into B and
 * apply them (flush_into), and the reference run. Included by the
 * test_model*.c binaries only.
 */
#ifndef T_MODEL_STREAM_H
#define T_MODEL_STREAM_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "decode_msgpack.h"
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
static inline int flush_into(struct model *m)
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
static inline void defs_rate(uint64_t sample_rate)
{
    struct wire_frame f[] = {
        {0x100, 2, "main", "app.c", 10, NULL, 0},  {0x200, 2, "load_config", "app.c", 20, NULL, 0},
        {0x300, 2, "parse", "app.c", 30, NULL, 0}, {0x400, 2, "xmalloc", "util.c", 40, NULL, 0},
        {0x900, 1, "malloc", NULL, 0, NULL, 0},    {0x910, 1, "strdup", NULL, 0, NULL, 0},
        {0x500, 3, "_Znwm", NULL, 0, NULL, 0},
    };
    struct wire_stack_node n[] = {{1, 0, 0x100},  {2, 1, 0x200},  {3, 2, 0x900},  {4, 1, 0x300},
                                  {5, 4, 0x910},  {6, 4, 0x400},  {7, 6, 0x900},  {8, 1, 0x500},
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

static inline void defs(void)
{
    defs_rate(0);
}

static inline struct model *new_model(void)
{
    struct model *m = model_new();

    assert_non_null(m);
    encode_init(&B, mem, sizeof(mem));
    defs();
    assert_int_equal(flush_into(m), 0);
    return m;
}

static inline const struct model_row *row_of(const struct model_view *v, uint32_t site)
{
    for (uint32_t i = 0; i < v->n_rows; i++)
        if (v->rows[i].site == site)
            return &v->rows[i];
    return NULL;
}

static inline void view_at(const struct model *m, int at, int64_t t, struct model_view *v)
{
    struct model_query q = {.at = at, .time = t};

    assert_int_equal(model_view_at(m, &q, v), 0);
}

/* Blocks are named by allocation sequence number (wire.h): the n-th ALLOC or
 * REALLOC of a stream is seq n, and a FREE names seq_now - back. */
#define EV_ALLOC(t_, st_, sz_)                                                                     \
    {                                                                                              \
        .op = WIRE_OP_ALLOC, .time = (t_), .stack = (st_), .size = (sz_)                           \
    }
#define EV_FREE(t_, back_)                                                                         \
    {                                                                                              \
        .op = WIRE_OP_FREE, .time = (t_), .back = (back_)                                          \
    }
#define EV_THREAD(id_)                                                                             \
    {                                                                                              \
        .op = WIRE_OP_THREAD, .id = (id_)                                                          \
    }
#define EV_TAG(id_)                                                                                \
    {                                                                                              \
        .op = WIRE_OP_TAG, .id = (id_)                                                             \
    }

/* The reference run: three timeline buckets (3 ms, 15 ms, 25 ms), then END. */
static inline struct model *reference_run(void)
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

/* The figures of (group, site) among rows, or NULL. */
static inline const struct model_group_row *group_row(const struct model_group_row *r, int n,
                                                      uint32_t group, uint32_t site)
{
    for (int i = 0; i < n; i++)
        if (r[i].group == group && r[i].site == site)
            return &r[i];
    return NULL;
}

static inline int groups_at(const struct model *m, int at, int64_t t, int by_thread,
                            struct model_group_row **r)
{
    struct model_query q = {.at = at, .time = t};
    int n = model_group_rows(m, &q, by_thread, r);

    assert_true(n >= 0);
    return n;
}

#endif
