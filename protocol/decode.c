/*
 * decode.c - streaming, bounds-checked decoding of heapline messages.
 *
 * Invariant: msgpack-c only ever sees one complete message whose every
 * declared count has been checked against the bytes actually present, so the
 * memory it allocates is bounded by a small multiple of WIRE_MAX_MESSAGE and a
 * truncated stream is told apart from a corrupt one before any allocation.
 */
#include "decode.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "decode_msgpack.h"

/* The bytes after the type byte of a fixed-size object (ints, floats,
 * fixext), 0 for the others. */
static uint64_t fixed_size(unsigned char c)
{
    switch (c) {
    case 0xcc:
    case 0xd0:
        return 1;
    case 0xcd:
    case 0xd1:
        return 2;
    case 0xce:
    case 0xd2:
    case 0xca:
        return 4;
    case 0xcf:
    case 0xd3:
    case 0xcb:
        return 8;
    case 0xd4:
        return 2; /* fixext 1 */
    case 0xd5:
        return 3;
    case 0xd6:
        return 5;
    case 0xd7:
        return 9;
    case 0xd8:
        return 17;
    default:
        return 0;
    }
}

/* The width of the length field of a str, bin, ext, array or map with one,
 * 0 for a byte that is none of those (0xc1: never used). */
static unsigned length_width(unsigned char c)
{
    switch (c) {
    case 0xc4:
    case 0xd9:
    case 0xc7:
        return 1;
    case 0xc5:
    case 0xda:
    case 0xc8:
    case 0xdc:
    case 0xde:
        return 2;
    case 0xc6:
    case 0xdb:
    case 0xc9:
    case 0xdd:
    case 0xdf:
        return 4;
    default:
        return 0;
    }
}

/* Walks the msgpack structure at p[0..len) without decoding it. Returns the
 * byte length of the first complete object, WIRE_ENEEDMORE if the bytes end
 * inside it, or WIRE_ECORRUPT / WIRE_ETOOBIG. The outer object must be an
 * array. The walk starts from *st (zeroed: the message's first byte) and,
 * on WIRE_ENEEDMORE, leaves there the start of the object it could not
 * finish, so that a stream arriving a byte at a time is walked once in all
 * rather than once per byte (a client trickling a request slowed the
 * program it watched by 86%: every byte re-walked the whole message). */
static long msg_extent(const unsigned char *p, size_t len, struct decode_extent *st)
{
    size_t off = st->off;
    uint64_t pending = st->off ? st->pending : 1; /* objects still to walk */

    while (pending > 0) {
        uint64_t skip = 0, children = 0;
        size_t start = off;
        unsigned char c;

#define NEED_MORE() (st->off = start, st->pending = pending, WIRE_ENEEDMORE)
        if (off >= WIRE_MAX_MESSAGE)
            return WIRE_ETOOBIG;
        if (off >= len)
            return NEED_MORE();
        c = p[off++];
        if (start == 0 && !((c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd))
            return WIRE_ECORRUPT;
        pending--;

        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool */
        } else if (c >= 0x80 && c <= 0x8f) {
            children = 2u * (c & 0x0f);
        } else if (c >= 0x90 && c <= 0x9f) {
            children = c & 0x0f;
        } else if (c >= 0xa0 && c <= 0xbf) {
            skip = c & 0x1f;
        } else {
            unsigned w; /* width of a length field */
            uint64_t n = 0;

            skip = fixed_size(c);
            if (skip == 0) {
                w = length_width(c);
                if (w == 0)
                    return WIRE_ECORRUPT; /* 0xc1: never used */
                if (len - off < w) {
                    pending++;
                    return NEED_MORE();
                }
                for (unsigned i = 0; i < w; i++)
                    n = (n << 8) | p[off + i];
                off += w;
                if (c == 0xdc || c == 0xdd)
                    children = n;
                else if (c == 0xde || c == 0xdf)
                    children = 2 * n;
                else if (c == 0xc7 || c == 0xc8 || c == 0xc9)
                    skip = n + 1; /* ext: type byte + data */
                else
                    skip = n;
            }
        }
        if (skip > WIRE_MAX_MESSAGE || children > WIRE_MAX_MESSAGE)
            return WIRE_ETOOBIG;
        if (skip) {
            if (off + skip > WIRE_MAX_MESSAGE)
                return WIRE_ETOOBIG;
            if (len - off < skip) {
                pending++;
                return NEED_MORE();
            }
            off += skip;
        }
        pending += children;
        /* every object takes at least one byte */
        if (pending > WIRE_MAX_MESSAGE - off)
            return WIRE_ETOOBIG;
#undef NEED_MORE
    }
    return (long)off;
}

