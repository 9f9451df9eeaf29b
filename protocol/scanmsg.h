/*
 * scanmsg.h - the payload of a RESPONSE to WIRE_REQ_SCAN: backreference chains.
 *
 *  RESPONSE [13, request_id, 0, 3, target, flags, levels, duration_ns, bytes_scanned,
 *            pause_ns, n_blocks, heap_bytes, [node, node, ...], prep_ns, chain_ns,
 *            [live, ...], [py, py, ...], [row, row, ...], [untracked, ...],
 *            [pymalloc, ...]]
 *  node:    kind, address, size, offset, to, interior, id, inbound, level,
 *           symbol, module, module_offset                          (12 items each)
 *
 * Node 0 is the target block (to = 0). Every other node holds a pointer into
 * node `to` < its own index, so walking `to` from any node ends at node 0:
 * a chain, from a holder down to the target. kind:
 *   HEAP    address/size: the holder block; id: its allocation stack id;
 *           offset: where the pointer sits inside the block.
 *   GLOBAL  address: the pointer word; symbol/module: the symbol covering it
 *           (nil when none) and the module's path; offset: from the symbol's
 *           start (from the module base when no symbol); module_offset: from
 *           the module's load base.
 *   STACK   address: the pointer word; id: heapline thread id; offset: from
 *           the stack's low end (of its mapping). A node whose index is in
 *           the trailing `live` list lies in a live frame: the thread was
 *           blocked in the kernel and its stack was scanned from its stack
 *           pointer. Other stack nodes were found in a whole stack (the thread
 *           was running): they may be stale words of dead frames.
 * interior: offset inside node `to` the pointer points at (0: its start; for
 * node 0 the requested address's offset in the target block). inbound: words
 * anywhere that point into the node (-1: not counted, e.g. beyond the depth).
 *
 * Python (trailing, absent from older collectors; empty when the program is
 * not a CPython heapline knows): one py per node, in node order,
 *  py:      py_flags, type, via, owner                              (4 items each)
 * type: the Python type of the block (nil: not a Python object); via: the
 * slot through which this node holds the node below it, in Python terms
 * (".loader", "['app-3']", "[0]", ".cell_contents"; nil when none); flags:
 *   SCANMSG_PY_OBJECT  the block is a Python object
 *   SCANMSG_PY_PART    a buffer owned by the Python object holding it (a list's
 *                      items, a dict's keys, an instance's values, a
 *                      bytearray's bytes): renderers fold it into that holder
 *   SCANMSG_PY_MODULE  a chain end: module `owner`, global variable `via`
 *   SCANMSG_PY_CLASS   a chain end: class `owner`, attribute `via`
 *   SCANMSG_PY_FRAME   a chain end (a STACK node): local `via` of the live
 *                      frame of function `owner` ("handle()")
 * A census (request address 0; flag SCANMSG_CENSUS; node 0 is empty, no
 * chains) sends the live Python objects by type:
 *  row:     type name, count, bytes, oldest                         (4 items each)
 * oldest: the block of the instance allocated first.
 *
 * Blocks from glibc's heap (trailing, absent from older collectors: then
 * every HEAP node was a block of the live table). In a sampled or attached
 * run (flag SCANMSG_HEAPWALK) the blocks are those of glibc's heap in the
 * snapshot, not only the table's: `untracked` lists the indexes of the HEAP
 * nodes the table did not hold, blocks heapline never saw allocated
 * (allocated before the attach, or not sampled). Their size is the chunk's
 * usable size, their id 0 (no stack). SCANMSG_HEAPWALK_FAILED: the heap
 * could not be walked (not glibc, or it did not add up): the table's blocks
 * alone were scanned.
 *
 * pymalloc's blocks (trailing, absent from older collectors). A CPython
 * program without PYTHONMALLOC=malloc keeps its small objects in pymalloc's
 * pools; SCANMSG_PYMALLOC_POOLS says the collector read them from the pools
 * and scanned them as blocks: `pymalloc` lists the indexes of the HEAP nodes
 * that are such blocks (also in `untracked`: no allocation stack; their
 * size is the size class). Without it, SCANMSG_PYMALLOC says they were not
 * seen. A scan that left blocks unseen (SCANMSG_PYMALLOC,
 * SCANMSG_HEAPWALK_FAILED, SCANMSG_HEAPWALK_PARTIAL) never sets
 * SCANMSG_UNREACHABLE: finding no holder proves nothing then.
 */
