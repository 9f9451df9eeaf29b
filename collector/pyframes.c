/*
 * pyframes.c - CPython frames in the collector's stacks.
 *
 * The walk reads the interpreter's own structures from inside malloc, on any
 * thread, with or without the GIL, during start-up and shutdown. It follows a
 * pointer only after checking it: non-null, aligned, in user space, and, for
 * a code object, that its type is PyCode_Type; a frame's owner must be one
 * the version knows, its instruction must lie inside its code, and the walk
 * stops after PYFRAMES_MAX frames. The thread's state is the one
 * PyGILState_GetThisThreadState() returns (the runtime's TLS key), never the
 * GIL holder's. A thread of a subinterpreter, and every thread once the
 * runtime is finalizing, get native frames only.
 *
 * Code records. The first time a code object is seen, its qualified name,
 * file, first line, size and line table are copied into an append-only
 * arena (mmap'ed, never freed); a table keyed by the code object's address
 * finds the record after that. Code objects die and their addresses are
 * reused: a record is used only while the code object still has the same
 * string pointers, first line and size it had (its fingerprint), else a new
 * record replaces it in the table (older ips keep naming the old one).
 * Records are written completely before their id is published with a release
 * store, and read by the collector thread only through ips that reached it
 * through a ring, so the collector sees whole records.
 */
#include "pyframes.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"
#include "pygen.h"
#include "pylayout.h"

#define PY_NAME_MAX 1024u             /* bytes kept of a name or file */
#define PY_TABLE_MAX (1u << 20)       /* bytes kept of a line table */
#define PY_ARENA_BYTES (256ull << 20) /* reserved, touched as used */
#define PY_MAX_CODES (1u << 22)       /* records */
#define PY_SLOTS (1u << 18)           /* code address -> record table */
#define PY_PROBES 64
#define PY_ID_SHIFT 28
#define PY_INSTR_MASK ((1ull << PY_ID_SHIFT) - 1)
#define PY_ID_UNKNOWN ((1u << PY_ID_SHIFT) - 1) /* a frame whose code has no record */

atomic_int pyframes_on;
static struct pylayout layout; /* the row in effect (pylayout.h) */
static const struct pylayout *L = &layout;
static uintptr_t py_runtime, py_code_type, py_str_type, py_bytes_type;
static uintptr_t eval_lo, eval_hi; /* _PyEval_EvalFrameDefault */
/* a frame's owner and is_entry bytes: the aligned word that holds both, and
 * the mask of their bytes in it (0: not in one word, no chain reuse) */
static size_t tag_off;
static uint64_t tag_mask;

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

/* UTF-8 length of a str object (at most max), or -1 when it is not a ready
 * compact str. With out, also writes the bytes. */
static long str_utf8(uintptr_t s, char *out, size_t max)
{
    uint32_t state;
    int64_t n;
    size_t w = 0;

    if (!is_type(s, py_str_type))
        return -1;
    state = (uint32_t)rd_i32(s, L->str_state);
    n = rd_i64(s, L->str_length);
    if (!(state & (1u << 5)) || (state & L->str_ready) != L->str_ready || n < 0)
        return -1;           /* not compact, or not ready (3.11) */
    if (state & (1u << 6)) { /* ascii: the characters follow the header */
        w = (size_t)n < max ? (size_t)n : max;
        if (out)
            memcpy(out, (const char *)(s + L->str_ascii_data), w);
        return (long)w;
    }
    uintptr_t utf8 = rd_ptr(s, L->str_utf8);
    int64_t un = rd_i64(s, L->str_utf8_length);
    if (utf8 >= 4096 && utf8 < (1ull << 47) && un >= 0) { /* its UTF-8, cached */
        w = (size_t)un < max ? (size_t)un : max;
        if (out)
            memcpy(out, (const char *)utf8, w);
        return (long)w;
    }
    unsigned kind = (state >> 2) & 7;
    const uint8_t *d = (const uint8_t *)(s + L->str_compact_data);

    if (kind != 1 && kind != 2 && kind != 4)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        uint32_t c = kind == 1   ? d[i]
                     : kind == 2 ? ((const uint16_t *)d)[i]
                                 : ((const uint32_t *)d)[i];
        uint8_t b[4];
        size_t k;

        if (c < 0x80) {
            b[0] = (uint8_t)c;
            k = 1;
        } else if (c < 0x800) {
            b[0] = (uint8_t)(0xc0 | c >> 6);
            b[1] = (uint8_t)(0x80 | (c & 0x3f));
            k = 2;
        } else if (c < 0x10000) {
            b[0] = (uint8_t)(0xe0 | c >> 12);
            b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            b[2] = (uint8_t)(0x80 | (c & 0x3f));
            k = 3;
        } else {
            b[0] = (uint8_t)(0xf0 | (c >> 18 & 7));
            b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
            b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            b[3] = (uint8_t)(0x80 | (c & 0x3f));
            k = 4;
        }
        if (w + k > max)
            break;
        if (out)
            memcpy(out + w, b, k);
        w += k;
    }
    return (long)w;
}

