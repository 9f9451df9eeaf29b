/*
 * procfd.c - /proc files kept open and read with pread (procfd.h).
 *
 * Invariant: p->fd is -1 or a descriptor opened on the path last read, whose
 * identity p->id holds; it is read only once fdid_same() says it still is.
 */
#include "procfd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fds.h"

void procfd_close(struct procfd *p)
{
    if (p->fd >= 0 && fdid_same(p->fd, &p->id))
        fds_close(p->fd);
    p->fd = -1;
}

static int procfd_open(struct procfd *p, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fdid_take(fd, &p->id) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    p->fd = fds_adopt(fd);
    return 0;
}

ssize_t procfd_read(struct procfd *p, const char *path, char *buf, size_t cap, int keep)
{
    ssize_t n;
    int e;

    if (p->fd >= 0 && !fdid_same(p->fd, &p->id))
        p->fd = -1; /* closed, or the number reused by the program: not ours to close */
    if (p->fd < 0 && !keep) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            return -1;
        n = read(fd, buf, cap);
        e = errno;
        close(fd);
        errno = e;
        return n;
    }
    if (p->fd < 0 && procfd_open(p, path) < 0)
        return -1;
    do
        n = pread(p->fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    e = errno;
    if (n < 0 || !keep)
        procfd_close(p);
    errno = e;
    return n;
}
