/*
 * test_sockdir.c - the socket directory rule (protocol/sockdir.h): the
 * candidates in order, HEAPLINE_SOCKET_DIR alone when set, and the checks
 * that refuse a directory open to others, a symlink or a file, and create a
 * missing one 0700 (its parent only for the $HOME fallback).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockdir.h"

static char tmp[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/heapline-sockdir.XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_candidates(void **state)
{
    char buf[256], want[256];

    (void)state;
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(sockdir_candidate(0, NULL, buf, sizeof(buf)), 0);
    assert_int_equal(sockdir_candidate(1, NULL, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "/run/user/7/heapline");
    assert_int_equal(sockdir_candidate(2, "", buf, sizeof(buf)), 1);
    snprintf(want, sizeof(want), "/tmp/heapline-%u", (unsigned)getuid());
    assert_string_equal(buf, want);
    assert_int_equal(sockdir_candidate(SOCKDIR_HOME, NULL, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "/home/someone/.cache/heapline");

    /* the user's choice is the only candidate */
    assert_int_equal(sockdir_candidate(0, "/srv/sock", buf, sizeof(buf)), 1);
    assert_string_equal(buf, "/srv/sock");
    for (int i = 1; i < SOCKDIR_CANDIDATES; i++)
        assert_int_equal(sockdir_candidate(i, "/srv/sock", buf, sizeof(buf)), 0);

    /* unset variables drop their candidates; a relative HOME too */
    unsetenv("XDG_RUNTIME_DIR");
    setenv("HOME", "relative", 1);
    assert_int_equal(sockdir_candidate(1, NULL, buf, sizeof(buf)), 0);
    assert_int_equal(sockdir_candidate(SOCKDIR_HOME, NULL, buf, sizeof(buf)), 0);

    /* a directory whose sockets would not fit sun_path */
    memset(want, 'a', 120);
    want[0] = '/';
    want[120] = 0;
    assert_int_equal(sockdir_candidate(0, want, buf, sizeof(buf)), SOCKDIR_ETOOLONG);
}

static void test_checks(void **state)
{
    char d[128], f[128];
    struct stat st;

    (void)state;
    snprintf(d, sizeof(d), "%s/new", tmp);
    assert_int_equal(sockdir_check(d, 0), SOCKDIR_ENOENT);
    assert_int_equal(sockdir_check(d, SOCKDIR_MKDIR), 0);
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(chmod(d, 0777), 0);
    assert_int_equal(sockdir_check(d, SOCKDIR_MKDIR), SOCKDIR_EOPEN);
    assert_int_equal(chmod(d, 0720), 0);
    assert_int_equal(sockdir_check(d, 0), SOCKDIR_EOPEN);
    assert_string_equal(sockdir_strerror(SOCKDIR_EOPEN), "writable by others");

    assert_int_equal(chmod(d, 0700), 0);
    if (getuid() == 0) { /* another user's directory (root can make one) */
        assert_int_equal(chown(d, 65534, 65534), 0);
        assert_int_equal(sockdir_check(d, SOCKDIR_MKDIR), SOCKDIR_EOWNER);
        assert_int_equal(chown(d, 0, 0), 0);
    }
    assert_int_equal(sockdir_check(d, 0), 0);

    snprintf(f, sizeof(f), "%s/link", tmp);
    assert_int_equal(symlink(d, f), 0);
    assert_int_equal(sockdir_check(f, SOCKDIR_MKDIR), SOCKDIR_ENOTDIR);

    snprintf(f, sizeof(f), "%s/file", tmp);
    fclose(fopen(f, "w"));
    assert_int_equal(sockdir_check(f, SOCKDIR_MKDIR), SOCKDIR_ENOTDIR);

    /* a missing parent: made only for the $HOME fallback */
    snprintf(d, sizeof(d), "%s/.cache/heapline", tmp);
    assert_int_equal(sockdir_check(d, SOCKDIR_MKDIR), SOCKDIR_ECREATE);
    assert_int_equal(sockdir_check(d, SOCKDIR_MKDIR_PARENT), 0);
    snprintf(f, sizeof(f), "%s/.cache", tmp);
    assert_int_equal(stat(f, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
