/*
 * server.c - the live socket.
 *
 * Invariant: nothing here blocks the collector thread: every socket is
 * non-blocking; a client's queued output is bounded (SERVER_SOFT_LIMIT for
 * event batches, past which the client is downgraded to ticks only and told
 * how many events it missed; SERVER_HARD_LIMIT for anything, past which it is
 * dropped). Only clients of our own uid are served (SO_PEERCRED).
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "wire.h"

#define SERVER_SOFT_LIMIT (16u << 20)
#define SERVER_HARD_LIMIT (256u << 20)
#define SERVER_MAX_CLIENTS 64

/* The scan engine may not be linked in: call it through weak references. */
extern struct scan_job *scan_start(const struct scan_source *src, uint32_t req_id,
                                   uint64_t target, uint32_t max_depth, uint32_t max_fanout,
                                   const char **err) __attribute__((weak));
extern int scan_job_fd(const struct scan_job *job) __attribute__((weak));
extern int scan_job_read(struct scan_job *job) __attribute__((weak));
extern int scan_job_encode(struct scan_job *job, struct encode_buf *b) __attribute__((weak));
extern void scan_job_free(struct scan_job *job) __attribute__((weak));

struct client {
    int fd;
    struct fdid id; /* what fd names: a program may dup2 over it */
    char *buf;
    size_t len, off, cap;
    int ticks_only;
    uint64_t missed, missed_sent;
    struct decode dec;
    struct scan_job *scan;
};

static int listen_fd = -1;
static struct fdid listen_id;
static char sock_path[108];
static struct client *clients[SERVER_MAX_CLIENTS];
static int n_clients;

int server_default_path(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;

    if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/heapline/%d.sock", xdg, (int)getpid());
    else
        n = snprintf(buf, cap, "/tmp/heapline-%u/%d.sock", (unsigned)getuid(), (int)getpid());
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The directory must be ours, a real directory, and closed to others. */
static int check_dir(const char *dir, const char **why)
{
    struct stat st;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        *why = "cannot create the socket directory";
        return -1;
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *why = "socket directory is not a directory";
        return -1;
    }
    if (st.st_uid != getuid()) {
        *why = "socket directory is owned by another user";
        return -1;
    }
    if (st.st_mode & 022) {
        *why = "socket directory is writable by group or others";
        return -1;
    }
    return 0;
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
        listen(listen_fd, 16) < 0) {
        *why = "cannot bind the socket";
        fds_close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    memcpy(sock_path, path, n + 1);
    fdid_take(listen_fd, &listen_id);
    n_clients = 0;
    return 0;
}

static void client_drop(int i)
{
    struct client *c = clients[i];

    if (fdid_same(c->fd, &c->id))
        fds_close(c->fd); /* else the number is the program's now: leave it */
    if (c->scan && scan_job_free)
        scan_job_free(c->scan);
    decode_free(&c->dec);
    free(c->buf);
    free(c);
    clients[i] = clients[--n_clients];
}

/* Appends bytes to a client's queue. Returns -1 when past the hard limit. */
static int client_put(struct client *c, const char *p, size_t n)
{
    if (c->off && c->off == c->len)
        c->off = c->len = 0;
    if (c->len + n > c->cap) {
        if (c->off) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        if (c->len + n > c->cap) {
            size_t cap = c->cap ? c->cap : 1 << 16;
            char *b;

            while (cap < c->len + n)
                cap *= 2;
            if (cap > SERVER_HARD_LIMIT + WIRE_MAX_MESSAGE)
                return -1;
            b = realloc(c->buf, cap);
            if (!b)
                return -1;
            c->buf = b;
            c->cap = cap;
        }
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return 0;
}

static void burst_send(void *arg, const char *bytes, size_t n)
{
    client_put(arg, bytes, n);
}

static void client_write(int i)
{
    struct client *c = clients[i];

    if (!fdid_same(c->fd, &c->id)) {
        client_drop(i);
        return;
    }
    while (c->off < c->len) {
        ssize_t w = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                client_drop(i);
            return;
        }
        c->off += (size_t)w;
    }
    if (c->off == c->len)
        c->off = c->len = 0;
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct client *c;

        if (fd < 0)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != getuid() ||
            n_clients == SERVER_MAX_CLIENTS) {
            close(fd);
            continue;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fds_adopt(fd);
        fdid_take(c->fd, &c->id);
        decode_init(&c->dec);
        clients[n_clients++] = c;
        collect_attach_burst(burst_send, c);
    }
}

