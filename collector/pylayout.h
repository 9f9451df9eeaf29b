/*
 * pylayout.h - where CPython keeps what the Python walk (pyframes.c) reads:
 * one row of offsets per interpreter version, x86_64.
 *
 * A new version is a new row in pylayout.c. From 3.13 CPython describes its
 * own layout in _Py_DebugOffsets at the start of _PyRuntime; a row for such a
 * version names where each offset is kept there, and pylayout_get() reads
 * them (so a rebuilt 3.13 with other offsets still walks right).
 */
#ifndef HEAPLINE_PYLAYOUT_H
#define HEAPLINE_PYLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define PYLAYOUT_NONE 0xffffu /* an offset a version does not have */

struct pylayout_debug;

/* Offsets (bytes) into the interpreter's structures. */
struct pylayout {
    uint32_t version; /* PY_VERSION_HEX >> 16: 0x030b for 3.11 */
    const char *name;
    /* _PyRuntime */
    uint16_t rt_finalizing;     /* _finalizing: the finalizing thread state */
    uint16_t rt_main_interp;    /* interpreters.main */
    uint16_t rt_auto_interp;    /* gilstate.autoInterpreterState (NULL once finalized) */
    uint16_t rt_tstate_current; /* the GIL holder (3.11), PYLAYOUT_NONE when the TLS follows
                                 * the thread's active state (3.12+) */
    uint16_t rt_tss_init;       /* autoTSSkey._is_initialized */
    uint16_t rt_tss_key;        /* autoTSSkey._key (pthread_key_t) */
    /* PyThreadState */
    uint16_t ts_interp, ts_frame, ts_thread_id;
    uint16_t cf_current; /* ts_frame is a _PyCFrame, its current_frame here; PYLAYOUT_NONE: ts_frame
                          * is the current frame itself (3.13+) */
    /* _PyInterpreterFrame */
    uint16_t fr_code, fr_previous, fr_prev_instr, fr_owner;
    uint16_t fr_is_entry;    /* the last frame of an eval call's run (3.11); PYLAYOUT_NONE: a frame
                              * owned by the C stack follows each run (3.12+) */
    uint8_t fr_owner_max;    /* the largest owner value */
    uint8_t fr_owner_cstack; /* FRAME_OWNED_BY_CSTACK, or 0xff */
    /* PyCodeObject */
    uint16_t co_size, co_firstlineno, co_name, co_qualname, co_filename, co_linetable, co_code;
    /* PyBytesObject, PyASCIIObject / PyCompactUnicodeObject */
    uint16_t bytes_size, bytes_data;
    uint16_t str_length, str_state, str_ascii_data, str_utf8_length, str_utf8, str_compact_data;
    uint32_t str_ready; /* state bit a usable str has set (3.11's ready), 0 none */
    int (*line)(const uint8_t *table, size_t len, int firstlineno, int instr);
    /* 3.13+: fields read at start-up from _Py_DebugOffsets at &_PyRuntime
     * (CPython's own description of its layout): its offset there, ours */
    const struct pylayout_debug *debug;
};

/* The row of the interpreter whose Py_Version is hex, copied into *out, with
 * the offsets a 3.13+ row reads from _Py_DebugOffsets at rt (&_PyRuntime)
 * applied. Returns 0; -1 when no row has this major.minor (*out untouched);
 * -2 when the debug offsets' cookie, version or values are not what the row
 * expects (out->name is set). Reads rt: call it only with a live runtime. */
int pylayout_get(unsigned long hex, uintptr_t rt, struct pylayout *out);

/* The line of code unit `instr` in a CPython 3.11 location table (PEP 657,
 * co_linetable; 3.12 and 3.13 keep the format), given co_firstlineno: what
 * PyCode_Addr2Line() answers for byte offset 2 * instr (firstlineno for
 * instr < 0, -1 for an instruction with no line or past the table, and for
 * a table that is cut or corrupt). Pure; any thread. */
int pylayout_line_311(const uint8_t *table, size_t len, int firstlineno, int instr);

#endif
