/*
 * fuzz_scanmsg.c - libFuzzer target: arbitrary bytes as a scan RESPONSE,
 * through the decoder, scanmsg_decode() and every output format of
 * `heapline backrefs` (text, JSON, DOT), which walk every chain, and the
 * census (Python names and rows: pychain).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "chain.h"
#include "decode.h"
#include "decode_msgpack.h"
#include "model.h"
#include "pychain.h"
#include "scanmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model *model;
    static FILE *devnull;
    static msgpack_zone zone;
    static bool zone_ready;
    struct scanmsg_result r;
    struct scanmsg_node nd;

    if (!model)
        model = model_new();
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    if (!zone_ready)
        zone_ready = msgpack_zone_init(&zone, 4096);
    if (scanmsg_decode_bytes((const char *)data, size, &zone, &r) == 0) {
        for (uint32_t i = 0; i < scanmsg_count(&r); i++)
            scanmsg_node_at(&r, i, &nd);
        for (int f = CHAIN_TEXT; f <= CHAIN_DOT; f++)
            chain_print(devnull, f, model, &r);
        pychain_census_print(devnull, &r, NULL, 0, 0);
        pychain_census_print(devnull, &r, &r, 1, 0);
    }
    return 0;
}
