/*
 * pycode.c - a record per CPython code object, and the table that finds it
 * by the code object's address.
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
#include "pycode.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"

#define PY_NAME_MAX 1024u             /* bytes kept of a name or file */
#define PY_TABLE_MAX (1u << 20)       /* bytes kept of a line table */
#define PY_ARENA_BYTES (256ull << 20) /* reserved, touched as used */
#define PY_MAX_CODES (1u << 22)       /* records */
#define PY_SLOTS (1u << 18)           /* code address -> record table */
#define PY_PROBES 64

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

static inline const struct py_record *record_at(uint32_t id)
{
    uint64_t off = atomic_load_explicit(&records[id], memory_order_acquire);

    return off ? (const struct py_record *)(arena + off - 1) : NULL;
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
uint32_t pycode_id(uintptr_t code, const struct py_fingerprint *fpp)
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

            if (r && pycode_same_fp(&r->fp, &fp))
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

const struct py_record *pycode_get(uint32_t id)
{
    return records && id < PY_MAX_CODES ? record_at(id) : NULL;
}

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

int pycode_init(void)
{
    if (arena)
        return 0;
    arena = map(PY_ARENA_BYTES);
    records = map(PY_MAX_CODES * sizeof(*records));
    slots = map(PY_SLOTS * sizeof(*slots));
    if (!arena || !records || !slots)
        return -1;
    atomic_store(&arena_used, 8); /* offset 0 is never a record */
    return 0;
}
