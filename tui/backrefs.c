/*
 * backrefs.c - `heapline backrefs`: connect, pick the object, scan, print.
 *
 * The stream is fed to the same model the TUI uses (definitions name the
 * allocation sites exactly as the site table does); the scan result is read
 * with protocol/scanmsg, which has already checked that every node points to
 * an earlier one, so chains are walked without further checks. Everything
 * the collector sends is hostile input: a result this code cannot print
 * cleanly is an error line, never a crash.
 */
#include "backrefs.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "client.h"
#include "decode.h"
#include "decode_msgpack.h" /* raw scan results: the census keeps two at once */
#include "encode.h"
#include "model.h"
#include "pychain.h"
#include "scanmsg.h"

#define BACKREFS_TIMEOUT_MS 10000
#define BACKREFS_REQ_OBJECTS 1
#define BACKREFS_REQ_SCAN 2
#define BACKREFS_MAX_OBJECTS 64
#define BACKREFS_MAX_LIMIT 1000 /* --depth and --fanout: what the scan engine accepts */

struct conn {
    int fd;
    struct decode dec;
    struct model *model;
    int64_t deadline_ms;
    uint32_t *stacks; /* stack ids defined so far */
    size_t n_stacks, cap_stacks;
    int got_snapshot;
    const char *what;      /* the socket path, for messages */
    size_t msg_lo, msg_hi; /* bytes of dec.buf taken by the last decode_next() */
};

/* One line on stderr, "heapline backrefs: ...", then hint. Returns status. */
static int say(int status, const char *hint, const char *fmt, va_list ap)
{
    fputs("heapline backrefs: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(hint, stderr);
    fputc('\n', stderr);
    return status;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = say(1, "", fmt, ap);
    va_end(ap);
    return r;
}

/* A printable copy of a wire string (NUL-free, at most cap-1 bytes). */
static const char *wstr(struct wire_str s, char *buf, size_t cap)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1, k = 0;

    for (size_t i = 0; i < n; i++)
        if (s.ptr[i])
            buf[k++] = s.ptr[i];
    buf[k] = 0;
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A usage error: one line ending in the help hint. Returns 2, the status of
 * every usage error. */
static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = say(2, " (see heapline backrefs --help)", fmt, ap);
    va_end(ap);
    return r;
}

/* ---- the connection ---- */

static int conn_send(struct conn *c, const char *buf, size_t len)
{
    if (client_send(c->fd, buf, len) != 0)
        return fail("%s: %s", c->what, strerror(errno));
    return 0;
}

static void note_stacks(struct conn *c, const struct wire_msg *m)
{
    struct wire_stack_node node;
    struct stacks_iter it;

    decode_stacks_begin(&it, m);
    while (decode_stacks_next(&it, &node) == 1) {
        if (c->n_stacks == c->cap_stacks) {
            size_t cap = c->cap_stacks ? 2 * c->cap_stacks : 1024;
            uint32_t *n = realloc(c->stacks, cap * sizeof(*n));
            if (!n)
                return;
            c->stacks = n;
            c->cap_stacks = cap;
        }
        c->stacks[c->n_stacks++] = node.id;
    }
}

/* Reads until a message for which stop() says 1 (m is then that message,
 * valid until the next call), the deadline, or an error. Returns 1, or 0
 * after printing the error. */
typedef int backrefs_stop_fn(const struct wire_msg *m, const void *arg);

static int conn_until(struct conn *c, struct wire_msg *m, backrefs_stop_fn *stop, const void *arg)
{
    char buf[65536];

    /* each wait (snapshot, objects, scan) has its own 10 s */
    c->deadline_ms = now_ms() + BACKREFS_TIMEOUT_MS;

    for (;;) {
        int rc;
        c->msg_lo = c->dec.off;
        rc = decode_next(&c->dec, m);
        c->msg_hi = c->dec.off;
        if (rc == 1) {
            if (m->type == WIRE_STACKS)
                note_stacks(c, m);
            if (m->type != WIRE_RESPONSE)
                model_apply(c->model, m);
            if (m->type == WIRE_SNAPSHOT)
                c->got_snapshot = 1;
            if (stop(m, arg))
                return 1;
            if (m->type == WIRE_END)
                return fail("the program ended before the answer came"), 0;
            if (m->type == WIRE_DISABLED)
                return fail("the collector turned itself off"), 0;
            continue;
        }
        if (rc != WIRE_ENEEDMORE)
            return fail("%s: bad data from the collector: %s", c->what, wire_strerror(rc)), 0;
        for (;;) {
            int64_t left = c->deadline_ms - now_ms();
            struct pollfd p = {c->fd, POLLIN, 0};
            ssize_t got;
            if (left <= 0)
                return fail("timeout after %d s waiting for the collector",
                            BACKREFS_TIMEOUT_MS / 1000),
                       0;
            rc = poll(&p, 1, (int)left);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc == 0)
                continue;
            got = read(c->fd, buf, sizeof(buf));
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return fail("%s: %s", c->what, strerror(errno)), 0;
            if (got == 0)
                return fail("%s: the collector closed the connection", c->what), 0;
            rc = decode_feed(&c->dec, buf, (size_t)got);
            if (rc < 0)
                return fail("%s: %s", c->what, wire_strerror(rc)), 0;
            break;
        }
    }
}

