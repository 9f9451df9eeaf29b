/*
 * sockpath.c - the per-user socket directory and the collector library.
 *
 * The directories and their checks are the collector's own rule
 * (protocol/sockdir.h): a directory we did not create (another user's, or one
 * open to others) is never trusted, so a socket in it cannot be a trap set by
 * someone else, and nothing in it is ever removed.
 */
#include "sockpath.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockdir.h"

static int check_dir(const char *dir, int create, char *err, size_t errsz)
{
    int r = sockdir_check(dir, create);

    if (r == SOCKDIR_ENOENT || r == SOCKDIR_ECREATE)
        snprintf(err, errsz, "%s: %s", dir, strerror(errno));
    else if (r == SOCKDIR_EOWNER || r == SOCKDIR_EOPEN)
        snprintf(err, errsz, "%s: %s, refusing it", dir, sockdir_strerror(r));
    else if (r != 0)
        snprintf(err, errsz, "%s: %s", dir, sockdir_strerror(r));
    return r == 0 ? 0 : -1;
}

int sockpath_dir(char *buf, size_t n, int create, char *err, size_t errsz)
{
    const char *override = getenv("HEAPLINE_SOCKET_DIR");
    char dir[PATH_MAX], firsterr[512] = "";

    for (int i = 0; i < SOCKDIR_CANDIDATES; i++) {
        int r = sockdir_candidate(i, override, dir, sizeof(dir));
        int mk = sockdir_create_mode(i);

        if (r == 0)
            continue;
        if (r < 0) {
            if (!firsterr[0])
                snprintf(firsterr, sizeof(firsterr), "%.400s: %s", dir, sockdir_strerror(r));
            continue;
        }
        if (check_dir(dir, create ? mk : 0, err, errsz) == 0) {
            snprintf(buf, n, "%s", dir);
            return 0;
        }
        if (!firsterr[0])
            snprintf(firsterr, sizeof(firsterr), "%s", err);
    }
    snprintf(err, errsz, "%s", firsterr[0] ? firsterr : "no socket directory");
    return -1;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The pid a socket's name is for: "<pid>.sock" (a collector) or
 * "run-<pid>.sock" (the heapline that runs the program). 0 when neither. */
static long name_pid(const char *name)
{
    char *end;
    long pid;

    if (strncmp(name, "run-", 4) == 0)
        name += 4;
    if (*name < '0' || *name > '9')
        return 0;
    pid = strtol(name, &end, 10);
    return strcmp(end, ".sock") == 0 && pid > 0 ? pid : 0;
}

int sockpath_remove_stale(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char dir[PATH_MAX], errbuf[8];
    const char *slash = strrchr(path, '/');
    struct stat st;
    long pid;
    int fd, refused;

    if (!slash || strlen(path) >= sizeof(sa.sun_path) || (size_t)(slash - path) >= sizeof(dir))
        return 0;
    pid = name_pid(slash + 1);
    if (pid <= 0 || !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return 0;
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (check_dir(dir[0] ? dir : "/", 0, errbuf, sizeof(errbuf)) != 0)
        return 0; /* not our private directory: never touched */
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != getuid())
        return 0;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    refused = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused && unlink(path) == 0;
}

/* The parent of pid, from /proc/PID/stat (after the command's closing
 * parenthesis: state, then ppid). 0 when it cannot be read. */
static long parent_pid(long pid)
{
    char path[64], line[512];
    const char *p;
    long ppid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "re")))
        return 0;
    if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) &&
        sscanf(p + 1, " %*c %ld", &ppid) != 1)
        ppid = 0;
    fclose(f);
    return ppid;
}

/* The real uid and gid pid runs as, from /proc/PID/status. */
static int proc_ids(long pid, long *uid, long *gid)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if (!(f = fopen(path, "re")))
        return -1;
    *uid = *gid = -1;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "Uid:", 4))
            *uid = strtol(line + 4, NULL, 10);
        else if (!strncmp(line, "Gid:", 4))
            *gid = strtol(line + 4, NULL, 10);
    }
    fclose(f);
    return *uid >= 0 && *gid >= 0 ? 0 : -1;
}

int sockpath_other_user(pid_t pid, long *uid, long *gid)
{
    return geteuid() == 0 && proc_ids(pid, uid, gid) == 0 && *uid != (long)getuid();
}

int sockpath_dir_of(pid_t pid, char *buf, size_t n, int create, char *err, size_t errsz)
{
    const char *override = getenv("HEAPLINE_SOCKET_DIR");
    long uid, gid;
    struct stat st;
    int r;

    if ((override && *override) || !sockpath_other_user(pid, &uid, &gid))
        return 0;
    if ((size_t)snprintf(buf, n, "/tmp/heapline-%ld", uid) >= n)
        return 0;
    if (create && mkdir(buf, 0700) == 0 && lchown(buf, (uid_t)uid, (gid_t)gid) != 0) {
        snprintf(err, errsz, "%s: cannot give it to uid %ld: %s", buf, uid, strerror(errno));
        rmdir(buf);
        return -1;
    }
    if (lstat(buf, &st) != 0) {
        if (!create)
            return 0;
        snprintf(err, errsz, "%s: %s", buf, strerror(errno));
        return -1;
    }
    if ((r = sockdir_check_stat(&st, (unsigned)uid)) != 0) {
        snprintf(err, errsz, "%s: %s, refusing it (the socket directory of uid %ld, for pid %d)",
                 buf, sockdir_strerror(r), uid, (int)pid);
        return -1;
    }
    return 1;
}