/* ---- field readers (decode.h): each returns 0 or WIRE_ECORRUPT ---- */

int decode_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > INT64_MAX)
            return WIRE_ECORRUPT;
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return WIRE_ECORRUPT;
}

int decode_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return WIRE_ECORRUPT;
    *out = o->via.u64;
    return 0;
}

int decode_u32(const msgpack_object *o, uint32_t max, uint32_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return WIRE_ECORRUPT;
    *out = (uint32_t)o->via.u64;
    return 0;
}

int decode_s32(const msgpack_object *o, int32_t *out)
{
    int64_t v;

    if (decode_i64(o, &v) || v < INT32_MIN || v > INT32_MAX)
        return WIRE_ECORRUPT;
    *out = (int32_t)v;
    return 0;
}

int decode_str(const msgpack_object *o, struct wire_str *s)
{
    if (o->type == MSGPACK_OBJECT_NIL) {
        s->ptr = NULL;
        s->len = 0;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > WIRE_MAX_STRING)
        return WIRE_ECORRUPT;
    s->ptr = o->via.str.ptr;
    s->len = o->via.str.size;
    return 0;
}

int decode_list(const msgpack_object *o, uint32_t k, struct wire_list *l)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size % k != 0)
        return WIRE_ECORRUPT;
    l->items = o->via.array.ptr;
    l->n = o->via.array.size;
    return 0;
}

/* Minimum element counts, type included, by message type. */
static const uint8_t min_elems[WIRE_TYPE_MAX + 1] = {
    [WIRE_HELLO] = 8,       [WIRE_MODULE] = 6,   [WIRE_FRAME] = 6,   [WIRE_STACKS] = 2,
    [WIRE_THREAD] = 4,      [WIRE_TAG] = 3,      [WIRE_MARKER] = 3,  [WIRE_EVENTS] = 3,
    [WIRE_TICK] = 9,        [WIRE_SNAPSHOT] = 9, [WIRE_HISTORY] = 2, [WIRE_REQUEST] = 3,
    [WIRE_RESPONSE] = 4,    [WIRE_MISSED] = 2,   [WIRE_END] = 4,     [WIRE_DISABLED] = 3,
    [WIRE_STACK_STEPS] = 2, [WIRE_NOTE] = 3,
};

static int parse_request(const msgpack_object *e, uint32_t n, struct wire_msg *m)
{
    int r = 0;

    memset(&m->u.request, 0, sizeof(m->u.request));
    r |= decode_u32(&e[1], UINT32_MAX, &m->u.request.id);
    r |= decode_u32(&e[2], WIRE_REQ_MAX, &m->u.request.kind);
    if (r)
        return WIRE_ECORRUPT;
    switch (m->u.request.kind) {
    case WIRE_REQ_OBJECTS:
        if (n < 5 || decode_list(&e[3], 1, &m->u.request.stacks) ||
            decode_u32(&e[4], WIRE_MAX_OBJECTS, &m->u.request.max))
            return WIRE_ECORRUPT;
        for (uint32_t i = 0; i < m->u.request.stacks.n; i++) {
            uint32_t id;
            if (decode_u32(&wire_items(&m->u.request.stacks)[i], WIRE_MAX_STACK_ID, &id))
                return WIRE_ECORRUPT;
        }
        return 0;
    case WIRE_REQ_READ:
        if (n < 5 || decode_u64(&e[3], &m->u.request.addr) ||
            decode_u32(&e[4], WIRE_MAX_READ, &m->u.request.len))
            return WIRE_ECORRUPT;
        return 0;
    case WIRE_REQ_SCAN:
        if (n < 6 || decode_u64(&e[3], &m->u.request.addr) ||
            decode_u32(&e[4], 1000, &m->u.request.max_depth) ||
            decode_u32(&e[5], 1000000, &m->u.request.max_fanout))
            return WIRE_ECORRUPT;
        return 0;
    default:
        return WIRE_ECORRUPT;
    }
}

