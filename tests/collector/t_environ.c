/*
 * t_environ.c - prints its environment, then has it printed by three
 * children of itself: one fork+execv'd, one posix_spawn'ed, one run by
 * system(3). Each process allocates 1 x 77 at site_environ. Run bare and under
 * heapline, the output must be the same: heapline's variables are gone from
 * every process's environment, yet each child is recorded (FILE.<pid>).
 */
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "t_common.h"

extern char **environ;

SITE void *site_environ(size_t n) { return sink(malloc(n)); }

static void print_env(const char *who)
{
    for (char **e = environ; *e; e++)
        printf("%s: %s\n", who, *e);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    char cmd[4200];
    pid_t pid;
    int st;

    site_environ(77);
    if (argc > 1) { /* a child: say what it sees */
        print_env(argv[1]);
        return 0;
    }
    print_env("main");
    pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        char *args[] = {argv[0], "exec", NULL};
        execv("/proc/self/exe", args);
        _exit(98);
    }
    T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    {
        char *args[] = {argv[0], "spawn", NULL};
        T_ASSERT(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) == 0);
        T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    T_ASSERT(snprintf(cmd, sizeof(cmd), "exec '%s' system", argv[0]) < (int)sizeof(cmd));
    T_ASSERT(system(cmd) == 0);
    return 0;
}
