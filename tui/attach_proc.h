/*
 * attach_proc.h - what heapline attach reads of a program before it touches
 * it: its state and owner, its mappings (libc, the dynamic loader, our
 * library, the stacks), the addresses of the libc functions the injector
 * calls and of those a thread stopped at a safe point must not be inside;
 * and why ptrace refused it. Nothing here stops the program.
 */
#ifndef HEAPLINE_ATTACH_PROC_H
#define HEAPLINE_ATTACH_PROC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ATTACH_PROC_RANGES 64
#define ATTACH_PROC_DANGER 48
#define ATTACH_PROC_MEMFD "heapline" /* the memfd's name: "/memfd:heapline" in maps */
#define ATTACH_PROC_MAPS_NAME "/memfd:" ATTACH_PROC_MEMFD

/* libc functions the injector calls in the program, by index into fn[] */
enum { ATTACH_FN_MEMFD, ATTACH_FN_DLOPEN, ATTACH_FN_DLERROR, ATTACH_FN_CLOSE, ATTACH_FN_COUNT };

enum attach_where {
    ATTACH_SAFE = 0,     /* the program's own code, or libc away from any lock */
    ATTACH_IN_ALLOC = 1, /* the allocator, fork, pthread_create, dl*, our hooks */
    ATTACH_IN_LOADER = 2 /* the dynamic loader */
};

struct attach_range {
    uint64_t lo, hi;
};

struct attach_proc {
    pid_t pid;
    char libc[PATH_MAX]; /* its path in the program's root, and where it is mapped */
    uint64_t libc_bias;
    uint64_t lib_base;            /* where our library is mapped, 0 when not loaded */
    int preloaded;                /* a libheapline.so file is mapped: started under it */
    uint64_t fn[ATTACH_FN_COUNT]; /* in the program */
    struct attach_range loader[ATTACH_PROC_RANGES]; /* the dynamic loader's code */
    struct attach_range danger[ATTACH_PROC_DANGER]; /* libc's functions that hold locks */
    struct attach_range ours[ATTACH_PROC_RANGES];   /* our library's code (the hooks) */
    size_t n_loader, n_danger, n_ours;
    struct attach_range *maps; /* every mapping (the stacks' bounds) */
    size_t n_maps;
    struct attach_range main_stack; /* "[stack]": it grows down, up to stack_limit */
    uint64_t stack_limit;           /* RLIMIT_STACK's soft limit, 0 when none */
};

/* Reads pid: refuses (-1 with one line in err) a process that does not
 * exist or has ended, is stopped, is traced already, is another user's
 * (unless root) or not dumpable, runs a preloaded collector already, is
 * statically linked or not glibc (or not glibc >= 2.34), or runs a libc
 * replaced on disk. Release with
 * attach_proc_close() whatever it returns. */
int attach_proc_open(struct attach_proc *p, pid_t pid, char *err, size_t errsz);

/* Reads the mappings again (our library after a dlopen). 0 or -1 with err. */
int attach_proc_reread(struct attach_proc *p, char *err, size_t errsz);

/* Reads the mappings again and says whether pid runs another program than
 * the one p was read from (it called execve since: libc, the loader or our
 * library moved, so the addresses in p are not its own): 1 when it does, 0
 * when not, -1 with err (it has ended). */
int attach_proc_changed(struct attach_proc *p, char *err, size_t errsz);

/* Where an instruction address lies (a call site: a return address - 1). */
enum attach_where attach_proc_where(const struct attach_proc *p, uint64_t ip);

/* The end of the mapping that holds sp (a stack's top), 0 when unknown. */
uint64_t attach_proc_stack_end(const struct attach_proc *p, uint64_t sp);

/* Bytes of stack below sp a call may use: to the start of sp's mapping,
 * or for the main thread's stack, which the kernel grows on the thread's
 * own faults, to RLIMIT_STACK or the guard gap above the mapping below.
 * *mapped gets the part mapped now (what ptrace can write). 0 when sp is in
 * no mapping. */
uint64_t attach_proc_stack_room(const struct attach_proc *p, uint64_t sp, uint64_t *mapped);

/* The ids of pid's threads (up to cap) into tids: how many, -1 when pid is
 * gone. */
int attach_proc_threads(pid_t pid, pid_t *tids, int cap);

/* 1 while pid has a thread named "heapline" (the collector's), 0 when not,
 * -1 when pid is gone. */
int attach_proc_collector(pid_t pid);

/* 1 when thread tid of pid has ended or is ending (a zombie, or gone). */
int attach_proc_thread_ended(pid_t pid, pid_t tid);

/* 1 when tid may run our calls: not a collector's thread (named
 * "heapline"), and SIGSEGV neither blocked nor ignored (a call returns to
 * address 0, and that fault must reach us without changing the thread's
 * signal mask or dispositions). */
int attach_proc_callable(pid_t pid, pid_t tid);

/* The program's name, for messages ("?" when it cannot be read). */
void attach_proc_name(pid_t pid, char *buf, size_t cap);

/* Why ptrace refused the program (errno e), as the user can act on it:
 * Yama's ptrace_scope, another user, not dumpable, or heapline's own
 * seccomp filter or container. */
void attach_proc_refused(const struct attach_proc *p, int e, char *err, size_t errsz);

void attach_proc_close(struct attach_proc *p);

#endif
