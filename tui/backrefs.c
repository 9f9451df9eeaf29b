/*
 * backrefs.c - `heapline backrefs`: connect, pick the object, scan, print.
 *
 * The collector is reached as `attach` reaches it: source_open_socket() (the
 * socket directory's checks included), source_read() into the same model the
 * TUI uses (definitions name the allocation sites exactly as the site table
 * does) but for the events, counted and not applied (model_skip_events()),
 * and the answers found by request id (source_response()). chain.c
 * prints the result. Everything the collector sends is hostile input: a
 * result this code cannot print cleanly is an error line, never a crash.
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

#include "chain.h"
#include "model.h"
#include "pychain.h"
#include "responses.h"
#include "scanmsg.h"
#include "source.h"

#define BACKREFS_TIMEOUT_MS 10000  /* each wait (snapshot, objects, scan) */
#define BACKREFS_SITE_WAIT_MS 1000 /* for a tick after the snapshot, when no site has the name */
/* a collector attached to a running program knows only the allocations
 * sampled since: a site of a service that keeps growing shows up within a
 * few sample intervals, and this command's own attach ends with it */
#define BACKREFS_ATTACHED_SITE_WAIT_MS 5000
#define BACKREFS_MAX_OBJECTS 64
#define BACKREFS_MAX_LIMIT 1000 /* --depth and --fanout: what the scan engine accepts */
#define BACKREFS_MAX_STACKS 65536u

