/*
 * source.c - the three sources of messages: a recording, a socket, a child.
 *
 * All three end in the same place: bytes go into one streaming decoder and
 * each complete message into model_apply(), at most max_messages per call,
 * so a caller's loop stays responsive however fast bytes arrive. A socket
 * source can also tee what it receives into a record file (attach -o).
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "complete.h"
#include "decode.h"
#include "encode.h"
#include "launch.h"
#include "model.h"
#include "recfile.h"
#include "record.h"
#include "responses.h"
#include "sockpath.h"
#include "wire.h"

#include "source_int.h"

#define READ_CHUNK (256u << 10)

static struct source *source_alloc(int kind)
{
    struct source *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->buf = malloc(READ_CHUNK);
    if (!s->buf) {
        free(s);
        return NULL;
    }
    s->kind = kind;
    s->fd = -1;
    s->rec_fd = -1;
    s->out_fd = -1;
    s->log_fd = -1;
    s->next_req = 1;
    decode_init(&s->dec);
    return s;
}

/* What source_message() says: the state's message, after the collector's
 * own line when it said something (a failure it could only write to the
 * program's stderr, which `run` sends to a log). */
static void show(struct source *s)
{
    if (s->said[0])
        snprintf(s->shown, sizeof(s->shown), "collector: %s; %s", s->said, s->msg);
    else
        snprintf(s->shown, sizeof(s->shown), "%s", s->msg);
}

static void set_msg(struct source *s, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(struct source *s, int state, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
    va_end(ap);
    s->state = state;
    show(s);
}

/* ------------------------------------------------------------------ file */

struct source *source_open_file(const char *path, char *err, size_t errsz)
{
    struct source *s;
    int r;

    s = source_alloc(SOURCE_FILE);
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    snprintf(s->name, sizeof(s->name), "%s", path);
    r = recfile_open(&s->rf, path);
    if (r != 0) {
        if (r == WIRE_EMAGIC)
            snprintf(err, errsz, "%s: not a heapline recording", path);
        else if (r == WIRE_EVERSION)
            snprintf(err, errsz, "%s: recorded by a newer heapline (format version)", path);
        else if (r == WIRE_EIO)
            snprintf(err, errsz, "%s: %s", path, errno ? strerror(errno) : "read error");
        else
            snprintf(err, errsz, "%s: %s", path, wire_strerror(r));
        source_close(s);
        return NULL;
    }
    s->rf_open = 1;
    set_msg(s, SOURCE_OPEN, "replaying %s", path);
    return s;
}

/* Where stream offset off lies in the file: exact for an uncompressed file;
 * for a compressed one, how far the reader has got (the bytes are inside a
 * zstd block that ends there). */
static uint64_t file_offset(const struct source *s, uint64_t off)
{
    if (!s->rf.compressed)
        return WIRE_FILE_HEADER_SIZE + off;
    return s->rf.in_file_off + s->rf.in_off;
}

/* A file's bytes are wrong from near `at` on: what came before is the
 * recording, read to here (report and replay show it, and say where it
 * stops); the source is done, not failed. */
static void file_corrupt(struct source *s, uint64_t at, int err)
{
    s->corrupt = 1;
    s->corrupt_at = at;
    s->file_eof = 1;
    set_msg(s, SOURCE_DONE, "%s: corrupt data near byte %llu of the file (%s): read up to there",
            s->name, (unsigned long long)at, wire_strerror(err));
}

/* Pulls one chunk from the file into the decoder. Returns 1 when bytes were
 * fed, 0 at the end, -1 on error (state set). */
static int file_fill(struct source *s)
{
    ssize_t n;
    int r;

    if (s->file_eof)
        return 0;
    n = recfile_read(&s->rf, s->buf, READ_CHUNK);
    if (n < 0) {
        file_corrupt(s, s->rf.in_file_off + s->rf.in_off, (int)n);
        return 0;
    }
    if (n == 0) {
        s->file_eof = 1;
        if (s->rf.truncated)
            s->truncated = 1;
        return 0;
    }
    r = decode_feed(&s->dec, s->buf, (size_t)n);
    if (r != 0) {
        file_corrupt(s, file_offset(s, s->dec.consumed), r);
        return 0;
    }
    return 1;
}

/* --------------------------------------------------------------- common */

/* Applies buffered messages. Returns count applied, or -1 (decoder error). */
/* Keeps the answer to one of our requests (source_response()). Returns 0,
 * or -1 with the first error noted as the model's errors are. */
static int keep_response(struct source *s, const struct wire_msg *msg, uint64_t off)
{
    int r;

    if (!s->answers && !(s->answers = responses_new()))
        r = WIRE_ENOMEM;
    else
        r = responses_keep(s->answers, msg);
    if (r == 0)
        return 0;
    if (s->model_errs == 0)
        snprintf(s->first_err, sizeof(s->first_err), "stream offset %llu: %s",
                 (unsigned long long)off,
                 r == WIRE_ECORRUPT ? "corrupt object list" : "out of memory");
    return -1;
}

static int drain(struct source *s, struct model *m, int max, int *needmore)
{
    struct wire_msg msg;
    int n = 0, r;

    *needmore = 0;
    while (n < max) {
        uint64_t off = s->dec.consumed;

        r = s->dec.len > s->dec.off ? decode_next(&s->dec, &msg) : WIRE_ENEEDMORE;
        if (r == WIRE_ENEEDMORE) {
            *needmore = 1;
            s->pending = 0;
            return n;
        }
        if (r < 0 && (s->kind == SOURCE_FILE || s->from_file)) {
            file_corrupt(s, file_offset(s, off), r);
            s->pending = 0;
            *needmore = 0;
            return n;
        }
        if (r < 0) {
            set_msg(s, SOURCE_FAILED, "%s: corrupt data at stream offset %llu (%s)", s->name,
                    (unsigned long long)off, wire_strerror(r));
            return -1;
        }
        if (msg.type == 0)
            continue; /* a newer message type: skipped */
        if (msg.type == WIRE_RESPONSE && keep_response(s, &msg, off) != 0)
            s->model_errs++; /* counted as the model's were, when it kept them */
        if (model_apply(m, &msg) != 0) {
            if (s->model_errs++ == 0)
                snprintf(s->first_err, sizeof(s->first_err), "stream offset %llu: %s",
                         (unsigned long long)off, model_error(m));
        }
        n++;
    }
    s->pending = 1;
    return n;
}

/* The program's output is written to an unnamed file (O_TMPFILE) in the
 * socket directory, so a TUI that is killed leaves nothing behind; once the
 * program has ended (or the user quit), output there is kept as log_path.
 * Returns 1 when log_path holds output. */
static int log_keep(struct source *s)
{
    struct stat st;
    char proc[64];

    if (s->log_fd < 0 || fstat(s->log_fd, &st) != 0 || st.st_size == 0)
        return 0;
    if (s->log_named)
        return 1;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s->log_fd);
    unlink(s->log_path); /* a stale one of an earlier run with our pid */
    s->log_named = linkat(AT_FDCWD, proc, AT_FDCWD, s->log_path, AT_SYMLINK_FOLLOW) == 0;
    return s->log_named;
}

