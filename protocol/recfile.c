/*
 * recfile.c - record file framing and its zstd layer.
 *
 * Invariant (writer): bytes handed to recfile_write() are whole messages, so
 * ending a zstd frame between two calls puts a frame boundary on a message
 * boundary. Invariant (reader): a decode error is reported only for bytes
 * that are present and wrong; missing bytes at the end are "truncated".
 */
#include "recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "wire.h"

int recfile_create_own(const char *path, int mode, const struct recfile_own *own, const char **why)
{
    char magic[RECFILE_OWN_MAGIC_MAX];
    struct stat before, st;
    ssize_t n;
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0)
        return fd;
    if (errno != EEXIST) {
        *why = strerror(errno);
        return -1;
    }
    /* It exists (O_EXCL also says so for a symbolic link, dangling or not):
     * look before opening, since opening a FIFO blocks and opening a device
     * acts on it; then check that what was opened is what was looked at. */
    if (lstat(path, &before) != 0) {
        *why = strerror(errno);
        return -1;
    }
    if (S_ISLNK(before.st_mode)) {
        *why = own->link;
        errno = ELOOP;
        return -1;
    }
    if (S_ISDIR(before.st_mode)) {
        *why = strerror(errno = EISDIR);
        return -1;
    }
    if (!S_ISREG(before.st_mode)) {
        *why = own->special;
        errno = EINVAL;
        return -1;
    }
    fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ELOOP ? own->link : strerror(errno);
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_dev != before.st_dev || st.st_ino != before.st_ino ||
        !S_ISREG(st.st_mode)) {
        close(fd);
        *why = "changed while heapline opened it: not written";
        errno = EAGAIN;
        return -1;
    }
    if (st.st_uid != geteuid()) {
        close(fd);
        *why = "belongs to another user: not overwritten";
        errno = EPERM;
        return -1;
    }
    do
        n = pread(fd, magic, own->magic_len, 0);
    while (n < 0 && errno == EINTR);
    if (n != 0 &&
        (n != (ssize_t)own->magic_len || memcmp(magic, own->magic, own->magic_len) != 0)) {
        close(fd);
        *why = n < 0 ? strerror(errno) : own->not_ours;
        errno = n < 0 ? errno : EEXIST;
        return -1;
    }
    /* n == 0: empty already (heapline record emptied it; the collector then
     * opens it): no truncation, whose inode update cost 70 us of a
     * preloaded program's start-up */
    if (n != 0 && ftruncate(fd, 0) != 0) {
        *why = strerror(errno);
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static const struct recfile_own recording = {
    .magic = WIRE_FILE_MAGIC,
    .magic_len = 8,
    .link = "is a symbolic link (recordings are not written through links; name the target)",
    .special = "not a regular file (a device, FIFO or socket): refusing to write a recording there",
    .not_ours = "exists and is not a heapline recording: not overwritten (remove it, or choose "
                "another name)",
};

int recfile_create_safe(const char *path, int mode, const char **why)
{
    return recfile_create_own(path, mode, &recording, why);
}

int recfile_remove_if_empty(int fd, const char *path)
{
    struct stat sb, now;
    int empty = fstat(fd, &sb) == 0 && sb.st_size == 0;

    if (empty && lstat(path, &now) == 0 && now.st_dev == sb.st_dev && now.st_ino == sb.st_ino)
        unlink(path);
    close(fd);
    return empty;
}

/* Appends n bytes to the recording, counting them in file_bytes. The file
 * size limit (RLIMIT_FSIZE) is kept RECFILE_SALVAGE_ROOM away: writing up to
 * it would leave no room to end the file, and past it sends SIGXFSZ, which
 * kills a program that did not ignore it. On error, errno is kept in
 * sys_errno. */
static int writer_out(struct recfile_writer *w, const char *p, size_t n)
{
    if (w->size_limit && w->file_bytes + n > w->size_limit) {
        w->sys_errno = EFBIG;
        return WIRE_EIO;
    }
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);

        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->sys_errno = errno;
            return WIRE_EIO;
        }
        p += k;
        n -= (size_t)k;
        w->file_bytes += (uint64_t)k;
    }
    return 0;
}

