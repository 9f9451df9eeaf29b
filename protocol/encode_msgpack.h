/*
 * encode_msgpack.h - the msgpack-c side of the encoder, kept out of
 * encode.h: for protocol/'s modules that define further messages with the
 * packer (scanmsg.c).
 */
#ifndef HEAPLINE_ENCODE_MSGPACK_H
#define HEAPLINE_ENCODE_MSGPACK_H

#include <msgpack.h>

#include "encode.h"

/* For modules that define further messages (scanmsg.c): encode_begin() starts
 * one message of n_elems elements, type included (its array header and type),
 * with pk writing into b, and returns the rollback mark; the caller packs the
 * other n_elems - 1 elements and ends with encode_finish(b, mark), which
 * returns 0 or WIRE_ENOSPACE with b as it was before encode_begin().
 * encode_str() packs s[0..n) truncated to WIRE_MAX_STRING, or nil for NULL. */
size_t encode_begin(struct encode_buf *b, msgpack_packer *pk, size_t n_elems, int type);
int encode_finish(struct encode_buf *b, size_t mark);
void encode_str(msgpack_packer *pk, const char *s, size_t n);

#endif
