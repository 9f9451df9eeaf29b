/*
 * attach.c - the ptrace injector of heapline attach (attach.h).
 *
 * Invariant: a thread of the program is stopped only while heapline reads
 * it or while the one chosen thread runs a call; every path out of
 * attach_start()/attach_stop() puts the chosen thread's registers back
 * (including orig_rax, so an interrupted system call restarts as it would
 * have) and detaches every thread it seized. No call is made before the
 * program's maps are read again with that thread stopped: the addresses
 * called are those of the program that runs (it may have run execve).
 */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach_elf.h"
#include "attach_unw.h"
#include "attach_proc.h"
#include "sockpath.h"

#define ATTACH_STACK_SCAN (512u << 10)

/* a thread: where attach_proc_where() puts it, or stopped for a signal, or gone */
enum thread_state {
    T_SAFE = ATTACH_SAFE,
    T_ALLOC = ATTACH_IN_ALLOC,
    T_LOADER = ATTACH_IN_LOADER,
    T_SIGNAL,
    T_GONE
};

struct inj {
    struct attach_proc p; /* what the program looks like */
    pid_t pid;
    int timeout_ms;
    volatile sig_atomic_t *intr;
    struct attach_stats *st;
    struct timespec t0;
    char lib[PATH_MAX];           /* the local libheapline.so */
    uint64_t *stack;              /* scan buffer */
    const struct attach_unw *unw; /* libunwind-ptrace, or NULL */
    unw_addr_space_t as;          /* remote unwinding of the threads' stacks */
    pid_t tid;                    /* the chosen thread, stopped; 0 when none */
    struct user_regs_struct saved;
    struct timespec tid_since;
    uint64_t unknown_at; /* heapline_detach(): where the ignored frees are counted */
    int pending[8];      /* signals that arrived during a call, raised again after */
    int n_pending;
    int loader_ok;     /* the calls take no loader lock (heapline_detach): a thread
                        * inside the loader need not be waited for */
    pid_t low_stack;   /* a thread at a safe point passed over for its stack room */
    uint64_t low_room; /* its room, bytes */
};

/* Stack a chosen thread must have free below its stack pointer: our calls
 * run there (dlopen of the library and its constructors), and a fault in
 * them could leave the loader's lock held. ATTACH_CALL_MAPPED of it must be
 * mapped already: ptrace writes the calls' data there, and only the
 * thread's own faults grow the main thread's stack. */
#define ATTACH_CALL_STACK (64u << 10)
#define ATTACH_CALL_MAPPED (8u << 10)

static int room_for_calls(struct inj *in, pid_t tid, uint64_t sp)
{
    uint64_t mapped, room = attach_proc_stack_room(&in->p, sp, &mapped);

    if (room >= ATTACH_CALL_STACK && mapped >= ATTACH_CALL_MAPPED)
        return 1;
    if (!attach_proc_stack_end(&in->p, sp))
        return 1; /* in none of the mappings read: the program ran execve since, which
                   * choose() finds out before any call, and reads it again */
    in->low_stack = tid;
    in->low_room = room < ATTACH_CALL_STACK ? room : mapped;
    return 0;
}

