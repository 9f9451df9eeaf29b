/*
 * responses.h - the collector's answers (RESPONSE) to the requests a client
 * sent (REQ_OBJECTS, REQ_READ, REQ_SCAN), kept per request id.
 *
 * Each answer is an owned copy of the wire message (objects, bytes, message,
 * the scan result through scanmsg_copy()), so it outlives the stream's
 * buffers, and several requests can be in flight at once: a view asks for
 * its own id and never sees another view's answer. The table keeps the last
 * RESPONSES_KEEP answers; an older one is dropped when a new one comes.
 *
 * Not thread-safe: one owner (the source that sends the requests). No I/O.
 */
#ifndef HEAPLINE_RESPONSES_H
#define HEAPLINE_RESPONSES_H

#include <stdint.h>

#include "model.h"

struct wire_msg;
struct scanmsg_result;
struct responses;

#define RESPONSES_KEEP 16u

struct response {
    uint32_t id;
    int32_t status;      /* 0: the request was answered; else message says why not */
    uint32_t kind;       /* enum wire_req */
    const char *message; /* "" when none */
    uint64_t addr, size, total;
    const unsigned char *bytes; /* READ: n_bytes of memory */
    uint32_t n_bytes;
    const struct model_object *objects; /* OBJECTS: n_objects of total */
    uint32_t n_objects;
    const struct scanmsg_result *scan; /* SCAN with status 0 (NULL when the result
                                        * did not decode) */
};

/* Returns an empty table, or NULL when out of memory. */
struct responses *responses_new(void);
void responses_free(struct responses *rs);

/*
 * Keeps a copy of a RESPONSE (other messages are ignored: returns 0).
 * Returns 0, or WIRE_ENOMEM, or WIRE_ECORRUPT when its object list is
 * corrupt (then nothing is kept for its id).
 */
int responses_keep(struct responses *rs, const struct wire_msg *msg);

/* The answer to request id, NULL while it has not come (or was dropped).
 * Valid until responses_drop() of the id, the next responses_keep() that
 * pushes it out, or responses_free(). */
const struct response *responses_get(const struct responses *rs, uint32_t id);

/* Forgets the answer to id (a view that took it). */
void responses_drop(struct responses *rs, uint32_t id);

#endif
