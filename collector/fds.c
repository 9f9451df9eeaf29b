/*
 * fds.c - registered descriptors, and the libc names close, close_range and
 * closefrom that spare them; pipe and pipe2, which move the pipe libunwind
 * opens for itself to high numbers while fds_protect_libunwind() starts it.
 *
 * Invariant: a registered descriptor is closed only through fds_close().
 * The table is a small array of atomics, read without locks by any thread
 * that closes a descriptor.
 */
#define UNW_LOCAL_ONLY
#include "fds.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "track.h"

#define FDS_MAX 64

static atomic_int fds[FDS_MAX]; /* 0 = free slot, else fd + 1 */

/* Of the registered descriptors, those a library of the collector's closes
 * with close() (libdw its ELF files at dwfl_end), kept the same way */
static atomic_int closable[FDS_MAX];

/* Puts fd in a free slot of t unless it is there already. Lock-free, like
 * every reader of t. */
static void slot_put(atomic_int *t, int fd)
{
    for (int i = 0; fd >= 0 && i < FDS_MAX; i++) {
        int expect = 0;

        if (atomic_load(&t[i]) == fd + 1 || atomic_compare_exchange_strong(&t[i], &expect, fd + 1))
            return;
    }
}

/* Clears every slot of t holding fd (two threads may have put it at once);
 * whether one did. */
static int slot_take(atomic_int *t, int fd)
{
    int found = 0;

    for (int i = 0; i < FDS_MAX; i++) {
        int expect = fd + 1;

        found |= atomic_compare_exchange_strong(&t[i], &expect, 0);
    }
    return found;
}

void fds_protect(int fd)
{
    slot_put(fds, fd);
}

static int high_base(void);

void fds_protect_closable(int fd)
{
    slot_put(fds, fd);
    slot_put(closable, fd);
}

int fds_adopt_closable(int fd)
{
    fd = fds_adopt(fd);
    fds_protect_closable(fd);
    return fd;
}

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

void fds_close(int fd)
{
    if (fd < 0)
        return;
    slot_take(closable, fd);
    slot_take(fds, fd);
    syscall(SYS_close, fd);
}

/* fds_fit_table()'s base, 0 when none */
static int table_base;

/* A number "Name:\tN" of /proc/self/status's text, or -1. */
static long status_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);

    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

void fds_fit_table(void)
{
    char text[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    long size;

    if (fd >= 0)
        syscall(SYS_close, fd);
    if (n <= 0)
        return;
    text[n] = 0;
    size = status_field(text, "\nFDSize:");
    if (size >= 64)
        table_base = (int)(size / 2);
}

/* The base of high descriptor numbers (see fds_adopt). */
static int high_base(void)
{
    struct rlimit rl;
    long base = table_base && table_base < 512 ? table_base : 512;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur / 2 < base)
        base = (long)rl.rlim_cur / 2;
    return (int)base;
}

/* Which of [0, n) are open, in one poll() (POLLNVAL marks the closed ones;
 * n at most the descriptor limit). One fcntl per number was 4,000 system
 * calls of start-up. -1 when poll fails. */
static int open_fds(struct pollfd *p, unsigned char *open_now, int n)
{
    for (int fd = 0; fd < n; fd++)
        p[fd] = (struct pollfd){fd, 0, 0};
    if (poll(p, (nfds_t)n, 0) < 0)
        return -1;
    for (int fd = 0; fd < n; fd++)
        open_now[fd] = !(p[fd].revents & POLLNVAL);
    return 0;
}

/* Whether fd is a pipe end made as libunwind makes its own: close-on-exec
 * and non-blocking. A file the program opens meanwhile (its threads run
 * when heapline attach loads us) is not one, and stays the program's. */
static int libunwind_like_pipe(int fd)
{
    struct stat st;
    int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fdfl >= 0 && (fdfl & FD_CLOEXEC) &&
           fl >= 0 && (fl & O_NONBLOCK);
}

/* Registers the descriptors open now that were neither open before nor
 * fillers, and are pipe ends like libunwind's; returns how many. */
static int protect_new(struct pollfd *p, const unsigned char *before, const unsigned char *filled,
                       unsigned char *now, int n)
{
    int k = 0;

    if (!n || open_fds(p, now, n) < 0)
        return 0;
    for (int fd = 0; fd < n; fd++)
        if (now[fd] && !before[fd] && !filled[fd] && libunwind_like_pipe(fd)) {
            fds_protect(fd);
            k++;
        }
    return k;
}

/* Set on the thread in fds_protect_libunwind() while libunwind starts: the
 * pipe it opens then through pipe2() (ours, when we are preloaded) is moved
 * to high numbers and registered, and moved is set. */
static __thread int moving, moved;

/* Moves both ends of a new pipe to high numbers (cloexec: with
 * FD_CLOEXEC, as pipe2 made them) and registers them. */
