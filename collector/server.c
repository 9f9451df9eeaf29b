/*
 * server.c - the live socket.
 *
 * Invariant: nothing here makes the program wait on a client. Every socket
 * is non-blocking; every request is answered from work done in steps of at
 * most SERVER_TURN_NS per collector turn (objects and containing-block
 * lookups walk the live table a slice at a time; scans run in forked
 * children, at most max_scans at once); and what the clients hold of
 * the program's memory is bounded in all (see the limits below and README's
 * "What a client can cost the program"). A client is served one request at
 * a time: its next request is read once the last is answered, so a client
 * that never reads its replies holds one reply, not thousands. Replies go
 * out before the event stream queued for that client (at a message
 * boundary), so an answer does not wait behind megabytes of events. A
 * client that falls behind the stream is downgraded to ticks only and told
 * how many events it missed; one that takes nothing for SERVER_STALL_NS is
 * dropped. Only clients of our own uid are served (SO_PEERCRED).
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "collect.h"
#include "core.h"
#include "decode.h"
#include "fdid.h"
#include "fds.h"
#include "live.h"
#include "ring.h"
#include "scan.h"
#include "sockdir.h"
#include "wire.h"

/* Memory: queued stream bytes per client past which it gets ticks only, and
 * past which it is dropped; the same for all clients together (a client
 * over its share, SERVER_ALL_SOFT / clients, is downgraded when the total is
 * past SERVER_ALL_SOFT; past SERVER_ALL_HARD the one furthest behind is
 * dropped). Replies: a client's requests are read while its unsent replies
 * are under SERVER_REPLY_SOFT; an objects walk or a scan starts while all
 * clients' unsent replies are under SERVER_REPLIES_ALL. A request may not
 * pass SERVER_REQUEST_MAX bytes. In all, at most ~60 MB (README). */
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
#define SERVER_REQUEST_MAX (128u << 10)
/* Objects in one answer (the TUI's objects view asks 10000; the answer's
 * total says how many there are): an objects job holds 16 bytes a block
 * while it walks and 48 when it answers. */
#define SERVER_MAX_OBJECTS 10000u
#define SERVER_MAX_CLIENTS 64
#define SERVER_BACKLOG 128
/* Time: request work per collector turn, and in the long run a quarter of
 * the time at most (of one core: the collector thread's); live-table slots
 * walked between two looks at the clock. */
#define SERVER_TURN_NS 1000000
#define SERVER_WORK_SHARE 4
#define SERVER_WALK_STEP 8192u
#define SERVER_POLL_NS 1000000 /* a busy collector looks at its clients this often */
/* A client that has taken none of what was sent to it for this long is
 * dropped; when all SERVER_MAX_CLIENTS places are taken, a newcomer takes
 * the place of the client that has taken nothing for the longest, if that is
 * SERVER_EVICT_NS or more (else it is refused). */
#define SERVER_STALL_NS (15 * 1000000000LL)
#define SERVER_EVICT_NS (2 * 1000000000LL)
#define SERVER_PROGRESS_NS (200 * 1000000LL) /* how often stalls are looked for */
/* Scans: forked children at once, and requests waiting for one. */
#define SERVER_MAX_SCANS 2 /* on 4 CPUs or more; 1 below (a scan takes a CPU) */
#define SERVER_SCANS_WAITING 30

/* The scan engine may not be linked in: call it through weak references. */
extern struct scan_job *scan_start(const struct scan_source *src, uint32_t req_id, uint64_t target,
                                   uint32_t max_depth, uint32_t max_fanout, const char **err)
    __attribute__((weak));
extern int scan_job_fd(const struct scan_job *job) __attribute__((weak));
extern int scan_job_read(struct scan_job *job) __attribute__((weak));
extern int scan_job_encode(struct scan_job *job, struct encode_buf *b) __attribute__((weak));
extern void scan_job_free(struct scan_job *job) __attribute__((weak));

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

/* A block selected for an objects answer. 16 bytes rather than a whole
 * wire_object: the heap's sifts were cache misses (a 100000-object request
 * on 300k blocks took 3x longer with 48-byte items). */
struct sel_key {
    int64_t time;
    uint64_t addr;
};

/* The request in progress. */
enum job_kind {
    JOB_NONE,
    JOB_OBJECTS, /* walking the live table for blocks of some stacks */
    JOB_SORT,    /* ordering what it selected, oldest first */
    JOB_CHECK,   /* dropping what was freed (or seen twice) meanwhile */
    JOB_FIND,    /* walking the live table for the block containing addr */
    JOB_SCAN     /* waiting for a scan slot */
};

struct job {
    enum job_kind kind;
    uint64_t order; /* first come, first served */
    uint32_t req_id, kind_req;
    uint64_t addr;
    uint32_t len, depth, fanout;
    size_t cursor;
    unsigned gen;
    /* objects */
    uint32_t *ids;
    size_t n_ids;
    struct sel_key *sel; /* a max-heap by (time, addr) while walking */
    size_t n_sel, cap_sel, max_sel;
    struct wire_object *out; /* the answer, built from the live table */
    uint64_t total;
    /* find */
    uint64_t found;
};