/* Everything written so far is whole (a flush or a frame end): remember
 * where, and keep RECFILE_SALVAGE_ROOM allocated past it (without changing
 * the file's size), so ending the file there still works on a full disk.
 * When the disk has no room left to keep, the file is full now: WIRE_EIO
 * (ENOSPC), and the caller ends it here, in the room still kept. Going on
 * wrote into that room, and the end that followed found none: 1 full-disk
 * run in 12 ended cut mid-frame ("truncated", not "disk_full"). */
static int writer_whole(struct recfile_writer *w, int frame_open)
{
    uint64_t was = w->whole_bytes;
    int was_open = w->frame_open;

    w->whole_bytes = w->file_bytes;
    w->frame_open = frame_open;
    if (w->reserve_off || w->whole_bytes + RECFILE_SALVAGE_ROOM <= w->reserved_to)
        return 0;
    if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->whole_bytes, RECFILE_SALVAGE_ROOM * 4) == 0)
        w->reserved_to = w->whole_bytes + RECFILE_SALVAGE_ROOM * 4;
    else if (errno == ENOSPC && /* the disk is nearly full: the room itself, at least */
             fallocate(w->fd, FALLOC_FL_KEEP_SIZE, (off_t)w->whole_bytes, RECFILE_SALVAGE_ROOM) ==
                 0)
        w->reserved_to = w->whole_bytes + RECFILE_SALVAGE_ROOM;
    else if (errno == ENOSPC) {
        w->sys_errno = ENOSPC;
        if (w->whole_bytes + RECFILE_SALVAGE_ROOM > w->reserved_to) {
            /* the room kept is behind: the file ends at the whole point
             * before, which has it, and loses what was written since (the
             * end written here ran past the room and was cut by the full
             * disk: 1 run in 20 ended "truncated", not "disk_full") */
            w->whole_bytes = was;
            w->frame_open = was_open;
        }
        return WIRE_EIO;
    } else if (errno != EINTR)
        w->reserve_off = 1; /* not supported here: the salvage may still fit */
    return 0;
}

int recfile_writer_salvage(struct recfile_writer *w, const void *msg, size_t n)
{
    static const char last_block[3] = {1, 0, 0}; /* raw, size 0, last of its frame */
    char *trailer = NULL;
    size_t len = 0;
    ssize_t k;

    if (w->cctx) {
        size_t cap = 3 + ZSTD_compressBound(n);

        trailer = malloc(cap);
        if (!trailer)
            return WIRE_ENOMEM;
        if (w->frame_open) {
            memcpy(trailer, last_block, 3);
            len = 3;
        }
        ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
        k = (ssize_t)ZSTD_compress2(w->cctx, trailer + len, cap - len, msg, n);
        if (ZSTD_isError((size_t)k)) {
            free(trailer);
            return WIRE_ECOMPRESS;
        }
        len += (size_t)k;
    }
    if (len + n > RECFILE_SALVAGE_ROOM && !w->cctx) {
        free(trailer);
        return WIRE_ETOOBIG;
    }
    do
        k = pwrite(w->fd, trailer ? trailer : msg, trailer ? len : n, (off_t)w->whole_bytes);
    while (k < 0 && errno == EINTR);
    if (!trailer)
        len = n;
    free(trailer);
    if (k != (ssize_t)len || ftruncate(w->fd, (off_t)(w->whole_bytes + len)) != 0)
        return WIRE_EIO;
    w->file_bytes = w->whole_bytes + len;
    w->err = WIRE_EIO; /* the file is ended: nothing more goes into it */
    return 0;
}

