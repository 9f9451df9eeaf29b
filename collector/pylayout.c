/*
 * pylayout.c - the rows of pylayout.h, and CPython's location tables.
 *
 * The offsets were read with offsetof() from each version's headers
 * (Include/internal/pycore_frame.h, pycore_runtime.h, cpython/code.h,
 * cpython/unicodeobject.h); the tests compare the lines the walk finds with
 * tracemalloc's on each version (tests/collector/python.sh).
 */
#include "pylayout.h"

#include <string.h>

struct pylayout_debug {
    uint16_t pos;   /* in _Py_DebugOffsets */
    uint16_t field; /* offsetof(struct pylayout, ...) */
};

/* clang-format off */
#define DBG(pos_, f_) {pos_, offsetof(struct pylayout, f_)}
static const struct pylayout_debug debug_313[] = {
    DBG(32, rt_finalizing),
    DBG(176, ts_interp),
    DBG(184, ts_frame),
    DBG(192, ts_thread_id),
    DBG(232, fr_previous),
    DBG(240, fr_code),
    DBG(248, fr_prev_instr),
    DBG(264, fr_owner),
    DBG(280, co_filename),
    DBG(288, co_name),
    DBG(296, co_qualname),
    DBG(304, co_linetable),
    DBG(312, co_firstlineno),
    DBG(344, co_code),
    DBG(520, bytes_size),
    DBG(528, bytes_data),
    DBG(544, str_state),
    DBG(552, str_length),
    DBG(560, str_ascii_data),
    {0, 0},
};
#undef DBG

static const struct pylayout rows[] = {
    {
        /* Debian 12's python3.11 (3.11.2) */
        .version = 0x030b,
        .name = "3.11",
        .rt_finalizing = 24,
        .rt_main_interp = 48,
        .rt_auto_interp = 568 + 16,
        .rt_tstate_current = 568 + 8,
        .rt_tss_init = 568 + 24,
        .rt_tss_key = 568 + 24 + 4,
        .ts_interp = 16,
        .ts_frame = 56,
        .ts_thread_id = 152,
        .cf_current = 8,
        .fr_code = 32,
        .fr_previous = 48,
        .fr_prev_instr = 56,
        .fr_is_entry = 68,
        .fr_owner = 69,
        .fr_owner_max = 2, /* THREAD, GENERATOR, FRAME_OBJECT */
        .fr_owner_cstack = 0xff,
        .co_size = 16,
        .co_firstlineno = 72,
        .co_name = 120,
        .co_qualname = 128,
        .co_filename = 112,
        .co_linetable = 136,
        .co_code = 184,
        .bytes_size = 16,
        .bytes_data = 32,
        .str_length = 16,
        .str_state = 32,
        .str_ascii_data = 48,
        .str_utf8_length = 48,
        .str_utf8 = 56,
        .str_compact_data = 72,
        .str_ready = 1u << 7,
        .line = pylayout_line_311,
    },
    {
        /* 3.12.1 (pyenv): the location table is 3.11's */
        .version = 0x030c,
        .name = "3.12",
        .rt_finalizing = 24,
        .rt_main_interp = 48,
        .rt_auto_interp = 2568,
        .rt_tstate_current = PYLAYOUT_NONE,
        .rt_tss_init = 1544,
        .rt_tss_key = 1544 + 4,
        .ts_interp = 16,
        .ts_frame = 56,
        .ts_thread_id = 136,
        .cf_current = 0,
        .fr_code = 0,
        .fr_previous = 8,
        .fr_prev_instr = 56,
        .fr_is_entry = PYLAYOUT_NONE,
        .fr_owner = 70,
        .fr_owner_max = 3,
        .fr_owner_cstack = 3,
        .co_size = 16,
        .co_firstlineno = 68,
        .co_name = 120,
        .co_qualname = 128,
        .co_filename = 112,
        .co_linetable = 136,
        .co_code = 192,
        .bytes_size = 16,
        .bytes_data = 32,
        .str_length = 16,
        .str_state = 32,
        .str_ascii_data = 40,
        .str_utf8_length = 40,
        .str_utf8 = 48,
        .str_compact_data = 56,
        .str_ready = 0,
        .line = pylayout_line_311,
    },
    {
        /* 3.13.0 (pyenv): the frame, code and str offsets come from
         * _Py_DebugOffsets (these values are what 3.13.0 has there); the
         * TLS key and the main interpreter are not in it */
        .version = 0x030d,
        .name = "3.13",
        .rt_finalizing = 608,
        .rt_main_interp = 640,
        .rt_auto_interp = 9888,
        .rt_tstate_current = PYLAYOUT_NONE,
        .rt_tss_init = 2160,
        .rt_tss_key = 2160 + 4,
        .ts_interp = 16,
        .ts_frame = 72,
        .ts_thread_id = 152,
        .cf_current = PYLAYOUT_NONE,
        .fr_code = 0,
        .fr_previous = 8,
        .fr_prev_instr = 56, /* instr_ptr: LASTI is still instr_ptr - code */
        .fr_is_entry = PYLAYOUT_NONE,
        .fr_owner = 70,
        .fr_owner_max = 3,
        .fr_owner_cstack = 3,
        .co_size = 16,
        .co_firstlineno = 68,
        .co_name = 120,
        .co_qualname = 128,
        .co_filename = 112,
        .co_linetable = 136,
        .co_code = 200,
        .bytes_size = 16,
        .bytes_data = 32,
        .str_length = 16,
        .str_state = 32,
        .str_ascii_data = 40,
        .str_utf8_length = 40,
        .str_utf8 = 48,
        .str_compact_data = 56,
        .str_ready = 0,
        .line = pylayout_line_311,
        .debug = debug_313,
    },
};
/* clang-format on */

