/*
 * test_source.c - the sources: a recording read with a budget, a socket fed
 * by a fake collector (with requests and `attach -o` recording), and the
 * error messages a user sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "decode.h"
#include "decode_msgpack.h"
#include "encode.h"
#include "model.h"
#include "recfile.h"
#include "source.h"
#include "wire.h"

static char mem[1 << 16];
static char dir[] = "/tmp/test_source.XXXXXX";

static size_t stream(char *out, size_t cap)
{
    struct encode_buf b;
    struct wire_frame f = {0x100, 1, "main", "m.c", 3, NULL, 0};
    struct wire_stack_node n[] = {{1, 0, 0x100}};
    struct wire_event ev[] = {
        {.op = WIRE_OP_THREAD, .id = 1},
        {.op = WIRE_OP_ALLOC, .time = 1000, .stack = 1, .size = 4096},
        {.op = WIRE_OP_ALLOC, .time = 2000, .stack = 1, .size = 100},
    };

    encode_init(&b, out, cap);
    assert_int_equal(encode_hello(&b, 99, "/bin/m", 0, 4096, 64, 0), 0);
    assert_int_equal(encode_module(&b, 1, "/bin/m", 0, 0, NULL), 0);
    assert_int_equal(encode_frame(&b, &f), 0);
    assert_int_equal(encode_stacks(&b, n, 1), 0);
    assert_int_equal(encode_events(&b, 0, ev, 3), 0);
    assert_int_equal(encode_end(&b, 5000, WIRE_END_EXIT, 0), 0);
    return b.len;
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_file_budget(void **state)
{
    char p[300], err[512];
    struct recfile_writer w;
    struct source *src;
    struct model *m = model_new();
    size_t n = stream(mem, sizeof(mem));
    int fd, calls = 0, r;

    (void)state;
    snprintf(p, sizeof(p), "%s/a.heapline", dir);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(recfile_writer_open(&w, fd, 3), 0);
    assert_int_equal(recfile_write(&w, mem, n, 1), 0);
    assert_int_equal(recfile_writer_close(&w), 0);
    close(fd);

    src = source_open_file(p, err, sizeof(err));
    assert_non_null(src);
    assert_int_equal(source_kind(src), SOURCE_FILE);
    assert_int_equal(source_fd(src), -1);
    while (source_state(src) == SOURCE_OPEN) {
        assert_true(source_busy(src));
        r = source_read(src, m, 1);
        assert_true(r == 0 || r == 1);
        calls++;
    }
    assert_int_equal(source_state(src), SOURCE_DONE);
    assert_string_equal(source_message(src), "end of recording");
    assert_int_equal(source_truncated(src), 0);
    assert_int_equal(model_summary(m)->messages, 6);
    assert_true(calls >= 6);
    assert_int_equal(model_summary(m)->heap_bytes, 4196);
    source_close(src);
    model_free(m);
}

static void test_socket_and_record(void **state)
{
    char sock[300], rec[300], err[512];
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct source *src;
    struct model *m = model_new(), *m2 = model_new();
    size_t n = stream(mem, sizeof(mem));
    int lfd, cfd, id;
    char req[256];
    ssize_t got;

    (void)state;
    snprintf(sock, sizeof(sock), "%s/c.sock", dir);
    snprintf(rec, sizeof(rec), "%s/attach.heapline", dir);
    strcpy(a.sun_path, sock);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 4), 0);

    src = source_open_socket(sock, rec, err, sizeof(err));
    assert_non_null(src);
    cfd = accept(lfd, NULL, NULL);
    assert_true(cfd >= 0);
    assert_int_equal(source_state(src), SOURCE_OPEN);
    assert_true(source_fd(src) >= 0);

    /* a request goes out as one REQUEST message */
    id = source_request_read(src, 0x10000, 64);
    assert_true(id > 0);
    got = read(cfd, req, sizeof(req));
    assert_true(got > 0);
    {
        msgpack_zone zone;
        struct wire_msg msg;
        size_t used;
        msgpack_zone_init(&zone, 1024);
        assert_int_equal(decode_one(req, (size_t)got, &zone, &msg, &used), 1);
        assert_int_equal(msg.type, WIRE_REQUEST);
        assert_int_equal(msg.u.request.id, (uint32_t)id);
        assert_int_equal(msg.u.request.kind, WIRE_REQ_READ);
        assert_int_equal(msg.u.request.addr, 0x10000);
        msgpack_zone_destroy(&zone);
    }

    /* the stream arrives in two pieces, then the collector hangs up */
    assert_int_equal(write(cfd, mem, 7), 7);
    assert_int_equal(write(cfd, mem + 7, n - 7), (ssize_t)(n - 7));
    close(cfd);
    for (int i = 0; i < 1000 && source_state(src) == SOURCE_OPEN; i++) {
        struct pollfd pfd = {.fd = source_fd(src), .events = POLLIN};
        if (!source_busy(src))
            poll(&pfd, 1, 100);
        assert_true(source_read(src, m, 2) >= 0);
    }
    assert_int_equal(source_state(src), SOURCE_DONE);
    assert_string_equal(source_message(src), "program exited with status 0");
    assert_int_equal(model_summary(m)->heap_bytes, 4196);
    assert_int_equal(source_request_read(src, 1, 1), -1); /* not connected any more */
    source_close(src);
    close(lfd);

    /* what attach -o recorded replays to the same figures */
    src = source_open_file(rec, err, sizeof(err));
    assert_non_null(src);
    while (source_state(src) == SOURCE_OPEN)
        source_read(src, m2, 100);
    assert_int_equal(source_state(src), SOURCE_DONE);
    assert_int_equal(model_summary(m2)->heap_bytes, model_summary(m)->heap_bytes);
    assert_int_equal(model_summary(m2)->allocations, model_summary(m)->allocations);
    assert_int_equal(model_summary(m2)->peak_bytes, model_summary(m)->peak_bytes);
    source_close(src);
    model_free(m);
    model_free(m2);
}

static void test_errors(void **state)
{
    char p[300], err[512];

    (void)state;
    snprintf(p, sizeof(p), "%s/none.sock", dir);
    assert_null(source_open_socket(p, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "none.sock: No such file or directory"));

    assert_null(source_open_socket("2147483646", NULL, err, sizeof(err)));
    assert_string_equal(err, "no process with pid 2147483646");

    /* our own pid has no collector socket */
    snprintf(p, sizeof(p), "%d", (int)getpid());
    assert_null(source_open_socket(p, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "no heapline collector socket for pid"));

    /* a regular file is not a socket: the hint names replay */
    snprintf(p, sizeof(p), "%s/plain.heapline", dir);
    fclose(fopen(p, "w"));
    assert_null(source_open_socket(p, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "plain.heapline: a file, not a socket (to open a recording: "
                                "heapline replay "));
    unlink(p);

    snprintf(p, sizeof(p), "%s/none.heapline", dir);
    assert_null(source_open_file(p, err, sizeof(err)));
    assert_non_null(strstr(err, "none.heapline: No such file or directory"));

    {
        char *argv[] = {"/bin/true", NULL};
        setenv("HEAPLINE_LIB", "/nonexistent/libheapline.so", 1);
        int exec_errno = -1;

        assert_null(source_open_child(argv, NULL, &exec_errno, err, sizeof(err)));
        assert_non_null(strstr(err, "HEAPLINE_LIB=/nonexistent/libheapline.so"));
        assert_int_equal(exec_errno, 0); /* not the program's failure: heapline exits 1 */
        unsetenv("HEAPLINE_LIB");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_budget),
        cmocka_unit_test(test_socket_and_record),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
