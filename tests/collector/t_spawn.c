/*
 * t_spawn.c - vfork-style children: system(3) (fork+exec of sh) and
 * posix_spawn(3) (clone with CLONE_VM|CLONE_VFORK: the child runs in the
 * parent's memory until it execs). Around them, exact figures: site_spawn_before
 * 5 x 100 kept, site_spawn_between 5 x 200 kept, site_spawn_after 5 x 300 kept.
 */
#include <spawn.h>
#include <sys/wait.h>

#include "t_common.h"

extern char **environ;

SITE void *site_spawn_before(size_t n) { return sink(malloc(n)); }
SITE void *site_spawn_between(size_t n) { return sink(malloc(n)); }
SITE void *site_spawn_after(size_t n) { return sink(malloc(n)); }

int main(void)
{
    for (int i = 0; i < 5; i++)
        site_spawn_before(100);
    for (int i = 0; i < 5; i++)
        T_ASSERT(system("true") == 0);
    for (int i = 0; i < 5; i++)
        site_spawn_between(200);
    for (int i = 0; i < 5; i++) {
        pid_t pid;
        char *argv[] = {"true", NULL};
        int st;
        T_ASSERT(posix_spawnp(&pid, "true", NULL, NULL, argv, environ) == 0);
        T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    for (int i = 0; i < 5; i++)
        site_spawn_after(300);
    return 0;
}
