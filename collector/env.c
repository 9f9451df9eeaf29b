/*
 * env.c - the program sees the environment it would see bare; its children
 * get back what they need to be recorded (env.h).
 *
 * Invariant: after env_take(), environ holds none of own_vars and no
 * libheapline in LD_PRELOAD; every exec and spawn entry point defined here
 * hands the child the envp it was given plus the saved variables it lacks
 * (and libheapline at the head of its LD_PRELOAD), or the envp unchanged when
 * the child is not to be recorded (HEAPLINE_FORK=off, outside the owner).
 *
 * No allocation on these paths: execve may run in a vfork child, which shares
 * the parent's heap. The child's envp is built in the caller's stack frame
 * (CHILD_ENV), the saved strings live in static storage, and the real
 * functions are looked up in env_take().
 *
 * glibc's system() and popen() spawn through internal calls that no
 * interposer sees: system() is done here with posix_spawn as glibc does it
 * (SIGINT and SIGQUIT ignored and SIGCHLD blocked while it waits); popen()
 * hands the child environ with the variables put back for the moment of the
 * spawn (a setenv on another thread in that moment would be lost).
 */
#include "env.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

extern char **environ;

/* The collector's variables: read by read_config() in core.c, all before
 * env_take(). A new one goes here too. */
static const char *const own_vars[] = {"HEAPLINE_RECORD",
                                       "HEAPLINE_SOCKET",
                                       "HEAPLINE_FORK",
                                       "HEAPLINE_UNWIND",
                                       "HEAPLINE_DEPTH",
                                       "HEAPLINE_TICK_MS",
                                       "HEAPLINE_COMPRESS",
                                       "HEAPLINE_STATS",
                                       "HEAPLINE_SAMPLE",
                                       "HEAPLINE_OWNER_PID",
                                       "HEAPLINE_DEBUG_DIR",
                                       "HEAPLINE_PYTHON",
                                       "HEAPLINE_SOCKET_DIR",
                                       "HEAPLINE_PYTHONMALLOC",
                                       "HEAPLINE_HEAPWALK_CHECK",
                                       "HEAPLINE_DEFER",
                                       NULL};

/* PYTHONMALLOC=malloc that the launcher set (HEAPLINE_PYTHONMALLOC=1) is
 * heapline's too: a child gets it back, and a program that is not CPython
 * loses it. CPython keeps it: it reads it in main, after the constructors. */
static const char pymalloc_entry[] = "PYTHONMALLOC=malloc";
static int strip_pymalloc;

#define ENV_SAVED_MAX 16
#define ENV_LP_MAX (PATH_MAX + 4096) /* a child's LD_PRELOAD with ours in front */

static char store[4 * PATH_MAX]; /* saved "NAME=VALUE" strings */
static size_t store_used;
static const char *saved[ENV_SAVED_MAX]; /* what a child gets back */
static int n_saved;
static char self_entry[PATH_MAX];       /* our LD_PRELOAD entry, "" when we were not preloaded */
static const char *self_base;           /* its basename */
static char program_preload[8192 + 16]; /* "LD_PRELOAD=" the rest, for the program */
static pid_t env_owner;
static int env_fork_off, taken, stripped;

typedef int execve_fn(const char *, char *const[], char *const[]);
typedef int execvpe_fn(const char *, char *const[], char *const[]);
typedef int fexecve_fn(int, char *const[], char *const[]);
typedef int execveat_fn(int, const char *, char *const[], char *const[], int);
typedef int spawn_fn(pid_t *, const char *, const posix_spawn_file_actions_t *,
                     const posix_spawnattr_t *, char *const[], char *const[]);
typedef FILE *popen_fn(const char *, const char *);

static execve_fn *real_execve;
static execvpe_fn *real_execvpe;
static fexecve_fn *real_fexecve;
static execveat_fn *real_execveat;
static spawn_fn *real_posix_spawn, *real_posix_spawnp;
static popen_fn *real_popen;

