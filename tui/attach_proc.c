/*
 * attach_proc.c - what heapline attach reads of a program before touching it
 * (attach_proc.h): /proc/PID/status, maps and task/, and libc's symbols through
 * /proc/PID/root (its libc, even in a container).
 */
#include "attach_proc.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attach_elf.h"

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
_Static_assert(N_DANGER <= ATTACH_PROC_DANGER, "room for every danger range");

static const char *const call_names[ATTACH_FN_COUNT] = {"memfd_create", "dlopen", "dlerror",
                                                        "close"};

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

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');

    return s ? s + 1 : p;
}

void attach_proc_name(pid_t pid, char *buf, size_t cap)
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
static uint64_t stack_limit(pid_t pid);

static int read_maps(struct attach_proc *p, int *musl, char *err, size_t errsz)
{
    char path[64], line[PATH_MAX + 128];
    size_t cap_maps = 256;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
    if (!(f = fopen(path, "re"))) {
        if (errno == EACCES && geteuid() != 0) {
            char exe[256];

            attach_proc_name(p->pid, exe, sizeof(exe));
            snprintf(err, errsz,
                     "pid %d (%s) is not dumpable (setuid, or it called "
                     "prctl(PR_SET_DUMPABLE, 0)): only root can attach to it",
                     (int)p->pid, exe);
        } else if (errno == ENOENT || errno == ESRCH) {
            snprintf(err, errsz, "pid %d has ended", (int)p->pid);
        } else {
            snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        }
        return -1;
    }
    p->libc[0] = 0;
    p->libc_bias = 0;
    *musl = 0;
    p->n_maps = p->n_loader = p->n_ours = 0;
    p->main_stack = (struct attach_range){0, 0};
    p->stack_limit = stack_limit(p->pid);
    p->lib_base = 0;
    p->maps = malloc(cap_maps * sizeof(*p->maps));
    while (p->maps && fgets(line, sizeof(line), f)) {
        unsigned long long lo, hi, off;
        char perms[8], file[PATH_MAX] = "";

        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo, &hi, perms, &off, file) < 4)
            continue;
        if (p->n_maps == cap_maps) {
            void *bigger = realloc(p->maps, 2 * cap_maps * sizeof(*p->maps));

            if (!bigger)
                break;
            p->maps = bigger;
            cap_maps *= 2;
        }
        p->maps[p->n_maps++] = (struct attach_range){lo, hi};
        if (!strcmp(file, "[stack]"))
            p->main_stack = (struct attach_range){lo, hi};
        const char *b = base_name(file);

        if (!strncmp(b, "ld-musl", 7) || !strncmp(b, "libc.musl", 9))
            *musl = 1;
        if (!strncmp(b, "libheapline", 11))
            p->preloaded = 1;
        if (!strncmp(b, "ld-linux", 8) && perms[2] == 'x' && p->n_loader < ATTACH_PROC_RANGES)
            p->loader[p->n_loader++] = (struct attach_range){lo, hi};
        if (!strncmp(file, ATTACH_PROC_MAPS_NAME, strlen(ATTACH_PROC_MAPS_NAME))) {
            if (off == 0 && !p->lib_base)
                p->lib_base = lo;
            if (perms[2] == 'x' && p->n_ours < ATTACH_PROC_RANGES)
                p->ours[p->n_ours++] = (struct attach_range){lo, hi};
        }
        if ((!strcmp(b, "libc.so.6") || (!strncmp(b, "libc-2.", 7) && strstr(b, ".so"))) &&
            off == 0 && !p->libc[0]) {
            snprintf(p->libc, sizeof(p->libc), "%s", file);
            p->libc_bias = lo;
        }
    }
    fclose(f);
    if (!p->maps) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

