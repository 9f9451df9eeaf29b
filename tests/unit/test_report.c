/*
 * test_report.c - `heapline report` on synthetic recordings: the exact JSON,
 * the time points, the text report, and every error message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encode.h"
#include "recfile.h"
#include "report.h"
#include "wire.h"

#define MS 1000000LL

static char mem[1 << 16];
static char dir[] = "/tmp/test_report.XXXXXX";
static char path[256];

/* main > work > [inlined std::__new_allocator<char>::allocate] > malloc(libc):
 * site "work" (the inlined allocator is plumbing); main > malloc: site "main". */
static size_t build(char *out, size_t cap, int with_end)
{
    struct encode_buf b;
    static const struct wire_inline work[] = {{"work", "app.c", 20}};
    struct wire_frame f[] = {{0x100, 2, "main", "app.c", 10, NULL, 0},
                             {0x200, 2,
                              "std::__new_allocator<char>::allocate(unsigned long, void const*)",
                              "/usr/include/c++/12/bits/new_allocator.h", 137, work, 1},
                             {0x900, 1, "malloc", NULL, 0, NULL, 0}};
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x200}, {3, 2, 0x900}, {4, 1, 0x900}};
    struct wire_event ev[] = {
        {.op = WIRE_OP_THREAD, .id = 1},
        {.op = WIRE_OP_ALLOC, .time = 1 * MS, .stack = 3, .size = 1000},   /* seq 1 */
        {.op = WIRE_OP_ALLOC, .time = 2 * MS, .stack = 4, .size = 24},     /* seq 2 */
        {.op = WIRE_OP_FREE, .time = 3 * MS, .back = 0},                   /* seq 2, temporary */
        {.op = WIRE_OP_ALLOC, .time = 500 * MS, .stack = 3, .size = 3000}, /* seq 3 */
        {.op = WIRE_OP_FREE, .time = 1500 * MS, .back = 0}, /* seq 3, temporary too */
        {.op = WIRE_OP_ALLOC, .time = 1600 * MS, .stack = 4, .size = 7},
    };

    encode_init(&b, out, cap);
    assert_int_equal(encode_hello(&b, 77, "/bin/app", 0, 4096, 64, 0), 0);
    assert_int_equal(
        encode_module_symbols(&b, 1, "/lib/libc.so.6", 0, 0, NULL, WIRE_SYMBOLS_OWN, NULL), 0);
    /* stripped, no debug file found: the report says so, with the build id */
    assert_int_equal(encode_module_symbols(&b, 2, "/bin/app", 0x40, 0x1000, "4f1e2d3c",
                                           WIRE_SYMBOLS_EXPORTED, NULL),
                     0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(encode_frame(&b, &f[i]), 0);
    assert_int_equal(encode_stacks(&b, n, 4), 0);
    assert_int_equal(encode_events(&b, 0, ev, sizeof(ev) / sizeof(ev[0])), 0);
    assert_int_equal(encode_marker(&b, 1 * MS, "start"), 0);
    if (with_end)
        assert_int_equal(encode_end(&b, 2000 * MS, WIRE_END_EXIT, 0), 0);
    return b.len;
}

static void write_file(const char *p, const void *data, size_t n, int compress)
{
    struct recfile_writer w;
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(recfile_writer_open(&w, fd, compress ? 3 : 0), 0);
    assert_int_equal(recfile_write(&w, data, n, 1), 0);
    assert_int_equal(recfile_writer_close(&w), 0);
    close(fd);
}

