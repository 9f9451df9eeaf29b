/*
 * record.c - `heapline record`: run a program under the collector, headless.
 *
 * heapline only sets the environment and waits; the collector inside the
 * program writes the file. While waiting, SIGINT and SIGQUIT are ignored
 * here (as system(3) does), so ^C reaches the program and we still report
 * how it ended.
 */
#include "record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "launch.h"
#include "recfile.h"

static volatile sig_atomic_t child_pid;

/* The program named in a recording's HELLO, into exe (basename; "?" when
 * the file does not start with one). */
static void recorded_exe(const char *path, char *exe, size_t cap)
{
    struct recfile_reader r;
    struct decode d;
    struct wire_msg m;
    char buf[4096];
    ssize_t n;

    snprintf(exe, cap, "?");
    if (recfile_open(&r, path) != 0)
        return;
    decode_init(&d);
    while ((n = recfile_read(&r, buf, sizeof(buf))) > 0 && decode_feed(&d, buf, (size_t)n) == 0) {
        int k = decode_next(&d, &m);

        if (k == WIRE_ENEEDMORE)
            continue;
        if (k == 1 && m.type == WIRE_HELLO) {
            const char *p = m.u.hello.exe.ptr, *slash;
            size_t len = m.u.hello.exe.len;

            slash = p ? memrchr(p, '/', len) : NULL;
            if (slash) {
                len -= (size_t)(slash + 1 - p);
                p = slash + 1;
            }
            if (p)
                snprintf(exe, cap, "%.*s", (int)len, p);
        }
        break;
    }
    decode_free(&d);
    recfile_close(&r);
}

/* Says where the recordings of the program's fork children went: the
 * collector writes each to FILE.<pid> (HEAPLINE_FORK=off: none), and a user
 * who recorded `gcc` wants cc1's. Lists those written since start. */
static void say_children(const char *abs_out, const char *out, time_t start)
{
    const char *slash = strrchr(abs_out, '/'), *base = slash + 1;
    char dir[PATH_MAX], path[2 * PATH_MAX + 2], exe[64], list[600] = "";
    size_t blen = strlen(base), used = 0;
    unsigned count = 0;
    struct dirent *e;
    struct stat sb;
    DIR *dp;

    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - abs_out), abs_out);
    if (!(dp = opendir(dir[0] ? dir : "/")))
        return;
    while ((e = readdir(dp))) {
        const char *pid = e->d_name + blen + 1;

        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' || !*pid ||
            strspn(pid, "0123456789") != strlen(pid))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        /* lstat: a planted link or FIFO is not one of ours (and would hang) */
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_mtime < start)
            continue;
        if (count++ < 4) {
            recorded_exe(path, exe, sizeof(exe));
            used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
                                     "%s %s.%s (%s)", count > 1 ? "," : "", out, pid, exe);
        }
    }
    closedir(dp);
    if (count)
        fprintf(stderr, "heapline: %u child process%s recorded too:%s%s\n", count,
                count == 1 ? "" : "es", list, count > 4 ? ", ..." : "");
}

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
    time_t start = time(NULL);
    int st = 0, rc, out_fd;

    out_fd = record_prepare(out, abs_out, sizeof(abs_out), err, sizeof(err));
    if (out_fd < 0) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    rc = run_recorded(abs_out, argv, &st);
    if (recfile_remove_if_empty(out_fd, abs_out) && rc == 0)
        fprintf(stderr,
                "heapline: %s: no recording was written (the program never loaded "
                "the collector: a static binary, or setuid?)\n",
                out);
    if (rc)
        return rc;
    say_children(abs_out, out, start);
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