static void collector_said(struct source *s, int force);

static void describe_end(struct source *s, const struct model *m)
{
    const struct model_summary *sum = model_summary(m);
    char extra[PATH_MAX + 32] = "";

    if (s->kind == SOURCE_CHILD)
        collector_said(s, 1); /* its last words, if any */

    if (log_keep(s))
        snprintf(extra, sizeof(extra), " (output in %s)", s->log_path);
    if (sum->state == MODEL_ENDED) {
        switch (sum->end_reason) {
        case WIRE_END_EXIT:
            set_msg(s, SOURCE_DONE, "program exited with status %d%s", sum->end_status, extra);
            return;
        case WIRE_END_SIGNAL:
            set_msg(s, SOURCE_DONE, "program killed by signal %d (%s)%s", sum->end_status,
                    strsignal(sum->end_status), extra);
            return;
        case WIRE_END_EXEC:
            set_msg(s, SOURCE_DONE, "program exec'd another image%s", extra);
            return;
        default:
            set_msg(s, SOURCE_DONE, "the collector closed the stream%s", extra);
            return;
        }
    }
    if (s->kind == SOURCE_CHILD && s->child_done) {
        int st = s->child_status;
        if (WIFSIGNALED(st))
            set_msg(s, SOURCE_DONE, "program killed by signal %d (%s)%s", WTERMSIG(st),
                    strsignal(WTERMSIG(st)), extra);
        else
            set_msg(s, SOURCE_DONE, "program exited with status %d%s", WEXITSTATUS(st), extra);
        return;
    }
    set_msg(s, SOURCE_DONE, "connection closed by %s", s->name);
}

/* ------------------------------------------------------------- sockets */

