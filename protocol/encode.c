/*
 * encode.c - msgpack encoding of heapline messages into caller-owned buffers.
 *
 * Invariant: a message is either appended whole or not at all. The packer's
 * callback refuses to pass the buffer's capacity and raises a flag; every
 * encoder checks the flag at the end and rolls the length back.
 */
#include "encode.h"
#include "encode_msgpack.h"

#include <msgpack.h>
#include <string.h>

static int encode_write(void *data, const char *buf, size_t len)
{
    struct encode_buf *b = data;

    if (b->overflow || len > b->cap - b->len) {
        b->overflow = 1;
        return -1;
    }
    memcpy(b->data + b->len, buf, len);
    b->len += len;
    return 0;
}

void encode_init(struct encode_buf *b, char *mem, size_t cap)
{
    b->data = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    encode_str(pk, s, s ? strlen(s) : 0);
}

void encode_str(msgpack_packer *pk, const char *s, size_t n)
{
    if (!s) {
        msgpack_pack_nil(pk);
        return;
    }
    if (n > WIRE_MAX_STRING)
        n = WIRE_MAX_STRING;
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

size_t encode_begin(struct encode_buf *b, msgpack_packer *pk, size_t n_elems, int type)
{
    size_t mark = b->len;

    b->overflow = 0;
    msgpack_packer_init(pk, b, encode_write);
    msgpack_pack_array(pk, n_elems);
    msgpack_pack_int(pk, type);
    return mark;
}

int encode_finish(struct encode_buf *b, size_t mark)
{
    if (b->overflow) {
        b->len = mark;
        b->overflow = 0;
        return WIRE_ENOSPACE;
    }
    return 0;
}

int encode_hello(struct encode_buf *b, uint32_t pid, const char *exe, int64_t start_unix_ns,
                 uint32_t page_size, uint32_t max_depth, uint32_t flags)
{
    return encode_hello_sampled(b, pid, exe, start_unix_ns, page_size, max_depth, flags, 0);
}

int encode_hello_sampled(struct encode_buf *b, uint32_t pid, const char *exe, int64_t start_unix_ns,
                         uint32_t page_size, uint32_t max_depth, uint32_t flags,
                         uint64_t sample_rate)
{
    msgpack_packer pk;
    /* exact streams stay as they were: the field only when sampling */
    size_t mark = encode_begin(b, &pk, sample_rate ? 9 : 8, WIRE_HELLO);

    msgpack_pack_uint32(&pk, WIRE_VERSION);
    msgpack_pack_uint32(&pk, pid);
    pack_str(&pk, exe);
    msgpack_pack_int64(&pk, start_unix_ns);
    msgpack_pack_uint32(&pk, page_size);
    msgpack_pack_uint32(&pk, max_depth);
    msgpack_pack_uint32(&pk, flags);
    if (sample_rate)
        msgpack_pack_uint64(&pk, sample_rate);
    return encode_finish(b, mark);
}

int encode_module(struct encode_buf *b, uint32_t id, const char *path, uint64_t base, uint64_t size,
                  const char *build_id)
{
    return encode_module_symbols(b, id, path, base, size, build_id, WIRE_SYMBOLS_UNKNOWN, NULL);
}

int encode_module_symbols(struct encode_buf *b, uint32_t id, const char *path, uint64_t base,
                          uint64_t size, const char *build_id, uint32_t symbols,
                          const char *debug_file)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 8, WIRE_MODULE);

    msgpack_pack_uint32(&pk, id);
    pack_str(&pk, path);
    msgpack_pack_uint64(&pk, base);
    msgpack_pack_uint64(&pk, size);
    pack_str(&pk, build_id);
    msgpack_pack_uint32(&pk, symbols);
    pack_str(&pk, debug_file);
    return encode_finish(b, mark);
}