static void resolve(void)
{
    real_execve = (execve_fn *)dlsym(RTLD_NEXT, "execve");
    real_execvpe = (execvpe_fn *)dlsym(RTLD_NEXT, "execvpe");
    real_fexecve = (fexecve_fn *)dlsym(RTLD_NEXT, "fexecve");
    real_execveat = (execveat_fn *)dlsym(RTLD_NEXT, "execveat");
    real_posix_spawn = (spawn_fn *)dlsym(RTLD_NEXT, "posix_spawn");
    real_posix_spawnp = (spawn_fn *)dlsym(RTLD_NEXT, "posix_spawnp");
    real_popen = (popen_fn *)dlsym(RTLD_NEXT, "popen");
}

/* Length of the name when e is "NAME=..." of an own variable, else 0. */
static size_t own_name(const char *e)
{
    for (int i = 0; own_vars[i]; i++) {
        size_t n = strlen(own_vars[i]);
        if (strncmp(e, own_vars[i], n) == 0 && e[n] == '=')
            return n;
    }
    return 0;
}

static int is_preload(const char *e)
{
    return strncmp(e, "LD_PRELOAD=", 11) == 0;
}

static const char *base_of(const char *p, size_t n, size_t *bn)
{
    const char *b = p;

    for (size_t i = 0; i < n; i++)
        if (p[i] == '/')
            b = p + i + 1;
    *bn = n - (size_t)(b - p);
    return b;
}

/* 1 when the LD_PRELOAD entry p[0..n) is this library. */
static int is_self(const char *p, size_t n)
{
    size_t bn;
    const char *b = base_of(p, n, &bn);

    return self_base && strlen(self_base) == bn && memcmp(b, self_base, bn) == 0;
}

static const char *save(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p;

    if (n_saved == ENV_SAVED_MAX || store_used + n > sizeof(store))
        return NULL;
    p = store + store_used;
    memcpy(p, s, n);
    store_used += n;
    saved[n_saved++] = p;
    return p;
}

/* Splits LD_PRELOAD's value (entries separated by ':' or ' ', as ld.so reads
 * it): our entry to self_entry, the others to program_preload ("LD_PRELOAD="
 * and nothing when none remain). Returns 1 when others remain. */
static int split_preload(const char *v)
{
    size_t w = 11;

    memcpy(program_preload, "LD_PRELOAD=", 11);
    while (*v) {
        size_t n = strcspn(v, ": ");

        if (n && is_self(v, n) && !self_entry[0] && n < sizeof(self_entry)) {
            memcpy(self_entry, v, n);
            self_entry[n] = 0;
        } else if (n && w + n + 2 < sizeof(program_preload)) {
            if (w > 11)
                program_preload[w++] = ':';
            memcpy(program_preload + w, v, n);
            w += n;
        }
        v += n;
        if (*v)
            v++;
    }
    program_preload[w] = 0;
    return w > 11;
}

void env_take(pid_t owner_pid, int fork_off)
{
    Dl_info info;
    char owner[40];
    char **r;

    if (taken)
        return;
    taken = 1;
    env_owner = owner_pid;
    env_fork_off = fork_off;
    resolve();
    if (dladdr((void *)env_take, &info) && info.dli_fname) {
        size_t bn;
        self_base = base_of(info.dli_fname, strlen(info.dli_fname), &bn);
    }
    for (r = environ; r && *r; r++) {
        if (own_name(*r) && strncmp(*r, "HEAPLINE_OWNER_PID=", 19) != 0)
            save(*r);
        else if (is_preload(*r))
            split_preload(*r + 11);
    }
    snprintf(owner, sizeof(owner), "HEAPLINE_OWNER_PID=%d", (int)owner_pid);
    save(owner);
    if (getenv("HEAPLINE_PYTHONMALLOC") && strcmp(getenv("HEAPLINE_PYTHONMALLOC"), "1") == 0) {
        const char *pm = getenv("PYTHONMALLOC");

        if (pm && strcmp(pm, "malloc") == 0) {
            save(pymalloc_entry);
            strip_pymalloc = !dlsym(RTLD_DEFAULT, "_PyEval_EvalFrameDefault");
        }
    }
}

