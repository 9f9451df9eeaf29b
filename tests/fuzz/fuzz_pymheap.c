/*
 * fuzz_pymheap.c - libFuzzer target: arbitrary bytes as a 16 KiB pymalloc
 * pool image through pymheap_pool(), the reader of a snapshot's pool
 * headers and free chains (outside bytes). Every block it yields must lie
 * inside the pool, on its size class's grid, once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pymheap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 0x7f0000000000ull

static unsigned char pool[PYMHEAP_POOL];
static uint64_t last;

static void check(void *arg, uint64_t addr, uint64_t bsize)
{
    (void)arg;
    if (addr < BASE + 48 || addr + bsize > BASE + PYMHEAP_POOL || bsize % 16 || bsize > 512 ||
        (addr - BASE - 48) % bsize || addr <= last)
        abort();
    last = addr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a short input is a header, the rest of the pool a pattern of it */
    memset(pool, 0, sizeof(pool));
    for (size_t i = 0; size && i < sizeof(pool); i += size)
        memcpy(pool + i, data, size < sizeof(pool) - i ? size : sizeof(pool) - i);
    if (size >= 48)
        memcpy(pool, data, 48);
    last = 0;
    pymheap_pool(pool, BASE, check, NULL);
    return 0;
}