/* ---- code records ---- */

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

struct py_slot {
    _Atomic uintptr_t code;
    atomic_uint id; /* record + 1; 0 while being filled */
};

static char *arena;
static atomic_ullong arena_used;
static _Atomic uint64_t *records; /* id -> arena offset + 1 */
static atomic_uint n_records;
static struct py_slot *slots;
static atomic_int full_said;

static void say_full(void)
{
    int expect = 0;

    if (atomic_compare_exchange_strong(&full_said, &expect, 1))
        core_say("Python code tables are full: further new functions show as <python>");
}

static void fingerprint(uintptr_t code, struct py_fingerprint *fp)
{
    fp->code = code;
    fp->name = rd_ptr(code, L->co_name);
    fp->qualname = rd_ptr(code, L->co_qualname);
    fp->filename = rd_ptr(code, L->co_filename);
    fp->linetable = rd_ptr(code, L->co_linetable);
    fp->size = rd_i64(code, L->co_size);
    fp->firstlineno = rd_i32(code, L->co_firstlineno);
}

static inline const struct py_record *record_at(uint32_t id)
{
    uint64_t off = atomic_load_explicit(&records[id], memory_order_acquire);

    return off ? (const struct py_record *)(arena + off - 1) : NULL;
}

static inline int same_fp(const struct py_fingerprint *a, const struct py_fingerprint *b)
{
    return a->code == b->code && a->qualname == b->qualname && a->filename == b->filename &&
           a->linetable == b->linetable && a->name == b->name && a->size == b->size &&
           a->firstlineno == b->firstlineno;
}

/* Copies a code object's names into a new record. Returns its id, or
 * PY_ID_UNKNOWN when the arena or the id space is full. */
static uint32_t record_new(const struct py_fingerprint *fp)
{
    long ql = str_utf8(fp->qualname, NULL, PY_NAME_MAX);
    long fl = str_utf8(fp->filename, NULL, PY_NAME_MAX);
    int64_t tl = is_type(fp->linetable, py_bytes_type) ? rd_i64(fp->linetable, L->bytes_size) : -1;
    uint64_t need, off;
    uint32_t id;
    struct py_record *r;

    if (ql < 0)
        ql = 0;
    if (fl < 0)
        fl = 0;
    if (tl < 0 || tl > PY_TABLE_MAX)
        tl = 0; /* lines unknown: the first line stands for all */
    need = (sizeof(*r) + (uint64_t)ql + (uint64_t)fl + 2 + (uint64_t)tl + 7) & ~7ull;
    off = atomic_fetch_add_explicit(&arena_used, need, memory_order_relaxed);
    if (off + need > PY_ARENA_BYTES) {
        say_full();
        return PY_ID_UNKNOWN;
    }
    id = atomic_fetch_add_explicit(&n_records, 1, memory_order_relaxed);
    if (id >= PY_MAX_CODES || id >= PY_ID_UNKNOWN) {
        say_full();
        return PY_ID_UNKNOWN;
    }
    r = (struct py_record *)(arena + off);
    r->fp = *fp;
    /* the second pass writes what the first counted (at most: a str's UTF-8
     * cache may appear in between, with the same bytes) */
    ql = ql ? str_utf8(fp->qualname, r->data, (size_t)ql) : 0;
    r->qualname_len = ql > 0 ? (uint32_t)ql : 0;
    r->data[r->qualname_len] = 0;
    fl = fl ? str_utf8(fp->filename, r->data + r->qualname_len + 1, (size_t)fl) : 0;
    r->filename_len = fl > 0 ? (uint32_t)fl : 0;
    r->data[r->qualname_len + 1 + r->filename_len] = 0;
    r->table_len = (uint32_t)tl;
    if (tl)
        memcpy(r->data + r->qualname_len + r->filename_len + 2,
               (const char *)(fp->linetable + L->bytes_data), (size_t)tl);
    atomic_store_explicit(&records[id], off + 1, memory_order_release);
    return id;
}

