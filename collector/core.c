/*
 * core.c - start-up, configuration, shutdown, fork and exec handling, and the
 * few libc names besides the allocator that the collector needs to see:
 * __libc_start_main (the exit status), _exit/_Exit (finish the recording),
 * dlclose (name a library's frames before it goes away).
 *
 * Loaded into a program that already runs (heapline attach dlopens it), the
 * constructor does nothing: heapline_attach(), called by the injector, starts
 * the collector with the options it is given (the program's environment has
 * none), then points every module's malloc family at the hooks (got.h).
 * heapline_detach() stops it; the hooks then pass every call through, and a
 * later heapline_attach() starts a fresh run in the same library.
 *
 * Invariant: tracking is on (core_on) only while a collector thread runs and
 * the process owns its outputs. A fork child starts a fresh, empty collector
 * with its own outputs (or none with HEAPLINE_FORK=off) and never writes the
 * parent's file; a scan child (forked by the collector) never starts one.
 */
#include "core.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "collect.h"
#include "debugfile.h"
#include "drain.h"
#include "dwlib.h"
#include "env.h"
#include "fds.h"
#include "got.h"
#include "live.h"
#include "prefault.h"
#include "pyframes.h"
#include "recfile.h"
#include "ring.h"
#include "sample.h"
#include "scanroots.h"
#include "untracked.h"
#include "server.h"
#include "sites.h"
#include "stamp.h"
#include "symbols.h"
#include "tags.h"
#include "track.h"
#include "trie.h"
#include "unwind.h"

struct core_config core_cfg;
atomic_int core_on;
int64_t core_start_ns;

static const char *_Atomic core_reason;
static atomic_int scan_forking;
static int scan_child;
static char record_base[4096]; /* HEAPLINE_RECORD as given */
static char socket_base[108];  /* HEAPLINE_SOCKET as given, "" default */
static int socket_off;
static int started;
static pid_t core_pid; /* the process the collector runs in */
static int late;       /* dlopened into a running program (heapline attach) */
static int late_ready; /* heapline_attach() has set up the capture once */

void hooks_init(void);    /* hooks.c */
int hooks_resolved(void); /* hooks.c */

/* The notes core_say() keeps for the stream: each slot written once, by the
 * thread that took its number, then marked done. */
static char notes[CORE_NOTES][CORE_NOTE_BYTES];
static int64_t note_time[CORE_NOTES];
static atomic_uint notes_taken;
static atomic_int note_done[CORE_NOTES];

void core_say_stderr(const char *msg)
{
    char line[1024]; /* HEAPLINE_STATS's lines are built in 800 bytes (collect.c) */
    size_t n = 0, m = strlen(msg);

    memcpy(line, "heapline: ", 10);
    n = 10;
    if (m > sizeof(line) - n - 1)
        m = sizeof(line) - n - 1;
    memcpy(line + n, msg, m);
    n += m;
    line[n++] = '\n';
    (void)!write(2, line, n);
}

/* The line on stderr, unless attached (late). */
static void say_line(const char *msg)
{
    if (!late)
        core_say_stderr(msg);
}

void core_say(const char *msg)
{
    unsigned k = atomic_fetch_add(&notes_taken, 1);

    say_line(msg);
    if (k < CORE_NOTES) {
        size_t m = strlen(msg);

        if (m > CORE_NOTE_BYTES - 1)
            m = CORE_NOTE_BYTES - 1;
        memcpy(notes[k], msg, m);
        notes[k][m] = 0;
        note_time[k] = core_now() + core_start_ns; /* CLOCK_MONOTONIC: a note may come
                                                    * before the start's time is set */
        atomic_store_explicit(&note_done[k], 1, memory_order_release);
    }
}

int core_note(unsigned k, char *text, size_t cap, int64_t *time)
{
    if (k >= CORE_NOTES || !atomic_load_explicit(&note_done[k], memory_order_acquire))
        return 0;
    snprintf(text, cap, "%s", notes[k]);
    *time = note_time[k] > core_start_ns ? note_time[k] - core_start_ns : 0;
    return 1;
}

