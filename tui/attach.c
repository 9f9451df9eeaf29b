/*
 * attach.c - the ptrace injector of heapline attach (attach.h).
 *
 * Invariant: a thread of the program is stopped only while heapline reads
 * it or while the one chosen thread runs a call; every path out of
 * attach_start()/attach_stop() puts the chosen thread's registers back
 * (including orig_rax, so an interrupted system call restarts as it would
 * have) and detaches every thread it seized.
 */
#include "attach.h"

#include <dirent.h>
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
#include "sockpath.h"

#define ATTACH_MAX_RANGES 64
#define ATTACH_STACK_SCAN (512u << 10)
#define ATTACH_MEMFD_NAME "heapline"
#define ATTACH_MAPS_NAME "/memfd:" ATTACH_MEMFD_NAME

/* The functions a safe thread must not be inside: they hold (or take) the
 * allocator's, the loader's or the thread list's locks. Return addresses
 * into them anywhere on a thread's stack make it unsafe. */
static const char *const danger_names[] = {"malloc",
                                           "free",
                                           "calloc",
                                           "realloc",
                                           "reallocarray",
                                           "memalign",
                                           "aligned_alloc",
                                           "posix_memalign",
                                           "valloc",
                                           "pvalloc",
                                           "malloc_trim",
                                           "malloc_usable_size",
                                           "mallinfo",
                                           "mallinfo2",
                                           "malloc_stats",
                                           "malloc_info",
                                           "mallopt",
                                           "fork",
                                           "_Fork",
                                           "vfork",
                                           "pthread_create",
                                           "pthread_exit",
                                           "dlopen",
                                           "dlclose",
                                           "dlsym",
                                           "dlvsym",
                                           "dladdr",
                                           "dladdr1",
                                           "dlinfo",
                                           "dlmopen",
                                           "dl_iterate_phdr",
                                           "exit",
                                           "on_exit",
                                           "atexit",
                                           "__cxa_atexit",
                                           "__cxa_finalize",
                                           "__libc_dlopen_mode"};
#define N_DANGER (sizeof(danger_names) / sizeof(danger_names[0]))

enum { F_MEMFD, F_DLOPEN, F_DLERROR, F_CLOSE, N_CALLS };
static const char *const call_names[N_CALLS] = {"memfd_create", "dlopen", "dlerror", "close"};

enum thread_state { T_SAFE = 0, T_ALLOC = 1, T_LOADER = 2, T_SIGNAL = 3, T_GONE = 4 };

struct range {
    uint64_t lo, hi;
};

struct inj {
    pid_t pid;
    int timeout_ms;
    volatile sig_atomic_t *intr;
    struct attach_stats *st;
    struct timespec t0;
    char lib[PATH_MAX]; /* the local libheapline.so */
    uint64_t lib_base;  /* where the program maps ours, 0 when not loaded */
    uint64_t fn[N_CALLS];
    struct range loader[ATTACH_MAX_RANGES]; /* the dynamic loader's code */
    struct range danger[N_DANGER];          /* libc's functions that hold locks */
    struct range ours[ATTACH_MAX_RANGES];   /* our library's code (the hooks) */
    size_t n_loader, n_danger, n_ours;
    struct range *maps; /* every mapping, for the stack bounds */
    size_t n_maps;
    uint64_t *stack; /* scan buffer */
    pid_t tid;       /* the chosen thread, stopped; 0 when none */
    struct user_regs_struct saved;
    struct timespec tid_since;
    uint64_t unknown_at; /* heapline_detach(): where the ignored frees are counted */
    int pending[8];      /* signals that arrived during a call, raised again after */
    int n_pending;
};

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

static int in_ranges(const struct range *r, size_t n, uint64_t a)
{
    for (size_t i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return 1;
    return 0;
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

static int read_status(pid_t pid, char *state, long *uid, long *tracer)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (!(f = fopen(path, "re")))
        return -1;
    *state = '?';
    *uid = *tracer = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "State:", 6))
            sscanf(line + 6, " %c", state);
        else if (!strncmp(line, "Uid:", 4))
            *uid = strtol(line + 4, NULL, 10);
        else if (!strncmp(line, "TracerPid:", 10))
            *tracer = strtol(line + 10, NULL, 10);
    }
    fclose(f);
    return 0;
}

int attach_loaded(pid_t pid)
{
    char path[64], line[PATH_MAX + 128];
    FILE *f;
    int found = 0;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    if (!(f = fopen(path, "re")))
        return -1;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, ATTACH_MAPS_NAME) != NULL;
    fclose(f);
    return found;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');

    return s ? s + 1 : p;
}

