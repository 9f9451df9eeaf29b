/*
 * zfloor.c - two costs no collector of this design avoids, for the floor lines of
 * tests/bench/run.sh.
 *
 *   zfloor FILE CALLS [FLUSH_KB]
 *       Reads the record FILE, decompresses its message stream into memory,
 *       then compresses that stream again through the collector's own writer
 *       (recfile_writer_open/recfile_write/recfile_writer_close) at the
 *       collector's level (HEAPLINE_COMPRESS, else RECFILE_LEVEL_DEFAULT) into
 *       /dev/null (so the write(2) to the page cache is left out), in pieces
 *       of FLUSH_KB KiB (default 512), each written with flush set. The
 *       collector hands its writer what it encoded since the last tick (every
 *       10 ms by default, with a flush; ~400 KiB at churn's rate here) or a
 *       full 5 MiB buffer, so this is its flush pattern approximately (the CPU
 *       time moves by < 2% between 128 KiB and 5 MiB pieces). Pieces need not
 *       end on a message boundary; that only moves where the 8 MiB frames end.
 *       Prints the thread CPU time of the best of REPS compressions and that
 *       per allocation call.
 *   zfloor --stamps
 *       The cost of one timestamp: clock_gettime(CLOCK_MONOTONIC) (what the
 *       collector reads) and, on x86, __rdtsc() (the cheapest there is), in
 *       ns per call, best of REPS loops.
 *
 * Output is "name value" lines for run.sh. Best-of-REPS because this is a
 * floor: interference only adds time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_RDTSC 1
#endif

#include "recfile.h"
#include "wire.h"

#define REPS 3
#define STAMP_LOOPS 10000000L

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The whole decompressed stream of path in a malloc'd buffer; exits on error. */
static char *load(const char *path, size_t *len)
{
    struct recfile_reader r;
    size_t cap = 1u << 24, n = 0;
    char *buf = malloc(cap);
    ssize_t got = 0;
    int e = recfile_open(&r, path);

    if (e != 0) {
        fprintf(stderr, "zfloor: %s: %s\n", path, wire_strerror(e));
        exit(1);
    }
    for (;;) {
        if (!buf) {
            fprintf(stderr, "zfloor: out of memory\n");
            exit(1);
        }
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        else if ((got = recfile_read(&r, buf + n, cap - n)) > 0)
            n += (size_t)got;
        else
            break;
    }
    if (got < 0) {
        fprintf(stderr, "zfloor: %s: %s\n", path, wire_strerror((int)got));
        exit(1);
    }
    if (r.truncated)
        fprintf(stderr, "zfloor: %s: truncated; using the %zu bytes before the cut\n", path, n);
    recfile_close(&r);
    *len = n;
    return buf;
}

/* Compresses buf as the collector's writer would; returns the thread CPU
 * seconds it took and sets *out_bytes to the record file's size. */
static double compress_once(const char *buf, size_t len, int level, size_t piece,
                            uint64_t *out_bytes)
{
    struct recfile_writer w;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    double t0, t1;
    int e;

    if (fd < 0) {
        perror("zfloor: /dev/null");
        exit(1);
    }
    t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    e = recfile_writer_open(&w, fd, level);
    for (size_t off = 0; e == 0 && off < len; off += piece)
        e = recfile_write(&w, buf + off, len - off < piece ? len - off : piece, 1);
    if (recfile_writer_close(&w) != 0 && e == 0)
        e = WIRE_ECOMPRESS;
    *out_bytes = w.file_bytes;
    t1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    close(fd);
    if (e != 0) {
        fprintf(stderr, "zfloor: compressing: %s\n", wire_strerror(e));
        exit(1);
    }
    return t1 - t0;
}

/* The collector's level: HEAPLINE_COMPRESS when it is a number in 0..22
 * (collector/core.c's rule), else the default. */
static int compress_level(void)
{
    const char *v = getenv("HEAPLINE_COMPRESS");
    char *end;
    long x;

    if (!v || !*v)
        return RECFILE_LEVEL_DEFAULT;
    x = strtol(v, &end, 10);
    return *end || x < 0 || x > 22 ? RECFILE_LEVEL_DEFAULT : (int)x;
}

static int compress_main(const char *path, long calls, size_t piece)
{
    int level = compress_level();
    size_t len;
    char *buf = load(path, &len);
    uint64_t out_bytes = 0;
    double best = 0;

    for (int i = 0; i < REPS; i++) {
        double t = compress_once(buf, len, level, piece, &out_bytes);

        if (i == 0 || t < best)
            best = t;
    }
    printf("reps %d\n", REPS);
    printf("level %d\n", level);
    printf("flush_bytes %zu\n", piece);
    printf("raw_bytes %zu\n", len);
    printf("file_bytes %llu\n", (unsigned long long)out_bytes);
    printf("compress_cpu_s %.4f\n", best);
    printf("compress_ns_per_call %.1f\n", best * 1e9 / (double)calls);
    free(buf);
    return 0;
}

static int stamps_main(void)
{
    double best_cg = 0, best_tsc = 0;

    for (int i = 0; i < REPS; i++) {
        struct timespec ts;
        uint64_t sum = 0;
        double t0 = clock_s(CLOCK_MONOTONIC), t;

        for (long k = 0; k < STAMP_LOOPS; k++) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            sum += (uint64_t)ts.tv_nsec;
        }
        t = (clock_s(CLOCK_MONOTONIC) - t0) * 1e9 / STAMP_LOOPS;
        if (i == 0 || t < best_cg)
            best_cg = t;
#ifdef HAVE_RDTSC
        t0 = clock_s(CLOCK_MONOTONIC);
        for (long k = 0; k < STAMP_LOOPS; k++)
            sum += __rdtsc();
        t = (clock_s(CLOCK_MONOTONIC) - t0) * 1e9 / STAMP_LOOPS;
        if (i == 0 || t < best_tsc)
            best_tsc = t;
#endif
        /* keeps the loops: their results are used */
        if (sum == 42)
            fputc(' ', stderr);
    }
    printf("reps %d\n", REPS);
    printf("stamp_clock_gettime_ns %.2f\n", best_cg);
#ifdef HAVE_RDTSC
    printf("stamp_rdtsc_ns %.2f\n", best_tsc);
#else
    /* no TSC: the cheapest stamp measured is clock_gettime's */
    printf("stamp_rdtsc_ns %.2f\n", best_cg);
#endif
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--stamps") == 0)
        return stamps_main();
    if (argc == 3 || argc == 4) {
        long calls = strtol(argv[2], NULL, 10);
        long kb = argc == 4 ? strtol(argv[3], NULL, 10) : 512;

        if (calls > 0 && kb > 0)
            return compress_main(argv[1], calls, (size_t)kb << 10);
    }
    fprintf(stderr, "usage: zfloor FILE CALLS [FLUSH_KB] | zfloor --stamps\n");
    return 2;
}