void env_strip(void)
{
    char **r, **w;

    if (!taken || stripped || !environ)
        return;
    stripped = 1;
    /* in place: the array is the program's */
    for (r = w = environ; *r; r++) {
        if (own_name(*r) || (strip_pymalloc && strcmp(*r, pymalloc_entry) == 0))
            continue;
        if (is_preload(*r)) {
            if (program_preload[11])
                *w++ = program_preload;
            continue;
        }
        *w++ = *r;
    }
    *w = NULL;
}

/* Whether a child is to be recorded: the owner's own exec always; any other
 * process (a fork child's exec, a spawned child) unless HEAPLINE_FORK=off. */
static int follow(int exec_self)
{
    return taken && ((exec_self && getpid() == env_owner) || !env_fork_off);
}

static size_t env_count(char *const *envp)
{
    size_t n = 0;

    while (envp && envp[n])
        n++;
    return n;
}

/*
 * The child's envp in arr (cap entries, lp for its LD_PRELOAD): envp plus
 * each saved variable it lacks, and our library at the head of its
 * LD_PRELOAD. Returns envp itself when the child is not followed or there is
 * no room.
 */
static char *const *env_child(char *const *envp, int exec_self, char **arr, size_t cap, char *lp,
                              size_t lpcap)
{
    size_t n = 0;
    int have_preload = 0;

    if (!follow(exec_self) || env_count(envp) + ENV_SAVED_MAX + 2 > cap)
        return envp;
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *e = envp[i];

        if (is_preload(e) && self_entry[0]) {
            int has = 0;
            for (const char *v = e + 11; *v;) {
                size_t k = strcspn(v, ": ");
                has |= k && is_self(v, k);
                v += k;
                if (*v)
                    v++;
            }
            if (!has && !have_preload &&
                snprintf(lp, lpcap, "LD_PRELOAD=%s%s%s", self_entry, e[11] ? ":" : "", e + 11) <
                    (int)lpcap)
                e = lp;
            have_preload = 1;
        }
        arr[n++] = (char *)e;
    }
    for (int s = 0; s < n_saved; s++) {
        size_t len = strcspn(saved[s], "=") + 1, i;

        for (i = 0; envp && envp[i] && strncmp(envp[i], saved[s], len) != 0; i++)
            ;
        if (!envp || !envp[i])
            arr[n++] = (char *)saved[s];
    }
    if (!have_preload && self_entry[0] &&
        snprintf(lp, lpcap, "LD_PRELOAD=%s", self_entry) < (int)lpcap)
        arr[n++] = lp;
    arr[n] = NULL;
    return arr;
}

/* Declares `name`, the child's envp built from envp, in the caller's frame
 * (16 KB of stack: an environment of more than ENV_CHILD_MAX variables goes
 * to the child as it is). */
#define ENV_CHILD_MAX 1024
#define CHILD_ENV(name, envp, exec_self)                                                           \
    char *name##_arr[ENV_CHILD_MAX + ENV_SAVED_MAX + 2];                                           \
    char name##_lp[ENV_LP_MAX];                                                                    \
    char *const *name =                                                                            \
        env_child(envp, exec_self, name##_arr, sizeof(name##_arr) / sizeof(name##_arr[0]),         \
                  name##_lp, sizeof(name##_lp))

/* ---- the exec family ---- */

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    if (!real_execve)
        resolve();
    CHILD_ENV(e, envp, 1);
    return real_execve(path, argv, e);
}

EXPORT int execv(const char *path, char *const argv[])
{
    return execve(path, argv, environ);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (!real_execvpe)
        resolve();
    CHILD_ENV(e, envp, 1);
    return real_execvpe(file, argv, e);
}

EXPORT int execvp(const char *file, char *const argv[])
{
    return execvpe(file, argv, environ);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    if (!real_fexecve)
        resolve();
    CHILD_ENV(e, envp, 1);
    return real_fexecve(fd, argv, e);
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    if (!real_execveat)
        resolve();
    if (!real_execveat) {
        errno = ENOSYS;
        return -1;
    }
    CHILD_ENV(e, envp, 1);
    return real_execveat(dirfd, path, argv, e, flags);
}

/* execl, execlp, execle: the arguments into an array on the stack; more
 * than EXECL_MAX of them fail with E2BIG. */