static int parse_response(const msgpack_object *e, uint32_t n, const msgpack_object *all,
                          struct wire_msg *m)
{
    memset(&m->u.response, 0, sizeof(m->u.response));
    m->u.response.raw = all;
    if (decode_u32(&e[1], UINT32_MAX, &m->u.response.id) ||
        decode_s32(&e[2], &m->u.response.status))
        return WIRE_ECORRUPT;
    if (m->u.response.status != 0)
        return decode_str(&e[3], &m->u.response.message);
    if (decode_u32(&e[3], UINT32_MAX, &m->u.response.kind))
        return WIRE_ECORRUPT;
    switch (m->u.response.kind) {
    case WIRE_REQ_OBJECTS:
        if (n < 6 || decode_u64(&e[4], &m->u.response.total) ||
            decode_list(&e[5], 7, &m->u.response.objects))
            return WIRE_ECORRUPT;
        return 0;
    case WIRE_REQ_READ:
        if (n < 7 || decode_u64(&e[4], &m->u.response.addr) ||
            decode_u64(&e[5], &m->u.response.size) || e[6].type != MSGPACK_OBJECT_BIN ||
            e[6].via.bin.size > WIRE_MAX_READ)
            return WIRE_ECORRUPT;
        m->u.response.bytes.ptr = e[6].via.bin.ptr;
        m->u.response.bytes.len = e[6].via.bin.size;
        return 0;
    default:
        return 0; /* other payloads: the caller reads raw */
    }
}

static int parse_state(const msgpack_object *e, uint32_t n, struct wire_msg *m)
{
    struct wire_totals *t = &m->u.state.totals;
    int r = 0;

    r |= decode_i64(&e[1], &t->time);
    r |= decode_u64(&e[2], &t->heap_bytes);
    r |= decode_u64(&e[3], &t->heap_blocks);
    r |= decode_u64(&e[4], &t->rss);
    r |= decode_u64(&e[5], &t->allocations);
    r |= decode_u64(&e[6], &t->frees);
    r |= decode_u64(&e[7], &t->bytes_allocated);
    r |= decode_list(&e[8], 5, &m->u.state.sites);
    m->u.state.seq = 0;
    if (m->type == WIRE_SNAPSHOT && n >= 10 &&
        (decode_u64(&e[9], &m->u.state.seq) || m->u.state.seq > WIRE_SEQ_MASK))
        r = WIRE_ECORRUPT;
    /* the exact peak (later versions' trailing fields; absent: 0) */
    t->peak_bytes = 0;
    t->peak_time = 0;
    {
        uint32_t at = m->type == WIRE_SNAPSHOT ? 10 : 9;
        if (n >= at + 2) {
            r |= decode_u64(&e[at], &t->peak_bytes);
            r |= decode_i64(&e[at + 1], &t->peak_time);
        }
    }
    return r ? WIRE_ECORRUPT : 0;
}

