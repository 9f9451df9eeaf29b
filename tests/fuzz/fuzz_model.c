/*
 * fuzz_model.c - libFuzzer target: arbitrary bytes through the streaming
 * decoder into the model, then every query the views and the report make.
 * The model must stay consistent whatever it is fed: no crash, no leak, no
 * unbounded allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "complete.h"
#include "decode.h"
#include "model.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(const struct model *m)
{
    const struct model_summary *s = model_summary(m);
    struct model_query q = {.at = MODEL_AT_TIME,
                            .time = s->time_last / 2,
                            .window = 1000,
                            .spark_from = 0,
                            .spark_to = s->time_last,
                            .spark_points = 5};
    struct model_view v = {0};
    struct model_tree t = {0};
    struct model_filter f = {
        .text = "a", .tag = 1, .thread = MODEL_NONE, .flags = MODEL_FILTER_ACTIVE};
    struct model_object *o;
    uint64_t total, *b, *k;
    uint32_t n;

    for (int at = MODEL_AT_TIME; at <= MODEL_AT_PEAK; at++) {
        q.at = at;
        if (model_view_at(m, &q, &v) == 0) {
            model_rows_sort(m, v.rows, v.n_rows, (int)(s->events % MODEL_SORT_COUNT), at & 1);
            model_rows_filter(m, v.rows, v.n_rows, &f);
        }
        model_tree_build(m, model_site_count(m) ? 0 : MODEL_NONE, &q, at & 1, &t);
        model_tree_build(m, MODEL_NONE, &q, MODEL_TREE_BOTTOM_UP, &t);
    }
    if (model_objects(m, 0, INT64_MAX, 10, &o, &total) >= 0)
        free(o);
    n = model_site_count(m) + 1;
    b = calloc(n, sizeof(*b));
    k = calloc(n, sizeof(*k));
    if (b && k)
        model_live_since(m, 0, b, k);
    free(b);
    free(k);
    model_timeline(m, &n);
    model_range_max(m, 0, n, NULL, NULL);
    model_markers(m, &n);
    model_view_free(&v);
    model_tree_free(&t);

    /* the report, both formats, at the peak and at a time */
    {
        static FILE *devnull;
        struct report_options ro = {.json = (int)(s->events & 1), .top = 3, .at = REPORT_AT_PEAK};
        char err[256];

        if (!devnull)
            devnull = fopen("/dev/null", "w");
        if (devnull) {
            struct complete_input cut = {.truncated = 1}, whole = {0};

            report_write(m, &ro, &whole, devnull, err, sizeof(err));
            ro.at = REPORT_AT_TIME;
            ro.time = s->time_last / 3;
            ro.json = !ro.json;
            report_write(m, &ro, &cut, devnull, err, sizeof(err));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model *m = model_new();
    struct decode d;
    struct wire_msg msg;
    size_t half = size / 2;

    if (!m)
        return 0;
    decode_init(&d);
    /* fed in two pieces, so "need more" paths run too */
    for (int piece = 0; piece < 2; piece++) {
        if (decode_feed(&d, data + (piece ? half : 0), piece ? size - half : half) != 0)
            break;
        while (d.len > d.off && decode_next(&d, &msg) == 1)
            if (msg.type)
                model_apply(m, &msg);
    }
    query(m);
    decode_free(&d);
    model_free(m);
    return 0;
}
