/*
 * fuzz_rewind.c - libFuzzer target: arbitrary bytes as a recording (through
 * a memfd), loaded into a model as `replay` does, then read again by rewinds
 * at the states of the peak, the middle of the run and the latest state.
 * No crash, no leak; and where the model read the stream without an error, a
 * rewind to the latest state holds the very blocks the model holds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "rewind.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rewinds to `events`; returns the objects' count and bytes, or -1. */
static int rewound(const char *path, const struct model *m, uint64_t events, uint64_t *bytes)
{
    char err[256];
    struct rewind *rw = rewind_open(path, events, m, err, sizeof(err));
    struct model_object *o;
    uint64_t total;
    int r, n = -1;

    *bytes = 0;
    if (!rw)
        return -1;
    while ((r = rewind_step(rw, 7)) == 0)
        ;
    if (r == 1 && (n = rewind_objects(rw, m, MODEL_NONE, UINT32_MAX, &o, &total)) >= 0) {
        for (int i = 0; i < n; i++)
            *bytes += o[i].size;
        free(o);
    }
    rewind_close(rw);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[256];
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    struct model *m = model_new();
    struct source *src;
    const struct model_summary *s;
    struct model_query q = {0};
    struct model_object *o;
    uint64_t events, total, bytes, model_bytes = 0;
    int n;

    if (fd < 0 || !m || write(fd, data, size) != (ssize_t)size)
        goto out;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    src = source_open_file(path, err, sizeof(err));
    if (!src)
        goto out;
    while (source_state(src) == SOURCE_OPEN)
        if (source_read(src, m, 1000) < 0)
            break;
    s = model_summary(m);
    for (int at = MODEL_AT_TIME; at <= MODEL_AT_PEAK; at++) {
        q.at = at;
        q.time = s->time_last / 2;
        model_query_events(m, &q, &events);
        rewound(path, m, events, &bytes);
    }
    n = rewound(path, m, s->events, &bytes);
    if (n >= 0 && source_model_errors(src, NULL) == 0 &&
        model_objects(m, MODEL_NONE, INT64_MAX, UINT32_MAX, &o, &total) >= 0) {
        for (uint64_t i = 0; i < total; i++)
            model_bytes += o[i].size;
        free(o);
        if (total != (uint64_t)n || model_bytes != bytes)
            abort(); /* the two readers of one stream disagree */
    }
    source_close(src);
out:
    model_free(m);
    if (fd >= 0)
        close(fd);
    return 0;
}
