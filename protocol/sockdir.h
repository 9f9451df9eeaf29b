/*
 * sockdir.h - where collectors put their sockets: one rule for the collector
 * (which creates the directory) and heapline (which looks there for a PID).
 *
 * The candidates, in order:
 *   1. $HEAPLINE_SOCKET_DIR, when set: then it is the only one;
 *   2. $XDG_RUNTIME_DIR/heapline, when XDG_RUNTIME_DIR is set;
 *   3. /tmp/heapline-<uid>;
 *   4. $HOME/.cache/heapline, when HOME is set: the fallback when anyone who
 *      can write /tmp has made /tmp/heapline-<uid> first (it is then refused,
 *      and without a fallback the program would have no socket).
 * A directory is used only if it is a real directory (not a symlink), owned
 * by the user and not writable by group or others; the collector creates the
 * first usable one 0700. Socket paths must fit sun_path (108 bytes).
 *
 * Only libc here, no allocation: the collector calls it at start-up, fork
 * children included.
 */
#ifndef HEAPLINE_SOCKDIR_H
#define HEAPLINE_SOCKDIR_H

#include <stddef.h>

#define SOCKDIR_CANDIDATES 4
#define SOCKDIR_HOME 3 /* the index of $HOME/.cache/heapline */

/* sockdir_check()'s create argument */
#define SOCKDIR_MKDIR 1        /* create the directory when missing */
#define SOCKDIR_MKDIR_PARENT 2 /* and its parent ($HOME/.cache) */

enum sockdir_error {
    SOCKDIR_ENOENT = -1,  /* missing (and not created) */
    SOCKDIR_ECREATE = -2, /* mkdir failed */
    SOCKDIR_ENOTDIR = -3, /* not a directory, or a symlink */
    SOCKDIR_EOWNER = -4,  /* owned by another user */
    SOCKDIR_EOPEN = -5,   /* writable by group or others */
    SOCKDIR_ETOOLONG = -6 /* a socket path in it would not fit sun_path */
};

/* sockdir_check()'s create argument for candidate i: only
 * $HOME/.cache/heapline may have its parent created too. */
static inline int sockdir_create_mode(int i)
{
    return i == SOCKDIR_HOME ? SOCKDIR_MKDIR_PARENT : SOCKDIR_MKDIR;
}

/* Writes candidate i (0 <= i < SOCKDIR_CANDIDATES) to buf. override is the
 * value of HEAPLINE_SOCKET_DIR (NULL or "" when unset; the collector reads it
 * once, before it leaves the environment). Returns 1 when candidate i
 * applies, 0 when it does not (its variable is unset, or an override excludes
 * it), SOCKDIR_ETOOLONG when it does not fit. */
int sockdir_candidate(int i, const char *override, char *buf, size_t cap);

/* Checks dir: ours, a real directory, closed to others. create
 * (SOCKDIR_MKDIR) makes it 0700 first when it is missing; SOCKDIR_MKDIR_PARENT
 * also its missing parent, 0700 (for SOCKDIR_HOME only: $HOME/.cache). Returns
 * 0 or a negative enum sockdir_error; errno is kept from mkdir for
 * SOCKDIR_ECREATE. */
int sockdir_check(const char *dir, int create);

/* sockdir_check()'s test of a directory's lstat: a real directory owned by
 * uid, not writable by group or others. (heapline run by root checks the
 * directory of the user whose program it attaches to.) */
struct stat;
int sockdir_check_stat(const struct stat *st, unsigned uid);

/* A static, lowercase phrase for an enum sockdir_error ("owned by another
 * user"). */
const char *sockdir_strerror(int err);

#endif