int encode_frame(struct encode_buf *b, const struct wire_frame *f)
{
    msgpack_packer pk;
    uint32_t n_in = f->n_inlined > WIRE_MAX_INLINED ? WIRE_MAX_INLINED : f->n_inlined;
    size_t mark = encode_begin(b, &pk, 7, WIRE_FRAME);

    msgpack_pack_uint64(&pk, f->ip);
    msgpack_pack_uint32(&pk, f->module);
    pack_str(&pk, f->function);
    pack_str(&pk, f->file);
    msgpack_pack_uint32(&pk, f->line);
    msgpack_pack_array(&pk, (size_t)n_in * 3);
    for (uint32_t i = 0; i < n_in; i++) {
        pack_str(&pk, f->inlined[i].function);
        pack_str(&pk, f->inlined[i].file);
        msgpack_pack_uint32(&pk, f->inlined[i].line);
    }
    return encode_finish(b, mark);
}

/* STACK_STEPS when the nodes come in ascending ids with their parents below
 * them (as the collector sends them), else STACKS. */
int encode_stacks(struct encode_buf *b, const struct wire_stack_node *nodes, size_t n)
{
    msgpack_packer pk;
    size_t mark;
    int steps = 1;

    for (size_t i = 0; i < n && steps; i++)
        steps = nodes[i].parent < nodes[i].id && (i == 0 || nodes[i].id > nodes[i - 1].id);
    mark = encode_begin(b, &pk, 2, steps ? WIRE_STACK_STEPS : WIRE_STACKS);
    msgpack_pack_array(&pk, n * 3);
    for (size_t i = 0; i < n; i++) {
        if (steps) {
            uint32_t prev_id = i ? nodes[i - 1].id : 0;
            uint64_t prev_ip = i ? nodes[i - 1].ip : 0;

            msgpack_pack_uint32(&pk, nodes[i].id - prev_id);
            msgpack_pack_uint32(&pk, nodes[i].id - nodes[i].parent);
            msgpack_pack_int64(&pk, (int64_t)(nodes[i].ip - prev_ip));
        } else {
            msgpack_pack_uint32(&pk, nodes[i].id);
            msgpack_pack_uint32(&pk, nodes[i].parent);
            msgpack_pack_uint64(&pk, nodes[i].ip);
        }
    }
    return encode_finish(b, mark);
}

int encode_thread(struct encode_buf *b, uint32_t id, uint32_t os_tid, const char *name)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 4, WIRE_THREAD);

    msgpack_pack_uint32(&pk, id);
    msgpack_pack_uint32(&pk, os_tid);
    pack_str(&pk, name);
    return encode_finish(b, mark);
}

int encode_tag(struct encode_buf *b, uint32_t id, const char *name)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 3, WIRE_TAG);

    msgpack_pack_uint32(&pk, id);
    pack_str(&pk, name);
    return encode_finish(b, mark);
}

/* [type, time, text]: MARKER and NOTE. */
static int encode_timed_text(struct encode_buf *b, int type, int64_t time, const char *text)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 3, type);

    msgpack_pack_int64(&pk, time);
    pack_str(&pk, text);
    return encode_finish(b, mark);
}

int encode_marker(struct encode_buf *b, int64_t time, const char *label)
{
    return encode_timed_text(b, WIRE_MARKER, time, label);
}

static size_t op_items(int op)
{
    switch (op) {
    case WIRE_OP_ALLOC:
        return 4;
    case WIRE_OP_FREE:
        return 3;
    case WIRE_OP_REALLOC:
        return 5;
    default:
        return 2; /* THREAD, TAG */
    }
}

/* Whole microseconds from base to t, rounded down (also below base), so the
 * decoded times keep the events' order. */
static int64_t micros(int64_t t, int64_t base)
{
    int64_t d = t - base;

    return d >= 0 ? d / 1000 : -((999 - d) / 1000);
}

int encode_events(struct encode_buf *b, int64_t base_time, const struct wire_event *ev, size_t n)
{
    size_t items = 0;

    for (size_t i = 0; i < n; i++)
        items += op_items(ev[i].op);
    return encode_events_counted(b, base_time, ev, n, items);
}

/* Bytes msgpack takes for v (the packer picks the shortest form). */
static inline int packed_size(int64_t v)
{
    if (v >= 0)
        return v < 128 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v <= UINT32_MAX ? 5 : 9;
    return v >= -32 ? 1 : v >= -128 ? 2 : v >= -32768 ? 3 : v >= INT32_MIN ? 5 : 9;
}