static double ms_since(const struct timespec *a)
{
    struct timespec b;

    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static void note_stop(struct inj *in, const struct timespec *since)
{
    double d = ms_since(since);

    if (in->st && d > in->st->longest_stop)
        in->st->longest_stop = d;
}

static ssize_t peek(pid_t pid, uint64_t addr, void *buf, size_t n)
{
    struct iovec l = {buf, n}, r = {(void *)(uintptr_t)addr, n};

    return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

static int poke(pid_t pid, uint64_t addr, const void *buf, size_t n)
{
    struct iovec l = {(void *)buf, n}, r = {(void *)(uintptr_t)addr, n};

    return process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : -1;
}

/* ---- what the program looks like ---- */

int attach_loaded(pid_t pid)
{
    char path[64], line[PATH_MAX + 128];
    FILE *f;
    int found = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    if (!(f = fopen(path, "re")))
        return -1;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, ATTACH_PROC_MAPS_NAME) != NULL;
    fclose(f);
    return found;
}

/* ---- threads ---- */

/* 1 when the word at a could be a return address: the bytes before it end
 * a call instruction (e8 rel32; ff /2 with a register, disp8, disp32,
 * SIB or rip-relative operand). */
static int after_call(pid_t pid, uint64_t a)
{
    uint8_t b[8];

    if (a < 8 || peek(pid, a - 8, b, 8) != 8)
        return 1; /* cannot tell: count it */
    if (b[3] == 0xe8)
        return 1;
    if (b[6] == 0xff && (b[7] & 0xf8) == 0xd0)
        return 1; /* call *%reg */
    if (b[5] == 0xff && (b[6] & 0x38) == 0x10 && (b[6] >> 6) == 1 && (b[6] & 7) != 4)
        return 1; /* call *d8(%reg) */
    if (b[4] == 0xff && (b[5] & 0x38) == 0x10 && (b[5] >> 6) == 1 && (b[5] & 7) == 4)
        return 1; /* call *d8(%reg,%idx) */
    if (b[2] == 0xff && (b[3] & 0x38) == 0x10 && ((b[3] >> 6) == 2 || b[3] == 0x15))
        return 1; /* call *d32(%reg), call *d32(%rip) */
    if (b[1] == 0xff && (b[2] & 0x38) == 0x10 && (b[2] >> 6) == 2 && (b[2] & 7) == 4)
        return 1; /* call *d32(%reg,%idx) */
    if ((b[5] & 0xf0) == 0x40 && b[6] == 0xff && (b[7] & 0xf8) == 0xd0)
        return 1;
    return 0;
}

static enum thread_state where(const struct inj *in, uint64_t ip)
{
    return (enum thread_state)attach_proc_where(&in->p, ip);
}

/* The conservative answer, when the stack cannot be unwound: every word
 * from the stack pointer up that could be a return address counts (a stale
 * one too, so a thread may look unsafe when it is not, never the reverse). */
static enum thread_state scan_stack(struct inj *in, pid_t tid, const struct user_regs_struct *r)
{
    uint64_t lo = r->rsp, hi = 0;
    enum thread_state s = T_SAFE;
    ssize_t n;
    hi = attach_proc_stack_end(&in->p, lo);
    if (!hi)
        return T_SAFE; /* a stack heapline does not know: nothing to read */
    if (hi - lo > ATTACH_STACK_SCAN)
        hi = lo + ATTACH_STACK_SCAN;
    n = peek(tid, lo & ~(uint64_t)7, in->stack, (size_t)(hi - (lo & ~(uint64_t)7)));
    for (ssize_t i = 0; i < n / 8; i++) {
        uint64_t w = in->stack[i];

        enum thread_state f = where(in, w);

        if (f == T_LOADER && after_call(tid, w))
            return T_LOADER;
        if (s == T_SAFE && f == T_ALLOC && after_call(tid, w))
            s = T_ALLOC;
    }
    return s;
}

/* Where the stopped thread tid is: its call chain unwound with the CFI of
 * each module (libunwind-ptrace), each frame's call site checked; stale
 * return addresses left on the stack by earlier calls are not frames. When
 * the chain breaks before its end (code without CFI), the stack scan
 * decides. */
static enum thread_state classify(struct inj *in, pid_t tid, const struct user_regs_struct *r)
{
    enum thread_state s = where(in, r->rip);
    unw_cursor_t c;
    void *upt;
    int k = -1;

    if (s != T_SAFE)
        return s;
    if (!in->as || !(upt = in->unw->upt_create(tid)))
        return scan_stack(in, tid, r);
    if (in->unw->init_remote(&c, in->as, upt) == 0) {
        for (int depth = 0; depth < 256 && (k = in->unw->step(&c)) > 0; depth++) {
            unw_word_t ip;

            if (in->unw->get_reg(&c, UNW_REG_IP, &ip) != 0) {
                k = -1;
                break;
            }
            /* a return address: the call is the byte before it */
            enum thread_state f = where(in, ip - 1);

            if (f == T_LOADER) {
                s = f;
                break;
            }
            if (f == T_ALLOC)
                s = T_ALLOC;
        }
    }
    in->unw->upt_destroy(upt);
    if (s == T_LOADER || k < 0)
        return s == T_LOADER ? s : scan_stack(in, tid, r);
    return s;
}

/* Reaps a seized thread that died (a SIGKILL: exit_group, or another
 * thread's execve, which waits until its tracer reaps it), waiting up to 1 s. */
static void reap(pid_t tid)
{
    struct timespec nap = {0, 1000000};
    int st;

    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(tid, &st, __WALL | WNOHANG);

        if (w == tid ? !WIFSTOPPED(st) : w < 0 && errno != EINTR)
            return;
        nanosleep(&nap, NULL);
    }
}

