/*
 * objects.c - the live objects of a site at a time, for every source
 * (objects.h).
 *
 * Invariant: `list` is always a complete answer to the last question (or
 * empty while one is being read or asked); the rewind, once open, is kept
 * across questions while its recording is the source's, so another site or
 * a later time does not read the recording from the top again.
 */
#include "objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "responses.h"
#include "rewind.h"
#include "source.h"

#define OBJECTS_REWIND_BATCH 64 /* messages per rewind_step(): a batch is at most 8192 events */
#define OBJECTS_SITE_STACKS 4096u

struct objects {
    int state; /* enum objects_state */
    struct model_object *list;
    int n;
    uint64_t total;
    uint32_t site;
    int collector; /* the list is (or will be) the collector's answer */
    int req_id;    /* ASKING: the request */
    struct rewind *rw;
    char error[256];  /* FAILED: why */
    char notice[300]; /* for the status line: what the last call did ("" none) */
};

struct objects *objects_new(void)
{
    return calloc(1, sizeof(struct objects));
}

void objects_free(struct objects *o)
{
    if (!o)
        return;
    free(o->list);
    rewind_close(o->rw);
    free(o);
}

static void set_list(struct objects *o, struct model_object *list, int n, uint64_t total)
{
    free(o->list);
    o->list = list;
    o->n = n;
    o->total = total;
}

static void notice(struct objects *o, const char *what, const char *why)
{
    snprintf(o->notice, sizeof(o->notice), "%s%s", what, why);
}

const char *objects_notice(const struct objects *o)
{
    return o->notice[0] ? o->notice : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Aims the rewind at the state after `events` events: the one it holds or
 * reads toward, a later one (it goes on), or an earlier one (from the top).
 * 0, or -1 with error set when the recording cannot be opened. */
static int rewind_to(struct objects *o, const struct model *m, struct source *src, uint64_t events)
{
    if (o->rw && rewind_retarget(o->rw, events) == 0)
        return 0;
    rewind_close(o->rw);
    o->rw = rewind_open(source_name(src), events, m, o->error, sizeof(o->error));
    return o->rw ? 0 : -1;
}

/* The rewind's answer, once it has read up to the state. */
static void list_rewound(struct objects *o, const struct model *m)
{
    struct model_object *list = NULL;
    uint64_t total = 0;
    int n = rewind_objects(o->rw, m, o->site, OBJECTS_MAX, &list, &total);

    if (n < 0) {
        notice(o, "out of memory listing objects", "");
        n = 0;
    }
    set_list(o, list, n, total);
    o->state = OBJECTS_READY;
}

/* Reads the recording toward the state until deadline_ms (one slice at
 * least). Returns 1 (progress, the list or an error to show). */
static int read_some(struct objects *o, const struct model *m, int64_t deadline_ms)
{
    int r;

    do {
        r = rewind_step(o->rw, OBJECTS_REWIND_BATCH);
    } while (r == 0 && now_ms() < deadline_ms);
    if (r == 0)
        return 1; /* the progress figure moved */
    if (r < 0) {
        snprintf(o->error, sizeof(o->error), "%s", rewind_error(o->rw));
        notice(o, "objects: ", rewind_error(o->rw));
        rewind_close(o->rw);
        o->rw = NULL;
        set_list(o, NULL, 0, 0);
        o->state = OBJECTS_FAILED;
        return 1;
    }
    list_rewound(o, m);
    return 1;
}

int objects_ask(struct objects *o, const struct model *m, struct source *src, uint32_t site,
                const struct model_query *q, int64_t time)
{
    struct model_object *list = NULL;
    uint64_t events, total = 0;
    int n;

    o->notice[0] = 0;
    if (o->collector)
        return o->state; /* the collector's answer stands until asked again */
    o->site = site;
    o->error[0] = 0;
    o->state = OBJECTS_READY;
    if (src && source_kind(src) == SOURCE_FILE && !model_query_events(m, q, &events)) {
        if (rewind_to(o, m, src, events) != 0) {
            o->state = OBJECTS_FAILED;
        } else {
            o->state = OBJECTS_READING;
            read_some(o, m, 0); /* answers at once when the state is at hand */
        }
        if (o->state != OBJECTS_READY)
            set_list(o, NULL, 0, 0); /* the list waits for the rewind, or cannot be had */
        return o->state;
    }
    n = model_objects(m, site, time, OBJECTS_MAX, &list, &total);
    if (n < 0) {
        notice(o, "out of memory listing objects", "");
        return o->state;
    }
    set_list(o, list, n, total);
    return o->state;
}

int objects_ask_collector(struct objects *o, const struct model *m, struct source *src,
                          uint32_t site)
{
    uint32_t *stacks, n;
    int id;

    o->notice[0] = 0;
    if (!src || source_state(src) != SOURCE_OPEN || source_kind(src) == SOURCE_FILE)
        return -1;
    stacks = malloc(OBJECTS_SITE_STACKS * sizeof(*stacks));
    n = stacks ? model_site_stacks(m, site, stacks, OBJECTS_SITE_STACKS) : 0;
    if (n > OBJECTS_SITE_STACKS)
        n = OBJECTS_SITE_STACKS; /* the oldest stacks; the collector caps the answer anyway */
    id = n ? source_request_objects(src, stacks, n, OBJECTS_LIVE_MAX) : -1;
    free(stacks);
    if (id <= 0)
        return -1;
    o->site = site;
    o->collector = 1;
    o->req_id = id;
    o->error[0] = 0;
    o->state = OBJECTS_ASKING;
    set_list(o, NULL, 0, 0);
    return o->state;
}

void objects_drop_collector(struct objects *o)
{
    o->collector = 0;
    if (o->state == OBJECTS_ASKING)
        o->state = OBJECTS_READY;
}

int objects_from_collector(const struct objects *o)
{
    return o->collector;
}

/* Takes the collector's answer when it came. Returns 1 when it did. */
static int take_answer(struct objects *o, struct source *src)
{
    const struct response *r = source_response(src, o->req_id);
    struct model_object *copy = NULL;

    if (!r)
        return 0;
    o->state = OBJECTS_READY;
    if (r->status != 0) {
        notice(o, "objects: ", r->message ? r->message : "the collector refused");
        source_response_done(src, o->req_id);
        return 1;
    }
    if (r->n_objects) {
        copy = malloc(r->n_objects * sizeof(*copy));
        if (!copy) {
            notice(o, "out of memory", "");
            return 1;
        }
        memcpy(copy, r->objects, r->n_objects * sizeof(*copy));
    }
    set_list(o, copy, (int)r->n_objects, r->total);
    source_response_done(src, o->req_id);
    return 1;
}

int objects_work(struct objects *o, const struct model *m, struct source *src, int64_t deadline_ms)
{
    o->notice[0] = 0;
    if (o->state == OBJECTS_ASKING)
        return take_answer(o, src);
    if (o->state == OBJECTS_READING)
        return read_some(o, m, deadline_ms);
    return 0;
}

int objects_state(const struct objects *o)
{
    return o->state;
}

const struct model_object *objects_list(const struct objects *o, int *n, uint64_t *total)
{
    *n = o->n;
    if (total)
        *total = o->total;
    return o->list;
}

const char *objects_error(const struct objects *o)
{
    return o->state == OBJECTS_FAILED ? o->error : "";
}

void objects_progress(const struct objects *o, uint64_t *done, uint64_t *target)
{
    *done = o->rw ? rewind_events_read(o->rw) : 0;
    *target = o->rw ? rewind_target(o->rw) : 0;
}
