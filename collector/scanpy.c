/*
 * scanpy.c - Python objects in a scan snapshot, read from CPython's layouts.
 *
 * Invariant: a block is called a Python object only when the word at the
 * layout's ob_type offset (after the pre-header its type says it has) is a
 * type object that validates: its own ob_type is `type` or a metatype whose
 * type is `type`, it is ready, its basic size fits the block, its name is a
 * readable string. Type objects are read once each (a cache in the child's
 * own mmap); anything that is not a live block is read with
 * process_vm_readv() on our own pid, which fails with EFAULT instead of
 * faulting. The layouts are one row per CPython version (3.13+ publishes
 * them as _Py_DebugOffsets: a new row would be read from there).
 */
#include "scanpy.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "scanbfs.h"
#include "scanpy_layout.h"

static const struct scanpy_layout layouts[] = {
    {
        /* CPython 3.11: Include/cpython/object.h, objimpl.h (PyGC_Head),
         * internal/pycore_object.h (_PyType_PreHeaderSize),
         * internal/pycore_dict.h (PyDictKeysObject), cpython/unicodeobject.h */
        .min_version = 0x030b0000,
        .max_version = 0x030bffff,
        .ob_type = 8,
        .var_size = 16,
        .gc_head = 16,
        .managed_pre = 16,
        .values_prefix = 1,
        .tpflag_managed_dict = 1ul << 4,
        .tpflag_gc = 1ul << 14,
        .tpflag_ready = 1ul << 12,
        .tpflag_type_subclass = 1ul << 31,
        .tp_name = 24,
        .tp_basicsize = 32,
        .tp_flags = 168,
        .tp_base = 256,
        .tp_dict = 264,
        .tp_bases = 336,
        .tp_mro = 344,
        .ht_cached_keys = 872,
        .list_items = 24,
        .tuple_items = 24,
        .dict_keys = 32,
        .dict_values = 40,
        .dk_log2_index_bytes = 9,
        .dk_kind = 10,
        .dk_nentries = 24,
        .dk_indices = 32,
        .module_dict = 16,
        .module_name = 48,
        .cell_ref = 16,
        .func_globals = 16,
        .func_closure = 72,
        .bytearray_bytes = 32,
        .bytearray_start = 40,
        .str_length = 16,
        .str_state = 32,
        .str_ascii_data = 48,
        .str_compact_data = 72,
        .long_digits = 24,
        /* Modules/_collectionsmodule.c (dequeobject, block) */
        .deque_basic = 216,
        .deque_leftblock = 24,
        .deque_rightblock = 32,
        .deque_leftindex = 40,
        .deque_rightindex = 48,
        .deque_numfree = 72,
        .deque_freeblocks = 80,
        .deque_maxfree = 16,
        .deque_blocklen = 64,
        /* internal/pycore_runtime.h, pycore_interp.h, cpython/pystate.h,
         * internal/pycore_frame.h (_PyInterpreterFrame), cpython/code.h */
        .rt_interp_head = 40,
        .interp_threads_head = 16,
        .ts_next = 8,
        .ts_cframe = 56,
        .ts_native_tid = 160,
        .cframe_current = 8,
        .fr_code = 32,
        .fr_previous = 48,
        .fr_localsplus = 72,
        .co_nlocalsplus = 76,
        .co_localsplusnames = 96,
        .co_qualname = 128,
    },
};

/* PyFunctionObject's slots in 3.11 (offset, name), for "function .__globals__". */
static const struct {
    uint16_t off;
    const char *name;
} func_slots[] = {{16, "__globals__"},    {24, "__builtins__"}, {32, "__name__"},
                  {40, "__qualname__"},   {48, "__code__"},     {56, "__defaults__"},
                  {64, "__kwdefaults__"}, {72, "__closure__"},  {80, "__doc__"},
                  {88, "__dict__"},       {104, "__module__"},  {112, "__annotations__"}};