static void move_high(int p[2], int cloexec)
{
    int base = high_base();

    for (int i = 0; i < 2; i++) {
        int high = p[i] < base ? fcntl(p[i], cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, base) : -1;

        if (high >= 0) {
            syscall(SYS_close, p[i]);
            p[i] = high;
        }
        fds_protect(p[i]);
    }
}

/* Whether libunwind's calls of pipe2 reach ours: this library was preloaded
 * (loaded after libc by heapline attach, libunwind calls libc's). */
static int pipe2_is_ours(void)
{
    Dl_info a, b;
    void *f = dlsym(RTLD_DEFAULT, "pipe2");

    return f && dladdr(f, &a) && dladdr((void *)high_base, &b) && a.dli_fbase == b.dli_fbase;
}

/* Starts libunwind with its pipe moved high by pipe2 below: five system
 * calls where filling every free number below the base took a thousand
 * (0.25 ms of start-up). 0 when libunwind opened no pipe through our pipe2
 * (not preloaded, or a version that opened it in its constructor). */
static int start_moving(void)
{
    unw_context_t uc;
    unw_cursor_t cur;
    void *buf[4];

    if (!pipe2_is_ours())
        return 0;
    moving = 1;
    moved = 0;
    /* 1.6 opens the pipe in its first unw_init_local(); later versions in
     * a walk's first frames */
    if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0 || !moved)
        unw_backtrace(buf, 4);
    moving = 0;
    return moved;
}

void fds_protect_libunwind(void)
{
    enum { N = 2048 };
    static unsigned char before[N], filled[N], now[N];
    static struct pollfd p[N];
    struct rlimit rl;
    int base = high_base(), n = N, null, r0;
    unw_context_t uc;
    unw_cursor_t cur;
    void *buf[4];

    if (start_moving())
        return;
    null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)N)
        n = (int)rl.rlim_cur;
    if (open_fds(p, before, n) < 0)
        n = 0;
    if (null >= 0 && null < n)
        before[null] = 1;
    memset(filled, 0, sizeof(filled));
    /* the table grown to the base once, not once per doubling on the way
     * (in a program with threads each growth waits for an RCU grace period) */
    if (null >= 0 && (r0 = fcntl(null, F_DUPFD_CLOEXEC, base)) >= 0)
        syscall(SYS_close, r0);
    /* Occupy every free number below the base, so that the pipe libunwind
     * opens for itself lands high, away from the numbers scripts use (exec
     * 3<file): libunwind reads from that pipe. 1.6 opens it in its first
     * unw_init_local() (a walk's first frames, another 100-150 us, are
     * made only when that opened nothing: versions that open it later). */
    /* F_DUPFD takes the lowest free number from fd on, never one the
     * program opened since the poll (dup2 would have closed its file) */
    for (int fd = 0, r; null >= 0 && fd < base && fd < n; fd = r + 1) {
        r = fcntl(null, F_DUPFD_CLOEXEC, fd);
        if (r < 0 || r >= base || r >= n) {
            if (r >= 0)
                syscall(SYS_close, r);
            break;
        }
        filled[r] = 1;
    }
    if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0 ||
        protect_new(p, before, filled, now, n) == 0) {
        unw_backtrace(buf, 4);
        protect_new(p, before, filled, now, n);
    }
    for (int fd = 0; fd < n; fd++) { /* the fillers go, a run at a time */
        int end = fd;

        while (end < n && filled[end])
            end++;
        if (end > fd && syscall(SYS_close_range, fd, end - 1, 0) < 0)
            for (int k = fd; k < end; k++)
                syscall(SYS_close, k);
        fd = end;
    }
    if (null >= 0)
        syscall(SYS_close, null);
    /* libunwind versions that open the pipe in their own constructor (before
     * ours): a pipe whose two ends are both open here, close-on-exec (so
     * made in this image, not inherited) and non-blocking. */
    struct stat a, b;
    for (int fd = 0; fd + 1 < n; fd++) {
        if (!now[fd] || !now[fd + 1] || filled[fd] || fstat(fd, &a) < 0 || !S_ISFIFO(a.st_mode) ||
            !(fcntl(fd, F_GETFD) & FD_CLOEXEC) || !(fcntl(fd, F_GETFL) & O_NONBLOCK))
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

EXPORT int pipe2(int p[2], int flags);
int pipe2(int p[2], int flags)
{
    int r = (int)syscall(SYS_pipe2, p, flags);

    if (r == 0 && moving) {
        move_high(p, flags & O_CLOEXEC);
        moved = 1;
    }
    return r;
}

EXPORT int pipe(int p[2]);
int pipe(int p[2])
{
    return pipe2(p, 0);
}

EXPORT int close(int fd);
int close(int fd)
{
    if (fd >= 0 && is_protected(fd)) {
        /* the collector's own libraries close theirs (the GOT of an
         * attached collector's libdw leads here too); the program never
         * owned any */
        if (!track_guard || !slot_take(closable, fd))
            return 0;
        slot_take(fds, fd);
    }
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