#ifndef HEAPLINE_SCANMSG_H
#define HEAPLINE_SCANMSG_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "encode.h"

enum scanmsg_kind { SCANMSG_HEAP = 1, SCANMSG_GLOBAL = 2, SCANMSG_STACK = 3 };

/* flags */
#define SCANMSG_UNREACHABLE 1u   /* fully explored, no root holds the target: leaked */
#define SCANMSG_DEPTH_LIMIT 2u   /* stopped at the depth limit */
#define SCANMSG_FANOUT_LIMIT 4u  /* some holders left out by the fan-out limit */
#define SCANMSG_UNREADABLE 16u   /* some blocks could not be read (freed meanwhile) */
#define SCANMSG_STOPPED_EARLY 8u /* stopped after the level of the shortest chains */
#define SCANMSG_CYCLE 32u        /* Python: the target is held by a holder it holds */
#define SCANMSG_CENSUS 64u       /* a census, not a scan: see the rows */
#define SCANMSG_PYTHON 128u      /* the program is a CPython heapline knows: py items sent */
#define SCANMSG_PYMALLOC                                                                           \
    256u /* ... but without PYTHONMALLOC=malloc: its small objects                                 \
            live in pymalloc's arenas, unseen (chains are partial) */
#define SCANMSG_HEAPWALK                                                                           \
    512u /* the blocks came from glibc's heap (a sampled or attached run):                         \
            nodes in `untracked` were never seen allocated */
#define SCANMSG_HEAPWALK_FAILED                                                                    \
    1024u                      /* a sampled or attached run whose heap could not be walked:        \
                                  only the blocks seen allocated were scanned (chains may be cut) */
#define SCANMSG_ATTACHED 2048u /* the collector was attached to the running program */
#define SCANMSG_HEAPWALK_PARTIAL                                                                   \
    8192u /* with SCANMSG_HEAPWALK: a heap that a thread was changing during the                   \
             snapshot was left out (its blocks only from the table: chains may be cut); with       \
             PYMALLOC_POOLS: a pool or mapping of pymalloc's was left out */
#define SCANMSG_SAMPLED 4096u /* the run samples allocations */
#define SCANMSG_PYMALLOC_POOLS                                                                     \
    16384u /* the Python objects in pymalloc's pools were read from them and scanned               \
              (nodes in `pymalloc` are such blocks) */

/* py_flags */
#define SCANMSG_PY_OBJECT 1u
#define SCANMSG_PY_PART 2u
#define SCANMSG_PY_MODULE 4u
#define SCANMSG_PY_CLASS 8u
#define SCANMSG_PY_FRAME 16u
#define SCANMSG_PY_FLAGS 31u /* all of them */

#define SCANMSG_PY_ITEMS 4u
#define SCANMSG_ROW_ITEMS 4u
#define SCANMSG_MAX_ROWS 100000u

#define SCANMSG_NODE_ITEMS 12u
#define SCANMSG_MAX_NODES 100000u