static int parse(const msgpack_object *o, struct wire_msg *m)
{
    const msgpack_object *e;
    uint32_t n, type;
    int r = 0;

    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        return WIRE_ECORRUPT;
    e = o->via.array.ptr;
    n = o->via.array.size;
    if (decode_u32(&e[0], UINT32_MAX, &type) || type == 0)
        return WIRE_ECORRUPT;
    if (type > WIRE_TYPE_MAX)
        return 0; /* a newer message: skipped by the caller */
    if (n < min_elems[type])
        return WIRE_ECORRUPT;
    m->type = (int)type;
    m->steps = 0;

    switch (type) {
    case WIRE_HELLO:
        r |= decode_u32(&e[1], UINT32_MAX, &m->u.hello.version);
        r |= decode_u32(&e[2], UINT32_MAX, &m->u.hello.pid);
        r |= decode_str(&e[3], &m->u.hello.exe);
        r |= decode_i64(&e[4], &m->u.hello.start_unix_ns);
        r |= decode_u32(&e[5], UINT32_MAX, &m->u.hello.page_size);
        r |= decode_u32(&e[6], 4096, &m->u.hello.max_depth);
        r |= decode_u32(&e[7], UINT32_MAX, &m->u.hello.flags);
        m->u.hello.sample_rate = 0;
        if (!r && n >= 9)
            r |= decode_u64(&e[8], &m->u.hello.sample_rate);
        if (!r && m->u.hello.version > WIRE_VERSION)
            return WIRE_EVERSION;
        if (!r && m->u.hello.version < WIRE_MIN_VERSION)
            return WIRE_EOLDVERSION;
        break;
    case WIRE_MODULE:
        r |= decode_u32(&e[1], WIRE_MAX_MODULE_ID, &m->u.module.id);
        r |= decode_str(&e[2], &m->u.module.path);
        r |= decode_u64(&e[3], &m->u.module.base);
        r |= decode_u64(&e[4], &m->u.module.size);
        r |= decode_str(&e[5], &m->u.module.build_id);
        m->u.module.symbols = WIRE_SYMBOLS_UNKNOWN;
        m->u.module.debug_file = (struct wire_str){0};
        if (!r && n >= 8) {
            r |= decode_u32(&e[6], WIRE_SYMBOLS_MAX, &m->u.module.symbols);
            r |= decode_str(&e[7], &m->u.module.debug_file);
        }
        break;
    case WIRE_FRAME:
        r |= decode_u64(&e[1], &m->u.frame.ip);
        r |= decode_u32(&e[2], WIRE_MAX_MODULE_ID, &m->u.frame.module);
        r |= decode_str(&e[3], &m->u.frame.function);
        r |= decode_str(&e[4], &m->u.frame.file);
        r |= decode_u32(&e[5], UINT32_MAX, &m->u.frame.line);
        m->u.frame.inlined.items = NULL;
        m->u.frame.inlined.n = 0;
        if (!r && n >= 7) {
            r |= decode_list(&e[6], 3, &m->u.frame.inlined);
            if (!r && m->u.frame.inlined.n > 3 * WIRE_MAX_INLINED)
                r = WIRE_ECORRUPT;
        }
        break;
    case WIRE_STACKS:
    case WIRE_STACK_STEPS:
        r |= decode_list(&e[1], 3, &m->u.stacks);
        m->steps = type == WIRE_STACK_STEPS;
        m->type = WIRE_STACKS;
        break;
    case WIRE_THREAD:
        r |= decode_u32(&e[1], WIRE_MAX_THREAD_ID, &m->u.thread.id);
        r |= decode_u32(&e[2], UINT32_MAX, &m->u.thread.os_tid);
        r |= decode_str(&e[3], &m->u.thread.name);
        break;
    case WIRE_TAG:
        r |= decode_u32(&e[1], WIRE_MAX_TAG_ID, &m->u.tag.id);
        r |= decode_str(&e[2], &m->u.tag.name);
        break;
    case WIRE_MARKER:
        r |= decode_i64(&e[1], &m->u.marker.time);
        r |= decode_str(&e[2], &m->u.marker.label);
        break;
    case WIRE_EVENTS: /* parse_events(): here only when its type was not a fixint */
        return WIRE_ECORRUPT;
    case WIRE_TICK:
    case WIRE_SNAPSHOT:
        r |= parse_state(e, n, m);
        break;
    case WIRE_HISTORY:
        r |= decode_list(&e[1], 4, &m->u.history);
        break;
    case WIRE_REQUEST:
        r |= parse_request(e, n, m);
        break;
    case WIRE_RESPONSE:
        r |= parse_response(e, n, o, m);
        break;
    case WIRE_MISSED:
        r |= decode_u64(&e[1], &m->u.missed);
        break;
    case WIRE_END:
        r |= decode_i64(&e[1], &m->u.end.time);
        r |= decode_u32(&e[2], UINT32_MAX, &m->u.end.reason);
        r |= decode_s32(&e[3], &m->u.end.status);
        break;
    case WIRE_DISABLED:
        r |= decode_i64(&e[1], &m->u.disabled.time);
        r |= decode_str(&e[2], &m->u.disabled.reason);
        m->u.disabled.cause = 0;
        if (n >= 4)
            r |= decode_u32(&e[3], UINT32_MAX, &m->u.disabled.cause);
        break;
    case WIRE_NOTE:
        r |= decode_i64(&e[1], &m->u.note.time);
        r |= decode_str(&e[2], &m->u.note.text);
        break;
    }
    if (r == WIRE_EVERSION || r == WIRE_EOLDVERSION)
        return r;
    return r ? WIRE_ECORRUPT : 1;
}

