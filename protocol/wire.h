/*
 * wire.h - the one definition of heapline's messages (socket and record file).
 *
 * A stream is a sequence of msgpack arrays; element 0 is the message type, the
 * rest are the fields listed below, in order. Trailing fields may be added in
 * later versions (decoders ignore extra elements); message ids are never
 * renumbered and fields are never reordered.
 *
 * Compactness: allocation events travel in batches (WIRE_EVENTS) as one flat
 * msgpack array of small integers, and carry no addresses. Every ALLOC and
 * every REALLOC (its new block) takes the next number of the process's
 * allocation sequence, seq: 1 for the first allocation the collector emits
 * (a fork child starts its own at 1), counted in the order of the stream. A
 * FREE (and a REALLOC's old block) names its block by back = seq_now -
 * seq_of_the_block, where seq_now is the seq of the last allocation before
 * this event (the block allocated just before has back 0), or by a step from
 * the block freed before it (FREE_STEP, REALLOC_STEP). Both sides compute
 * seq and back mod 2^40: a block still live 2^40 allocations later cannot be
 * told apart and is not supported. A record file starts at seq 0; a client
 * that attaches mid-run learns seq_now from SNAPSHOT, and a back reaching
 * before it names a block allocated before the attach. Inside a batch, times
 * are microsecond deltas from the previous event of the batch (the first from
 * the batch's base time, which is in nanoseconds), so an event's time is
 * base_time + 1000 * (sum of dt so far): events have microsecond resolution
 * relative to their batch. (The collector writes them in whole 100 us steps,
 * which keeps the deltas mostly 0; readers take any microsecond value.) Addresses are known to the
 * collector only: ask with WIRE_REQ_OBJECTS. A typical event is 3 to 8 bytes before the record
 * file's zstd layer.
 *
 * Messages (-> collector to client, <- client to collector):
 *
 *  -> HELLO    [1, version, pid, exe, start_unix_ns, page_size, max_depth, flags, sample_rate]
 *               sample_rate (trailing, absent: 0): 0, every allocation is an event
 *               (exact); else the mean sampling interval R in bytes (sampling mode):
 *               events are the sampled blocks only (real sizes; every block of R bytes
 *               or more is one), TICK/SNAPSHOT per-site figures are the collector's
 *               estimates (each sampled block weighted by 1 / (1 - e^(-size/R)),
 *               rounded: live_bytes, bytes_allocated by size / p, live_blocks and
 *               allocations by 1 / p), and their totals are exact counts of every
 *               call: allocations, frees, bytes_allocated (asked), heap_blocks, and
 *               heap_bytes in usable bytes (malloc_usable_size), with peak_bytes and
 *               peak_time 0 (the peak is the highest tick). Readers take figures
 *               from ticks, never from the events, in this mode. A reader older than
 *               this field reads such a stream as an exact one whose events miss blocks.
 *  -> MODULE   [2, module_id, path, base, size, build_id, symbols, debug_file]
 *               symbols, debug_file (trailing, absent: 0 and nil): where the module's
 *               function names come from, enum wire_symbols; debug_file the separate
 *               debug file read (WIRE_SYMBOLS_DEBUG_FILE), else nil
 *  -> FRAME    [3, ip, module_id, function, file, line, [function, file, line]...inlined]
 *  -> STACKS   [4, [id, parent_id, ip, id, parent_id, ip, ...]]      stack trie nodes
 *  -> STACK_STEPS [17, [id_step, parent_back, ip_step, ...]]       (version 3) the same
 *               nodes as steps, ids ascending: id = the previous node's id + id_step
 *               (>= 1; the first from 0), parent_id = id - parent_back (1..id), ip = the
 *               previous node's ip + ip_step (signed, mod 2^64; the first from 0). Eight-byte
 *               addresses were most of a recording's definitions: python3's JSON bench
 *               went from 2.0 to 1.6 MB, sqlite3's from 56 to 46 KB. Decoders hand it
 *               out as STACKS.
 *  -> THREAD   [5, thread_id, os_tid, name]                          (again on rename)
 *  -> TAG      [6, tag_id, name]
 *  -> MARKER   [7, time, label]
 *  -> EVENTS   [8, base_time, [op, fields..., op, fields...]]         see enum wire_op
 *  -> TICK     [9, time, heap_bytes, heap_blocks, rss, allocations, frees, bytes_allocated,
 *               [stack_id, d_live_bytes, d_live_blocks, d_allocations, d_bytes_allocated, ...],
 *               peak_bytes, peak_time]
 *  -> SNAPSHOT [10, time, heap_bytes, heap_blocks, rss, allocations, frees, bytes_allocated,
 *               [stack_id, live_bytes, live_blocks, allocations, bytes_allocated, ...], seq,
 *               peak_bytes, peak_time]
 *               absolute per-stack state; sent on attach before streaming. seq: the
 *               seq of the last allocation emitted before it (0 none; absent: 0).
 *               peak_bytes, peak_time (both, or neither: 0): the exact heap peak so far,
 *               per event, and the (event) time of the event that first reached it, so a
 *               client that reads ticks (attached, or behind) shows the peak a recording
 *               of the same run reports, not the highest 10 ms sample.
 *  -> HISTORY  [11, [time, heap_bytes, heap_blocks, rss, ...]]         totals of past ticks
 *  <- REQUEST  [12, request_id, kind, args...]                          see enum wire_req
 *  -> RESPONSE [13, request_id, status, payload...]                     status 0 or -errno-like
 *  -> MISSED   [14, events_missed]   this client fell behind; ticks still keep figures exact
 *  -> END      [15, time, reason, status]                               program ended
 *  -> DISABLED [16, time, reason, cause]  the collector turned itself off, or (cause != 0)
 *               the record file could not be written: the recording's figures stop here.
 *               cause: enum wire_off (absent: 0). A writer that fails ends its file with
 *               this message, written where its last complete flush ended (recfile.h).
 *
 * A TICK or SNAPSHOT whose site list would pass WIRE_MAX_MESSAGE is sent as
 * several messages with the same time and totals: readers add the lists up.
 *
 * Times are CLOCK_MONOTONIC nanoseconds since the collector started (events:
 * microsecond resolution, see above). Stack id 0
 * is the root (empty stack); a node's parent id is always smaller than its id.
 */