/* The block freed, as step from the previously freed one (ref: that block's
 * back as of now) when that packs shorter than back (wire.h, enum wire_op):
 * sets *op to its _STEP form and returns the step, else returns back. */
static inline int64_t free_ref(uint64_t back, uint64_t ref, int *op)
{
    uint64_t d = (ref - back) & WIRE_SEQ_MASK;
    /* sign-extend the 40-bit difference */
    int64_t step = (int64_t)(d << (64 - WIRE_SEQ_BITS)) >> (64 - WIRE_SEQ_BITS);

    if (packed_size(step) >= packed_size((int64_t)back))
        return (int64_t)back;
    *op = *op == WIRE_OP_FREE ? WIRE_OP_FREE_STEP : WIRE_OP_REALLOC_STEP;
    return step;
}

/* msgpack's shortest form of u, as msgpack-c's packer writes it, at p
 * (room for 9 bytes); returns the end. */
static inline unsigned char *put_uint(unsigned char *p, uint64_t u)
{
    if (u < 128) {
        *p = (unsigned char)u;
        return p + 1;
    }
    if (u < 256) {
        p[0] = 0xcc;
        p[1] = (unsigned char)u;
        return p + 2;
    }
    if (u < 65536) {
        uint16_t v = __builtin_bswap16((uint16_t)u);

        p[0] = 0xcd;
        memcpy(p + 1, &v, 2);
        return p + 3;
    }
    if (u <= UINT32_MAX) {
        uint32_t v = __builtin_bswap32((uint32_t)u);

        p[0] = 0xce;
        memcpy(p + 1, &v, 4);
        return p + 5;
    }
    uint64_t v = __builtin_bswap64(u);

    p[0] = 0xcf;
    memcpy(p + 1, &v, 8);
    return p + 9;
}

/* The same for a signed d (msgpack-c: nonnegative values as unsigned). */
static inline unsigned char *put_int(unsigned char *p, int64_t d)
{
    if (d >= -32) {
        if (d < 128) {
            *p = (unsigned char)d;
            return p + 1;
        }
        return put_uint(p, (uint64_t)d);
    }
    if (d >= -128) {
        p[0] = 0xd0;
        p[1] = (unsigned char)d;
        return p + 2;
    }
    if (d >= -32768) {
        uint16_t v = __builtin_bswap16((uint16_t)d);

        p[0] = 0xd1;
        memcpy(p + 1, &v, 2);
        return p + 3;
    }
    if (d >= INT32_MIN) {
        uint32_t v = __builtin_bswap32((uint32_t)d);

        p[0] = 0xd2;
        memcpy(p + 1, &v, 4);
        return p + 5;
    }
    uint64_t v = __builtin_bswap64((uint64_t)d);

    p[0] = 0xd3;
    memcpy(p + 1, &v, 8);
    return p + 9;
}

/* The most bytes one event takes: REALLOC's op, time, stack, size, back. */
#define EVENT_MAX_BYTES (1 + 9 + 5 + 9 + 9)

/* The events' elements, each as msgpack-c's packer would write it: written
 * straight into the buffer while an event's most bytes fit (one check an
 * event, where the packer checked every element: the batch encoder was the
 * collector thread's largest item on churn, 15 ns an event), else through
 * the packer (which raises the overflow flag where it runs out). */
