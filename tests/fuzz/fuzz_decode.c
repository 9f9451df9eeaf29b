/*
 * fuzz_decode.c - libFuzzer target: arbitrary bytes through the streaming
 * decoder, fed in two pieces, with every list of every message walked;
 * inputs of odd size step over EVENTS messages unread.
 */
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

static void walk(const struct wire_msg *m)
{
    struct wire_event ev;
    struct events_iter it;
    struct stacks_iter sit;
    struct wire_stack_node node;
    struct wire_site site;
    struct wire_history_row row;
    struct wire_object obj;
    struct wire_str a, b;
    uint32_t line;

    switch (m->type) {
    case WIRE_EVENTS:
        decode_events_begin(&it, m);
        while (decode_events_next(&it, &ev) == 1)
            ;
        break;
    case WIRE_STACKS:
        decode_stacks_begin(&sit, m);
        while (decode_stacks_next(&sit, &node) == 1)
            ;
        break;
    case WIRE_TICK:
    case WIRE_SNAPSHOT:
        for (uint32_t i = 0; i < wire_list_count(&m->u.state.sites, 5); i++)
            decode_site_at(&m->u.state.sites, i, &site);
        break;
    case WIRE_HISTORY:
        for (uint32_t i = 0; i < wire_list_count(&m->u.history, 4); i++)
            decode_history_at(&m->u.history, i, &row);
        break;
    case WIRE_RESPONSE:
        for (uint32_t i = 0; i < wire_list_count(&m->u.response.objects, 6); i++)
            decode_object_at(&m->u.response.objects, i, &obj);
        break;
    case WIRE_FRAME:
        for (uint32_t i = 0; i < wire_list_count(&m->u.frame.inlined, 3); i++)
            decode_inline_at(&m->u.frame.inlined, i, &a, &b, &line);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct decode d;
    struct wire_msg m;
    size_t half = size / 2;

    decode_init(&d);
    if (size % 2) /* odd sizes: EVENTS stepped over unread (load.h's LOAD_TOTALS) */
        d.skip = 1u << WIRE_EVENTS;
    decode_feed(&d, data, half);
    while (decode_next(&d, &m) == 1)
        walk(&m);
    decode_feed(&d, data + half, size - half);
    while (decode_next(&d, &m) == 1)
        walk(&m);
    decode_free(&d);
    return 0;
}