int attach_proc_open(struct attach_proc *p, pid_t pid, char *err, size_t errsz)
{
    char state, rooted[PATH_MAX + 64], exe[256];
    struct attach_elf_sym syms[N_DANGER + ATTACH_FN_COUNT];
    uint64_t bias, first;
    long uid, tracer;
    int musl;

    memset(p, 0, sizeof(*p));
    p->pid = pid;
    if (read_status(p->pid, &state, &uid, &tracer) != 0) {
        snprintf(err, errsz, "no process with pid %d", (int)p->pid);
        return -1;
    }
    attach_proc_name(p->pid, exe, sizeof(exe));
    if (state == 'Z' || state == 'X') {
        snprintf(err, errsz, "pid %d (%s) has ended", (int)p->pid, exe);
        return -1;
    }
    if (state == 'T') {
        snprintf(err, errsz,
                 "pid %d (%s) is stopped: resume it first (kill -CONT %d); heapline left it "
                 "as it was",
                 (int)p->pid, exe, (int)p->pid);
        return -1;
    }
    if (tracer > 0) {
        snprintf(err, errsz,
                 "pid %d (%s) is being traced by pid %ld (a debugger?): detach it first",
                 (int)p->pid, exe, tracer);
        return -1;
    }
    if (geteuid() != 0 && uid >= 0 && uid != (long)getuid()) {
        snprintf(err, errsz,
                 "pid %d (%s) belongs to uid %ld: heapline can attach only to your own "
                 "processes (or as root)",
                 (int)p->pid, exe, uid);
        return -1;
    }
#if !defined(__x86_64__)
    snprintf(err, errsz, "attaching to a running process works on x86-64 only");
    return -1;
#endif
    if (read_maps(p, &musl, err, errsz) != 0)
        return -1;
    /* just started, or it just ran execve: the dynamic loader maps libc in a moment */
    for (int i = 0; !p->libc[0] && p->n_loader && !musl && i < 200; i++) {
        struct timespec nap = {0, 5000000};

        nanosleep(&nap, NULL);
        if (attach_proc_reread(p, err, errsz) != 0)
            return -1;
    }
    /* no mappings, or no libc: it may have ended meanwhile (a zombie maps nothing) */
    if ((!p->n_maps || !p->libc[0]) &&
        (read_status(p->pid, &state, &uid, &tracer) != 0 || state == 'Z' || state == 'X')) {
        snprintf(err, errsz, "pid %d (%s) has ended", (int)p->pid, exe);
        return -1;
    }
    bias = p->libc_bias;
    if (p->preloaded) {
        snprintf(err, errsz,
                 "pid %d (%s) runs under the collector already (preloaded), but its socket is not "
                 "in the socket directory: attach to its socket path (HEAPLINE_SOCKET)",
                 (int)p->pid, exe);
        return -1;
    }
    if (p->n_maps == 0) { /* every user process maps something */
        snprintf(err, errsz,
                 "pid %d (%s) is a kernel thread: it has no heap, nothing to attach to (a "
                 "program's pid: pidof NAME)",
                 (int)p->pid, exe);
        return -1;
    }
    if (!p->libc[0]) {
        snprintf(err, errsz,
                 musl ? "pid %d (%s) uses musl, not glibc: the collector cannot be loaded into it"
                      : "pid %d (%s) is statically linked (no libc.so.6): the collector cannot "
                        "be loaded into it",
                 (int)p->pid, exe);
        return -1;
    }
    if (strstr(p->libc, " (deleted)")) {
        snprintf(err, errsz, "pid %d (%s) runs a libc that was since replaced on disk (%s)",
                 (int)p->pid, exe, p->libc);
        return -1;
    }
    /* through the program's root: its libc, even in a container */
    snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)p->pid, p->libc);
    for (size_t i = 0; i < N_DANGER; i++)
        syms[i].name = danger_names[i];
    for (size_t i = 0; i < ATTACH_FN_COUNT; i++)
        syms[N_DANGER + i].name = call_names[i];
    if (attach_elf_symbols(rooted, syms, N_DANGER + ATTACH_FN_COUNT, &first, err, errsz) != 0) {
        if (read_status(p->pid, &state, &uid, &tracer) != 0 || state == 'Z' || state == 'X')
            snprintf(err, errsz, "pid %d (%s) ended during the attach: nothing was done",
                     (int)p->pid, exe); /* its /proc/PID/root went with it */
        return -1;
    }
    for (size_t i = 0; i < N_DANGER; i++)
        if (syms[i].value)
            p->danger[p->n_danger++] = (struct attach_range){bias - first + syms[i].value,
                                                             bias - first + syms[i].value +
                                                                 (syms[i].size ? syms[i].size : 1)};
    for (size_t i = 0; i < ATTACH_FN_COUNT; i++) {
        if (!syms[N_DANGER + i].value) {
            snprintf(err, errsz, "pid %d (%s): its libc has no %s (glibc 2.34 or later is needed)",
                     (int)p->pid, exe, call_names[i]);
            return -1;
        }
        p->fn[i] = bias - first + syms[N_DANGER + i].value;
    }
    if (!p->n_loader) {
        snprintf(err, errsz, "pid %d (%s): no dynamic loader mapped", (int)p->pid, exe);
        return -1;
    }
    return 0;
}