/* Reads the offsets a 3.13+ row takes from _Py_DebugOffsets, which CPython
 * keeps at the start of _PyRuntime: the cookie "xdebugpy", the version
 * (PY_VERSION_HEX), then the offsets. Returns 0, or -1 when the cookie, the
 * version or an offset is not what the row expects. */
static int debug_offsets(struct pylayout *out, uintptr_t rt, unsigned long hex)
{
    if (memcmp((const void *)rt, "xdebugpy", 8) != 0 || *(const uint64_t *)(rt + 8) != hex)
        return -1;
    for (const struct pylayout_debug *d = out->debug; d->pos; d++) {
        uint64_t v = *(const uint64_t *)(rt + d->pos);

        if (v >= PYLAYOUT_NONE)
            return -1;
        *(uint16_t *)((char *)out + d->field) = (uint16_t)v;
    }
    return 0;
}

int pylayout_get(unsigned long hex, uintptr_t rt, struct pylayout *out)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].version == (uint32_t)(hex >> 16)) {
            *out = rows[i];
            return out->debug && debug_offsets(out, rt, hex) < 0 ? -2 : 0;
        }
    return -1;
}

/* ---- location tables ---- */

/* A varint of 6-bit groups, low first, bit 6 set while more follow. Sets
 * *bad when it runs past end or past 30 bits. */
static unsigned lt_varint(const uint8_t **p, const uint8_t *end, int *bad)
{
    unsigned v = 0, shift = 0;
    uint8_t b;

    do {
        if (*p >= end || shift > 24) {
            *bad = 1;
            return 0;
        }
        b = *(*p)++;
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
    } while (b & 64);
    return v;
}

static int lt_svarint(const uint8_t **p, const uint8_t *end, int *bad)
{
    unsigned v = lt_varint(p, end, bad);

    return v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
}

int pylayout_line_311(const uint8_t *table, size_t len, int firstlineno, int instr)
{
    const uint8_t *p = table, *end = table + len;
    int line = firstlineno, start = 0;

    if (instr < 0)
        return firstlineno;
    while (p < end) {
        uint8_t first = *p;
        int code = (first >> 3) & 15, units = (first & 7) + 1, delta = 0, bad = 0;
        const uint8_t *q = p + 1;

        if (!(first & 128))
            return -1;                /* not the start of an entry: corrupt */
        if (code == 13 || code == 14) /* no columns, long form: a signed line delta */
            delta = lt_svarint(&q, end, &bad);
        else if (code >= 10 && code <= 12) /* one-line forms */
            delta = code - 10;
        if (bad)
            return -1;
        line += delta;
        if (instr < start + units)
            return code == 15 ? -1 : line;
        start += units;
        for (p++; p < end && !(*p & 128); p++)
            ;
    }
    return -1;
}