void server_broadcast(const char *data, size_t n, uint32_t n_events)
{
    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];

        if (n_events) {
            if (c->ticks_only) {
                c->missed += n_events;
                continue;
            }
            if (c->len - c->off + n > SERVER_SOFT_LIMIT) {
                c->ticks_only = 1;
                c->missed += n_events;
                continue;
            }
        }
        if (client_put(c, data, n) < 0)
            client_drop(i--);
    }
}

void server_tick(void)
{
    char tmp[32];
    struct encode_buf b;

    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];

        if (c->missed == c->missed_sent)
            continue;
        encode_init(&b, tmp, sizeof(tmp));
        if (encode_missed(&b, c->missed) == 0 && client_put(c, b.data, b.len) == 0)
            c->missed_sent = c->missed;
    }
}

/* ---- requests ---- */

struct obj_ctx {
    const uint32_t *stacks;
    size_t n_stacks;
    struct wire_object *out;
    size_t n, cap;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static void obj_cb(void *arg, const struct live_entry *e)
{
    struct obj_ctx *c = arg;

    uint32_t stack = (uint32_t)e->stack;

    if (!bsearch(&stack, c->stacks, c->n_stacks, sizeof(uint32_t), cmp_u32))
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        void *p = realloc(c->out, cap * sizeof(*c->out));

        if (!p)
            return;
        c->out = p;
        c->cap = cap;
    }
    c->out[c->n++] = (struct wire_object){e->addr,           e->size,          (uint32_t)e->stack,
                                          (int64_t)e->time,  (uint32_t)e->thread,
                                          (uint32_t)e->tag, e->seq};
}

