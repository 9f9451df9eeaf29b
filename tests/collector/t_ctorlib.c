/*
 * t_ctorlib.c - libt_ctorlib.so, linked into t_ctor: its constructor runs
 * before the executable's, and allocates 3 x 321 (kept).
 */
#include "t_common.h"

SITE void *ctorlib_site(size_t n) { return sink(malloc(n)); }

__attribute__((constructor)) static void ctorlib_init(void)
{
    for (int i = 0; i < 3; i++)
        ctorlib_site(321);
}

int ctorlib_ready(void) { return 1; }