static int start_recording(struct source *s, const char *record_path, char *err, size_t errsz)
{
    const char *why;
    int r;

    if (!record_path)
        return 0;
    s->rec_fd = recfile_create_safe(record_path, 0600, &why);
    if (s->rec_fd < 0) {
        snprintf(err, errsz, "%s: %s", record_path, why);
        return -1;
    }
    r = recfile_writer_open(&s->rec, s->rec_fd, RECFILE_LEVEL_DEFAULT);
    if (r != 0) {
        snprintf(err, errsz, "%s: %s", record_path, wire_strerror(r));
        close(s->rec_fd);
        s->rec_fd = -1;
        return -1;
    }
    s->recording = 1;
    return 0;
}

struct source *source_open_socket(const char *target, const char *record_path, char *err,
                                  size_t errsz)
{
    struct source *s = source_alloc(SOURCE_SOCKET);

    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->fd = client_connect(target, s->sock_path, sizeof(s->sock_path), err, errsz);
    if (s->fd < 0) {
        source_close(s);
        return NULL;
    }
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    snprintf(s->name, sizeof(s->name), "%s", s->sock_path);
    if (start_recording(s, record_path, err, errsz) != 0) {
        source_close(s);
        return NULL;
    }
    set_msg(s, SOURCE_OPEN, "attached to %s", s->sock_path);
    return s;
}

/* Reads what the socket has. Returns 1 when bytes came, 0 when none (would
 * block), -1 on end/error (state set by the caller via *eof). */
static int sock_fill(struct source *s, int *eof)
{
    ssize_t n = read(s->fd, s->buf, READ_CHUNK);
    int r;

    *eof = 0;
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        if (errno == ECONNRESET) {
            *eof = 1;
            return -1;
        }
        set_msg(s, SOURCE_FAILED, "%s: %s", s->name, strerror(errno));
        return -1;
    }
    if (n == 0) {
        *eof = 1;
        return -1;
    }
    s->received += (uint64_t)n;
    if (s->recording) {
        /* flushed about once a second: a crash of heapline loses little */
        struct timespec now;
        int flush;

        clock_gettime(CLOCK_MONOTONIC, &now);
        flush = now.tv_sec != s->rec_flushed;
        if (flush)
            s->rec_flushed = now.tv_sec;
        if (recfile_write(&s->rec, s->buf, (size_t)n, flush) != 0)
            s->recording = 0; /* keep watching; the file stays valid up to here */
    }
    r = decode_feed(&s->dec, s->buf, (size_t)n);
    if (r != 0) {
        set_msg(s, SOURCE_FAILED, "%s: corrupt data at stream offset %llu (%s)", s->name,
                (unsigned long long)s->dec.consumed, wire_strerror(r));
        return -1;
    }
    return 1;
}

/* --------------------------------------------------------------- child */

struct source *source_open_child(char *const argv[], const char *record_path, int *exec_errno,
                                 char *err, size_t errsz)
{
    struct source *s = source_alloc(SOURCE_CHILD);
    char dir[PATH_MAX], rec_abs[2 * PATH_MAX + 2] = "";
    struct launch l = {.argv = argv, .log_fd = -1};

    *exec_errno = 0;
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (sockpath_dir(dir, sizeof(dir), 1, err, errsz) != 0) {
        source_close(s);
        return NULL;
    }
    /* refused here, before the program starts: the collector could only say
     * so in the log, and the program would run untracked */
    if (record_path) {
        s->out_fd = record_prepare(record_path, rec_abs, sizeof(rec_abs), err, errsz);
        snprintf(s->rec_path, sizeof(s->rec_path), "%s", rec_abs);
        if (s->out_fd < 0) {
            source_close(s);
            return NULL;
        }
    }
    if (strlen(dir) > 80 ||
        snprintf(s->sock_path, sizeof(s->sock_path), "%.80s/run-%d.sock", dir, (int)getpid()) >=
            (int)sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errsz, "%s: socket path too long", s->sock_path);
        source_close(s);
        return NULL;
    }
    snprintf(s->log_path, sizeof(s->log_path), "%.80s/run-%d.log", dir, (int)getpid());
    /* the program's output, read back for the collector's own lines */
    s->log_fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (s->log_fd < 0) { /* no O_TMPFILE on this file system: a named file */
        s->log_fd = open(s->log_path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        s->log_named = s->log_fd >= 0;
    }
    unlink(s->sock_path);
    snprintf(s->name, sizeof(s->name), "%s", argv[0]);
    l.record = rec_abs[0] ? rec_abs : NULL;
    l.socket = s->sock_path;
    l.log_fd = s->log_fd;
    if (launch_start(&l, err, errsz) != 0) {
        *exec_errno = l.exec_errno;
        if (s->log_named)
            unlink(s->log_path); /* nothing ran: no output to keep */
        source_close(s);
        return NULL;
    }
    s->pid = l.pid;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    set_msg(s, SOURCE_CONNECTING, "starting %s", argv[0]);
    return s;
}