void attach_proc_refused(const struct attach_proc *p, int e, char *err, size_t errsz)
{
    char exe[256], path[64], scope[16] = "";
    struct stat sb;
    FILE *f;
    long uid = -1, tracer;
    char state;

    attach_proc_name(p->pid, exe, sizeof(exe));
    if ((f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re"))) {
        if (!fgets(scope, sizeof(scope), f))
            scope[0] = 0;
        fclose(f);
        scope[strcspn(scope, "\n")] = 0;
    }
    snprintf(path, sizeof(path), "/proc/%d", (int)p->pid);
    /* a process on its way out refuses ptrace with EPERM (or ESRCH) too:
     * give it a moment to show as ended before another reason is named */
    for (int i = 0; i < 10; i++) {
        struct timespec nap = {0, 10000000};

        if (read_status(p->pid, &state, &uid, &tracer) != 0 || state == 'Z' || state == 'X') {
            snprintf(err, errsz, "pid %d (%s) ended during the attach: nothing was done",
                     (int)p->pid, exe);
            return;
        }
        if (e != EPERM && e != ESRCH)
            break;
        nanosleep(&nap, NULL);
    }
    if (e != EPERM) {
        snprintf(err, errsz, "cannot ptrace pid %d (%s): %s", (int)p->pid, exe, strerror(e));
    } else if (atoi(scope) >= 3) {
        snprintf(err, errsz,
                 "ptrace refused: kernel.yama.ptrace_scope is 3 (ptrace disabled until reboot)");
    } else if (geteuid() != 0 && stat(path, &sb) == 0 && uid == (long)getuid() &&
               sb.st_uid != getuid()) {
        snprintf(err, errsz,
                 "ptrace refused: pid %d (%s) is not dumpable (setuid, or it called "
                 "prctl(PR_SET_DUMPABLE, 0)); only root can attach to it",
                 (int)p->pid, exe);
    } else if (geteuid() != 0 && uid >= 0 && uid != (long)getuid()) {
        snprintf(err, errsz, "ptrace refused: pid %d (%s) belongs to uid %ld", (int)p->pid, exe,
                 uid);
    } else if (atoi(scope) >= 1) {
        snprintf(err, errsz,
                 "ptrace refused by Yama (kernel.yama.ptrace_scope=%s): only a parent may trace "
                 "pid %d (%s); run heapline as root, or `sysctl kernel.yama.ptrace_scope=0`, or "
                 "let the program allow it (prctl(PR_SET_PTRACER, ...))",
                 scope, (int)p->pid, exe);
    } else {
        snprintf(err, errsz,
                 "ptrace refused for pid %d (%s): heapline may run under a seccomp filter or in "
                 "a container without CAP_SYS_PTRACE",
                 (int)p->pid, exe);
    }
}

int attach_proc_reread(struct attach_proc *p, char *err, size_t errsz)
{
    int musl;

    free(p->maps);
    p->maps = NULL;
    return read_maps(p, &musl, err, errsz);
}

int attach_proc_changed(struct attach_proc *p, char *err, size_t errsz)
{
    struct attach_range loader[ATTACH_PROC_RANGES];
    size_t n_loader = p->n_loader;
    uint64_t bias = p->libc_bias, lib_base = p->lib_base;
    char libc[PATH_MAX];

    memcpy(loader, p->loader, sizeof(loader));
    snprintf(libc, sizeof(libc), "%s", p->libc);
    if (attach_proc_reread(p, err, errsz) != 0)
        return -1;
    return bias != p->libc_bias || lib_base != p->lib_base || strcmp(libc, p->libc) != 0 ||
           n_loader != p->n_loader || memcmp(loader, p->loader, n_loader * sizeof(*loader)) != 0;
}

static int in_ranges(const struct attach_range *r, size_t n, uint64_t a)
{
    for (size_t i = 0; i < n; i++)
        if (a >= r[i].lo && a < r[i].hi)
            return 1;
    return 0;
}

enum attach_where attach_proc_where(const struct attach_proc *p, uint64_t ip)
{
    if (in_ranges(p->loader, p->n_loader, ip))
        return ATTACH_IN_LOADER;
    if (in_ranges(p->danger, p->n_danger, ip) || in_ranges(p->ours, p->n_ours, ip))
        return ATTACH_IN_ALLOC;
    return ATTACH_SAFE;
}

/* RLIMIT_STACK's soft limit of pid (/proc/PID/limits), 0 when unlimited
 * or unknown. */
static uint64_t stack_limit(pid_t pid)
{
    char path[64], line[256];
    unsigned long long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    if (!(f = fopen(path, "re")))
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "Max stack size", 14) && sscanf(line + 14, "%llu", &v) != 1)
            v = 0; /* "unlimited" */
    fclose(f);
    return v;
}

