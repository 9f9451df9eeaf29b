/*
 * attach_cmd.h - the commands that attach to a program running without a
 * collector (heapline attach PID, record --pid, backrefs PID): which socket
 * the collector gets, Ctrl-C during the attach, the detach at the end, and
 * the one line each outcome gets on stderr.
 */
#ifndef HEAPLINE_ATTACH_CMD_H
#define HEAPLINE_ATTACH_CMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The sampling rate an attach asks for unless told otherwise: one sample
 * every 512 KiB on average, tcmalloc's default. */
#define ATTACH_CMD_SAMPLE_DEFAULT (UINT64_C(512) << 10)

/* Sets the mean bytes per sample of the attaches that follow (--sample
 * SIZE); 0 records every allocation (--exact, --sample off). */
void attach_cmd_set_sample(uint64_t rate);

/* The client_attach_fn of heapline attach and backrefs (client.h): loads
 * (or re-activates) the collector in the PID target with a socket in the
 * socket directory, and remembers it for attach_cmd_finish(). Ctrl-C during
 * the attach interrupts it. HEAPLINE_ATTACH_STATS=1 prints its figures. */
int attach_cmd_connect(const char *target, char *err, size_t errsz);

/* At the end of the command (q, backrefs' answer): ends the run that
 * attach_cmd_connect() started, and with also_loaded set one that an earlier
 * heapline attach of target left (its TUI gone), leaving the collector idle.
 * One line on stderr when the detach fails or frees of blocks from before
 * the attach were ignored. */
void attach_cmd_finish(const char *target, int also_loaded);

/* 1 when attach_cmd_finish(target, 1) would detach the collector (heapline
 * attach loaded it: q detaches, the program runs on), 0 when q only
 * disconnects (a program started with the collector, a socket path). */
int attach_cmd_detaches(const char *target);

/* heapline record --pid PID -o FILE [--for SECONDS]: records pid into out
 * from now until SECONDS have passed (seconds <= 0: until Ctrl-C, SIGTERM or
 * the program's end), then detaches. Returns the exit status. */
int attach_cmd_record(pid_t pid, const char *out, double seconds);

#endif