static void exe_name(pid_t pid, char *buf, size_t cap)
{
    char path[64], exe[PATH_MAX];
    ssize_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n = readlink(path, exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    if (n <= 0) { /* not ours to read: its name as the kernel keeps it */
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        if ((f = fopen(path, "re"))) {
            if (fgets(exe, 64, f))
                n = (ssize_t)strcspn(exe, "\n");
            exe[n > 0 ? n : 0] = 0;
            fclose(f);
        }
    }
    snprintf(buf, cap, "%.200s", n > 0 ? base_name(exe) : "?");
}

/* Reads the program's mappings: libc's path and load bias, the loader's and
 * our library's code, every range (for the stacks). */
static int read_maps(struct inj *in, char *libc, size_t cap, uint64_t *libc_bias, int *musl,
                     char *err, size_t errsz)
{
    char path[64], line[PATH_MAX + 128];
    size_t cap_maps = 256;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)in->pid);
    if (!(f = fopen(path, "re"))) {
        if (errno == EACCES && geteuid() != 0) {
            char exe[256];

            exe_name(in->pid, exe, sizeof(exe));
            snprintf(err, errsz,
                     "pid %d (%s) is not dumpable (setuid, or it called "
                     "prctl(PR_SET_DUMPABLE, 0)): only root can attach to it",
                     (int)in->pid, exe);
        } else {
            snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        }
        return -1;
    }
    libc[0] = 0;
    *libc_bias = 0;
    *musl = 0;
    in->n_maps = in->n_loader = in->n_ours = 0;
    in->lib_base = 0;
    in->maps = malloc(cap_maps * sizeof(*in->maps));
    while (in->maps && fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi, off;
        char perms[8], file[PATH_MAX] = "";

        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo, &hi, perms, &off, file) < 4)
            continue;
        if (in->n_maps == cap_maps) {
            void *p = realloc(in->maps, 2 * cap_maps * sizeof(*in->maps));

            if (!p)
                break;
            in->maps = p;
            cap_maps *= 2;
        }
        in->maps[in->n_maps++] = (struct range){lo, hi};
        const char *b = base_name(file);

        if (!strncmp(b, "ld-musl", 7) || !strncmp(b, "libc.musl", 9))
            *musl = 1;
        if (!strncmp(b, "ld-linux", 8) && perms[2] == 'x' && in->n_loader < ATTACH_MAX_RANGES)
            in->loader[in->n_loader++] = (struct range){lo, hi};
        if (!strncmp(file, ATTACH_MAPS_NAME, strlen(ATTACH_MAPS_NAME))) {
            if (off == 0 && !in->lib_base)
                in->lib_base = lo;
            if (perms[2] == 'x' && in->n_ours < ATTACH_MAX_RANGES)
                in->ours[in->n_ours++] = (struct range){lo, hi};
        }
        if ((!strcmp(b, "libc.so.6") || (!strncmp(b, "libc-2.", 7) && strstr(b, ".so"))) &&
            off == 0 && !libc[0]) {
            snprintf(libc, cap, "%s", file);
            *libc_bias = lo;
        }
    }
    fclose(f);
    if (!in->maps) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* Everything that can be known before touching the program. */
