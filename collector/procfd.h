/*
 * procfd.h - a /proc file the collector reads every tick (its statm, a
 * thread's comm), kept open and read again from its start with pread: one
 * open, a path walk through /proc, was most of the collector thread's
 * system time between a sampled run's events (sqlite3: 1.3 ms of its 11.7).
 *
 * The descriptor is the collector's (fds.h: at a high number, spared by the
 * program's close); before each read an fstat checks that it still names the
 * file it opened (fdid.h: a dup2 onto it), else the path is opened again.
 * Not thread-safe: one owner thread per struct. A fork child closes its
 * parent's (procfd_close): /proc/self named the parent.
 */
#ifndef HEAPLINE_PROCFD_H
#define HEAPLINE_PROCFD_H

#include <sys/types.h>

#include "fdid.h"

struct procfd {
    int fd; /* -1: not open */
    struct fdid id;
};

#define PROCFD_INIT                                                                                \
    {                                                                                              \
        -1,                                                                                        \
        {                                                                                          \
            0, 0                                                                                   \
        }                                                                                          \
    }

/* Up to cap bytes of path from its start into buf (not terminated).
 * keep: the descriptor stays open for the next read, else it is closed
 * again (as a plain open, read, close). Returns the bytes read, or -1
 * (errno set; the file is closed then). */
ssize_t procfd_read(struct procfd *p, const char *path, char *buf, size_t cap, int keep);

/* Closes p's descriptor, if open and still p's; p is then PROCFD_INIT. */
void procfd_close(struct procfd *p);

#endif