/* Runs report_main; returns the status, *out and *err malloc'ed. */
static int run(const char *file, const char *at, int json, int top, char **out, char **err)
{
    struct report_options o = {.json = json, .top = top, .at = REPORT_AT_END};
    size_t no, ne;
    FILE *fo = open_memstream(out, &no), *fe = open_memstream(err, &ne);
    int rc;

    if (at)
        assert_int_equal(report_parse_at(at, &o), 0);
    rc = report_main(file, &o, fo, fe);
    fclose(fo);
    fclose(fe);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/run.heapline", dir);
    write_file(path, mem, build(mem, sizeof(mem), 1), 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char expected_end[] =
    "{\n"
    "  \"exe\": \"/bin/app\",\n"
    "  \"pid\": 77,\n"
    "  \"complete\": true,\n"
    "  \"incomplete\": null,\n"
    "  \"leaks_known\": true,\n"
    "  \"leaks_unknown_because\": null,\n"
    "  \"at\": \"end\",\n"
    "  \"time\": 2,\n"
    "  \"duration\": 2,\n"
    "  \"allocations\": 4,\n"
    "  \"frees\": 2,\n"
    "  \"bytes_allocated\": 4031,\n"
    "  \"live_bytes\": 1007,\n"
    "  \"live_blocks\": 2,\n"
    "  \"rss\": 0,\n"
    "  \"peak_bytes\": 4000,\n"
    "  \"peak_time\": 0.5,\n"
    "  \"peak_rss\": 0,\n"
    "  \"leaked_bytes\": 1007,\n"
    "  \"leaked_blocks\": 2,\n"
    "  \"temporary_allocations\": 2,\n"
    "  \"total_allocations\": 4,\n"
    "  \"total_frees\": 2,\n"
    "  \"total_bytes_allocated\": 4031,\n"
    "  \"unmatched_frees\": 0,\n"
    "  \"missed_events\": 0,\n"
    "  \"tick_mismatches\": 0,\n"
    "  \"sampled\": false,\n"
    "  \"sample_rate\": 0,\n"
    "  \"since_attach\": false,\n"
    "  \"truncated\": false,\n"
    "  \"end\": \"exit\",\n"
    "  \"end_status\": 0,\n"
    "  \"notes\": [],\n"
    "  \"sites\": [\n"
    "    {\n"
    "      \"function\": \"work\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 20,\n"
    "      \"module\": \"app\",\n"
    "      \"live_bytes\": 1000,\n"
    "      \"live_blocks\": 1,\n"
    "      \"allocations\": 2,\n"
    "      \"bytes_allocated\": 4000,\n"
    "      \"peak_bytes\": 4000,\n"
    "      \"live_at_peak\": 4000,\n"
    "      \"leaked_bytes\": 1000,\n"
    "      \"temporary\": 1,\n"
    "      \"estimated\": false,\n"
    "      \"live_bytes_error\": 0,\n"
    "      \"live_blocks_error\": 0,\n"
    "      \"offset\": 448,\n"
    "      \"callers\": [\n"
    "        {\n"
    "          \"function\": \"main\",\n"
    "          \"file\": \"app.c\",\n"
    "          \"line\": 10,\n"
    "          \"module\": \"app\",\n"
    "          \"offset\": 192,\n"
    "          \"live_bytes\": 1000,\n"
    "          \"live_blocks\": 1,\n"
    "          \"allocations\": 2,\n"
    "          \"bytes_allocated\": 4000\n"
    "        }\n"
    "      ],\n"
    "      \"stack\": [\n"
    "        {\n"
    "          \"function\": \"malloc\",\n"
    "          \"file\": \"\",\n"
    "          \"line\": 0,\n"
    "          \"module\": \"libc.so.6\",\n"
    "          \"offset\": 2304,\n"
    "          \"inlined\": false\n"
    "        },\n"
    "        {\n"
    "          \"function\": \"std::__new_allocator<char>::allocate(unsigned long, void "
    "const*)\",\n"
    "          \"file\": \"/usr/include/c++/12/bits/new_allocator.h\",\n"
    "          \"line\": 137,\n"
    "          \"module\": \"app\",\n"
    "          \"offset\": 448,\n"
    "          \"inlined\": true\n"
    "        },\n"
    "        {\n"
    "          \"function\": \"work\",\n"
    "          \"file\": \"app.c\",\n"
    "          \"line\": 20,\n"
    "          \"module\": \"app\",\n"
    "          \"offset\": 448,\n"
    "          \"inlined\": false\n"
    "        },\n"
    "        {\n"
    "          \"function\": \"main\",\n"
    "          \"file\": \"app.c\",\n"
    "          \"line\": 10,\n"
    "          \"module\": \"app\",\n"
    "          \"offset\": 192,\n"
    "          \"inlined\": false\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    {\n"
    "      \"function\": \"main\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 10,\n"
    "      \"module\": \"app\",\n"
    "      \"live_bytes\": 7,\n"
    "      \"live_blocks\": 1,\n"
    "      \"allocations\": 2,\n"
    "      \"bytes_allocated\": 31,\n"
    "      \"peak_bytes\": 24,\n"
    "      \"live_at_peak\": 0,\n"
    "      \"leaked_bytes\": 7,\n"
    "      \"temporary\": 1,\n"
    "      \"estimated\": false,\n"
    "      \"live_bytes_error\": 0,\n"
    "      \"live_blocks_error\": 0,\n"
    "      \"offset\": 192,\n"
    "      \"callers\": [\n"
    "        {\n"
    "          \"function\": \"\",\n"
    "          \"file\": \"\",\n"
    "          \"line\": 0,\n"
    "          \"module\": \"\",\n"
    "          \"offset\": 0,\n"
    "          \"live_bytes\": 7,\n"
    "          \"live_blocks\": 1,\n"
    "          \"allocations\": 2,\n"
    "          \"bytes_allocated\": 31\n"
    "        }\n"
    "      ],\n"
    "      \"stack\": [\n"
    "        {\n"
    "          \"function\": \"malloc\",\n"
    "          \"file\": \"\",\n"
    "          \"line\": 0,\n"
    "          \"module\": \"libc.so.6\",\n"
    "          \"offset\": 2304,\n"
    "          \"inlined\": false\n"
    "        },\n"
    "        {\n"
    "          \"function\": \"main\",\n"
    "          \"file\": \"app.c\",\n"
    "          \"line\": 10,\n"
    "          \"module\": \"app\",\n"
    "          \"offset\": 192,\n"
    "          \"inlined\": false\n"
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ],\n"
    "  \"leaks\": [\n"
    "    {\n"
    "      \"function\": \"work\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 20,\n"
    "      \"module\": \"app\",\n"
    "      \"bytes\": 1000,\n"
    "      \"blocks\": 1,\n"
    "      \"offset\": 448\n"
    "    },\n"
    "    {\n"
    "      \"function\": \"main\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 10,\n"
    "      \"module\": \"app\",\n"
    "      \"bytes\": 7,\n"
    "      \"blocks\": 1,\n"
    "      \"offset\": 192\n"
    "    }\n"
    "  ],\n"
    "  \"temporary\": [\n"
    "    {\n"
    "      \"function\": \"work\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 20,\n"
    "      \"module\": \"app\",\n"
    "      \"count\": 1,\n"
    "      \"allocations\": 2,\n"
    "      \"offset\": 448\n"
    "    },\n"
    "    {\n"
    "      \"function\": \"main\",\n"
    "      \"file\": \"app.c\",\n"
    "      \"line\": 10,\n"
    "      \"module\": \"app\",\n"
    "      \"count\": 1,\n"
    "      \"allocations\": 2,\n"
    "      \"offset\": 192\n"
    "    }\n"
    "  ],\n"
    "  \"markers\": [\n"
    "    {\n"
    "      \"time\": 0.001,\n"
    "      \"label\": \"start\"\n"
    "    }\n"
    "  ],\n"
    "  \"no_symbols\": [\n"
    "    {\n"
    "      \"module\": \"app\",\n"
    "      \"path\": \"/bin/app\",\n"
    "      \"build_id\": \"4f1e2d3c\",\n"
    "      \"debug_file\": \"/usr/lib/debug/.build-id/4f/1e2d3c.debug\"\n"
    "    }\n"
    "  ]\n"
    "}\n";

static void test_json_end(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run(path, NULL, 1, -1, &out, &err), 0);
    assert_string_equal(out, expected_end);
    assert_string_equal(err, "");
    free(out);
    free(err);
}

