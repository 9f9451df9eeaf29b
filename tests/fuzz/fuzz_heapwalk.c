/*
 * fuzz_heapwalk.c - libFuzzer target: arbitrary bytes as the four ranges of
 * a heap image (heapimage.h: libc's data, [heap], a thread heap, an mmapped
 * region) through heapwalk_image(), the walker of glibc's chunks that reads
 * a snapshot's outside bytes, by shape and then with the image's threads
 * (heapimage_tls(): their lists and tcache pointers are bytes of the input
 * too). Every block it yields must lie in a range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/heapimage.h"
#include "heapwalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct heapwalk_map maps[4];

static void check(void *arg, uint64_t addr, uint64_t usable)
{
    int in = 0;

    (void)arg;
    for (size_t i = 0; i < 4; i++)
        in |= addr >= maps[i].lo && addr < maps[i].hi && usable <= maps[i].hi - addr + 8;
    if (!in)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct heapimage im;
    const char *why = NULL;
    size_t n;

    memset(&im, 0, sizeof(im));
    memcpy(&im, data, size < sizeof(im) ? size : sizeof(im));
    static const struct heapwalk_tls tls = {{HI_USED, HI_USER}, HI_LIST_OFF, HI_TCACHE_OFF};

    n = heapimage_maps(&im, maps);
    if (heapwalk_image(maps, n, NULL, check, NULL, NULL, &why) != 0 && !why)
        abort();
    why = NULL;
    if (heapwalk_image(maps, n, &tls, check, NULL, NULL, &why) != 0 && !why)
        abort();
    return 0;
}
