/*
 * attach_cmd.c - attach, record --pid and backrefs on a program that runs
 * without a collector (attach_cmd.h), over the injector of attach.h.
 *
 * Ctrl-C and SIGTERM during an attach set a flag the injector polls (no
 * SA_RESTART), so the program is always let go before heapline exits.
 */
#include "attach_cmd.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "load.h"
#include "model.h"
#include "record.h"
#include "recfile.h"
#include "sockpath.h"

static volatile sig_atomic_t attach_signal;

static void on_signal(int sig)
{
    attach_signal = sig;
}

struct held {
    struct sigaction old_int, old_term;
};

static void hold_signals(struct held *h)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART */

    sigemptyset(&sa.sa_mask);
    attach_signal = 0;
    sigaction(SIGINT, &sa, &h->old_int);
    sigaction(SIGTERM, &sa, &h->old_term);
}

static void release_signals(const struct held *h)
{
    sigaction(SIGINT, &h->old_int, NULL);
    sigaction(SIGTERM, &h->old_term, NULL);
}

static int timeout_ms(void)
{
    const char *v = getenv("HEAPLINE_ATTACH_TIMEOUT_MS");
    int t = v ? atoi(v) : 0;

    return t > 0 ? t : 3000;
}

static void stats_line(const char *what, pid_t pid, const struct attach_stats *st)
{
    if (!getenv("HEAPLINE_ATTACH_STATS"))
        return;
    fprintf(stderr,
            "heapline: %s pid %d: %d threads, %d passes, longest stop %.3f ms, total %.3f ms "
            "(load %.3f ms, start %.3f ms)%s\n",
            what, (int)pid, st->threads, st->rounds, st->longest_stop, st->total, st->load,
            st->start, st->loaded ? ", library loaded" : "");
}

static int parse_pid(const char *s, pid_t *pid)
{
    char *end;
    long v;

    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
        return -1;
    v = strtol(s, &end, 10);
    if (v <= 0 || v > 0x7fffffff)
        return -1;
    *pid = (pid_t)v;
    return 0;
}

/* Sampling by default: a program that runs in production pays one byte
 * counter and a branch for most calls (attach_cmd_set_sample). */
static uint64_t sample_rate = ATTACH_CMD_SAMPLE_DEFAULT;

void attach_cmd_set_sample(uint64_t rate)
{
    sample_rate = rate;
}

static int attach_with(pid_t pid, const char *socket, const char *record, char *err, size_t errsz)
{
    struct attach_options o = {.pid = pid,
                               .socket = socket,
                               .record = record,
                               .timeout_ms = timeout_ms(),
                               .sample = sample_rate,
                               .interrupted = &attach_signal};
    struct attach_stats st;
    struct held h;
    int rc;

    hold_signals(&h);
    rc = attach_start(&o, &st, err, errsz);
    release_signals(&h);
    if (rc == 0)
        stats_line("attached to", pid, &st);
    return rc;
}

static pid_t attached; /* by attach_cmd_connect() */

/* The socket the collector attached to pid listens on, where `heapline
 * attach` and `backrefs` look for it. Returns 0, or -1 with err. */
static int socket_of(pid_t pid, char *sock, size_t n, char *err, size_t errsz)
{
    char dir[PATH_MAX];
    /* root attaching to another user's program: a directory that user's
     * collector may bind in */
    int other = sockpath_dir_of(pid, dir, sizeof(dir), 1, err, errsz);

    if (other < 0 || (other == 0 && sockpath_dir(dir, sizeof(dir), 1, err, errsz) != 0))
        return -1;
    if (snprintf(sock, n, "%s/%d.sock", dir, (int)pid) >= 108) {
        snprintf(err, errsz, "%s: socket path too long", dir);
        return -1;
    }
    return 0;
}

int attach_cmd_connect(const char *target, char *err, size_t errsz)
{
    char sock[PATH_MAX];
    pid_t pid;

    if (parse_pid(target, &pid) != 0) {
        snprintf(err, errsz, "bad pid: %s", target);
        return -1;
    }
    if (socket_of(pid, sock, sizeof(sock), err, errsz) != 0)
        return -1;
    if (attach_with(pid, sock, NULL, err, errsz) != 0)
        return -1;
    attached = pid;
    return 0;
}

static int detach(pid_t pid, int quiet)
{
    struct attach_stats st;
    char err[1024];
    struct held h;
    int rc;

    hold_signals(&h);
    rc = attach_stop(pid, timeout_ms(), NULL, &st, err, sizeof(err));
    release_signals(&h);
    if (rc != 0) {
        if (kill(pid, 0) == 0) /* an ended program needs no detach */
            fprintf(stderr, "heapline: detach: %s\n", err);
        return -1;
    }
    stats_line("detached from", pid, &st);
    if (!quiet && st.unknown_frees > 0)
        fprintf(stderr,
                "heapline: detached from pid %d; %lld frees of blocks allocated before the "
                "attach were ignored\n",
                (int)pid, st.unknown_frees);
    return 0;
}

/* Another heapline of this build (not us) whose command is attach, record
 * or backrefs on pid: its pid, else 0; *recording says it is a record. Its
 * session would end with a detach of ours. */
