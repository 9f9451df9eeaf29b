/*
 * scansp.c - the stack pointers of threads blocked in the kernel, confirmed
 * across the scan's snapshot (the argument is in scansp.h).
 *
 * Invariant: a stack is cut only when the thread was seen off the CPU, with
 * the same stack pointer, before and after the clone, and its context switch
 * counts did not move in between; every other case scans the whole stack.
 */
#include "scansp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct scansp_entry {
    uint32_t thread_id;
    int32_t tid;     /* 0: not looked at */
    uint64_t lo, hi; /* the stack */
    uint64_t sp, pc; /* first read; sp 0: not blocked or unknown */
    int64_t nr;      /* system call number, -1 blocked outside one */
    uint64_t vcsw, ivcsw;
    uint64_t cut; /* published by scansp_settle(): the new low end, 0: whole */
};

struct scansp_shared {
    _Atomic uint32_t ready;   /* futex word: 1 once the cuts are final */
    _Atomic uint32_t applied; /* 1 once the child has cut its roots */
    size_t n;
    struct scansp_entry e[];
};

/* Reads /proc/self/task/TID/NAME into buf (NUL-terminated). Returns the
 * length, or -1 when it cannot be read whole. */
static ssize_t read_task_file(int32_t tid, const char *name, char *buf, size_t cap)
{
    char path[64];
    size_t have = 0;
    int fd;

    snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t got = read(fd, buf + have, cap - 1 - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            close(fd);
            return -1;
        }
        if (got == 0)
            break;
        have += (size_t)got;
        if (have == cap - 1) {
            close(fd);
            return -1; /* longer than the buffer */
        }
    }
    close(fd);
    buf[have] = 0;
    return (ssize_t)have;
}

/* The two context switch counts of thread tid. Returns 0 when both are read. */
static int read_switches(int32_t tid, uint64_t *vcsw, uint64_t *ivcsw)
{
    static const char vol[] = "\nvoluntary_ctxt_switches:";
    static const char invol[] = "\nnonvoluntary_ctxt_switches:";
    char buf[8192];
    const char *v, *iv;
    char *end;

    if (read_task_file(tid, "status", buf, sizeof(buf)) < 0)
        return -1;
    v = strstr(buf, vol);
    iv = strstr(buf, invol);
    if (!v || !iv)
        return -1;
    errno = 0;
    *vcsw = strtoull(v + sizeof(vol) - 1, &end, 10);
    if (errno || end == v + sizeof(vol) - 1)
        return -1;
    *ivcsw = strtoull(iv + sizeof(invol) - 1, &end, 10);
    if (errno || end == iv + sizeof(invol) - 1)
        return -1;
    return 0;
}

/* Where thread tid is stopped in the kernel: "NR A1..A6 SP PC" in a system
 * call, "-1 SP PC" blocked outside one, "running" otherwise (proc(5)).
 * Returns 0 with *nr, *sp and *pc when the thread is off the CPU. */
static int read_syscall(int32_t tid, int64_t *nr, uint64_t *sp, uint64_t *pc)
{
    char buf[512], *p, *end;
    uint64_t words[9];
    int n = 0;

    if (read_task_file(tid, "syscall", buf, sizeof(buf)) < 0)
        return -1;
    errno = 0;
    *nr = strtoll(buf, &end, 10);
    if (errno || end == buf)
        return -1; /* "running" */
    for (p = end; n < 9; n++) {
        while (*p == ' ')
            p++;
        if (*p == '\n' || *p == 0)
            break;
        words[n] = strtoull(p, &end, 16);
        if (errno || end == p)
            return -1;
        p = end;
    }
    if ((*nr >= 0 && n != 8) || (*nr < 0 && n != 2))
        return -1;
    *sp = words[n - 2];
    *pc = words[n - 1];
    return 0;
}