static int stop_at_snapshot(const struct wire_msg *m, const void *arg)
{
    (void)arg;
    return m->type == WIRE_SNAPSHOT;
}

static int stop_at_response(const struct wire_msg *m, const void *arg)
{
    return m->type == WIRE_RESPONSE && m->u.response.id == *(const uint32_t *)arg;
}

static int response_error(const struct wire_msg *m)
{
    char msg[512];

    return fail("%s", wstr(m->u.response.message, msg, sizeof(msg)));
}

/* The oldest live object of the site named function. Returns 0 with *addr. */
static int pick_site_object(struct conn *c, const char *function, uint64_t *addr)
{
    uint32_t *ids = NULL, req = BACKREFS_REQ_OBJECTS;
    size_t n = 0;
    struct encode_buf b;
    static char out[1 << 20];
    struct wire_msg m;
    struct wire_object obj, best;
    int found = 0, named = 0;

    ids = calloc(c->n_stacks ? c->n_stacks : 1, sizeof(*ids));
    if (!ids)
        return fail("out of memory");
    for (size_t i = 0; i < c->n_stacks; i++) {
        uint32_t site = model_stack_site(c->model, c->stacks[i]);
        const struct model_site *s = site == MODEL_NONE ? NULL : model_site(c->model, site);
        if (model_site_is(s, function))
            ids[n++] = c->stacks[i];
    }
    for (uint32_t s = 0; s < model_site_count(c->model) && !named; s++) {
        const struct model_site *site = model_site(c->model, s);
        named = model_site_is(site, function);
    }
    if (n == 0) {
        free(ids);
        if (named)
            return fail("no live object of site %s", function);
        return fail("no allocation site named %s", function);
    }
    if (n > (sizeof(out) - 64) / 6)
        n = (sizeof(out) - 64) / 6;
    encode_init(&b, out, sizeof(out));
    if (encode_req_objects(&b, req, ids, n, BACKREFS_MAX_OBJECTS)) {
        free(ids);
        return fail("request too large");
    }
    free(ids);
    if (conn_send(c, b.data, b.len))
        return 1;
    if (!conn_until(c, &m, stop_at_response, &req))
        return 1;
    if (m.u.response.status != 0)
        return response_error(&m);
    if (m.u.response.kind != WIRE_REQ_OBJECTS)
        return fail("unexpected answer from the collector");
    for (uint32_t i = 0; i < wire_list_count(&m.u.response.objects, 7); i++) {
        if (decode_object_at(&m.u.response.objects, i, &obj) < 0)
            return fail("bad data from the collector");
        if (!found || obj.time < best.time) {
            best = obj;
            found = 1;
        }
    }
    if (!found)
        return fail("no live object of site %s", function);
    *addr = best.addr;
    return 0;
}

/* The scan result of the message decode_next() just returned, read from its
 * bytes (decode_next() may have skipped messages of newer types before it:
 * the last message of the range is the one). Returns 0 or a wire error. */
static int scan_result(struct conn *c, msgpack_zone *zone, struct scanmsg_result *r)
{
    size_t pos = c->msg_lo;

    while (pos < c->msg_hi) {
        struct wire_msg m;
        size_t used = 0;
        int rc = decode_one(c->dec.buf + pos, c->msg_hi - pos, zone, &m, &used);
        if (rc != 1 || used == 0)
            return WIRE_ECORRUPT;
        if (pos + used == c->msg_hi)
            return scanmsg_decode_bytes(c->dec.buf + pos, used, zone, r);
        pos += used;
    }
    return WIRE_ECORRUPT;
}

