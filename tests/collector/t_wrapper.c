/*
 * t_wrapper.c - one allocation wrapper, site_wrap, called from three
 * callers, as a program's xmalloc is: the report names the wrapper as the
 * site and breaks it down by caller.
 * Expected at end (all live): site_wrap 18 blocks, 13,400 bytes, from
 * caller_big 4 x 2,000 (8,000), caller_mid 4 x 1,000 (4,000), caller_small
 * 10 x 140 (1,400); caller_small also makes 5 blocks of 10 bytes it frees.
 */
#include <stdlib.h>

#include "t_common.h"

SITE void *site_wrap(size_t n)
{
    void *p = malloc(n);

    T_ASSERT(p);
    return sink(p);
}

SITE void caller_big(void)
{
    for (int i = 0; i < 4; i++)
        sink(site_wrap(2000));
}

SITE void caller_mid(void)
{
    for (int i = 0; i < 4; i++)
        sink(site_wrap(1000));
}

SITE void caller_small(void)
{
    for (int i = 0; i < 10; i++)
        sink(site_wrap(140));
    for (int i = 0; i < 5; i++)
        free(sink(site_wrap(10)));
}

int main(void)
{
    caller_small();
    caller_mid();
    caller_big();
    return 0;
}