void core_disable(const char *reason)
{
    const char *expect = NULL;

    atomic_store(&core_on, 0);
    if (atomic_compare_exchange_strong(&core_reason, &expect, reason)) {
        char msg[300];

        snprintf(msg, sizeof(msg), "tracking off: %s", reason);
        say_line(msg); /* DISABLED tells the stream */
    }
}

const char *core_disabled_reason(void)
{
    return atomic_load(&core_reason);
}

int core_collector_alive(void)
{
    return collect_alive();
}

void core_scan_fork_enter(void)
{
    atomic_store(&scan_forking, 1);
}

void core_scan_fork_leave(void)
{
    atomic_store(&scan_forking, 0);
}

int core_in_scan_child(void)
{
    return scan_child;
}

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    char *end;
    long x;

    if (!v || !*v)
        return def;
    x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi)
        return def;
    return (int)x;
}

static void read_config(void)
{
    const char *v;

    memset(&core_cfg, 0, sizeof(core_cfg));
    v = getenv("HEAPLINE_RECORD");
    if (v && *v)
        snprintf(record_base, sizeof(record_base), "%s", v);
    v = getenv("HEAPLINE_SOCKET");
    socket_off = v && strcmp(v, "off") == 0;
    server_set_dir(getenv("HEAPLINE_SOCKET_DIR"));
    if (v && *v && !socket_off)
        snprintf(socket_base, sizeof(socket_base), "%s", v);
    core_cfg.compress = env_int("HEAPLINE_COMPRESS", RECFILE_LEVEL_DEFAULT, 0, 22);
    core_cfg.depth = env_int("HEAPLINE_DEPTH", 64, 1, CORE_MAX_DEPTH);
    core_cfg.tick_ms = env_int("HEAPLINE_TICK_MS", 10, 1, 60000);
    v = getenv("HEAPLINE_UNWIND");
    core_cfg.unwind = !v || !*v || strcmp(v, "auto") == 0 ? CORE_UNWIND_AUTO
                      : strcmp(v, "fp") == 0              ? CORE_UNWIND_FP
                      : strcmp(v, "cfi") == 0             ? CORE_UNWIND_CFI
                      : strcmp(v, "check") == 0           ? CORE_UNWIND_CHECK
                                                          : CORE_UNWIND_LIBUNWIND;
    v = getenv("HEAPLINE_FORK");
    core_cfg.fork_off = v && strcmp(v, "off") == 0;
    v = getenv("HEAPLINE_DEFER");
    core_cfg.defer_off = v && strcmp(v, "off") == 0;
    debugfile_init(); /* HEAPLINE_DEBUG_DIR */
    core_cfg.stats = getenv("HEAPLINE_STATS") != NULL;
    core_cfg.heap_check = getenv("HEAPLINE_HEAPWALK_CHECK") != NULL;
    sample_configure_env(); /* HEAPLINE_SAMPLE */
    /* the check tells every untracked block apart; a sampled run's scans
     * leave the collector's own out */
    untracked_set(core_cfg.heap_check ? UNTRACKED_ALL : sample_on() ? UNTRACKED_GUARDED : 0);
}

/* Output paths for this process: the owner (the first process of the run, or
 * an exec'd image of it) uses the paths as given; any other process (a fork
 * child, or what a fork child exec'd) appends its pid. */
static void choose_paths(int owner)
{
    pid_t pid = getpid();

    core_cfg.record[0] = 0;
    core_cfg.socket[0] = 0;
    if (record_base[0]) {
        if (owner)
            snprintf(core_cfg.record, sizeof(core_cfg.record), "%s", record_base);
        else if (snprintf(core_cfg.record, sizeof(core_cfg.record), "%s.%d", record_base,
                          (int)pid) >= (int)sizeof(core_cfg.record))
            core_cfg.record[0] = 0;
    }
    if (!socket_off) {
        if (!socket_base[0])
            server_default_path(core_cfg.socket, sizeof(core_cfg.socket));
        else if (owner)
            snprintf(core_cfg.socket, sizeof(core_cfg.socket), "%s", socket_base);
        else if (snprintf(core_cfg.socket, sizeof(core_cfg.socket), "%s.%d", socket_base,
                          (int)pid) >= (int)sizeof(core_cfg.socket))
            core_cfg.socket[0] = 0;
    }
}