static const char *const kind_symbols[SCANPY_N_KINDS] = {
    [SCANPY_TYPE] = "PyType_Type",         [SCANPY_DICT] = "PyDict_Type",
    [SCANPY_LIST] = "PyList_Type",         [SCANPY_TUPLE] = "PyTuple_Type",
    [SCANPY_MODULE] = "PyModule_Type",     [SCANPY_CELL] = "PyCell_Type",
    [SCANPY_FUNCTION] = "PyFunction_Type", [SCANPY_BYTEARRAY] = "PyByteArray_Type",
    [SCANPY_STR] = "PyUnicode_Type",       [SCANPY_BYTES] = "PyBytes_Type",
    [SCANPY_INT] = "PyLong_Type",          [SCANPY_FLOAT] = "PyFloat_Type",
};

int scanpy_detect(struct scanpy *py)
{
    const uint32_t *ver = dlsym(RTLD_DEFAULT, "Py_Version");

    memset(py, 0, sizeof(*py));
    if (!ver)
        return -1;
    py->version = *ver;
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (py->version >= layouts[i].min_version && py->version <= layouts[i].max_version)
            py->lay = &layouts[i];
    for (int k = 1; k < SCANPY_N_KINDS; k++)
        if (kind_symbols[k]) /* a static type no symbol names (deque): by name, in validate() */
            py->types[k] = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, kind_symbols[k]);
    py->runtime = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (!py->lay || !py->types[SCANPY_TYPE]) {
        py->lay = NULL;
        return -1;
    }
    return 0;
}

/* ---- reading ---- */

/* Copies n bytes at addr; 0, or -1 when any of them is unmapped. */
static int safe_read(uint64_t addr, void *buf, size_t n)
{
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};

    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

static uint64_t safe_word(uint64_t addr)
{
    uint64_t w = 0;

    if (safe_read(addr, &w, sizeof(w)))
        return 0;
    return w;
}

/* ---- the type cache ---- */

#define CACHE_SLOTS 16384u

struct type_entry {
    uint64_t type; /* 0: empty */
    int32_t ok;    /* 1 a type, -1 not one */
    uint32_t kind;
    uint64_t flags;
    uint64_t basicsize;
    uint32_t pre; /* pre-header bytes before the object */
    uint32_t pad;
    char name[SCANPY_NAME];
};

struct scanpy_cache {
    struct type_entry slots[CACHE_SLOTS];
};

size_t scanpy_cache_bytes(void)
{
    return sizeof(struct scanpy_cache);
}

