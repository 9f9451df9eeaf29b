/*
 * hammer.c - misbehaving clients of one collector socket, for the stress suite.
 *
 *   hammer SOCKET MODE SECONDS
 *
 * MODE: objects (8 clients asking objects, 12 at a time), mix (64 clients: objects pipelined and read (10000 at a time, as
 * the TUI asks), objects pipelined and never read (100000), reads pipelined and never read, scans, stalled, trickling,
 * idle), scans (63 clients, one scan each), stalls (30 stalled + 30
 * trickling reads a byte every 2 ms, never reading), priority (one client
 * lets the stream queue up for 1.5 s, then reads 16 bytes of a block: "priority
 * answered bytes_before B ms M", the stream bytes read before the answer), lockout (64 idle clients, then a newcomer after 3 s). Prints
 * "started" once every client is connected, then what it got:
 *
 *   objects asked A answered B failed F readers R served S (readers with an answer;
 *   past SECONDS the hammer waits up to 60 s for each reader's first answer)
 *   scans ok O busy B failed F pending P slowest_ms S
 *   newcomer served|refused
 *   connected C refused R dropped D (of the clients that read)
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "encode.h"

enum role { R_OBJ_READ, R_OBJ_NOREAD, R_READ_NOREAD, R_SCAN, R_STALL, R_TRICKLE };

struct cl {
    int fd;
    enum role role;
    struct decode dec;
    char out[8192];
    size_t out_len, out_off;
    int inflight;
    int answers;
    uint32_t next_id;
    long long scan_sent_ms;
};

static uint64_t addrs[1024];
static size_t n_addrs;
static uint32_t big_stack;
static long long asked, answered, objects_failed, scans_ok, scans_busy, scans_failed, slowest_ms;
static int connected, refused, dropped;
static int trickle_reads; /* stalls: tricklers ask reads, mix: objects */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        refused++;
        return -1;
    }
    connected++;
    return fd;
}

/* Reads messages until want() says 1 or the deadline; returns 1 or 0. */
static int read_until(int fd, struct decode *d, struct wire_msg *m, int type, uint32_t id,
                      long long deadline)
{
    char buf[65536];

    for (;;) {
        int rc;
        while ((rc = decode_next(d, m)) == 1)
            if (m->type == type && (type != WIRE_RESPONSE || m->u.response.id == id))
                return 1;
        if (rc != WIRE_ENEEDMORE)
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        long long left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return 0;
        ssize_t got = read(fd, buf, sizeof(buf));
        if (got <= 0 || decode_feed(d, buf, (size_t)got) < 0)
            return 0;
    }
}

/* The stack with the most live blocks, and up to 1024 of its blocks. */
static int setup(const char *path)
{
    struct decode d;
    struct wire_msg m;
    struct wire_site s;
    int64_t best = -1;
    char out[256];
    struct encode_buf b;
    int fd = dial(path), ok = 0;

    if (fd < 0)
        return -1;
    decode_init(&d);
    if (read_until(fd, &d, &m, WIRE_SNAPSHOT, 0, now_ms() + 20000)) {
        for (uint32_t i = 0; decode_site_at(&m.u.state.sites, i, &s) == 1; i++)
            if (s.live_blocks > best) {
                best = s.live_blocks;
                big_stack = s.stack;
            }
        encode_init(&b, out, sizeof(out));
        encode_req_objects(&b, 1, &big_stack, 1, 1024);
        if (write(fd, b.data, b.len) == (ssize_t)b.len &&
            read_until(fd, &d, &m, WIRE_RESPONSE, 1, now_ms() + 20000) &&
            m.u.response.status == 0) {
            struct wire_object o;
            for (uint32_t i = 0; decode_object_at(&m.u.response.objects, i, &o) == 1; i++)
                addrs[n_addrs++] = o.addr;
            ok = n_addrs > 0;
        }
    }
    decode_free(&d);
    close(fd);
    connected--;
    return ok ? 0 : -1;
}