static int preflight(struct inj *in, char *err, size_t errsz)
{
    char state, libc[PATH_MAX], rooted[PATH_MAX + 64], exe[256];
    struct attach_elf_sym syms[N_DANGER + N_CALLS];
    uint64_t bias, first;
    long uid, tracer;
    int musl;

    if (read_status(in->pid, &state, &uid, &tracer) != 0) {
        snprintf(err, errsz, "no process with pid %d", (int)in->pid);
        return -1;
    }
    exe_name(in->pid, exe, sizeof(exe));
    if (state == 'Z' || state == 'X') {
        snprintf(err, errsz, "pid %d (%s) has ended", (int)in->pid, exe);
        return -1;
    }
    if (state == 'T') {
        snprintf(err, errsz,
                 "pid %d (%s) is stopped: resume it first (kill -CONT %d); heapline left it "
                 "as it was",
                 (int)in->pid, exe, (int)in->pid);
        return -1;
    }
    if (tracer > 0) {
        snprintf(err, errsz,
                 "pid %d (%s) is being traced by pid %ld (a debugger?): detach it first",
                 (int)in->pid, exe, tracer);
        return -1;
    }
    if (geteuid() != 0 && uid >= 0 && uid != (long)getuid()) {
        snprintf(err, errsz,
                 "pid %d (%s) belongs to uid %ld: heapline can attach only to your own "
                 "processes (or as root)",
                 (int)in->pid, exe, uid);
        return -1;
    }
#if !defined(__x86_64__)
    snprintf(err, errsz, "attaching to a running process works on x86-64 only");
    return -1;
#endif
    if (read_maps(in, libc, sizeof(libc), &bias, &musl, err, errsz) != 0)
        return -1;
    if (!libc[0]) {
        snprintf(err, errsz,
                 musl ? "pid %d (%s) uses musl, not glibc: the collector cannot be loaded into it"
                      : "pid %d (%s) is statically linked (no libc.so.6): the collector cannot "
                        "be loaded into it",
                 (int)in->pid, exe);
        return -1;
    }
    if (strstr(libc, " (deleted)")) {
        snprintf(err, errsz, "pid %d (%s) runs a libc that was since replaced on disk (%s)",
                 (int)in->pid, exe, libc);
        return -1;
    }
    /* through the program's root: its libc, even in a container */
    snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)in->pid, libc);
    for (size_t i = 0; i < N_DANGER; i++)
        syms[i].name = danger_names[i];
    for (size_t i = 0; i < N_CALLS; i++)
        syms[N_DANGER + i].name = call_names[i];
    if (attach_elf_symbols(rooted, syms, N_DANGER + N_CALLS, &first, err, errsz) != 0)
        return -1;
    for (size_t i = 0; i < N_DANGER; i++)
        if (syms[i].value)
            in->danger[in->n_danger++] =
                (struct range){bias - first + syms[i].value,
                               bias - first + syms[i].value + (syms[i].size ? syms[i].size : 1)};
    for (size_t i = 0; i < N_CALLS; i++) {
        if (!syms[N_DANGER + i].value) {
            snprintf(err, errsz, "pid %d (%s): its libc has no %s (glibc 2.34 or later is needed)",
                     (int)in->pid, exe, call_names[i]);
            return -1;
        }
        in->fn[i] = bias - first + syms[N_DANGER + i].value;
    }
    if (!in->n_loader) {
        snprintf(err, errsz, "pid %d (%s): no dynamic loader mapped", (int)in->pid, exe);
        return -1;
    }
    in->stack = malloc(ATTACH_STACK_SCAN);
    if (!in->stack) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

/* Why ptrace refused, as the user can act on it. */
static void refused(struct inj *in, int e, char *err, size_t errsz)
{
    char exe[256], path[64], scope[16] = "";
    struct stat sb;
    FILE *f;
    long uid = -1, tracer;
    char state;

    exe_name(in->pid, exe, sizeof(exe));
    if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re"))) {
        if (!fgets(scope, sizeof(scope), f))
            scope[0] = 0;
        fclose(f);
        scope[strcspn(scope, "\n")] = 0;
    }
    snprintf(path, sizeof(path), "/proc/%d", (int)in->pid);
    read_status(in->pid, &state, &uid, &tracer);
    if (e != EPERM) {
        snprintf(err, errsz, "cannot ptrace pid %d (%s): %s", (int)in->pid, exe, strerror(e));
    } else if (atoi(scope) >= 3) {
        snprintf(err, errsz,
                 "ptrace refused: kernel.yama.ptrace_scope is 3 (ptrace disabled until reboot)");
    } else if (geteuid() != 0 && stat(path, &sb) == 0 && uid == (long)getuid() &&
               sb.st_uid != getuid()) {
        snprintf(err, errsz,
                 "ptrace refused: pid %d (%s) is not dumpable (setuid, or it called "
                 "prctl(PR_SET_DUMPABLE, 0)); only root can attach to it",
                 (int)in->pid, exe);
    } else if (geteuid() != 0 && uid >= 0 && uid != (long)getuid()) {
        snprintf(err, errsz, "ptrace refused: pid %d (%s) belongs to uid %ld", (int)in->pid, exe,
                 uid);
    } else if (atoi(scope) >= 1) {
        snprintf(err, errsz,
                 "ptrace refused by Yama (kernel.yama.ptrace_scope=%s): only a parent may trace "
                 "pid %d (%s); run heapline as root, or `sysctl kernel.yama.ptrace_scope=0`, or "
                 "let the program allow it (prctl(PR_SET_PTRACER, ...))",
                 scope, (int)in->pid, exe);
    } else {
        snprintf(err, errsz,
                 "ptrace refused for pid %d (%s): heapline may run under a seccomp filter or in "
                 "a container without CAP_SYS_PTRACE",
                 (int)in->pid, exe);
    }
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

