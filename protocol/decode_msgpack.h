/*
 * decode_msgpack.h - the msgpack-c side of the decoder, kept out of
 * decode.h: decoding into a zone of the caller's, the field readers that
 * validate one msgpack object, and the raw objects behind a wire_list.
 *
 * For protocol/'s own modules (scanmsg.c), tests, fuzzers and tools that
 * walk raw bytes. A client reads decoded messages through decode.h.
 */
#ifndef HEAPLINE_DECODE_MSGPACK_H
#define HEAPLINE_DECODE_MSGPACK_H

#include <msgpack.h>

#include "decode.h"
#include "scanmsg.h"

/* The objects of a list (l->n of them). */
static inline const msgpack_object *wire_items(const struct wire_list *l)
{
    return (const msgpack_object *)l->items;
}

/* Decodes one message from buf[0..len) without a decoder (used by tests and
 * fuzzers). *used is set to the bytes the message took. Strings and lists
 * point into buf and zone (cleared first). */
int decode_one(const char *buf, size_t len, msgpack_zone *zone, struct wire_msg *m, size_t *used);

/* Field readers for modules that decode further payloads (scanmsg.c). Each
 * returns 0 with *out set, or WIRE_ECORRUPT when o is not of the type or is
 * beyond the bound; strings accept nil and at most WIRE_MAX_STRING bytes, lists
 * must hold a multiple of k items. */
int decode_i64(const msgpack_object *o, int64_t *out);
int decode_u64(const msgpack_object *o, uint64_t *out);
int decode_u32(const msgpack_object *o, uint32_t max, uint32_t *out);
int decode_s32(const msgpack_object *o, int32_t *out);
int decode_str(const msgpack_object *o, struct wire_str *s);
int decode_list(const msgpack_object *o, uint32_t k, struct wire_list *l);

/* scanmsg_decode() from the whole message object (the RESPONSE array). */
int scanmsg_decode_object(const msgpack_object *raw, struct scanmsg_result *r);

/* The same from bytes: buf[0..len) must start with the RESPONSE message (any
 * bytes: they are bounds-walked by decode_one() before msgpack-c sees them).
 * The result points into zone. Returns 0, WIRE_ENEEDMORE, or an error. Use it
 * where response.raw is not available; scanmsg_copy() makes it outlive the
 * zone. */
int scanmsg_decode_bytes(const char *buf, size_t len, msgpack_zone *zone, struct scanmsg_result *r);

#endif
