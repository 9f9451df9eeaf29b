/*
 * recfile.h - the record file: a 16-byte header, then the message stream,
 * compressed as a sequence of zstd frames.
 *
 * The writer ends a zstd frame at message boundaries every so often
 * (RECFILE_FRAME_BYTES of input), so every frame start is also a message start
 * (where an indexing reader could start; today's reader reads from the top);
 * it flushes on request, so a file cut short
 * decompresses up to the last flush. The reader treats a file that stops
 * inside a frame as truncated, not corrupt: everything before is returned.
 */
#ifndef HEAPLINE_RECFILE_H
#define HEAPLINE_RECFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RECFILE_FRAME_BYTES (8u << 20)

/* The zstd level of every recording unless HEAPLINE_COMPRESS says otherwise;
 * recfile_writer_open() tunes this level's parameters for event streams. */
#define RECFILE_LEVEL_DEFAULT 3

/* Opens path to write a recording into, without following a symbolic link
 * and without touching anything that is not a regular file of ours: a path
 * that does not exist is created (O_EXCL, with mode); an existing regular file
 * owned by this user that is empty or starts with WIRE_FILE_MAGIC (an earlier
 * recording) is truncated; anything else is refused untouched, a FIFO or a
 * device without being opened. Returns a descriptor (read-write, O_CLOEXEC,
 * offset 0) or -1: then *why is a static phrase that completes "PATH: ..."
 * (strerror(errno) for a system error, e.g. a missing directory). Thread-safe;
 * allocates nothing. */
int recfile_create_safe(const char *path, int mode, const char **why);

/* What makes an existing file heapline's own, for recfile_create_own(): its
 * first magic_len bytes, and the phrases that complete "PATH: ..." when it is
 * a symbolic link, not a regular file, or not one of ours. */
#define RECFILE_OWN_MAGIC_MAX 256
struct recfile_own {
    const void *magic;
    size_t magic_len; /* 1 to RECFILE_OWN_MAGIC_MAX */
    const char *link, *special, *not_ours;
};

/* recfile_create_safe() for any file heapline writes and may write again
 * (a report page): the same rules, with own's magic and phrases. */
int recfile_create_own(const char *path, int mode, const struct recfile_own *own, const char **why);

/* For a launcher that made the file with recfile_create_safe() for a program
 * to record into: closes fd and, when nothing was written into the file and
 * path still names it, removes it (an empty file must not pass for a
 * recording). Returns 1 when the file was empty, else 0. */
int recfile_remove_if_empty(int fd, const char *path);

struct recfile_writer {
    int fd;
    void *cctx; /* ZSTD_CCtx, NULL when uncompressed */
    char *out;  /* compressed bytes waiting for write(2) */
    size_t out_cap;
    uint64_t in_frame; /* uncompressed bytes in the current frame */
    uint64_t raw_bytes, file_bytes;
    int err;              /* sticky: after a write error nothing more is written */
    int sys_errno;        /* the errno of the failed write (EFBIG: the size limit) */
    uint64_t whole_bytes; /* the file up to here is whole: a flush or frame end */
    int frame_open;       /* ... inside a zstd frame (a flush), not after its end */
    uint64_t reserved_to; /* space allocated up to here (fallocate, size kept) */
    int reserve_off;      /* fallocate does not work on this file system */
    uint64_t size_limit;  /* RLIMIT_FSIZE less RECFILE_SALVAGE_ROOM; 0 none */
};

/* Room kept for recfile_writer_salvage(): allocated past the last flush, and
 * below the file size limit. */
#define RECFILE_SALVAGE_ROOM 4096u

/* Writes the header to fd (owned by the caller, kept open). level <= 0 means
 * no compression. Allocates (zstd context and buffers): call it from a thread
 * where malloc is safe. Returns 0 or a negative wire_err. */
int recfile_writer_open(struct recfile_writer *w, int fd, int level);

/* After recfile_writer_open() at the default level, before the first write:
 * a smaller zstd context for a stream of a few KB a second (a sampled
 * recording): cheaper to set up, files up to 8% larger. */
void recfile_writer_light(struct recfile_writer *w);

/* Appends whole messages. flush != 0 pushes all of it to the file (so a crash
 * after this call loses nothing written so far). Returns 0 or a negative
 * wire_err (sticky). Never blocks on anything but write(2) to fd. */
int recfile_write(struct recfile_writer *w, const void *buf, size_t n, int flush);

/* After a write error (disk full, the size limit): cuts the file back to
 * where it was last whole (the last flush) and ends it there with msg (whole
 * messages, at most ~3 KB: a DISABLED saying why), as a zstd frame of its
 * own, in the room kept for it. A reader then finds a complete file whose
 * last message says why it stops. Returns 0 or a negative wire_err;
 * allocates (one buffer for the frame). */
int recfile_writer_salvage(struct recfile_writer *w, const void *msg, size_t n);

/* Ends the last frame and frees the writer's memory; does not close fd. */
int recfile_writer_close(struct recfile_writer *w);

struct recfile_reader {
    int fd;
    int compressed;
    void *dctx;
    char *in;
    size_t in_len, in_off, in_cap;
    uint64_t in_file_off; /* file offset of in[0] */
    int frame_done;       /* the last byte returned ended a frame */
    int eof;
    int truncated;      /* the file stops inside a compressed frame */
    uint64_t frame_off; /* file offset where the current zstd frame starts */
    uint64_t frame_out; /* bytes returned from the current frame */
    uint64_t skip;      /* re-reading a frame: bytes already returned, dropped */
    int careful;        /* re-reading a frame byte by byte up to a corrupt block */
    int err;            /* sticky error, once the readable part is returned */
    uint32_t version;
    uint64_t file_size;
};

/* Opens path and checks its header. Returns 0, WIRE_EMAGIC (not a recording),
 * WIRE_EVERSION, WIRE_EOLDVERSION, or WIRE_EIO with errno set. */
int recfile_open(struct recfile_reader *r, const char *path);

/* Reads up to cap decompressed bytes. Returns the count, 0 at the end of the
 * data (check r->truncated), or WIRE_ECOMPRESS / WIRE_EIO. A corrupt zstd
 * block: every byte decoded before it is returned first (the frame is read
 * again, one input byte a call, up to the bad block), then WIRE_ECOMPRESS,
 * with in_file_off + in_off near the bad byte. */
ssize_t recfile_read(struct recfile_reader *r, void *out, size_t cap);

void recfile_close(struct recfile_reader *r);

#endif