/* Lets a seized thread go, delivering sig; reaps it when it died. */
static void release(pid_t tid, int sig)
{
    if (ptrace(PTRACE_DETACH, tid, 0, sig) != 0 && errno == ESRCH)
        reap(tid);
}

/* Stops tid (seized) and waits for it, up to STOP_WAIT_MS. The interrupt is
 * sent again every 20 ms: one sent while the program ran execve was never
 * reported (kernel 6.18, 1 in 5 runs of tests/attach's execs), and heapline
 * waited for it for good. Returns 0, 1 when it stopped for a signal (*sig),
 * -1 when it is gone, -2 when it did not stop (a thread in uninterruptible
 * sleep; it stays seized until heapline ends). */
#define STOP_WAIT_MS 2000
static int stop_thread(pid_t tid, int *sig)
{
    struct timespec nap = {0, 100000};
    int st;

    *sig = 0;
    for (int i = 0; i < STOP_WAIT_MS * 10; i++) {
        pid_t w;

        if (i % 200 == 0 && ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) {
            reap(tid);
            return -1;
        }
        w = waitpid(tid, &st, __WALL | WNOHANG);
        if (w == 0 || (w < 0 && errno == EINTR)) {
            nanosleep(&nap, NULL);
            continue;
        }
        if (w < 0 || !WIFSTOPPED(st))
            return -1;
        if ((st >> 16) == PTRACE_EVENT_STOP) {
            int s = WSTOPSIG(st);

            if (s == SIGSTOP || s == SIGTSTP || s == SIGTTIN || s == SIGTTOU)
                *sig = -s; /* a group stop: the program was stopped meanwhile */
            return *sig ? 1 : 0;
        }
        *sig = WSTOPSIG(st); /* a signal on its way: deliver it when we let go */
        return 1;
    }
    return -2;
}

static void let_go(struct inj *in)
{
    if (!in->tid)
        return;
    ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved);
    release(in->tid, 0);
    note_stop(in, &in->tid_since);
    for (int i = 0; i < in->n_pending; i++)
        syscall(SYS_tgkill, in->pid, in->tid, in->pending[i]);
    in->n_pending = 0;
    in->tid = 0;
}

/* Seizes, stops and reads tid. Returns its state; *r gets its registers,
 * *since when it stopped. The thread stays stopped unless it is gone. */
static enum thread_state inspect(struct inj *in, pid_t tid, struct user_regs_struct *r,
                                 struct timespec *since, int *sig, char *err, size_t errsz)
{
    int k;

    if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
        int e = errno;