static void test_json_peak_and_time(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run(path, "peak", 1, 1, &out, &err), 0);
    assert_non_null(strstr(out, "\"at\": \"peak\",\n  \"time\": 0.5,\n"));
    assert_non_null(strstr(out, "\"allocations\": 3,\n  \"frees\": 1,\n"
                                "  \"bytes_allocated\": 4024,\n  \"live_bytes\": 4000,\n"
                                "  \"live_blocks\": 2,\n"));
    /* --top 1: one site, the largest */
    assert_non_null(strstr(out, "\"function\": \"work\",\n      \"file\": \"app.c\",\n"
                                "      \"line\": 20,\n      \"module\": \"app\",\n"
                                "      \"live_bytes\": 4000,\n      \"live_blocks\": 2,\n"));
    assert_null(strstr(strstr(out, "\"sites\""), "\"function\": \"main\",\n      \"file\": "
                                                 "\"app.c\",\n      \"line\": 10,\n      "
                                                 "\"module\": \"app\",\n      \"live_bytes\""));
    free(out);
    free(err);

    /* 1.0 s: after the 500 ms bucket, before the free at 1.5 s */
    assert_int_equal(run(path, "1.0", 1, -1, &out, &err), 0);
    assert_non_null(strstr(out, "\"time\": 1,\n"));
    assert_non_null(strstr(out, "\"allocations\": 3,\n  \"frees\": 1,\n"
                                "  \"bytes_allocated\": 4024,\n  \"live_bytes\": 4000,\n"));
    free(out);
    free(err);

    assert_int_equal(run(path, "0", 1, -1, &out, &err), 0);
    assert_non_null(strstr(out, "\"allocations\": 0,\n  \"frees\": 0,\n"));
    free(out);
    free(err);
}

