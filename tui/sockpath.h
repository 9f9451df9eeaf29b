/*
 * sockpath.h - where heapline's files live: the per-user socket directory and
 * the collector library.
 *
 * The socket directory is the first usable candidate of protocol/sockdir.h:
 * $HEAPLINE_SOCKET_DIR alone when set, else $XDG_RUNTIME_DIR/heapline,
 * /tmp/heapline-<uid>, $HOME/.cache/heapline. It must be ours, a real
 * directory, and not writable by others.
 */
#ifndef HEAPLINE_SOCKPATH_H
#define HEAPLINE_SOCKPATH_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the socket directory to buf: the first candidate that passes the
 * checks (create != 0 creates it 0700 when missing). Returns 0, or -1 with
 * the first candidate's reason in err ("/tmp/heapline-0: owned by another
 * user, refusing it"). */
int sockpath_dir(char *buf, size_t n, int create, char *err, size_t errsz);

/* 1 when heapline runs as root and pid's real uid is not ours: *uid and
 * *gid are pid's (its collector creates files and sockets as them). */
int sockpath_other_user(pid_t pid, long *uid, long *gid);

/* Run by root for a pid of another user (real uid U): that user's own
 * /tmp/heapline-U, where U's collector can bind its socket and root can
 * connect (create != 0 makes it 0700 for U when missing). Returns 1 with
 * buf set, 0 when it does not apply (not root, pid is ours or gone,
 * HEAPLINE_SOCKET_DIR set; create == 0 and the directory is missing), -1 with
 * a message in err when the directory is not U's alone. */
int sockpath_dir_of(pid_t pid, char *buf, size_t n, int create, char *err, size_t errsz);

/* Resolves a PID or a socket path given on the command line to a socket
 * path. A PID is looked up in every candidate directory; a socket found in a
 * directory that fails the checks is refused with the reason, as sockpath_dir
 * says it. A dead PID's socket that refuses connections is removed. A path
 * that names a regular file is refused ("a file, not a socket", with the
 * replay hint). A PID without a socket of its own whose parent is a `heapline
 * run` resolves to that run's run-<ppid>.sock (the program it started). Run by
 * root, a PID of another user is also looked up in sockpath_dir_of's directory.
 * Returns 0 or -1 with a one-line message in err. */
int sockpath_resolve(const char *target, char *buf, size_t n, char *err, size_t errsz);

/* Removes the socket at path when it is stale: its name is <pid>.sock or
 * run-<pid>.sock, that pid no longer exists, its directory passes the
 * checks, and it refuses connections. Returns 1 when it was removed. */
int sockpath_remove_stale(const char *path);

/* Finds libheapline.so: $HEAPLINE_LIB, else next to /proc/self/exe, else
 * <exe dir>/../lib/heapline/libheapline.so. Returns 0 or -1 with a message. */
int sockpath_lib(char *buf, size_t n, char *err, size_t errsz);

#endif