struct client {
    int fd;
    struct fdid id; /* what fd names: a program may dup2 over it */
    struct queue stream, replies;
    int ticks_only;
    uint64_t missed, missed_sent;
    struct decode dec;
    int starved; /* dec holds no whole request: wait for more bytes */
    struct job job;
    struct scan_job *scan;
    uint64_t scan_addr; /* what the running scan was asked */
    uint32_t scan_req, scan_depth, scan_fanout;
    int64_t last_progress; /* when it last took something or sent a byte */
    uint64_t sent;         /* bytes handed to the kernel since the last look */
    int outq;              /* unread bytes in the socket at the last look */
};

static int listen_fd = -1;
static struct fdid listen_id;
static char sock_path[108];
static struct client *clients[SERVER_MAX_CLIENTS];
static int n_clients;
static size_t stream_all, replies_all; /* queued bytes of all clients */
static uint64_t job_order;
static int work_left; /* request work is waiting: do not sleep in poll */
static int64_t next_progress;
static size_t held_peak; /* most memory the clients held at once (HEAPLINE_STATS) */
static int64_t work_tokens, work_refilled; /* ns of request work allowed now */
/* a request about the heap came: the collector catches up with the program
 * before any job runs (server_work), so the answer is the heap at the
 * request, not the heap when a collector behind last applied its events */
static int catch_up;
static int64_t last_poll;
static int max_scans = 1; /* scan children at once (server_open) */

/* What the clients hold of the program's memory now: queues, request
 * decoders, jobs. */
static size_t clients_held(void)
{
    size_t n = stream_all + replies_all;

    for (int i = 0; i < n_clients; i++) {
        const struct client *c = clients[i];

        n += sizeof(*c) + c->dec.cap + c->job.cap_sel * sizeof(struct sel_key) +
             (c->job.out ? c->job.n_sel * sizeof(struct wire_object) : 0) +
             c->job.n_ids * sizeof(uint32_t);
    }
    return n;
}

static char sock_dir_override[108]; /* HEAPLINE_SOCKET_DIR, read at start-up */

void server_set_dir(const char *dir)
{
    snprintf(sock_dir_override, sizeof(sock_dir_override), "%s", dir && *dir ? dir : "");
}

int server_default_path(char *buf, size_t cap)
{
    char dir[108], first[108] = "";
    int n;

    /* the first usable candidate (sockdir.h), created when missing; when
     * none is usable, the first one, so that server_open() says why */
    for (int i = 0; i < SOCKDIR_CANDIDATES; i++) {
        if (sockdir_candidate(i, sock_dir_override, dir, sizeof(dir)) != 1)
            continue;
        if (!first[0])
            memcpy(first, dir, sizeof(dir));
        if (sockdir_check(dir, i == SOCKDIR_HOME ? SOCKDIR_MKDIR_PARENT : SOCKDIR_MKDIR) == 0) {
            memcpy(first, dir, sizeof(dir));
            break;
        }
    }
    if (!first[0])
        return -1;
    n = snprintf(buf, cap, "%s/%d.sock", first, (int)getpid());
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The directory must be ours, a real directory, and closed to others. */
static int check_dir(const char *dir, const char **why)
{
    static char msg[160];
    int r = sockdir_check(dir, SOCKDIR_MKDIR);

    if (r == 0)
        return 0;
    snprintf(msg, sizeof(msg), "socket directory %s: %s", dir, sockdir_strerror(r));
    *why = msg;
    return -1;
}

/* 1 when nobody listens on the socket at path (connect is refused): a pid
 * of another pid namespace may share the directory and still be alive. */
static int refuses(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, path);
    fd = fds_adopt(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0)
        return 0;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == ECONNREFUSED;
    fds_close(fd);
    return r;
}

/* Sockets left by processes that died without cleaning up (SIGKILL, _exit,
 * exec of a program without the collector) in our private directory. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        char path[300];

        if (pid <= 0 || strcmp(end, ".sock") != 0)
            continue;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (refuses(path))
                unlink(path);
        }
    }
    closedir(d);
}

int server_open(const char *path, int check, const char **why)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);

    if (n >= sizeof(sa.sun_path)) {
        *why = "socket path too long";
        return -1;
    }
    if (check) {
        char dir[108];
        char *slash;

        memcpy(dir, path, n + 1);
        slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            if (check_dir(dir, why) < 0)
                return -1;
            remove_stale(dir);
        }
    }
    listen_fd = fds_adopt(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (listen_fd < 0) {
        *why = "cannot create a socket";
        return -1;
    }
    memcpy(sa.sun_path, path, n + 1);
    unlink(path); /* a stale socket of an earlier image of this pid (exec) */
    if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
        listen(listen_fd, SERVER_BACKLOG) < 0) {
        *why = "cannot bind the socket";
        fds_close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    memcpy(sock_path, path, n + 1);
    fdid_take(listen_fd, &listen_id);
    max_scans = sysconf(_SC_NPROCESSORS_ONLN) >= 4 ? SERVER_MAX_SCANS : 1;
    n_clients = 0;
    return 0;
}

/* ---- output queues ---- */

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
static int queue_put(struct queue *q, size_t *all, const char *p, size_t n)
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