/* What the command asks for (its options). */
struct backrefs_args {
    const char *target, *site, *address, *type;
    unsigned long depth, fanout, growth, top;
    int types, format;
    uint64_t addr;
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

/* ---- the collector, through source.c ---- */

/* Why the source stopped, as one error line. Returns 1. */
static int source_gone(struct source *src, const struct model *m)
{
    const char *msg = source_message(src);

    if (model_summary(m)->disabled)
        return fail("the collector turned itself off");
    if (source_state(src) == SOURCE_FAILED)
        return strstr(msg, "corrupt") ? fail("bad data from the collector: %s", msg)
                                      : fail("%s", msg);
    return fail("the program ended before the answer came (%s)", msg);
}

/* Reads the stream into m until done(src, m, arg) says 1, for at most ms
 * milliseconds (ms < 0: the usual timeout, an error line when it passes;
 * else no error: the time is up). A client that stops reading holds the
 * collector back, so the growth census waits here too. Returns 0, or 1
 * after an error line. */
typedef int backrefs_done_fn(struct source *src, const struct model *m, const void *arg);

static int wait_for(struct source *src, struct model *m, backrefs_done_fn *done, const void *arg,
                    int64_t ms)
{
    int64_t end = now_ms() + (ms < 0 ? BACKREFS_TIMEOUT_MS : ms);

    for (;;) {
        while (source_read(src, m, 512) > 0)
            if (done && done(src, m, arg))
                return 0;
        if (done && done(src, m, arg))
            return 0;
        if (source_state(src) != SOURCE_OPEN)
            return source_gone(src, m);
        int64_t left = end - now_ms();
        if (left <= 0)
            return ms < 0 ? fail("timeout after %d s waiting for the collector",
                                 BACKREFS_TIMEOUT_MS / 1000)
                          : 0;
        struct pollfd p = {source_fd(src), POLLIN, 0};
        if (!source_busy(src) && poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return fail("poll: %s", strerror(errno));
    }
}

static int got_snapshot(struct source *src, const struct model *m, const void *arg)
{
    (void)src;
    (void)arg;
    /* the SNAPSHOT, history or not: a collector just loaded into the
     * program (attach) has none, and waiting for some took 10 s */
    return model_summary(m)->snapshot;
}

static int got_response(struct source *src, const struct model *m, const void *arg)
{
    (void)m;
    return source_response(src, *(const int *)arg) != NULL;
}

/* Every heap hop of the scan result arg names a stack the model knows. The
 * collector sends an answer ahead of the stream it still queues for this
 * client, so the definitions of a block allocated just before the request
 * can come a moment after the answer that names it. */
static int knows_stacks(struct source *src, const struct model *m, const void *arg)
{
    const struct scanmsg_result *r = arg;
    struct scanmsg_node nd;

    (void)src;
    for (uint32_t i = 0; i < scanmsg_count(r); i++)
        if (scanmsg_node_at(r, i, &nd) == 0 && nd.kind == SCANMSG_HEAP && nd.id &&
            model_stack_site(m, nd.id) == MODEL_NONE)
            return 0;
    return 1;
}

/* Waits for the answer to request id (id < 0: it could not be sent). Returns
 * it with status 0, or NULL after an error line (the collector's own). */
static const struct response *answer(struct source *src, struct model *m, int id)
{
    const struct response *r;

    if (id < 0) {
        fail("%s: could not send the request", source_name(src));
        return NULL;
    }
    if (wait_for(src, m, got_response, &id, -1))
        return NULL;
    r = source_response(src, id);
    if (r->status != 0) {
        fail("%s", r->message && r->message[0] ? r->message : "the collector refused");
        return NULL;
    }
    return r;
}

static int got_later(struct source *src, const struct model *m, const void *arg)
{
    (void)src;
    return model_summary(m)->time_last > *(const int64_t *)arg;
}

/* The stacks of the sites named function, max at most, into ids; *named
 * says whether any site has that name. */
static uint32_t site_stacks(const struct model *m, const char *function, uint32_t *ids,
                            uint32_t max, int *named)
{
    uint32_t n = 0;

    *named = 0;
    for (uint32_t s = 0; s < model_site_count(m) && n < max; s++) {
        if (!model_site_is(model_site(m, s), function))
            continue;
        *named = 1;
        uint32_t k = model_site_stacks(m, s, ids + n, max - n);
        n += k < max - n ? k : max - n;
    }
    return n;
}

/* A site named arg has a live block's stack: one is enough to know, the
 * caller collects them all after. */
static int got_site(struct source *src, const struct model *m, const void *arg)
{
    uint32_t id;
    int named;

    (void)src;
    return site_stacks(m, arg, &id, 1, &named) > 0;
}

/* The oldest live object of the site named function. Returns 0 with *addr. */
static int pick_site_object(struct source *src, struct model *m, const char *function,
                            uint64_t *addr)
{
    uint32_t *ids = malloc(BACKREFS_MAX_STACKS * sizeof(*ids));
    uint32_t n = 0;
    int named = 0, found = 0;
    const struct response *r;

    if (!ids)
        return fail("out of memory");
    n = site_stacks(m, function, ids, BACKREFS_MAX_STACKS, &named);
    if (n == 0) {
        /* the snapshot holds what the collector had applied: blocks still
         * in the program's buffers (allocated just before we connected)
         * come with its next tick, a tick period later */
        int64_t t = model_summary(m)->time_last;

        if (wait_for(src, m, got_later, &t, BACKREFS_SITE_WAIT_MS) == 0)
            n = site_stacks(m, function, ids, BACKREFS_MAX_STACKS, &named);
    }
    int attached_sampled = model_summary(m)->since_attach && model_summary(m)->sample_rate;

    if (n == 0 && attached_sampled) {
        fprintf(stderr,
                "heapline backrefs: no sampled allocation at %s yet (the collector sees what is "
                "allocated since its attach); waiting up to %d s for one\n",
                function, BACKREFS_ATTACHED_SITE_WAIT_MS / 1000);
        if (wait_for(src, m, got_site, function, BACKREFS_ATTACHED_SITE_WAIT_MS) == 0)
            n = site_stacks(m, function, ids, BACKREFS_MAX_STACKS, &named);
    }
    if (n == 0) {
        free(ids);
        if (named)
            return fail("no live object of site %s", function);
        /* a collector just attached (or sampling) has seen few allocations:
         * the blocks from before have no site, but --type and --address
         * reach them through the heap walk */
        if (attached_sampled)
            return fail("no allocation site named %s among the allocations sampled since the "
                        "attach (%d s; blocks allocated before it have no site): try --type NAME "
                        "or --address ADDR",
                        function, BACKREFS_ATTACHED_SITE_WAIT_MS / 1000);
        if (model_summary(m)->sample_rate)
            return fail("no allocation site named %s among the allocations sampled so far: "
                        "wait, or try --type NAME or --address ADDR",
                        function);
        return fail("no allocation site named %s", function);
    }
    r = answer(src, m, source_request_objects(src, ids, n, BACKREFS_MAX_OBJECTS));
    free(ids);
    if (!r)
        return 1;
    for (uint32_t i = 0; i < r->n_objects; i++) {
        if (!found || r->objects[i].time < r->objects[found - 1].time)
            found = (int)i + 1;
    }
    if (!found)
        return fail("no live object of site %s", function);
    *addr = r->objects[found - 1].addr;
    return 0;
}

/* --types [--growth S]: the census, and its growth over S seconds. */
static int census_main(struct source *src, struct model *m, const struct backrefs_args *a)
{
    const struct response *first, *second = NULL;
    int id = source_request_scan(src, 0, 1, 1);

    if (!(first = answer(src, m, id)))
        return 1;
    if (a->growth) {
        if (wait_for(src, m, NULL, NULL, (int64_t)a->growth * 1000) ||
            !(second = answer(src, m, source_request_scan(src, 0, 1, 1))))
            return 1;
        first = source_response(src, id); /* still kept: RESPONSES_KEEP answers */
    }
    if (!first->scan || (second && !second->scan) ||
        pychain_census_print(stdout, second ? second->scan : first->scan,
                             second ? first->scan : NULL, a->format == CHAIN_JSON, a->top) != 0 ||
        fflush(stdout) != 0)
        return fail("write error or bad census from the collector");
    return 0;
}

/* Connects, picks the object, scans it and prints the chains. Returns the
 * exit status. */
static int run(const struct backrefs_args *a)
{
    char err[1024];
    struct source *src;
    struct model *m = model_new();
    uint64_t addr = a->addr;
    const struct response *r;
    int rc = 1, id;

    /* the definitions name what the scan finds; the blocks come from the
     * collector's answers, never from the event stream */
    if (!m || model_skip_events(m) != 0) {
        model_free(m);
        return fail("out of memory");
    }
    src = source_open_socket(a->target, NULL, err, sizeof(err));
    if (!src) {
        model_free(m);
        return fail("%s", err);
    }
    if (wait_for(src, m, got_snapshot, NULL, -1))
        goto done;
    if (a->types) {
        rc = census_main(src, m, a);
        goto done;
    }
    if (a->site && pick_site_object(src, m, a->site, &addr))
        goto done;
    if (a->type) {
        if (!(r = answer(src, m, source_request_scan(src, 0, 1, 1))))
            goto done;
        if (!r->scan || pychain_census_oldest(r->scan, a->type, &addr) != 0) {
            fail("no live Python object of type %s", a->type);
            goto done;
        }
    }
    id = source_request_scan(src, addr, (uint32_t)a->depth, (uint32_t)a->fanout);
    r = answer(src, m, id);
    if (!r)
        goto done;
    if (!r->scan) {
        fail("bad scan result from the collector");
        goto done;
    }
    /* the stacks it names, for a second at most (then they print unnamed) */
    for (int64_t end = now_ms() + 1000;
         !knows_stacks(src, m, r->scan) && source_state(src) == SOURCE_OPEN && now_ms() < end;) {
        struct pollfd p = {source_fd(src), POLLIN, 0};

        if (source_read(src, m, 512) <= 0 && !source_busy(src))
            poll(&p, 1, 20);
        r = source_response(src, id); /* still kept: RESPONSES_KEEP answers */
    }
    if (chain_print(stdout, a->format, m, r->scan) != 0 || fflush(stdout) != 0) {
        fail("write error: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    source_close(src);
    model_free(m);
    return rc;
}

/* One option with a value. Returns 0, or the usage status after its line. */
static int parse_value(struct backrefs_args *a, const char *opt, const char *v)
{
    unsigned long x, max = strcmp(opt, "--top") == 0 ? 1000000 : BACKREFS_MAX_LIMIT;
    char *end;

    if (strcmp(opt, "--site") == 0) {
        a->site = v;
        return 0;
    }
    if (strcmp(opt, "--address") == 0) {
        a->address = v;
        return 0;
    }
    if (strcmp(opt, "--type") == 0) {
        a->type = v;
        return 0;
    }
    errno = 0;
    x = strtoul(v, &end, 10);
    if (errno || *end || !*v || x == 0 || x > max)
        return bad_usage("bad %s: %s (from 1 to %lu)", opt + 2, v, max);
    if (strcmp(opt, "--depth") == 0)
        a->depth = x;
    else if (strcmp(opt, "--fanout") == 0)
        a->fanout = x;
    else if (strcmp(opt, "--growth") == 0)
        a->growth = x;
    else
        a->top = x;
    return 0;
}

/* The command line into a. Returns 0, or the usage status after its line. */
static int parse_args(int argc, char **argv, struct backrefs_args *a)
{
    static const char *const valued[] = {"--site", "--address", "--depth", "--fanout",
                                         "--type", "--growth",  "--top"};
    /* argv[0] may be "backrefs" or the program: skip anything up to the verb */
    int i = argc > 1 && strcmp(argv[1], "backrefs") == 0 ? 2 : 1;

    for (; i < argc; i++) {
        const char *o = argv[i];
        size_t v = 0;

        while (v < sizeof(valued) / sizeof(valued[0]) && strcmp(o, valued[v]) != 0)
            v++;
        if (strcmp(o, "--json") == 0 || strcmp(o, "--dot") == 0) {
            a->format = o[2] == 'j' ? CHAIN_JSON : CHAIN_DOT;
        } else if (strcmp(o, "--types") == 0) {
            a->types = 1;
        } else if (v < sizeof(valued) / sizeof(valued[0])) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", o);
            int rc = parse_value(a, o, argv[++i]);
            if (rc)
                return rc;
        } else if (o[0] == '-' && o[1]) {
            return bad_usage("unknown option %s", o);
        } else if (!a->target) {
            a->target = o;
        } else {
            return bad_usage("unexpected argument %s", o);
        }
    }
    return 0;
}

int backrefs_main(int argc, char **argv)
{
    struct backrefs_args a = {.depth = 10, .fanout = 64, .format = CHAIN_TEXT};
    int rc = parse_args(argc, argv, &a);

    if (rc)
        return rc;
    if (!a.target)
        return bad_usage("missing PID or SOCKET");
    if (a.types && (a.site || a.address || a.type))
        return bad_usage("--types takes no --site, --address or --type");
    if ((a.growth || a.top) && !a.types)
        return bad_usage("--growth and --top go with --types");
    if (a.types && a.format == CHAIN_DOT)
        return bad_usage("--types prints text or --json");
    if (!a.types && (a.site != NULL) + (a.address != NULL) + (a.type != NULL) != 1)
        return bad_usage(
            "give exactly one of --site FUNCTION|FILE:LINE, --address ADDR and --type NAME");
    if (a.address) {
        char *end;
        errno = 0;
        a.addr = strtoull(a.address, &end, 16);
        if (errno || *end || !*a.address || a.addr == 0)
            return bad_usage("bad address: %s", a.address);
    }
    return run(&a);
}