int recfile_writer_open(struct recfile_writer *w, int fd, int level)
{
    unsigned char hdr[WIRE_FILE_HEADER_SIZE];
    uint32_t version = WIRE_VERSION, flags = level > 0 ? WIRE_FILE_ZSTD : 0;

    memset(w, 0, sizeof(*w));
    w->fd = fd;
    if (level > 0) {
        w->cctx = ZSTD_createCCtx();
        w->out_cap = ZSTD_CStreamOutSize();
        w->out = malloc(w->out_cap);
        if (!w->cctx || !w->out) {
            recfile_writer_close(w);
            return WIRE_ENOMEM;
        }
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
        if (level == RECFILE_LEVEL_DEFAULT) {
            /* Level 3, tuned: event streams are short varints with few long
             * repeats; most of the gain is the entropy coding of literals.
             * The fast strategy with 6-byte matches: files 5% larger than
             * level 3's at 57% of its CPU (zstd -b on the bench's stream:
             * 264 against 150 MB/s). A 2^16 hash table (256 KiB), not
             * 2^15: churn's stream 2.6% smaller (3.35 B/event) for 0.5 ns
             * more a byte of input, 3.7 to 4.2 (its 5.55 raw bytes an
             * event: 3 ns); 2^17 took 5.5 ns a byte for 2.6% more. */
            ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_strategy, ZSTD_fast);
            ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, 16);
            ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_minMatch, 6);
            /* a 512 KiB window, not level 3's 2 MiB: the stream's context
             * (window, block buffers, hash table) was 3 MB of the
             * program's resident memory (python3's JSON bench), for a file
             * no smaller (2.01 MB either way; 2.05 with 256 KiB) */
            ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, 19);
        }
    }
    memcpy(hdr, WIRE_FILE_MAGIC, 8);
    for (int i = 0; i < 4; i++) {
        hdr[8 + i] = (unsigned char)(version >> (8 * i));
        hdr[12 + i] = (unsigned char)(flags >> (8 * i));
    }
    {
        struct rlimit rl;

        if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            w->size_limit = rl.rlim_cur > RECFILE_SALVAGE_ROOM + sizeof(hdr)
                                ? (uint64_t)rl.rlim_cur - RECFILE_SALVAGE_ROOM
                                : sizeof(hdr);
    }
    w->err = writer_out(w, (const char *)hdr, sizeof(hdr));
    if (!w->err)
        w->err = writer_whole(w, 0);
    return w->err;
}

void recfile_writer_light(struct recfile_writer *w)
{
    /* a 4096-entry hash table (16 KiB, not 256) and a 128 KiB window (not
     * 512): less of the context to map and clear where a sampled run's exit
     * waits for it (sqlite3's deferred exit, 61 interleaved rounds: 2.4 ms
     * less, paired by round), for files of the same size at 512K (2.5 KB
     * of sqlite3, 24.6 KB of python3's JSON bench) and 8% larger at 4K
     * (churn's 4.7 MB: 5.1) */
    if (w->cctx) {
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, 12);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog, 17);
    }
}

static int compress_step(struct recfile_writer *w, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer out = {w->out, w->out_cap, 0};
        size_t left = ZSTD_compressStream2(w->cctx, &out, in, mode);

        if (ZSTD_isError(left))
            return WIRE_ECOMPRESS;
        if (out.pos > 0) {
            int r = writer_out(w, w->out, out.pos);
            if (r)
                return r;
        }
        if (mode == ZSTD_e_continue ? in->pos == in->size : left == 0) {
            return mode != ZSTD_e_continue ? writer_whole(w, mode == ZSTD_e_flush) : 0;
        }
    }
}

int recfile_write(struct recfile_writer *w, const void *buf, size_t n, int flush)
{
    ZSTD_inBuffer in = {buf, n, 0};
    int r;

    if (w->err)
        return w->err;
    w->raw_bytes += n;
    if (!w->cctx) {
        r = writer_out(w, buf, n);
        if (!r)
            r = writer_whole(w, 0); /* whole messages */
        return w->err = r;
    }
    w->in_frame += n;
    if (w->in_frame >= RECFILE_FRAME_BYTES) {
        r = compress_step(w, &in, ZSTD_e_end);
        w->in_frame = 0;
    } else {
        r = compress_step(w, &in, flush ? ZSTD_e_flush : ZSTD_e_continue);
    }
    return w->err = r;
}

int recfile_writer_close(struct recfile_writer *w)
{
    int r = w->err;

    if (w->cctx && !r) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        r = compress_step(w, &in, ZSTD_e_end);
    }
    if (w->reserved_to > w->file_bytes) /* the room kept past the end goes back */
        fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)w->file_bytes,
                  (off_t)(w->reserved_to - w->file_bytes));
    w->reserved_to = 0;
    ZSTD_freeCCtx(w->cctx);
    free(w->out);
    w->cctx = NULL;
    w->out = NULL;
    return r;
}