/* The last line the collector wrote to the program's stderr (the log), such
 * as "heapline: record file write failed: recording stops here", into
 * s->said; looked at most every COLLECTOR_SAID_MS, and only in the log's last
 * 16 KB. The collector says something only when it fails. */
#define COLLECTOR_SAID_MS 200
static void collector_said(struct source *s, int force)
{
    char buf[16384 + 1], *p, *line = NULL;
    struct timespec now;
    int64_t ms;
    struct stat st;
    ssize_t n;
    int fd;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (!s->log_path[0] || (!force && ms - s->said_ms < COLLECTOR_SAID_MS))
        return;
    s->said_ms = ms;
    fd = s->log_fd;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size != s->said_size) {
        off_t from = st.st_size > 16384 ? st.st_size - 16384 : 0;

        s->said_size = st.st_size;
        n = pread(fd, buf, sizeof(buf) - 1, from);
        buf[n > 0 ? n : 0] = 0;
        for (p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
            if (strncmp(p, "heapline: ", 10) == 0 && (p == buf || p[-1] == '\n'))
                line = p + 10;
        if (line) {
            size_t len = strcspn(line, "\n");
            snprintf(s->said, sizeof(s->said), "%.*s", (int)len, line);
            show(s);
        }
    }
}

static void child_reap(struct source *s)
{
    int st;

    if (s->pid > 0 && !s->child_done && waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->child_done = 1;
        s->child_status = st;
    }
}

/* ------------------------------------------------------------- generic */

/* The child's stream ended before the child did (it exec'd, told is 1 when
 * its END said so): connect to the socket path again, and start the model
 * afresh when that succeeds. */
static void follow_exec(struct source *src, int told)
{
    close(src->fd);
    src->fd = -1;
    decode_free(&src->dec);
    decode_init(&src->dec);
    src->pending = 0;
    src->reset_on_connect = 1;
    if (told)
        set_msg(src, SOURCE_CONNECTING, "%s exec'd; following it", src->name);
    else /* no END, or none received: an exec whose END did not reach us? */
        set_msg(src, SOURCE_CONNECTING, "%s closed its stream while running; waiting for it",
                src->name);
}

int source_read(struct source *src, struct model *m, int max_messages)
{
    int total = 0, needmore, n, eof;

    if (src->state == SOURCE_FAILED)
        return -1;
    /* a model that does not apply events: they are not decoded either (the
     * decoder steps over them; msgpack's unpacking was most of a read) */
    src->dec.skip = model_skipping_events(m) ? 1u << WIRE_EVENTS : 0;
    if (src->kind == SOURCE_CHILD) {
        child_reap(src);
        collector_said(src, src->child_done);
        if (src->state == SOURCE_CONNECTING) {
            src->fd = client_connect_path(src->sock_path);
            if (src->fd >= 0)
                fcntl(src->fd, F_SETFL, fcntl(src->fd, F_GETFL) | O_NONBLOCK);
            if (src->fd < 0) {
                if (src->child_done) {
                    src->fd = -1;
                    /* too quick to watch live: show what it recorded, if anything */
                    if (src->rec_path[0] && recfile_open(&src->rf, src->rec_path) == 0) {
                        if (src->reset_on_connect && model_reset(m) != 0) {
                            set_msg(src, SOURCE_FAILED, "out of memory");
                            return -1;
                        }
                        src->reset_on_connect = 0;
                        src->rf_open = 1;
                        src->from_file = 1;
                        set_msg(src, SOURCE_OPEN,
                                "program ended before heapline attached: "
                                "reading its recording");
                        return source_read(src, m, max_messages);
                    }
                    describe_end(src, m);
                    snprintf(src->msg + strlen(src->msg), sizeof(src->msg) - strlen(src->msg),
                             " before heapline could attach");
                    show(src);
                }
                return 0;
            }
            if (src->reset_on_connect) {
                src->reset_on_connect = 0;
                if (model_reset(m) != 0) {
                    set_msg(src, SOURCE_FAILED, "out of memory");
                    return -1;
                }
            }
            set_msg(src, SOURCE_OPEN, "running %s (pid %d)", src->name, (int)src->pid);
        }
    }
    if (src->state != SOURCE_OPEN)
        return 0;
    for (;;) {
        n = drain(src, m, max_messages - total, &needmore);
        if (n < 0)
            return -1;
        total += n;
        if (!needmore || total >= max_messages)
            return total;
        if (src->kind == SOURCE_FILE || src->from_file) {
            n = file_fill(src);
            if (n < 0)
                return -1;
            if (n == 0) {
                if (src->corrupt)
                    return total; /* file_corrupt() said where */
                if (src->dec.len > src->dec.off)
                    src->truncated = 1;
                if (src->from_file) {
                    describe_end(src, m);
                } else {
                    struct complete c;

                    source_verdict(src, m, &c);
                    if (c.complete)
                        set_msg(src, SOURCE_DONE, "end of recording");
                    else
                        set_msg(src, SOURCE_DONE, "end of recording: INCOMPLETE: %s", c.message);
                }
                return total;
            }
        } else {
            n = sock_fill(src, &eof);
            if (n == 0)
                return total;
            if (n < 0) {
                if (eof) {
                    child_reap(src);
                    if (src->kind == SOURCE_CHILD && !src->child_done &&
                        model_summary(m)->state == MODEL_ENDED &&
                        model_summary(m)->end_reason == WIRE_END_EXEC) {
                        /* a wrapper exec'd the real program: its collector
                         * opens the same socket path again */
                        follow_exec(src, 1);
                        return total;
                    }
                    /* a program that closed its collector's socket is
                     * exiting: its status (and output) a moment later, 300 ms
                     * at most, so the line says how it ended, not only that
                     * the stream did; none received yet: an exec as soon as
                     * we connected (a wrapper's wrapper: env, then bash) */
                    for (int i = 0; i < 60 && src->kind == SOURCE_CHILD && !src->child_done &&
                                    model_summary(m)->state == MODEL_RUNNING;
                         i++) {
                        struct timespec ts = {0, 5000000};

                        nanosleep(&ts, NULL);
                        child_reap(src);
                    }
                    if (src->kind == SOURCE_CHILD && !src->child_done &&
                        (model_summary(m)->state == MODEL_WAITING ||
                         model_summary(m)->state == MODEL_RUNNING)) {
                        /* still running, and its stream ended without an
                         * END: an exec whose END did not reach us; the new
                         * image's collector opens the same path */
                        follow_exec(src, 0);
                        return total;
                    }
                    describe_end(src, m);
                    if (src->recording)
                        recfile_write(&src->rec, "", 0, 1);
                    return total;
                }
                return -1;
            }
        }
    }
}

