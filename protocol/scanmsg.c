/*
 * scanmsg.c - encoding and hostile-input decoding of backreference results.
 *
 * Invariant: scanmsg_decode() accepts a result only if every node is well
 * formed and points to an earlier node, so a reader walking `to` from any
 * node always terminates at node 0 without further checks.
 */
#include "scanmsg.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "decode_msgpack.h"
#include "encode_msgpack.h"

static void pack_wstr(msgpack_packer *pk, struct wire_str s)
{
    encode_str(pk, s.ptr, s.len);
}

int scanmsg_encode(struct encode_buf *b, uint32_t req_id, const struct scanmsg_result *r,
                   const struct scanmsg_node *nodes, size_t n)
{
    msgpack_packer pk;
    size_t mark, live = 0, untracked = 0, pymalloc = 0;

    if (n > SCANMSG_MAX_NODES)
        n = SCANMSG_MAX_NODES;
    if (r->n_enc_rows > SCANMSG_MAX_ROWS)
        return WIRE_ETOOBIG;
    mark = encode_begin(b, &pk, 20, WIRE_RESPONSE);
    msgpack_pack_uint32(&pk, req_id);
    msgpack_pack_int32(&pk, 0);
    msgpack_pack_int(&pk, WIRE_REQ_SCAN);
    msgpack_pack_uint64(&pk, r->target);
    msgpack_pack_uint32(&pk, r->flags);
    msgpack_pack_uint32(&pk, r->levels);
    msgpack_pack_uint64(&pk, r->duration_ns);
    msgpack_pack_uint64(&pk, r->bytes_scanned);
    msgpack_pack_uint64(&pk, r->pause_ns);
    msgpack_pack_uint64(&pk, r->n_blocks);
    msgpack_pack_uint64(&pk, r->heap_bytes);
    msgpack_pack_array(&pk, n * SCANMSG_NODE_ITEMS);
    for (size_t i = 0; i < n && !b->overflow; i++) {
        const struct scanmsg_node *nd = &nodes[i];
        msgpack_pack_uint32(&pk, nd->kind);
        msgpack_pack_uint64(&pk, nd->addr);
        msgpack_pack_uint64(&pk, nd->size);
        msgpack_pack_uint64(&pk, nd->offset);
        msgpack_pack_uint32(&pk, nd->to);
        msgpack_pack_uint64(&pk, nd->interior);
        msgpack_pack_uint32(&pk, nd->id);
        msgpack_pack_int64(&pk, nd->inbound);
        msgpack_pack_uint32(&pk, nd->level);
        pack_wstr(&pk, nd->symbol);
        pack_wstr(&pk, nd->module);
        msgpack_pack_uint64(&pk, nd->module_offset);
    }
    msgpack_pack_uint64(&pk, r->prep_ns);
    msgpack_pack_uint64(&pk, r->chain_ns);
    for (size_t i = 0; i < n; i++)
        live += nodes[i].kind == SCANMSG_STACK && nodes[i].live_frame;
    msgpack_pack_array(&pk, live);
    for (size_t i = 0; i < n; i++)
        if (nodes[i].kind == SCANMSG_STACK && nodes[i].live_frame)
            msgpack_pack_uint32(&pk, (uint32_t)i);
    msgpack_pack_array(&pk, r->flags & SCANMSG_PYTHON ? n * SCANMSG_PY_ITEMS : 0);
    for (size_t i = 0; (r->flags & SCANMSG_PYTHON) && i < n && !b->overflow; i++) {
        msgpack_pack_uint32(&pk, nodes[i].py_flags);
        pack_wstr(&pk, nodes[i].py_type);
        pack_wstr(&pk, nodes[i].py_via);
        pack_wstr(&pk, nodes[i].py_owner);
    }
    msgpack_pack_array(&pk, r->n_enc_rows * SCANMSG_ROW_ITEMS);
    for (size_t i = 0; i < r->n_enc_rows && !b->overflow; i++) {
        pack_wstr(&pk, r->enc_rows[i].name);
        msgpack_pack_uint64(&pk, r->enc_rows[i].count);
        msgpack_pack_uint64(&pk, r->enc_rows[i].bytes);
        msgpack_pack_uint64(&pk, r->enc_rows[i].oldest);
    }
    for (size_t i = 0; i < n; i++)
        untracked += nodes[i].kind == SCANMSG_HEAP && nodes[i].untracked;
    msgpack_pack_array(&pk, untracked);
    for (size_t i = 0; i < n; i++)
        if (nodes[i].kind == SCANMSG_HEAP && nodes[i].untracked)
            msgpack_pack_uint32(&pk, (uint32_t)i);
    for (size_t i = 0; i < n; i++)
        pymalloc += nodes[i].kind == SCANMSG_HEAP && nodes[i].pymalloc;
    msgpack_pack_array(&pk, pymalloc);
    for (size_t i = 0; i < n; i++)
        if (nodes[i].kind == SCANMSG_HEAP && nodes[i].pymalloc)
            msgpack_pack_uint32(&pk, (uint32_t)i);
    return encode_finish(b, mark);
}

