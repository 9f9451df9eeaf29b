/*
 * sockdir.c - the socket directory rule shared by the collector and heapline.
 *
 * Invariant: a directory that fails sockdir_check() is never used, never
 * written into and never cleaned: it may be someone else's trap.
 */
#include "sockdir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "<dir>/<pid>.sock" with a 10-digit pid, and a NUL, within sun_path */
#define SOCKDIR_MAX_DIR (108 - 17)

int sockdir_candidate(int i, const char *override, char *buf, size_t cap)
{
    const char *v;
    int n;

    if (override && *override) {
        if (i != 0)
            return 0;
        n = snprintf(buf, cap, "%s", override);
    } else if (i == 1) {
        v = getenv("XDG_RUNTIME_DIR");
        if (!v || !*v)
            return 0;
        n = snprintf(buf, cap, "%s/heapline", v);
    } else if (i == 2) {
        n = snprintf(buf, cap, "/tmp/heapline-%u", (unsigned)getuid());
    } else if (i == 3) {
        v = getenv("HOME");
        if (!v || *v != '/')
            return 0;
        n = snprintf(buf, cap, "%s/.cache/heapline", strcmp(v, "/") == 0 ? "" : v);
    } else {
        return 0;
    }
    if (n < 0 || (size_t)n >= cap || n > SOCKDIR_MAX_DIR)
        return SOCKDIR_ETOOLONG;
    return 1;
}

int sockdir_check(const char *dir, int create)
{
    struct stat st;

    if (create && mkdir(dir, 0700) != 0 && errno == ENOENT && create == SOCKDIR_MKDIR_PARENT) {
        /* $HOME/.cache may be missing: make the parent, private, once */
        char parent[128];
        const char *slash = strrchr(dir, '/');

        if (slash && slash != dir && (size_t)(slash - dir) < sizeof(parent)) {
            memcpy(parent, dir, (size_t)(slash - dir));
            parent[slash - dir] = 0;
            if (mkdir(parent, 0700) == 0 || errno == EEXIST)
                mkdir(dir, 0700);
        }
    }
    if (lstat(dir, &st) != 0) {
        if (!create)
            return SOCKDIR_ENOENT;
        return errno == ENOENT ? SOCKDIR_ECREATE : SOCKDIR_ENOENT;
    }
    return sockdir_check_stat(&st, getuid());
}

int sockdir_check_stat(const struct stat *st, unsigned uid)
{
    if (!S_ISDIR(st->st_mode))
        return SOCKDIR_ENOTDIR;
    if (st->st_uid != uid)
        return SOCKDIR_EOWNER;
    if (st->st_mode & 022)
        return SOCKDIR_EOPEN;
    return 0;
}

const char *sockdir_strerror(int err)
{
    switch (err) {
    case SOCKDIR_ENOENT:
        return "no such directory";
    case SOCKDIR_ECREATE:
        return "cannot be created";
    case SOCKDIR_ENOTDIR:
        return "not a directory";
    case SOCKDIR_EOWNER:
        return "owned by another user";
    case SOCKDIR_EOPEN:
        return "writable by others";
    case SOCKDIR_ETOOLONG:
        return "too long for a socket path";
    default:
        return "unusable";
    }
}