static int client_pending(const struct client *c)
{
    return c->stream.head || c->replies.head;
}

static void client_drop(int i)
{
    struct client *c = clients[i];

    if (fdid_same(c->fd, &c->id))
        fds_close(c->fd); /* else the number is the program's now: leave it */
    if (c->scan && scan_job_free)
        scan_job_free(c->scan);
    decode_free(&c->dec);
    queue_free(&c->stream, &stream_all);
    queue_free(&c->replies, &replies_all);
    free(c->job.ids);
    free(c->job.sel);
    free(c);
    clients[i] = clients[--n_clients];
}

/* The client whose stream queue is the longest (-1 if none holds any). */
static int furthest_behind(void)
{
    int w = -1;

    for (int i = 0; i < n_clients; i++)
        if (clients[i]->stream.bytes &&
            (w < 0 || clients[i]->stream.bytes > clients[w]->stream.bytes))
            w = i;
    return w;
}

/* Drops clients, furthest behind first, while all of them hold more than
 * SERVER_ALL_HARD of stream. */
static void enforce_budget(void)
{
    size_t held = clients_held();

    if (held > held_peak)
        held_peak = held;
    while (stream_all > SERVER_ALL_HARD) {
        int w = furthest_behind();

        if (w < 0)
            break;
        client_drop(w);
    }
}

static void burst_send(void *arg, const char *bytes, size_t n)
{
    struct client *c = arg;

    queue_put(&c->stream, &stream_all, bytes, n);
}

/* Sends what it can, replies first: the stream's chunk in progress is
 * finished (a reply may not cut a message), then replies, then the stream. */
static void client_write(int i)
{
    struct client *c = clients[i];

    if (!fdid_same(c->fd, &c->id)) {
        client_drop(i);
        return;
    }
    for (;;) {
        struct queue *q;
        size_t *all;

        if (c->stream.head && c->stream.head->off > 0)
            q = &c->stream, all = &stream_all;
        else if (c->replies.head)
            q = &c->replies, all = &replies_all;
        else if (c->stream.head)
            q = &c->stream, all = &stream_all;
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
                client_drop(i);
            return;
        }
        c->sent += (size_t)w;
        k->off += (size_t)w;
        if (k->off < k->len)
            return; /* the socket is full */
        queue_pop(q, all);
    }
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct client *c;
        int64_t now = core_now();

        if (fd < 0)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid()) {
            close(fd);
            continue;
        }
        if (n_clients == SERVER_MAX_CLIENTS) {
            /* full: the client that has taken nothing for the longest
             * makes room, if it has for SERVER_EVICT_NS */
            int w = 0;

            for (int i = 1; i < n_clients; i++)
                if (clients[i]->last_progress < clients[w]->last_progress)
                    w = i;
            if (now - clients[w]->last_progress < SERVER_EVICT_NS) {
                close(fd);
                continue;
            }
            client_drop(w);
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fds_adopt(fd);
        fdid_take(c->fd, &c->id);
        decode_init(&c->dec);
        c->last_progress = now;
        clients[n_clients++] = c;
        collect_attach_burst(burst_send, c);
        client_write(n_clients - 1);
        enforce_budget();
    }
}

void server_broadcast(const char *data, size_t n, uint32_t n_events)
{
    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];

        if (n_events) {
            size_t q = c->stream.bytes + n;

            if (!c->ticks_only && (q > SERVER_CLIENT_SOFT || (stream_all + n > SERVER_ALL_SOFT &&
                                                              q > SERVER_ALL_SOFT / n_clients)))
                c->ticks_only = 1;
            if (c->ticks_only) {
                c->missed += n_events;
                continue;
            }
        }
        if (c->stream.bytes + n > SERVER_CLIENT_HARD ||
            queue_put(&c->stream, &stream_all, data, n) < 0)
            client_drop(i--);
    }
    enforce_budget();
}

/* Drops the clients that have taken nothing for SERVER_STALL_NS: a client
 * took something when the bytes waiting in its socket are fewer than were
 * there at the last look plus what was sent since. */
static void look_for_stalls(int64_t now)
{
    for (int i = n_clients - 1; i >= 0; i--) {
        struct client *c = clients[i];
        int outq = 0;

        if (ioctl(c->fd, SIOCOUTQ, &outq) < 0)
            outq = 0;
        if ((uint64_t)outq < (uint64_t)c->outq + c->sent || (!outq && !client_pending(c)))
            c->last_progress = now;
        c->outq = outq;
        c->sent = 0;
        if (now - c->last_progress > SERVER_STALL_NS)
            client_drop(i);
    }
}

void server_tick(void)
{
    char tmp[32];
    struct encode_buf b;
    int64_t now = core_now();

    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];

        if (c->missed == c->missed_sent)
            continue;
        encode_init(&b, tmp, sizeof(tmp));
        if (encode_missed(&b, c->missed) == 0 &&
            queue_put(&c->stream, &stream_all, b.data, b.len) == 0)
            c->missed_sent = c->missed;
    }
    if (now >= next_progress) {
        look_for_stalls(now);
        next_progress = now + SERVER_PROGRESS_NS;
    }
}

