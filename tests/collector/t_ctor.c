/*
 * t_ctor.c - allocations before main: ctor_site_early (constructor priority
 * 101) 2 x 64, ctor_site 7 x 123, plus libt_ctorlib's 3 x 321; then main_site
 * 1 x 10. All kept.
 */
#include "t_common.h"

int ctorlib_ready(void);

SITE void *ctor_site_early(size_t n) { return sink(malloc(n)); }
SITE void *ctor_site(size_t n) { return sink(malloc(n)); }
SITE void *main_site(size_t n) { return sink(malloc(n)); }

__attribute__((constructor(101))) static void early(void)
{
    for (int i = 0; i < 2; i++)
        ctor_site_early(64);
}

__attribute__((constructor)) static void late(void)
{
    for (int i = 0; i < 7; i++)
        ctor_site(123);
}

int main(void)
{
    T_ASSERT(ctorlib_ready());
    main_site(10);
    return 0;
}
