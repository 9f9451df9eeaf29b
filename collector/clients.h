/*
 * clients.h - the live socket's connected clients (clients.c): their output
 * queues, replies ahead of the event stream, and the memory they may hold,
 * each and in all. Collector thread only; nothing here blocks.
 */
#ifndef HEAPLINE_CLIENTS_H
#define HEAPLINE_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "fdid.h"
#include "requests.h"

/* Memory: queued stream bytes per client past which it gets ticks only, and
 * past which it is dropped; the same for all clients together (a client
 * over its share, SERVER_ALL_SOFT / clients, is downgraded when the total is
 * past SERVER_ALL_SOFT; past SERVER_ALL_HARD the one furthest behind is
 * dropped). Replies: a client's requests are read while its unsent replies
 * are under SERVER_REPLY_SOFT; an objects walk or a scan starts while all
 * clients' unsent replies are under SERVER_REPLIES_ALL (requests.c). In all,
 * at most ~60 MB (README). */
#define SERVER_CHUNK (64u << 10)
#define SERVER_CLIENT_SOFT (16u << 20)
#define SERVER_CLIENT_HARD (20u << 20)
#define SERVER_ALL_SOFT (16u << 20)
#define SERVER_ALL_HARD                                                                            \
    (40u << 20) /* > 2 x SERVER_ALL_SOFT: clients already past a                                   \
                 * share that shrank as others joined keep what                                    \
                 * is queued for them (up to the soft total), and                                  \
                 * the others may reach their share (the soft                                      \
                 * total again): only then do ticks and                                            \
                 * definitions of stalled clients pass it */
#define SERVER_REPLY_SOFT (64u << 10)
#define SERVER_REPLIES_ALL (8u << 20)
#define SERVER_MAX_CLIENTS 64
/* A client that has taken none of what was sent to it for this long is
 * dropped; when all SERVER_MAX_CLIENTS places are taken, a newcomer takes
 * the place of the client that has taken nothing for the longest, if that is
 * SERVER_EVICT_NS or more (else it is refused). */
#define SERVER_STALL_NS (15 * 1000000000LL)
#define SERVER_EVICT_NS (2 * 1000000000LL)
#define SERVER_PROGRESS_NS (200 * 1000000LL) /* how often stalls are looked for */

/* Queued output: a list of chunks, each ending at a message boundary. */
struct chunk {
    struct chunk *next;
    size_t len, off, cap;
    char data[];
};

struct queue {
    struct chunk *head, *tail;
    size_t bytes; /* allocated, headers included */
};

struct client {
    int fd;
    struct fdid id; /* what fd names: a program may dup2 over it */
    struct queue stream, replies;
    int ticks_only;
    uint64_t missed, missed_sent;
    struct decode dec;
    int starved; /* dec holds no whole request: wait for more bytes */
    struct requests_job job;
    struct scan_job *scan;
    uint64_t scan_addr; /* what the running scan was asked */
    uint32_t scan_req, scan_depth, scan_fanout;
    int64_t last_progress; /* when it last took something or sent a byte */
    uint64_t sent;         /* bytes handed to the kernel since the last look */
    int outq;              /* unread bytes in the socket at the last look */
};

/* The clients, clients_list[0, clients_n). Dropping client i moves the last
 * one into its place: loops that may drop go from the last. */
extern struct client *clients_list[SERVER_MAX_CLIENTS];
extern int clients_n;
/* Queued bytes of all clients: event stream, replies. */
extern size_t clients_stream_bytes, clients_reply_bytes;

/* Takes a connected socket (of our uid) as a new client and queues the
 * attach burst; when all places are taken, the client that has taken
 * nothing for SERVER_EVICT_NS makes room, else fd is closed. */
void clients_add(int fd);

/* Closes client i's socket (unless the program took its number), frees all
 * it holds and moves the last client into place i. */
void clients_drop(int i);

/* Appends whole messages to q (all: the matching total). Returns 0 or -1
 * (out of memory). */
int clients_queue_put(struct queue *q, size_t *all, const char *p, size_t n);

/* 1 when something is queued for c. */
int clients_pending(const struct client *c);

/* Sends what the socket takes, replies first (the stream's message in
 * progress is finished first). May drop client i. */
void clients_write(int i);

/* Queues data (whole messages) for every client; n_events > 0 marks an
 * EVENTS message, which a client over its budget misses (counted). Drops
 * clients past the hard budgets. */
void clients_broadcast(const char *data, size_t n, uint32_t n_events);

/* Each tick: tells downgraded clients their missed count, and drops those
 * that took nothing for SERVER_STALL_NS. */
void clients_tick(void);

/* What the clients hold of the program's memory now (queues, decoders,
 * requests); clients_note_held() keeps the largest, clients_held_peak()
 * returns it (HEAPLINE_STATS). */
size_t clients_held(void);
void clients_note_held(void);
size_t clients_held_peak(void);

/* Fork child: closes the parent's client sockets, forgets the clients. */
void clients_atfork_child(void);

#endif
