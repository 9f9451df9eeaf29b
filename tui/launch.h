/*
 * launch.h - start a program under the collector: the one launcher of `run`
 * and `record`.
 *
 * The child gets libheapline.so first in LD_PRELOAD (before what the user
 * preloads), HEAPLINE_RECORD and HEAPLINE_SOCKET as asked, and is a new
 * owner of its outputs (HEAPLINE_OWNER_PID removed: it is not a fork child of
 * a tracked program). An exec failure is known before launch_start()
 * returns (posix_spawn's result), so the caller never mistakes a program
 * that could not start for one that ran and recorded nothing.
 */
#ifndef HEAPLINE_LAUNCH_H
#define HEAPLINE_LAUNCH_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

struct launch {
    /* in */
    char *const *argv;  /* the program and its arguments (execvp: PATH is searched) */
    const char *record; /* HEAPLINE_RECORD, an absolute path; NULL: unset in the child */
    const char *socket; /* HEAPLINE_SOCKET; NULL: left as the environment has it */
    int log_fd;         /* >= 0: stdout and stderr go to this descriptor and stdin is
                         * /dev/null; -1: the child shares heapline's terminal */
    int hold_signals;   /* 1: SIGINT and SIGQUIT are ignored here while the child runs,
                         * as system(3) does, so ^C reaches the program only */
    /* out */
    pid_t pid;
    int exec_errno; /* launch_start() failed because exec failed with this errno */
    struct sigaction old_int, old_quit;
};

/* Starts l->argv (PATH searched; a file of no executable format run by
 * /bin/sh, as execvp does). Returns 0 with l->pid set, or -1 with a one-line
 * message in err ("cannot find libheapline.so (set HEAPLINE_LIB)", "prog:
 * No such file or directory"); when exec failed, l->exec_errno is its errno
 * and no child is left. With hold_signals the dispositions stay changed
 * until launch_release_signals(), also after a failure. Not thread-safe
 * (signal dispositions). */
int launch_start(struct launch *l, char *err, size_t errsz);

/* Puts back the SIGINT and SIGQUIT dispositions launch_start() changed (a
 * no-op without hold_signals). */
void launch_release_signals(struct launch *l);

#endif
