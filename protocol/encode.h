/*
 * encode.h - packs heapline messages into a buffer the caller owns.
 *
 * Nothing here allocates or blocks, so the collector may call it from any
 * thread it owns (never from a signal handler: msgpack-c is not audited for
 * that). Every encode_* appends exactly one message or nothing: on
 * WIRE_ENOSPACE the buffer is left as it was. No msgpack-c type appears
 * here (the packer is encode_msgpack.h's).
 */
#ifndef HEAPLINE_ENCODE_H
#define HEAPLINE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct encode_buf {
    char *data;
    size_t len;
    size_t cap;
    int overflow; /* set by the packer callback when data would pass cap */
};

/* One allocation event as the collector sees it (absolute time). The
 * encoder is stateless: the caller numbers the allocations and fills back
 * (wire.h, "Compactness"). */
struct wire_event {
    uint8_t op;     /* enum wire_op */
    uint32_t stack; /* ALLOC, REALLOC */
    uint32_t id;    /* THREAD: thread id; TAG: tag id */
    int64_t time;   /* ALLOC, FREE, REALLOC: nanoseconds (sent as microseconds) */
    uint64_t size;  /* ALLOC, REALLOC */
    uint64_t back;  /* FREE: the block; REALLOC: the old block (< 2^WIRE_SEQ_BITS) */
};

struct wire_stack_node {
    uint32_t id;
    uint32_t parent;
    uint64_t ip;
};

/* Heap totals carried by TICK and SNAPSHOT. */
struct wire_totals {
    int64_t time;
    uint64_t heap_bytes;
    uint64_t heap_blocks;
    uint64_t rss;
    uint64_t allocations;
    uint64_t frees;
    uint64_t bytes_allocated;
    /* The exact peak so far (per event) and its time: trailing fields, sent
     * when peak_bytes != 0 (a reader of an older stream gets 0). */
    uint64_t peak_bytes;
    int64_t peak_time;
};

/* Per-stack figures: deltas in TICK, absolute values in SNAPSHOT. */
struct wire_site {
    uint32_t stack;
    int64_t live_bytes;
    int64_t live_blocks;
    uint64_t allocations;
    uint64_t bytes_allocated;
};

struct wire_inline {
    const char *function;
    const char *file;
    uint32_t line;
};

struct wire_frame {
    uint64_t ip;
    uint32_t module;
    const char *function; /* may be NULL: unknown */
    const char *file;     /* may be NULL */
    uint32_t line;
    const struct wire_inline *inlined; /* outermost last; may be NULL */
    uint32_t n_inlined;
};

struct wire_history_row {
    int64_t time;
    uint64_t heap_bytes;
    uint64_t heap_blocks;
    uint64_t rss;
};

/* Points b at mem[0..cap). */
void encode_init(struct encode_buf *b, char *mem, size_t cap);

/* Each returns 0 or WIRE_ENOSPACE (buffer unchanged). Strings longer than
 * WIRE_MAX_STRING are truncated; NULL strings are encoded as nil. */
int encode_hello(struct encode_buf *b, uint32_t pid, const char *exe, int64_t start_unix_ns,
                 uint32_t page_size, uint32_t max_depth, uint32_t flags);
/* HELLO with its trailing sample_rate (wire.h); encode_hello() is sample_rate 0. */
int encode_hello_sampled(struct encode_buf *b, uint32_t pid, const char *exe, int64_t start_unix_ns,
                         uint32_t page_size, uint32_t max_depth, uint32_t flags,
                         uint64_t sample_rate);
int encode_module(struct encode_buf *b, uint32_t id, const char *path, uint64_t base, uint64_t size,
                  const char *build_id);
/* MODULE with where its names come from: symbols is enum wire_symbols,
 * debug_file the separate debug file read (NULL: none). encode_module() is
 * this with WIRE_SYMBOLS_UNKNOWN. */
int encode_module_symbols(struct encode_buf *b, uint32_t id, const char *path, uint64_t base,
                          uint64_t size, const char *build_id, uint32_t symbols,
                          const char *debug_file);
int encode_frame(struct encode_buf *b, const struct wire_frame *f);
int encode_stacks(struct encode_buf *b, const struct wire_stack_node *nodes, size_t n);
int encode_thread(struct encode_buf *b, uint32_t id, uint32_t os_tid, const char *name);
int encode_tag(struct encode_buf *b, uint32_t id, const char *name);
int encode_marker(struct encode_buf *b, int64_t time, const char *label);
int encode_events(struct encode_buf *b, int64_t base_time, const struct wire_event *ev, size_t n);
/* encode_events() given the msgpack item count of the events, kept by a
 * caller that builds the batch: ALLOC 4, FREE 3, REALLOC 5, else 2 (THREAD,
 * TAG) - encode_events_items(). Saves a pass over a large batch. */
int encode_events_counted(struct encode_buf *b, int64_t base_time, const struct wire_event *ev,
                          size_t n, size_t items);
static inline size_t encode_events_items(int op)
{
    return op == WIRE_OP_ALLOC ? 4 : op == WIRE_OP_FREE ? 3 : op == WIRE_OP_REALLOC ? 5 : 2;
}
int encode_tick(struct encode_buf *b, const struct wire_totals *t, const struct wire_site *d,
                size_t n);
/* seq: the last allocation sequence number emitted (wire.h), 0 none. */
int encode_snapshot(struct encode_buf *b, const struct wire_totals *t, const struct wire_site *s,
                    size_t n, uint64_t seq);
int encode_history(struct encode_buf *b, const struct wire_history_row *rows, size_t n);
int encode_missed(struct encode_buf *b, uint64_t missed);
int encode_end(struct encode_buf *b, int64_t time, uint32_t reason, int32_t status);
/* cause: enum wire_off */
int encode_disabled(struct encode_buf *b, int64_t time, const char *reason, uint32_t cause);
/* NOTE: what the collector has to tell the user (a line it would have
 * written to the program's stderr), at time. */
int encode_note(struct encode_buf *b, int64_t time, const char *text);

/* For modules that define further messages (scanmsg.c): encode_begin(),
 * encode_finish() and encode_str() in encode_msgpack.h. */

/* Requests (client side). */
int encode_req_objects(struct encode_buf *b, uint32_t req_id, const uint32_t *stacks, size_t n,
                       uint32_t max);
int encode_req_read(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint32_t len);
int encode_req_scan(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint32_t max_depth,
                    uint32_t max_fanout);

/* Responses (collector side). The payload of a response is written by the
 * caller between encode_resp_begin() and nothing else: begin writes the
 * array header for 3 + n_payload elements, then the caller packs n_payload
 * objects with the packer returned by encode_packer(). */
struct wire_object {
    uint64_t addr;
    uint64_t size;
    uint32_t stack;
    int64_t time;
    uint32_t thread;
    uint32_t tag;
    uint64_t seq; /* allocation sequence number (wire.h), matches the events */
};
int encode_resp_error(struct encode_buf *b, uint32_t req_id, int32_t status, const char *msg);
int encode_resp_objects(struct encode_buf *b, uint32_t req_id, const struct wire_object *o,
                        size_t n, uint64_t total);
int encode_resp_read(struct encode_buf *b, uint32_t req_id, uint64_t addr, uint64_t size,
                     const void *bytes, uint32_t len);

#endif