        if (e == ESRCH || attach_proc_thread_ended(in->pid, tid))
            return T_GONE; /* it just ended (EPERM while it exits) */
        attach_proc_refused(&in->p, e, err, errsz);
        return (enum thread_state) - 1;
    }
    clock_gettime(CLOCK_MONOTONIC, since);
    k = stop_thread(tid, sig);
    if (k == -2) {
        snprintf(err, errsz,
                 "thread %d of pid %d did not stop within %.0f s (in uninterruptible sleep?): "
                 "nothing was done",
                 (int)tid, (int)in->pid, STOP_WAIT_MS / 1e3);
        return (enum thread_state) - 1;
    }
    if (k < 0)
        return T_GONE;
    if (*sig < 0) {
        release(tid, 0);
        snprintf(err, errsz,
                 "pid %d was stopped (%s) during the attach: nothing was done; resume it "
                 "with kill -CONT %d",
                 (int)in->pid, strsignal(-*sig), (int)in->pid);
        return (enum thread_state) - 1;
    }
    if (k)
        return T_SIGNAL;
    if (ptrace(PTRACE_GETREGS, tid, 0, r) != 0) {
        release(tid, 0);
        return T_GONE;
    }
    return classify(in, tid, r);
}

/* One pass: reads every thread, each stopped only while it is read, then
 * stops the best safe one again (a thread blocked in a system call first:
 * it was not running anyway) and keeps it stopped (in->tid, registers in
 * in->saved). Returns 1 when a thread is chosen and no thread is inside the
 * loader (unless in->loader_ok), 0 to try again, -1 with err. */
static int pass(struct inj *in, char *err, size_t errsz, pid_t *in_loader)
{
    pid_t tids[4096], cand = 0;
    int n = attach_proc_threads(in->pid, tids, 4096), loader = 0, cand_sys = 0, sig;
    struct user_regs_struct r;
    struct timespec since;
    enum thread_state s;

    if (n <= 0) {
        snprintf(err, errsz, "pid %d has ended", (int)in->pid);
        return -1;
    }
    if (in->st)
        in->st->threads = n;
    for (int i = 0; i < n; i++) {
        s = inspect(in, tids[i], &r, &since, &sig, err, errsz);
        if ((int)s < 0)
            return -1;
        if (s == T_GONE)
            continue;
        release(tids[i], s == T_SIGNAL ? sig : 0);
        note_stop(in, &since);
        if (s == T_LOADER) {
            loader = 1;
            *in_loader = tids[i];
        }
        if (s == T_SAFE && attach_proc_callable(in->pid, tids[i]) &&
            (!cand || (!cand_sys && (long long)r.orig_rax >= 0)) &&
            room_for_calls(in, tids[i], r.rsp)) {
            cand = tids[i];
            cand_sys = (long long)r.orig_rax >= 0;
        }
    }
    if (!cand || (loader && !in->loader_ok))
        return 0;
    s = inspect(in, cand, &r, &since, &sig, err, errsz);
    if ((int)s < 0)
        return -1;
    if (s != T_SAFE) {
        if (s != T_GONE) {
            release(cand, s == T_SIGNAL ? sig : 0);
            note_stop(in, &since);
        }
        return 0;
    }
    in->tid = cand;
    in->saved = r;
    in->tid_since = since;
    return 1;
}

/* After a thread of pid was stopped: the program ran execve since its maps
 * were read (so the addresses read, and the safe points found with them, are
 * the old program's: a call there jumped to an address the new one does not
 * map). Lets the thread go and reads the new program. 0, or -1 with err. */
static int reopen(struct inj *in, int execs, char *err, size_t errsz)
{
    char exe[256];

    let_go(in);
    attach_proc_close(&in->p);
    if (in->as)
        in->unw->flush_cache(in->as, 0, 0);
    if (execs > 8) {
        attach_proc_name(in->pid, exe, sizeof(exe));
        snprintf(err, errsz,
                 "pid %d (%s) ran %d new programs (execve) during the attach: "
                 "nothing was done",
                 (int)in->pid, exe, execs);
        return -1;
    }
    return attach_proc_open(&in->p, in->pid, err, errsz);
}