static void test_text(void **state)
{
    char *out, *err;

    (void)state;
    assert_int_equal(run(path, NULL, 0, -1, &out, &err), 0);
    assert_non_null(strstr(out, "heapline report: /bin/app (pid 77)\n"));
    assert_non_null(strstr(out, "peak heap     3.91 KiB (4000 bytes) at 0.500 s\n"));
    assert_non_null(strstr(out, "total         4 allocations, 2 frees, 3.94 KiB allocated\n"));
    assert_non_null(strstr(out, "      1000 B         1  work  app.c:20  [app]\n"));
    /* a site's bytes at the global peak beside its own highest: main held 24 B
     * at 2 ms and nothing at the peak (0.5 s), so it is not listed there */
    assert_non_null(strstr(out, "\nAt the peak (0.500 s) by site:\n"
                                "       at peak     site max  function  file:line  [module]\n"
                                "      3.91 KiB     3.91 KiB  work  app.c:20  [app]\n"
                                "\nLeaked"));
    assert_non_null(strstr(out, "Temporary allocations by site:"));
    assert_non_null(strstr(out, "             1         2  main  app.c:10  [app]\n"));
    assert_non_null(strstr(out,
                           "no symbols    /bin/app is stripped: functions it does not export "
                           "show as app+0xOFFSET; a debug file with build id 4f1e2d3c would name "
                           "them (/usr/lib/debug/.build-id/4f/1e2d3c.debug)\n"));
    assert_null(strstr(out, "no symbols    /lib/libc.so.6"));
    free(out);
    free(err);
}

