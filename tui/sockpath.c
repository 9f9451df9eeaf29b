/*
 * sockpath.c - the per-user socket directory and the collector library.
 *
 * The directory checks mirror the collector's: a directory we did not create
 * (another user's, or one open to others) is never trusted, so a socket in
 * it cannot be a trap set by someone else.
 */
#include "sockpath.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_dir(const char *dir, char *err, size_t errsz)
{
    struct stat st;

    if (lstat(dir, &st) != 0) {
        snprintf(err, errsz, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s: not a directory", dir);
        return -1;
    }
    if (st.st_uid != getuid()) {
        snprintf(err, errsz, "%s: owned by another user, refusing it", dir);
        return -1;
    }
    if (st.st_mode & 022) {
        snprintf(err, errsz, "%s: writable by others, refusing it", dir);
        return -1;
    }
    return 0;
}

static void dir_candidate(char *buf, size_t n, int xdg)
{
    const char *x = getenv("XDG_RUNTIME_DIR");

    if (xdg && x && *x)
        snprintf(buf, n, "%s/heapline", x);
    else
        snprintf(buf, n, "/tmp/heapline-%u", (unsigned)getuid());
}

int sockpath_dir(char *buf, size_t n, int create, char *err, size_t errsz)
{
    const char *x = getenv("XDG_RUNTIME_DIR");

    dir_candidate(buf, n, x && *x);
    if (create && mkdir(buf, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errsz, "%s: %s", buf, strerror(errno));
        return -1;
    }
    return check_dir(buf, err, errsz);
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

int sockpath_resolve(const char *target, char *buf, size_t n, char *err, size_t errsz)
{
    char dir[PATH_MAX];
    char firsterr[512] = "";

    if (!all_digits(target)) {
        if ((size_t)snprintf(buf, n, "%s", target) >= n || strlen(target) >= 108) {
            snprintf(err, errsz, "%s: socket path too long", target);
            return -1;
        }
        return 0;
    }
    if (kill((pid_t)atol(target), 0) != 0 && errno == ESRCH) {
        snprintf(err, errsz, "no process %s", target);
        return -1;
    }
    for (int xdg = 1; xdg >= 0; xdg--) {
        const char *x = getenv("XDG_RUNTIME_DIR");
        struct stat st;

        if (xdg && !(x && *x))
            continue;
        dir_candidate(dir, sizeof(dir), xdg);
        snprintf(buf, n, "%s/%s.sock", dir, target);
        if (stat(buf, &st) != 0)
            continue;
        if (check_dir(dir, err, errsz) != 0) {
            if (!*firsterr)
                snprintf(firsterr, sizeof(firsterr), "%s", err);
            continue;
        }
        return 0;
    }
    if (*firsterr)
        snprintf(err, errsz, "%s", firsterr);
    else
        snprintf(err, errsz,
                 "no heapline socket for process %s (is it running under the collector?)",
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