/* ---- requests ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Older first: by time, then address. */
static int obj_before(const struct sel_key *x, const struct sel_key *y)
{
    return x->time != y->time ? x->time < y->time : x->addr < y->addr;
}

/* The max-heap of the selection (the newest kept block on top). */
static void sift_down(struct sel_key *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;

        if (l < n && obj_before(&h[m], &h[l]))
            m = l;
        if (l + 1 < n && obj_before(&h[m], &h[l + 1]))
            m = l + 1;
        if (m == i)
            return;
        struct sel_key t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(struct sel_key *h, size_t i)
{
    while (i > 0 && obj_before(&h[(i - 1) / 2], &h[i])) {
        struct sel_key t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void obj_cb(void *arg, const struct live_entry *e)
{
    struct job *j = arg;
    uint32_t stack = (uint32_t)e->stack;
    struct sel_key o;

    if (!bsearch(&stack, j->ids, j->n_ids, sizeof(uint32_t), cmp_u32))
        return;
    j->total++;
    o = (struct sel_key){(int64_t)e->time, e->addr};
    if (j->n_sel < j->max_sel) {
        if (j->n_sel == j->cap_sel) {
            size_t cap = j->cap_sel ? j->cap_sel * 2 : 256;
            void *p;

            if (cap > j->max_sel)
                cap = j->max_sel;
            p = realloc(j->sel, cap * sizeof(*j->sel));
            if (!p)
                return;
            j->sel = p;
            j->cap_sel = cap;
        }
        j->sel[j->n_sel] = o;
        sift_up(j->sel, j->n_sel++);
    } else if (j->max_sel && obj_before(&o, &j->sel[0])) {
        j->sel[0] = o;
        sift_down(j->sel, j->n_sel, 0);
    }
}

static void find_cb(void *arg, const struct live_entry *e)
{
    struct job *j = arg;

    if (!j->found && j->addr >= e->addr && j->addr - e->addr < (e->size ? e->size : 1))
        j->found = e->addr;
}

/* Queues a reply. Returns -1 when the client was dropped (out of memory). */
static int reply(int i, struct encode_buf *b)
{
    if (b->len && queue_put(&clients[i]->replies, &replies_all, b->data, b->len) < 0) {
        client_drop(i);
        return -1;
    }
    return 0;
}

static void job_end(struct job *j)
{
    free(j->ids);
    free(j->sel);
    free(j->out);
    memset(j, 0, sizeof(*j));
}

static void answer_read(int i, uint32_t req_id, const struct live_entry *e, uint32_t len)
{
    struct encode_buf *b = collect_scratch();
    char bytes[WIRE_MAX_READ];

    if (len > WIRE_MAX_READ)
        len = WIRE_MAX_READ;
    if (len > e->size)
        len = (uint32_t)e->size;
    /* process_vm_readv: the program may have freed (and unmapped) the block
     * since; a fault is then an error, not a crash */
    struct iovec local = {bytes, len}, remote = {(void *)(uintptr_t)e->addr, len};
    if (len && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)len)
        encode_resp_error(b, req_id, -EFAULT, "block no longer readable");
    else
        encode_resp_read(b, req_id, e->addr, e->size, bytes, len);
    reply(i, b);
}

static void answer_error(int i, uint32_t req_id, int32_t status, const char *msg)
{
    struct encode_buf *b = collect_scratch();

    encode_resp_error(b, req_id, status, msg);
    reply(i, b);
}

/* The live block containing addr when it starts at most 4 KB before it
 * (256 lookups at the 16-byte steps malloc aligns blocks to). NULL with
 * *none set when the nearest block before ends before addr (blocks do not
 * overlap: nothing contains it); NULL alone when a walk of the table must
 * tell. */
static struct live_entry *find_near(uint64_t addr, int *none)
{
    *none = 0;
    for (uint64_t k = 0, a = addr & ~15ull; k < 256 && a >= 16 * k; k++) {
        struct live_entry *e = live_find(a - 16 * k);

        if (e) {
            *none = addr - e->addr >= (e->size ? e->size : 1);
            return *none ? NULL : e;
        }
    }
    return NULL;
}

static int scans_running(void)
{
    int n = 0;

    for (int i = 0; i < n_clients; i++)
        n += clients[i]->scan != NULL;
    return n;
}

static int scans_asked(void)
{
    int n = 0;

    for (int i = 0; i < n_clients; i++) {
        const struct job *j = &clients[i]->job;

        n += clients[i]->scan != NULL || j->kind == JOB_SCAN ||
             (j->kind == JOB_FIND && j->kind_req == WIRE_REQ_SCAN);
    }
    return n;
}

/* Takes one request: answers it at once when that is cheap (a read of a
 * block start, an error), else makes it the client's job. */
static void take_request(int i, const struct wire_msg *m)
{
    struct client *c = clients[i];
    struct job *j = &c->job;
    uint32_t id = m->u.request.id;

    switch (m->u.request.kind) {
    case WIRE_REQ_OBJECTS: {
        size_t n = 0, max = m->u.request.max;

        j->ids = malloc((m->u.request.stacks.n + 1) * sizeof(uint32_t));
        if (!j->ids) {
            answer_error(i, id, -ENOMEM, "out of memory");
            return;
        }
        for (uint32_t k = 0; k < m->u.request.stacks.n; k++)
            if (decode_u32_at(&m->u.request.stacks, k, WIRE_MAX_STACK_ID, &j->ids[n]) == 1)
                n++;
        qsort(j->ids, n, sizeof(*j->ids), cmp_u32);
        j->n_ids = n;
        j->max_sel = max > SERVER_MAX_OBJECTS ? SERVER_MAX_OBJECTS : max;
        j->kind = JOB_OBJECTS;
        catch_up = 1;
        break;
    }
    case WIRE_REQ_READ: {
        int none;
        struct live_entry *e = find_near(m->u.request.addr, &none);

        if (e) {
            answer_read(i, id, e, m->u.request.len);
            return;
        }
        if (none) {
            answer_error(i, id, -EFAULT, "not inside a live block");
            return;
        }
        j->kind = JOB_FIND;
        break;
    }
    case WIRE_REQ_SCAN: {
        int none;

        if (!scan_start || !scan_job_fd || !scan_job_read || !scan_job_encode || !scan_job_free) {
            answer_error(i, id, -ENOSYS, "scan engine not available");
            return;
        }
        if (scans_asked() >= max_scans + SERVER_SCANS_WAITING) {
            char msg[80];

            snprintf(msg, sizeof(msg),
                     "too many scans at once (%d running, %d waiting): try again later", max_scans,
                     SERVER_SCANS_WAITING);
            answer_error(i, id, -EBUSY, msg);
            return;
        }
        /* an address not in the table may be a block the collector has
         * not applied yet: looked for again (JOB_FIND) after the catch-up */
        if (m->u.request.addr == 0 || find_near(m->u.request.addr, &none))
            j->kind = JOB_SCAN; /* address 0: the census (wire.h) */
        else
            j->kind = JOB_FIND;
        catch_up = 1;
        break;
    }
    default:
        answer_error(i, id, -EINVAL, "unknown request");
        return;
    }
    j->req_id = id;
    j->kind_req = m->u.request.kind;
    j->addr = m->u.request.addr;
    j->len = m->u.request.len;
    j->depth = m->u.request.max_depth;
    j->fanout = m->u.request.max_fanout;
    j->order = ++job_order;
    j->gen = live_generation();
}

static int can_take_requests(const struct client *c)
{
    return c->job.kind == JOB_NONE && !c->scan && c->replies.bytes < SERVER_REPLY_SOFT;
}

/* Takes the client's requests already received while it may have more. */
static void client_decode(int i)
{
    struct client *c = clients[i];
    struct wire_msg m;
    int rc = 1;

    if (c->starved)
        return;
    while (can_take_requests(c) && (rc = decode_next(&c->dec, &m)) == 1) {
        if (m.type != WIRE_REQUEST)
            continue;
        take_request(i, &m);
        if (i >= n_clients || clients[i] != c)
            return; /* dropped */
    }
    c->starved = rc == WIRE_ENEEDMORE;
    if ((rc < 0 && rc != WIRE_ENEEDMORE) || c->dec.len - c->dec.off > SERVER_REQUEST_MAX)
        client_drop(i); /* a corrupt request stream, or a request too large */
}

static void client_read(int i)
{
    struct client *c = clients[i];
    char buf[16384];
    ssize_t r;

    if (!fdid_same(c->fd, &c->id)) {
        client_drop(i);
        return;
    }
    r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
        client_drop(i);
        return;
    }
    if (r < 0)
        return;
    c->starved = 0;
    if (decode_feed(&c->dec, buf, (size_t)r) < 0) {
        client_drop(i);
        return;
    }
    client_decode(i);
}

static void scan_blocks(void *ctx, scan_block_fn *fn, void *arg);

struct scan_walk {
    scan_block_fn *fn;
    void *arg;
};

static void scan_block_cb(void *arg, const struct live_entry *e)
{
    struct scan_walk *w = arg;

    w->fn(w->arg, e->addr, e->size, (uint32_t)e->stack, (uint32_t)e->seq);
}

static void scan_blocks(void *ctx, scan_block_fn *fn, void *arg)
{
    struct scan_walk w = {fn, arg};

    live_foreach(scan_block_cb, &w);
}

static void start_scan(int i)
{
    struct client *c = clients[i];
    struct job *j = &c->job;
    struct scan_source src = {0};
    struct scan_range *stacks = NULL;
    size_t n = 0, cap = 0;
    const char *err = NULL;

    for (struct ring *r = ring_list(); r; r = r->next) {
        if (atomic_load(&r->dead) || !r->stack_hi)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            void *p = realloc(stacks, cap * sizeof(*stacks));
            if (!p)
                break;
            stacks = p;
        }
        stacks[n++] = (struct scan_range){r->stack_lo, r->stack_hi, r->thread_id, r->tid};
    }
    src.for_each_block = scan_blocks;
    src.ctx = NULL;
    src.n_blocks = live_count();
    src.stacks = stacks;
    src.n_stacks = n;
    core_scan_fork_enter();
    c->scan = scan_start(&src, j->req_id, j->addr, j->depth, j->fanout, &err);
    c->scan_req = j->req_id;
    c->scan_addr = j->addr;
    c->scan_depth = j->depth;
    c->scan_fanout = j->fanout;
    core_scan_fork_leave();
    free(stacks);
    job_end(j);
    if (!c->scan)
        answer_error(i, c->scan_req, -EIO, err ? err : "scan failed");
}