int scanpy_begin(struct scanpy *py)
{
    void *p = mmap(NULL, sizeof(struct scanpy_cache), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return -ENOMEM;
    py->cache = p;
    return 0;
}

void scanpy_end(struct scanpy *py)
{
    if (py->cache)
        munmap(py->cache, sizeof(struct scanpy_cache));
    py->cache = NULL;
}

/* Whether a type object may sit at t: in a module's writable data (static
 * types) or right after the GC head at the start of a live block (heap types). */
static int type_place_ok(const struct scanpy *py, const struct scanpy_view *v, uint64_t t)
{
    uint64_t lo, size;

    if (t & 7)
        return 0;
    for (size_t i = 0; i < v->n_roots; i++)
        if (v->roots[i].kind == SCANBFS_GLOBAL && t >= v->roots[i].lo && t < v->roots[i].hi)
            return 1;
    return v->find(v->ctx, t, &lo, &size) == 0 && t == lo + py->lay->gc_head &&
           size >= 408u + py->lay->gc_head;
}

/* Reads a NUL-terminated printable name at addr into buf. 0 or -1. */
static int read_name(uint64_t addr, char *buf, size_t cap)
{
    size_t n;

    if (!addr || safe_read(addr, buf, cap - 1)) {
        /* near the end of a mapping: one byte at a time */
        for (n = 0; n + 1 < cap; n++)
            if (safe_read(addr + n, &buf[n], 1) || buf[n] == 0)
                break;
        if (n == 0 || n + 1 >= cap || buf[n] != 0)
            return -1;
    }
    buf[cap - 1] = 0;
    for (n = 0; buf[n]; n++)
        if ((unsigned char)buf[n] < 0x20 || (unsigned char)buf[n] == 0x7f)
            return -1;
    return n ? 0 : -1;
}

static int validate(const struct scanpy *py, const struct scanpy_view *v, uint64_t t,
                    struct type_entry *e)
{
    const struct scanpy_layout *l = py->lay;
    uint64_t tt = py->types[SCANPY_TYPE], mt;
    char *dot;

    if (t != tt && !type_place_ok(py, v, t))
        return -1;
    mt = safe_word(t + l->ob_type);
    if (mt != tt) { /* a metatype (ABCMeta): itself a type subclass whose type is type */
        if (!mt || !type_place_ok(py, v, mt) || safe_word(mt + l->ob_type) != tt ||
            !(safe_word(mt + l->tp_flags) & l->tpflag_type_subclass))
            return -1;
    }
    e->flags = safe_word(t + l->tp_flags);
    e->basicsize = safe_word(t + l->tp_basicsize);
    if (!(e->flags & l->tpflag_ready) || e->basicsize < 16 || e->basicsize > (1u << 24))
        return -1;
    if (read_name(safe_word(t + l->tp_name), e->name, sizeof(e->name)))
        return -1;
    if (!(e->flags & (1ul << 9)) && (dot = strrchr(e->name, '.')) != NULL) /* static: __name__ */
        memmove(e->name, dot + 1, strlen(dot + 1) + 1);
    e->pre = (e->flags & l->tpflag_gc ? l->gc_head : 0) +
             (e->flags & l->tpflag_managed_dict ? l->managed_pre : 0);
    e->kind = SCANPY_OTHER;
    for (uint32_t k = 1; k < SCANPY_N_KINDS; k++)
        if (py->types[k] == t)
            e->kind = k;
    if (e->kind == SCANPY_OTHER && !(e->flags & (1ul << 9)) && !strcmp(e->name, "deque") &&
        e->basicsize == l->deque_basic)
        e->kind = SCANPY_DEQUE;
    return 0;
}

/* The cache entry of the type at t (validated on first sight), or NULL when
 * t is not a type. */
static const struct type_entry *type_at(struct scanpy *py, const struct scanpy_view *v, uint64_t t)
{
    static struct type_entry spill; /* no room in the cache: validated every time */
    struct type_entry *e = &spill;
    uint32_t h;

    if (!t)
        return NULL;
    h = (uint32_t)((t >> 3) * 0x9E3779B97F4A7C15ull >> 40) % CACHE_SLOTS;
    for (uint32_t i = 0; py->cache && i < 64; i++) {
        struct type_entry *s = &py->cache->slots[(h + i) % CACHE_SLOTS];
        if (s->type == t)
            return s->ok > 0 ? s : NULL;
        if (s->type == 0) {
            e = s;
            break;
        }
    }
    memset(e, 0, sizeof(*e));
    e->type = t;
    e->ok = validate(py, v, t, e) == 0 ? 1 : -1;
    return e->ok > 0 ? e : NULL;
}

int scanpy_object(struct scanpy *py, const struct scanpy_view *v, uint64_t lo, uint64_t size,
                  struct scanpy_obj *o)
{
    const struct scanpy_layout *l = py->lay;
    static const uint32_t pres[] = {0, 16, 32};

    if (!l)
        return 0;
    for (size_t i = 0; i < sizeof(pres) / sizeof(pres[0]); i++) {
        uint64_t ob = lo + pres[i], refcnt, t;
        const struct type_entry *e;
        if (size < pres[i] + 16)
            break;
        t = *(const uint64_t *)(uintptr_t)(ob + l->ob_type);
        refcnt = *(const uint64_t *)(uintptr_t)ob;
        /* refcounts are small: a pointer there (a list's items) is not an object */
        if (refcnt >= (1ull << 32) || !(e = type_at(py, v, t)) || e->pre != pres[i])
            continue;
        /* a compact str is its header and its characters: smaller than the
         * type's basic size (a PyUnicodeObject's) */
        if ((e->kind == SCANPY_STR ? (uint64_t)l->str_ascii_data + 1 : e->basicsize) >
            size - pres[i])
            continue;
        o->ob = ob;
        o->type = t;
        o->refcnt = refcnt;
        o->kind = e->kind;
        o->name = e->name;
        return 1;
    }
    return 0;
}

int scanpy_is_gc_link(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                      uint64_t offset)
{
    uint64_t gc = o->ob - lo;

    return py->lay && gc >= py->lay->gc_head && offset >= gc - py->lay->gc_head && offset < gc;
}

int scanpy_in_values_prefix(const struct scanpy *py, uint64_t lo, uint64_t size, uint64_t offset)
{
    const uint8_t *mem = (const uint8_t *)(uintptr_t)lo;

    if (!py->lay || !py->lay->values_prefix)
        return 0;
    /* one prefix p fits the size at most: n * 8 + round_up(n + 2, 8) grows with n */
    for (uint64_t p = 8; p < 256 && p < size; p += 8) {
        uint64_t n = (size - p) / 8;
        if ((size - p) % 8 || ((n + 2 + 7) & ~7ull) != p)
            continue;
        /* the prefix size at its end; before it the count of values set */
        return offset < p && mem[p - 1] == p && mem[p - 2] <= n;
    }
    return 0;
}

int scanpy_is_data_word(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                        uint64_t offset)
{
    const struct scanpy_layout *l = py->lay;
    int64_t rel = (int64_t)(lo + offset) - (int64_t)o->ob;

    if (o->kind == SCANPY_DEQUE) /* a cached free block's slot past numfreeblocks: stale */
        return rel >= l->deque_freeblocks && rel < l->deque_freeblocks + 8 * l->deque_maxfree &&
               (uint64_t)(rel - l->deque_freeblocks) / 8 >=
                   *(const uint64_t *)(uintptr_t)(o->ob + l->deque_numfree);
    if (o->kind != SCANPY_STR && o->kind != SCANPY_BYTES && o->kind != SCANPY_INT &&
        o->kind != SCANPY_FLOAT)
        return 0;
    if (rel == l->ob_type)
        return 0;
    /* PyASCIIObject.wstr, PyCompactUnicodeObject.utf8 */
    if (o->kind == SCANPY_STR && (rel == l->str_ascii_data - 8 || rel == l->str_compact_data - 16))
        return 0;
    return 1;
}

uint32_t scanpy_chain_end(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                          uint64_t offset)
{
    int64_t rel = (int64_t)(lo + offset) - (int64_t)o->ob;

    if (!py->lay)
        return 0;
    if (o->kind == SCANPY_MODULE && rel == py->lay->module_dict)
        return SCANPY_END_MODULE;
    /* a type object: its type is `type` or a metatype */
    if (rel == py->lay->tp_dict &&
        (o->kind == SCANPY_TYPE ||
         (o->type != py->types[SCANPY_TYPE] && o->refcnt &&
          safe_word(o->type + py->lay->tp_flags) & py->lay->tpflag_type_subclass)))
        return SCANPY_END_CLASS;
    return 0;
}

/* ---- names ---- */

/* Text of a str object (ASCII or Latin-1 compact strings; others as "…"). */
static int str_text(const struct scanpy *py, uint64_t s, char *buf, size_t cap)
{
    const struct scanpy_layout *l = py->lay;
    uint64_t len;
    uint32_t state;
    uint64_t data;

    if (safe_word(s + l->ob_type) != py->types[SCANPY_STR] ||
        safe_read(s + l->str_state, &state, sizeof(state)))
        return -1;
    len = safe_word(s + l->str_length);
    if (!(state & (1u << 5))) /* not compact */
        return -1;
    if (((state >> 2) & 7) != 1) /* not one byte a character */
        return -1;
    data = s + ((state & (1u << 6)) ? l->str_ascii_data : l->str_compact_data);
    if (len > cap - 1)
        len = cap - 1;
    if (safe_read(data, buf, (size_t)len))
        return -1;
    buf[len] = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
            buf[i] = '?';
    return 0;
}

/* A key as text: a str quoted (or raw), a small int in decimal, else <type>. */
static void key_text(struct scanpy *py, const struct scanpy_view *v, uint64_t key, int raw,
                     char *buf, size_t cap)
{
    const struct scanpy_layout *l = py->lay;
    uint64_t t = safe_word(key + l->ob_type);
    const struct type_entry *e;
    char s[SCANPY_NAME - 8];

    if (str_text(py, key, s, sizeof(s)) == 0) {
        snprintf(buf, cap, raw ? "%s" : "'%s'", s);
        return;
    }
    e = type_at(py, v, t);
    if (e && strcmp(e->name, "int") == 0) {
        int64_t size = (int64_t)safe_word(key + l->var_size);
        uint32_t d[2] = {0, 0};
        if (size >= -2 && size <= 2 &&
            safe_read(key + l->long_digits, d, (size_t)(size < 0 ? -size : size) * 4) == 0) {
            uint64_t x = (uint64_t)d[0] | (uint64_t)d[1] << 30;
            snprintf(buf, cap, "%s%llu", size < 0 ? "-" : "", (unsigned long long)x);
            return;
        }
    }
    snprintf(buf, cap, "<%s>", e ? e->name : "?");
}

/* Entry geometry of a keys object. 0 or -1. */
static int keys_geometry(const struct scanpy *py, uint64_t keys, uint64_t *base, uint64_t *esize,
                         uint64_t *key_off, uint64_t *val_off, uint64_t *n)
{
    const struct scanpy_layout *l = py->lay;
    uint8_t log2_index, kind;

    if (safe_read(keys + l->dk_log2_index_bytes, &log2_index, 1) ||
        safe_read(keys + l->dk_kind, &kind, 1) || log2_index > 40 || kind > 2)
        return -1;
    *base = l->dk_indices + (1ull << log2_index);
    *esize = kind == 0 ? 24 : 16; /* DICT_KEYS_GENERAL: hash, key, value */
    *key_off = kind == 0 ? 8 : 0;
    *val_off = kind == 0 ? 16 : 8;
    *n = safe_word(keys + l->dk_nentries);
    return 0;
}

int scanpy_dict_key(struct scanpy *py, const struct scanpy_view *v, uint64_t keys_lo,
                    uint64_t offset, int raw, char *buf, size_t cap)
{
    uint64_t base, esize, key_off, val_off, n, idx;

    if (keys_geometry(py, keys_lo, &base, &esize, &key_off, &val_off, &n) || offset < base)
        return -1;
    idx = (offset - base) / esize;
    if (idx >= n)
        return -1;
    if ((offset - base) % esize != val_off) {
        /* an int's hash is the int: a key id(obj) puts obj's address in the
         * entry's hash word too, found before the value word */
        uint64_t entry = keys_lo + base + idx * esize;
        if (key_off != 8 || (offset - base) % esize != 0 ||
            safe_word(entry) != safe_word(entry + val_off))
            return -1;
    }
    key_text(py, v, safe_word(keys_lo + base + idx * esize + key_off), raw, buf, cap);
    return 0;
}

/* Key number idx of a split keys object (the shared keys of instances). */
static int split_key(struct scanpy *py, const struct scanpy_view *v, uint64_t keys, uint64_t idx,
                     char *buf, size_t cap)
{
    uint64_t base, esize, key_off, val_off, n;

    if (!keys || keys_geometry(py, keys, &base, &esize, &key_off, &val_off, &n) || idx >= n)
        return -1;
    key_text(py, v, safe_word(keys + base + idx * esize + key_off), 1, buf, cap);
    return 0;
}

int scanpy_name_slot(struct scanpy *py, const struct scanpy_view *v, const struct scanpy_obj *o,
                     uint64_t lo, uint64_t offset, uint64_t interior, uint64_t below_lo,
                     int64_t below_offset, int below_is_object, struct scanpy_hop *h)
{
    const struct scanpy_layout *l = py->lay;
    int64_t rel = (int64_t)(lo + offset) - (int64_t)o->ob;
    char key[SCANPY_NAME - 8];

    h->via[0] = 0;
    h->key[0] = 0;
    if (!l)
        return 0;
    if (rel == -(int64_t)(l->gc_head + l->managed_pre)) {
        /* a managed-dict instance's values: names from its type's cached keys */
        if (below_offset >= 0 && (uint64_t)below_offset >= interior &&
            split_key(py, v, safe_word(o->type + l->ht_cached_keys),
                      ((uint64_t)below_offset - interior) / 8, key, sizeof(key)) == 0) {
            snprintf(h->key, sizeof(h->key), "%s", key);
            snprintf(h->via, sizeof(h->via), ".%s", key);
        }
        return 1;
    }
    if (rel == -(int64_t)(l->gc_head + l->managed_pre) + 8) {
        snprintf(h->via, sizeof(h->via), ".__dict__");
        return 0;
    }
    if (rel < 0)
        return 0;
    switch (o->kind) {
    case SCANPY_LIST:
        if (rel == l->list_items && !below_is_object) {
            if (below_offset >= 0)
                snprintf(h->via, sizeof(h->via), "[%lld]", (long long)below_offset / 8);
            return 1;
        }
        break;
    case SCANPY_TUPLE:
        if (rel >= l->tuple_items) {
            snprintf(h->via, sizeof(h->via), "[%lld]", (long long)(rel - l->tuple_items) / 8);
            return 0;
        }
        break;
    case SCANPY_DICT:
        if (rel == l->dict_keys && !below_is_object) {
            if (below_offset >= 0 && scanpy_dict_key(py, v, below_lo, (uint64_t)below_offset, 1,
                                                     key, sizeof(key)) == 0) {
                char q[SCANPY_NAME - 8];
                snprintf(h->key, sizeof(h->key), "%s", key);
                scanpy_dict_key(py, v, below_lo, (uint64_t)below_offset, 0, q, sizeof(q));
                snprintf(h->via, sizeof(h->via), "[%s]", q);
            } else if (below_offset >= 0) {
                snprintf(h->via, sizeof(h->via), "(key)");
            }
            return 1;
        }
        if (rel == l->dict_values && !below_is_object) {
            if (below_offset >= 0 && (uint64_t)below_offset >= interior &&
                split_key(py, v, safe_word(o->ob + l->dict_keys),
                          ((uint64_t)below_offset - interior) / 8, key, sizeof(key)) == 0) {
                snprintf(h->key, sizeof(h->key), "%s", key);
                snprintf(h->via, sizeof(h->via), "['%s']", key);
            }
            return 1;
        }
        break;
    case SCANPY_CELL:
        if (rel == l->cell_ref) {
            snprintf(h->via, sizeof(h->via), ".cell_contents");
            return 0;
        }
        break;
    case SCANPY_FUNCTION:
        for (size_t i = 0; i < sizeof(func_slots) / sizeof(func_slots[0]); i++)
            if (rel == func_slots[i].off) {
                snprintf(h->via, sizeof(h->via), ".%s", func_slots[i].name);
                return 0;
            }
        break;
    case SCANPY_MODULE:
        if (rel == l->module_dict) {
            snprintf(h->via, sizeof(h->via), ".__dict__");
            return 0;
        }
        break;
    case SCANPY_BYTEARRAY:
        if ((rel == l->bytearray_bytes || rel == l->bytearray_start) && !below_is_object)
            return 1; /* its buffer */
        break;
    default:
        break;
    }
    if (rel == l->tp_dict || rel == l->tp_mro || rel == l->tp_bases || rel == l->tp_base) {
        if (scanpy_chain_end(py, o, lo, offset) || o->kind == SCANPY_TYPE ||
            o->type != py->types[SCANPY_TYPE]) {
            /* a type object (its type checked by scanpy_chain_end for tp_dict) */
            const char *n = rel == l->tp_dict    ? "__dict__"
                            : rel == l->tp_mro   ? "__mro__"
                            : rel == l->tp_bases ? "__bases__"
                                                 : "__base__";
            if (rel == l->tp_dict || o->kind == SCANPY_TYPE) {
                snprintf(h->via, sizeof(h->via), ".%s", n);
                return 0;
            }
        }
    }
    if (!below_is_object)
        return 1; /* a buffer the object owns (a set's table, a deque's blocks) */
    snprintf(h->via, sizeof(h->via), "+%lld", (long long)rel);
    return 0;
}

void scanpy_module_name(const struct scanpy *py, const struct scanpy_obj *o, char *buf, size_t cap)
{
    if (str_text(py, safe_word(o->ob + py->lay->module_name), buf, cap))
        snprintf(buf, cap, "?");
}

void scanpy_type_name(const struct scanpy *py, uint64_t type, char *buf, size_t cap)
{
    if (read_name(safe_word(type + py->lay->tp_name), buf, cap))
        snprintf(buf, cap, "?");
}

int scanpy_census_add(struct scanpy *py, const struct scanpy_view *v, uint64_t lo, uint64_t size,
                      uint32_t seq, struct scanpy_census_row *rows, size_t cap, size_t *n)
{
    struct scanpy_obj o;
    struct type_entry *e;
    size_t i;

    if (!scanpy_object(py, v, lo, size, &o) || o.refcnt == 0)
        return 0; /* not an object, or a dead one on a free list */
    /* the row is remembered in the type's cache entry (pad: row + 1) */
    e = (struct type_entry *)type_at(py, v, o.type);
    if (e && e->pad && e->pad <= *n && rows[e->pad - 1].type == o.type) {
        i = e->pad - 1;
    } else {
        for (i = 0; i < *n; i++)
            if (rows[i].type == o.type)
                break;
    }
    if (i == *n) {
        if (*n >= cap)
            return -1;
        memset(&rows[i], 0, sizeof(rows[i]));
        rows[i].type = o.type;
        rows[i].oldest = lo;
        rows[i].oldest_seq = seq;
        snprintf(rows[i].name, sizeof(rows[i].name), "%s", o.name);
        (*n)++;
    }
    if (e)
        e->pad = (uint32_t)i + 1;
    rows[i].count++;
    rows[i].bytes += size;
    if ((int32_t)(seq - rows[i].oldest_seq) < 0) {
        rows[i].oldest = lo;
        rows[i].oldest_seq = seq;
    }
    return 0;
}

/* ---- live frames ---- */

#define FRAMES_PER_THREAD 4096 /* a loop in a corrupt chain stops here */
#define MAX_THREADS 4096

size_t scanpy_frame_roots(struct scanpy *py, const struct scan_range *stacks, size_t n_stacks,
                          struct scanbfs_root *roots, size_t n, size_t cap)
{
    const struct scanpy_layout *l = py->lay;
    uint64_t interp, ts;
    size_t threads = 0;

    if (!l || !py->runtime)
        return n;
    interp = safe_word(py->runtime + l->rt_interp_head);
    if (!interp)
        return n;
    for (ts = safe_word(interp + l->interp_threads_head); ts && threads < MAX_THREADS;
         ts = safe_word(ts + l->ts_next), threads++) {
        uint64_t tid = safe_word(ts + l->ts_native_tid), cframe = safe_word(ts + l->ts_cframe);
        uint64_t fr = cframe ? safe_word(cframe + l->cframe_current) : 0;
        uint32_t id = 0;

        for (size_t i = 0; i < n_stacks; i++)
            if (stacks[i].tid && (uint64_t)stacks[i].tid == tid)
                id = stacks[i].thread_id;
        for (int k = 0; fr && k < FRAMES_PER_THREAD && n < cap;
             k++, fr = safe_word(fr + l->fr_previous)) {
            uint64_t code = safe_word(fr + l->fr_code);
            int32_t nlocals = 0;
            if (!code || safe_read(code + l->co_nlocalsplus, &nlocals, sizeof(nlocals)) ||
                nlocals <= 0 || nlocals > 65536)
                continue;
            roots[n].lo = fr + l->fr_localsplus;
            roots[n].hi = roots[n].lo + 8 * (uint64_t)nlocals;
            roots[n].kind = SCANBFS_STACK;
            roots[n].id = id;
            roots[n].flags = SCANBFS_ROOT_FRAME;
            n++;
        }
    }
    return n;
}

int scanpy_frame_local(const struct scanpy *py, uint64_t lo, uint64_t addr, char *func,
                       size_t func_cap, char *var, size_t var_cap)
{
    const struct scanpy_layout *l = py->lay;
    uint64_t fr = lo - l->fr_localsplus, code = safe_word(fr + l->fr_code), names;
    uint64_t idx = (addr - lo) / 8;
    size_t len;

    if (!code || str_text(py, safe_word(code + l->co_qualname), func, func_cap - 2))
        return -1;
    len = strlen(func);
    memcpy(func + len, "()", 3);
    names = safe_word(code + l->co_localsplusnames);
    if (idx >= safe_word(names + l->var_size) ||
        str_text(py, safe_word(names + l->tuple_items + 8 * idx), var, var_cap))
        snprintf(var, var_cap, "#%llu", (unsigned long long)idx);
    return 0;
}