struct scanmsg_result {
    uint64_t target; /* the requested address */
    uint32_t flags, levels;
    uint64_t duration_ns;   /* the scan child's work */
    uint64_t bytes_scanned; /* all levels */
    uint64_t pause_ns;      /* the program's pause for fork() */
    uint64_t n_blocks, heap_bytes;
    struct wire_list nodes;     /* decode side: validated 12-tuples */
    uint64_t prep_ns;           /* collecting and sorting the blocks (0: not sent) */
    uint64_t chain_ns;          /* from the start to the first full chain (0: none) */
    struct wire_list live;      /* decode side: node indexes (u32) of stack words in live
                                   frames; encode side: ignored (from nodes[].live_frame) */
    struct wire_list py;        /* decode side: validated 4-tuples (empty: no Python names) */
    struct wire_list rows;      /* decode side: validated census 4-tuples */
    struct wire_list untracked; /* decode side: node indexes (u32) of HEAP nodes the live
                                   table lacked; encode side: ignored (nodes[].untracked) */
    struct wire_list pymalloc;  /* decode side: node indexes (u32) of HEAP nodes in pymalloc's
                                   pools; encode side: ignored (nodes[].pymalloc) */
    const struct scanmsg_row *enc_rows; /* encode side: the census rows */
    size_t n_enc_rows;
};

struct scanmsg_row {
    struct wire_str name;
    uint64_t count, bytes, oldest;
};

struct scanmsg_node {
    uint32_t kind; /* enum scanmsg_kind */
    uint64_t addr, size, offset;
    uint32_t to;
    uint64_t interior;
    uint32_t id;
    int64_t inbound;
    uint32_t level;
    struct wire_str symbol, module; /* GLOBAL; nil otherwise */
    uint64_t module_offset;
    uint32_t live_frame; /* STACK: 1 in a live frame (sent in the result's `live`) */
    uint32_t untracked;  /* HEAP: 1 never seen allocated (sent in the result's `untracked`) */
    uint32_t pymalloc;   /* HEAP: 1 a block of pymalloc's pools (sent in `pymalloc`) */
    uint32_t py_flags;   /* SCANMSG_PY_*; 0 with nil strings when no Python names */
    struct wire_str py_type, py_via, py_owner;
};

/* Appends the RESPONSE (status 0, kind WIRE_REQ_SCAN) with n nodes (their py
 * fields sent when r->flags has SCANMSG_PYTHON) and r->enc_rows. r->nodes is
 * ignored. Returns 0 or WIRE_ENOSPACE (buffer unchanged). Never allocates. */
int scanmsg_encode(struct encode_buf *b, uint32_t req_id, const struct scanmsg_result *r,
                   const struct scanmsg_node *nodes, size_t n);

/* Reads a decoded RESPONSE (m->u.response.status == 0, kind WIRE_REQ_SCAN)
 * from m->u.response.raw. Every node is checked (kind, to < index, strings,
 * counts). Returns 0 or WIRE_ECORRUPT / WIRE_ETOOBIG. r->nodes points into the
 * message: valid as long as m is. */
int scanmsg_decode(const struct wire_msg *m, struct scanmsg_result *r);

/* scanmsg_decode_object() and scanmsg_decode_bytes(), which take msgpack-c
 * types, are in decode_msgpack.h. */

/* Node i of a decoded result (i < scanmsg_count(r)), live_frame set from the
 * result's `live` list. Returns 0 or WIRE_ECORRUPT. Strings point into the
 * message. */
int scanmsg_node_at(const struct scanmsg_result *r, uint32_t i, struct scanmsg_node *node);

static inline uint32_t scanmsg_count(const struct scanmsg_result *r)
{
    return r->nodes.n / SCANMSG_NODE_ITEMS;
}

/*
 * An owned copy of a decoded result (from any of the scanmsg_decode*
 * functions): one malloc'ed block that holds the result and everything its
 * lists point to, so it outlives the message, the decoder and the zone it
 * came from. Nothing is encoded or decoded again; walk it as the original
 * (scanmsg_node_at, scanmsg_row_at). Returns NULL when out of memory. Free
 * it with free().
 */
struct scanmsg_result *scanmsg_copy(const struct scanmsg_result *r);

/* Census rows of a decoded result. */
static inline uint32_t scanmsg_row_count(const struct scanmsg_result *r)
{
    return r->rows.n / SCANMSG_ROW_ITEMS;
}

/* Row i (i < scanmsg_row_count(r)). Returns 0 or WIRE_ECORRUPT. */
int scanmsg_row_at(const struct scanmsg_result *r, uint32_t i, struct scanmsg_row *row);

#endif