/* Sends a scan request for addr (0: the census) with id req and decodes the
 * answer into r, from a copy of its bytes in *copy (the caller frees it) so
 * r outlives later messages. Returns 0, or 1 after an error line. */
static int request_scan(struct conn *c, msgpack_zone *zone, uint32_t req, uint64_t addr,
                        uint32_t depth, uint32_t fanout, struct scanmsg_result *r, char **copy)
{
    static char out[256];
    struct encode_buf b;
    struct wire_msg m;
    size_t pos;

    *copy = NULL;
    encode_init(&b, out, sizeof(out));
    if (encode_req_scan(&b, req, addr, depth, fanout) || conn_send(c, b.data, b.len))
        return 1;
    if (!conn_until(c, &m, stop_at_response, &req))
        return 1;
    if (m.u.response.status != 0)
        return response_error(&m);
    for (pos = c->msg_lo; pos < c->msg_hi;) { /* the last message of the range is the answer */
        struct wire_msg mm;
        size_t used = 0;
        if (decode_one(c->dec.buf + pos, c->msg_hi - pos, zone, &mm, &used) != 1 || used == 0)
            break;
        if (pos + used == c->msg_hi) {
            *copy = malloc(used);
            if (!*copy)
                return fail("out of memory");
            memcpy(*copy, c->dec.buf + pos, used);
            if (scanmsg_decode_bytes(*copy, used, zone, r) != 0)
                break;
            return 0;
        }
        pos += used;
    }
    return fail("bad scan result from the collector");
}

/* Keeps reading the stream for ms milliseconds: a client that stops reading
 * holds the collector back (its backlog fills), and the program with it.
 * Returns 0, or 1 after an error line. */