int recfile_open(struct recfile_reader *r, const char *path)
{
    unsigned char hdr[WIRE_FILE_HEADER_SIZE];
    struct stat st;
    size_t got = 0;
    uint32_t flags = 0;

    memset(r, 0, sizeof(*r));
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return WIRE_EIO;
    if (fstat(r->fd, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            close(r->fd);
            r->fd = -1;
            errno = EISDIR;
            return WIRE_EIO;
        }
        r->file_size = (uint64_t)st.st_size;
    }
    while (got < sizeof(hdr)) {
        ssize_t n = read(r->fd, hdr + got, sizeof(hdr) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof(hdr) || memcmp(hdr, WIRE_FILE_MAGIC, 8) != 0) {
        close(r->fd);
        r->fd = -1;
        return WIRE_EMAGIC;
    }
    for (int i = 0; i < 4; i++) {
        r->version |= (uint32_t)hdr[8 + i] << (8 * i);
        flags |= (uint32_t)hdr[12 + i] << (8 * i);
    }
    if (r->version > WIRE_VERSION || r->version < WIRE_MIN_VERSION) {
        close(r->fd);
        r->fd = -1;
        return r->version > WIRE_VERSION ? WIRE_EVERSION : WIRE_EOLDVERSION;
    }
    r->compressed = (flags & WIRE_FILE_ZSTD) != 0;
    r->in_file_off = sizeof(hdr);
    r->frame_off = sizeof(hdr);
    r->frame_done = 1;
    if (r->compressed) {
        r->dctx = ZSTD_createDCtx();
        r->in_cap = ZSTD_DStreamInSize();
        r->in = malloc(r->in_cap);
        if (!r->dctx || !r->in) {
            recfile_close(r);
            return WIRE_ENOMEM;
        }
    }
    return 0;
}

static int fill(struct recfile_reader *r)
{
    ssize_t n;

    if (r->in_off > 0) {
        memmove(r->in, r->in + r->in_off, r->in_len - r->in_off);
        r->in_file_off += r->in_off;
        r->in_len -= r->in_off;
        r->in_off = 0;
    }
    do {
        n = read(r->fd, r->in + r->in_len, r->in_cap - r->in_len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return WIRE_EIO;
    if (n == 0)
        r->eof = 1;
    r->in_len += (size_t)n;
    return 0;
}

/* After a decode error: back to the start of the current frame, to decode it
 * again one input byte a call (so no call spans a good block and the bad
 * one), dropping the bytes already returned. */
static int restart_frame(struct recfile_reader *r)
{
    if (lseek(r->fd, (off_t)r->frame_off, SEEK_SET) < 0)
        return -1;
    ZSTD_DCtx_reset(r->dctx, ZSTD_reset_session_only);
    r->in_file_off = r->frame_off;
    r->in_len = r->in_off = 0;
    r->eof = 0;
    r->skip = r->frame_out;
    r->frame_out = 0;
    r->careful = 1;
    return 0;
}

ssize_t recfile_read(struct recfile_reader *r, void *out, size_t cap)
{
    if (!r->compressed) {
        ssize_t n;
        do {
            n = read(r->fd, out, cap);
        } while (n < 0 && errno == EINTR);
        if (n < 0)
            return WIRE_EIO;
        r->in_file_off += (uint64_t)n;
        return n;
    }
    if (r->err)
        return r->err;
    for (;;) {
        ZSTD_outBuffer o = {out, cap, 0};
        ZSTD_inBuffer in;
        size_t ret;

        if (r->in_off == r->in_len) {
            if (r->eof) {
                r->truncated = !r->frame_done;
                return 0;
            }
            if (fill(r))
                return WIRE_EIO;
            continue;
        }
        in.src = r->in;
        in.size = r->careful ? r->in_off + 1 : r->in_len;
        in.pos = r->in_off;
        ret = ZSTD_decompressStream(r->dctx, &o, &in);
        if (ZSTD_isError(ret)) {
            /* zstd drops the output of a call that fails, blocks decoded
             * before the bad one included: read the frame again carefully */
            if (r->careful || restart_frame(r) != 0)
                return r->err = WIRE_ECOMPRESS;
            continue;
        }
        r->in_off = in.pos;
        r->frame_done = ret == 0;
        if (o.pos > 0 && r->skip) {
            size_t drop = o.pos < r->skip ? o.pos : (size_t)r->skip;

            memmove(out, (char *)out + drop, o.pos - drop);
            o.pos -= drop;
            r->skip -= drop;
        }
        r->frame_out += o.pos;
        if (r->frame_done) {
            r->frame_off = r->in_file_off + r->in_off;
            r->frame_out = 0;
        }
        if (o.pos > 0)
            return (ssize_t)o.pos;
        if (r->in_off == r->in_len && !r->eof && fill(r))
            return WIRE_EIO;
    }
}

void recfile_close(struct recfile_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    ZSTD_freeDCtx(r->dctx);
    free(r->in);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}