static void queue_req(struct cl *c)
{
    struct encode_buf b;
    uint32_t id = ++c->next_id;

    if (sizeof(c->out) - c->out_len < 64) {
        if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;
        } else {
            return;
        }
    }
    encode_init(&b, c->out + c->out_len, sizeof(c->out) - c->out_len);
    switch (c->role) {
    case R_OBJ_READ: /* as the TUI's objects view asks */
        encode_req_objects(&b, id, &big_stack, 1, 10000);
        asked++;
        break;
    case R_TRICKLE:
        if (trickle_reads) {
            encode_req_read(&b, id, addrs[id % n_addrs], 64);
            break;
        }
        /* fall through */
    case R_OBJ_NOREAD:
        encode_req_objects(&b, id, &big_stack, 1, 100000);
        break;
    case R_READ_NOREAD:
        encode_req_read(&b, id, addrs[id % n_addrs] + 8, 4096);
        break;
    case R_SCAN:
        encode_req_scan(&b, id, addrs[0], 10, 64);
        c->scan_sent_ms = now_ms();
        break;
    default:
        return;
    }
    c->out_len += b.len;
    c->inflight++;
}

static void on_message(struct cl *c, const struct wire_msg *m)
{
    if (m->type != WIRE_RESPONSE)
        return;
    c->inflight--;
    if (c->role == R_OBJ_READ) {
        answered += m->u.response.status == 0;
        c->answers += m->u.response.status == 0;
        objects_failed += m->u.response.status != 0;
        if (c->inflight == 0)
            for (int k = 0; k < 12; k++)
                queue_req(c);
    } else if (c->role == R_SCAN) {
        long long ms = now_ms() - c->scan_sent_ms;
        if (m->u.response.status == 0)
            scans_ok++;
        else if (m->u.response.status == -EBUSY)
            scans_busy++;
        else
            scans_failed++;
        if (ms > slowest_ms)
            slowest_ms = ms;
    }
}

