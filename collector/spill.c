/*
 * spill.c - ring events the collector cannot apply yet, in an unnamed file
 * (spill.h).
 */
#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core.h"
#include "fdid.h"
#include "fds.h"
#include "server.h"
#include "sockdir.h"

/* A run of one ring's events in the file, in ring order. */
struct spill_chunk {
    struct spill_chunk *next;
    uint64_t off;  /* bytes into the file */
    size_t n;      /* events */
    int64_t first; /* the stamp of its first event */
};

#define SPILL_EMPTY_NS 1000000000ll /* empty this long: its pages are given back */

static struct {
    int fd;              /* -1 until the first spill */
    int off;             /* no more writes (why_off says why); reads go on */
    const char *why_off; /* HEAPLINE_STATS */
    char where[120];     /* HEAPLINE_STATS: which directory holds it */
    struct fdid id;      /* what fd names */
    uint64_t end;        /* where the next chunk goes: 0 again whenever it empties */
    uint64_t size;       /* the file's size: the most end reached since a truncation */
    size_t held;         /* events in the file, every ring's */
    uint64_t spilled;    /* events written in all */
    uint64_t peak;       /* the most bytes held at once */
    int64_t empty_since; /* core_now() when it last emptied (0: holds events, or truncated) */
} S = {.fd = -1};

static void stop(const char *why)
{
    if (!S.off) {
        S.off = 1;
        S.why_off = why;
    }
}

/* Where the file may go when the record file's directory cannot hold it:
 * the socket's directory, then the candidates of heapline's socket
 * directory (sockdir.h), taken at start-up (they read the environment). */
static char fallback[1 + SOCKDIR_CANDIDATES][108];

