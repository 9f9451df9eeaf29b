/*
 * clients.c - the live socket's connected clients.
 *
 * Invariant: what the clients hold of the program's memory is bounded, each
 * and in all (the limits in clients.h), and nothing here blocks: every
 * socket is non-blocking, and a client that cannot keep up is downgraded to
 * ticks, then dropped. Replies go out before the event stream queued for a
 * client (at a message boundary), so an answer does not wait behind
 * megabytes of events. A client that takes nothing for SERVER_STALL_NS is
 * dropped.
 */
#include "clients.h"

#include <errno.h>
#include <linux/sockios.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect.h"
#include "core.h"
#include "fds.h"
#include "wire.h"

struct client *clients_list[SERVER_MAX_CLIENTS];
int clients_n;
size_t clients_stream_bytes, clients_reply_bytes;
static int64_t next_progress;
static size_t held_peak; /* most memory the clients held at once (HEAPLINE_STATS) */

size_t clients_held(void)
{
    size_t n = clients_stream_bytes + clients_reply_bytes;

    for (int i = 0; i < clients_n; i++) {
        const struct client *c = clients_list[i];

        n += sizeof(*c) + c->dec.cap + requests_held(&c->job);
    }
    return n;
}

void clients_note_held(void)
{
    size_t held = clients_held();

    if (held > held_peak)
        held_peak = held;
}

size_t clients_held_peak(void)
{
    return held_peak;
}

static void queue_pop(struct queue *q, size_t *all)
{
    struct chunk *k = q->head;

    q->head = k->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= sizeof(*k) + k->cap;
    *all -= sizeof(*k) + k->cap;
    free(k);
}

static void queue_free(struct queue *q, size_t *all)
{
    while (q->head)
        queue_pop(q, all);
}

/* Appends whole messages. Returns 0 or -1 (out of memory). */
int clients_queue_put(struct queue *q, size_t *all, const char *p, size_t n)
{
    struct chunk *k = q->tail;

    if (!k || k->cap - k->len < n) {
        size_t cap = n > SERVER_CHUNK ? n : SERVER_CHUNK;

        k = malloc(sizeof(*k) + cap);
        if (!k)
            return -1;
        k->next = NULL;
        k->len = k->off = 0;
        k->cap = cap;
        if (q->tail)
            q->tail->next = k;
        else
            q->head = k;
        q->tail = k;
        q->bytes += sizeof(*k) + cap;
        *all += sizeof(*k) + cap;
    }
    memcpy(k->data + k->len, p, n);
    k->len += n;
    return 0;
}

int clients_pending(const struct client *c)
{
    return c->stream.head || c->replies.head;
}

void clients_drop(int i)
{
    struct client *c = clients_list[i];

    if (fdid_same(c->fd, &c->id))
        fds_close(c->fd); /* else the number is the program's now: leave it */
    requests_drop(c);
    decode_free(&c->dec);
    queue_free(&c->stream, &clients_stream_bytes);
    queue_free(&c->replies, &clients_reply_bytes);
    free(c);
    clients_list[i] = clients_list[--clients_n];
}

/* The client whose stream queue is the longest (-1 if none holds any). */
static int furthest_behind(void)
{
    int w = -1;

    for (int i = 0; i < clients_n; i++)
        if (clients_list[i]->stream.bytes &&
            (w < 0 || clients_list[i]->stream.bytes > clients_list[w]->stream.bytes))
            w = i;
    return w;
}

/* Drops clients, furthest behind first, while all of them hold more than
 * SERVER_ALL_HARD of stream. */
static void enforce_budget(void)
{
    clients_note_held();
    while (clients_stream_bytes > SERVER_ALL_HARD) {
        int w = furthest_behind();

        if (w < 0)
            break;
        clients_drop(w);
    }
}

static void burst_send(void *arg, const char *bytes, size_t n)
{
    struct client *c = arg;

    clients_queue_put(&c->stream, &clients_stream_bytes, bytes, n);
}

/* Sends what it can, replies first: the stream's chunk in progress is
 * finished (a reply may not cut a message), then replies, then the stream. */