/* Stops one thread at a safe point of the program that runs, waiting up to
 * the timeout. */
static int choose(struct inj *in, char *err, size_t errsz)
{
    struct timespec start, pause = {0, 200000};
    pid_t stuck = 0;
    int execs = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int k = pass(in, err, errsz, &stuck);

        if (in->st)
            in->st->rounds++;
        if (k > 0 && (k = attach_proc_changed(&in->p, err, errsz)) != 0) {
            if (k < 0 || reopen(in, ++execs, err, errsz) != 0) {
                let_go(in);
                return -1;
            }
            continue;
        }
        if (k != 0 || in->tid)
            return k == 0 ? 0 : -1;
        if (in->intr && *in->intr) {
            snprintf(err, errsz, "interrupted: nothing was loaded, pid %d runs on as before",
                     (int)in->pid);
            return -1;
        }
        if (ms_since(&start) > in->timeout_ms) {
            if (stuck)
                snprintf(err, errsz,
                         "thread %d of pid %d stayed inside the dynamic loader for %.1f s (a "
                         "library constructor that does not return?): nothing was done",
                         (int)stuck, (int)in->pid, in->timeout_ms / 1e3);
            else if (in->low_stack)
                snprintf(err, errsz,
                         "no thread of pid %d at a safe point had %u KiB of stack free within "
                         "%.1f s (thread %d: %llu KiB): nothing was done",
                         (int)in->pid, ATTACH_CALL_STACK >> 10, in->timeout_ms / 1e3,
                         (int)in->low_stack, (unsigned long long)(in->low_room >> 10));
            else
                snprintf(err, errsz,
                         "no thread of pid %d left the allocator within %.1f s: nothing was "
                         "done",
                         (int)in->pid, in->timeout_ms / 1e3);
            return -1;
        }
        nanosleep(&pause, NULL);
    }
}

/* ---- calls ---- */

/* Runs fn(a0, a1) on the chosen thread, data (if any) copied below its
 * stack first (*data_at gets its address). Returns 0 with *ret, or -1 with
 * err (the thread is stopped again; let_go() restores it). */
static int call(struct inj *in, const char *what, uint64_t fn, uint64_t a0, uint64_t a1,
                const void *data, size_t dlen, uint64_t *ret, char *err, size_t errsz)
{
    struct user_regs_struct r = in->saved;
    uint64_t area = (in->saved.rsp - 256 - 4096) & ~(uint64_t)15, zero = 0;
    struct timespec start, nap = {0, 20000};
    int st;

    if (data && (dlen > 4096 || poke(in->tid, area, data, dlen) != 0)) {
        snprintf(err, errsz, "cannot write into pid %d: %s", (int)in->pid, strerror(errno));
        return -1;
    }
    if (poke(in->tid, area - 8, &zero, 8) != 0) {
        snprintf(err, errsz, "cannot write into pid %d: %s", (int)in->pid, strerror(errno));
        return -1;
    }
    r.rip = fn;
    r.rdi = data ? area : a0;
    r.rsi = data ? a0 : a1;
    r.rax = 0;
    r.orig_rax = (unsigned long long)-1; /* no system call restart on our registers */
    r.rsp = area - 8;                    /* returns to 0: a SIGSEGV we catch */
    if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) != 0 || ptrace(PTRACE_CONT, in->tid, 0, 0) != 0) {
        snprintf(err, errsz, "ptrace on pid %d: %s", (int)in->pid, strerror(errno));
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        pid_t w = waitpid(in->tid, &st, __WALL | WNOHANG);

        if (w == 0) {
            if (ms_since(&start) > in->timeout_ms) {
                int sig;

                stop_thread(in->tid, &sig);
                snprintf(err, errsz, "%s did not return in pid %d within %.1f s", what,
                         (int)in->pid, in->timeout_ms / 1e3);
                return -1;
            }
            nanosleep(&nap, NULL);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 || !WIFSTOPPED(st)) {
            in->tid = 0; /* nothing to restore */
            snprintf(err, errsz, "pid %d ended during the attach", (int)in->pid);
            return -1;
        }
        if ((st >> 16) == PTRACE_EVENT_STOP) {
            ptrace(PTRACE_CONT, in->tid, 0, 0);
            continue;
        }
        if (WSTOPSIG(st) == SIGSEGV && ptrace(PTRACE_GETREGS, in->tid, 0, &r) == 0) {
            if (r.rip == 0) {
                *ret = r.rax;
                return 0;
            }
            snprintf(err, errsz, "%s crashed in pid %d at %#llx (its registers are restored)", what,
                     (int)in->pid, (unsigned long long)r.rip);
            return -1;
        }
        if (in->n_pending < 8)
            in->pending[in->n_pending++] = WSTOPSIG(st);
        ptrace(PTRACE_CONT, in->tid, 0, 0);
    }
}