/* The directory of path into buf ("." for a name without a slash). */
static void dir_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(buf, cap, ".");
    else
        snprintf(buf, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

void spill_prepare(void)
{
    memset(fallback, 0, sizeof(fallback));
    if (core_cfg.socket[0])
        dir_of(core_cfg.socket, fallback[0], sizeof(fallback[0]));
    for (int i = 0; i < SOCKDIR_CANDIDATES; i++)
        if (server_dir_candidate(i, fallback[1 + i], sizeof(fallback[1 + i])) != 1 ||
            !strcmp(fallback[1 + i], fallback[0]))
            fallback[1 + i][0] = 0;
}

/* An unnamed file in dir, or -1: *on_tmpfs counts the directories found on
 * tmpfs or ramfs, whose pages would be memory all the same. */
static int open_in(const char *dir, int *on_tmpfs)
{
    struct statfs fs;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0 && fstatfs(fd, &fs) == 0 &&
        (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
        close(fd);
        ++*on_tmpfs;
        return -1;
    }
    return fd;
}

/* The unnamed file, once: beside the record file, else (none, or on tmpfs)
 * in the socket's directory or another of heapline's own (sockdir.h), the
 * first off tmpfs. 0, or -1 (stop() says why). */
static int spill_open(void)
{
    char dir[sizeof(core_cfg.record)];
    int fd = -1, tmpfs = 0, tried = 0; /* directories tried, and how many on tmpfs */

    if (S.fd >= 0)
        return 0;
    if (core_cfg.record[0]) {
        dir_of(core_cfg.record, dir, sizeof(dir));
        tried++;
        if ((fd = open_in(dir, &tmpfs)) >= 0)
            snprintf(S.where, sizeof(S.where), "beside the record file");
    }
    for (int i = 0; fd < 0 && i < 1 + SOCKDIR_CANDIDATES; i++) {
        /* a candidate is heapline's to create (0700), as the socket's was */
        if (!fallback[i][0] || (i && sockdir_check(fallback[i], sockdir_create_mode(i - 1)) != 0))
            continue;
        tried++;
        if ((fd = open_in(fallback[i], &tmpfs)) >= 0)
            snprintf(S.where, sizeof(S.where), "in %.*s", (int)sizeof(fallback[i]), fallback[i]);
    }
    if (fd < 0) {
        stop(tried && tmpfs == tried
                 ? "every directory it may use is on tmpfs: its pages would be memory"
                 : "no directory it may use takes an unnamed file (on tmpfs, or refused)");
        return -1;
    }
    fd = fds_adopt(fd);
    if (fdid_take(fd, &S.id) < 0) {
        fds_close(fd);
        stop("cannot stat the unnamed file");
        return -1;
    }
    S.fd = fd;
    return 0;
}

static int io_all(int write_it, void *buf, size_t len, uint64_t off)
{
    char *p = buf;

    while (len) {
        ssize_t k = write_it ? pwrite(S.fd, p, len, (off_t)off) : pread(S.fd, p, len, (off_t)off);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        off += (uint64_t)k;
        len -= (size_t)k;
    }
    return 0;
}

int spill_append(struct ring *r, uint64_t t, size_t n)
{
    size_t i = (size_t)(t & (RING_EVENTS - 1)), first = RING_EVENTS - i < n ? RING_EVENTS - i : n;
    size_t sz = sizeof(struct ring_event);
    struct spill_chunk *c;

    if (!n || S.off || S.end + n * sz > SPILL_MAX || spill_open() < 0)
        return -1;
    if (!fdid_same(S.fd, &S.id)) { /* the program closed it, or dup2'ed over it */
        stop("the program took the unnamed file's descriptor");
        return -1;
    }
    c = malloc(sizeof(*c));
    if (!c)
        return -1;
    if (io_all(1, &r->ev[i], first * sz, S.end) < 0 ||
        (n > first && io_all(1, &r->ev[0], (n - first) * sz, S.end + first * sz) < 0)) {
        free(c);
        stop(errno == ENOSPC ? "no space left on the unnamed file's disk"
                             : "cannot write the unnamed file");
        return -1;
    }
    *c = (struct spill_chunk){NULL, S.end, n, r->ev[i].time};
    if (r->spill_tail)
        r->spill_tail->next = c;
    else
        r->spill_head = c;
    r->spill_tail = c;
    r->n_spill += n;
    S.end += n * sz;
    if (S.end > S.size)
        S.size = S.end;
    S.held += n;
    if (S.held * sz > S.peak)
        S.peak = S.held * sz;
    S.spilled += n;
    S.empty_since = 0;
    return 0;
}

long spill_take(struct ring *r, struct ring_event *dst, size_t max)
{
    size_t got = 0;

    while (r->spill_head && got + r->spill_head->n <= max) {
        struct spill_chunk *c = r->spill_head;

        /* the descriptor was checked when the chunk went in; a program
         * that took it since loses what it held, and tracking stops */
        if (!fdid_same(S.fd, &S.id) || io_all(0, dst + got, c->n * sizeof(*dst), c->off) < 0)
            return -1;
        got += c->n;
        r->spill_head = c->next;
        if (!r->spill_head)
            r->spill_tail = NULL;
        r->n_spill -= c->n;
        S.held -= c->n;
        free(c);
    }
    if (!S.held && S.end) { /* empty: the next chunk reuses the pages from 0 */
        S.end = 0;
        S.empty_since = core_now();
    }
    return (long)got;
}

int64_t spill_first_stamp(const struct ring *r)
{
    return r->spill_head->first;
}

void spill_maintain(int64_t now)
{
    if (S.fd >= 0 && !S.held && S.size && S.empty_since && now - S.empty_since > SPILL_EMPTY_NS &&
        fdid_same(S.fd, &S.id) && ftruncate(S.fd, 0) == 0) {
        S.size = 0;
        S.empty_since = 0;
    }
}

void spill_stats(uint64_t *events, uint64_t *peak_bytes, const char **where, const char **off)
{
    *where = S.where[0] ? S.where : NULL; /* set when the file opened */
    *events = S.spilled;
    *peak_bytes = S.peak;
    *off = S.off ? S.why_off : NULL;
}

void spill_atfork_child(void)
{
    for (struct ring *r = ring_list(); r; r = r->next) {
        r->spill_head = r->spill_tail = NULL; /* the parent's, copied: left */
        r->n_spill = 0;
    }
    if (S.fd >= 0)
        fds_close(S.fd); /* the child's copy of the descriptor */
    memset(&S, 0, sizeof(S));
    S.fd = -1;
}

void spill_close(void)
{
    if (S.fd >= 0)
        fds_close(S.fd);
    S.fd = -1;
    S.off = 0; /* a collector started again (attach) tries again */
    S.why_off = NULL;
    S.end = S.size = 0;
    S.held = 0;
    S.empty_since = 0;
}
