/*
 * t_fork.c - figures across fork.
 * Parent: site_parent_before 2 x 1000 (kept), fork, wait, site_parent_after
 * 4 x 250 (kept). Child: frees one of the parent's blocks (unknown to a fresh
 * collector), site_child 3 x 500 (kept), exit(0).
 * argv[1]: file the child's pid is written to. No stdio.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "t_common.h"

SITE void *site_parent_before(size_t n) { return sink(malloc(n)); }
SITE void *site_parent_after(size_t n) { return sink(malloc(n)); }
SITE void *site_child(size_t n) { return sink(malloc(n)); }

int main(int argc, char **argv)
{
    T_ASSERT(argc == 2);
    void *before[2];
    for (int i = 0; i < 2; i++)
        before[i] = site_parent_before(1000);
    pid_t pid = fork();
    T_ASSERT(pid >= 0);
    if (pid == 0) {
        free(before[0]);
        for (int i = 0; i < 3; i++)
            site_child(500);
        exit(0);
    }
    int st;
    T_ASSERT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0 && write(fd, buf, (size_t)n) == n);
    close(fd);
    for (int i = 0; i < 4; i++)
        site_parent_after(250);
    return 0;
}