/* The record id of a code object (fingerprint fp), making one on first
 * sight. */
static uint32_t code_id(uintptr_t code, const struct py_fingerprint *fpp)
{
    const struct py_fingerprint fp = *fpp;
    uint64_t h = (code >> 4) * 0x9E3779B97F4A7C15ull;
    uint32_t i = (uint32_t)(h >> 40) & (PY_SLOTS - 1);

    for (int probe = 0; probe < PY_PROBES;) {
        struct py_slot *s = &slots[i];
        uintptr_t k = atomic_load_explicit(&s->code, memory_order_acquire);

        if (k == code) {
            uint32_t id = atomic_load_explicit(&s->id, memory_order_acquire);
            const struct py_record *r = id ? record_at(id - 1) : NULL;

            if (r && same_fp(&r->fp, &fp))
                return id - 1;
            /* a new code object at a dead one's address (or one being
             * filled by another thread): a record of its own */
            id = record_new(&fp);
            if (id != PY_ID_UNKNOWN)
                atomic_store_explicit(&s->id, id + 1, memory_order_release);
            return id;
        }
        if (k == 0) {
            uintptr_t expect = 0;

            if (atomic_compare_exchange_strong(&s->code, &expect, code)) {
                uint32_t id = record_new(&fp);

                if (id != PY_ID_UNKNOWN)
                    atomic_store_explicit(&s->id, id + 1, memory_order_release);
                return id;
            }
            continue; /* lost the slot: look at what took it */
        }
        i = (i + 1) & (PY_SLOTS - 1);
        probe++;
    }
    say_full();
    return PY_ID_UNKNOWN;
}

/* ---- the walk ---- */

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
static __thread struct py_thread *py_thr;
static pthread_key_t memo_key;
static atomic_int memo_key_ok;

static void memo_drop(void *p)
{
    py_thr = NULL;
    munmap(p, sizeof(struct py_thread));
}

static struct py_thread *thread_get(void)
{
    void *p;

    if (__builtin_expect(py_thr != NULL, 1))
        return py_thr;
    if (!atomic_load_explicit(&memo_key_ok, memory_order_acquire))
        return NULL;
    p = mmap(NULL, sizeof(struct py_thread), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    py_thr = p;
    py_thr->self = (uintptr_t)pthread_self();
    pthread_setspecific(memo_key, p);
    return py_thr;
}

static inline struct py_memo *memo_slot(struct py_memo *m, uintptr_t code)
{
    return &m[((code >> 4) ^ (code >> 10)) & (PY_MEMO - 1)];
}

/* Whether the object at code (a pointer that can be read: it passed is_type
 * when fp was taken) is still a code object with fingerprint fp. One branch
 * for the seven compares: the loads do not wait on each other. */
static inline int fp_holds(const struct py_fingerprint *fp, uintptr_t code)
{
    uint64_t d = (rd_ptr(code, 8) ^ py_code_type) | (rd_ptr(code, L->co_name) ^ fp->name) |
                 (rd_ptr(code, L->co_qualname) ^ fp->qualname) |
                 (rd_ptr(code, L->co_filename) ^ fp->filename) |
                 (rd_ptr(code, L->co_linetable) ^ fp->linetable) |
                 (uint64_t)(rd_i64(code, L->co_size) ^ fp->size) |
                 (uint32_t)(rd_i32(code, L->co_firstlineno) ^ fp->firstlineno);

    return d == 0;
}

/* The record id of a code object (is_type checked), through the thread's
 * memo m when there is one; *fp its fingerprint. */
static __attribute__((noinline)) uint32_t code_id_memo(struct py_memo *m, uintptr_t code,
                                                       struct py_fingerprint *fp)
{
    struct py_memo *e;

    fingerprint(code, fp);
    if (!m)
        return code_id(code, fp);
    e = memo_slot(m, code);
    if (same_fp(&e->fp, fp))
        return e->id;
    e->id = code_id(code, fp);
    e->fp = *fp;
    return e->id;
}

#define PY_HASH_SEED 0x9E3779B97F4A7C15ull
static inline uint64_t py_hash_step(uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 31);
}

