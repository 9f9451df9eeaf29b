/*
 * t_execd.c - the program a wrapper script execs: site_execd 6 x 4096, 2 freed.
 */
#include "t_common.h"

SITE void *site_execd(size_t n) { return sink(malloc(n)); }

int main(void)
{
    void *p[6];
    for (int i = 0; i < 6; i++)
        p[i] = site_execd(4096);
    free(p[0]);
    free(p[5]);
    return 0;
}