/* The bytes a job's answer may take (an objects answer: ~35 per object). */
static size_t reply_estimate(const struct job *j)
{
    size_t n = j->kind == JOB_FIND ? WIRE_MAX_READ : j->max_sel * 40;

    return (n < WIRE_MAX_MESSAGE ? n : WIRE_MAX_MESSAGE) + 64;
}

/* The oldest job that walks (want_walk) or waits for a scan slot, of those
 * that may go on: a walk not started yet starts when its answer fits in
 * what is left of SERVER_REPLIES_ALL (a large answer nobody reads does not
 * hold back small ones), a scan while anything is left. -1 when none. */
static int oldest_job(int want_walk)
{
    int w = -1;
    size_t room = replies_all < SERVER_REPLIES_ALL ? SERVER_REPLIES_ALL - replies_all : 0;

    for (int i = 0; i < n_clients; i++) {
        const struct job *j = &clients[i]->job;
        int walk = j->kind != JOB_NONE && j->kind != JOB_SCAN;
        int started = j->kind != JOB_FIND && (j->kind != JOB_OBJECTS || j->cursor > 0);

        if (j->kind == JOB_NONE || walk != want_walk)
            continue;
        if (walk ? !started && reply_estimate(j) > room : room == 0)
            continue;
        if (w < 0 || j->order < clients[w]->job.order)
            w = i;
    }
    return w;
}