#ifndef HEAPLINE_WIRE_H
#define HEAPLINE_WIRE_H

#include <stdint.h>

#define WIRE_VERSION 3
/* The oldest version this build reads: version 1 (addresses in events, times in
 * ns) was never released, but its files would decode into wrong figures.
 * Version 3 added FREE_STEP and REALLOC_STEP (enum wire_op); a version 2
 * stream is a version 3 stream without them. */
#define WIRE_MIN_VERSION 2

/* Record file: WIRE_FILE_MAGIC (8 bytes), then a u32 little-endian version,
 * then a u32 little-endian flags word, then the stream (zstd frames when
 * WIRE_FILE_ZSTD is set, raw msgpack otherwise). */
#define WIRE_FILE_MAGIC "HEAPLINE"
#define WIRE_FILE_HEADER_SIZE 16
#define WIRE_FILE_ZSTD 1u

/* Bounds every decoder enforces; anything larger is corrupt. */
#define WIRE_MAX_MESSAGE (4u << 20) /* bytes of one encoded message */
#define WIRE_MAX_STRING 4096u       /* encoders truncate, decoders refuse longer */
#define WIRE_MAX_STACK_ID 0x7fffffffu
#define WIRE_MAX_MODULE_ID 0xffffu
#define WIRE_MAX_THREAD_ID 0xffffffu
#define WIRE_MAX_TAG_ID 0xffffu
#define WIRE_MAX_INLINED 32u

/* Python frames. A stack node's ip at or above WIRE_PYTHON_IP_BASE is not an
 * address (user-space code is below 2^47) but a frame of the Python
 * interpreter: ip = BASE + (code record << 28) + (instruction + 1), named by
 * an ordinary FRAME (function = the qualified name, file = the .py file,
 * line) in a module whose path is "python". Readers need nothing new: older
 * readers show such frames as any named frame. */
#define WIRE_PYTHON_IP_BASE 0xff00000000000000ull
#define WIRE_PYTHON_MODULE "python"

enum wire_type {
    WIRE_HELLO = 1,
    WIRE_MODULE = 2,
    WIRE_FRAME = 3,
    WIRE_STACKS = 4,
    WIRE_THREAD = 5,
    WIRE_TAG = 6,
    WIRE_MARKER = 7,
    WIRE_EVENTS = 8,
    WIRE_TICK = 9,
    WIRE_SNAPSHOT = 10,
    WIRE_HISTORY = 11,
    WIRE_REQUEST = 12,
    WIRE_RESPONSE = 13,
    WIRE_MISSED = 14,
    WIRE_END = 15,
    WIRE_DISABLED = 16,
    WIRE_STACK_STEPS = 17,
    WIRE_NOTE = 18,
    WIRE_TYPE_MAX = 18
};

/* MODULE's symbols field: where a module's function names come from. A
 * module with WIRE_SYMBOLS_EXPORTED is stripped: its static functions (a
 * program's own allocation wrappers, say) have no name, and a debug file with
 * its build id would give them one. */
enum wire_symbols {
    WIRE_SYMBOLS_UNKNOWN = 0,    /* an older collector did not say */
    WIRE_SYMBOLS_OWN = 1,        /* its own symbol table (.symtab) */
    WIRE_SYMBOLS_DEBUG_FILE = 2, /* a separate debug file: debug_file */
    WIRE_SYMBOLS_EXPORTED = 3,   /* none but its exported names (.dynsym) */
    WIRE_SYMBOLS_MAX = 3
};

