/*
 * attach.h - load the collector into a running program, and stop it again,
 * without gdb: a small ptrace injector (x86-64, glibc >= 2.34).
 *
 * One thread of the program is stopped at a safe point (neither its
 * instruction pointer nor any return address on its stack lies in the
 * allocator, fork, pthread_create, the dl* functions, the collector's hooks
 * or the dynamic loader) while every other thread runs on, so a lock another
 * thread holds is released as usual. That thread then calls, in order, the
 * program's own memfd_create, dlopen("/proc/self/fd/N") of the library
 * copied into the memfd (so neither the path nor the user matters), close,
 * and heapline_attach(options); then its registers are put back and it is
 * let go. The other threads are each stopped for a few microseconds to read
 * their stacks: while one of them is inside the dynamic loader, nothing is
 * called (dlopen would wait on its lock), and the attach waits for it.
 *
 * The program is never left stopped: every exit path puts back the
 * registers and detaches. The library is never unloaded: a detach ends the
 * run and leaves the hooks passing every call through.
 */
#ifndef HEAPLINE_ATTACH_H
#define HEAPLINE_ATTACH_H

#include <signal.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

struct attach_options {
    pid_t pid;
    const char *socket;                 /* the collector's socket path, NULL for none */
    const char *record;                 /* an absolute record file path, NULL for none */
    int timeout_ms;                     /* for a safe point, and for each call; 0: 3000 */
    uint64_t sample;                    /* sampling mode's mean bytes per sample; 0: exact */
    volatile sig_atomic_t *interrupted; /* set by the caller's SIGINT handler */
};

struct attach_stats {
    int threads;             /* threads of the program seen */
    int rounds;              /* passes over the threads until one was safe */
    double longest_stop;     /* ms: the longest any thread of the program was stopped */
    double total;            /* ms: from the first ptrace call to the last detach */
    double load, start;      /* ms: of those, the chosen thread's dlopen, and its
                              * heapline_attach (or heapline_detach) */
    int loaded;              /* the library was loaded by this call (else reused) */
    long long unknown_frees; /* attach_stop: frees of blocks allocated before the
                              * attach, ignored by the run */
};

/* 1 when the collector library was loaded into pid by heapline attach (it
 * maps "/memfd:heapline"), 0 when not, -1 when pid's maps cannot be read. */
int attach_loaded(pid_t pid);

/* Loads the collector into o->pid if it is not there yet and starts a run
 * with o's outputs. Returns 0, or -1 with one line in err: the process does
 * not exist or has ended, is stopped (SIGSTOP: nothing was done), is
 * statically linked or not glibc, ptrace refused (and why: Yama, another
 * user, not dumpable, a seccomp filter here), memfd_create or dlopen failed
 * in the program, no thread reached a safe point within the timeout,
 * interrupted (*o->interrupted set: whatever was loaded stays, idle). st
 * (may be NULL) gets the figures. Blocks up to about twice o->timeout_ms. */
int attach_start(const struct attach_options *o, struct attach_stats *st, char *err, size_t errsz);

/* Ends the attached run in pid (heapline_detach: its recording gets its
 * end) and leaves the collector idle; st->unknown_frees gets the run's
 * count of ignored frees. Returns 0 or -1 with one line in err. */
int attach_stop(pid_t pid, int timeout_ms, volatile sig_atomic_t *interrupted,
                struct attach_stats *st, char *err, size_t errsz);

#endif