static void test_errors(void **state)
{
    char *out, *err, p[300];
    struct report_options o = {0};

    (void)state;
    snprintf(p, sizeof(p), "%s/missing.heapline", dir);
    assert_int_equal(run(p, NULL, 1, -1, &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "missing.heapline: No such file or directory\n"));
    assert_int_equal(strncmp(err, "heapline: ", 10), 0);
    free(out);
    free(err);

    snprintf(p, sizeof(p), "%s/notes.txt", dir);
    {
        FILE *f = fopen(p, "w");
        fputs("these are not the bytes you are looking for\n", f);
        fclose(f);
    }
    assert_int_equal(run(p, NULL, 1, -1, &out, &err), 1);
    assert_non_null(strstr(err, "notes.txt: not a heapline recording\n"));
    free(out);
    free(err);

    assert_int_equal(run(path, "9.5", 1, -1, &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "--at 9.5: beyond the end of the recording (2.000 s)\n"));
    free(out);
    free(err);

    /* corrupt: a valid header and a garbage stream */
    snprintf(p, sizeof(p), "%s/corrupt.heapline", dir);
    write_file(p, "\x93\xc1\xc1\xc1garbage", 10, 0);
    assert_int_equal(run(p, NULL, 1, -1, &out, &err), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "corrupt data near byte 16 of the file"));
    free(out);
    free(err);

    assert_int_equal(report_parse_at("peak", &o), 0);
    assert_int_equal(o.at, REPORT_AT_PEAK);
    assert_int_equal(report_parse_at("2.5", &o), 0);
    assert_int_equal(o.time, 2500 * MS);
    assert_int_equal(report_parse_at("-1", &o), -1);
    assert_int_equal(report_parse_at("soon", &o), -1);
    /* the times the TUI's title prints */
    static const struct {
        const char *text;
        int64_t ns;
    } shown[] = {{"0.404s", 404 * MS},    {"0.001700001s", 1700001}, {"1m02.3s", 62300 * MS},
                 {"1h02m", 3720000 * MS}, {"2m", 120000 * MS},       {"1h00m30s", 3630000 * MS}};
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        assert_int_equal(report_parse_at(shown[i].text, &o), 0);
        assert_int_equal(o.at, REPORT_AT_TIME);
        assert_int_equal(o.time, shown[i].ns);
    }
    static const char *const bad[] = {"s",  "m",   "1m-3", "1h1h", "0.1.2", "1ss",
                                      " 5", "inf", "1x",   "2e9",  ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(report_parse_at(bad[i], &o), -1);
}

/* A recording cut short: reported up to its last complete message. */
static void test_truncated(void **state)
{
    char *out, *err, p[300];
    size_t n = build(mem, sizeof(mem), 0);

    (void)state;
    snprintf(p, sizeof(p), "%s/cut.heapline", dir);
    write_file(p, mem, n - 3, 0); /* the last message (a marker) is cut */
    assert_int_equal(run(p, NULL, 1, -1, &out, &err), 0);
    assert_non_null(strstr(err, "recording truncated"));
    assert_non_null(strstr(out, "\"truncated\": true,"));
    assert_non_null(strstr(out, "\"live_bytes\": 1007,"));
    assert_non_null(strstr(out, "\"end\": null,"));
    free(out);
    free(err);
}

/* The reference run (no END) with more messages encoded after it. */
static size_t build_then(char *out, size_t cap, int64_t t, const char *disabled, uint32_t cause,
                         int end_reason, int end_status)
{
    struct encode_buf b;
    size_t n = build(out, cap, 0);

    encode_init(&b, out + n, cap - n);
    if (disabled)
        assert_int_equal(encode_disabled(&b, t, disabled, cause), 0);
    if (end_reason)
        assert_int_equal(encode_end(&b, t + 1 * MS, (uint32_t)end_reason, end_status), 0);
    return n + b.len;
}

/* Report p as JSON and text into *json, *text; *err gets both runs' stderr
 * (the text run's). Returns the JSON run's status. */
static int run_both(const char *p, char **json, char **text, char **err)
{
    char *e1;
    int rc = run(p, NULL, 1, -1, json, &e1);

    free(e1);
    assert_int_equal(run(p, NULL, 0, -1, text, err), rc);
    return rc;
}

/* The collector turned itself off, then the program exited: the END that
 * follows must not hide it, and what was live then is not a leak. */
