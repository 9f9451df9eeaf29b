/*
 * writer.c - the record-file thread.
 *
 * Invariant: buf[i] is owned by exactly one side: the collector fills
 * buf[fill]; the writer owns buf[1 - fill] while job_len > 0 or job_flush is
 * pending. Handover and completion go through one mutex and condition
 * variable; the writer's mallocs (zstd) are untracked: its guard is set.
 *
 * Inline (sampling mode): no thread and one buffer; the collector thread
 * compresses and writes at each handover itself. A sampled stream is a few
 * KB a second, handed over every 250 ms: a thread of its own cost the
 * program's start-up its creation (and its exit), and each handover two
 * wake-ups.
 */
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "core.h"
#include "encode.h"
#include "fdid.h"
#include "fds.h"
#include "ownmaps.h"
#include "recfile.h"
#include "track.h"
#include "wire.h"

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct recfile_writer rec;
    char *buf[2];
    int fill;       /* index of the buffer the collector fills */
    size_t job_len; /* bytes handed over, 0 when the writer is idle */
    int job_flush;
    int job_pending; /* a job is waiting or running */
    int stop;
    int running;
    int inline_mode; /* no thread: writer_submit() writes (writer_start's inline) */
    int level;       /* inline: the zstd level of recfile_writer_open(), at the first write */
    int unopened;    /* inline: rec is not open yet (header, zstd context) */
    atomic_int failed;
    char path[4096];
    struct fdid id; /* what rec.fd names */
} W;

/* The descriptor still names our file, or the path is reopened. */
static int writer_check_fd(void)
{
    int fd;

    if (fdid_same(W.rec.fd, &W.id))
        return 0;
    /* closed, or the number now names one of the program's files: leave it */
    /* not O_APPEND: recfile_writer_salvage() pwrite()s at its last flush */
    fd = open(W.path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || !fdid_same(fd, &W.id) || lseek(fd, 0, SEEK_END) < 0) {
        /* the same file, or none: never another */
        if (fd >= 0)
            close(fd);
        W.rec.fd = -1;
        return -1;
    }
    fd = fds_adopt(fd);
    W.rec.fd = fd;
    return 0;
}