int encode_events_counted(struct encode_buf *b, int64_t base_time, const struct wire_event *ev,
                          size_t n, size_t items)
{
    msgpack_packer pk;
    int64_t us = 0;   /* the previous event's time, microseconds from base_time */
    uint64_t ref = 0; /* the back, as of now, of the block freed last (wire.h) */
    size_t mark;

    mark = encode_begin(b, &pk, 3, WIRE_EVENTS);
    msgpack_pack_int64(&pk, base_time);
    msgpack_pack_array(&pk, items);
    /* out: where the next event goes, b->len kept there only around the
     * packer (stores through out may alias b's fields) */
    unsigned char *out = (unsigned char *)b->data + b->len;
    const unsigned char *room = b->cap - b->len >= EVENT_MAX_BYTES
                                    ? (unsigned char *)b->data + b->cap - EVENT_MAX_BYTES
                                    : NULL;
    for (size_t i = 0; i < n && !b->overflow; i++) {
        const struct wire_event *e = &ev[i];
        int op = e->op;
        int real = op == WIRE_OP_ALLOC || op == WIRE_OP_FREE || op == WIRE_OP_REALLOC;
        int64_t t = 0, freed = 0;

        if (real) {
            if (e->op != WIRE_OP_ALLOC) {
                uint64_t back = e->back & WIRE_SEQ_MASK;

                freed = free_ref(back, ref, &op);
                ref = back;
            }
            t = micros(e->time, base_time);
            if (e->op != WIRE_OP_FREE)
                ref = (ref + 1) & WIRE_SEQ_MASK; /* the event's own allocation */
        }
        if (room && out <= room) {
            out = put_int(out, op);
            if (!real) {
                out = put_uint(out, e->id);
            } else {
                out = put_int(out, t - us);
                if (e->op != WIRE_OP_FREE) {
                    out = put_uint(out, e->stack);
                    out = put_uint(out, e->size);
                }
                if (e->op != WIRE_OP_ALLOC)
                    out = put_int(out, freed);
            }
        } else {
            b->len = (size_t)(out - (unsigned char *)b->data);
            msgpack_pack_int(&pk, op);
            if (!real) {
                msgpack_pack_uint32(&pk, e->id);
            } else {
                msgpack_pack_int64(&pk, t - us);
                if (e->op != WIRE_OP_FREE) {
                    msgpack_pack_uint32(&pk, e->stack);
                    msgpack_pack_uint64(&pk, e->size);
                }
                if (e->op != WIRE_OP_ALLOC)
                    msgpack_pack_int64(&pk, freed);
            }
            out = (unsigned char *)b->data + b->len;
        }
        if (real)
            us = t;
    }
    b->len = (size_t)(out - (unsigned char *)b->data);
    return encode_finish(b, mark);
}

/* TICK: 9 elements; SNAPSHOT: 10, the last the allocation sequence number. */
static int encode_state(struct encode_buf *b, int type, const struct wire_totals *t,
                        const struct wire_site *d, size_t n, uint64_t seq)
{
    msgpack_packer pk;
    int peak = t->peak_bytes != 0;
    size_t mark = encode_begin(b, &pk, (type == WIRE_SNAPSHOT ? 10 : 9) + (peak ? 2 : 0), type);

    msgpack_pack_int64(&pk, t->time);
    msgpack_pack_uint64(&pk, t->heap_bytes);
    msgpack_pack_uint64(&pk, t->heap_blocks);
    msgpack_pack_uint64(&pk, t->rss);
    msgpack_pack_uint64(&pk, t->allocations);
    msgpack_pack_uint64(&pk, t->frees);
    msgpack_pack_uint64(&pk, t->bytes_allocated);
    msgpack_pack_array(&pk, n * 5);
    for (size_t i = 0; i < n && !b->overflow; i++) {
        msgpack_pack_uint32(&pk, d[i].stack);
        msgpack_pack_int64(&pk, d[i].live_bytes);
        msgpack_pack_int64(&pk, d[i].live_blocks);
        msgpack_pack_uint64(&pk, d[i].allocations);
        msgpack_pack_uint64(&pk, d[i].bytes_allocated);
    }
    if (type == WIRE_SNAPSHOT)
        msgpack_pack_uint64(&pk, seq & WIRE_SEQ_MASK);
    if (peak) {
        msgpack_pack_uint64(&pk, t->peak_bytes);
        msgpack_pack_int64(&pk, t->peak_time);
    }
    return encode_finish(b, mark);
}

int encode_tick(struct encode_buf *b, const struct wire_totals *t, const struct wire_site *d,
                size_t n)
{
    return encode_state(b, WIRE_TICK, t, d, n, 0);
}

int encode_snapshot(struct encode_buf *b, const struct wire_totals *t, const struct wire_site *s,
                    size_t n, uint64_t seq)
{
    return encode_state(b, WIRE_SNAPSHOT, t, s, n, seq);
}