void source_close(struct source *s)
{
    if (!s)
        return;
    responses_free(s->answers);
    if (s->rf_open)
        recfile_close(&s->rf);
    if (s->fd >= 0)
        close(s->fd);
    if (s->rec_fd >= 0) {
        if (s->recording)
            recfile_writer_close(&s->rec);
        close(s->rec_fd);
    }
    if (s->kind == SOURCE_CHILD && s->pid > 0) {
        child_reap(s);
        if (!s->child_done) {
            /* the user quit `run`: the program goes with the TUI */
            kill(s->pid, SIGTERM);
            for (int i = 0; i < 100 && !s->child_done; i++) {
                struct timespec ts = {0, 10000000};
                nanosleep(&ts, NULL);
                child_reap(s);
            }
            if (!s->child_done) {
                kill(s->pid, SIGKILL);
                waitpid(s->pid, NULL, 0);
            }
        }
        unlink(s->sock_path);
        /* keep the program's output only if there is some, and say where:
         * the status line that named it is gone with the TUI */
        if (log_keep(s))
            fprintf(stderr, "heapline: the program's output is in %s\n", s->log_path);
        else if (s->log_named)
            unlink(s->log_path);
    }
    if (s->log_fd >= 0) {
        close(s->log_fd);
        s->log_fd = -1;
    }
    if (s->out_fd >= 0) /* after the program ended: it wrote all it would */
        recfile_remove_if_empty(s->out_fd, s->rec_path);
    decode_free(&s->dec);
    free(s->buf);
    free(s);
}

int source_child_status(struct source *src, int *status)
{
    if (src->kind != SOURCE_CHILD)
        return 0;
    child_reap(src);
    if (!src->child_done)
        return 0;
    *status = src->child_status;
    return 1;
}

int source_corrupt(const struct source *src, uint64_t *at)
{
    if (at)
        *at = src->corrupt_at;
    return src->corrupt;
}

void source_verdict(const struct source *src, const struct model *m, struct complete *c)
{
    struct complete_input in = {
        .truncated = src->truncated,
        .corrupt = src->corrupt,
        .corrupt_at = src->corrupt_at,
        .live = src->kind != SOURCE_FILE && !src->from_file &&
                (src->state == SOURCE_OPEN || src->state == SOURCE_CONNECTING),
    };

    complete_judge(m, &in, c);
}
