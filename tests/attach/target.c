/*
 * target.c - programs for tests/attach/run.sh to attach to. Every mode lets
 * any process trace it (Yama's ptrace_scope 1 on CI), prints "ready PID"
 * and then:
 *
 *   target cmd       64 blocks of 100 bytes at pre_site(), then commands
 *                    on stdin, each answered on stdout: "leak N SIZE" (N
 *                    blocks at leak_site(), kept), "free-old N" (frees
 *                    the next N of the 64), "fork" (a child that forks a
 *                    grandchild, both waited for), "chain" (prints "chain A
 *                    D": the global pre_chain holds block A, allocated
 *                    before any attach, whose first word holds block B =
 *                    A + D; B itself is never printed, so no stale word of
 *                    printf's on the stack holds it), "stuck LIB" (a
 *                    thread that stays inside dlopen() of LIB, as target
 *                    loader's), "exec" (runs target cmd anew: execve, the
 *                    same pid, a new address space), "vfork MS" (waits
 *                    in vfork() while the child sleeps MS ms), "quit"
 *   target seccomp   cmd, after a seccomp filter that fails memfd_create
 *                    with EPERM
 *   target nodump    cmd, after prctl(PR_SET_DUMPABLE, 0)
 *   target loader    cmd, while a thread is inside dlopen() of STUCK_LIB
 *                    (argv[2]), whose constructor never returns
 *   target deep      cmd, run by the only thread with its stack used up to
 *                    DEEP_LEFT bytes short of RLIMIT_STACK (run it under a
 *                    small ulimit -s): no room below it for dlopen's frames
 *   target spin      computes forever, never allocates, never sleeps
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

static void *old[64];
static int n_freed;
static void *volatile kept[100000];
static int n_kept;
static void *volatile pre_chain; /* -> A (48 bytes) -> B (200 bytes) */

__attribute__((noinline)) static void *pre_site(size_t n)
{
    void *p = malloc(n);

    memset(p, 7, n);
    return p;
}

__attribute__((noinline)) static void *leak_site(size_t n)
{
    void *p = malloc(n);

    memset(p, 9, n);
    return p;
}

static void deny_memfd(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        perror("seccomp"), exit(1);
}

static void *stuck(void *lib)
{
    dlopen(lib, RTLD_NOW);
    return NULL;
}

static int commands(void)
{
    char line[128];

    for (int i = 0; i < 64; i++)
        old[i] = pre_site(100);
    pre_chain = pre_site(48);
    *(void **)pre_chain = pre_site(200);
    printf("ready %d\n", (int)getpid());
    while (fgets(line, sizeof(line), stdin)) {
        unsigned long n, size;

        if (sscanf(line, "leak %lu %lu", &n, &size) == 2) {
            for (unsigned long i = 0; i < n && n_kept < 100000; i++)
                kept[n_kept++] = leak_site(size);
            printf("leaked %lu\n", n);
        } else if (sscanf(line, "vfork %lu", &n) == 1) {
            /* the thread waits in vfork() while the child sleeps n ms: a
             * killable sleep, which no ptrace interrupt ends */
            pid_t c = vfork();

            if (c == 0) {
                struct timespec ts = {(time_t)(n / 1000), (long)(n % 1000) * 1000000L};

                nanosleep(&ts, NULL);
                _exit(0);
            }
            waitpid(c, NULL, 0);
            printf("vforked\n");
        } else if (sscanf(line, "free-old %lu", &n) == 1) {
            for (unsigned long i = 0; i < n && n_freed < 64; i++) {
                free(old[n_freed]);
                old[n_freed++] = NULL;
            }
            printf("freed %lu\n", n);
        } else if (!strncmp(line, "fork", 4)) {
            pid_t c = fork();

            if (c == 0) {
                pid_t g = fork();

                if (g == 0)
                    _exit(0);
                waitpid(g, NULL, 0);
                _exit(0);
            }
            waitpid(c, NULL, 0);
            printf("forked\n");
        } else if (!strncmp(line, "chain", 5)) {
            printf("chain %p %td\n", pre_chain, (char *)*(void **)pre_chain - (char *)pre_chain);
        } else if (!strncmp(line, "stuck ", 6)) {
            static char lib[128];
            pthread_t t;

            snprintf(lib, sizeof(lib), "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
            pthread_create(&t, NULL, stuck, lib);
            usleep(100000); /* inside the constructor by now (it says so on stderr) */
            printf("stuck\n");
        } else if (!strncmp(line, "exec", 4)) {
            execl("/proc/self/exe", "target", "cmd", (char *)NULL);
            perror("exec");
        } else if (!strncmp(line, "quit", 4)) {
            printf("bye\n");
            return 0;
        }
    }
    return 0;
}

/* Recurses until about left bytes of the stack's limit remain, then runs
 * the commands there. */
#define DEEP_LEFT (24 << 10)
static __attribute__((noinline)) int deep(uintptr_t top, size_t limit)
{
    volatile char pad[1024];

    pad[0] = 0;
    if (top - (uintptr_t)pad + DEEP_LEFT + sizeof(pad) < limit)
        return deep(top, limit) + pad[0];
    return commands();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "cmd";
    pthread_t t;

    prctl(PR_SET_PTRACER, (unsigned long)-1, 0, 0, 0); /* PR_SET_PTRACER_ANY */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(mode, "spin")) {
        volatile unsigned long x = 0;

        printf("ready %d\n", (int)getpid());
        for (;;)
            x = x * 6364136223846793005ul + 1;
    }
    if (!strcmp(mode, "seccomp"))
        deny_memfd();
    if (!strcmp(mode, "nodump"))
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (!strcmp(mode, "deep")) {
        struct rlimit rl;
        unsigned long lo, hi, top = 0;
        char line[256];
        FILE *f = fopen("/proc/self/maps", "r");

        while (f && fgets(line, sizeof(line), f))
            if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
                top = hi; /* the limit counts from the stack's top */
        if (f)
            fclose(f);
        if (!top || getrlimit(RLIMIT_STACK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
            rl.rlim_cur > (64u << 20))
            return fprintf(stderr, "deep: run under a small ulimit -s\n"), 2;
        return deep(top, (size_t)rl.rlim_cur);
    }
    if (!strcmp(mode, "loader")) {
        pthread_create(&t, NULL, stuck, argv[2]);
        usleep(100000); /* inside the constructor by now (it says so on stderr) */
    }
    return commands();
}