static enum thread_state classify(struct inj *in, pid_t tid, const struct user_regs_struct *r)
{
    uint64_t lo = r->rsp, hi = 0;
    enum thread_state s = T_SAFE;
    ssize_t n;

    if (in_ranges(in->loader, in->n_loader, r->rip))
        return T_LOADER;
    if (in_ranges(in->danger, in->n_danger, r->rip) || in_ranges(in->ours, in->n_ours, r->rip))
        return T_ALLOC;
    for (size_t i = 0; i < in->n_maps; i++)
        if (lo >= in->maps[i].lo && lo < in->maps[i].hi)
            hi = in->maps[i].hi;
    if (!hi)
        return T_SAFE; /* a stack heapline does not know: nothing to read */
    if (hi - lo > ATTACH_STACK_SCAN)
        hi = lo + ATTACH_STACK_SCAN;
    n = peek(tid, lo & ~(uint64_t)7, in->stack, (size_t)(hi - (lo & ~(uint64_t)7)));
    for (ssize_t i = 0; i < n / 8; i++) {
        uint64_t w = in->stack[i];

        if (in_ranges(in->loader, in->n_loader, w) && after_call(tid, w))
            return T_LOADER;
        if (s == T_SAFE &&
            (in_ranges(in->danger, in->n_danger, w) || in_ranges(in->ours, in->n_ours, w)) &&
            after_call(tid, w))
            s = T_ALLOC;
    }
    return s;
}

/* Stops tid (seized) and waits for it. Returns 0, 1 when it stopped for a
 * signal (*sig), -1 when it is gone. */
static int stop_thread(pid_t tid, int *sig)
{
    int st;

    *sig = 0;
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0)
        return -1;
    for (;;) {
        pid_t w = waitpid(tid, &st, __WALL);

        if (w < 0 && errno == EINTR)
            continue;
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
}

static int list_threads(pid_t pid, pid_t *tids, int cap)
{
    char path[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return -1;
    while ((e = readdir(d)) && n < cap)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            tids[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

static void let_go(struct inj *in)
{
    if (!in->tid)
        return;
    ptrace(PTRACE_SETREGS, in->tid, 0, &in->saved);
    ptrace(PTRACE_DETACH, in->tid, 0, 0);
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
        if (errno == ESRCH)
            return T_GONE; /* it just ended */
        refused(in, errno, err, errsz);
        return (enum thread_state) - 1;
    }
    clock_gettime(CLOCK_MONOTONIC, since);
    k = stop_thread(tid, sig);
    if (k < 0)
        return T_GONE;
    if (*sig < 0) {
        ptrace(PTRACE_DETACH, tid, 0, 0);
        snprintf(err, errsz,
                 "pid %d was stopped (%s) during the attach: nothing was done; resume it "
                 "with kill -CONT %d",
                 (int)in->pid, strsignal(-*sig), (int)in->pid);
        return (enum thread_state) - 1;
    }
    if (k)
        return T_SIGNAL;
    if (ptrace(PTRACE_GETREGS, tid, 0, r) != 0) {
        ptrace(PTRACE_DETACH, tid, 0, 0);
        return T_GONE;
    }
    return classify(in, tid, r);
}

/* One pass: reads every thread, each stopped only while it is read, then
 * stops the best safe one again (a thread blocked in a system call first:
 * it was not running anyway) and keeps it stopped (in->tid, registers in
 * in->saved). Returns 1 when a thread is chosen and no thread is inside the
 * loader, 0 to try again, -1 with err. */
static int pass(struct inj *in, char *err, size_t errsz, pid_t *in_loader)
{
    pid_t tids[4096], cand = 0;
    int n = list_threads(in->pid, tids, 4096), loader = 0, cand_sys = 0, sig;
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
        ptrace(PTRACE_DETACH, tids[i], 0, s == T_SIGNAL ? sig : 0);
        note_stop(in, &since);
        if (s == T_LOADER) {
            loader = 1;
            *in_loader = tids[i];
        }
        if (s == T_SAFE && (!cand || (!cand_sys && (long long)r.orig_rax >= 0))) {
            cand = tids[i];
            cand_sys = (long long)r.orig_rax >= 0;
        }
    }
    if (!cand || loader)
        return 0;
    s = inspect(in, cand, &r, &since, &sig, err, errsz);
    if ((int)s < 0)
        return -1;
    if (s != T_SAFE) {
        if (s != T_GONE) {
            ptrace(PTRACE_DETACH, cand, 0, s == T_SIGNAL ? sig : 0);
            note_stop(in, &since);
        }
        return 0;
    }
    in->tid = cand;
    in->saved = r;
    in->tid_since = since;
    return 1;
}

/* Stops one thread at a safe point, waiting up to the timeout. */
static int choose(struct inj *in, char *err, size_t errsz)
{
    struct timespec start, pause = {0, 200000};
    pid_t stuck = 0;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int k = pass(in, err, errsz, &stuck);

        if (in->st)
            in->st->rounds++;
        if (k != 0)
            return k > 0 ? 0 : -1;
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
        peek(in->pid, in->lib_base, theirs, sizeof(theirs)) != (ssize_t)sizeof(theirs) ||
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
    *addr = in->lib_base - first + s.value;
    return 0;
}

/* Copies our library into a memfd of the program and dlopens it there. */
static int load(struct inj *in, char *err, size_t errsz)
{
    char path[64], buf[65536], reason[512], exe[256];
    uint64_t fd = 0, handle = 0, msg = 0, ignore;
    int src, dst = -1, rc = -1;
    ssize_t n;

    exe_name(in->pid, exe, sizeof(exe));
    if (call(in, "memfd_create", in->fn[F_MEMFD], 1 /* MFD_CLOEXEC */, 0, ATTACH_MEMFD_NAME,
             sizeof(ATTACH_MEMFD_NAME), &fd, err, errsz) != 0)
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
        rc = call(in, "dlopen", in->fn[F_DLOPEN], 2 /* RTLD_NOW */, 0, path, strlen(path) + 1,
                  &handle, err, errsz);
        if (rc == 0 && !handle) {
            rc = -1;
            if (call(in, "dlerror", in->fn[F_DLERROR], 0, 0, NULL, 0, &msg, err, errsz) == 0) {
                read_string(in->pid, msg, reason, sizeof(reason));
                snprintf(err, errsz, "dlopen of the collector in pid %d (%s) failed: %s",
                         (int)in->pid, exe, reason);
            }
        }
    }
    call(in, "close", in->fn[F_CLOSE], fd, 0, NULL, 0, &ignore, reason, sizeof(reason));
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
    return preflight(in, err, errsz);
}