/* One msgpack integer at *p (before end) as a msgpack object (its type
 * MSGPACK_OBJECT_NIL when it is not an integer, or is cut short); *p moves
 * past it. */
static void raw_int(const unsigned char **p, const unsigned char *end, msgpack_object *o)
{
    const unsigned char *q = *p;
    unsigned c, size;
    uint64_t v = 0;

    o->type = MSGPACK_OBJECT_NIL;
    if (q >= end)
        return;
    c = *q++;
    if (c < 0x80 || c >= 0xe0) { /* a fixint */
        *p = q;
        if (c < 0x80) {
            o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            o->via.u64 = c;
        } else {
            o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
            o->via.i64 = (int8_t)c;
        }
        return;
    }
    if (c < 0xcc || c > 0xd3)
        return;
    size = 1u << ((c - 0xcc) & 3); /* cc-cf: uint 8-64, d0-d3: int 8-64 */
    if ((size_t)(end - q) < size)
        return;
    for (unsigned k = 0; k < size; k++)
        v = v << 8 | q[k];
    *p = q + size;
    if (c <= 0xcf) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = v;
        return;
    }
    /* a signed one, sign-extended from its size */
    int64_t s = size == 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * size)) >> (64 - 8 * size);
    if (s >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)s;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = s;
    }
}

/* An array's length at *p, *p moved past its header; -1 when it is not an
 * array. */
static long raw_array(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *q = *p;
    long n;

    if (q >= end)
        return -1;
    if ((*q & 0xf0) == 0x90) {
        n = *q & 0x0f;
        q += 1;
    } else if (*q == 0xdc && end - q >= 3) {
        n = (long)q[1] << 8 | q[2];
        q += 3;
    } else if (*q == 0xdd && end - q >= 5) {
        n = (long)((uint32_t)q[1] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 8 | q[4]);
        q += 5;
    } else {
        return -1;
    }
    *p = q;
    return n;
}

/* The type of the message at b (ext bytes, whole), from its first bytes:
 * an array whose first element is a positive fixint. 0 when it is not so
 * (the full decode then says what is wrong). */
static unsigned peek_type(const unsigned char *b, long ext)
{
    const unsigned char *p = b, *end = b + ext;

    return raw_array(&p, end) >= 1 && p < end && *p < 0x80 ? *p : 0;
}

/* EVENTS (ext bytes at b, whole and well formed: msg_extent walked it):
 * its header read, its items left in place for decode_events_next(). */
static int parse_events(const unsigned char *b, long ext, struct wire_msg *m)
{
    const unsigned char *p = b, *end = b + ext;
    msgpack_object o;
    long n = raw_array(&p, end), items;

    memset(m, 0, sizeof(*m));
    if (n < 3)
        return WIRE_ECORRUPT;
    raw_int(&p, end, &o); /* the type, EVENTS */
    raw_int(&p, end, &o);
    if (decode_i64(&o, &m->u.events.base_time))
        return WIRE_ECORRUPT;
    items = raw_array(&p, end);
    if (items < 0 || items > end - p) /* an item takes a byte at least */
        return WIRE_ECORRUPT;
    m->type = WIRE_EVENTS;
    m->u.events.items = p;
    m->u.events.end = end;
    m->u.events.n = (uint32_t)items;
    return 1;
}

