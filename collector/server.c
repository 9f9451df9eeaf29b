/*
 * server.c - the live socket: its private directory, the 0600 socket, the
 * peer uid check, and the collector's look at it each turn.
 *
 * Invariant: nothing here makes the program wait on a client. Every socket
 * is non-blocking; the clients and what they may hold are clients.c's, their
 * requests requests.c's (work bounded per turn, scans in forked children);
 * see README's "What a client can cost the program". Only clients of our
 * own uid, or root (who could ptrace us anyway: `sudo heapline attach` of a
 * service's pid), are served (SO_PEERCRED).
 */
#include "server.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clients.h"
#include "core.h"
#include "defstore.h"
#include "drain.h"
#include "fdid.h"
#include "fds.h"
#include "requests.h"
#include "sockdir.h"

#define SERVER_BACKLOG 128
#define SERVER_POLL_NS 1000000 /* a busy collector looks at its clients this often */

static int listen_fd = -1;
static struct fdid listen_id;
static char sock_path[108];
static int64_t last_poll;

static char sock_dir_override[108]; /* HEAPLINE_SOCKET_DIR, read at start-up */

void server_set_dir(const char *dir)
{
    snprintf(sock_dir_override, sizeof(sock_dir_override), "%s", dir && *dir ? dir : "");
}

int server_dir_candidate(int i, char *buf, size_t cap)
{
    return sockdir_candidate(i, sock_dir_override, buf, cap);
}

int server_default_path(char *buf, size_t cap)
{
    char dir[108], first[108] = "";
    int n;

    /* the first usable candidate (sockdir.h), created when missing; when
     * none is usable, the first one, so that server_open() says why */
    for (int i = 0; i < SOCKDIR_CANDIDATES; i++) {
        if (server_dir_candidate(i, dir, sizeof(dir)) != 1)
            continue;
        if (!first[0])
            memcpy(first, dir, sizeof(dir));
        if (sockdir_check(dir, sockdir_create_mode(i)) == 0) {
            memcpy(first, dir, sizeof(dir));
            break;
        }
    }
    if (!first[0])
        return -1;
    n = snprintf(buf, cap, "%s/%d.sock", first, (int)getpid());
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The directory must be ours, a real directory, and closed to others. */
static int check_dir(const char *dir, const char **why)
{
    static char msg[160];
    int r = sockdir_check(dir, SOCKDIR_MKDIR);

    if (r == 0)
        return 0;
    snprintf(msg, sizeof(msg), "socket directory %s: %s", dir, sockdir_strerror(r));
    *why = msg;
    return -1;
}

/* 1 when nobody listens on the socket at path (connect is refused): a pid
 * of another pid namespace may share the directory and still be alive. */
static int refuses(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, r;

    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, path);
    fd = fds_adopt(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd < 0)
        return 0;
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == ECONNREFUSED;
    fds_close(fd);
    return r;
}

/* Sockets left by processes that died without cleaning up (SIGKILL, _exit,
 * exec of a program without the collector) in our private directory. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        char path[300];

        if (pid <= 0 || strcmp(end, ".sock") != 0)
            continue;
        if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (refuses(path))
                unlink(path);
        }
    }
    closedir(d);
}

int server_open(const char *path, int check, const char **why)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);

    if (n >= sizeof(sa.sun_path)) {
        *why = "socket path too long";
        return -1;
    }
    if (check) {
        char dir[108];
        char *slash;

        memcpy(dir, path, n + 1);
        slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            if (check_dir(dir, why) < 0)
                return -1;
            remove_stale(dir);
        }
    }
    listen_fd = fds_adopt(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (listen_fd < 0) {
        *why = "cannot create a socket";
        return -1;
    }
    memcpy(sa.sun_path, path, n + 1);
    unlink(path); /* a stale socket of an earlier image of this pid (exec) */
    if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
        listen(listen_fd, SERVER_BACKLOG) < 0) {
        *why = "cannot bind the socket";
        fds_close(listen_fd);
        listen_fd = -1;
        return -1;
    }
    memcpy(sock_path, path, n + 1);
    fdid_take(listen_fd, &listen_id);
    requests_init();
    clients_n = 0;
    return 0;
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (fd < 0)
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != getuid() && cred.uid != 0)) {
            close(fd);
            continue;
        }
        clients_add(fd);
    }
}

void server_broadcast(const char *data, size_t n, uint32_t n_events)
{
    clients_broadcast(data, n, n_events);
}

void server_tick(void)
{
    clients_tick();
}

