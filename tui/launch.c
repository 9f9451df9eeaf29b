/*
 * launch.c - start a program under the collector.
 *
 * posix_spawn: the child shares heapline's memory until it execs (no copy
 * of heapline's page tables, nor the copy-on-write faults after a fork: 0.2
 * ms of `heapline record`'s start-up); its environment is built here, its
 * descriptors and signal dispositions set by the spawn's attributes, and an
 * exec failure is the spawn's return value.
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockpath.h"

extern char **environ;

/* "name=value" in a new string, or NULL. */
static char *env_pair(const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *p = malloc(n + v + 2);

    if (p) {
        memcpy(p, name, n);
        p[n] = '=';
        memcpy(p + n + 1, value, v + 1);
    }
    return p;
}

static int env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);

    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The child's environment: heapline's, with libheapline.so first in
 * LD_PRELOAD, HEAPLINE_RECORD and HEAPLINE_SOCKET as asked (with a socket,
 * HEAPLINE_DEFER=off: its client is already waiting), no
 * HEAPLINE_OWNER_PID (the program is a new owner, not a fork child), and
 * PYTHONMALLOC=malloc unless the user chose one: CPython then takes every
 * object from malloc, so each is a block we see (pymalloc serves small
 * ones from its own arenas); HEAPLINE_PYTHONMALLOC says it is ours, and the
 * collector takes it out of a program that is not CPython (env.c), so that
 * one's environment is as bare. *added gets how many entries at the end
 * were allocated here. NULL when out of memory. */
static char **child_env(const struct launch *l, const char *preload, int *added)
{
    static const char *const replaced[] = {"LD_PRELOAD", "HEAPLINE_OWNER_PID", "HEAPLINE_RECORD"};
    int python = getenv("PYTHONMALLOC") == NULL;
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = malloc((n + 7) * sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int skip = (l->socket && (env_is(environ[i], "HEAPLINE_SOCKET") ||
                                  env_is(environ[i], "HEAPLINE_DEFER"))) ||
                   (python && env_is(environ[i], "HEAPLINE_PYTHONMALLOC"));

        for (size_t j = 0; j < sizeof(replaced) / sizeof(replaced[0]); j++)
            skip |= env_is(environ[i], replaced[j]);
        if (!skip)
            env[k++] = environ[i];
    }
    *added = 0;
    env[k + (*added)++] = env_pair("LD_PRELOAD", preload);
    if (l->socket) {
        env[k + (*added)++] = env_pair("HEAPLINE_SOCKET", l->socket);
        /* heapline run's screen connects at once: a collector thread that
         * waited for the program's next sample point would keep it waiting */
        env[k + (*added)++] = env_pair("HEAPLINE_DEFER", "off");
    }
    if (python) {
        env[k + (*added)++] = env_pair("PYTHONMALLOC", "malloc");
        env[k + (*added)++] = env_pair("HEAPLINE_PYTHONMALLOC", "1");
    }
    if (l->record)
        env[k + (*added)++] = env_pair("HEAPLINE_RECORD", l->record);
    env[k + *added] = NULL;
    for (int i = 0; i < *added; i++)
        if (!env[k + i]) {
            for (int j = 0; j < *added; j++)
                free(env[k + j]);
            free(env);
            return NULL;
        }
    return env;
}

static void child_env_free(char **env, int added)
{
    size_t n = 0;

    while (env[n])
        n++;
    for (int i = 0; i < added; i++)
        free(env[n - 1 - (size_t)i]);
    free(env);
}

/* posix_spawnp, and, as execvp does, a file that is no executable format
 * (a script without "#!") run by /bin/sh. Returns 0 or an errno. */
static int spawn(pid_t *pid, char *const argv[], const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attr, char **env)
{
    int e = posix_spawnp(pid, argv[0], fa, attr, argv, env);

    if (e == ENOEXEC) {
        size_t n = 0;
        char **sh;
        char path[PATH_MAX];

        while (argv[n])
            n++;
        sh = malloc((n + 2) * sizeof(*sh));
        if (!sh)
            return ENOEXEC;
        /* the path execvp found: the name itself when it has a slash, else
         * the first PATH entry that names an executable file */
        if (strchr(argv[0], '/')) {
            snprintf(path, sizeof(path), "%s", argv[0]);
        } else {
            const char *dirs = getenv("PATH"), *p;

            path[0] = 0;
            for (p = dirs ? dirs : "/bin:/usr/bin"; p && !path[0];) {
                const char *c = strchr(p, ':');
                int len = c ? (int)(c - p) : (int)strlen(p);

                snprintf(path, sizeof(path), "%.*s%s%s", len, p, len ? "/" : "", argv[0]);
                if (access(path, X_OK) != 0)
                    path[0] = 0;
                p = c ? c + 1 : NULL;
            }
        }
        sh[0] = "/bin/sh";
        sh[1] = path[0] ? path : argv[0];
        memcpy(sh + 2, argv + 1, n * sizeof(*sh)); /* and the NULL */
        e = posix_spawn(pid, "/bin/sh", fa, attr, sh, env);
        free(sh);
    }
    return e;
}

int launch_start(struct launch *l, char *err, size_t errsz)
{
    char lib[PATH_MAX], preload[2 * PATH_MAX + 2];
    const char *pre = getenv("LD_PRELOAD");
    struct sigaction ign = {.sa_handler = SIG_IGN};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def;
    char **env;
    int added, e;

    l->pid = 0;
    l->exec_errno = 0;
    if (sockpath_lib(lib, sizeof(lib), err, errsz) != 0)
        return -1;
    if (pre && *pre)
        snprintf(preload, sizeof(preload), "%s:%s", lib, pre);
    else
        snprintf(preload, sizeof(preload), "%s", lib);
    if (!(env = child_env(l, preload, &added))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (l->log_fd >= 0) {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, l->log_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, l->log_fd, 2);
    }
    if (l->hold_signals) {
        sigemptyset(&ign.sa_mask);
        sigaction(SIGINT, &ign, &l->old_int);
        sigaction(SIGQUIT, &ign, &l->old_quit);
        /* the program gets the dispositions heapline had: one ignored
         * before stays ignored, any other is the default after an exec */
        sigemptyset(&def);
        if (l->old_int.sa_handler != SIG_IGN)
            sigaddset(&def, SIGINT);
        if (l->old_quit.sa_handler != SIG_IGN)
            sigaddset(&def, SIGQUIT);
        posix_spawnattr_setsigdefault(&attr, &def);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    }
    e = spawn(&l->pid, l->argv, &fa, &attr, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    child_env_free(env, added);
    if (e != 0) {
        l->pid = 0;
        l->exec_errno = e;
        snprintf(err, errsz, "%s: %s", l->argv[0], strerror(e));
        return -1;
    }
    return 0;
}

void launch_release_signals(struct launch *l)
{
    if (!l->hold_signals)
        return;
    sigaction(SIGINT, &l->old_int, NULL);
    sigaction(SIGQUIT, &l->old_quit, NULL);
}
