/*
 * t_atexit.c - memory freed on the way out is not a leak. Four blocks:
 * site_atexit_early (freed by an atexit handler registered in a constructor,
 * before main), site_atexit_main (atexit handler registered in main),
 * site_dtor (freed in a destructor), site_leak (never freed: the only leak,
 * 77 bytes).
 */
#include "t_common.h"

SITE void *site_atexit_early(size_t n) { return sink(malloc(n)); }
SITE void *site_atexit_main(size_t n) { return sink(malloc(n)); }
SITE void *site_dtor(size_t n) { return sink(malloc(n)); }
SITE void *site_leak(size_t n) { return sink(malloc(n)); }

static void *early, *inmain, *indtor;

static void free_early(void) { free(early); }
static void free_inmain(void) { free(inmain); }

__attribute__((constructor)) static void init(void)
{
    early = site_atexit_early(1000);
    atexit(free_early);
}

__attribute__((destructor)) static void fini(void) { free(indtor); }

int main(void)
{
    inmain = site_atexit_main(2000);
    atexit(free_inmain);
    indtor = site_dtor(3000);
    site_leak(77);
    return 0;
}
