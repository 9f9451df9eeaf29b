/*
 * pyframes.h - the Python frames of an allocation, for CPython programs.
 *
 * When the program is CPython (the python3 executable, or a program linked
 * with libpython3.x.so), every captured stack also carries the calling
 * thread's Python frames at that moment, placed where the interpreter's
 * _PyEval_EvalFrameDefault frames are among the native ones. A Python frame is
 * a synthetic ip at or above WIRE_PYTHON_IP_BASE (wire.h) that no native code
 * can have: it names a code object record (qualified name, file, first line
 * and line table, copied the first time the code object is seen, so a code
 * object freed later keeps its names and a recording is self-contained) and
 * the instruction the frame is at. The collector thread names such an ip
 * through the ordinary FRAME message, in a synthetic module "python".
 *
 * The interpreter's layouts live in pylayout.h, a row per version (3.11, 3.12,
 * 3.13; from 3.13 the row names where CPython's own _Py_DebugOffsets keeps
 * the offsets); a version without a row gets one line on stderr and native
 * frames only. Subinterpreters are not walked: a thread running one gets
 * native frames only.
 */
#ifndef HEAPLINE_PYFRAMES_H
#define HEAPLINE_PYFRAMES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "encode.h"
#include "symbols.h"
#include "wire.h"

/* Looks for a CPython interpreter in the process (HEAPLINE_PYTHON=off: never)
 * and, for a version with a layout row, maps the code-object tables and turns
 * Python frames on. Says one line for a version it does not know, and one
 * when pymalloc will hide small objects (PYTHONMALLOC unset). Start-up only,
 * before tracking (reads the environment, calls dlsym). Returns 1 when
 * Python frames are on. */
int pyframes_init(void);

/* Nonzero once a supported interpreter was found (release-stored after the
 * layout and tables are set). */
extern atomic_int pyframes_on;

/* Collector thread, each tick: when modules were loaded since the last call
 * and no interpreter was found yet, looks for a libpython3.x.so loaded with
 * dlopen() (a plugin host: uwsgi, gdb) and starts as pyframes_init() would,
 * keeping the library loaded. Python frames then start within a tick. */
void pyframes_refresh(void);

static inline int pyframes_is_ip(uint64_t ip)
{
    return ip >= WIRE_PYTHON_IP_BASE;
}

#define PYFRAMES_MAX 128 /* Python frames walked a stack */

/* The calling thread's Python frames, innermost first: py[i] a Python ip
 * (pyframes_is_ip), or, where codes[i] is 0, the end of the run one
 * _PyEval_EvalFrameDefault call executes. hash stands for the whole
 * sequence (with the native stack's hash, the key of the spliced stack). */
struct pyframes_walk {
    int np;
    int lazy; /* py and codes not written yet: pyframes_merge() does */
    uint64_t hash;
    uintptr_t py[PYFRAMES_MAX];
    uintptr_t codes[PYFRAMES_MAX];
};

/* Hot path: walks the calling thread's Python frames into *w. Returns 0
 * (nothing to splice) when the thread has no Python state, is in a
 * subinterpreter, or the interpreter is finalizing. Every pointer is checked
 * before it is followed. No locks, no allocation of the program's (first
 * sight of a code object copies its names into the collector's own mapped
 * arena). */
int pyframes_walk(struct pyframes_walk *w);

/* Hot path: inserts the frames of w into the native stack ips[0..n)
 * (innermost first), each run of Python frames just before (inside) the
 * native frame of the eval call that executes it; runs whose native frame is
 * not in ips (a stack cut at the depth limit) go at the outer end. At most
 * max frames in all; the outermost are dropped beyond. Returns the new count
 * and sets *added to the number of Python frames it put in. */
int pyframes_merge(uintptr_t *ips, int n, int max, struct pyframes_walk *w, int *added);

/* Collector thread: describes a Python ip (pyframes_is_ip) as a frame of the
 * synthetic module "python": function = the code's qualified name, file = its
 * file, line = the line of the frame's instruction (0 when unknown). If the
 * synthetic module has not been described yet, *mod points to it (send the
 * MODULE first), else NULL. Strings stay valid until the next call. */
void pyframes_frame(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod);

/* fork: prepare waits for pyframes_refresh() to be out of the dynamic
 * loader; the child's stream starts empty, the synthetic module is new to it.
 * Code records stay (they are the parent's, and still true). */
void pyframes_atfork_prepare(void);
void pyframes_atfork_parent(void);
void pyframes_atfork_child(void);

#endif