/* Turns the walk's entries k.. (k from the outermost; entry i = np - 1 - k
 * innermost first) into ips, reading each code's record; h the hash of the
 * entries before k. Keeps them in last (when not NULL) for the next walk.
 * A code pointer that is not a code object ends the stack there (its
 * frames and the outer ones are dropped): returns the entries kept. */
static int walk_codes(struct pyframes_walk *w, int np, int k, uint64_t h, struct py_thread *t,
                      int gen_ok)
{
    uintptr_t *py = w->py, *codes = w->codes;
    struct py_memo *m = t ? t->memo : NULL;
    struct py_last_entry *last = t ? t->last : NULL;

    for (; k < np; k++) {
        int i = np - 1 - k;
        uintptr_t code = codes[i], raw = py[i];
        const struct py_memo *e;
        struct py_fingerprint fp;
        int64_t instr;
        uint32_t id;

        if (!code) {
            h = py_hash_step(h, 1);
        } else {
            e = m ? memo_slot(m, code) : NULL;
            if (e && e->fp.code == code && fp_holds(&e->fp, code)) {
                id = e->id;
                fp = e->fp;
            } else if (is_type(code, py_code_type)) {
                id = code_id_memo(m, code, &fp);
            } else {
                /* the entries outer than i go: start again from i - 1 */
                np = i;
                k = -1;
                h = PY_HASH_SEED;
                last = NULL;
                if (t)
                    t->last_np = 0;
                continue;
            }
            if (gen_ok)
                pygen_note(code);
            instr = ((int64_t)raw - (int64_t)(code + L->co_code)) >> 1;
            if (instr < -1 || instr >= fp.size || instr + 1 > (int64_t)PY_INSTR_MASK)
                instr = -1; /* not started, or not trustworthy: the first line */
            py[i] = (uintptr_t)(WIRE_PYTHON_IP_BASE + ((uint64_t)id << PY_ID_SHIFT) +
                                (uint64_t)(instr + 1));
            h = py_hash_step(h, py[i]);
            if (last)
                last[k].fp = fp;
        }
        if (last) {
            last[k].code = code;
            last[k].instr = raw;
            last[k].ip = code ? py[i] : 0;
            last[k].hash = h;
        }
    }
    if (last)
        t->last_np = np;
    w->np = np;
    w->hash = h ^ (uint64_t)np;
    return np;
}

/* Whether a frame reused from the last walk still runs the code whose
 * fingerprint it kept; noted for the generation when gen_ok. */
static inline int still_holds(const struct py_fingerprint *fp, uintptr_t code, int gen_ok)
{
    if (!fp_holds(fp, code))
        return 0;
    if (gen_ok)
        pygen_note(code);
    return 1;
}

static int allocator_is_malloc(void);

static inline int in_eval(uintptr_t ip)
{
    return ip - eval_lo < eval_hi - eval_lo;
}

/* The frame chain from fr, innermost first, into codes and py (see
 * pyframes_walk()); returns the entries. The layout's offsets are read
 * once, as size_t: read in the loop, each was loaded (and widened) again
 * for every frame. With t, the frames as read go to t's chain. */
static inline __attribute__((always_inline)) int walk_chain(uintptr_t fr, uintptr_t *codes,
                                                            uintptr_t *py, struct py_thread *t)
{
    const size_t o_owner = L->fr_owner, o_code = L->fr_code, o_instr = L->fr_prev_instr,
                 o_entry = L->fr_is_entry, o_prev = L->fr_previous;
    const uint8_t owner_max = L->fr_owner_max, owner_cstack = L->fr_owner_cstack;
    struct py_chain_entry *c = t ? t->ch : NULL;
    size_t np = 0, nraw = 0;

    while (np < PYFRAMES_MAX && ptr_ok(fr)) { /* ptr_ok(0) is false */
        uint8_t owner = *(const uint8_t *)(fr + o_owner);

        if (owner > owner_max)
            break;
        if (__builtin_expect(owner == owner_cstack, 0)) {
            codes[np] = 0;
        } else {
            codes[np] = *(const uintptr_t *)(fr + o_code);
            py[np] = *(const uintptr_t *)(fr + o_instr);
            if (o_entry != PYLAYOUT_NONE && *(const uint8_t *)(fr + o_entry) &&
                np + 1 < PYFRAMES_MAX)
                codes[++np] = 0;
        }
        if (c)
            c[nraw] = (struct py_chain_entry){fr, *(const uintptr_t *)(fr + o_code),
                                              *(const uintptr_t *)(fr + o_instr),
                                              *(const uint64_t *)(fr + tag_off) & tag_mask};
        nraw++;
        np++;
        fr = *(const uintptr_t *)(fr + o_prev);
    }
    if (t) {
        t->ch_n = ptr_ok(fr) || !tag_mask ? 0 : (int)nraw;
        t->ch_end = fr;
    }
    return (int)np;
}

