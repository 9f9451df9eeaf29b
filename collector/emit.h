/*
 * emit.h - the collector's output stream: the encoded messages that go to
 * the record file (through the writer) and to the socket's clients, the log
 * of definitions a new client is sent first, and the batches of events.
 *
 * Invariants of the stream: every stack node, frame, module, thread and tag
 * is defined before the first message that uses it (parents before
 * children); events are applied through normalise.h, so every FREE names a
 * live block. Collector thread only.
 */
#ifndef HEAPLINE_EMIT_H
#define HEAPLINE_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "normalise.h"
#include "ring.h"

/* The output buffer's capacity: the largest message and 1 MiB more. */
#define EMIT_OUT_CAP (WIRE_MAX_MESSAGE + (1u << 20))

/* What a message is: part of the stream, or a definition that a client
 * attaching later is sent first (defstore.h). */
enum emit_kind { EMIT_STREAM = 0, EMIT_DEF = 1 };

/* Starts an empty stream into out (EMIT_OUT_CAP bytes: the writer's buffer
 * when rec, else the collector's own) and forgets the previous one's state:
 * definitions, threads, batches, totals. server: the clients get every
 * message too. */
void emit_init(char *out, int rec, int server);

/* Whether the clients get the stream; 0 turns them off (the server closed,
 * or a fork child). */
int emit_server_on(void);
void emit_server_off(void);

/* The socket opened after emit_init() (collect_start's later one): messages
 * are broadcast from now on. Collector thread. */
void emit_server_opened(void);

/* No more record file (stopped, or a fork child): bytes only go to clients. */
void emit_record_off(void);

/* The buffer EMIT() encodes into. */
struct encode_buf *emit_buf(void);

/* Hands what the buffer holds to the writer (flush: and has it flushed to
 * the file) and empties it. */
void emit_out_flush(int flush);

/* A tick's flush: emit_out_flush(1); in sampling mode, with a record file,
 * at most every 250 ms (the final tick always flushes). */
void emit_out_tick(int final);

/* The message at [mark, len) of the buffer is complete: sends it to the
 * clients (n_events: the ALLOC/FREE/REALLOC entries it holds) and, for an
 * EMIT_DEF, logs it. */
void emit_publish(enum emit_kind kind, size_t mark, uint32_t n_events);

/* Runs call, an encode_*(b, ...) expression, into the output buffer,
 * flushing the buffer first when the message does not fit, then publishes
 * the message. */
#define EMIT(kind, n_events, call)                                                                 \
    do {                                                                                           \
        struct encode_buf *b = emit_buf();                                                         \
        size_t mark_ = b->len;                                                                     \
        if ((call) == WIRE_ENOSPACE) {                                                             \
            emit_out_flush(0);                                                                     \
            mark_ = 0;                                                                             \
            if ((call) != 0)                                                                       \
                break;                                                                             \
        }                                                                                          \
        emit_publish((kind), mark_, (n_events));                                                   \
    } while (0)

/* Defines the thread of ring r (THREAD: id, tid, name). */
void emit_thread_announce(struct ring *r);

/* Sends THREAD again for threads whose name changed. */
void emit_threads_rename(void);

/* Ring r's thread has exited: its name as it left, when it changed. */
void emit_thread_gone(struct ring *r);

/* Closes the threads' comm files kept open (the run ends, or a fork child
 * drops its parent's). */
void emit_threads_close(void);

/* Defines what the next messages need: new tags, then queued stacks (their
 * nodes, frames and modules). */
void emit_define(void);

/* Applies one event (times in ns) of the given thread: to the live table
 * and sites through normalise_apply(), into the current batch. Turns
 * tracking off when the live table cannot take it. */
void emit_apply(const struct ring_event *ev, uint32_t thread);

/* Events applied from now on go out dated ns (rounded down to
 * EMIT_QUANTUM_NS) or later: ns is the date of the tick just sent, which
 * counts every event applied before it. An event stamped earlier but
 * committed late (its thread was preempted between its stamp and its ring
 * write, and the drain's watermark passed the stamp meanwhile) is applied
 * after that tick, so the stream dates it there; its block keeps its own
 * stamp in the live table. */
void emit_time_floor(int64_t ns);

/* The events dated at the floor so far (HEAPLINE_STATS). */
uint64_t emit_dated_late(void);

/* Sends the batched events (after the definitions they need). */
void emit_batch_flush(void);

/* The totals and counters of the events applied so far. */
const struct normalise_totals *emit_totals(void);
const struct normalise_stats *emit_stats(void);

/* Event times go out in whole EMIT_QUANTUM_NS. Per-event microseconds
 * were most of a recording of a real program: sqlite3 inserting 200k rows
 * (1.2M events) took 277 KB with them, 56 KB in 100 us steps (the deltas are
 * then mostly 0, and zstd finds the program's repeating patterns again);
 * churn's stream, whose events are 100 ns apart, is unchanged. The peak
 * stays exact (the model marks it by event, not by time), and 100 us is
 * finer than anything the timeline shows. Ticks keep nanoseconds. */
#define EMIT_QUANTUM_NS 100000
static inline int64_t emit_event_time(int64_t t)
{
    return t - t % EMIT_QUANTUM_NS;
}

#endif