#define EXECL_MAX 1024
static int args_from(char **argv, const char *arg0, va_list ap)
{
    size_t n = 0;

    argv[n++] = (char *)arg0;
    while (arg0 && (argv[n] = va_arg(ap, char *)) != NULL)
        if (++n == EXECL_MAX) {
            errno = E2BIG;
            return -1;
        }
    return 0;
}

EXPORT int execl(const char *path, const char *arg, ...)
{
    char *argv[EXECL_MAX + 1];
    va_list ap;
    int r;

    va_start(ap, arg);
    r = args_from(argv, arg, ap);
    va_end(ap);
    return r < 0 ? -1 : execve(path, argv, environ);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
    char *argv[EXECL_MAX + 1];
    va_list ap;
    int r;

    va_start(ap, arg);
    r = args_from(argv, arg, ap);
    va_end(ap);
    return r < 0 ? -1 : execvpe(file, argv, environ);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
    char *argv[EXECL_MAX + 1];
    char *const *envp = NULL;
    va_list ap;
    int r;

    va_start(ap, arg);
    r = args_from(argv, arg, ap);
    if (r == 0)
        envp = va_arg(ap, char *const *); /* after the NULL that ends the arguments */
    va_end(ap);
    return r < 0 ? -1 : execve(path, argv, envp);
}

/* ---- spawning ---- */

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!real_posix_spawn)
        resolve();
    CHILD_ENV(e, envp, 0);
    return real_posix_spawn(pid, path, fa, attr, argv, e);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!real_posix_spawnp)
        resolve();
    CHILD_ENV(e, envp, 0);
    return real_posix_spawnp(pid, file, fa, attr, argv, e);
}

/* system(3) as glibc does it, through our posix_spawn: while the command
 * runs, SIGINT and SIGQUIT are ignored (counted across threads) and SIGCHLD
 * blocked; the child gets the caller's mask and default dispositions back. */
static pthread_mutex_t system_lock = PTHREAD_MUTEX_INITIALIZER;
static int system_refs;
static struct sigaction system_intr, system_quit;

EXPORT int system(const char *cmd)
{
    struct sigaction ign = {0}, intr, quit;
    sigset_t omask, reset;
    posix_spawnattr_t attr;
    pid_t pid;
    int status, saved_errno;
    char *argv[] = {"sh", "-c", "--", (char *)cmd, NULL};

    if (!cmd)
        return access("/bin/sh", X_OK) == 0;
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    pthread_mutex_lock(&system_lock);
    if (system_refs++ == 0) {
        sigaction(SIGINT, &ign, &system_intr);
        sigaction(SIGQUIT, &ign, &system_quit);
    }
    intr = system_intr;
    quit = system_quit;
    pthread_mutex_unlock(&system_lock);
    sigaddset(&ign.sa_mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &ign.sa_mask, &omask);
    sigemptyset(&reset);
    if (intr.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGINT);
    if (quit.sa_handler != SIG_IGN)
        sigaddset(&reset, SIGQUIT);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &omask);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ) == 0) {
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) {
                status = -1;
                break;
            }
        }
    } else {
        status = 127 << 8;
    }
    saved_errno = errno;
    posix_spawnattr_destroy(&attr);
    pthread_mutex_lock(&system_lock);
    if (--system_refs == 0) {
        sigaction(SIGINT, &system_intr, NULL);
        sigaction(SIGQUIT, &system_quit, NULL);
    }
    pthread_mutex_unlock(&system_lock);
    sigprocmask(SIG_SETMASK, &omask, NULL);
    errno = saved_errno;
    return status;
}

/* popen(3): glibc's, with environ holding the child's variables while it
 * spawns (popen returns once the child is started). */
static pthread_mutex_t popen_lock = PTHREAD_MUTEX_INITIALIZER;

EXPORT FILE *popen(const char *cmd, const char *mode)
{
    FILE *f;
    char **program_env;

    if (!real_popen)
        resolve();
    if (!follow(0))
        return real_popen(cmd, mode);
    pthread_mutex_lock(&popen_lock);
    program_env = environ;
    {
        CHILD_ENV(e, program_env, 0);
        environ = (char **)e;
        f = real_popen(cmd, mode);
        environ = program_env;
    }
    pthread_mutex_unlock(&popen_lock);
    return f;
}
