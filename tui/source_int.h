/*
 * source_int.h - the state of one source (source.h), shared by source.c
 * (opening, reading, closing) and source_ask.c (what callers ask of it:
 * its state, and requests to the collector and their answers). Private to
 * those two files.
 */
#ifndef HEAPLINE_SOURCE_INT_H
#define HEAPLINE_SOURCE_INT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "decode.h"
#include "recfile.h"

struct responses;

struct source {
    int kind, state;
    char msg[512];
    char name[PATH_MAX];
    struct decode dec;
    char *buf;
    int pending; /* decoder may hold complete messages */
    uint64_t model_errs;
    char first_err[512];

    /* file */
    struct recfile_reader rf;
    int rf_open, truncated, file_eof;
    int corrupt;         /* reading stopped at wrong bytes: done, not failed */
    uint64_t corrupt_at; /* near this byte of the file */

    /* socket */
    int fd;
    char sock_path[PATH_MAX];
    uint32_t next_req;
    struct responses *answers; /* to our requests, by id (made at the first) */
    uint64_t received;
    struct recfile_writer rec;
    int rec_fd, recording;
    time_t rec_flushed; /* CLOCK_MONOTONIC second of the last flush */

    /* child */
    pid_t pid;
    int child_done, child_status;
    int reset_on_connect;            /* the program exec'd: the next stream is a new run */
    char rec_path[2 * PATH_MAX + 2]; /* run -o: the collector's recording */
    int out_fd;                      /* run -o: that file, made by recfile_create_safe() */
    int from_file;                   /* run: the program ended before we attached; its recording */
    char log_path[PATH_MAX];
    int log_fd;    /* the program's stdout and stderr */
    int log_named; /* log_fd is linked at log_path (else unnamed, O_TMPFILE) */
    struct timespec started;
    char said[256];  /* the collector's last line in the log ("" when none) */
    int64_t said_ms; /* when the log was last looked at */
    off_t said_size; /* its size then */
    char shown[800]; /* source_message(): msg, with the collector's line first */
};

#endif
