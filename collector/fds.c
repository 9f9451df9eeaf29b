/*
 * fds.c - registered descriptors, and the libc names close, close_range and
 * closefrom that spare them.
 *
 * Invariant: a registered descriptor is closed only through fds_close().
 * The table is a small array of atomics, read without locks by any thread
 * that closes a descriptor.
 */
#define UNW_LOCAL_ONLY
#include "fds.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FDS_MAX 64

static atomic_int fds[FDS_MAX]; /* 0 = free slot, else fd + 1 */

void fds_protect(int fd)
{
    if (fd < 0)
        return;
    for (int i = 0; i < FDS_MAX; i++) {
        int expect = 0;

        if (atomic_load(&fds[i]) == fd + 1)
            return;
        if (atomic_compare_exchange_strong(&fds[i], &expect, fd + 1))
            return;
    }
}

static int is_protected(int fd)
{
    for (int i = 0; i < FDS_MAX; i++)
        if (atomic_load_explicit(&fds[i], memory_order_relaxed) == fd + 1)
            return 1;
    return 0;
}

static void unprotect(int fd)
{
    for (int i = 0; i < FDS_MAX; i++) {
        int expect = fd + 1;

        atomic_compare_exchange_strong(&fds[i], &expect, 0);
    }
}

void fds_close(int fd)
{
    if (fd < 0)
        return;
    unprotect(fd);
    syscall(SYS_close, fd);
}

void fds_protect_libunwind(void)
{
    unsigned char before[256];
    void *buf[4];

    for (int fd = 0; fd < 256; fd++)
        before[fd] = fcntl(fd, F_GETFD) >= 0;
    unw_backtrace(buf, 4); /* libunwind opens its memory-validation pipe */
    for (int fd = 0; fd < 256; fd++)
        if (!before[fd] && fcntl(fd, F_GETFD) >= 0)
            fds_protect(fd);
}

void fds_atfork_child(void)
{
    /* libunwind's pipe is inherited and stays libunwind's: keep it */
}

/* ---- libc names ---- */

#define EXPORT __attribute__((visibility("default")))

EXPORT int close(int fd);
int close(int fd)
{
    if (fd >= 0 && is_protected(fd))
        return 0; /* the program never owned it */
    return (int)syscall(SYS_close, fd);
}

/* Closes [lo, hi] except registered descriptors, in pieces. */
static int close_pieces(unsigned int lo, unsigned int hi, unsigned int flags)
{
    unsigned int start = lo;

    for (;;) {
        unsigned int next = hi, found = 0;

        for (int i = 0; i < FDS_MAX; i++) {
            int v = atomic_load(&fds[i]) - 1;

            if (v >= 0 && (unsigned int)v >= start && (unsigned int)v <= next) {
                next = (unsigned int)v;
                found = 1;
            }
        }
        if (!found)
            return (int)syscall(SYS_close_range, start, hi, flags);
        if (next > start && syscall(SYS_close_range, start, next - 1, flags) < 0)
            return -1;
        if (next == hi || next == ~0u)
            return 0;
        start = next + 1;
    }
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags);
int close_range(unsigned int first, unsigned int last, int flags)
{
    if (first > last) {
        errno = EINVAL;
        return -1;
    }
    return close_pieces(first, last, (unsigned int)flags);
}

EXPORT void closefrom(int lowfd);
void closefrom(int lowfd)
{
    if (lowfd < 0)
        lowfd = 0;
    if (close_pieces((unsigned int)lowfd, ~0u, 0) < 0 && errno == ENOSYS) {
        long max = sysconf(_SC_OPEN_MAX);

        for (long fd = lowfd; fd < (max > 0 ? max : 1024); fd++)
            close((int)fd);
    }
}