/* Maps fresh state and starts the collector. Guard held by the caller. */
static void core_start(void)
{
    struct timespec ts;
    const char *why = "cannot map collector tables";

    clock_gettime(CLOCK_MONOTONIC, &ts);
    core_start_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    stamp_init();
    if (!core_cfg.record[0] && !core_cfg.socket[0]) {
        core_disable("no output (HEAPLINE_RECORD unset and HEAPLINE_SOCKET=off)");
        return;
    }
    if (!hooks_resolved()) { /* core_on's modes imply it (hooks.c) */
        core_disable("the real allocator is not resolved");
        return;
    }
    if (late_ready) {
        /* a new run in the same process (heapline_attach again): stack ids
         * and tags stay valid, the block and site tables start empty */
        live_reset();
        sites_reset();
        if (live_init() < 0 || sites_init() < 0) {
            core_disable(why);
            return;
        }
    } else if ((sample_on() ? trie_init_unpopulated() : trie_init()) < 0 || tags_init() < 0 ||
               live_init() < 0 || sites_init() < 0) {
        core_disable(why);
        return;
    }
    unwind_compile_apart(sample_on());
    sample_totals_restart();
    if (collect_start(core_cfg.record, core_cfg.socket, &why) < 0) {
        core_disable(why);
        return;
    }
    started = 1;
    core_pid = getpid();
    atomic_store(&core_on, sample_on() ? CORE_ON_SAMPLED : CORE_ON_EXACT);
}

/* Crash signals whose disposition is the default: finish the recording with
 * END(signal), then die of the signal as the program would have. A handler
 * the program installs later simply replaces ours. Not SIGINT, SIGTERM or
 * SIGHUP: programs look at those dispositions at start-up (Python installs
 * its KeyboardInterrupt handler only over the default one); a recording cut
 * by them is readable up to its last tick. */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static void fatal_handler(int sig)
{
    int saved = errno;

    track_guard = 1;
    atomic_store(&core_on, 0);
    collect_crash(sig);
    signal(sig, SIG_DFL);
    errno = saved;
    raise(sig);
}