static int decode_from(const char *buf, size_t len, msgpack_zone *zone, struct wire_msg *m,
                       size_t *used, struct decode_extent *st, uint32_t skip)
{
    long ext = msg_extent((const unsigned char *)buf, len, st);
    msgpack_object obj, *objp;
    size_t off = 0;
    int r;

    if (ext < 0)
        return (int)ext;
    unsigned type = peek_type((const unsigned char *)buf, ext);

    if (type && type < 32 && (skip >> type & 1)) {
        *used = (size_t)ext;
        m->type = 0; /* stepped over: the caller goes on */
        return 1;
    }
    if (type == WIRE_EVENTS) { /* read in place, not through msgpack objects */
        *used = (size_t)ext;
        return parse_events((const unsigned char *)buf, ext, m);
    }
    msgpack_zone_clear(zone);
    if (msgpack_unpack(buf, (size_t)ext, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS ||
        off != (size_t)ext)
        return WIRE_ECORRUPT;
    *used = off;
    memset(m, 0, sizeof(*m));
    /* keep the root in the zone: response.raw must outlive this frame */
    objp = msgpack_zone_malloc(zone, sizeof(*objp));
    if (!objp)
        return WIRE_ENOMEM;
    *objp = obj;
    r = parse(objp, m);
    if (r == 0)
        m->type = 0; /* unknown newer type: caller skips */
    return r < 0 ? r : 1;
}

int decode_one(const char *buf, size_t len, msgpack_zone *zone, struct wire_msg *m, size_t *used)
{
    struct decode_extent st = {0, 0};

    return decode_from(buf, len, zone, m, used, &st, 0);
}

void decode_init(struct decode *d)
{
    memset(d, 0, sizeof(*d));
    d->zone = msgpack_zone_new(64 * 1024); /* NULL: decode_next() says out of memory */
}

void decode_free(struct decode *d)
{
    free(d->buf);
    if (d->zone)
        msgpack_zone_free(d->zone);
    memset(d, 0, sizeof(*d));
}

int decode_feed(struct decode *d, const void *bytes, size_t n)
{
    if (d->dead)
        return d->dead;
    if (n == 0)
        return 0;
    if (d->off > 0 && (d->off == d->len || d->off > d->cap / 2)) {
        memmove(d->buf, d->buf + d->off, d->len - d->off);
        d->len -= d->off;
        d->off = 0;
    }
    if (n > d->cap - d->len) {
        size_t want = d->cap ? d->cap : 64 * 1024;
        char *nb;

        while (want - d->len < n)
            want *= 2;
        nb = realloc(d->buf, want);
        if (!nb)
            return WIRE_ENOMEM;
        d->buf = nb;
        d->cap = want;
    }
    memcpy(d->buf + d->len, bytes, n);
    d->len += n;
    return 0;
}

int decode_next(struct decode *d, struct wire_msg *m)
{
    for (;;) {
        size_t used = 0;
        int r;

        if (d->dead)
            return d->dead;
        if (d->off == d->len)
            return WIRE_ENEEDMORE;
        if (!d->zone)
            return WIRE_ENOMEM;
        r = decode_from(d->buf + d->off, d->len - d->off, d->zone, m, &used, &d->ext, d->skip);
        if (r == WIRE_ENEEDMORE)
            return r;
        d->ext = (struct decode_extent){0, 0};
        if (r < 0) {
            d->dead = r;
            return r;
        }
        d->off += used;
        d->consumed += used;
        if (m->type != 0)
            return 1;
    }
}

void decode_events_begin(struct events_iter *it, const struct wire_msg *m)
{
    it->p = m->u.events.items;
    it->end = m->u.events.end;
    it->n = m->u.events.n;
    it->i = 0;
    it->base = m->u.events.base_time;
    it->us = 0;
    it->ref = 0;
}

/* Adds a microsecond delta; refuses a time beyond what int64 nanoseconds
 * hold (hostile input). */
static int add_micros(struct events_iter *it, int64_t dt, int64_t *time)
{
    int64_t us, ns;

    if (__builtin_add_overflow(it->us, dt, &us) || __builtin_mul_overflow(us, 1000, &ns) ||
        __builtin_add_overflow(it->base, ns, time))
        return WIRE_ECORRUPT;
    it->us = us;
    return 0;
}

/* The freed block's back from the field sent: back itself, or a step from
 * the block freed before (wire.h, enum wire_op), a signed 40-bit value. */
#define STEP_LIMIT ((int64_t)1 << (WIRE_SEQ_BITS - 1))
static int freed_back(struct events_iter *it, const msgpack_object *x, int step, uint64_t *back)
{
    if (step) {
        int64_t d;

        if (decode_i64(x, &d) || d < -STEP_LIMIT || d >= STEP_LIMIT)
            return WIRE_ECORRUPT;
        *back = (it->ref - (uint64_t)d) & WIRE_SEQ_MASK;
    } else if (decode_u64(x, back) || *back > WIRE_SEQ_MASK) {
        return WIRE_ECORRUPT;
    }
    it->ref = *back;
    return 0;
}

/* The items an event of op takes, op's own included. */
static const uint8_t op_items[WIRE_OP_MAX + 1] = {
    [WIRE_OP_ALLOC] = 4, [WIRE_OP_FREE] = 3,      [WIRE_OP_REALLOC] = 5,      [WIRE_OP_THREAD] = 2,
    [WIRE_OP_TAG] = 2,   [WIRE_OP_FREE_STEP] = 3, [WIRE_OP_REALLOC_STEP] = 5,
};

int decode_events_next(struct events_iter *it, struct wire_event *ev)
{
    msgpack_object x[5];
    uint32_t left = it->n - it->i;
    uint32_t op;
    int64_t dt;
    int step;

    if (left == 0)
        return 0;
    raw_int(&it->p, it->end, &x[0]);
    if (decode_u32(&x[0], WIRE_OP_MAX, &op) || op == 0 || left < op_items[op])
        return WIRE_ECORRUPT;
    for (unsigned k = 1; k < op_items[op]; k++)
        raw_int(&it->p, it->end, &x[k]); /* a NIL where it is not an integer: corrupt below */
    memset(ev, 0, sizeof(*ev));
    step = op == WIRE_OP_FREE_STEP || op == WIRE_OP_REALLOC_STEP;
    if (step)
        op = op == WIRE_OP_FREE_STEP ? WIRE_OP_FREE : WIRE_OP_REALLOC;
    ev->op = (uint8_t)op;
    switch (op) {
    case WIRE_OP_ALLOC:
        if (left < 4 || decode_i64(&x[1], &dt) ||
            decode_u32(&x[2], WIRE_MAX_STACK_ID, &ev->stack) || decode_u64(&x[3], &ev->size) ||
            add_micros(it, dt, &ev->time))
            return WIRE_ECORRUPT;
        it->ref = (it->ref + 1) & WIRE_SEQ_MASK;
        it->i += 4;
        return 1;
    case WIRE_OP_FREE:
        if (left < 3 || decode_i64(&x[1], &dt) || freed_back(it, &x[2], step, &ev->back) ||
            add_micros(it, dt, &ev->time))
            return WIRE_ECORRUPT;
        it->i += 3;
        return 1;
    case WIRE_OP_REALLOC:
        if (left < 5 || decode_i64(&x[1], &dt) ||
            decode_u32(&x[2], WIRE_MAX_STACK_ID, &ev->stack) || decode_u64(&x[3], &ev->size) ||
            freed_back(it, &x[4], step, &ev->back) || add_micros(it, dt, &ev->time))
            return WIRE_ECORRUPT;
        it->ref = (it->ref + 1) & WIRE_SEQ_MASK; /* after its old block's back */
        it->i += 5;
        return 1;
    case WIRE_OP_THREAD:
        if (left < 2 || decode_u32(&x[1], WIRE_MAX_THREAD_ID, &ev->id))
            return WIRE_ECORRUPT;
        it->i += 2;
        return 1;
    default: /* WIRE_OP_TAG */
        if (left < 2 || decode_u32(&x[1], WIRE_MAX_TAG_ID, &ev->id))
            return WIRE_ECORRUPT;
        it->i += 2;
        return 1;
    }
}

void decode_stacks_begin(struct stacks_iter *it, const struct wire_msg *m)
{
    it->l = m->u.stacks;
    it->i = 0;
    it->steps = m->steps;
    it->id = 0;
    it->ip = 0;
}

int decode_stacks_next(struct stacks_iter *it, struct wire_stack_node *node)
{
    const msgpack_object *x = wire_items(&it->l) + it->i;

    if ((uint64_t)it->i + 3 > it->l.n)
        return 0;
    if (!it->steps) {
        if (decode_u32(&x[0], WIRE_MAX_STACK_ID, &node->id) ||
            decode_u32(&x[1], WIRE_MAX_STACK_ID, &node->parent) || decode_u64(&x[2], &node->ip) ||
            node->parent >= node->id)
            return WIRE_ECORRUPT;
    } else {
        uint32_t step, back;
        int64_t ip_step;

        if (decode_u32(&x[0], WIRE_MAX_STACK_ID, &step) || step == 0 ||
            step > WIRE_MAX_STACK_ID - it->id || decode_u32(&x[1], WIRE_MAX_STACK_ID, &back) ||
            back == 0 || back > it->id + step || decode_i64(&x[2], &ip_step))
            return WIRE_ECORRUPT;
        node->id = it->id + step;
        node->parent = node->id - back;
        node->ip = it->ip + (uint64_t)ip_step;
        it->id = node->id;
        it->ip = node->ip;
    }
    it->i += 3;
    return 1;
}

int decode_site_at(const struct wire_list *l, uint32_t i, struct wire_site *s)
{
    const msgpack_object *x = wire_items(l) + 5 * i;

    if (5 * (uint64_t)i + 5 > l->n || decode_u32(&x[0], WIRE_MAX_STACK_ID, &s->stack) ||
        decode_i64(&x[1], &s->live_bytes) || decode_i64(&x[2], &s->live_blocks) ||
        decode_u64(&x[3], &s->allocations) || decode_u64(&x[4], &s->bytes_allocated))
        return WIRE_ECORRUPT;
    return 1;
}

int decode_history_at(const struct wire_list *l, uint32_t i, struct wire_history_row *row)
{
    const msgpack_object *x = wire_items(l) + 4 * i;

    if (4 * (uint64_t)i + 4 > l->n || decode_i64(&x[0], &row->time) ||
        decode_u64(&x[1], &row->heap_bytes) || decode_u64(&x[2], &row->heap_blocks) ||
        decode_u64(&x[3], &row->rss))
        return WIRE_ECORRUPT;
    return 1;
}

int decode_object_at(const struct wire_list *l, uint32_t i, struct wire_object *o)
{
    const msgpack_object *x = wire_items(l) + 7 * i;

    if (7 * (uint64_t)i + 7 > l->n || decode_u64(&x[0], &o->addr) || decode_u64(&x[1], &o->size) ||
        decode_u32(&x[2], WIRE_MAX_STACK_ID, &o->stack) || decode_i64(&x[3], &o->time) ||
        decode_u32(&x[4], WIRE_MAX_THREAD_ID, &o->thread) ||
        decode_u32(&x[5], WIRE_MAX_TAG_ID, &o->tag) || decode_u64(&x[6], &o->seq) ||
        o->seq > WIRE_SEQ_MASK)
        return WIRE_ECORRUPT;
    return 1;
}

int decode_inline_at(const struct wire_list *l, uint32_t i, struct wire_str *function,
                     struct wire_str *file, uint32_t *line)
{
    const msgpack_object *x = wire_items(l) + 3 * i;

    if (3 * (uint64_t)i + 3 > l->n || decode_str(&x[0], function) || decode_str(&x[1], file) ||
        decode_u32(&x[2], UINT32_MAX, line))
        return WIRE_ECORRUPT;
    return 1;
}

int decode_u32_at(const struct wire_list *l, uint32_t i, uint32_t max, uint32_t *out)
{
    if (i >= l->n)
        return WIRE_ECORRUPT;
    return decode_u32(&wire_items(l)[i], max, out) == 0;
}