/* ---- decoding: every field checked ---- */

static int node_read(const msgpack_object *e, uint32_t index, struct scanmsg_node *nd)
{
    if (decode_u32(&e[0], SCANMSG_STACK, &nd->kind) || nd->kind < SCANMSG_HEAP ||
        decode_u64(&e[1], &nd->addr) || decode_u64(&e[2], &nd->size) ||
        decode_u64(&e[3], &nd->offset) || decode_u32(&e[4], UINT32_MAX, &nd->to) ||
        decode_u64(&e[5], &nd->interior) || decode_u32(&e[6], UINT32_MAX, &nd->id) ||
        decode_i64(&e[7], &nd->inbound) || decode_u32(&e[8], UINT32_MAX, &nd->level) ||
        decode_str(&e[9], &nd->symbol) || decode_str(&e[10], &nd->module) ||
        decode_u64(&e[11], &nd->module_offset))
        return WIRE_ECORRUPT;
    if (index == 0 ? (nd->to != 0 || nd->kind != SCANMSG_HEAP) : nd->to >= index)
        return WIRE_ECORRUPT;
    if (nd->inbound < -1)
        return WIRE_ECORRUPT;
    return 0;
}

int scanmsg_decode(const struct wire_msg *m, struct scanmsg_result *r)
{
    memset(r, 0, sizeof(*r));
    if (m->type != WIRE_RESPONSE || m->u.response.status != 0 ||
        m->u.response.kind != WIRE_REQ_SCAN)
        return WIRE_ECORRUPT;
    return scanmsg_decode_object(m->u.response.raw, r);
}

