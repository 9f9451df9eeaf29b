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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childrec.h"
#include "launch.h"
#include "recfile.h"

static volatile sig_atomic_t child_pid;

/* SIGTERM/SIGHUP to heapline go on to the program: we only wait for it. */
static void forward(int sig)
{
    if (child_pid > 0)
        kill((pid_t)child_pid, sig);
}

/* Runs argv with the collector recording into abs_out; *st gets its wait
 * status. Returns 0, or the exit status of a failure already said. */
static int run_recorded(const char *abs_out, char *const argv[], int *st)
{
    char err[PATH_MAX + 64];
    struct launch l = {.argv = argv, .record = abs_out, .log_fd = -1, .hold_signals = 1};

    if (launch_start(&l, err, sizeof(err)) != 0) {
        launch_release_signals(&l);
        fprintf(stderr, "heapline: %s\n", err);
        if (l.exec_errno)
            return l.exec_errno == ENOENT ? 127 : 126;
        return 1;
    }
    child_pid = l.pid;
    {
        struct sigaction fw = {.sa_handler = forward};
        sigemptyset(&fw.sa_mask);
        sigaction(SIGTERM, &fw, NULL);
        sigaction(SIGHUP, &fw, NULL);
    }
    while (waitpid(l.pid, st, 0) < 0) {
        if (errno != EINTR) {
            launch_release_signals(&l);
            fprintf(stderr, "heapline: waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    launch_release_signals(&l);
    return 0;
}

int record_prepare(const char *out, char *abs, size_t cap, char *err, size_t errsz)
{
    char cwd[PATH_MAX];
    const char *why;
    int fd;

    if (out[0] == '/') {
        snprintf(abs, cap, "%s", out);
    } else {
        if (!getcwd(cwd, sizeof(cwd))) {
            snprintf(err, errsz, "getcwd: %s", strerror(errno));
            return -1;
        }
        snprintf(abs, cap, "%s/%s", cwd, out);
    }
    /* Checked and emptied before the program starts, so a path that is
     * refused fails here with one line and a stale recording cannot pass for
     * this run's; the collector then opens it the same way. */
    fd = recfile_create_safe(abs, 0644, &why);
    if (fd < 0)
        snprintf(err, errsz, "%s: %s", out, why);
    return fd;
}

int record_main(const char *out, char *const argv[])
{
    char abs_out[2 * PATH_MAX + 2], err[PATH_MAX + 64];
    struct childrec children;
    int st = 0, rc, out_fd;

    out_fd = record_prepare(out, abs_out, sizeof(abs_out), err, sizeof(err));
    if (out_fd < 0) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    childrec_before(&children, abs_out); /* an earlier run's FILE.<pid>, to tell apart */
    rc = run_recorded(abs_out, argv, &st);
    if (recfile_remove_if_empty(out_fd, abs_out) && rc == 0)
        fprintf(stderr,
                "heapline: %s: no recording was written (the program never loaded "
                "the collector: a static binary, or setuid?)\n",
                out);
    if (rc == 0)
        childrec_say(&children, abs_out, out);
    childrec_free(&children);
    if (rc)
        return rc;
    if (WIFSIGNALED(st)) {
        /* the collector ends the file for the signals it catches (a crash);
         * for the others (Ctrl-C's SIGINT, SIGKILL) the file stops at its last
         * flush and `report` can only guess why: say it here */
        fprintf(stderr, "heapline: %s was killed by signal %d (%s); %s holds what was recorded\n",
                argv[0], WTERMSIG(st), strsignal(WTERMSIG(st)), out);
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}
