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
#include <sys/resource.h>
#include <sys/stat.h>
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

static int high_base(void);

int fds_adopt(int fd)
{
    int base = high_base(), high;

    if (fd < 0)
        return fd;
    high = fd < base ? fcntl(fd, F_DUPFD_CLOEXEC, base) : -1;
    if (high >= 0) {
        syscall(SYS_close, fd);
        fd = high;
    }
    fds_protect(fd);
    return fd;
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

/* The base of high descriptor numbers (see fds_adopt). */
static int high_base(void)
{
    struct rlimit rl;
    long base = 512;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur / 2 < base)
        base = (long)rl.rlim_cur / 2;
    return (int)base;
}

void fds_protect_libunwind(void)
{
    enum { N = 2048 };
    static unsigned char before[N], filled[N];
    int base = high_base(), null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    void *buf[4];

    for (int fd = 0; fd < N; fd++) {
        before[fd] = fd == null || fcntl(fd, F_GETFD) >= 0;
        filled[fd] = 0;
    }
    /* Occupy every free number below the base, so that the pipe libunwind
     * opens on its first unwind lands high, away from the numbers scripts
     * use (exec 3<file): libunwind reads from that pipe. */
    for (int fd = 0; fd < base && fd < N && null >= 0; fd++)
        if (!before[fd] && dup2(null, fd) == fd)
            filled[fd] = 1;
    unw_backtrace(buf, 4);
    for (int fd = 0; fd < N; fd++)
        if (filled[fd])
            syscall(SYS_close, fd);
    if (null >= 0)
        syscall(SYS_close, null);
    for (int fd = 0; fd < N; fd++)
        if (!before[fd] && fcntl(fd, F_GETFD) >= 0)
            fds_protect(fd);
    /* libunwind versions that open the pipe in their own constructor (before
     * ours): a pipe whose two ends are both open here, close-on-exec (so
     * made in this image, not inherited) and non-blocking. */
    struct stat a, b;
    for (int fd = 0; fd + 1 < N; fd++) {
        if (fstat(fd, &a) < 0 || !S_ISFIFO(a.st_mode) || !(fcntl(fd, F_GETFD) & FD_CLOEXEC) ||
            !(fcntl(fd, F_GETFL) & O_NONBLOCK))
            continue;
        if (fstat(fd + 1, &b) == 0 && S_ISFIFO(b.st_mode) && b.st_ino == a.st_ino &&
            (fcntl(fd + 1, F_GETFD) & FD_CLOEXEC)) {
            fds_protect(fd);
            fds_protect(fd + 1);
            break;
        }
    }
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
