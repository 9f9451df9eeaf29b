/*
 * t_inline.c - inlined frames: the allocation is made in t_inline_inner,
 * inlined into t_inline_middle, itself inlined into site_inline_outer (not
 * inlined), all in one frame of the machine stack. Built -O2 -g. Expected:
 * 7 blocks of 40 bytes live at the end, at the site named after the
 * innermost inlined function, t_inline_inner; the recording names every
 * level of the chain, the middle one included (libdw's dwarf_getscopes()
 * skipped it, and gave its call site to the outer function).
 */
#include "t_common.h"

static inline __attribute__((always_inline)) void *t_inline_inner(size_t n)
{
    return sink(malloc(n));
}

static inline __attribute__((always_inline)) void *t_inline_middle(size_t n)
{
    return sink(t_inline_inner(n));
}

SITE void *site_inline_outer(size_t n)
{
    return sink(t_inline_middle(n));
}

int main(void)
{
    for (int i = 0; i < 7; i++)
        site_inline_outer(40);
    return 0;
}
