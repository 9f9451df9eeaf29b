/*
 * rewind.c - a recording read again from the top into a liveset, up to a
 * number of events.
 *
 * Invariant: ls.events <= target, and the liveset holds exactly the blocks
 * live after the first ls.events events of the stream. When a batch stops at
 * the target, its message and iterator are kept (the decoder is not advanced
 * while in_batch), so a later target goes on inside the same batch.
 */
#include "rewind.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "liveset.h"
#include "model.h"
#include "recfile.h"
#include "wire.h"

#define READ_CHUNK (256u << 10)

struct rewind {
    char path[4096];
    struct recfile_reader rf;
    int rf_open, eof;
    struct decode dec;
    char *buf;
    struct liveset ls;
    uint64_t target;
    struct wire_msg msg; /* the EVENTS batch in progress, when in_batch */
    struct events_iter it;
    int in_batch;
    int failed;
    char err[512];
    /* the stream the model read (HELLO), when known */
    int check;
    uint32_t pid;
    int64_t start_unix_ns;
};

static int fail(struct rewind *rw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rewind *rw, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rw->err, sizeof(rw->err), fmt, ap);
    va_end(ap);
    rw->failed = 1;
    return -1;
}

struct rewind *rewind_open(const char *path, uint64_t events, const struct model *m, char *err,
                           size_t errsz)
{
    struct rewind *rw = calloc(1, sizeof(*rw));
    int r;

    if (!rw || !(rw->buf = malloc(READ_CHUNK))) {
        free(rw);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(rw->path, sizeof(rw->path), "%s", path);
    decode_init(&rw->dec);
    liveset_init(&rw->ls);
    rw->target = events;
    if (m && model_summary(m)->state != MODEL_WAITING) {
        rw->check = 1;
        rw->pid = model_summary(m)->pid;
        rw->start_unix_ns = model_summary(m)->start_unix_ns;
    }
    r = recfile_open(&rw->rf, path);
    if (r != 0) {
        if (r == WIRE_EIO)
            snprintf(err, errsz, "%s: %s", path, errno ? strerror(errno) : "read error");
        else
            snprintf(err, errsz, "%s: %s", path, wire_strerror(r));
        rewind_close(rw);
        return NULL;
    }
    rw->rf_open = 1;
    return rw;
}

int rewind_retarget(struct rewind *rw, uint64_t events)
{
    if (events < rw->ls.events)
        return -1;
    rw->target = events;
    return 0;
}

uint64_t rewind_target(const struct rewind *rw)
{
    return rw->target;
}

uint64_t rewind_events_read(const struct rewind *rw)
{
    return rw->ls.events;
}

const char *rewind_error(const struct rewind *rw)
{
    return rw->err;
}

/* Goes on with the batch in progress. Returns 0 when it is read, 1 when the
 * target stopped it, -1 on error. */
static int batch(struct rewind *rw)
{
    int r = liveset_apply(&rw->ls, &rw->it, rw->target, NULL, NULL);

    switch (r) {
    case LIVESET_DONE:
        rw->in_batch = 0;
        return 0;
    case LIVESET_LIMIT:
        return 1;
    case LIVESET_ENOMEM:
        return fail(rw, "out of memory");
    case LIVESET_ETHREAD:
        return fail(rw, "%s: thread %u: id out of sequence", rw->path, rw->ls.bad_thread);
    default:
        return fail(rw, "%s: corrupt event batch", rw->path);
    }
}

/* One message of the stream: what a liveset needs of it. */
static int apply(struct rewind *rw)
{
    const struct wire_msg *m = &rw->msg;

    switch (m->type) {
    case WIRE_HELLO:
        if (rw->check &&
            (m->u.hello.pid != rw->pid || m->u.hello.start_unix_ns != rw->start_unix_ns))
            return fail(rw, "%s: not the recording that was loaded (recorded over?)", rw->path);
        return 0;
    case WIRE_THREAD: /* the model reserves thread ids here too: same id checks */
        if (liveset_reserve_thread(&rw->ls, m->u.thread.id) == LIVESET_ENOMEM)
            return fail(rw, "out of memory");
        return 0;
    case WIRE_SNAPSHOT:
        liveset_begin_at(&rw->ls, m->u.state.seq);
        return 0;
    case WIRE_EVENTS:
        decode_events_begin(&rw->it, m);
        rw->in_batch = 1;
        return batch(rw);
    default:
        return 0;
    }
}

int rewind_step(struct rewind *rw, int max_messages)
{
    if (rw->failed)
        return -1;
    if (rw->in_batch) {
        int r = batch(rw);
        if (r != 0)
            return r;
    }
    for (int n = 0; n < max_messages && rw->ls.events < rw->target;) {
        int r = decode_next(&rw->dec, &rw->msg);

        if (r == WIRE_ENEEDMORE) {
            ssize_t k = rw->eof ? 0 : recfile_read(&rw->rf, rw->buf, READ_CHUNK);

            if (k < 0)
                return fail(rw, "%s: corrupt data near byte %llu of the file (%s)", rw->path,
                            (unsigned long long)rw->rf.in_file_off, wire_strerror((int)k));
            if (k == 0) {
                rw->eof = 1;
                return fail(rw,
                            "%s: the recording ends before the cursor's state (%llu of %llu "
                            "events)",
                            rw->path, (unsigned long long)rw->ls.events,
                            (unsigned long long)rw->target);
            }
            if ((r = decode_feed(&rw->dec, rw->buf, (size_t)k)) != 0)
                return fail(rw, "%s: %s", rw->path, wire_strerror(r));
            continue;
        }
        if (r < 0)
            return fail(rw, "%s: corrupt data at stream offset %llu (%s)", rw->path,
                        (unsigned long long)rw->dec.consumed, wire_strerror(r));
        n++;
        if ((r = apply(rw)) < 0)
            return -1;
        if (r == 1)
            return 1;
    }
    return rw->ls.events >= rw->target;
}

int rewind_objects(const struct rewind *rw, const struct model *m, uint32_t site, uint32_t max,
                   struct model_object **out, uint64_t *total)
{
    *out = NULL;
    *total = 0;
    if (rw->failed || rw->ls.events < rw->target)
        return -1;
    return model_objects_in(m, &rw->ls, site, INT64_MAX, max, out, total);
}

void rewind_close(struct rewind *rw)
{
    if (!rw)
        return;
    if (rw->rf_open)
        recfile_close(&rw->rf);
    decode_free(&rw->dec);
    liveset_free(&rw->ls);
    free(rw->buf);
    free(rw);
}