static void test_disabled_then_end(void **state)
{
    char *json, *text, *err, p[300];

    (void)state;
    snprintf(p, sizeof(p), "%s/disabled.heapline", dir);
    write_file(p, mem,
               build_then(mem, sizeof(mem), 1700 * MS, "collector thread stalled for 10 s",
                          WIRE_OFF_COLLECTOR, WIRE_END_EXIT, 0),
               1);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    assert_non_null(strstr(json, "  \"pid\": 77,\n  \"complete\": false,\n  \"incomplete\": {\n"
                                 "    \"reason\": \"disabled\",\n    \"time\": 1.7,\n"
                                 "    \"message\": \"the collector turned itself off at 1.700 s "
                                 "(collector thread stalled for 10 s): figures stop there\"\n  },\n"
                                 "  \"leaks_known\": false,\n  \"leaks_unknown_because\": \"the "
                                 "recording is incomplete\",\n"));
    assert_non_null(strstr(json, "\"leaked_bytes\": null,\n  \"leaked_blocks\": null,\n"));
    assert_non_null(strstr(json, "\"disabled\": \"collector thread stalled for 10 s\",\n"));
    assert_non_null(strstr(json, "\"leaks\": [],\n"));
    assert_null(strstr(json, "\"leaked_bytes\": 1000"));
    assert_non_null(strstr(json, "\"live_bytes\": 1007,\n")); /* the figures themselves stay */
    assert_int_equal(strncmp(text,
                             "heapline report: /bin/app (pid 77)  [INCOMPLETE recording]\n"
                             "INCOMPLETE    the collector turned itself off at 1.700 s (collector "
                             "thread stalled for 10 s): figures stop there\n",
                             strlen("heapline report: /bin/app (pid 77)  [INCOMPLETE recording]\n"
                                    "INCOMPLETE    the collector turned itself off at 1.700 s "
                                    "(collector thread stalled for 10 s): figures stop there\n")),
                     0);
    assert_non_null(strstr(text, "leaked        not known: the recording is incomplete\n"));
    assert_non_null(strstr(text, "disabled      at 1.700 s: collector thread stalled for 10 s\n"));
    assert_non_null(strstr(text, "\nLeaked: not known (the recording is incomplete): nothing is "
                                 "called a leak\n\nTemporary"));
    assert_non_null(strstr(err, "/disabled.heapline: INCOMPLETE recording: the collector turned "
                                "itself off at 1.700 s (collector thread stalled for 10 s): "
                                "figures stop there; reporting what it holds\n"));
    free(json);
    free(text);
    free(err);
}

/* The record file filled the disk: the collector's last message says so. */
static void test_disk_full(void **state)
{
    char *json, *text, *err, p[300];

    (void)state;
    snprintf(p, sizeof(p), "%s/full.heapline", dir);
    write_file(p, mem,
               build_then(mem, sizeof(mem), 1800 * MS,
                          "record file write failed: /mnt/x.hl: No space left on device",
                          WIRE_OFF_DISK_FULL, 0, 0),
               1);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    /* the DISABLED came at 1.8 s; what the file holds stops at its last flush */
    assert_non_null(strstr(json, "\"incomplete\": {\n    \"reason\": \"disk_full\",\n"
                                 "    \"time\": 1.6,\n    \"message\": \"the recording stopped at "
                                 "1.600 s, disk full (record file write failed: /mnt/x.hl: No "
                                 "space left on device): figures stop there\"\n  },\n"));
    assert_non_null(strstr(json, "\"leaked_bytes\": null,"));
    assert_non_null(strstr(json, "\"end\": null,"));
    assert_non_null(strstr(json, "\"duration\": 1.6,"));
    assert_non_null(strstr(text, "\nINCOMPLETE    the recording stopped at 1.600 s, disk full "
                                 "(record file write failed: /mnt/x.hl: No space left on device)"));
    assert_null(strstr(text, "died"));
    free(json);
    free(text);
    free(err);
}

/* Complete, but no exit: killed by a signal, or a stream without END. */
static void test_leaks_need_an_exit(void **state)
{
    char *json, *text, *err, p[300];

    (void)state;
    snprintf(p, sizeof(p), "%s/segv.heapline", dir);
    write_file(p, mem, build_then(mem, sizeof(mem), 1900 * MS, NULL, 0, WIRE_END_SIGNAL, 11), 0);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    assert_non_null(strstr(json, "\"complete\": true,\n  \"incomplete\": null,\n"
                                 "  \"leaks_known\": false,\n  \"leaks_unknown_because\": \"the "
                                 "program was killed by signal 11: what it held then was never "
                                 "given a chance to be freed\",\n"));
    assert_non_null(strstr(json, "\"leaked_bytes\": null,"));
    assert_non_null(strstr(text, "heapline report: /bin/app (pid 77)\nduration      1.901 s, "
                                 "killed by signal 11\n"));
    assert_string_equal(err, "");
    free(json);
    free(text);
    free(err);

    /* whole messages, no END: the program (or the stream) was cut */
    snprintf(p, sizeof(p), "%s/noend.heapline", dir);
    write_file(p, mem, build(mem, sizeof(mem), 0), 0);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    assert_non_null(strstr(json, "\"reason\": \"no_end\",\n    \"time\": 1.6,\n"));
    assert_non_null(strstr(json, "\"truncated\": false,"));
    assert_non_null(strstr(err, "noend.heapline: INCOMPLETE recording: the recording stops at "
                                "1.600 s without the program's end"));
    free(json);
    free(text);
    free(err);
}