void scansp_begin(struct scansp *s, const struct scan_range *stacks, size_t n)
{
    int32_t self = (int32_t)syscall(SYS_gettid);
    struct scansp_shared *sh;
    size_t size = sizeof(*sh) + n * sizeof(sh->e[0]);

    memset(s, 0, sizeof(*s));
    if (n == 0)
        return;
    sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return;
    s->sh = sh;
    s->map_size = size;
    sh->n = n;
    for (size_t i = 0; i < n; i++) {
        struct scansp_entry *e = &sh->e[i];
        e->thread_id = stacks[i].thread_id;
        e->lo = stacks[i].lo;
        e->hi = stacks[i].hi;
        if (stacks[i].tid <= 0 || stacks[i].tid == self)
            continue;
        /* the switch counts first, then the stack pointer (scansp.h) */
        if (read_switches(stacks[i].tid, &e->vcsw, &e->ivcsw) != 0 ||
            read_syscall(stacks[i].tid, &e->nr, &e->sp, &e->pc) != 0 || e->sp <= e->lo ||
            e->sp >= e->hi) {
            e->sp = 0;
            continue;
        }
        e->tid = stacks[i].tid;
    }
}

void scansp_settle(struct scansp *s)
{
    struct scansp_shared *sh = s->sh;

    if (!sh)
        return;
    for (size_t i = 0; i < sh->n; i++) {
        struct scansp_entry *e = &sh->e[i];
        uint64_t sp, pc, vcsw, ivcsw;
        int64_t nr;

        e->cut = 0;
        if (!e->tid || !e->sp)
            continue;
        /* the stack pointer first, then the switch counts (scansp.h) */
        if (read_syscall(e->tid, &nr, &sp, &pc) != 0 || nr != e->nr || sp != e->sp || pc != e->pc ||
            read_switches(e->tid, &vcsw, &ivcsw) != 0 || vcsw != e->vcsw || ivcsw != e->ivcsw)
            continue;
        if (e->sp - SCANSP_RED_ZONE > e->lo)
            e->cut = (e->sp - SCANSP_RED_ZONE) & ~(uint64_t)7;
    }
    atomic_store_explicit(&sh->ready, 1, memory_order_release);
    syscall(SYS_futex, (uint32_t *)&sh->ready, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t scansp_apply(const struct scansp *s, struct scanbfs_root *roots, size_t n, int timeout_ms)
{
    struct scansp_shared *sh = s->sh;
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    size_t j = 0, cut = 0;

    if (!sh)
        return 0;
    while (atomic_load_explicit(&sh->ready, memory_order_acquire) == 0) {
        uint64_t now = mono_ms();
        struct timespec left;
        if (now >= end)
            return 0; /* no verdict: every stack whole */
        left.tv_sec = (time_t)((end - now) / 1000u);
        left.tv_nsec = (long)((end - now) % 1000u) * 1000000L;
        syscall(SYS_futex, (uint32_t *)&sh->ready, FUTEX_WAIT, 0, &left, NULL, 0);
    }
    /* stack roots come in the order of the scan_range array (scanroots.h) */
    for (size_t k = 0; k < n; k++) {
        size_t i;
        if (roots[k].kind != SCANBFS_STACK)
            continue;
        for (i = j; i < sh->n && sh->e[i].thread_id != roots[k].id; i++)
            ;
        if (i == sh->n)
            continue;
        j = i + 1;
        if (sh->e[i].cut > roots[k].lo && sh->e[i].cut < roots[k].hi) {
            roots[k].lo = sh->e[i].cut;
            cut++;
        }
    }
    atomic_store_explicit(&sh->applied, 1, memory_order_release);
    return cut;
}

int scansp_cut(const struct scansp *s, uint32_t thread_id)
{
    if (!s->sh || !atomic_load_explicit(&s->sh->applied, memory_order_acquire))
        return 0; /* the child gave up waiting: it scanned every stack whole */
    for (size_t i = 0; i < s->sh->n; i++)
        if (s->sh->e[i].thread_id == thread_id)
            return s->sh->e[i].cut != 0;
    return 0;
}

void scansp_free(struct scansp *s)
{
    if (s->sh)
        munmap(s->sh, s->map_size);
    memset(s, 0, sizeof(*s));
}