int main(int argc, char **argv)
{
    static struct cl cl[80];
    int n = 0;
    enum role roles[80];

    if (argc != 4) {
        fprintf(stderr, "usage: hammer SOCKET mix|scans|stalls|lockout SECONDS\n");
        return 2;
    }
    const char *path = argv[1], *mode = argv[2];
    long long end = now_ms() + (long long)(atof(argv[3]) * 1000);

    if (setup(path) < 0) {
        fprintf(stderr, "hammer: no objects from %s\n", path);
        return 1;
    }
    if (strncmp(mode, "mix", 3) == 0) {
        /* mix:A,B,C,D,E,F gives the counts of the roles, in enum order */
        int k[6] = {8, 4, 16, 8, 20, 8};
        if (mode[3] == ':')
            sscanf(mode + 4, "%d,%d,%d,%d,%d,%d", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5]);
        for (int r = 0; r < 6; r++)
            for (int j = 0; j < k[r] && n < 80; j++)
                roles[n++] = (enum role)r;
    } else if (strcmp(mode, "objects") == 0) {
        for (; n < 8; n++)
            roles[n] = R_OBJ_READ;
    } else if (strcmp(mode, "scans") == 0) {
        for (; n < 63; n++)
            roles[n] = R_SCAN;
    } else if (strcmp(mode, "stalls") == 0) {
        trickle_reads = 1;
        for (; n < 60; n++)
            roles[n] = n % 2 ? R_TRICKLE : R_STALL;
    } else if (strcmp(mode, "lockout") == 0) {
        for (; n < 64; n++)
            roles[n] = R_STALL;
    } else if (strcmp(mode, "priority") == 0) {
        n = 0; /* one client, below */
    } else {
        fprintf(stderr, "hammer: unknown mode %s\n", mode);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        cl[i].fd = dial(path);
        cl[i].role = roles[i];
        decode_init(&cl[i].dec);
        if (cl[i].fd < 0)
            continue;
        int k = roles[i] == R_OBJ_READ || roles[i] == R_OBJ_NOREAD ? 12 : 1;
        for (int j = 0; j < k; j++)
            queue_req(&cl[i]);
    }
    printf("started\n");
    fflush(stdout);
    if (strcmp(mode, "priority") == 0) {
        /* a client that let the stream queue up for 1.5 s, then asks: how
         * much of the queued stream comes before its answer */
        struct decode d;
        struct wire_msg m;
        struct encode_buf b;
        char out[64], buf[65536];
        long long before = 0, t0;
        int fd = dial(path), got_it = 0;

        usleep(1500000);
        decode_init(&d);
        encode_init(&b, out, sizeof(out));
        encode_req_read(&b, 7, addrs[0], 16); /* answered at once: only the queue counts */
        t0 = now_ms();
        if (fd >= 0 && write(fd, b.data, b.len) == (ssize_t)b.len) {
            while (!got_it && now_ms() < t0 + 20000) {
                int rc;
                while (!got_it && (rc = decode_next(&d, &m)) == 1)
                    got_it = m.type == WIRE_RESPONSE && m.u.response.id == 7;
                if (got_it)
                    break;
                ssize_t r = read(fd, buf, sizeof(buf));
                if (r <= 0)
                    break;
                before += r;
                decode_feed(&d, buf, (size_t)r);
            }
        }
        printf("priority %s bytes_before %lld ms %lld\n", got_it ? "answered" : "unanswered",
               before, now_ms() - t0);
        decode_free(&d);
    }
    if (strcmp(mode, "lockout") == 0) {
        struct decode d;
        struct wire_msg m;
        int fd;

        sleep(3);
        fd = dial(path);
        decode_init(&d);
        printf("newcomer %s\n",
               fd >= 0 && read_until(fd, &d, &m, WIRE_SNAPSHOT, 0, now_ms() + 5000) ? "served"
                                                                                  : "refused");
        decode_free(&d);
    }
    for (;;) {
        if (strcmp(mode, "scans") == 0 && scans_ok + scans_busy + scans_failed == n)
            break; /* every scan answered */
        /* past the end, wait (60 s at most) for every objects reader's first answer */
        int unanswered = 0;
        for (int i = 0; i < n; i++)
            unanswered += cl[i].role == R_OBJ_READ && cl[i].fd >= 0 && cl[i].answers == 0;
        if (now_ms() >= end && (!unanswered || now_ms() >= end + 60000))
            break;
        struct pollfd p[80];
        char buf[65536];

        for (int i = 0; i < n; i++) {
            struct cl *c = &cl[i];
            short ev = 0;
            if (c->role == R_OBJ_READ || c->role == R_SCAN)
                ev |= POLLIN;
            if (c->role == R_READ_NOREAD && c->out_off == c->out_len)
                queue_req(c);
            if (c->out_off < c->out_len && c->role != R_TRICKLE)
                ev |= POLLOUT;
            p[i] = (struct pollfd){c->fd, ev, 0};
        }
        poll(p, (nfds_t)n, 2);
        for (int i = 0; i < n; i++) {
            struct cl *c = &cl[i];
            if (c->fd < 0)
                continue;
            if (c->role == R_TRICKLE) { /* a byte every 2 ms, request after request */
                if (c->out_off == c->out_len)
                    queue_req(c);
                if (send(c->fd, c->out + c->out_off, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
                    c->out_off++;
                continue;
            }
            if (p[i].revents & POLLOUT) {
                ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (w > 0)
                    c->out_off += (size_t)w;
                if (c->out_off == c->out_len)
                    c->out_off = c->out_len = 0;
            }
            if (p[i].revents & (POLLIN | POLLHUP)) {
                ssize_t got = read(c->fd, buf, sizeof(buf));
                struct wire_msg m;
                if (got <= 0) {
                    dropped++;
                    close(c->fd);
                    c->fd = -1;
                    continue;
                }
                decode_feed(&c->dec, buf, (size_t)got);
                while (decode_next(&c->dec, &m) == 1)
                    on_message(c, &m);
                        if (c->role == R_SCAN && c->inflight == 0 && strncmp(mode, "mix", 3) == 0)
                    queue_req(c);
            }
        }
    }
    long long pending = 0;
    for (int i = 0; i < n; i++)
        if (cl[i].role == R_SCAN && cl[i].inflight > 0)
            pending++;
    int readers = 0, served = 0;
    for (int i = 0; i < n; i++) {
        readers += cl[i].role == R_OBJ_READ;
        served += cl[i].role == R_OBJ_READ && cl[i].answers > 0;
    }
    printf("objects asked %lld answered %lld failed %lld readers %d served %d\n", asked, answered,
           objects_failed, readers, served);
    printf("scans ok %lld busy %lld failed %lld pending %lld slowest_ms %lld\n", scans_ok,
           scans_busy, scans_failed, pending, slowest_ms);
    printf("connected %d refused %d dropped %d\n", connected, refused, dropped);
    return 0;
}
