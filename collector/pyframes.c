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
 * The walk's files: pycode.c keeps a record per code object (an ip names
 * one), pylast.h/pylast.c keep what a thread's last walk read, and this file
 * finds the interpreter, walks, splices and names.
 */
#include "pyframes.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "pycode.h"
#include "pygen.h"
#include "pylast.h"
#include "pylayout.h"
#include "sample.h"
#include "pyframes_int.h"

atomic_int pyframes_on;
struct pylayout pyframes_layout;
uintptr_t py_runtime, py_code_type, py_str_type, py_bytes_type;
uintptr_t py_eval_lo, py_eval_hi;
size_t py_tag_off;
uint64_t py_tag_mask;

/* ---- the walk ---- */

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

    pycode_fingerprint(code, fp);
    if (!m)
        return pycode_id(code, fp);
    e = pylast_memo_slot(m, code);
    if (pycode_same_fp(&e->fp, fp))
        return e->id;
    e->id = pycode_id(code, fp);
    e->fp = *fp;
    return e->id;
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
            e = m ? pylast_memo_slot(m, code) : NULL;
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
    return ip - py_eval_lo < py_eval_hi - py_eval_lo;
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
                                              *(const uint64_t *)(fr + py_tag_off) & py_tag_mask};
        nraw++;
        np++;
        fr = *(const uintptr_t *)(fr + o_prev);
    }
    if (t) {
        t->ch_n = ptr_ok(fr) || !py_tag_mask ? 0 : (int)nraw;
        t->ch_end = fr;
    }
    return (int)np;
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
    t = pylast_thread();
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
        int same = trust && t->ch_n ? pylast_chain_same(t, fr, &instr) : -1;

        if (same == 0) {
            w->np = t->last_np;
            w->hash = t->ch_hash;
            w->lazy = 1;
            return 1;
        }
        if (same == 1 && pylast_innermost_moved(w, t, instr, gen_ok))
            return 1;
    }
    return walk_slow(w, t, fr, gen, gen_ok, trust);
}

int pyframes_merge(uintptr_t *ips, int n, int max, struct pyframes_walk *w, int *added)
{
    const uintptr_t *py = w->py, *codes = w->codes;
    uintptr_t out[CORE_MAX_DEPTH];
    int np = w->np, k = 0, g, i, nadd = 0;

    *added = 0;
    if (w->lazy)
        pylast_fill(w);
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
    const struct py_record *r;

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
    r = pycode_get(id);
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

/* py_tag_off and py_tag_mask from the layout (see walk_chain()). */
static void tag_setup(void)
{
    size_t o = pyframes_layout.fr_owner, e = pyframes_layout.fr_is_entry;
    uint8_t m[8] = {0};

    py_tag_off = o & ~(size_t)7;
    py_tag_mask = 0;
    if (e != PYLAYOUT_NONE && (e & ~(size_t)7) != py_tag_off)
        return;
    m[o - py_tag_off] = 0xff;
    if (e != PYLAYOUT_NONE)
        m[e - py_tag_off] = 0xff;
    memcpy(&py_tag_mask, m, sizeof(py_tag_mask));
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
    r = hex && py_runtime ? pylayout_get(*hex, py_runtime, &pyframes_layout) : -1;
    if (r == -1) {
        version_name(ver, sizeof(ver));
        snprintf(msg, sizeof(msg), "Python %s is not supported: native frames only", ver);
        core_say(msg);
        return 0;
    }
    if (r < 0) {
        snprintf(msg, sizeof(msg), "Python %s: unexpected _Py_DebugOffsets: native frames only",
                 pyframes_layout.name);
        core_say(msg);
        return 0;
    }
    py_code_type = (uintptr_t)py_sym("PyCode_Type");
    py_str_type = (uintptr_t)py_sym("PyUnicode_Type");
    py_bytes_type = (uintptr_t)py_sym("PyBytes_Type");
    if (!eval || !dladdr1(eval, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym || !sym->st_size ||
        !py_runtime || !py_code_type || !py_str_type || !py_bytes_type) {
        snprintf(msg, sizeof(msg), "Python %s: interpreter symbols missing: native frames only",
                 pyframes_layout.name);
        core_say(msg);
        return 0;
    }
    if (pyframes_layout.version == 0x030b) /* 3.12's takes the allocators' lock */
        py_allocator_name = (const char *(*)(void))py_sym("_PyMem_GetCurrentAllocatorName");
    tag_setup();
    py_eval_lo = (uintptr_t)info.dli_saddr;
    py_eval_hi = py_eval_lo + sym->st_size;
    if (pycode_init() < 0) {
        core_say("cannot map the Python code tables: native frames only");
        return 0;
    }
    if (!py_env_malloc) {
        snprintf(msg, sizeof(msg),
                 "Python %s: pymalloc keeps small objects from malloc; set PYTHONMALLOC=malloc "
                 "to see every object",
                 pyframes_layout.name);
        core_say(msg);
    }
    pylast_init();
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
     * collector missed the earlier frees. Nor in sampling mode: its walks
     * are one per sample point, and each free of python3's JSON bench
     * paid 31 instructions of the filter's test for them (2% of the
     * program thread's, callgrind); they recheck their code objects. */
    pygen_init(found && !core_cfg.attached && !sample_on() && pm && strcmp(pm, "malloc") == 0);
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
