/*
 * launch.c - start a program under the collector.
 *
 * Between fork and exec the child only sets its environment and file
 * descriptors; it reports an exec failure's errno through a close-on-exec
 * pipe, which the parent reads to its end: end of file means the exec
 * happened.
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockpath.h"

/* In the child: environment and descriptors, then exec. Never returns. */
static void child_exec(const struct launch *l, const char *preload, int report_fd)
{
    int e;

    if (l->hold_signals) {
        sigaction(SIGINT, &l->old_int, NULL);
        sigaction(SIGQUIT, &l->old_quit, NULL);
    }
    if (l->log_fd >= 0) {
        int in = open("/dev/null", O_RDONLY);

        if (in >= 0)
            dup2(in, 0);
        dup2(l->log_fd, 1);
        dup2(l->log_fd, 2);
    }
    setenv("LD_PRELOAD", preload, 1);
    if (l->socket)
        setenv("HEAPLINE_SOCKET", l->socket, 1);
    unsetenv("HEAPLINE_OWNER_PID"); /* the program is a new owner, not a fork child */
    /* CPython: every object through malloc, so each is a block we see
     * (pymalloc serves small ones from its own arenas); a value the user
     * chose stays. HEAPLINE_PYTHONMALLOC says it is ours: the collector takes
     * it out of a program that is not CPython (env.c), so that one's
     * environment is as bare */
    if (!getenv("PYTHONMALLOC")) {
        setenv("PYTHONMALLOC", "malloc", 1);
        setenv("HEAPLINE_PYTHONMALLOC", "1", 1);
    }
    if (l->record)
        setenv("HEAPLINE_RECORD", l->record, 1);
    else
        unsetenv("HEAPLINE_RECORD");
    execvp(l->argv[0], l->argv);
    e = errno;
    if (write(report_fd, &e, sizeof(e)) < 0)
        _exit(127);
    _exit(127);
}

int launch_start(struct launch *l, char *err, size_t errsz)
{
    char lib[PATH_MAX], preload[2 * PATH_MAX + 2];
    const char *pre = getenv("LD_PRELOAD");
    struct sigaction ign = {.sa_handler = SIG_IGN};
    int exec_pipe[2], e;
    ssize_t n;

    l->pid = 0;
    l->exec_errno = 0;
    if (sockpath_lib(lib, sizeof(lib), err, errsz) != 0)
        return -1;
    if (pre && *pre)
        snprintf(preload, sizeof(preload), "%s:%s", lib, pre);
    else
        snprintf(preload, sizeof(preload), "%s", lib);
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return -1;
    }
    if (l->hold_signals) {
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &l->old_int);
        sigaction(SIGQUIT, &ign, &l->old_quit);
    }
    l->pid = fork();
    if (l->pid < 0) {
        snprintf(err, errsz, "fork: %s", strerror(errno));
        close(exec_pipe[0]);
        close(exec_pipe[1]);
        l->pid = 0;
        return -1;
    }
    if (l->pid == 0)
        child_exec(l, preload, exec_pipe[1]);
    close(exec_pipe[1]);
    do
        n = read(exec_pipe[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(exec_pipe[0]);
    if (n == (ssize_t)sizeof(e)) {
        while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        l->pid = 0;
        l->exec_errno = e;
        snprintf(err, errsz, "%s: %s", l->argv[0], strerror(e));
        return -1;
    }
    return 0;
}

void launch_release_signals(struct launch *l)
{
    if (!l->hold_signals)
        return;
    sigaction(SIGINT, &l->old_int, NULL);
    sigaction(SIGQUIT, &l->old_quit, NULL);
}