/* One wrong byte: everything before it is reported, and where it stops. */
static void test_corrupt_middle(void **state)
{
    char *json, *text, *err, p[300], *bad;
    size_t first = build(mem, sizeof(mem), 0); /* the reference run, without END */
    size_t n;

    (void)state;
    n = build_then(mem, sizeof(mem), 1900 * MS, NULL, 0, WIRE_END_EXIT, 0);
    /* the END message (after the reference run) becomes a msgpack "never used" byte */
    mem[first] = (char)0xc1;
    snprintf(p, sizeof(p), "%s/corrupt-end.heapline", dir);
    write_file(p, mem, n, 0);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    bad = strstr(json, "\"incomplete\": {\n    \"reason\": \"corrupt\",\n");
    assert_non_null(bad);
    {
        char want[128];

        snprintf(want, sizeof(want), "\"byte\": %zu\n", (size_t)16 + first);
        assert_non_null(strstr(bad, want));
        snprintf(want, sizeof(want), "corrupt data near byte %zu of the file", (size_t)16 + first);
        assert_non_null(strstr(err, want));
    }
    assert_non_null(strstr(json, "\"live_bytes\": 1007,")); /* all that came before */
    assert_non_null(strstr(json, "\"leaked_bytes\": null,"));
    assert_non_null(strstr(text, "[INCOMPLETE recording]\nINCOMPLETE    corrupt data near byte "));
    free(json);
    free(text);
    free(err);
}

/* Compressed: a wrong byte in the second zstd block; the first is reported. */
static void test_corrupt_compressed(void **state)
{
    char *json, *text, *err, p[300];
    struct recfile_writer w;
    struct encode_buf b;
    size_t first = build(mem, sizeof(mem), 0);
    off_t size;
    int fd;

    (void)state;
    snprintf(p, sizeof(p), "%s/corrupt-z.heapline", dir);
    fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(recfile_writer_open(&w, fd, 3), 0);
    assert_int_equal(recfile_write(&w, mem, first, 1), 0);
    size = lseek(fd, 0, SEEK_END);
    encode_init(&b, mem, sizeof(mem));
    for (int i = 0; i < 50; i++)
        assert_int_equal(encode_marker(&b, (1700 + i) * MS, "later, lost"), 0);
    assert_int_equal(encode_end(&b, 1800 * MS, WIRE_END_EXIT, 0), 0);
    assert_int_equal(recfile_write(&w, mem, b.len, 1), 0);
    assert_int_equal(recfile_writer_close(&w), 0);
    /* the second block's header: its type becomes "reserved" (3), which zstd refuses */
    assert_int_equal(pwrite(fd, "\x07", 1, size), 1);
    close(fd);
    assert_int_equal(run_both(p, &json, &text, &err), 0);
    assert_non_null(strstr(json, "\"reason\": \"corrupt\",\n"));
    assert_non_null(strstr(json, "\"live_bytes\": 1007,"));
    assert_null(strstr(json, "later, lost"));
    assert_non_null(strstr(err, "corrupt data near byte "));
    assert_non_null(strstr(err, "read up to 1.600 s")); /* the whole first block */
    free(json);
    free(text);
    free(err);
}