int server_pending(void)
{
    struct pollfd p = {listen_fd, POLLIN, 0};

    return listen_fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

void server_poll(int timeout_ms, int wake_fd)
{
    struct pollfd pfd[2 + 2 * SERVER_MAX_CLIENTS];
    int who[2 + 2 * SERVER_MAX_CLIENTS], what[2 + 2 * SERVER_MAX_CLIENTS];
    int n = 0;

    if (listen_fd < 0)
        return;
    /* a busy collector turns every few microseconds: look at the clients
     * once a millisecond at most (with 60 of them a poll of every socket
     * on each turn took a third of the collector's time) */
    int64_t now = core_now();
    if (timeout_ms == 0 && !requests_busy() && now - last_poll < SERVER_POLL_NS)
        return;
    last_poll = now;
    if (requests_busy())
        timeout_ms = 0;
    pfd[n] = (struct pollfd){listen_fd, POLLIN, 0};
    who[n] = -1;
    what[n++] = 0;
    pfd[n] = (struct pollfd){wake_fd, POLLIN, 0}; /* fd -1 is ignored by poll */
    who[n] = -1;
    what[n++] = 2;
    for (int i = 0; i < clients_n; i++) {
        struct client *c = clients_list[i];
        short ev =
            (short)((requests_can_take(c) ? POLLIN : 0) | (clients_pending(c) ? POLLOUT : 0));

        pfd[n] = (struct pollfd){c->fd, ev, 0};
        who[n] = i;
        what[n++] = 0;
        if (c->scan) {
            pfd[n] = (struct pollfd){requests_scan_fd(c), POLLIN, 0};
            who[n] = i;
            what[n++] = 1;
        }
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) < 0)
        return;
    /* handle clients from the last so that drops (which move the last
     * client into the hole) do not disturb indexes still to visit */
    if (pfd[1].revents & POLLIN) {
        uint64_t v;

        (void)!read(wake_fd, &v, sizeof(v));
    }
    for (int k = n - 1; k >= 2; k--) {
        int i = who[k];

        if (!pfd[k].revents || i >= clients_n)
            continue;
        if (what[k] == 1) {
            if (clients_list[i]->scan)
                requests_scan_done(i);
            continue;
        }
        if (pfd[k].revents & (POLLERR | POLLNVAL)) {
            clients_drop(i);
            continue;
        }
        if (pfd[k].revents & POLLHUP) {
            clients_drop(i); /* gone: nothing it asked for can reach it */
            continue;
        }
        if (pfd[k].revents & POLLIN) {
            int before = clients_n;

            requests_read(i);
            if (clients_n != before)
                continue;
        }
        if (pfd[k].revents & POLLOUT)
            clients_write(i);
    }
    if ((pfd[0].revents & POLLIN) && fdid_same(listen_fd, &listen_id))
        accept_clients();
    requests_work();
    clients_note_held();
}

void server_close(int timeout_ms)
{
    if (core_cfg.stats) {
        char msg[120];

        snprintf(msg, sizeof(msg), "stats: clients held at most %zu bytes", clients_held_peak());
        core_say_stderr(msg);
        snprintf(msg, sizeof(msg), "stats: request work took at most %lld us of CPU in one turn",
                 (long long)(requests_longest_ns() / 1000));
        core_say_stderr(msg);
        snprintf(msg, sizeof(msg), "stats: events waiting to be applied held at most %zu bytes",
                 drain_buffers_peak());
        core_say_stderr(msg);
        snprintf(msg, sizeof(msg), "stats: definitions for later clients: %zu bytes kept in %zu",
                 defstore_len(), defstore_bytes());
        core_say_stderr(msg);
    }
    for (int t = 0; t < timeout_ms && clients_n; t += 10) {
        int pending = 0;

        for (int i = clients_n - 1; i >= 0; i--) {
            clients_write(i);
            if (i < clients_n && clients_pending(clients_list[i]))
                pending = 1;
        }
        if (!pending)
            break;
        struct pollfd pfd[SERVER_MAX_CLIENTS];
        for (int i = 0; i < clients_n; i++)
            pfd[i] = (struct pollfd){clients_list[i]->fd, POLLOUT, 0};
        poll(pfd, (nfds_t)clients_n, 10);
    }
    while (clients_n)
        clients_drop(clients_n - 1);
    if (listen_fd >= 0) {
        fds_close(listen_fd);
        unlink(sock_path);
    }
    listen_fd = -1;
}

void server_atfork_child(void)
{
    clients_atfork_child();
    requests_atfork_child();
    if (listen_fd >= 0)
        fds_close(listen_fd);
    listen_fd = -1;
}