int encode_history(struct encode_buf *b, const struct wire_history_row *rows, size_t n)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 2, WIRE_HISTORY);

    msgpack_pack_array(&pk, n * 4);
    for (size_t i = 0; i < n && !b->overflow; i++) {
        msgpack_pack_int64(&pk, rows[i].time);
        msgpack_pack_uint64(&pk, rows[i].heap_bytes);
        msgpack_pack_uint64(&pk, rows[i].heap_blocks);
        msgpack_pack_uint64(&pk, rows[i].rss);
    }
    return encode_finish(b, mark);
}

int encode_missed(struct encode_buf *b, uint64_t missed)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 2, WIRE_MISSED);

    msgpack_pack_uint64(&pk, missed);
    return encode_finish(b, mark);
}

int encode_end(struct encode_buf *b, int64_t time, uint32_t reason, int32_t status)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 4, WIRE_END);

    msgpack_pack_int64(&pk, time);
    msgpack_pack_uint32(&pk, reason);
    msgpack_pack_int32(&pk, status);
    return encode_finish(b, mark);
}

int encode_disabled(struct encode_buf *b, int64_t time, const char *reason, uint32_t cause)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 4, WIRE_DISABLED);

    msgpack_pack_int64(&pk, time);
    pack_str(&pk, reason);
    msgpack_pack_uint32(&pk, cause);
    return encode_finish(b, mark);
}

int encode_note(struct encode_buf *b, int64_t time, const char *text)
{
    return encode_timed_text(b, WIRE_NOTE, time, text);
}

int encode_req_objects(struct encode_buf *b, uint32_t req_id, const uint32_t *stacks, size_t n,
                       uint32_t max)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 5, WIRE_REQUEST);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int(&pk, WIRE_REQ_OBJECTS);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n && !b->overflow; i++)
        msgpack_pack_uint32(&pk, stacks[i]);
    msgpack_pack_uint32(&pk, max);
    return encode_finish(b, mark);
}

int encode_req_read(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint32_t len)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 5, WIRE_REQUEST);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int(&pk, WIRE_REQ_READ);
    msgpack_pack_uint64(&pk, addr);
    msgpack_pack_uint32(&pk, len);
    return encode_finish(b, mark);
}

int encode_req_scan(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint32_t max_depth,
                    uint32_t max_fanout)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 6, WIRE_REQUEST);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int(&pk, WIRE_REQ_SCAN);
    msgpack_pack_uint64(&pk, addr);
    msgpack_pack_uint32(&pk, max_depth);
    msgpack_pack_uint32(&pk, max_fanout);
    return encode_finish(b, mark);
}

int encode_resp_error(struct encode_buf *b, uint32_t req_id, int32_t status, const char *msg)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 4, WIRE_RESPONSE);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int32(&pk, status);
    pack_str(&pk, msg);
    return encode_finish(b, mark);
}

int encode_resp_objects(struct encode_buf *b, uint32_t req_id, const struct wire_object *o,
                        size_t n, uint64_t total)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 6, WIRE_RESPONSE);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int32(&pk, 0);
    msgpack_pack_int(&pk, WIRE_REQ_OBJECTS);
    msgpack_pack_uint64(&pk, total);
    msgpack_pack_array(&pk, n * 7);
    for (size_t i = 0; i < n && !b->overflow; i++) {
        msgpack_pack_uint64(&pk, o[i].addr);
        msgpack_pack_uint64(&pk, o[i].size);
        msgpack_pack_uint32(&pk, o[i].stack);
        msgpack_pack_int64(&pk, o[i].time);
        msgpack_pack_uint32(&pk, o[i].thread);
        msgpack_pack_uint32(&pk, o[i].tag);
        msgpack_pack_uint64(&pk, o[i].seq & WIRE_SEQ_MASK);
    }
    return encode_finish(b, mark);
}

int encode_resp_read(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint64_t size,
                     const void *bytes, uint32_t len)
{
    msgpack_packer pk;
    size_t mark = encode_begin(b, &pk, 7, WIRE_RESPONSE);

    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int32(&pk, 0);
    msgpack_pack_int(&pk, WIRE_REQ_READ);
    msgpack_pack_uint64(&pk, addr);
    msgpack_pack_uint64(&pk, size);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, bytes, len);
    return encode_finish(b, mark);
}
