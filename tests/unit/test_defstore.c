/*
 * test_defstore.c - definitions kept for later clients: a replay sends back
 * every byte appended, in order, across the compressed frames and the tail,
 * in far less memory than they take raw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "defstore.h"

static char *got;
static size_t got_len, sends;

static void collect(void *arg, const char *bytes, size_t n)
{
    (void)arg;
    assert_true(n > 0 && n <= DEFSTORE_CHUNK);
    memcpy(got + got_len, bytes, n);
    got_len += n;
    sends++;
}

/* Messages like the stream's: a stack node's ids and address, a frame's
 * name and file, of every length from 1 byte to twice a chunk. */
static size_t message(char *m, unsigned k)
{
    size_t n = k % 97 == 0 ? 2 * DEFSTORE_CHUNK + k % 13 : 1 + k % 61;

    for (size_t i = 0; i < n; i++)
        m[i] = "node 0x7f12a4 frame json_loads decoder.c "[(i + k) % 41];
    memcpy(m, &k, n < sizeof(k) ? n : sizeof(k));
    return n;
}

static void test_replay(void **state)
{
    size_t cap = 12u << 20, len = 0;
    char *want = malloc(cap), *buf = malloc(DEFSTORE_CHUNK);
    static char m[2 * DEFSTORE_CHUNK + 64];

    (void)state;
    got = malloc(cap);
    assert_true(want && got && buf);
    defstore_forget();
    got_len = sends = 0;
    defstore_replay(collect, NULL, buf, DEFSTORE_CHUNK); /* nothing kept: nothing sent */
    assert_int_equal(sends, 0);
    for (unsigned k = 1; len + sizeof(m) < cap - (1u << 20); k++) {
        size_t n = message(m, k);

        assert_int_equal(defstore_append(m, n), 0);
        memcpy(want + len, m, n);
        len += n;
    }
    assert_int_equal(defstore_len(), len);
    assert_true(defstore_bytes() < len / 4);
    defstore_replay(collect, NULL, buf, DEFSTORE_CHUNK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    assert_int_equal(sends, (len + DEFSTORE_CHUNK - 1) / DEFSTORE_CHUNK);
    free(want);
    free(got);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
