/*
 * pylast.h - what a thread's Python frame walks keep from one walk to the
 * next: a memo of the code objects they met, and the last walk's frame
 * chain and entries, so a walk whose chain reads as the last one's takes
 * its entries without a second pass (pyframes.c decides when that holds:
 * while the code-object generation stands, pygen.h).
 *
 * Ownership: each thread's state is its own, mapped on its first walk and
 * unmapped by the pthread key's destructor at thread exit; only that thread
 * reads or writes it. Hot path: everything here but pylast_init() runs
 * inside malloc, so it is async-signal-safe (no locks; the one mmap is a
 * thread's first walk), and the helpers the walk calls on every allocation
 * are static inline here, as they were when they shared pyframes.c.
 */
#ifndef HEAPLINE_PYLAST_H
#define HEAPLINE_PYLAST_H

#include <stdint.h>

#include "pycode.h"
#include "pyframes.h"
#include "pyframes_int.h"
#include "pygen.h"

/* What a thread's walks keep, mapped on its first walk, not in TLS: the
 * library's static TLS must stay small enough for dlopen into a running
 * program (heapline attach; glibc keeps about 1.6 KB spare), and most
 * threads never walk Python frames.
 *
 * memo: the code objects its walks met, by address: their record ids,
 * without the shared table (the fingerprint is still compared, against the
 * entry, so a dead code object's address gets no stale name).
 *
 * last: the last walk's entries, outermost first: what the frame read
 * (code, 0 for a run's end, and instruction pointer), the ip made of them,
 * the fingerprint the code had, and the hash of the entries up to this one.
 * The outer frames of a stack seldom change from one allocation to the
 * next: an entry whose frame reads the same code and instruction as the
 * last walk's at the same depth from the outermost, and whose code still
 * has that type and fingerprint, is the same ip, and the hash so far is
 * the same: only the fingerprint is read again, and not even that while the
 * code-object generation is the one gen recorded (pygen.h). */
#define PY_MEMO 32
struct py_memo {
    struct py_fingerprint fp;
    uint32_t id;
};
struct py_last_entry {
    uintptr_t code, instr, ip;
    uint64_t hash;
    struct py_fingerprint fp;
};
/* chain: the frames the last walk read, innermost first, as it read them
 * (address, code, instruction, owner | is_entry << 8), and the pointer that
 * ended it (one ptr_ok() refuses). While the code-object generation is the
 * one that walk recorded, a chain that reads the same is the same walk: its
 * result is last's, without the second pass over the entries (python3's JSON
 * bench: 4 in 5 walks). ch_n 0: no such chain (a walk that stopped
 * elsewhere, or dropped entries). */
struct py_chain_entry {
    uintptr_t fr, code, instr, tag;
};
struct py_thread {
    uintptr_t ts, self; /* see thread_state() */
    struct py_memo memo[PY_MEMO];
    uint64_t ch_hash; /* the last walk's hash */
    int last_np;      /* entries of last valid */
    uint64_t gen;     /* pygen_read() of the walk that validated last's codes */
    struct py_last_entry last[PYFRAMES_MAX];
    int ch_n;
    uintptr_t ch_end;
    struct py_chain_entry ch[PYFRAMES_MAX];
};
extern __thread struct py_thread *py_thr PY_HIDDEN;

/* Start-up: creates the key whose destructor unmaps a thread's state. Until
 * it succeeds pylast_thread() returns NULL (walks then keep nothing). */
void pylast_init(void);

/* A thread's first walk: maps its state. NULL when that fails. */
struct py_thread *pylast_thread_new(void);

/* The calling thread's state, NULL when it has none and cannot get one. */
static inline struct py_thread *pylast_thread(void)
{
    if (__builtin_expect(py_thr != NULL, 1))
        return py_thr;
    return pylast_thread_new();
}

static inline struct py_memo *pylast_memo_slot(struct py_memo *m, uintptr_t code)
{
    return &m[((code >> 4) ^ (code >> 10)) & (PY_MEMO - 1)];
}

/* Whether the chain from fr reads what t's chain holds (t->ch_n > 0): 0
 * when it does (the same frames, so the same entries), 1 when only the
 * innermost frame's instruction differs (*instr, read there), else -1. Each
 * frame is read only after its address was found equal to one the last walk
 * checked. */
static inline int pylast_chain_same(const struct py_thread *t, uintptr_t fr, uintptr_t *instr)
{
    const size_t o_code = L->fr_code, o_instr = L->fr_prev_instr, o_prev = L->fr_previous,
                 o_tag = py_tag_off;
    const uint64_t mask = py_tag_mask;
    const struct py_chain_entry *c = t->ch, *end = c + t->ch_n;
    int moved;

    if (fr != c->fr || ((*(const uintptr_t *)(fr + o_code) ^ c->code) |
                        ((*(const uint64_t *)(fr + o_tag) ^ c->tag) & mask)) != 0)
        return -1;
    *instr = *(const uintptr_t *)(fr + o_instr);
    moved = *instr != c->instr;
    fr = *(const uintptr_t *)(fr + o_prev);
    for (c++; c < end; c++) {
        if (fr != c->fr)
            return -1;
        if (((*(const uintptr_t *)(fr + o_code) ^ c->code) |
             (*(const uintptr_t *)(fr + o_instr) ^ c->instr) |
             ((*(const uint64_t *)(fr + o_tag) ^ c->tag) & mask)) != 0)
            return -1;
        fr = *(const uintptr_t *)(fr + o_prev);
    }
    return fr == t->ch_end ? moved : -1;
}

/* The last walk's chain with its innermost frame at instruction raw: that
 * entry's ip and hash again (the innermost is the last entry, outermost
 * first, and its code, trusted, keeps its record), the rest as they were.
 * Returns 0 when that entry is not a code's. */
static inline int pylast_innermost_moved(struct pyframes_walk *w, struct py_thread *t,
                                         uintptr_t raw, int gen_ok)
{
    int np = t->last_np;
    struct py_last_entry *e = &t->last[np - 1];
    uintptr_t code = e->code, ip;
    int64_t instr;
    uint64_t h;

    if (!code || code != t->ch[0].code)
        return 0;
    instr = ((int64_t)raw - (int64_t)(code + L->co_code)) >> 1;
    if (instr < -1 || instr >= e->fp.size || instr + 1 > (int64_t)PY_INSTR_MASK)
        instr = -1;
    ip = (e->ip & ~(uintptr_t)PY_INSTR_MASK) + (uint64_t)(instr + 1);
    h = py_hash_step(np > 1 ? e[-1].hash : PY_HASH_SEED, ip);
    if (gen_ok)
        pygen_note(code);
    e->instr = raw;
    e->ip = ip;
    e->hash = h;
    t->ch[0].instr = raw;
    w->np = np;
    w->hash = t->ch_hash = h ^ (uint64_t)np;
    w->lazy = 1;
    return 1;
}

/* A walk that found the last one's chain: its entries from the last's. */
static inline void pylast_fill(struct pyframes_walk *w)
{
    const struct py_thread *t = py_thr;
    int np = w->np;

    for (int k = 0; k < np; k++) {
        w->codes[np - 1 - k] = t->last[k].code;
        w->py[np - 1 - k] = t->last[k].ip;
    }
    w->lazy = 0;
}

#endif
