/*
 * client.c - reach a collector: resolve the target through sockpath (the
 * directory checks are never skipped for a PID), connect, and say what went
 * wrong in one line.
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockpath.h"

static client_attach_fn *attach_fn;

void client_set_attach(client_attach_fn *fn)
{
    attach_fn = fn;
}

int client_connect_path(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd, e;

    if (strlen(path) >= sizeof(a.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int client_connect(const char *target, char *path, size_t cap, char *err, size_t errsz)
{
    int fd, e;

    if (sockpath_resolve(target, path, cap, err, errsz) != 0 &&
        (!attach_fn || strncmp(err, "no heapline collector socket", 28) != 0 ||
         attach_fn(target, err, errsz) != 0 ||
         sockpath_resolve(target, path, cap, err, errsz) != 0))
        return -1;
    fd = client_connect_path(path);
    if (fd >= 0)
        return fd;
    e = errno;
    if (e == ECONNREFUSED && sockpath_remove_stale(path))
        snprintf(err, errsz, "%s: stale socket of a process that has ended (removed)", path);
    else if (e == ECONNREFUSED)
        snprintf(err, errsz, "%s: nobody is listening (the program has ended?)", path);
    else if (e == EACCES || e == EPERM)
        snprintf(err, errsz, "%s: permission denied", path);
    else
        snprintf(err, errsz, "%s: %s", path, strerror(e));
    return -1;
}

int client_send(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int r = poll(&pfd, 1, 1000);

            if (r == 0)
                errno = ETIMEDOUT;
            if (r <= 0)
                return -1;
            continue;
        }
        if (w < 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}