static pid_t other_heapline(pid_t pid, int *recording)
{
    char self[PATH_MAX], exe[PATH_MAX], path[64], args[4096], want[16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    struct dirent *e;
    pid_t found = 0;
    DIR *d;

    if (n <= 0 || !(d = opendir("/proc")))
        return 0;
    self[n] = 0;
    snprintf(want, sizeof(want), "%d", (int)pid);
    while (!found && (e = readdir(d))) {
        long q = strtol(e->d_name, NULL, 10);
        FILE *f;

        if (q <= 0 || q == (long)getpid())
            continue;
        snprintf(path, sizeof(path), "/proc/%ld/exe", q);
        if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
            continue;
        exe[n] = 0;
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", q);
        if (strcmp(exe, self) != 0 || !(f = fopen(path, "re")))
            continue;
        n = (ssize_t)fread(args, 1, sizeof(args) - 1, f);
        fclose(f);
        args[n > 0 ? n : 0] = 0;
        /* argv[0] NUL argv[1] NUL ...: the command, then its pid argument */
        const char *cmd = args + strlen(args) + 1, *end = args + (n > 0 ? n : 0);
        if (cmd >= end ||
            (strcmp(cmd, "attach") && strcmp(cmd, "record") && strcmp(cmd, "backrefs")))
            continue;
        /* record's pid follows --pid (`record -o F -- sleep PID` runs a program) */
        int rec = !strcmp(cmd, "record");
        const char *prev = cmd;
        for (const char *a = cmd + strlen(cmd) + 1; a < end; prev = a, a += strlen(a) + 1)
            if (!strcmp(a, want) && (!rec || !strcmp(prev, "--pid"))) {
                found = (pid_t)q;
                *recording = rec;
            }
    }
    closedir(d);
    return found;
}

int attach_cmd_detaches(const char *target)
{
    pid_t pid;

    return parse_pid(target, &pid) == 0 && (pid == attached || attach_loaded(pid) == 1);
}

void attach_cmd_finish(const char *target, int also_loaded)
{
    pid_t pid, other;
    int recording = 0;

    if (parse_pid(target, &pid) != 0)
        return;
    if (pid == attached || (also_loaded && attach_loaded(pid) == 1)) {
        /* two terminals on one program: the last one out detaches */
        if ((other = other_heapline(pid, &recording)) > 0)
            fprintf(stderr, "heapline: pid %d stays attached for heapline pid %d (%s)\n", (int)pid,
                    (int)other, recording ? "it records: its end detaches" : "q there detaches");
        else
            detach(pid, 0);
    }
    attached = 0;
}

int attach_cmd_record(pid_t pid, const char *out, double seconds)
{
    char abs_out[2 * PATH_MAX + 2], err[PATH_MAX + 256], sock[PATH_MAX], why[512], pidstr[16];
    struct timespec start, nap = {0, 20000000};
    const struct model_summary *sum;
    struct model *m;
    struct held h;
    int fd, ended = 0;
    double took;

    snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
    if (kill(pid, 0) != 0 && errno == ESRCH) {
        fprintf(stderr, "heapline: no process with pid %d\n", (int)pid);
        return 1;
    }
    if (sockpath_resolve(pidstr, sock, sizeof(sock), why, sizeof(why)) == 0) {
        fprintf(stderr,
                "heapline: pid %d already runs a collector: record it with heapline attach %d -o "
                "%s\n",
                (int)pid, (int)pid, out);
        return 1;
    }
    fd = record_prepare(out, abs_out, sizeof(abs_out), err, sizeof(err));
    if (fd < 0) {
        fprintf(stderr, "heapline: %s\n", err);
        return 1;
    }
    /* root recording another user's program: its collector opens the file
     * as that user, and writes only a file of its own */
    long uid, gid;
    int other = sockpath_other_user(pid, &uid, &gid);
    if (other && fchown(fd, (uid_t)uid, (gid_t)gid) != 0) {
        recfile_remove_if_empty(fd, abs_out);
        fprintf(stderr, "heapline: %s: cannot give it to uid %ld, whose pid %d writes it: %s\n",
                out, uid, (int)pid, strerror(errno));
        return 1;
    }
    /* it listens too: `heapline backrefs PID` and `heapline attach PID` use
     * this run's collector while it records (the end of the record detaches) */
    if (socket_of(pid, sock, sizeof(sock), err, sizeof(err)) != 0 ||
        attach_with(pid, sock, abs_out, err, sizeof(err)) != 0) {
        recfile_remove_if_empty(fd, abs_out);
        fprintf(stderr, "heapline: %s%s\n", err,
                other && strstr(err, "cannot create the record file")
                    ? " (the program writes it as its own user: -o a path that user can write)"
                    : "");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    hold_signals(&h);
    for (;;) {
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        took = (double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (attach_signal || (seconds > 0 && took >= seconds))
            break;
        if (kill(pid, 0) != 0 || attach_loaded(pid) != 1) {
            ended = 1; /* the collector ended the recording at exit */
            break;
        }
        nanosleep(&nap, NULL);
    }
    release_signals(&h);
    if (!ended)
        detach(pid, 0);
    close(fd);
    /* the totals and notes from the ticks: a busy program's 30M events took
     * 22 s to read whole (load 17), after a record of 3 s */
    m = load_recording(abs_out, LOAD_TOTALS, stderr, NULL);
    if (!m)
        return 1;
    sum = model_summary(m);
    if (sum->allocations == 0)
        fprintf(stderr, "heapline: pid %d made no allocation in the %.1f s recorded%s (%s)\n",
                (int)pid, took, ended ? " (until it ended)" : "", out);
    else
        fprintf(stderr,
                "heapline: recorded pid %d for %.1f s%s: %llu allocations, %llu frees "
                "into %s\n",
                (int)pid, took, ended ? " (until it ended)" : "",
                (unsigned long long)sum->allocations, (unsigned long long)sum->frees, out);
    /* what the collector would have written to the program's stderr */
    for (uint32_t i = 0; i < sum->n_notes && i < MODEL_NOTES; i++)
        fprintf(stderr, "heapline: pid %d: %s\n", (int)pid, sum->notes[i]);
    model_free(m);
    return 0;
}