/* Whether the chain from fr reads what t's chain holds (t->ch_n > 0): 0
 * when it does (the same frames, so the same entries), 1 when only the
 * innermost frame's instruction differs (*instr, read there), else -1. Each
 * frame is read only after its address was found equal to one the last walk
 * checked. */
static inline int chain_same(const struct py_thread *t, uintptr_t fr, uintptr_t *instr)
{
    const size_t o_code = L->fr_code, o_instr = L->fr_prev_instr, o_prev = L->fr_previous,
                 o_tag = tag_off;
    const uint64_t mask = tag_mask;
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
static int innermost_moved(struct pyframes_walk *w, struct py_thread *t, uintptr_t raw, int gen_ok)
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

/* The thread state whose frames this thread's walk reads: the one in
 * CPython's TLS (autoTSSkey), of the main interpreter; 0 when there is none
 * to read (no Python state on this thread, or a subinterpreter's). 3.11:
 * the TLS keeps a thread's first state; a thread that runs a subinterpreter
 * holds the GIL with another state of its own, and then none is read.
 *
 * In 3.11 the state that holds the GIL (tstate_current) is, while the
 * thread runs Python, the TLS's: t->ts keeps the state the last full check
 * found to be both, and while tstate_current is still that address and
 * names this thread, the TLS holds it too, without pthread_getspecific (17
 * instructions an allocation, of the walk's 408 on python3): a state leaves
 * the TLS only when it is deleted, and a state made later at the same
 * address for this thread goes into the TLS it finds empty
 * (_PyGILState_NoteThreadState), whatever its interpreter (checked as
 * before). */
static inline uintptr_t thread_state(uintptr_t rt, struct py_thread *t)
{
    uintptr_t ts, cur = 0;

    if (L->rt_tstate_current != PYLAYOUT_NONE) {
        cur = atomic_load_explicit((_Atomic uintptr_t *)(rt + L->rt_tstate_current),
                                   memory_order_relaxed);
        if (t && cur == t->ts && cur && rd_ptr(cur, L->ts_thread_id) == t->self)
            return rd_ptr(cur, L->ts_interp) == rd_ptr(rt, L->rt_main_interp) ? cur : 0;
    }
    ts = (uintptr_t)pthread_getspecific((pthread_key_t)rd_i32(rt, L->rt_tss_key));
    if (!ptr_ok(ts) || rd_ptr(ts, L->ts_interp) != rd_ptr(rt, L->rt_main_interp))
        return 0;
    if (L->rt_tstate_current != PYLAYOUT_NONE && cur != ts && ptr_ok(cur) &&
        rd_ptr(cur, L->ts_thread_id) == (uintptr_t)pthread_self())
        return 0;
    if (t && cur == ts)
        t->ts = ts;
    return ts;
}

/* pyframes_walk() when the chain is not the last walk's: the chain, then
 * the entries it shares with the last walk, then the codes of the rest. */
static __attribute__((noinline)) int walk_slow(struct pyframes_walk *w, struct py_thread *t,
                                               uintptr_t fr, uint64_t gen, int gen_ok, int trust)
{
    uintptr_t *py = w->py, *codes = w->codes;
    uint64_t h = PY_HASH_SEED;
    int np, k = 0;

    /* First the chain alone (one dependent load a frame), then the code
     * objects, whose lookups do not depend on each other. codes[i] == 0
     * stands for the end of one eval call's run: after the frame marked
     * is_entry (3.11), or where a frame owned by the C stack is (3.12+). */
    np = walk_chain(fr, codes, py, t);
    if (!t)
        return walk_codes(w, np, 0, h, NULL, gen_ok) > 0;
    /* the outer entries the last walk had too, from the outermost; their
     * code objects as the last walk found them while trusted */
    int lnp = t->last_np, chain_np = np;
    const struct py_last_entry *e = t->last;

    for (k = 0; k < np && k < lnp; k++, e++) {
        int i = np - 1 - k;
        uintptr_t code = codes[i];

        if (code != e->code ||
            (code && (py[i] != e->instr || (!trust && !still_holds(&e->fp, code, gen_ok)))))
            break;
        py[i] = e->ip;
        h = e->hash;
    }
    np = walk_codes(w, np, k, h, t, gen_ok);
    t->gen = gen;
    t->ch_hash = w->hash;
    if (np != chain_np || np == 0) /* entries dropped: the chain is not the result */
        t->ch_n = 0;
    return np > 0;
}

int pyframes_walk(struct pyframes_walk *w)
{
    uintptr_t rt = py_runtime, ts, fr;
    uint64_t gen = 1;
    struct py_thread *t;
    int gen_ok = 0, trust = 0;

    w->np = 0;
    w->lazy = 0;
    if (!atomic_load_explicit(&pyframes_on, memory_order_acquire))
        return 0;
    if (atomic_load_explicit((_Atomic uintptr_t *)(rt + L->rt_finalizing), memory_order_relaxed) ||
        !rd_ptr(rt, L->rt_auto_interp) || !rd_i32(rt, L->rt_tss_init))
        return 0;
    t = thread_get();
    ts = thread_state(rt, t);
    if (!ts)
        return 0;
    fr = rd_ptr(ts, L->ts_frame);
    if (L->cf_current != PYLAYOUT_NONE) {
        if (!ptr_ok(fr))
            return 0;
        fr = rd_ptr(fr, L->cf_current);
    }
    /* the last walk again: its chain read the same while no code object
     * a walk relied on was freed (an even generation, the same) */
    if (t) {
        gen = pygen_read(allocator_is_malloc, &gen_ok);
        trust = !(gen & 1) && gen == t->gen;
        uintptr_t instr;
        int same = trust && t->ch_n ? chain_same(t, fr, &instr) : -1;

        if (same == 0) {
            w->np = t->last_np;
            w->hash = t->ch_hash;
            w->lazy = 1;
            return 1;
        }
        if (same == 1 && innermost_moved(w, t, instr, gen_ok))
            return 1;
    }
    return walk_slow(w, t, fr, gen, gen_ok, trust);
}

/* A walk that found the last one's chain: its entries from the last's. */
static void walk_fill(struct pyframes_walk *w)
{
    const struct py_thread *t = py_thr;
    int np = w->np;

    for (int k = 0; k < np; k++) {
        w->codes[np - 1 - k] = t->last[k].code;
        w->py[np - 1 - k] = t->last[k].ip;
    }
    w->lazy = 0;
}

int pyframes_merge(uintptr_t *ips, int n, int max, struct pyframes_walk *w, int *added)
{
    const uintptr_t *py = w->py, *codes = w->codes;
    uintptr_t out[CORE_MAX_DEPTH];
    int np = w->np, k = 0, g, i, nadd = 0;

    *added = 0;
    if (w->lazy)
        walk_fill(w);
    if (max > CORE_MAX_DEPTH)
        max = CORE_MAX_DEPTH;
    /* natives up to each eval frame, then that eval call's Python run */
    for (i = 0, g = 0; i < n && k < max; i++) {
        if (in_eval(ips[i]))
            for (; g < np && k < max; g++) {
                if (!codes[g]) {
                    g++;
                    break;
                }
                out[k++] = py[g];
                nadd++;
            }
        if (k < max)
            out[k++] = ips[i];
    }
    for (; g < np && k < max; g++) /* runs whose eval frame is beyond the depth limit */
        if (codes[g]) {
            out[k++] = py[g];
            nadd++;
        }
    if (!nadd)
        return n;
    memcpy(ips, out, (size_t)k * sizeof(*ips));
    *added = nadd;
    return k;
}

/* Held while the collector thread is in dl_iterate_phdr(), and by fork():
 * glibc does not reset the loader's write lock (which dl_iterate_phdr holds)
 * in a fork child, so a child forked meanwhile would hang in its first
 * dl_iterate_phdr. */
static pthread_mutex_t py_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- naming, on the collector thread ---- */

static struct symbols_module py_module;
static int py_module_sent;

void pyframes_frame(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod)
{
    uint32_t id = (uint32_t)((ip - WIRE_PYTHON_IP_BASE) >> PY_ID_SHIFT);
    int instr = (int)((ip - WIRE_PYTHON_IP_BASE) & PY_INSTR_MASK) - 1;
    const struct py_record *r = NULL;

    memset(f, 0, sizeof(*f));
    f->ip = ip;
    *mod = NULL;
    if (!py_module.id)
        py_module.id = symbols_module_id();
    if (!py_module_sent) {
        py_module_sent = 1;
        py_module.path = WIRE_PYTHON_MODULE;
        py_module.base = WIRE_PYTHON_IP_BASE;
        py_module.size = ~0ull - WIRE_PYTHON_IP_BASE;
        *mod = &py_module;
    }
    f->module = py_module.id;
    if (records && id < PY_MAX_CODES)
        r = record_at(id);
    if (!r) {
        f->function = "<python>";
        return;
    }
    int line = pylayout_line_311((const uint8_t *)r->data + r->qualname_len + r->filename_len + 2,
                                 r->table_len, r->fp.firstlineno, instr);
    f->function = r->data;
    f->file = r->data + r->qualname_len + 1;
    f->line = line > 0 ? (uint32_t)line : 0;
}

void pyframes_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&py_mu, &fresh, sizeof(fresh));
    pygen_atfork_child();
    py_module_sent = 0;
    py_module.id = 0;
}

