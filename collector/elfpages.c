/*
 * elfpages.c - drops the file pages of an image libelf mapped (elfpages.h).
 *
 * Invariant: only a page /proc/self/pagemap shows present and file-backed
 * (not anonymous: never a page written since it was mapped, never malloc'd
 * memory) is given to madvise(MADV_DONTNEED). On such a page of a private
 * file mapping DONTNEED only unmaps it: the next read faults the same bytes
 * back from the page cache.
 */
#include "elfpages.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fds.h"

#define PM_PRESENT (1ull << 63)
#define PM_FILE (1ull << 61) /* file page or shared anonymous */
#define CHUNK 512            /* pages read from the page map at a time */

size_t elfpages_drop(const void *p, size_t size)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(page - 1);
    uintptr_t hi = ((uintptr_t)p + size + page - 1) & ~(page - 1);
    uint64_t pm[CHUNK];
    uintptr_t run = 0, a = lo; /* run: start of the droppable pages, 0 none */
    size_t dropped = 0;
    int fd;

    if (!p || !size || (fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    fd = fds_adopt(fd);
    while (a < hi) {
        size_t want = (hi - a) / page < CHUNK ? (hi - a) / page : CHUNK;
        ssize_t got = pread(fd, pm, want * sizeof(*pm), (off_t)(a / page * sizeof(*pm)));

        if (got <= 0)
            break;
        for (size_t i = 0; i < (size_t)got / sizeof(*pm); i++, a += page) {
            int drop = (pm[i] & (PM_PRESENT | PM_FILE)) == (PM_PRESENT | PM_FILE);

            if (drop && !run)
                run = a;
            if (!drop && run) {
                if (madvise((void *)run, a - run, MADV_DONTNEED) == 0)
                    dropped += a - run;
                run = 0;
            }
        }
    }
    if (run && madvise((void *)run, a - run, MADV_DONTNEED) == 0) /* a: the last page read */
        dropped += a - run;
    fds_close(fd);
    return dropped;
}
