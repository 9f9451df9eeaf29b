/*
 * fuzz_recfile.c - libFuzzer target: arbitrary bytes as a record file (header,
 * zstd layer, then the decoder), read through a memfd.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "decode.h"
#include "recfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[65536];
    char path[64];
    struct recfile_reader r;
    struct decode d;
    struct wire_msg m;
    ssize_t n;
    int fd = memfd_create("fuzz", MFD_CLOEXEC);

    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (recfile_open(&r, path) == 0) {
        decode_init(&d);
        while ((n = recfile_read(&r, buf, sizeof(buf))) > 0) {
            if (decode_feed(&d, buf, (size_t)n) < 0)
                break;
            while (decode_next(&d, &m) == 1)
                ;
        }
        decode_free(&d);
        recfile_close(&r);
    }
    close(fd);
    return 0;
}