static int read_string(pid_t pid, uint64_t at, char *buf, size_t cap)
{
    ssize_t n = at ? peek(pid, at, buf, cap - 1) : -1;

    if (n <= 0) {
        /* the string may end before a page that cannot be read */
        n = 0;
        while (at && n < (ssize_t)cap - 1 && peek(pid, at + (uint64_t)n, buf + n, 1) == 1 && buf[n])
            n++;
    }
    buf[n > 0 ? n : 0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    return (int)strlen(buf);
}

/* The address of the exported fn in our library as the program maps it; the
 * mapped library must be this heapline's own build. */
static int lib_symbol(struct inj *in, const char *fn, uint64_t *addr, char *err, size_t errsz)
{
    struct attach_elf_sym s = {.name = fn};
    char mine[4096], theirs[4096];
    uint64_t first;
    int fd;

    if (attach_elf_symbols(in->lib, &s, 1, &first, err, errsz) != 0)
        return -1;
    fd = open(in->lib, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, mine, sizeof(mine)) != (ssize_t)sizeof(mine) ||
        peek(in->pid, in->p.lib_base, theirs, sizeof(theirs)) != (ssize_t)sizeof(theirs) ||
        memcmp(mine, theirs, sizeof(mine)) != 0 || !s.value) {
        if (fd >= 0)
            close(fd);
        snprintf(err, errsz,
                 "pid %d has a heapline collector from another build loaded: attach with that "
                 "heapline",
                 (int)in->pid);
        return -1;
    }
    close(fd);
    *addr = in->p.lib_base - first + s.value;
    return 0;
}

