/*
 * pyframes_int.h - what the Python frames' files share: the interpreter
 * found at start-up (its layout row and the addresses the walk compares
 * against), the one way to read its memory, and how a Python ip is made.
 * pyframes.c finds the interpreter and walks its frames, pycode.c keeps a
 * record per code object, pylast.h/pylast.c keep a thread's last walk.
 *
 * Invariant: everything here is written once by pyframes.c's start-up (the
 * start-up thread, or the collector thread for a libpython dlopen()ed
 * later) before pyframes_on is release-stored, and only read after it is
 * seen set; the readers do no checking of their own: a pointer is followed
 * only after ptr_ok() (or is_type()) passed. Everything is async-signal-safe
 * reading, no locks. Hidden visibility, so the walk reads them without the
 * GOT, as it read them when they were one file's statics.
 */
#ifndef HEAPLINE_PYFRAMES_INT_H
#define HEAPLINE_PYFRAMES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pylayout.h"

#define PY_HIDDEN __attribute__((visibility("hidden")))

/* A Python ip: WIRE_PYTHON_IP_BASE + (record id << PY_ID_SHIFT) +
 * instruction + 1 (0: not started, or not trustworthy). */
#define PY_ID_SHIFT 28
#define PY_INSTR_MASK ((1ull << PY_ID_SHIFT) - 1)
#define PY_ID_UNKNOWN ((1u << PY_ID_SHIFT) - 1) /* a frame whose code has no record */

extern struct pylayout pyframes_layout PY_HIDDEN; /* the row in effect (pylayout.h) */
static const struct pylayout *const L = &pyframes_layout;
extern uintptr_t py_runtime PY_HIDDEN, py_code_type PY_HIDDEN, py_str_type PY_HIDDEN,
    py_bytes_type PY_HIDDEN;
extern uintptr_t py_eval_lo PY_HIDDEN, py_eval_hi PY_HIDDEN; /* _PyEval_EvalFrameDefault */
/* a frame's owner and is_entry bytes: the aligned word that holds both, and
 * the mask of their bytes in it (0: not in one word, no chain reuse) */
extern size_t py_tag_off PY_HIDDEN;
extern uint64_t py_tag_mask PY_HIDDEN;

/* ---- reading the interpreter ---- */

static inline int ptr_ok(uintptr_t p)
{
    return p >= 4096 && p < (1ull << 47) && !(p & 7);
}

static inline uintptr_t rd_ptr(uintptr_t p, uint16_t off)
{
    return *(const uintptr_t *)(p + off);
}

static inline int64_t rd_i64(uintptr_t p, uint16_t off)
{
    return *(const int64_t *)(p + off);
}

static inline int32_t rd_i32(uintptr_t p, uint16_t off)
{
    return *(const int32_t *)(p + off);
}

static inline uint8_t rd_u8(uintptr_t p, uint16_t off)
{
    return *(const uint8_t *)(p + off);
}

static inline int is_type(uintptr_t obj, uintptr_t type)
{
    return ptr_ok(obj) && rd_ptr(obj, 8) == type; /* ob_type */
}

/* The hash of a walk's entries, outermost first (PY_HASH_SEED for none). */
#define PY_HASH_SEED 0x9E3779B97F4A7C15ull
static inline uint64_t py_hash_step(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 31);
}

#endif
