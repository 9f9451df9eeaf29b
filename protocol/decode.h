/*
 * decode.h - a streaming decoder for heapline messages from hostile bytes.
 *
 * Feed bytes as they arrive; take messages out one at a time. A stream that
 * stops inside a message is "need more" (WIRE_ENEEDMORE), never an error;
 * every corrupt length, count, id or type is WIRE_ECORRUPT or WIRE_ETOOBIG,
 * after which the decoder refuses further input. Memory is bounded by
 * WIRE_MAX_MESSAGE plus the bytes the caller feeds and has not consumed.
 *
 * Not thread-safe: one decoder per stream. Strings and arrays in a decoded
 * message point into the decoder and stay valid until the next call of
 * decode_next() or decode_feed().
 *
 * No msgpack-c type appears here: a decoded message is read through the
 * fields below and the iterators. The msgpack side (decoding from a zone of
 * the caller's, the raw objects) is decode_msgpack.h's, for protocol/'s own
 * modules, tests and fuzzers.
 */
#ifndef HEAPLINE_DECODE_H
#define HEAPLINE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "wire.h"

/* A string slice (not NUL-terminated). len 0 and ptr NULL for nil. */
struct wire_str {
    const char *ptr;
    uint32_t len;
};

/* A validated flat array of items; walk it with the iterators below. */
struct wire_list {
    const void *items; /* private: the decoder's objects (decode_msgpack.h) */
    uint32_t n;
};

struct wire_msg {
    int type;  /* enum wire_type; STACK_STEPS comes out as STACKS, with steps set */
    int steps; /* STACKS: sent as STACK_STEPS (read them with decode_stacks_next) */
    union {
        struct {
            uint32_t version, pid, page_size, max_depth, flags;
            struct wire_str exe;
            int64_t start_unix_ns;
            uint64_t sample_rate; /* 0: exact (absent) */
        } hello;
        struct {
            uint32_t id;
            struct wire_str path, build_id;
            uint64_t base, size;
            uint32_t symbols;           /* enum wire_symbols */
            struct wire_str debug_file; /* empty when none */
        } module;
        struct {
            uint64_t ip;
            uint32_t module, line;
            struct wire_str function, file;
            struct wire_list inlined; /* triples: function, file, line */
        } frame;
        struct wire_list stacks; /* triples: id, parent, ip */
        struct {
            uint32_t id, os_tid;
            struct wire_str name;
        } thread;
        struct {
            uint32_t id;
            struct wire_str name;
        } tag;
        struct {
            int64_t time;
            struct wire_str label;
        } marker;
        struct {
            int64_t base_time;
            /* the items, still msgpack: decode_events_next() reads them in
             * place (a msgpack object each cost most of a report's time) */
            const unsigned char *items, *end;
            uint32_t n;
        } events;
        struct {
            struct wire_totals totals;
            struct wire_list sites; /* quintuples, see struct wire_site */
            uint64_t seq;           /* SNAPSHOT: last allocation seq (0 when absent) */
        } state;                    /* TICK and SNAPSHOT */
        struct wire_list history;   /* quadruples, see struct wire_history_row */
        struct {
            uint32_t id, kind;
            uint64_t addr;
            uint32_t len, max, max_depth, max_fanout;
            struct wire_list stacks; /* OBJECTS: stack ids */
        } request;
        struct {
            uint32_t id;
            int32_t status;
            uint32_t kind;           /* when status == 0 */
            struct wire_str message; /* when status != 0 */
            uint64_t addr, size, total;
            struct wire_str bytes;    /* READ */
            struct wire_list objects; /* OBJECTS: septuples, see struct wire_object */
            const void *raw;          /* private: the whole message, for other payloads
                                       * (scanmsg_decode) */
        } response;
        uint64_t missed;
        struct {
            int64_t time;
            uint32_t reason;
            int32_t status;
        } end;
        struct {
            int64_t time;
            struct wire_str reason;
            uint32_t cause; /* enum wire_off; 0 when absent */
        } disabled;
        struct {
            int64_t time;
            struct wire_str text;
        } note;
    } u;
};

/* Where the walk of a partly received message stopped (decode.c). */
struct decode_extent {
    size_t off;       /* 0: at the message's start */
    uint64_t pending; /* objects still to walk from off */
};

struct decode {
    char *buf;                /* pending bytes, owned */
    size_t len, cap;          /* bytes in buf, its capacity */
    size_t off;               /* bytes of buf already consumed */
    void *zone;               /* private: where decoded messages live (NULL: out of memory) */
    int dead;                 /* a corrupt message was seen: the stream is over */
    uint64_t consumed;        /* total bytes of complete messages taken out */
    struct decode_extent ext; /* the pending message's walk so far */
    uint32_t skip;            /* bit t set: messages of type t are stepped over unread */
};

void decode_init(struct decode *d);
void decode_free(struct decode *d);

/* Appends n bytes. Returns 0, or WIRE_ENOMEM, or WIRE_ETOOBIG when the pending
 * bytes would pass WIRE_MAX_MESSAGE + n with no complete message in them. */
int decode_feed(struct decode *d, const void *bytes, size_t n);

/* Takes the next message out. Returns 1 with *m filled, WIRE_ENEEDMORE when
 * the pending bytes end inside a message, or a negative error (sticky). */
int decode_next(struct decode *d, struct wire_msg *m);

/* Iterators over validated lists. Each returns 1 with the item, 0 at the end,
 * or WIRE_ECORRUPT (the list is malformed at that point). Events come out
 * with absolute nanosecond times (microsecond resolution) and back
 * (< 2^WIRE_SEQ_BITS): FREE_STEP and REALLOC_STEP come out as FREE and
 * REALLOC with their back. Numbering the allocations is the reader's job. */
struct events_iter {
    const unsigned char *p, *end; /* the next item, the message's end */
    uint32_t n, i;                /* items, items read */
    int64_t base;
    int64_t us;   /* microseconds from base of the last event */
    uint64_t ref; /* the back, as of now, of the block freed last (wire.h) */
};
void decode_events_begin(struct events_iter *it, const struct wire_msg *m);
int decode_events_next(struct events_iter *it, struct wire_event *ev);

/* The nodes of a STACKS message, in order (either form). */
struct stacks_iter {
    struct wire_list l;
    uint32_t i;
    int steps;
    uint32_t id; /* the previous node's, for steps */
    uint64_t ip;
};
void decode_stacks_begin(struct stacks_iter *it, const struct wire_msg *m);
int decode_stacks_next(struct stacks_iter *it, struct wire_stack_node *node);
int decode_site_at(const struct wire_list *l, uint32_t i, struct wire_site *site);
int decode_history_at(const struct wire_list *l, uint32_t i, struct wire_history_row *row);
int decode_object_at(const struct wire_list *l, uint32_t i, struct wire_object *obj);
int decode_inline_at(const struct wire_list *l, uint32_t i, struct wire_str *function,
                     struct wire_str *file, uint32_t *line);

/* Item i of a list of unsigned integers (REQUEST stack ids, event opcodes):
 * 1 with *out set when it is one and <= max, 0 when it is not, or
 * WIRE_ECORRUPT when i is beyond the list. */
int decode_u32_at(const struct wire_list *l, uint32_t i, uint32_t max, uint32_t *out);

/* Number of items of a list of k-tuples (lists are checked to be multiples). */
static inline uint32_t wire_list_count(const struct wire_list *l, uint32_t k)
{
    return l->n / k;
}

#endif
