/*
 * core.h - the collector's process-wide state: configuration, on/off switch,
 * clock, start-up, shutdown and fork handling.
 *
 * Tracking is on only while core_on != 0. Hooks read it with a relaxed load;
 * any module that hits an internal failure calls core_disable(), after which
 * the hooks are pass-through for good (until a fork child starts afresh).
 *
 * Environment (read once at start-up):
 *   HEAPLINE_RECORD=path    record file (a fork child, or what it exec's, uses
 *                           path.<pid>; the first process and what it exec's
 *                           use path itself, see HEAPLINE_OWNER_PID)
 *   HEAPLINE_COMPRESS=n     zstd level, default 3, 0 = raw msgpack
 *   HEAPLINE_SOCKET=off|path  live socket, default <dir>/<pid>.sock in the
 *                           socket directory (protocol/sockdir.h)
 *   HEAPLINE_SOCKET_DIR=dir the socket directory, instead of the default
 *                           candidates ($XDG_RUNTIME_DIR/heapline,
 *                           /tmp/heapline-<uid>, $HOME/.cache/heapline)
 *   HEAPLINE_DEPTH=n        stack depth limit, default 64, at most 256
 *   HEAPLINE_UNWIND=auto|fp|cfi|libunwind|check   default auto: the
 *                           validated frame-pointer walk when the executable
 *                           keeps frame pointers, else cfi: each module's
 *                           .eh_frame compiled into a table of unwind rules
 *                           (libunwind for frames it cannot express); check:
 *                           cfi and libunwind on every call, compared (the
 *                           stacks are libunwind's; HEAPLINE_STATS counts)
 *   HEAPLINE_TICK_MS=n      tick period, default 10
 *   HEAPLINE_DEFER=off      a sampled recording of a one-thread program
 *                           starts its collector thread with the program, not
 *                           when it has work that cannot wait (collect.h)
 *   HEAPLINE_FORK=off       fork children (and what they exec) run untracked
 *   HEAPLINE_STATS=1        the collector's counters on stderr at exit
 *   HEAPLINE_PYTHON=off     no Python frames in a CPython program (pyframes.h)
 *   HEAPLINE_SAMPLE=SIZE|off  sampling mode, one sample every SIZE bytes on
 *                           average (512K, 2M); default off (sample.h)
 *   HEAPLINE_HEAPWALK_CHECK=1  tests: every scan also walks glibc's heap and
 *                           writes how it compares with the live table to
 *                           stderr, block for block (scanheap.h)
 *   HEAPLINE_OWNER_PID      set by the collector to the first process's pid
 */
#ifndef HEAPLINE_CORE_H
#define HEAPLINE_CORE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define CORE_MAX_DEPTH 256

enum core_unwind {
    CORE_UNWIND_LIBUNWIND = 0,
    CORE_UNWIND_FP = 1,
    CORE_UNWIND_AUTO = 2,
    CORE_UNWIND_CFI = 3,
    CORE_UNWIND_CHECK = 4
};

struct core_config {
    char record[4096]; /* record file path, "" for none */
    int compress;      /* zstd level, 0 raw */
    char socket[108];  /* socket path, "" when off */
    int depth;         /* stack depth limit */
    int unwind;        /* enum core_unwind: asked for, then in effect */
    int tick_ms;
    int fork_off;   /* HEAPLINE_FORK=off */
    int stats;      /* HEAPLINE_STATS set: a line of counts at the end */
    int heap_check; /* HEAPLINE_HEAPWALK_CHECK set: each scan compares glibc's heap
                       with the live table on stderr (scanheap.h) */
    int attached;   /* started by heapline_attach(): the table misses older blocks */
    int defer_off;  /* HEAPLINE_DEFER=off: a sampled recording starts its thread at once */
};

extern struct core_config core_cfg;
/* Hot path: 0 pass through, else tracking on in the mode given, so that a
 * hook tells its path from one load (hooks.c). Set to a mode only by
 * core_start(), after the real functions are resolved and the sampling rate
 * is configured (sample_configure() is called only while it is 0). Hidden:
 * the hooks read it with one load, not through the GOT. */
extern atomic_int core_on __attribute__((visibility("hidden")));
#define CORE_ON_EXACT 1   /* every call an event */
#define CORE_ON_SAMPLED 2 /* sampling mode (sample.h) */

extern int64_t core_start_ns; /* CLOCK_MONOTONIC at start */

/* ns since the collector started. Async-signal-safe. */
static inline int64_t core_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - core_start_ns;
}

/* Turns tracking off for good: writes "heapline: tracking off: <reason>" once
 * to stderr with write(2) and asks the collector thread to emit DISABLED.
 * reason must be a static string. Async-signal-safe, any thread. */
void core_disable(const char *reason);

/* The reason given to the first core_disable(), or NULL. */
const char *core_disabled_reason(void);

/* Hooks, when tracking is off: starts the collector if it has not started
 * yet and libc is initialized. Returns nonzero when tracking is now on. Not
 * on the hot path (only until start-up has run). */
int core_early_start(void);

/* Tells the user msg: one line on stderr ("heapline: <msg>\n", write(2)),
 * except in a program heapline attached to (that stderr is the service's:
 * its logs), and a NOTE on the stream (core_note). Any thread. */
void core_say(const char *msg);

/* The line on stderr alone (HEAPLINE_STATS' figures), attached or not. */
void core_say_stderr(const char *msg);

/* Note k (from 0) of those core_say() kept for the stream: its text (cut to
 * cap - 1) and time (core_now()), and 1; 0 while it is not there (yet). The
 * first CORE_NOTES are kept. Collector thread. */
#define CORE_NOTES 16
#define CORE_NOTE_BYTES 400 /* a note's text, its NUL included (longer: cut) */
int core_note(unsigned k, char *text, size_t cap, int64_t *time);

/* The collector thread's state: nonzero while it runs and drains rings. */
int core_collector_alive(void);

/* The scan engine fork()s from the collector thread. Between enter and leave,
 * the atfork handlers do nothing in the parent, and the child turns tracking
 * off (hooks pass through, nothing is written, no collector starts): the scan
 * child never reinitialises the collector. core_in_scan_child() is nonzero in
 * such a child. The collector core calls enter/leave around scan_start(); the
 * scan engine needs them only if it fork()s from elsewhere. */
void core_scan_fork_enter(void);
void core_scan_fork_leave(void);
int core_in_scan_child(void);

#endif