static int reply_as(int i, const char *msg, size_t n, uint32_t id);

/* The same objects request asked by others while c's was answered, not
 * started yet: answered by it (twenty `heapline backrefs --site F` at once
 * ask the same thing, and each walk of the table took its turn). */
static void answer_same_objects(const struct client *c, const struct encode_buf *b)
{
    const struct job *j = &c->job;

    for (int k = n_clients - 1; k >= 0; k--) {
        struct job *o = k < n_clients ? &clients[k]->job : NULL;

        if (!o || clients[k] == c || o->kind != JOB_OBJECTS || o->cursor || o->total ||
            o->max_sel != j->max_sel || o->n_ids != j->n_ids ||
            memcmp(o->ids, j->ids, j->n_ids * sizeof(*j->ids)) != 0)
            continue;
        if (reply_as(k, b->data, b->len, o->req_id) == 0)
            job_end(o);
    }
}

/* One step (SERVER_WALK_STEP slots or entries) of the client's job. */
static void job_step(int i)
{
    struct client *c = clients[i];
    struct job *j = &c->job;

    switch (j->kind) {
    case JOB_OBJECTS:
    case JOB_FIND:
        if (j->gen != live_generation()) { /* the table was resized: again */
            j->gen = live_generation();
            j->cursor = 0;
            j->n_sel = 0;
            j->total = 0;
            j->found = 0;
        }
        j->cursor =
            live_walk(j->cursor, SERVER_WALK_STEP, j->kind == JOB_FIND ? find_cb : obj_cb, j);
        if (j->kind == JOB_FIND && (j->found || j->cursor >= live_slots())) {
            struct live_entry *e = j->found ? live_find(j->found) : NULL;

            if (!e) {
                answer_error(i, j->req_id, -EFAULT, "not inside a live block");
            } else if (j->kind_req == WIRE_REQ_READ) {
                answer_read(i, j->req_id, e, j->len);
            } else {
                j->kind = JOB_SCAN;
                break;
            }
            if (i < n_clients && clients[i] == c) /* else dropped, job and all */
                job_end(j);
        } else if (j->kind == JOB_OBJECTS && j->cursor >= live_slots()) {
            j->kind = JOB_SORT;
            j->cursor = j->n_sel; /* heap sort: the heap is sel[0, cursor) */
        }
        break;
    case JOB_SORT:
        for (unsigned k = 0; k < SERVER_WALK_STEP && j->cursor > 1; k++) {
            struct sel_key t = j->sel[0];

            j->sel[0] = j->sel[--j->cursor];
            j->sel[j->cursor] = t;
            sift_down(j->sel, j->cursor, 0);
        }
        if (j->cursor <= 1) {
            j->out = malloc((j->n_sel ? j->n_sel : 1) * sizeof(*j->out));
            if (!j->out) {
                answer_error(i, j->req_id, -ENOMEM, "out of memory");
                if (i < n_clients && clients[i] == c)
                    job_end(j);
                break;
            }
            j->kind = JOB_CHECK;
            j->cursor = 0;
            j->found = 0; /* entries kept so far */
        }
        break;
    case JOB_CHECK: {
        size_t end =
            j->cursor + SERVER_WALK_STEP < j->n_sel ? j->cursor + SERVER_WALK_STEP : j->n_sel;

        for (; j->cursor < end; j->cursor++) {
            const struct sel_key *o = &j->sel[j->cursor];
            struct live_entry *e = live_find(o->addr);
            int dup = j->found && j->out[j->found - 1].addr == o->addr;

            if (!e || (int64_t)e->time != o->time || dup) {
                j->total -= j->total > 0;
                continue;
            }
            j->out[j->found++] = (struct wire_object){e->addr,
                                                      e->size,
                                                      (uint32_t)e->stack,
                                                      (int64_t)e->time,
                                                      (uint32_t)e->thread,
                                                      (uint32_t)e->tag,
                                                      e->seq};
        }
        if (j->cursor == j->n_sel) {
            struct encode_buf *b = collect_scratch();
            size_t n = j->found;

            while (encode_resp_objects(b, j->req_id, j->out, n, j->total) == WIRE_ENOSPACE && n)
                n /= 2;
            answer_same_objects(c, b);
            for (i = 0; i < n_clients && clients[i] != c; i++)
                ; /* where c is now (a drop moves the last client) */
            reply(i, b);
            if (i < n_clients && clients[i] == c)
                job_end(j);
        }
        break;
    }
    default:
        break;
    }
}