int sockpath_resolve(const char *target, char *buf, size_t n, char *err, size_t errsz)
{
    const char *override = getenv("HEAPLINE_SOCKET_DIR");
    char dir[PATH_MAX];
    char firsterr[512] = "";
    struct stat st;
    int dead;

    if (!all_digits(target)) {
        if ((size_t)snprintf(buf, n, "%s", target) >= n || strlen(target) >= 108) {
            snprintf(err, errsz, "%s: socket path too long", target);
            return -1;
        }
        if (stat(target, &st) == 0 && S_ISREG(st.st_mode)) {
            snprintf(err, errsz,
                     "%s: a file, not a socket (to open a recording: heapline replay %s)", target,
                     target);
            return -1;
        }
        /* a bare word that names nothing: a program's name, most likely */
        if (!strchr(target, '/') && stat(target, &st) != 0 && errno == ENOENT) {
            snprintf(err, errsz,
                     "%s: not a pid, and no socket of that name (a program's pid: pidof %s)",
                     target, target);
            return -1;
        }
        if (stat(target, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            snprintf(err, errsz, "%s: not a socket", target);
            return -1;
        }
        return 0;
    }
    if (strlen(target) > 10 || atol(target) <= 0 || atol(target) > 0x7fffffff) {
        snprintf(err, errsz, "bad pid: %s", target);
        return -1;
    }
    dead = kill((pid_t)atol(target), 0) != 0 && errno == ESRCH;
    /* a program started by `heapline run` serves the socket that run named
     * after itself, its parent: run-<ppid>.sock */
    long run = dead ? 0 : parent_pid(atol(target));
    for (int k = 0; k < 2 * SOCKDIR_CANDIDATES; k++) {
        int i = k % SOCKDIR_CANDIDATES;
        if (sockdir_candidate(i, override, dir, sizeof(dir)) != 1)
            continue;
        if (k < SOCKDIR_CANDIDATES)
            snprintf(buf, n, "%s/%s.sock", dir, target);
        else if (run > 1)
            snprintf(buf, n, "%s/run-%ld.sock", dir, run);
        else
            continue;
        if (lstat(buf, &st) != 0)
            continue;
        if (dead) {
            /* the program died without removing its socket (SIGKILL) */
            if (sockpath_remove_stale(buf))
                snprintf(firsterr, sizeof(firsterr),
                         "no process with pid %s (its stale socket %.300s was removed)", target,
                         buf);
            continue;
        }
        if (check_dir(dir, 0, err, errsz) != 0) {
            if (!*firsterr)
                snprintf(firsterr, sizeof(firsterr), "%s", err);
            continue;
        }
        return 0;
    }
    /* root: the socket of a program of another user is in that user's
     * directory (a collector heapline attached there, or one it started) */
    char other[64];
    if (!dead && sockpath_dir_of((pid_t)atol(target), other, sizeof(other), 0, err, errsz) == 1 &&
        (size_t)snprintf(buf, n, "%s/%s.sock", other, target) < n && lstat(buf, &st) == 0 &&
        S_ISSOCK(st.st_mode))
        return 0;
    if (*firsterr)
        snprintf(err, errsz, "%s", firsterr);
    else if (dead)
        snprintf(err, errsz, "no process with pid %s", target);
    else
        snprintf(err, errsz,
                 "no heapline collector socket for pid %s (is it running under the collector?)",
                 target);
    return -1;
}

int sockpath_lib(char *buf, size_t n, char *err, size_t errsz)
{
    const char *env = getenv("HEAPLINE_LIB");
    char exe[PATH_MAX];
    ssize_t len;
    char *slash;

    if (env && *env) {
        if (access(env, R_OK) != 0) {
            snprintf(err, errsz, "HEAPLINE_LIB=%s: %s", env, strerror(errno));
            return -1;
        }
        snprintf(buf, n, "%s", env);
        return 0;
    }
    len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (len > 0) {
        static const char *const rel[] = {"/libheapline.so", "/../lib/heapline/libheapline.so"};
        char cand[PATH_MAX + 64], real[PATH_MAX];

        exe[len] = 0;
        slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            for (int i = 0; i < 2; i++) {
                snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
                if (access(cand, R_OK) != 0 || !realpath(cand, real) || strlen(real) >= n)
                    continue;
                memcpy(buf, real, strlen(real) + 1);
                return 0;
            }
        }
    }
    snprintf(err, errsz, "cannot find libheapline.so (set HEAPLINE_LIB)");
    return -1;
}
