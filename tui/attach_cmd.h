/*
 * attach_cmd.h - the commands that attach to a program running without a
 * collector (heapline attach PID, record --pid, backrefs PID): which socket
 * the collector gets, Ctrl-C during the attach, the detach at the end, and
 * the one line each outcome gets on stderr.
 */
#ifndef HEAPLINE_ATTACH_CMD_H
#define HEAPLINE_ATTACH_CMD_H

#include <stddef.h>
#include <sys/types.h>

/* For a target given as a PID that has no collector socket: loads (or
 * re-activates) the collector in it with a socket in the socket directory,
 * so the caller can connect as to any collector. *detach gets 1 when the
 * caller should call attach_cmd_finish() at the end (the collector was
 * attached by heapline, now or before). A SOCKET path, or a PID with a
 * socket, is left to the caller (returns 0). Returns -1 with one line in
 * err. HEAPLINE_ATTACH_STATS=1 prints the attach's figures on stderr. */
int attach_cmd_prepare(const char *target, int *detach, char *err, size_t errsz);

/* Ends the attached run in the PID target (q): one line on stderr when the
 * detach fails or frees of blocks from before the attach were ignored. */
void attach_cmd_finish(const char *target);

/* heapline record --pid PID -o FILE [--for SECONDS]: records pid into out
 * from now until SECONDS have passed (seconds <= 0: until Ctrl-C, SIGTERM or
 * the program's end), then detaches. Returns the exit status. */
int attach_cmd_record(pid_t pid, const char *out, double seconds);

#endif