/* ---- start-up ---- */

/* An interpreter was found: frames are on, or it said why not. */
static int py_settled;
static int py_off, py_env_malloc; /* HEAPLINE_PYTHON=off; PYTHONMALLOC=malloc, at start-up */
static void *py_handle;           /* a libpython loaded with dlopen(), kept loaded */
static const char *(*py_allocator_name)(void); /* 3.11's, which takes no lock */

/* Whether every Python object goes through malloc() and free(): asked once
 * the interpreter runs (pygen_read), PYTHONMALLOC=malloc being ignored
 * under -E or -I, and tracemalloc's hooks showing as no name. */
static int allocator_is_malloc(void)
{
    const char *n = py_allocator_name ? py_allocator_name() : NULL;

    return n && strcmp(n, "malloc") == 0;
}

static void *py_sym(const char *name)
{
    void *p = dlsym(RTLD_DEFAULT, name);

    return p || !py_handle ? p : dlsym(py_handle, name);
}

/* "3.10" from Py_GetVersion(), for the line about a version we do not know. */
static void version_name(char *out, size_t size)
{
    const unsigned long *hex = py_sym("Py_Version");
    const char *(*get)(void) = (const char *(*)(void))py_sym("Py_GetVersion");

    if (hex) {
        snprintf(out, size, "%lu.%lu", *hex >> 24, (*hex >> 16) & 0xff);
    } else if (get) {
        const char *v = get();
        size_t i = 0;
        int dots = 0;

        /* "3.10.13 (main, ...": major.minor */
        while (v[i] && v[i] != ' ' && i + 1 < size && i < 16) {
            if (v[i] == '.' && ++dots == 2)
                break;
            out[i] = v[i];
            i++;
        }
        out[i] = 0;
    } else {
        snprintf(out, size, "?");
    }
}

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