static int conn_wait(struct conn *c, int64_t ms)
{
    int64_t end = now_ms() + ms;
    char buf[65536];

    for (;;) {
        struct wire_msg m;
        int rc, left;
        while ((rc = decode_next(&c->dec, &m)) == 1)
            if (m.type == WIRE_END)
                return fail("the program ended before the second census");
        if (rc != WIRE_ENEEDMORE)
            return fail("%s: bad data from the collector: %s", c->what, wire_strerror(rc));
        left = (int)(end - now_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = {c->fd, POLLIN, 0};
        rc = poll(&p, 1, left);
        if (rc <= 0)
            continue;
        ssize_t got = read(c->fd, buf, sizeof(buf));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return fail("%s: the collector closed the connection", c->what);
        if ((rc = decode_feed(&c->dec, buf, (size_t)got)) < 0)
            return fail("%s: %s", c->what, wire_strerror(rc));
    }
}

/* --types [--growth S]: the census, and its growth over S seconds. */
static int census_main(struct conn *c, msgpack_zone *zone, int format, unsigned long growth,
                       unsigned long top)
{
    struct scanmsg_result a, b;
    char *ca = NULL, *cb = NULL;
    msgpack_zone zb; /* the second result's own: decoding clears a zone */
    int rc = 1;

    if (!msgpack_zone_init(&zb, 65536))
        return fail("out of memory");
    if (request_scan(c, zone, BACKREFS_REQ_SCAN, 0, 1, 1, &a, &ca))
        goto done;
    if (growth) {
        if (conn_wait(c, (int64_t)growth * 1000))
            goto done;
        if (request_scan(c, &zb, BACKREFS_REQ_SCAN + 1, 0, 1, 1, &b, &cb))
            goto done;
    }
    if (pychain_census_print(stdout, growth ? &b : &a, growth ? &a : NULL, format == CHAIN_JSON,
                             top) != 0 ||
        fflush(stdout) != 0) {
        fail("write error or bad census from the collector");
        goto done;
    }
    rc = 0;
done:
    free(ca);
    free(cb);
    msgpack_zone_destroy(&zb);
    return rc;
}

int backrefs_main(int argc, char **argv)
{
    const char *target = NULL, *site = NULL, *address = NULL, *type = NULL;
    unsigned long depth = 10, fanout = 64, growth = 0, top = 0;
    int types = 0;
    int format = CHAIN_TEXT, rc = 1;
    uint64_t addr = 0;
    uint32_t req = BACKREFS_REQ_SCAN;
    char path[4096], errline[1024];
    static char out[256];
    struct encode_buf b;
    struct conn c;
    struct wire_msg m;
    struct scanmsg_result res;
    msgpack_zone zone;

    /* argv[0] may be "backrefs" or the program: skip anything up to the verb */
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "backrefs") == 0)
        i = 2;
    for (; i < argc; i++) {
        const char *a = argv[i];
        char *end;
        if (strcmp(a, "--json") == 0) {
            format = CHAIN_JSON;
        } else if (strcmp(a, "--dot") == 0) {
            format = CHAIN_DOT;
        } else if (strcmp(a, "--types") == 0) {
            types = 1;
        } else if (strcmp(a, "--site") == 0 || strcmp(a, "--address") == 0 ||
                   strcmp(a, "--depth") == 0 || strcmp(a, "--fanout") == 0 ||
                   strcmp(a, "--type") == 0 || strcmp(a, "--growth") == 0 ||
                   strcmp(a, "--top") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--site") == 0) {
                site = v;
            } else if (strcmp(a, "--address") == 0) {
                address = v;
            } else if (strcmp(a, "--type") == 0) {
                type = v;
            } else {
                unsigned long x, max = strcmp(a, "--top") == 0 ? 1000000 : BACKREFS_MAX_LIMIT;
                errno = 0;
                x = strtoul(v, &end, 10);
                if (errno || *end || !*v || x == 0 || x > max)
                    return bad_usage("bad %s: %s (from 1 to %lu)", a + 2, v, max);
                if (strcmp(a, "--depth") == 0)
                    depth = x;
                else if (strcmp(a, "--fanout") == 0)
                    fanout = x;
                else if (strcmp(a, "--growth") == 0)
                    growth = x;
                else
                    top = x;
            }
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown option %s", a);
        } else if (!target) {
            target = a;
        } else {
            return bad_usage("unexpected argument %s", a);
        }
    }
    if (!target)
        return bad_usage("missing PID or SOCKET");
    if (types && (site || address || type))
        return bad_usage("--types takes no --site, --address or --type");
    if ((growth || top) && !types)
        return bad_usage("--growth and --top go with --types");
    if (types && format == CHAIN_DOT)
        return bad_usage("--types prints text or --json");
    if (!types && (site != NULL) + (address != NULL) + (type != NULL) != 1)
        return bad_usage(
            "give exactly one of --site FUNCTION|FILE:LINE, --address ADDR and --type NAME");
    if (address) {
        char *end;
        errno = 0;
        addr = strtoull(address, &end, 16);
        if (errno || *end || !*address || addr == 0)
            return bad_usage("bad address: %s", address);
    }

    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.what = path;
    decode_init(&c.dec);
    c.model = model_new();
    if (!c.model || !msgpack_zone_init(&zone, 65536)) {
        decode_free(&c.dec);
        model_free(c.model);
        return fail("out of memory");
    }
    c.fd = client_connect(target, path, sizeof(path), errline, sizeof(errline));
    if (c.fd < 0) {
        fail("%s", errline);
        goto done;
    }
    if (!conn_until(&c, &m, stop_at_snapshot, NULL))
        goto done;
    if (types) {
        rc = census_main(&c, &zone, format, growth, top);
        goto done;
    }
    if (site && pick_site_object(&c, site, &addr))
        goto done;
    if (type) {
        struct scanmsg_result census;
        char *copy = NULL;
        int bad = request_scan(&c, &zone, BACKREFS_REQ_SCAN + 2, 0, 1, 1, &census, &copy);
        if (!bad && pychain_census_oldest(&census, type, &addr) != 0)
            bad = fail("no live Python object of type %s", type);
        free(copy);
        if (bad)
            goto done;
    }
    encode_init(&b, out, sizeof(out));
    if (encode_req_scan(&b, req, addr, (uint32_t)depth, (uint32_t)fanout) ||
        conn_send(&c, b.data, b.len))
        goto done;
    if (!conn_until(&c, &m, stop_at_response, &req))
        goto done;
    if (m.u.response.status != 0) {
        response_error(&m);
        goto done;
    }
    if (scan_result(&c, &zone, &res) != 0) {
        fail("bad scan result from the collector");
        goto done;
    }
    if (chain_print(stdout, format, c.model, &res) != 0 || fflush(stdout) != 0) {
        fail("write error: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (c.fd >= 0)
        close(c.fd);
    decode_free(&c.dec);
    model_free(c.model);
    msgpack_zone_destroy(&zone);
    free(c.stacks);
    return rc;
}
