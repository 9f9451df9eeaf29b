/*
 * pycode.h - a record per CPython code object: its qualified name, file,
 * first line and line table, copied the first time a walk meets it, so a
 * Python ip (pyframes_int.h) names it after the code object is gone and a
 * recording is self-contained.
 *
 * Ownership: the records live in an append-only arena of the collector's
 * own (mmap'ed, never freed); a record pointer stays valid for the process's
 * life. Threads: pycode_id() on any thread (the hot path, inside malloc),
 * lock-free; pycode_get() on the collector thread, for ids that reached it
 * through a ring. Async-signal-safe: no locks, no allocation of the
 * program's.
 */
#ifndef HEAPLINE_PYCODE_H
#define HEAPLINE_PYCODE_H

#include <stdint.h>

#include "pyframes_int.h"

/* What identifies a code object at an address: a record is used only while
 * the object there still reads the same. */
struct py_fingerprint {
    uintptr_t code, name, qualname, filename, linetable;
    int64_t size;
    int32_t firstlineno;
};

struct py_record {
    struct py_fingerprint fp;
    uint32_t qualname_len, filename_len, table_len;
    char data[]; /* qualname, NUL, filename, NUL, line table */
};

/* Start-up (pyframes.c), once an interpreter is found: maps the arena and
 * the tables the first time. Returns 0, or -1 when they cannot be mapped
 * (then no walk may run). */
int pycode_init(void);

/* Hot path, any thread: the record id of the code object at code (its type
 * checked by the caller) with fingerprint fp, making a record on first
 * sight. PY_ID_UNKNOWN when the tables are full (said once on stderr). */
uint32_t pycode_id(uintptr_t code, const struct py_fingerprint *fp);

/* Collector thread: the record of id, or NULL (an unknown id, or no
 * tables). */
const struct py_record *pycode_get(uint32_t id);

/* Reads the fingerprint of the code object at code (readable: it passed
 * is_type()). */
static inline void pycode_fingerprint(uintptr_t code, struct py_fingerprint *fp)
{
    fp->code = code;
    fp->name = rd_ptr(code, L->co_name);
    fp->qualname = rd_ptr(code, L->co_qualname);
    fp->filename = rd_ptr(code, L->co_filename);
    fp->linetable = rd_ptr(code, L->co_linetable);
    fp->size = rd_i64(code, L->co_size);
    fp->firstlineno = rd_i32(code, L->co_firstlineno);
}

/* Whether two fingerprints are the same code object's. */
static inline int pycode_same_fp(const struct py_fingerprint *a, const struct py_fingerprint *b)
{
    return a->code == b->code && a->qualname == b->qualname && a->filename == b->filename &&
           a->linetable == b->linetable && a->name == b->name && a->size == b->size &&
           a->firstlineno == b->firstlineno;
}

#endif
