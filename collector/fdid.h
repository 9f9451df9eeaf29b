/*
 * fdid.h - is this descriptor still ours? Programs close descriptors they did
 * not open (daemons close everything, shells dup2 over numbers), and the next
 * open() gets the number back: before using one of its descriptors, the
 * collector checks that it still names the same file (device and inode).
 */
#ifndef HEAPLINE_FDID_H
#define HEAPLINE_FDID_H

#include <sys/stat.h>

struct fdid {
    dev_t dev;
    ino_t ino;
};

/* Records what fd names. Returns 0 or -1. */
static inline int fdid_take(int fd, struct fdid *id)
{
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    return 0;
}

/* Nonzero when fd still names the file recorded by fdid_take(). One fstat;
 * async-signal-safe. */
static inline int fdid_same(int fd, const struct fdid *id)
{
    struct stat st;

    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino;
}

#endif
