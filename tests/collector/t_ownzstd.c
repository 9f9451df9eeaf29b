/*
 * t_ownzstd.c - a program with a libzstd of its own. The collector carries
 * a private zstd (and msgpack-c) when the build could link their archives
 * into it: the program's calls must still reach its own shared libzstd, and
 * its round trip must succeed. Prints where ZSTD_compress came from. Exact
 * figures: site_own makes 10 blocks of 4096 bytes, 5 of them kept.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <zstd.h>

#include "t_common.h"

static void *kept[5];

SITE static void *site_own(size_t n)
{
    return sink(malloc(n));
}

int main(void)
{
    static char in[64 << 10], back[64 << 10];
    size_t cap = ZSTD_compressBound(sizeof(in)), n, m;
    char *z = malloc(cap);
    Dl_info di;

    T_ASSERT(z);
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (char)("heapline"[i % 8] + (i / 4096));
    n = ZSTD_compress(z, cap, in, sizeof(in), 3);
    T_ASSERT(!ZSTD_isError(n));
    m = ZSTD_decompress(back, sizeof(back), z, n);
    T_ASSERT(m == sizeof(in) && memcmp(in, back, sizeof(in)) == 0);
    free(z);
    T_ASSERT(dladdr((void *)ZSTD_compress, &di) && di.dli_fname);
    printf("ZSTD_compress from %s\n",
           strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname);
    for (int i = 0; i < 10; i++) {
        void *p = site_own(4096);

        T_ASSERT(p);
        if (i < 5)
            kept[i] = p;
        else
            free(p);
    }
    return 0;
}