/* When all clients' unsent replies reach SERVER_REPLIES_ALL, drops those
 * that hold replies and have taken nothing for SERVER_EVICT_NS (largest
 * first): a client that asks and never reads may not hold the others'
 * answers back. */
static void relieve_replies(void)
{
    int64_t now = core_now();

    while (replies_all >= SERVER_REPLIES_ALL) {
        int w = -1;

        for (int i = 0; i < n_clients; i++) {
            const struct client *c = clients[i];

            if (c->replies.bytes && now - c->last_progress >= SERVER_EVICT_NS &&
                (w < 0 || c->replies.bytes > clients[w]->replies.bytes))
                w = i;
        }
        if (w < 0)
            return;
        client_drop(w);
    }
}

/* Request work for this turn: new requests, walks (oldest first) and scans
 * waiting for a slot, for SERVER_TURN_NS at most. Sets work_left when some
 * is left for the next turn. */
static void server_work(void)
{
    int64_t now = core_now(), until;
    int w;

    work_tokens += (now - work_refilled) / SERVER_WORK_SHARE;
    if (work_tokens > SERVER_TURN_NS)
        work_tokens = SERVER_TURN_NS;
    work_refilled = now;
    until = now + work_tokens;

    for (int i = n_clients - 1; i >= 0; i--)
        if (i < n_clients && can_take_requests(clients[i]))
            client_decode(i);
    if (catch_up) { /* here, where no client index is held: its stream may drop clients */
        catch_up = 0;
        collect_catch_up();
    }
    work_left = 0;
    relieve_replies();
    while (work_tokens > 0 && (w = oldest_job(1)) >= 0) {
        job_step(w);
        int64_t t = core_now();
        work_tokens -= t - now;
        now = t;
        if (now >= until)
            break;
    }
    /* more to do: come back at once while this turn's share lasts, else
     * at the collector's own pace */
    work_left = work_tokens > 0 && oldest_job(1) >= 0;
    while (scans_running() < max_scans && (w = oldest_job(0)) >= 0)
        start_scan(w);
    for (int i = n_clients - 1; i >= 0; i--)
        if (i < n_clients && clients[i]->replies.head)
            client_write(i);
    for (int i = 0; i < n_clients && !work_left; i++)
        work_left = can_take_requests(clients[i]) && !clients[i]->starved;
}

/* Queues the RESPONSE msg[0, n) with its request id replaced by id.
 * Returns 0, 1 when msg is not a RESPONSE it can rewrite (nothing queued),
 * or -1 when the client was dropped. */
static int reply_as(int i, const char *msg, size_t n, uint32_t id)
{
    const unsigned char *p = (const unsigned char *)msg;
    size_t off = (p[0] & 0xf0) == 0x90 ? 1 : p[0] == 0xdc ? 3 : p[0] == 0xdd ? 5 : 0;
    size_t w = 0;
    char *copy;
    struct encode_buf b;

    if (off && off + 1 < n && p[off] == WIRE_RESPONSE) {
        unsigned char c = p[off + 1];

        w = c <= 0x7f ? 1 : c == 0xcc ? 2 : c == 0xcd ? 3 : c == 0xce ? 5 : 0;
    }
    if (!w || off + 1 + w > n || !(copy = malloc(n + 8)))
        return 1;
    unsigned char *q = (unsigned char *)copy + off + 1;
    size_t k = 0;

    memcpy(copy, msg, off + 1);
    if (id <= 0x7f) {
        q[k++] = (unsigned char)id;
    } else if (id <= 0xff) {
        q[k++] = 0xcc;
        q[k++] = (unsigned char)id;
    } else if (id <= 0xffff) {
        q[k++] = 0xcd;
        q[k++] = (unsigned char)(id >> 8);
        q[k++] = (unsigned char)id;
    } else {
        q[k++] = 0xce;
        for (int s = 24; s >= 0; s -= 8)
            q[k++] = (unsigned char)(id >> s);
    }
    memcpy(q + k, msg + off + 1 + w, n - off - 1 - w);
    encode_init(&b, copy, n + 8);
    b.len = n - w + k;
    int r = reply(i, &b);
    free(copy);
    return r;
}

