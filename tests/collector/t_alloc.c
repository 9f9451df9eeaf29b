/*
 * t_alloc.c - the whole malloc family, one site function per call kind.
 * No stdio: every allocation of this process is one of the sites below, so
 * the totals are known too. Expected figures: see run.sh (test "alloc").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "t_common.h"

SITE void *site_malloc(size_t n) { return sink(malloc(n)); }
SITE void *site_malloc0(void) { return sink(malloc(0)); }
SITE void *site_calloc(size_t k, size_t n) { return sink(calloc(k, n)); }
SITE void *site_realloc_src(size_t n) { return sink(malloc(n)); }
SITE void *site_realloc_grow(void *p, size_t n) { return sink(realloc(p, n)); }
SITE void *site_realloc_shrink(void *p, size_t n) { return sink(realloc(p, n)); }
SITE void *site_realloc_null(size_t n) { return sink(realloc(NULL, n)); }
SITE void *site_realloc0_src(size_t n) { return sink(malloc(n)); }
SITE void *site_realloc_zero(void *p) { return sink(realloc(p, 0)); }
SITE void *site_realloc_loop(void *p, size_t n) { return sink(realloc(p, n)); }
SITE void *site_reallocarray(void *p, size_t k, size_t n) { return sink(reallocarray(p, k, n)); }
SITE void *site_posix_memalign(size_t align, size_t n, int *rc)
{
    void *p = NULL;
    *rc = posix_memalign(&p, align, n);
    return sink(p);
}
SITE void *site_aligned_alloc(size_t align, size_t n) { return sink(aligned_alloc(align, n)); }
SITE void *site_memalign(size_t align, size_t n) { return sink(memalign(align, n)); }
SITE void *site_valloc(size_t n) { return sink(valloc(n)); }
SITE void *site_pvalloc(size_t n) { return sink(pvalloc(n)); }
SITE void *site_realloc_fail_src(size_t n) { return sink(malloc(n)); }
SITE void *site_realloc_fail(void *p, size_t n) { return sink(realloc(p, n)); }
SITE void *site_calloc_fail(size_t k, size_t n) { return sink(calloc(k, n)); }
SITE void *site_malloc_fail(size_t n) { return sink(malloc(n)); }

int main(void)
{
    /* malloc/free: 10 blocks 100..1000 (5500 bytes), free the first 4 (1000 bytes). */
    void *m[10];
    for (int i = 0; i < 10; i++)
        m[i] = site_malloc((size_t)(i + 1) * 100);
    for (int i = 0; i < 4; i++)
        free(m[i]);
    T_ASSERT(malloc_usable_size(m[9]) >= 1000);
    for (int i = 0; i < 5; i++)
        free(NULL);

    /* malloc(0) x3, kept. */
    for (int i = 0; i < 3; i++)
        T_ASSERT(site_malloc0() != NULL);

    /* calloc(10, 24) x4 = 960 bytes, free 1. */
    void *c[4];
    for (int i = 0; i < 4; i++)
        c[i] = site_calloc(10, 24);
    T_ASSERT(((char *)c[3])[239] == 0);
    free(c[0]);

    /* realloc grow and shrink of two blocks from site_realloc_src. */
    void *a = site_realloc_src(100), *b = site_realloc_src(100);
    a = site_realloc_grow(a, 5000);
    b = site_realloc_shrink(b, 10);
    T_ASSERT(a && b);

    /* realloc(NULL, 777) x2. */
    T_ASSERT(site_realloc_null(777) && site_realloc_null(777));

    /* realloc(p, 0): glibc frees p and returns NULL. */
    void *z = site_realloc0_src(300);
    T_ASSERT(site_realloc_zero(z) == NULL);

    /* one block grown 100 times at one site: 16, 32, ..., 1600. */
    void *r = NULL;
    for (int i = 1; i <= 100; i++)
        r = site_realloc_loop(r, (size_t)i * 16);
    T_ASSERT(malloc_usable_size(r) >= 1600);

    /* reallocarray: 7x9 then 20x9 (same block); an overflowing one fails. */
    void *ra = site_reallocarray(NULL, 7, 9);
    ra = site_reallocarray(ra, 20, 9);
    T_ASSERT(ra);
    errno = 0;
    T_ASSERT(site_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);

    /* posix_memalign(64, 1000) x3, free 1; a bad alignment fails with EINVAL. */
    void *pm[3];
    int rc;
    for (int i = 0; i < 3; i++) {
        pm[i] = site_posix_memalign(64, 1000, &rc);
        T_ASSERT(rc == 0 && ((uintptr_t)pm[i] & 63) == 0);
    }
    free(pm[1]);
    T_ASSERT(site_posix_memalign(3, 1000, &rc) == NULL && rc == EINVAL);

    /* aligned_alloc(256, 512) x2. */
    for (int i = 0; i < 2; i++)
        T_ASSERT(((uintptr_t)site_aligned_alloc(256, 512) & 255) == 0);

    /* memalign(128, 300) x2, free 1. */
    void *ma = site_memalign(128, 300);
    T_ASSERT(((uintptr_t)site_memalign(128, 300) & 127) == 0);
    free(ma);

    /* valloc(5000), pvalloc(100): the sizes asked for, not the page-rounded ones. */
    T_ASSERT(((uintptr_t)site_valloc(5000) & 4095) == 0);
    T_ASSERT(((uintptr_t)site_pvalloc(100) & 4095) == 0);

    /* Failures allocate nothing; a failed realloc leaves its block where it was. */
    void *keep = site_realloc_fail_src(50);
    T_ASSERT(site_realloc_fail(keep, SIZE_MAX / 2) == NULL);
    T_ASSERT(site_calloc_fail(SIZE_MAX / 2, 4) == NULL);
    T_ASSERT(site_malloc_fail(SIZE_MAX / 2) == NULL);
    T_ASSERT(malloc_usable_size(keep) >= 50);
    return 0;
}