static void inj_close(struct inj *in)
{
    let_go(in);
    if (in->st)
        in->st->total = ms_since(&in->t0);
    free(in->maps);
    free(in->stack);
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
    snprintf(opts, sizeof(opts), "socket=%s\nrecord=%s\n", o->socket ? o->socket : "",
             o->record ? o->record : "");
    if (!o->socket || !o->socket[0])
        memmove(opts, strchr(opts, '\n') + 1, strlen(strchr(opts, '\n') + 1) + 1);
    if (choose(&in, err, errsz) == 0) {
        int loaded = in.lib_base == 0;

        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        rc = loaded ? load(&in, err, errsz) : 0;
        if (st)
            st->load = ms_since(&t);
        if (rc == 0 && loaded) {
            char libc[PATH_MAX];
            uint64_t bias;
            int musl;

            /* where the library landed */
            free(in.maps);
            rc = read_maps(&in, libc, sizeof(libc), &bias, &musl, err, errsz);
            if (rc == 0 && !in.lib_base) {
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

/* 1 while pid has a thread named "heapline" (the collector's), 0 when not,
 * -1 when pid is gone. */
static int collector_thread(pid_t pid)
{
    pid_t tids[4096];
    int n = list_threads(pid, tids, 4096);

    if (n <= 0)
        return -1;
    for (int i = 0; i < n; i++) {
        char path[64], comm[32] = "";
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tids[i]);
        if ((f = fopen(path, "re"))) {
            if (!fgets(comm, sizeof(comm), f))
                comm[0] = 0;
            fclose(f);
        }
        if (!strcmp(comm, "heapline\n"))
            return 1;
    }
    return 0;
}

int attach_stop(pid_t pid, int timeout_ms, volatile sig_atomic_t *interrupted,
                struct attach_stats *st, char *err, size_t errsz)
{
    struct inj in;
    int rc = -1;

    if (inj_open(&in, pid, timeout_ms, interrupted, st, err, errsz) == 0) {
        if (!in.lib_base)
            snprintf(err, errsz, "pid %d has no attached collector", (int)pid);
        else if (choose(&in, err, errsz) == 0) {
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
        while ((k = collector_thread(pid)) == 1 && ms_since(&t) < 4.0 * in.timeout_ms)
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