/* Copies our library into a memfd of the program and dlopens it there. */
static int load(struct inj *in, char *err, size_t errsz)
{
    char path[64], buf[65536], reason[512], exe[256];
    uint64_t fd = 0, handle = 0, msg = 0, ignore;
    int src, dst = -1, rc = -1;
    ssize_t n;

    attach_proc_name(in->pid, exe, sizeof(exe));
    if (call(in, "memfd_create", in->p.fn[ATTACH_FN_MEMFD], 1 /* MFD_CLOEXEC */, 0,
             ATTACH_PROC_MEMFD, sizeof(ATTACH_PROC_MEMFD), &fd, err, errsz) != 0)
        return -1;
    if ((int64_t)fd < 0) {
        snprintf(err, errsz,
                 "pid %d (%s) cannot create a memfd (memfd_create: %s; a seccomp filter?): "
                 "nothing was loaded",
                 (int)in->pid, exe, strerror((int)-(int64_t)fd));
        return -1;
    }
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)in->pid, (int)fd);
    src = open(in->lib, O_RDONLY | O_CLOEXEC);
    if (src >= 0)
        dst = open(path, O_WRONLY | O_CLOEXEC);
    while (src >= 0 && dst >= 0 && (n = read(src, buf, sizeof(buf))) > 0)
        if (write(dst, buf, (size_t)n) != n)
            break;
    if (src >= 0 && dst >= 0 && lseek(src, 0, SEEK_CUR) == lseek(dst, 0, SEEK_CUR) &&
        lseek(src, 0, SEEK_CUR) > 0)
        rc = 0;
    else
        snprintf(err, errsz, "cannot copy %s into pid %d: %s", in->lib, (int)in->pid,
                 strerror(errno));
    if (src >= 0)
        close(src);
    if (dst >= 0)
        close(dst);
    if (rc == 0) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", (int)fd);
        rc = call(in, "dlopen", in->p.fn[ATTACH_FN_DLOPEN], 2 /* RTLD_NOW */, 0, path,
                  strlen(path) + 1, &handle, err, errsz);
        if (rc == 0 && !handle) {
            rc = -1;
            if (call(in, "dlerror", in->p.fn[ATTACH_FN_DLERROR], 0, 0, NULL, 0, &msg, err, errsz) ==
                0) {
                read_string(in->pid, msg, reason, sizeof(reason));
                snprintf(err, errsz, "dlopen of the collector in pid %d (%s) failed: %s",
                         (int)in->pid, exe, reason);
            }
        }
    }
    call(in, "close", in->p.fn[ATTACH_FN_CLOSE], fd, 0, NULL, 0, &ignore, reason, sizeof(reason));
    return rc;
}

static int inj_open(struct inj *in, pid_t pid, int timeout_ms, volatile sig_atomic_t *intr,
                    struct attach_stats *st, char *err, size_t errsz)
{
    memset(in, 0, sizeof(*in));
    in->pid = pid;
    in->timeout_ms = timeout_ms > 0 ? timeout_ms : 3000;
    in->intr = intr;
    in->st = st;
    if (st)
        memset(st, 0, sizeof(*st));
    clock_gettime(CLOCK_MONOTONIC, &in->t0);
    if (sockpath_lib(in->lib, sizeof(in->lib), err, errsz) != 0)
        return -1;
    in->unw = attach_unw();
    in->as = in->unw ? in->unw->create_addr_space(in->unw->upt_accessors, 0) : NULL;
    if (in->as)
        in->unw->set_caching_policy(in->as, UNW_CACHE_GLOBAL);
    in->stack = malloc(ATTACH_STACK_SCAN);
    if (!in->stack) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return attach_proc_open(&in->p, pid, err, errsz);
}

static void inj_close(struct inj *in)
{
    let_go(in);
    if (in->st)
        in->st->total = ms_since(&in->t0);
    attach_proc_close(&in->p);
    free(in->stack);
    if (in->as)
        in->unw->destroy_addr_space(in->as);
}

/* Calls the library's fn (heapline_attach or heapline_detach) with opts;
 * *ret gets what it returned. */
static int lib_call(struct inj *in, const char *fn, const char *opts, uint64_t *ret, char *err,
                    size_t errsz)
{
    uint64_t addr;

    if (lib_symbol(in, fn, &addr, err, errsz) != 0)
        return -1;
    return call(in, fn, addr, 0, 0, opts, opts ? strlen(opts) + 1 : 0, ret, err, errsz);
}

static int lib_attach(struct inj *in, const char *opts, char *err, size_t errsz)
{
    char reason[300];
    uint64_t ret;

    if (lib_call(in, "heapline_attach", opts, &ret, err, errsz) != 0)
        return -1;
    if (ret) {
        read_string(in->pid, ret, reason, sizeof(reason));
        snprintf(err, errsz, "the collector did not start in pid %d: %s", (int)in->pid, reason);
        return -1;
    }
    return 0;
}

static int lib_detach(struct inj *in, char *err, size_t errsz)
{
    uint64_t ret;

    if (lib_call(in, "heapline_detach", NULL, &ret, err, errsz) != 0)
        return -1;
    if (!ret) {
        snprintf(err, errsz, "pid %d runs a collector that was not attached", (int)in->pid);
        return -1;
    }
    in->unknown_at = ret; /* read once the collector thread has ended */
    return 0;
}

