/*
 * t_big.c - blocks the allocator takes from mmap: site_big_malloc 200 MiB
 * (freed), site_big_calloc 64 MiB (kept), site_big_src 1 MiB grown by
 * site_big_grow to 3 MiB (mremap) then shrunk by site_big_shrink to 100 bytes
 * (kept). No stdio.
 */
#include <string.h>

#include "t_common.h"

SITE void *site_big_malloc(size_t n) { return sink(malloc(n)); }
SITE void *site_big_calloc(size_t k, size_t n) { return sink(calloc(k, n)); }
SITE void *site_big_src(size_t n) { return sink(malloc(n)); }
SITE void *site_big_grow(void *p, size_t n) { return sink(realloc(p, n)); }
SITE void *site_big_shrink(void *p, size_t n) { return sink(realloc(p, n)); }

int main(void)
{
    char *m = site_big_malloc(200u << 20);
    T_ASSERT(m);
    memset(m, 1, 4096);
    free(m);
    char *c = site_big_calloc(64, 1u << 20);
    T_ASSERT(c && c[(64u << 20) - 1] == 0);
    char *r = site_big_src(1u << 20);
    T_ASSERT(r);
    r[0] = 7;
    r = site_big_grow(r, 3u << 20);
    T_ASSERT(r && r[0] == 7);
    r = site_big_shrink(r, 100);
    T_ASSERT(r && r[0] == 7);
    return 0;
}
