/*
 * t_closefds.c - a daemon-like start: close every descriptor above 2, then
 * open a file of its own (argv[1]), write "hello\n", allocate, write
 * "bye\n", exit. The program's file must hold exactly its own bytes (a
 * collector writing to a descriptor it no longer owns would corrupt it), and
 * the figures stay exact: site_daemon 10 x 1000, 4 freed.
 */
#include <fcntl.h>
#include <string.h>

#include "t_common.h"

SITE void *site_daemon(size_t n) { return sink(malloc(n)); }

int main(int argc, char **argv)
{
    T_ASSERT(argc == 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    T_ASSERT(fd >= 0);
    T_ASSERT(write(fd, "hello\n", 6) == 6);
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = site_daemon(1000);
    for (int i = 0; i < 4; i++)
        free(p[i]);
    /* give a collector thread time to write, to the descriptor it thinks is its own */
    for (volatile long i = 0; i < 50000000; i++)
        ;
    T_ASSERT(write(fd, "bye\n", 4) == 4);
    close(fd);
    return 0;
}
