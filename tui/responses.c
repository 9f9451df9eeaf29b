/*
 * responses.c - the answers to a client's requests, per request id
 * (responses.h).
 *
 * Invariant: slot[i].id != 0 holds a complete, owned answer; its memory is
 * freed only when the slot is dropped or reused, so a pointer a caller got
 * from responses_get() stays valid as long as the answer is kept.
 */
#include "responses.h"

#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "scanmsg.h"
#include "wire.h"

struct response_slot {
    struct response r; /* r.id 0: empty */
    uint64_t age;      /* when it came: the oldest is reused first */
    struct model_object *objects;
    unsigned char *bytes;
    char *message;
    struct scanmsg_result *scan;
};

struct responses {
    struct response_slot slot[RESPONSES_KEEP];
    uint64_t clock;
};

struct responses *responses_new(void)
{
    return calloc(1, sizeof(struct responses));
}

static void slot_clear(struct response_slot *s)
{
    free(s->objects);
    free(s->bytes);
    free(s->message);
    free(s->scan);
    memset(s, 0, sizeof(*s));
}

void responses_free(struct responses *rs)
{
    if (!rs)
        return;
    for (uint32_t i = 0; i < RESPONSES_KEEP; i++)
        slot_clear(&rs->slot[i]);
    free(rs);
}

static struct response_slot *slot_of(const struct responses *rs, uint32_t id)
{
    for (uint32_t i = 0; id && i < RESPONSES_KEEP; i++)
        if (rs->slot[i].r.id == id)
            return (struct response_slot *)&rs->slot[i];
    return NULL;
}

/* The slot for a new answer: the one of the same id, an empty one, or the
 * oldest. */
static struct response_slot *slot_for(struct responses *rs, uint32_t id)
{
    struct response_slot *s = slot_of(rs, id), *oldest = &rs->slot[0];

    for (uint32_t i = 0; !s && i < RESPONSES_KEEP; i++) {
        if (!rs->slot[i].r.id)
            s = &rs->slot[i];
        else if (rs->slot[i].age < oldest->age)
            oldest = &rs->slot[i];
    }
    return s ? s : oldest;
}

/* The OBJECTS list of a response, copied. Returns 0 or a WIRE_E* code. */
static int copy_objects(struct response_slot *s, const struct wire_msg *msg)
{
    uint32_t n = wire_list_count(&msg->u.response.objects, 7);

    if (!n)
        return 0;
    s->objects = calloc(n, sizeof(*s->objects));
    if (!s->objects)
        return WIRE_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct wire_object o;

        if (decode_object_at(&msg->u.response.objects, i, &o) != 1)
            return WIRE_ECORRUPT;
        s->objects[i] = (struct model_object){.addr = o.addr,
                                              .seq = o.seq,
                                              .size = o.size,
                                              .stack = o.stack,
                                              .thread = o.thread,
                                              .tag = o.tag,
                                              .time = o.time};
    }
    s->r.objects = s->objects;
    s->r.n_objects = n;
    return 0;
}

/* The READ bytes and the message of a response, copied. */
static int copy_bytes(struct response_slot *s, const struct wire_msg *msg)
{
    const struct wire_str *b = &msg->u.response.bytes, *t = &msg->u.response.message;

    if (t->len) {
        s->message = strndup(t->ptr, t->len);
        if (!s->message)
            return -1;
        s->r.message = s->message;
    }
    if (b->len) {
        s->bytes = malloc(b->len);
        if (!s->bytes)
            return -1;
        memcpy(s->bytes, b->ptr, b->len);
        s->r.bytes = s->bytes;
        s->r.n_bytes = b->len;
    }
    return 0;
}

int responses_keep(struct responses *rs, const struct wire_msg *msg)
{
    struct response_slot *s;
    struct scanmsg_result scan;
    int rc = 0;

    if (msg->type != WIRE_RESPONSE)
        return 0;
    s = slot_for(rs, msg->u.response.id);
    slot_clear(s);
    s->r = (struct response){.id = msg->u.response.id,
                             .status = msg->u.response.status,
                             .kind = msg->u.response.kind,
                             .message = "",
                             .addr = msg->u.response.addr,
                             .size = msg->u.response.size,
                             .total = msg->u.response.total};
    s->age = ++rs->clock;
    if (copy_bytes(s, msg) || (rc = copy_objects(s, msg)) != 0) {
        slot_clear(s);
        return rc ? rc : WIRE_ENOMEM;
    }
    /* an invalid scan result is not kept; the RESPONSE itself still is */
    if (s->r.status == 0 && s->r.kind == WIRE_REQ_SCAN && scanmsg_decode(msg, &scan) == 0) {
        s->scan = scanmsg_copy(&scan);
        if (!s->scan) {
            slot_clear(s);
            return WIRE_ENOMEM;
        }
        s->r.scan = s->scan;
    }
    return 0;
}

const struct response *responses_get(const struct responses *rs, uint32_t id)
{
    const struct response_slot *s = slot_of(rs, id);

    return s ? &s->r : NULL;
}

void responses_drop(struct responses *rs, uint32_t id)
{
    struct response_slot *s = slot_of(rs, id);

    if (s)
        slot_clear(s);
}