static void writer_said(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void writer_said(const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    core_say(msg);
}

/* A write failed (disk full, the file size limit, an I/O error): the file is
 * cut back to its last flush and ended there with a DISABLED that names the
 * file, the error and the time, so a reader reports it as stopped by that,
 * not as a program that died. Said once on stderr too. */
static void writer_end_failed(void)
{
    static char reason[sizeof(W.path) + 200], msg[WIRE_MAX_STRING + 64]; /* encoded: truncated */
    int e = W.rec.sys_errno;
    uint32_t cause = e == ENOSPC || e == EDQUOT ? WIRE_OFF_DISK_FULL
                     : e == EFBIG               ? WIRE_OFF_FILE_LIMIT
                                                : WIRE_OFF_WRITE_ERROR;
    int64_t now = core_now();
    struct encode_buf b;
    int saved;

    snprintf(reason, sizeof(reason), "record file write failed: %s: %s", W.path,
             e ? strerror(e) : "write error");
    encode_init(&b, msg, sizeof(msg));
    saved = encode_disabled(&b, now, reason, cause) == 0 &&
            recfile_writer_salvage(&W.rec, b.data, b.len) == 0;
    writer_said("%s%s: recording stops here, at %.3f s%s", reason,
                cause == WIRE_OFF_FILE_LIMIT ? " (the file size limit, ulimit -f)" : "",
                (double)now / 1e9, saved ? "" : " (and the file could not be ended cleanly)");
}

/* Writes n bytes of buf to the file (compressed), unless it failed before:
 * the writer thread's job, or the collector thread's when inline. */
static void write_job(const char *data, size_t n, int flush)
{
    if (atomic_load(&W.failed))
        return;
    if (W.unopened && writer_check_fd() == 0) {
        W.unopened = 0;
        if (recfile_writer_open(&W.rec, W.rec.fd, W.level) < 0) {
            atomic_store(&W.failed, 1);
            writer_end_failed();
            return;
        }
        if (W.level == RECFILE_LEVEL_DEFAULT) /* inline: a sampled run's few KB a second */
            recfile_writer_light(&W.rec);
    }
    if (writer_check_fd() < 0) {
        atomic_store(&W.failed, 1);
        writer_said("record file %s: closed or replaced by the program: recording "
                    "stops here",
                    W.path);
    } else if (recfile_write(&W.rec, data, n, flush) < 0) {
        atomic_store(&W.failed, 1);
        writer_end_failed();
    }
}

static void *writer_main(void *arg)
{
    track_guard = 1;
    ownmaps_thread_stack(1);
    pthread_setname_np(pthread_self(), "heapline-write");
    pthread_mutex_lock(&W.mu);
    for (;;) {
        while (!W.job_pending && !W.stop)
            pthread_cond_wait(&W.cv, &W.mu);
        if (!W.job_pending && W.stop)
            break;
        const char *data = W.buf[1 - W.fill];
        size_t n = W.job_len;
        int flush = W.job_flush;

        pthread_mutex_unlock(&W.mu);
        write_job(data, n, flush);
        pthread_mutex_lock(&W.mu);
        W.job_pending = 0;
        W.job_len = 0;
        pthread_cond_broadcast(&W.cv);
    }
    pthread_mutex_unlock(&W.mu);
    ownmaps_thread_stack(0);
    return NULL;
}

int writer_start(const char *path, int level, size_t cap, int inline_mode, const char **why)
{
    static char start_why[4200];
    const char *err;
    sigset_t all, old;
    int r, fd;
    memset(&W, 0, sizeof(W));
    pthread_mutex_init(&W.mu, NULL);
    pthread_cond_init(&W.cv, NULL);
    snprintf(W.path, sizeof(W.path), "%s", path);
    fd = recfile_create_safe(path, 0644, &err);
    if (fd < 0 || fdid_take(fd, &W.id) < 0) {
        /* the reason outlives this call: core_disable() keeps the pointer */
        snprintf(start_why, sizeof(start_why), "cannot create the record file %s: %s", path,
                 fd < 0 ? err : "fstat failed");
        *why = start_why;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fd = fds_adopt(fd);
    W.buf[0] = malloc(cap);
    W.buf[1] = inline_mode ? W.buf[0] : malloc(cap);
    if (inline_mode && W.buf[0]) {
        /* the header, the room kept past it and the zstd context at the
         * first handover, on the collector thread: 90 us of the program's
         * start-up (fallocate, write, the context's page faults) */
        W.rec.fd = fd;
        W.level = level;
        W.unopened = 1;
        W.inline_mode = 1;
        W.running = 1;
        return 0;
    }
    if (!W.buf[0] || !W.buf[1] || recfile_writer_open(&W.rec, fd, level) < 0) {
        *why = "cannot write the record file";
        fds_close(fd);
        return -1;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&W.thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        recfile_writer_close(&W.rec);
        fds_close(fd);
        *why = "cannot start the writer thread";
        return -1;
    }
    W.running = 1;
    return 0;
}

char *writer_buffer(void)
{
    return W.buf[W.fill];
}

char *writer_submit(size_t n, int flush)
{
    if (W.inline_mode) {
        if (n || flush)
            write_job(W.buf[0], n, flush);
        return W.buf[0];
    }
    pthread_mutex_lock(&W.mu);
    while (W.job_pending)
        pthread_cond_wait(&W.cv, &W.mu);
    if (n || flush) {
        W.job_len = n;
        W.job_flush = flush;
        W.job_pending = 1;
        W.fill = 1 - W.fill;
        pthread_cond_broadcast(&W.cv);
    }
    pthread_mutex_unlock(&W.mu);
    return W.buf[W.fill];
}

int writer_failed(void)
{
    return atomic_load(&W.failed);
}

void writer_stop(void)
{
    if (!W.running)
        return;
    if (W.unopened)
        write_job(W.buf[0], 0, 1); /* nothing was handed over: the header at least */
    if (!W.inline_mode) {
        pthread_mutex_lock(&W.mu);
        W.stop = 1;
        pthread_cond_broadcast(&W.cv);
        pthread_mutex_unlock(&W.mu);
        pthread_join(W.thread, NULL);
    }
    W.running = 0;
    if (atomic_load(&W.failed) || writer_check_fd() < 0)
        W.rec.err = WIRE_EIO;     /* write nothing more */
    recfile_writer_close(&W.rec); /* ends the last zstd frame */
    if (fdid_same(W.rec.fd, &W.id))
        fds_close(W.rec.fd);
}

void writer_release(void)
{
    if (W.running)
        return;
    if (W.buf[1] != W.buf[0])
        free(W.buf[1]);
    free(W.buf[0]);
    W.buf[0] = W.buf[1] = NULL;
}

void writer_atfork_child(void)
{
    if (W.running && fdid_same(W.rec.fd, &W.id))
        fds_close(W.rec.fd);
    memset(&W, 0, sizeof(W)); /* the parent's buffers stay in its memory */
}