/* The kernel's stack_guard_gap (256 pages): a stack grows no closer than
 * this to the mapping below it. */
#define STACK_GUARD_GAP (256u << 12)

uint64_t attach_proc_stack_room(const struct attach_proc *p, uint64_t sp, uint64_t *mapped)
{
    *mapped = 0;
    for (size_t i = 0; i < p->n_maps; i++) {
        uint64_t lo = p->maps[i].lo, hi = p->maps[i].hi, floor = lo;

        if (sp < lo || sp >= hi)
            continue;
        *mapped = sp - lo;
        if (lo == p->main_stack.lo && hi == p->main_stack.hi) {
            uint64_t below = i ? p->maps[i - 1].hi + STACK_GUARD_GAP : STACK_GUARD_GAP;

            floor = p->stack_limit && p->stack_limit < hi ? hi - p->stack_limit : 0;
            if (floor < below)
                floor = below;
            if (floor > lo)
                floor = lo; /* it grew past the limit (raised, then lowered) */
        }
        return sp - floor;
    }
    return 0;
}

uint64_t attach_proc_stack_end(const struct attach_proc *p, uint64_t sp)
{
    for (size_t i = 0; i < p->n_maps; i++)
        if (sp >= p->maps[i].lo && sp < p->maps[i].hi)
            return p->maps[i].hi;
    return 0;
}

int attach_proc_threads(pid_t pid, pid_t *tids, int cap)
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

int attach_proc_collector(pid_t pid)
{
    pid_t tids[4096];
    int n = attach_proc_threads(pid, tids, 4096);

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

int attach_proc_thread_ended(pid_t pid, pid_t tid)
{
    char path[64], line[128], state = 'X';
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
    if ((f = fopen(path, "re"))) {
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "State:", 6))
                sscanf(line + 6, " %c", &state);
        fclose(f);
    }
    return state == 'Z' || state == 'X';
}

int attach_proc_callable(pid_t pid, pid_t tid)
{
    char path[64], line[256];
    unsigned long long blk = 0, ign = 0, bit = 1ull << (SIGSEGV - 1);
    int named = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
    if (!(f = fopen(path, "re")))
        return 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "Name:", 5))
            named = strstr(line, "heapline") != NULL;
        else if (!strncmp(line, "SigBlk:", 7))
            blk = strtoull(line + 7, NULL, 16);
        else if (!strncmp(line, "SigIgn:", 7))
            ign = strtoull(line + 7, NULL, 16);
    }
    fclose(f);
    return !named && !(blk & bit) && !(ign & bit);
}

void attach_proc_close(struct attach_proc *p)
{
    free(p->maps);
    p->maps = NULL;
}