void clients_write(int i)
{
    struct client *c = clients_list[i];

    if (!fdid_same(c->fd, &c->id)) {
        clients_drop(i);
        return;
    }
    for (;;) {
        struct queue *q;
        size_t *all;

        if (c->stream.head && c->stream.head->off > 0)
            q = &c->stream, all = &clients_stream_bytes;
        else if (c->replies.head)
            q = &c->replies, all = &clients_reply_bytes;
        else if (c->stream.head)
            q = &c->stream, all = &clients_stream_bytes;
        else
            return;
        struct chunk *k = q->head;
        if (k->off == k->len) {
            queue_pop(q, all);
            continue;
        }
        ssize_t w = send(c->fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                clients_drop(i);
            return;
        }
        c->sent += (size_t)w;
        k->off += (size_t)w;
        if (k->off < k->len)
            return; /* the socket is full */
        queue_pop(q, all);
    }
}

void clients_add(int fd)
{
    struct client *c;
    int64_t now = core_now();

    if (clients_n == SERVER_MAX_CLIENTS) {
        /* full: the client that has taken nothing for the longest makes
         * room, if it has for SERVER_EVICT_NS */
        int w = 0;

        for (int i = 1; i < clients_n; i++)
            if (clients_list[i]->last_progress < clients_list[w]->last_progress)
                w = i;
        if (now - clients_list[w]->last_progress < SERVER_EVICT_NS) {
            close(fd);
            return;
        }
        clients_drop(w);
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fds_adopt(fd);
    fdid_take(c->fd, &c->id);
    decode_init(&c->dec);
    c->last_progress = now;
    clients_list[clients_n++] = c;
    collect_attach_burst(burst_send, c);
    clients_write(clients_n - 1);
    enforce_budget();
}

void clients_broadcast(const char *data, size_t n, uint32_t n_events)
{
    for (int i = 0; i < clients_n; i++) {
        struct client *c = clients_list[i];

        if (n_events) {
            size_t q = c->stream.bytes + n;

            if (!c->ticks_only &&
                (q > SERVER_CLIENT_SOFT ||
                 (clients_stream_bytes + n > SERVER_ALL_SOFT && q > SERVER_ALL_SOFT / clients_n)))
                c->ticks_only = 1;
            if (c->ticks_only) {
                c->missed += n_events;
                continue;
            }
        }
        if (c->stream.bytes + n > SERVER_CLIENT_HARD ||
            clients_queue_put(&c->stream, &clients_stream_bytes, data, n) < 0)
            clients_drop(i--);
    }
    enforce_budget();
}

/* Drops the clients that have taken nothing for SERVER_STALL_NS: a client
 * took something when the bytes waiting in its socket are fewer than were
 * there at the last look plus what was sent since. */
static void look_for_stalls(int64_t now)
{
    for (int i = clients_n - 1; i >= 0; i--) {
        struct client *c = clients_list[i];
        int outq = 0;

        if (ioctl(c->fd, SIOCOUTQ, &outq) < 0)
            outq = 0;
        if ((uint64_t)outq < (uint64_t)c->outq + c->sent || (!outq && !clients_pending(c)))
            c->last_progress = now;
        c->outq = outq;
        c->sent = 0;
        if (now - c->last_progress > SERVER_STALL_NS)
            clients_drop(i);
    }
}

void clients_tick(void)
{
    char tmp[32];
    struct encode_buf b;
    int64_t now = core_now();

    for (int i = 0; i < clients_n; i++) {
        struct client *c = clients_list[i];

        if (c->missed == c->missed_sent)
            continue;
        encode_init(&b, tmp, sizeof(tmp));
        if (encode_missed(&b, c->missed) == 0 &&
            clients_queue_put(&c->stream, &clients_stream_bytes, b.data, b.len) == 0)
            c->missed_sent = c->missed;
    }
    if (now >= next_progress) {
        look_for_stalls(now);
        next_progress = now + SERVER_PROGRESS_NS;
    }
}

void clients_atfork_child(void)
{
    for (int i = 0; i < clients_n; i++)
        fds_close(clients_list[i]->fd);
    clients_n = 0; /* the parent's memory: left alone */
    clients_stream_bytes = clients_reply_bytes = 0;
    held_peak = 0;
}