static void scan_progress(int i)
{
    struct client *c = clients[i];
    int r = scan_job_read(c->scan);

    if (r == 0)
        return;
    struct encode_buf *b = collect_scratch();
    scan_job_encode(c->scan, b);
    scan_job_free(c->scan);
    c->scan = NULL;
    /* the same scan asked by others while this one ran: answered by it
     * (twenty `heapline backrefs --site F` at once pick the same block) */
    for (int k = n_clients - 1; k >= 0; k--) {
        struct job *j = k < n_clients ? &clients[k]->job : NULL;

        if (k != i && j && j->kind == JOB_SCAN && j->addr == c->scan_addr &&
            j->depth == c->scan_depth && j->fanout == c->scan_fanout) {
            int q = reply_as(k, b->data, b->len, j->req_id);

            if (q == 0)
                job_end(j);
            else if (q < 0 && i == n_clients)
                i = k; /* client i was moved into k's place */
        }
    }
    reply(i, b);
}

void server_poll(int timeout_ms, int wake_fd)
{
    struct pollfd pfd[2 + 2 * SERVER_MAX_CLIENTS];
    int who[2 + 2 * SERVER_MAX_CLIENTS], what[2 + 2 * SERVER_MAX_CLIENTS];
    int n = 0;

    if (listen_fd < 0)
        return;
    /* a busy collector turns every few microseconds: look at the clients
     * once a millisecond at most (with 60 of them a poll of every socket
     * on each turn took a third of the collector's time) */
    int64_t now = core_now();
    if (timeout_ms == 0 && !work_left && now - last_poll < SERVER_POLL_NS)
        return;
    last_poll = now;
    if (work_left)
        timeout_ms = 0;
    pfd[n] = (struct pollfd){listen_fd, POLLIN, 0};
    who[n] = -1;
    what[n++] = 0;
    pfd[n] = (struct pollfd){wake_fd, POLLIN, 0}; /* fd -1 is ignored by poll */
    who[n] = -1;
    what[n++] = 2;
    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];
        short ev = (short)((can_take_requests(c) ? POLLIN : 0) | (client_pending(c) ? POLLOUT : 0));

        pfd[n] = (struct pollfd){c->fd, ev, 0};
        who[n] = i;
        what[n++] = 0;
        if (c->scan) {
            pfd[n] = (struct pollfd){scan_job_fd(c->scan), POLLIN, 0};
            who[n] = i;
            what[n++] = 1;
        }
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) < 0)
        return;
    /* handle clients from the last so that drops (which move the last
     * client into the hole) do not disturb indexes still to visit */
    if (pfd[1].revents & POLLIN) {
        uint64_t v;

        (void)!read(wake_fd, &v, sizeof(v));
    }
    for (int k = n - 1; k >= 2; k--) {
        int i = who[k];

        if (!pfd[k].revents || i >= n_clients)
            continue;
        if (what[k] == 1) {
            if (clients[i]->scan)
                scan_progress(i);
            continue;
        }
        if (pfd[k].revents & (POLLERR | POLLNVAL)) {
            client_drop(i);
            continue;
        }
        if (pfd[k].revents & POLLHUP) {
            client_drop(i); /* gone: nothing it asked for can reach it */
            continue;
        }
        if (pfd[k].revents & POLLIN) {
            int before = n_clients;

            client_read(i);
            if (n_clients != before)
                continue;
        }
        if (pfd[k].revents & POLLOUT)
            client_write(i);
    }
    if ((pfd[0].revents & POLLIN) && fdid_same(listen_fd, &listen_id))
        accept_clients();
    server_work();
    size_t held = clients_held();
    if (held > held_peak)
        held_peak = held;
}

void server_close(int timeout_ms)
{
    if (core_cfg.stats) {
        char msg[120];

        snprintf(msg, sizeof(msg), "stats: clients held at most %zu bytes", held_peak);
        core_say(msg);
    }
    for (int t = 0; t < timeout_ms && n_clients; t += 10) {
        int pending = 0;

        for (int i = n_clients - 1; i >= 0; i--) {
            client_write(i);
            if (i < n_clients && client_pending(clients[i]))
                pending = 1;
        }
        if (!pending)
            break;
        struct pollfd pfd[SERVER_MAX_CLIENTS];
        for (int i = 0; i < n_clients; i++)
            pfd[i] = (struct pollfd){clients[i]->fd, POLLOUT, 0};
        poll(pfd, (nfds_t)n_clients, 10);
    }
    while (n_clients)
        client_drop(n_clients - 1);
    if (listen_fd >= 0) {
        fds_close(listen_fd);
        unlink(sock_path);
    }
    listen_fd = -1;
}

void server_atfork_child(void)
{
    for (int i = 0; i < n_clients; i++)
        fds_close(clients[i]->fd);
    n_clients = 0; /* the parent's memory: left alone */
    stream_all = replies_all = 0;
    held_peak = 0;
    work_left = 0;
    if (listen_fd >= 0)
        fds_close(listen_fd);
    listen_fd = -1;
}
