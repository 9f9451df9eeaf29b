/*
 * test_elfpages.c - the pages of a file image that are given back: only
 * present, unmodified file pages; a page written since (copy-on-write) and
 * anonymous memory keep their bytes. Exact byte counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "elfpages.h"
#include "fds.h"

#define PAGES 16

/* fds.c (it interposes close) stays out of the test: the descriptor is a
 * plain one here. */
int fds_adopt(int fd)
{
    return fd;
}

void fds_close(int fd)
{
    close(fd);
}

static void test_file_pages(void **state)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char path[] = "/tmp/test_elfpagesXXXXXX";
    int fd = mkstemp(path);
    char *buf = malloc(PAGES * pg), *m;
    volatile char sum = 0;

    (void)state;
    assert_true(fd >= 0 && buf);
    for (size_t i = 0; i < PAGES * pg; i++)
        buf[i] = (char)(i * 7 + i / pg);
    assert_int_equal(write(fd, buf, PAGES * pg), (ssize_t)(PAGES * pg));
    /* out of the page cache, and read back a page a fault (no read-ahead):
     * a fault then maps no page besides the ones read (fault-around maps
     * only pages the cache holds) */
    assert_int_equal(fdatasync(fd), 0);
    assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    m = mmap(NULL, PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(madvise(m, PAGES * pg, MADV_RANDOM), 0);
    for (size_t i = 0; i < 10; i++) /* pages 0-9 read, 10-15 never */
        sum += m[i * pg];
    m[3 * pg + 1] = 'x'; /* page 3 is copied: anonymous now */

    assert_int_equal(elfpages_drop(m, PAGES * pg), 9 * pg);
    buf[3 * pg + 1] = 'x';
    assert_memory_equal(m, buf, PAGES * pg); /* the file's bytes read back, page 3 kept */
    assert_int_equal(elfpages_drop(m + 5, 2 * pg), 3 * pg); /* pages 0-2, read again */

    munmap(m, PAGES * pg);
    close(fd);
    unlink(path);
    free(buf);
}

static void test_anonymous(void **state)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *a = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    (void)state;
    assert_true(a != MAP_FAILED);
    memset(a, 'a', 4 * pg);
    assert_int_equal(elfpages_drop(a, 4 * pg), 0);
    for (size_t i = 0; i < 4 * pg; i++)
        assert_int_equal(a[i], 'a');
    assert_int_equal(elfpages_drop(NULL, pg), 0);
    munmap(a, 4 * pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_pages),
        cmocka_unit_test(test_anonymous),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
