/*
 * procmaps.c - /proc/self/maps line by line into the caller's buffer
 * (procmaps.h).
 */
#include "procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

long procmaps_each(char *buf, size_t cap, procmaps_line_fn *fn, void *arg)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    size_t have = 0;
    long lines = 0;

    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t got = read(fd, buf + have, cap - have);
        size_t start = 0;

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
        for (size_t i = 0; i < have; i++) {
            if (buf[i] != '\n')
                continue;
            buf[i] = 0;
            fn(buf + start, i - start, arg);
            lines++;
            start = i + 1;
        }
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == cap)
            have = 0; /* a line longer than the buffer: dropped */
    }
    close(fd);
    return lines;
}