int scanmsg_decode_bytes(const char *buf, size_t len, msgpack_zone *zone, struct scanmsg_result *r)
{
    struct wire_msg m;
    msgpack_object obj;
    size_t used = 0, off = 0;
    int rc;

    memset(r, 0, sizeof(*r));
    rc = decode_one(buf, len, zone, &m, &used);
    if (rc != 1)
        return rc < 0 ? rc : WIRE_ECORRUPT;
    if (m.type != WIRE_RESPONSE || m.u.response.status != 0 || m.u.response.kind != WIRE_REQ_SCAN)
        return WIRE_ECORRUPT;
    /* walked and parsed above: unpacking the same bytes again is bounded */
    if (msgpack_unpack(buf, used, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS || off != used)
        return WIRE_ECORRUPT;
    return scanmsg_decode_object(&obj, r);
}

int scanmsg_decode_object(const msgpack_object *raw, struct scanmsg_result *r)
{
    const msgpack_object *e;
    uint32_t n, kind;
    struct scanmsg_node nd;

    memset(r, 0, sizeof(*r));
    if (!raw || raw->type != MSGPACK_OBJECT_ARRAY || raw->via.array.size < 13)
        return WIRE_ECORRUPT;
    e = raw->via.array.ptr;
    if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || e[0].via.u64 != WIRE_RESPONSE ||
        e[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || e[2].via.u64 != 0 ||
        decode_u32(&e[3], UINT32_MAX, &kind) || kind != WIRE_REQ_SCAN)
        return WIRE_ECORRUPT;
    if (decode_u64(&e[4], &r->target) || decode_u32(&e[5], UINT32_MAX, &r->flags) ||
        decode_u32(&e[6], UINT32_MAX, &r->levels) || decode_u64(&e[7], &r->duration_ns) ||
        decode_u64(&e[8], &r->bytes_scanned) || decode_u64(&e[9], &r->pause_ns) ||
        decode_u64(&e[10], &r->n_blocks) || decode_u64(&e[11], &r->heap_bytes))
        return WIRE_ECORRUPT;
    if (e[12].type != MSGPACK_OBJECT_ARRAY || e[12].via.array.size % SCANMSG_NODE_ITEMS != 0)
        return WIRE_ECORRUPT;
    n = e[12].via.array.size / SCANMSG_NODE_ITEMS;
    if (n > SCANMSG_MAX_NODES)
        return WIRE_ETOOBIG;
    if (n == 0)
        return WIRE_ECORRUPT; /* node 0, the target, is always there */
    r->nodes.items = e[12].via.array.ptr;
    r->nodes.n = e[12].via.array.size;
    if (raw->via.array.size >= 15 &&
        (decode_u64(&e[13], &r->prep_ns) || decode_u64(&e[14], &r->chain_ns)))
        return WIRE_ECORRUPT;
    if (raw->via.array.size >= 16) { /* absent from older collectors: nothing known live */
        uint32_t idx;
        if (e[15].type != MSGPACK_OBJECT_ARRAY || e[15].via.array.size > n)
            goto corrupt;
        for (uint32_t i = 0; i < e[15].via.array.size; i++)
            if (decode_u32(&e[15].via.array.ptr[i], n - 1, &idx))
                goto corrupt;
        r->live.items = e[15].via.array.ptr;
        r->live.n = e[15].via.array.size;
    }
    if (raw->via.array.size >= 17) { /* Python names: none, or one 4-tuple a node */
        const msgpack_object *py = &e[16];
        struct wire_str str;
        uint32_t f;
        if (py->type != MSGPACK_OBJECT_ARRAY ||
            (py->via.array.size != 0 && py->via.array.size != n * SCANMSG_PY_ITEMS))
            goto corrupt;
        for (uint32_t i = 0; i < py->via.array.size; i += SCANMSG_PY_ITEMS)
            if (decode_u32(&py->via.array.ptr[i], SCANMSG_PY_FLAGS, &f) ||
                decode_str(&py->via.array.ptr[i + 1], &str) ||
                decode_str(&py->via.array.ptr[i + 2], &str) ||
                decode_str(&py->via.array.ptr[i + 3], &str))
                goto corrupt;
        r->py.items = py->via.array.ptr;
        r->py.n = py->via.array.size;
    }
    if (raw->via.array.size >= 18) { /* census rows */
        const msgpack_object *rows = &e[17];
        struct scanmsg_row row;
        if (rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size % SCANMSG_ROW_ITEMS ||
            rows->via.array.size / SCANMSG_ROW_ITEMS > SCANMSG_MAX_ROWS)
            goto corrupt;
        r->rows.items = rows->via.array.ptr;
        r->rows.n = rows->via.array.size;
        for (uint32_t i = 0; i < scanmsg_row_count(r); i++)
            if (scanmsg_row_at(r, i, &row))
                goto corrupt;
    }
    if (raw->via.array.size >= 19) { /* absent from older collectors: every block tracked */
        uint32_t idx;
        if (e[18].type != MSGPACK_OBJECT_ARRAY || e[18].via.array.size > n)
            goto corrupt;
        for (uint32_t i = 0; i < e[18].via.array.size; i++)
            if (decode_u32(&e[18].via.array.ptr[i], n - 1, &idx))
                goto corrupt;
        r->untracked.items = e[18].via.array.ptr;
        r->untracked.n = e[18].via.array.size;
    }
    if (raw->via.array.size >= 20) { /* absent from older collectors: no pymalloc blocks */
        uint32_t idx;
        if (e[19].type != MSGPACK_OBJECT_ARRAY || e[19].via.array.size > n)
            goto corrupt;
        for (uint32_t i = 0; i < e[19].via.array.size; i++)
            if (decode_u32(&e[19].via.array.ptr[i], n - 1, &idx))
                goto corrupt;
        r->pymalloc.items = e[19].via.array.ptr;
        r->pymalloc.n = e[19].via.array.size;
    }
    for (uint32_t i = 0; i < n; i++)
        if (node_read(&wire_items(&r->nodes)[i * SCANMSG_NODE_ITEMS], i, &nd))
            goto corrupt;
    return 0;
corrupt:
    memset(r, 0, sizeof(*r));
    return WIRE_ECORRUPT;
}

int scanmsg_node_at(const struct scanmsg_result *r, uint32_t i, struct scanmsg_node *node)
{
    int rc;

    if (i >= scanmsg_count(r))
        return WIRE_ECORRUPT;
    rc = node_read(&wire_items(&r->nodes)[i * SCANMSG_NODE_ITEMS], i, node);
    node->live_frame = 0;
    node->untracked = 0;
    node->pymalloc = 0;
    node->py_flags = 0;
    memset(&node->py_type, 0, sizeof(node->py_type));
    node->py_via = node->py_owner = node->py_type;
    if (rc == 0 && r->py.n) { /* checked by the decoder: one 4-tuple a node */
        const msgpack_object *p = &wire_items(&r->py)[i * SCANMSG_PY_ITEMS];
        if (decode_u32(&p[0], SCANMSG_PY_FLAGS, &node->py_flags) ||
            decode_str(&p[1], &node->py_type) || decode_str(&p[2], &node->py_via) ||
            decode_str(&p[3], &node->py_owner))
            return WIRE_ECORRUPT;
    }
    for (uint32_t k = 0; rc == 0 && k < r->live.n; k++)
        if (wire_items(&r->live)[k].via.u64 == i) /* checked by the decoder: u32 < count */
            node->live_frame = node->kind == SCANMSG_STACK;
    for (uint32_t k = 0; rc == 0 && k < r->untracked.n; k++)
        if (wire_items(&r->untracked)[k].via.u64 == i) /* checked by the decoder */
            node->untracked = node->kind == SCANMSG_HEAP;
    for (uint32_t k = 0; rc == 0 && k < r->pymalloc.n; k++)
        if (wire_items(&r->pymalloc)[k].via.u64 == i) /* checked by the decoder */
            node->pymalloc = node->kind == SCANMSG_HEAP;
    return rc;
}

int scanmsg_row_at(const struct scanmsg_result *r, uint32_t i, struct scanmsg_row *row)
{
    const msgpack_object *e;

    if (i >= scanmsg_row_count(r))
        return WIRE_ECORRUPT;
    e = &wire_items(&r->rows)[i * SCANMSG_ROW_ITEMS];
    if (decode_str(&e[0], &row->name) || !row->name.ptr || decode_u64(&e[1], &row->count) ||
        decode_u64(&e[2], &row->bytes) || decode_u64(&e[3], &row->oldest))
        return WIRE_ECORRUPT;
    return 0;
}

/* ---- owned copies ------------------------------------------------------ */

/* The room a list's objects and their bytes take (lists of a decoded result
 * hold scalars and strings only: node, py, row, live, untracked and pymalloc
 * items). */
static void copy_size(const struct wire_list *l, size_t *objs, size_t *bytes)
{
    const msgpack_object *o = wire_items(l);

    *objs += (size_t)l->n * sizeof(*o);
    for (uint32_t i = 0; i < l->n; i++)
        if (o[i].type == MSGPACK_OBJECT_STR || o[i].type == MSGPACK_OBJECT_BIN)
            *bytes += o[i].via.str.size;
}

/* Copies a list into *objs (objects) and *bytes (string bytes), advancing
 * both; the copy's strings point into *bytes. */
static void copy_list(struct wire_list *l, msgpack_object **objs, char **bytes)
{
    msgpack_object *to = *objs;
    const msgpack_object *from = wire_items(l);

    if (!l->n) {
        l->items = NULL;
        return;
    }
    memcpy(to, from, (size_t)l->n * sizeof(*to));
    for (uint32_t i = 0; i < l->n; i++) {
        if (to[i].type != MSGPACK_OBJECT_STR && to[i].type != MSGPACK_OBJECT_BIN)
            continue;
        /* str and bin share their layout in msgpack_object */
        if (to[i].via.str.size)
            memcpy(*bytes, to[i].via.str.ptr, to[i].via.str.size);
        to[i].via.str.ptr = *bytes;
        *bytes += to[i].via.str.size;
    }
    l->items = to;
    *objs += l->n;
}

struct scanmsg_result *scanmsg_copy(const struct scanmsg_result *r)
{
    size_t objs = 0, bytes = 0, head = (sizeof(*r) + 15) & ~(size_t)15;
    const struct wire_list *lists[] = {&r->nodes, &r->live,      &r->py,
                                       &r->rows,  &r->untracked, &r->pymalloc};
    struct scanmsg_result *c;
    msgpack_object *o;
    char *b;

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
        copy_size(lists[i], &objs, &bytes);
    c = malloc(head + objs + bytes + 1);
    if (!c)
        return NULL;
    *c = *r;
    c->enc_rows = NULL;
    c->n_enc_rows = 0;
    o = (msgpack_object *)((char *)c + head);
    b = (char *)o + objs;
    copy_list(&c->nodes, &o, &b);
    copy_list(&c->live, &o, &b);
    copy_list(&c->py, &o, &b);
    copy_list(&c->rows, &o, &b);
    copy_list(&c->untracked, &o, &b);
    copy_list(&c->pymalloc, &o, &b);
    return c;
}
