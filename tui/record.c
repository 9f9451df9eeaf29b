/*
 * record.c - `heapline record`: run a program under the collector, headless.
 *
 * heapline only sets the environment and waits; the collector inside the
 * program writes the file. While waiting, SIGINT and SIGQUIT are ignored
 * here (as system(3) does), so ^C reaches the program and we still report
 * how it ended.
 */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockpath.h"

static volatile sig_atomic_t child_pid;

/* SIGTERM/SIGHUP to heapline go on to the program: we only wait for it. */
static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

int record_main(const char *out, char *const argv[])
{
    char lib[PATH_MAX], err[PATH_MAX + 64], abs_out[2 * PATH_MAX + 2], cwd[PATH_MAX];
    char preload[2 * PATH_MAX + 2];
    const char *pre = getenv("LD_PRELOAD");
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
    int exec_pipe[2], st, e;
    struct stat sb;
    pid_t pid;
    ssize_t n;

    if (sockpath_lib(lib, sizeof(lib), err, sizeof(err)) != 0) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    if (out[0] == '/') {
        snprintf(abs_out, sizeof(abs_out), "%s", out);
    } else {
        if (!getcwd(cwd, sizeof(cwd))) {
            fprintf(stderr, "heapline: getcwd: %s\n", strerror(errno));
            return 1;
        }
        snprintf(abs_out, sizeof(abs_out), "%s/%s", cwd, out);
    }
    /* a stale file would hide a recording that never started */
    {
        int fd = open(abs_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "heapline: %s: %s\n", out, strerror(errno));
            return 1;
        }
        close(fd);
        unlink(abs_out);
    }
    if (pre && *pre)
        snprintf(preload, sizeof(preload), "%s:%s", lib, pre);
    else
        snprintf(preload, sizeof(preload), "%s", lib);
    if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
        fprintf(stderr, "heapline: pipe: %s\n", strerror(errno));
        return 1;
    }
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGQUIT, &ign, &old_quit);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "heapline: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        setenv("LD_PRELOAD", preload, 1);
        setenv("HEAPLINE_RECORD", abs_out, 1);
        unsetenv("HEAPLINE_OWNER_PID"); /* the program is a new owner, not a fork child */
        execvp(argv[0], argv);
        e = errno;
        if (write(exec_pipe[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    close(exec_pipe[1]);
    child_pid = pid;
    {
        struct sigaction fw = {.sa_handler = forward};
        sigemptyset(&fw.sa_mask);
        sigaction(SIGTERM, &fw, NULL);
        sigaction(SIGHUP, &fw, NULL);
    }
    do
        n = read(exec_pipe[0], &e, sizeof(e));
    while (n < 0 && errno == EINTR);
    close(exec_pipe[0]);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "heapline: waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (n == (ssize_t)sizeof(e)) {
        fprintf(stderr, "heapline: %s: %s\n", argv[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }
    if (stat(abs_out, &sb) != 0)
        fprintf(stderr, "heapline: %s: no recording was written (the program never loaded "
                        "the collector: a static binary, or setuid?)\n", out);
    else if (sb.st_size == 0)
        fprintf(stderr, "heapline: %s: the recording is empty\n", out);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}