/* tag_off and tag_mask from the layout (see walk_chain()). */
static void tag_setup(void)
{
    size_t o = layout.fr_owner, e = layout.fr_is_entry;
    uint8_t m[8] = {0};

    tag_off = o & ~(size_t)7;
    tag_mask = 0;
    if (e != PYLAYOUT_NONE && (e & ~(size_t)7) != tag_off)
        return;
    m[o - tag_off] = 0xff;
    if (e != PYLAYOUT_NONE)
        m[e - tag_off] = 0xff;
    memcpy(&tag_mask, m, sizeof(tag_mask));
}

/* Picks the layout of the interpreter whose symbols py_sym() finds, maps the
 * tables and turns frames on. */
static int py_start(void)
{
    const unsigned long *hex = py_sym("Py_Version");
    void *eval = py_sym("_PyEval_EvalFrameDefault");
    const ElfW(Sym) *sym = NULL;
    int r;
    Dl_info info;
    char msg[200], ver[24];

    py_settled = 1;
    py_runtime = (uintptr_t)py_sym("_PyRuntime");
    r = hex && py_runtime ? pylayout_get(*hex, py_runtime, &layout) : -1;
    if (r == -1) {
        version_name(ver, sizeof(ver));
        snprintf(msg, sizeof(msg), "Python %s is not supported: native frames only", ver);
        core_say(msg);
        return 0;
    }
    if (r < 0) {
        snprintf(msg, sizeof(msg), "Python %s: unexpected _Py_DebugOffsets: native frames only",
                 layout.name);
        core_say(msg);
        return 0;
    }
    py_code_type = (uintptr_t)py_sym("PyCode_Type");
    py_str_type = (uintptr_t)py_sym("PyUnicode_Type");
    py_bytes_type = (uintptr_t)py_sym("PyBytes_Type");
    if (!eval || !dladdr1(eval, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size ||
        !py_runtime || !py_code_type || !py_str_type || !py_bytes_type) {
        snprintf(msg, sizeof(msg), "Python %s: interpreter symbols missing: native frames only",
                 layout.name);
        core_say(msg);
        return 0;
    }
    if (layout.version == 0x030b) /* 3.12's takes the allocators' lock */
        py_allocator_name = (const char *(*)(void))py_sym("_PyMem_GetCurrentAllocatorName");
    tag_setup();
    eval_lo = (uintptr_t)info.dli_saddr;
    eval_hi = eval_lo + sym->st_size;
    if (!arena) {
        arena = map(PY_ARENA_BYTES);
        records = map(PY_MAX_CODES * sizeof(*records));
        slots = map(PY_SLOTS * sizeof(*slots));
        if (!arena || !records || !slots) {
            core_say("cannot map the Python code tables: native frames only");
            return 0;
        }
        atomic_store(&arena_used, 8); /* offset 0 is never a record */
    }
    if (!py_env_malloc) {
        snprintf(msg, sizeof(msg),
                 "Python %s: pymalloc keeps small objects from malloc; set PYTHONMALLOC=malloc "
                 "to see every object",
                 layout.name);
        core_say(msg);
    }
    if (!atomic_load(&memo_key_ok) && pthread_key_create(&memo_key, memo_drop) == 0)
        atomic_store_explicit(&memo_key_ok, 1, memory_order_release);
    atomic_store_explicit(&pyframes_on, 1, memory_order_release);
    return 1;
}

int pyframes_init(void)
{
    const char *off = getenv("HEAPLINE_PYTHON"), *pm = getenv("PYTHONMALLOC");

    py_off = off && strcmp(off, "off") == 0;
    py_env_malloc = pm && (strcmp(pm, "malloc") == 0 || strcmp(pm, "malloc_debug") == 0);
    int found = !py_off && py_sym("_PyEval_EvalFrameDefault") != NULL, r;

    /* free() tests the code-object filter only in a CPython program found
     * here (`heapline` sets PYTHONMALLOC=malloc for whatever it runs:
     * sqlite3's frees paid the test for nothing); a libpython that comes
     * later by dlopen() never trusts the generation (pygen_usable -1), so
     * its walks recheck their code objects. malloc_debug's blocks start
     * before the object: its frees name other addresses; an attached
     * collector missed the earlier frees. */
    pygen_init(found && !core_cfg.attached && pm && strcmp(pm, "malloc") == 0);
    if (!found)
        return 0; /* not wanted, or not CPython (yet: pyframes_refresh) */
    r = py_start();
    if (!r)
        pygen_init(0); /* no walk will read the generation */
    return r;
}

struct py_scan {
    unsigned long long adds;
    char path[4096];
};

static int py_scan_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct py_scan *s = arg;
    const char *base = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;

    s->adds = info->dlpi_adds;
    if (base && strncmp(base + 1, "libpython3", 10) == 0 && !s->path[0])
        snprintf(s->path, sizeof(s->path), "%s", info->dlpi_name);
    return 0;
}

void pyframes_refresh(void)
{
    static unsigned long long seen_adds;
    struct py_scan s;

    if (py_settled || py_off)
        return;
    s.adds = 0;
    s.path[0] = 0;
    pthread_mutex_lock(&py_mu);
    dl_iterate_phdr(py_scan_cb, &s);
    pthread_mutex_unlock(&py_mu);
    if (s.adds == seen_adds)
        return;
    seen_adds = s.adds;
    if (!s.path[0])
        return;
    /* a reference of our own: the library cannot go while the walk reads it
     * (outside py_mu: a fork from a library constructor holds the loader's
     * lock, which dlopen takes, and would wait for py_mu) */
    py_handle = dlopen(s.path, RTLD_NOLOAD | RTLD_LAZY);
    if (py_handle && py_sym("_PyEval_EvalFrameDefault"))
        py_start();
}

void pyframes_atfork_prepare(void)
{
    pthread_mutex_lock(&py_mu);
}

void pyframes_atfork_parent(void)
{
    pthread_mutex_unlock(&py_mu);
}
