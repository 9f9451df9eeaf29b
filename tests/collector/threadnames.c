/*
 * threadnames.c - prints a recording's THREAD definitions in stream order,
 * one line each: "THREAD id name" (a rename defines the thread again).
 *
 * usage: threadnames FILE.heapline; exits 0, or 2 on an unreadable file.
 */
#include <stdio.h>

#include "decode.h"
#include "recfile.h"
#include "wire.h"

int main(int argc, char **argv)
{
    struct recfile_reader r;
    struct decode d;
    struct wire_msg m;
    static char buf[1 << 16];
    ssize_t n;

    if (argc != 2 || recfile_open(&r, argv[1]) != 0) {
        fprintf(stderr, "usage: threadnames FILE.heapline (a readable recording)\n");
        return 2;
    }
    decode_init(&d);
    while ((n = recfile_read(&r, buf, sizeof(buf))) > 0) {
        if (decode_feed(&d, buf, (size_t)n) < 0)
            break;
        while (decode_next(&d, &m) == 1)
            if (m.type == WIRE_THREAD)
                printf("THREAD %u %.*s\n", (unsigned)m.u.thread.id, (int)m.u.thread.name.len,
                       m.u.thread.name.ptr);
    }
    decode_free(&d);
    recfile_close(&r);
    return 0;
}