static void install_fatal_handlers(void)
{
    for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++) {
        struct sigaction old, sa;

        if (sigaction(fatal_signals[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fatal_handler;
        sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

static void atfork_prepare(void)
{
    if (atomic_load(&scan_forking))
        return;
    scanroots_atfork_prepare(); /* first: it may take the others' locks under its own */
    unwind_atfork_prepare();
    symbols_atfork_prepare();
    tags_atfork_prepare();
    ring_atfork_prepare();
    pyframes_atfork_prepare();
}

static void atfork_parent(void)
{
    if (atomic_load(&scan_forking))
        return;
    pyframes_atfork_parent();
    ring_atfork_parent();
    tags_atfork_parent();
    symbols_atfork_parent();
    unwind_atfork_parent();
    scanroots_atfork_parent();
}

static void atfork_child(void)
{
    int guard = track_guard;

    if (atomic_load(&scan_forking)) {
        /* the scan engine's child: pass-through hooks, no collector */
        scan_child = 1;
        atomic_store(&core_on, 0);
        return;
    }
    atomic_store(&core_on, 0);
    track_guard = 1;
    unwind_atfork_child();
    scanroots_atfork_child();
    drain_atfork_child(); /* before the rings go: their backlogs hang off them */
    ring_atfork_child();
    track_atfork_child();
    collect_atfork_child();
    trie_reset();
    tags_atfork_parent(); /* the prepare handler's lock: no collector may take it
                           * again here (HEAPLINE_FORK=off, an attached program) */
    tags_reset();
    prefault_atfork_child(); /* before live_reset(): its locks may be held */
    live_reset();
    sites_reset();
    started = 0;
    atomic_store(&core_reason, NULL);
    if (!core_cfg.fork_off && (record_base[0] || !socket_off)) {
        choose_paths(0);
        core_start();
    }
    track_guard = guard;
}

/* Start-up runs once: from the first allocation made after libc is
 * initialized (so allocations in the constructors of libraries initialized
 * before ours are tracked), or from our constructor, whichever comes first. */
static atomic_int init_state; /* 0 not yet, 1 running or done */

static void core_init(void);

int core_early_start(void)
{
    extern char **environ;

    if (atomic_load_explicit(&init_state, memory_order_relaxed) || !environ)
        return 0; /* done, or libc not initialized yet (environ is set by it) */
    core_init();
    return atomic_load_explicit(&core_on, memory_order_relaxed);
}

/* Load order of two addresses' modules (dl_iterate_phdr's order: the
 * executable, what was preloaded, its libraries, then what was dlopened). */
struct load_order {
    uintptr_t addr[2];
    int index[2], at;
};

static int load_order_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct load_order *o = arg;

    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

        for (int k = 0; k < 2 && ph->p_type == PT_LOAD; k++)
            if (o->addr[k] >= lo && o->addr[k] - lo < ph->p_memsz)
                o->index[k] = o->at;
    }
    o->at++;
    return 0;
}

/* 1 when this library was loaded after libc (dlopened into a running
 * program by heapline attach): symbol order does not interpose, and only
 * heapline_attach() may start tracking. (Asking dlsym(RTLD_DEFAULT,
 * "malloc") does not tell: an executable that takes malloc's address, as
 * python3 does, is itself the default definition.) */
static int core_loaded_late(void)
{
    struct load_order o = {
        {(uintptr_t)core_loaded_late, (uintptr_t)dlsym(RTLD_NEXT, "malloc")}, {-1, -1}, 0};

    if (!o.addr[1])
        return 0;
    dl_iterate_phdr(load_order_cb, &o);
    return o.index[1] >= 0 && o.index[0] > o.index[1];
}

__attribute__((constructor(101))) static void core_ctor(void)
{
    if (!atomic_load(&init_state) && core_loaded_late()) {
        late = 1;
        atomic_store(&init_state, 1); /* the hooks never start a collector */
        return;
    }
    core_init();
    env_strip(); /* here, not in core_init: that may run inside setenv's malloc */
}

static void core_init(void)
{
    const char *owner;
    char pidbuf[24];
    int is_owner, expect = 0, guard = track_guard;

    if (!atomic_compare_exchange_strong(&init_state, &expect, 1))
        return;
    hooks_init();
    track_guard = 1;
    read_config();
    owner = getenv("HEAPLINE_OWNER_PID");
    snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
    is_owner = !owner || !*owner || strcmp(owner, pidbuf) == 0;
    /* everything is read: the program gets its own environment back, and
     * its children ours (env.h) */
    env_take(is_owner ? getpid() : (pid_t)atoi(owner), core_cfg.fork_off);
    if (!is_owner && core_cfg.fork_off) {
        track_guard = guard;
        return; /* a fork child's exec'd image with HEAPLINE_FORK=off */
    }
    if (track_init() < 0) {
        core_disable("cannot set up stack capture");
        track_guard = guard;
        return;
    }
    fds_protect_libunwind(); /* first: unwind_init() starts libunwind, which opens its pipe */
    core_cfg.unwind = unwind_init(core_cfg.unwind);
    pyframes_init();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    choose_paths(is_owner);
    /* Exact mode reads the program's symbols before main, so the first
     * events do not fill the rings while the collector reads them. A sampled
     * run's rings carry only its samples: the collector reads symbols when
     * the first sample needs them, beside the program (the warm-up was 90 ms
     * of a 0.42 s sqlite3 run, most of it inflating libc's debug sections). */
    if ((core_cfg.record[0] || core_cfg.socket[0]) && !sample_on())
        collect_warm(); /* before core_start() starts the run's clock */
    core_start();
    if (started)
        install_fatal_handlers();
    track_guard = guard;
}

/* Options of heapline_attach(): lines "KEY=VALUE", keys record, socket,
 * sample (mean bytes per sample, 0: exact), depth, unwind, tick_ms,
 * compress. Unknown keys are ignored (an older collector loaded by a newer
 * heapline). */
static void late_config(const char *opts)
{
    memset(&core_cfg, 0, sizeof(core_cfg));
    record_base[0] = socket_base[0] = 0;
    socket_off = 1;
    core_cfg.compress = RECFILE_LEVEL_DEFAULT;
    core_cfg.depth = 64;
    core_cfg.tick_ms = 10;
    core_cfg.unwind = CORE_UNWIND_AUTO;
    core_cfg.fork_off = 1;            /* a fork child of an attached program runs untracked */
    core_cfg.attached = 1;            /* scans take their blocks from glibc's heap */
    untracked_set(UNTRACKED_GUARDED); /* scans leave the collector's own out */
    sample_configure(0);              /* exact unless asked: sample=BYTES */
    while (opts && *opts) {
        size_t n = strcspn(opts, "\n");
        const char *eq = memchr(opts, '=', n), *v = eq + 1;
        size_t k = eq ? (size_t)(eq - opts) : 0, vn = eq ? n - k - 1 : 0;
        char val[4096];

        if (eq && vn < sizeof(val)) {
            memcpy(val, v, vn);
            val[vn] = 0;
            if (k == 6 && !memcmp(opts, "record", 6))
                snprintf(record_base, sizeof(record_base), "%s", val);
            else if (k == 6 && !memcmp(opts, "socket", 6) && vn < sizeof(socket_base)) {
                memcpy(socket_base, val, vn + 1);
                socket_off = 0;
            } else if (k == 6 && !memcmp(opts, "sample", 6))
                sample_configure(strtoull(val, NULL, 10)); /* refuses out-of-range rates */
            else if (k == 5 && !memcmp(opts, "depth", 5) && atoi(val) >= 1 &&
                     atoi(val) <= CORE_MAX_DEPTH)
                core_cfg.depth = atoi(val);
            else if (k == 7 && !memcmp(opts, "tick_ms", 7) && atoi(val) >= 1)
                core_cfg.tick_ms = atoi(val);
            else if (k == 8 && !memcmp(opts, "compress", 8) && atoi(val) >= 0 && atoi(val) <= 22)
                core_cfg.compress = atoi(val);
            else if (k == 6 && !memcmp(opts, "unwind", 6))
                core_cfg.unwind = !strcmp(val, "fp")          ? CORE_UNWIND_FP
                                  : !strcmp(val, "libunwind") ? CORE_UNWIND_LIBUNWIND
                                                              : CORE_UNWIND_AUTO;
        }
        opts += n + (opts[n] == '\n');
    }
}

static void exit_status_cb(int status, void *arg);
static void core_shutdown(uint32_t reason, int32_t status);

/* Called by heapline's injector on one thread of the program, stopped at a
 * safe point (not inside the allocator or the loader); the program's other
 * threads run. Returns NULL when tracking is on, else a static reason. */
__attribute__((visibility("default"))) const char *heapline_attach(const char *opts);
const char *heapline_attach(const char *opts)
{
    int guard = track_guard;

    if (!late)
        return "this collector was started with the program, not attached";
    if (started && atomic_load(&core_on))
        return NULL; /* already on: the caller connects to its socket */
    if (started)     /* stopped by an error: finish that run first */
        core_shutdown(WIRE_END_DETACH, 0);
    track_guard = 1;
    late_config(opts);
    if (!late_ready) {
        hooks_init();
        if (track_init() < 0) {
            track_guard = guard;
            return "cannot set up stack capture";
        }
        fds_fit_table();
        fds_protect_libunwind(); /* before unwind_init(), which starts libunwind */
        core_cfg.unwind = unwind_init(core_cfg.unwind);
        pyframes_init();
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
        on_exit(exit_status_cb, NULL);
    }
    /* Exact mode: libdw is loaded here, on a thread outside the loader,
     * not later by the collector thread: a program thread inside dlopen()
     * holds the loader's lock, and if its malloc then waited on a full ring
     * the collector's own dlopen() would wait for it (the rings fill in
     * milliseconds in exact mode; a sampled run's hardly ever do). Once per
     * process; a missing libdw is said once, and tracking goes on. */
    if (!sample_on())
        dwlib_load();
    if (late_ready) {
        for (struct ring *r = ring_list(); r; r = r->next)
            r->announced = 0; /* a new stream names every thread again */
        unwind_init(core_cfg.unwind);
    }
    atomic_store(&core_reason, NULL);
    choose_paths(1);
    core_start();
    late_ready = 1;
    if (!started) {
        track_guard = guard;
        return core_disabled_reason() ? core_disabled_reason() : "cannot start the collector";
    }
    if (got_patch_all() < 0) {
        core_shutdown(WIRE_END_DETACH, 0);
        track_guard = guard;
        return "cannot read the program's modules";
    }
    track_guard = guard;
    return NULL;
}

/* Called by heapline's injector (q, the end of record --pid): turns
 * tracking off and asks the collector thread to end the run (its recording
 * gets END with WIRE_END_DETACH, its socket goes) without waiting for it, so
 * the calling thread is stopped no longer than this call; the injector then
 * waits for the thread named "heapline" to end. The hooks pass every call
 * through from now on. Returns where the run counts the frees of blocks it
 * never saw allocated (made before the attach: final once the thread has
 * ended), or NULL when this collector was not attached. */
__attribute__((visibility("default"))) const unsigned long long *heapline_detach(void);
const unsigned long long *heapline_detach(void)
{
    static const unsigned long long none;

    if (!late)
        return NULL;
    atomic_store(&core_on, 0);
    if (!started)
        return &none;
    collect_stop_async(WIRE_END_DETACH, 0); /* core_shutdown() joins it later */
    return collect_unknown_frees();
}

static void core_shutdown(uint32_t reason, int32_t status)
{
    int guard = track_guard;

    if (!started || scan_child)
        return;
    started = 0;
    track_guard = 1;
    collect_stop(reason, status);
    track_guard = guard;
}

/* The exit status, for END. An on_exit handler learns it; it must be
 * registered after libc registered its own exit handler (which runs the
 * libraries' destructors, ours included), that is when main() starts: hence
 * the wrapper of __libc_start_main below. The handler only records the status:
 * the program's static destructors, which run after it, may still free. */
static int exit_status;

static void exit_status_cb(int status, void *arg)
{
    exit_status = status;
}

typedef int main_fn(int, char **, char **);
static main_fn *real_main;

static int main_wrapper(int argc, char **argv, char **envp)
{
    int guard = track_guard;

    track_guard = 1; /* the exit-handler list is ours, not the program's */
    on_exit(exit_status_cb, NULL);
    track_guard = guard;
    return real_main(argc, argv, envp);
}

__attribute__((visibility("default"))) int __libc_start_main(main_fn *main, int argc, char **argv,
                                                             void (*init)(void), void (*fini)(void),
                                                             void (*rtld_fini)(void),
                                                             void *stack_end);
int __libc_start_main(main_fn *main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                      void (*rtld_fini)(void), void *stack_end)
{
    int (*real)(main_fn *, int, char **, void (*)(void), void (*)(void), void (*)(void), void *);
    int guard = track_guard;

    /* guarded: dlsym frees the error text an earlier dlsym left, a block
     * allocated before tracking (sampling mode would count its free) */
    track_guard = 1;
    real = dlsym(RTLD_NEXT, "__libc_start_main");
    track_guard = guard;
    if (!real)
        _exit(127);
    real_main = main;
    return real(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}

/* _exit and _Exit (fork children, shells) skip the destructors: finish the
 * recording here. Not in a vfork child, which shares the parent's memory and
 * collector (its pid is not the one the collector started in). */
static void exit_now(int status)
{
    if (started && !scan_child && getpid() == core_pid && !track_guard)
        core_shutdown(WIRE_END_EXIT, status);
}

__attribute__((visibility("default"), noreturn)) void _exit(int status);
void _exit(int status)
{
    exit_now(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

__attribute__((visibility("default"), noreturn)) void _Exit(int status);
void _Exit(int status)
{
    exit_now(status);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

/* dlclose: the collector names the library's frames before it goes away. */
__attribute__((visibility("default"))) int dlclose(void *handle);
int dlclose(void *handle)
{
    static int (*real_dlclose)(void *);
    int guard = track_guard;

    if (!real_dlclose)
        real_dlclose = (int (*)(void *))dlsym(RTLD_NEXT, "dlclose");
    if (!real_dlclose)
        return -1;
    if (!guard && started) {
        track_guard = 1;
        collect_sync();
        track_guard = guard;
    }
    return real_dlclose(handle);
}

__attribute__((destructor(101))) static void core_dtor(void)
{
    core_shutdown(WIRE_END_EXIT, exit_status);
}