static int cmp_obj(const void *a, const void *b)
{
    const struct wire_object *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void req_objects(struct client *c, const struct wire_msg *m, struct encode_buf *b)
{
    struct obj_ctx ctx = {0};
    uint32_t *ids = malloc((m->u.request.stacks.n + 1) * sizeof(uint32_t));
    size_t n = 0, max = m->u.request.max;

    if (!ids) {
        encode_resp_error(b, m->u.request.id, -ENOMEM, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < m->u.request.stacks.n; i++) {
        const msgpack_object *o = &m->u.request.stacks.items[i];

        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= WIRE_MAX_STACK_ID)
            ids[n++] = (uint32_t)o->via.u64;
    }
    qsort(ids, n, sizeof(*ids), cmp_u32);
    ctx.stacks = ids;
    ctx.n_stacks = n;
    live_foreach(obj_cb, &ctx);
    qsort(ctx.out, ctx.n, sizeof(*ctx.out), cmp_obj);
    if (max > WIRE_MAX_OBJECTS)
        max = WIRE_MAX_OBJECTS;
    n = ctx.n < max ? ctx.n : max;
    while (encode_resp_objects(b, m->u.request.id, ctx.out, n, ctx.n) == WIRE_ENOSPACE && n)
        n /= 2;
    free(ctx.out);
    free(ids);
}

static void req_read(struct client *c, const struct wire_msg *m, struct encode_buf *b)
{
    uint64_t addr = m->u.request.addr;
    struct live_entry *e = live_find(addr);
    char bytes[WIRE_MAX_READ];
    uint32_t len = m->u.request.len;

    if (!e)
        e = live_find_containing(addr);
    if (!e) {
        encode_resp_error(b, m->u.request.id, -EFAULT, "not inside a live block");
        return;
    }
    if (len > WIRE_MAX_READ)
        len = WIRE_MAX_READ;
    if (len > e->size)
        len = (uint32_t)e->size;
    /* process_vm_readv: the program may have freed (and unmapped) the block
     * since; a fault is then an error, not a crash */
    struct iovec local = {bytes, len}, remote = {(void *)(uintptr_t)e->addr, len};
    if (len && process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)len) {
        encode_resp_error(b, m->u.request.id, -EFAULT, "block no longer readable");
        return;
    }
    encode_resp_read(b, m->u.request.id, e->addr, e->size, bytes, len);
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

static void req_scan(struct client *c, const struct wire_msg *m, struct encode_buf *b)
{
    struct scan_source src = {0};
    struct scan_range *stacks = NULL;
    size_t n = 0, cap = 0;
    const char *err = "scan engine not available";

    if (!scan_start || !scan_job_fd || !scan_job_read || !scan_job_encode || !scan_job_free) {
        encode_resp_error(b, m->u.request.id, -ENOSYS, err);
        return;
    }
    if (c->scan) {
        encode_resp_error(b, m->u.request.id, -EBUSY, "a scan is already running");
        return;
    }
    if (m->u.request.addr != 0 && !live_find_containing(m->u.request.addr)) { /* 0: census */
        encode_resp_error(b, m->u.request.id, -EFAULT, "not inside a live block");
        return;
    }
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
    c->scan = scan_start(&src, m->u.request.id, m->u.request.addr, m->u.request.max_depth,
                         m->u.request.max_fanout, &err);
    core_scan_fork_leave();
    free(stacks);
    if (!c->scan)
        encode_resp_error(b, m->u.request.id, -EIO, err ? err : "scan failed");
}

static void client_requests(int i)
{
    struct client *c = clients[i];
    char buf[65536];
    ssize_t r;
    struct wire_msg m;
    int rc;

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
    if (decode_feed(&c->dec, buf, (size_t)r) < 0) {
        client_drop(i);
        return;
    }
    while ((rc = decode_next(&c->dec, &m)) == 1) {
        struct encode_buf *b = collect_scratch();

        if (m.type != WIRE_REQUEST)
            continue;
        switch (m.u.request.kind) {
        case WIRE_REQ_OBJECTS:
            req_objects(c, &m, b);
            break;
        case WIRE_REQ_READ:
            req_read(c, &m, b);
            break;
        case WIRE_REQ_SCAN:
            req_scan(c, &m, b);
            break;
        default:
            encode_resp_error(b, m.u.request.id, -EINVAL, "unknown request");
            break;
        }
        if (b->len && client_put(c, b->data, b->len) < 0) {
            client_drop(i);
            return;
        }
    }
    if (rc < 0 && rc != WIRE_ENEEDMORE)
        client_drop(i); /* a corrupt request stream */
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
    if (b->len && client_put(c, b->data, b->len) < 0)
        client_drop(i);
}

void server_poll(int timeout_ms, int wake_fd)
{
    struct pollfd pfd[2 + 2 * SERVER_MAX_CLIENTS];
    int who[2 + 2 * SERVER_MAX_CLIENTS], what[2 + 2 * SERVER_MAX_CLIENTS];
    int n = 0;

    if (listen_fd < 0)
        return;
    pfd[n] = (struct pollfd){listen_fd, POLLIN, 0};
    who[n] = -1;
    what[n++] = 0;
    pfd[n] = (struct pollfd){wake_fd, POLLIN, 0}; /* fd -1 is ignored by poll */
    who[n] = -1;
    what[n++] = 2;
    for (int i = 0; i < n_clients; i++) {
        struct client *c = clients[i];

        pfd[n] = (struct pollfd){c->fd, (short)(POLLIN | (c->off < c->len ? POLLOUT : 0)), 0};
        who[n] = i;
        what[n++] = 0;
        if (c->scan) {
            pfd[n] = (struct pollfd){scan_job_fd(c->scan), POLLIN, 0};
            who[n] = i;
            what[n++] = 1;
        }
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
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
        if (pfd[k].revents & (POLLIN | POLLHUP)) {
            int before = n_clients;

            client_requests(i);
            if (n_clients != before)
                continue;
        }
        client_write(i);
    }
    if ((pfd[0].revents & POLLIN) && fdid_same(listen_fd, &listen_id))
        accept_clients();
}

void server_close(int timeout_ms)
{
    for (int t = 0; t < timeout_ms && n_clients; t += 10) {
        int pending = 0;

        for (int i = n_clients - 1; i >= 0; i--) {
            client_write(i);
            if (i < n_clients && clients[i]->off < clients[i]->len)
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
    if (listen_fd >= 0)
        fds_close(listen_fd);
    listen_fd = -1;
}