int attach_start(const struct attach_options *o, struct attach_stats *st, char *err, size_t errsz)
{
    struct inj in;
    char opts[4096];
    int rc = -1;

    if (inj_open(&in, o->pid, o->timeout_ms, o->interrupted, st, err, errsz) != 0) {
        inj_close(&in);
        return -1;
    }
    snprintf(opts, sizeof(opts), "socket=%s\nrecord=%s\nsample=%llu\n", o->socket ? o->socket : "",
             o->record ? o->record : "", (unsigned long long)o->sample);
    if (!o->socket || !o->socket[0])
        memmove(opts, strchr(opts, '\n') + 1, strlen(strchr(opts, '\n') + 1) + 1);
    if (choose(&in, err, errsz) == 0) {
        int loaded = in.p.lib_base == 0;

        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        rc = loaded ? load(&in, err, errsz) : 0;
        if (st)
            st->load = ms_since(&t);
        if (rc == 0 && loaded) {
            /* where the library landed */
            rc = attach_proc_reread(&in.p, err, errsz);
            if (rc == 0 && !in.p.lib_base) {
                snprintf(err, errsz, "the collector is not mapped in pid %d after dlopen",
                         (int)o->pid);
                rc = -1;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (rc == 0)
            rc = lib_attach(&in, opts, err, errsz);
        if (st)
            st->start = ms_since(&t);
        if (rc == 0 && o->interrupted && *o->interrupted) {
            char e2[256];

            lib_detach(&in, e2, sizeof(e2));
            snprintf(err, errsz, "interrupted: pid %d runs on, the collector idle in it",
                     (int)o->pid);
            rc = -1;
        }
        if (st)
            st->loaded = loaded && rc == 0;
    }
    inj_close(&in);
    return rc;
}

int attach_stop(pid_t pid, int timeout_ms, volatile sig_atomic_t *interrupted,
                struct attach_stats *st, char *err, size_t errsz)
{
    struct inj in;
    int rc = -1;

    if (inj_open(&in, pid, timeout_ms, interrupted, st, err, errsz) == 0) {
        /* heapline_detach() only stores a flag and writes to an eventfd:
         * the collector's own thread, whose stack keeps the loader's return
         * addresses of its dlopen of libdw (the scan cannot tell them
         * stale), or a thread really inside dlopen, does not hold it up */
        in.loader_ok = 1;
        if (!in.p.lib_base || (choose(&in, err, errsz) == 0 && !in.p.lib_base))
            snprintf(err, errsz, "pid %d has no attached collector", (int)pid);
        else if (in.tid) {
            struct timespec t;

            clock_gettime(CLOCK_MONOTONIC, &t);
            rc = lib_detach(&in, err, errsz);
            if (st)
                st->start = ms_since(&t);
        }
    }
    inj_close(&in);
    if (rc == 0) {
        /* the run ends on the collector's thread: its last messages, the
         * recording's end; the program runs meanwhile */
        struct timespec t, nap = {0, 5000000};
        int k;

        clock_gettime(CLOCK_MONOTONIC, &t);
        while ((k = attach_proc_collector(pid)) == 1 && ms_since(&t) < 4.0 * in.timeout_ms)
            nanosleep(&nap, NULL);
        if (k == 1) {
            snprintf(err, errsz, "the collector in pid %d did not end its run within %.1f s",
                     (int)pid, 4.0 * in.timeout_ms / 1e3);
            rc = -1;
        } else if (k == 0 && st) {
            unsigned long long n;

            if (peek(pid, in.unknown_at, &n, sizeof(n)) == (ssize_t)sizeof(n))
                st->unknown_frees = (long long)n;
        }
    }
    return rc;
}