/* Operations inside an EVENTS batch. dt is the time delta (signed, in
 * microseconds) from the previous event of the batch; back the distance in
 * allocation sequence numbers from the last allocation before the event to
 * the block freed (see "Compactness"). ALLOC and REALLOC take the next seq.
 *
 * FREE_STEP and REALLOC_STEP (version 3) name the block freed by step
 * instead: its seq minus the seq of the block freed by the batch's previous
 * FREE, REALLOC or _STEP event (for the batch's first, minus seq_now at the
 * batch's start), signed, mod 2^40. So back = ref - step, where ref is that
 * previous block's back as of this event (0 at the batch's start, plus one
 * for each allocation since). The collector sends whichever of back and step
 * packs shorter. A program that tears a structure down in allocation order
 * frees steps of 1 while its backs grow: python3's JSON bench recording went
 * from 7.5 MB to 2.0 MB. Decoders hand out both as FREE and REALLOC with
 * back, so readers see one form. */
enum wire_op {
    WIRE_OP_ALLOC = 1,        /* dt, stack_id, size                             */
    WIRE_OP_FREE = 2,         /* dt, back                                        */
    WIRE_OP_REALLOC = 3,      /* dt, stack_id, size, back_old  (old block live)  */
    WIRE_OP_THREAD = 4,       /* thread_id: following events happen on it        */
    WIRE_OP_TAG = 5,          /* tag_id: following allocations carry it (0 none) */
    WIRE_OP_FREE_STEP = 6,    /* dt, step                                        */
    WIRE_OP_REALLOC_STEP = 7, /* dt, stack_id, size, step_old                    */
    WIRE_OP_MAX = 7
};

/* Allocation sequence numbers and backs are taken mod 2^WIRE_SEQ_BITS. */
#define WIRE_SEQ_BITS 40
#define WIRE_SEQ_MASK ((UINT64_C(1) << WIRE_SEQ_BITS) - 1)

/* HELLO flags */
#define WIRE_HELLO_FP 1u /* frame-pointer walk in use */
/* loaded into a running program (heapline attach, record --pid): the totals
 * count from the attach (sampling: the net change of heap bytes since, never
 * below 0; exact: the blocks allocated since that are live) */
#define WIRE_HELLO_ATTACHED 2u

/* END reasons */
enum wire_end {
    WIRE_END_EXIT = 1,   /* exit()/return from main: status is the exit code */
    WIRE_END_SIGNAL = 2, /* fatal signal: status is the signal number */
    WIRE_END_EXEC = 3,   /* the process exec'd another image */
    WIRE_END_DETACH = 4  /* the collector closed this stream (shutdown) */
};

/* DISABLED causes. The reason text says it for people (it names the file and
 * the system's error); the cause lets a reader classify it. */
enum wire_off {
    WIRE_OFF_COLLECTOR = 0,  /* the collector turned tracking off (stall, memory, ...) */
    WIRE_OFF_DISK_FULL = 1,  /* record file: no space left on the device, or quota */
    WIRE_OFF_FILE_LIMIT = 2, /* record file: the file size limit (RLIMIT_FSIZE) */
    WIRE_OFF_WRITE_ERROR = 3 /* record file: another write error */
};

/* Requests, element 2 of REQUEST; arguments follow. */
enum wire_req {
    WIRE_REQ_OBJECTS = 1, /* stack_ids[] , max: live objects of those stacks, oldest first;
                           * response [13, id, 0, 1, total, [addr, size, stack, time, thread,
                           * tag, seq, ...]] (seq: the block's allocation sequence number) */
    WIRE_REQ_READ = 2,    /* address, length (<= WIRE_MAX_READ): first bytes of a live block */
    WIRE_REQ_SCAN = 3,    /* address, max_depth, max_fanout: backreference chains (with
                           * Python names for a CPython program: scanmsg.h); address 0:
                           * the census of live Python objects by type instead; status
                           * -EBUSY when too many scans are running and waiting. In a
                           * sampled or attached run the blocks come from glibc's heap,
                           * the address need not be one the collector saw allocated,
                           * and the response's trailing `untracked` list (absent from
                           * older collectors) names the blocks it never saw allocated */
    WIRE_REQ_MAX = 3
};

#define WIRE_MAX_READ 4096u
#define WIRE_MAX_OBJECTS                                                                           \
    100000u /* decoders' bound; the collector answers 10000 at most                                \
             * (total says how many there are) */

/* Error codes of protocol functions (negative return values). */
enum wire_err {
    WIRE_OK = 0,
    WIRE_ENEEDMORE = -1, /* not an error: the stream stops inside a message */
    WIRE_ECORRUPT = -2,  /* bytes are not a valid message */
    WIRE_ETOOBIG = -3,   /* a length, count or id beyond the bounds above */
    WIRE_EVERSION = -4,  /* a newer major version than this build reads */
    WIRE_ENOSPACE = -5,  /* encoder: the caller's buffer is too small */
    WIRE_ENOMEM = -6,
    WIRE_EMAGIC = -7, /* not a heapline recording */
    WIRE_EIO = -8,
    WIRE_ECOMPRESS = -9,    /* zstd layer failed */
    WIRE_EOLDVERSION = -10, /* an older, incompatible version */
    WIRE_ERR_COUNT = 11
};

/* Returns a static string for a wire_err code. Thread-safe. */
const char *wire_strerror(int err);

#endif