/* Sampling mode's text (attached): a wrapper site's caller rows are estimates as the
 * site is, so they carry the "~" and leave the 95% bounds' columns blank.
 * The site's 4 blocks of 4 KiB at 4 KiB: 2 sqrt(4 / (e - 1)) = 3.05 blocks.
 * main > caller_a (3 blocks) and main > caller_b (1 block) > wrap > malloc. */
static void test_text_sampled_callers(void **state)
{
    struct encode_buf b;
    struct wire_frame f[] = {{0x100, 1, "main", "app.c", 10, NULL, 0},
                             {0x300, 1, "caller_a", "app.c", 30, NULL, 0},
                             {0x500, 1, "caller_b", "app.c", 50, NULL, 0},
                             {0x400, 1, "wrap", "app.c", 40, NULL, 0},
                             {0x900, 2, "malloc", NULL, 0, NULL, 0}};
    struct wire_stack_node n[] = {{1, 0, 0x100}, {2, 1, 0x300}, {3, 2, 0x400}, {4, 3, 0x900},
                                  {5, 1, 0x500}, {6, 5, 0x400}, {7, 6, 0x900}};
    struct wire_site d[] = {{4, 12288, 3, 3, 12288}, {7, 4096, 1, 1, 4096}};
    struct wire_totals t = {.time = 10 * MS,
                            .heap_bytes = 16384,
                            .heap_blocks = 4,
                            .allocations = 4,
                            .bytes_allocated = 16384};
    char p[300], *out, *err;

    (void)state;
    encode_init(&b, mem, sizeof(mem));
    /* as heapline attach records by default: sampled, the collector loaded into the program */
    assert_int_equal(
        encode_hello_sampled(&b, 78, "/bin/app", 0, 4096, 64, WIRE_HELLO_ATTACHED, 4096), 0);
    assert_int_equal(
        encode_module_symbols(&b, 1, "/bin/app", 0, 0x1000, NULL, WIRE_SYMBOLS_OWN, NULL), 0);
    assert_int_equal(encode_module_symbols(&b, 2, "/lib/libc.so.6", 0x10000, 0x1000, NULL,
                                           WIRE_SYMBOLS_OWN, NULL),
                     0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(encode_frame(&b, &f[i]), 0);
    assert_int_equal(encode_stacks(&b, n, 7), 0);
    assert_int_equal(encode_tick(&b, &t, d, 2), 0);
    assert_int_equal(encode_end(&b, 20 * MS, WIRE_END_EXIT, 0), 0);
    snprintf(p, sizeof(p), "%s/sampled.heapline", dir);
    write_file(p, mem, b.len, 1);
    assert_int_equal(run(p, NULL, 0, -1, &out, &err), 0);
    assert_non_null(strstr(
        out, "          live    blocks    95% bound  (blocks)  function  file:line  [module]\n"
             "    ~16.00 KiB        ~4  +-12.21 KiB       +-3  wrap  app.c:40  [app]\n"
             "    ~12.00 KiB        ~3                           <- caller_a  app.c:30  [app]\n"
             "     ~4.00 KiB        ~1                           <- caller_b  app.c:50  [app]\n"));
    /* its figures count from the attach, and in sampling mode live is a net change */
    assert_non_null(strstr(out, "\nsince attach  the collector was loaded into the running "
                                "program (attach, record --pid): figures count from then (live: "
                                "the net change of heap bytes since, never below 0)\n"));
    /* the at-peak table: the bound under its own header, site max in a
     * column of bytes (a "~" and 10 characters pushed it out of one) */
    assert_non_null(strstr(out,
                           "\nAt the peak (0.010 s) by site:\n"
                           "       at peak     site max    95% bound  function  file:line  "
                           "[module]\n"
                           "    ~16.00 KiB   ~16.00 KiB  +-12.21 KiB  wrap  app.c:40  [app]\n"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_end),
        cmocka_unit_test(test_json_peak_and_time),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_disabled_then_end),
        cmocka_unit_test(test_disk_full),
        cmocka_unit_test(test_leaks_need_an_exit),
        cmocka_unit_test(test_corrupt_middle),
        cmocka_unit_test(test_corrupt_compressed),
        cmocka_unit_test(test_text_sampled_callers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
