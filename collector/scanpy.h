/*
 * scanpy.h - Python objects in a scan snapshot: what a block is, what a slot is.
 *
 * When the program is CPython (a version with a row in the layout table) and
 * runs with PYTHONMALLOC=malloc, every Python object is a live block. This
 * module recognises one from its bytes (the object header at the layout's
 * offset after the GC and managed-dict pre-headers, its ob_type validated by
 * reading the type's own fields), names its type, and names the slot through
 * which one object holds another (attribute, dict key, list index, cell,
 * module global, class attribute), so a backreference chain reads as
 * objgraph's show_backrefs does. It also counts live objects by type (the
 * census, as objgraph's show_most_common_types).
 *
 * scanpy_detect() runs on the collector thread before the fork (dlsym); every
 * other call runs in the scan child: no malloc, no lock, memory from mmap,
 * and reads of anything that is not a live block go through
 * process_vm_readv() so a bad pointer is an error, not a fault.
 */
#ifndef HEAPLINE_SCANPY_H
#define HEAPLINE_SCANPY_H

#include <stddef.h>
#include <stdint.h>

struct scanpy_layout;

/* Well-known type objects, from the interpreter's exported symbols. */
enum scanpy_kind {
    SCANPY_OTHER = 0,
    SCANPY_TYPE,
    SCANPY_DICT,
    SCANPY_LIST,
    SCANPY_TUPLE,
    SCANPY_MODULE,
    SCANPY_CELL,
    SCANPY_FUNCTION,
    SCANPY_BYTEARRAY,
    SCANPY_STR,
    SCANPY_BYTES,
    SCANPY_INT,
    SCANPY_FLOAT,
    SCANPY_DEQUE, /* collections.deque: static, no symbol; known by name and size */
    SCANPY_N_KINDS
};

struct scanpy {
    uint32_t version;                /* Py_Version (0x030b02f0 for 3.11.2); 0: not Python */
    const struct scanpy_layout *lay; /* NULL: not a known version */
    uint64_t types[SCANPY_N_KINDS];  /* address of each well-known type (0: unknown) */
    uint64_t runtime;                /* &_PyRuntime (0: unknown: no frame locals) */
    struct scanpy_cache *cache;      /* child: the type cache (scanpy_begin) */
};

/* Collector thread, before the fork. Fills py from the running program's
 * exported symbols. Returns 0 when the program is a CPython with a known
 * layout, -1 otherwise (py->version says which version it was, if any). */
int scanpy_detect(struct scanpy *py);

/* How the child sees the snapshot. find() returns 0 with the live block
 * containing addr, -1 when none. */
struct scanbfs_root;
struct scanpy_view {
    int (*find)(const void *ctx, uint64_t addr, uint64_t *lo, uint64_t *size);
    const void *ctx;
    const struct scanbfs_root *roots; /* static type objects live in GLOBAL roots */
    size_t n_roots;
};

/* Child: maps the type cache. Returns 0 or -ENOMEM. */
int scanpy_begin(struct scanpy *py);
void scanpy_end(struct scanpy *py);
/* The bytes the type cache maps (what a scan leaves out as its own). */
size_t scanpy_cache_bytes(void);

/* A Python object found at a block. */
struct scanpy_obj {
    uint64_t ob;   /* address of the PyObject (inside the block) */
    uint64_t type; /* its type object */
    uint64_t refcnt;
    uint32_t kind;    /* enum scanpy_kind */
    const char *name; /* the type's name (in the cache, NUL-terminated) */
};

/* Whether the block [lo, lo+size) is a Python object. Returns 1 with *o set,
 * 0 when it is not one. Reads the block directly (the caller catches faults);
 * types through the cache. */
int scanpy_object(struct scanpy *py, const struct scanpy_view *v, uint64_t lo, uint64_t size,
                  struct scanpy_obj *o);

/* Whether a pointer at byte `offset` of the object's block is the object's own
 * bookkeeping (its PyGC_Head): never a reference. */
int scanpy_is_gc_link(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                      uint64_t offset);

/* Whether the word at byte `offset` of o's block is data, never a reference:
 * anything but ob_type in a str, bytes, int or float (their lengths, hashes,
 * state bits and contents look like pointers: a str's state word is often a
 * heap address in a non-PIE python3), except a str's wstr and utf8 buffers;
 * and a deque's free-block slot past its count (left from an earlier use). */
int scanpy_is_data_word(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                        uint64_t offset);

/* Whether the word at byte `offset` of the block [lo, lo+size), which is no
 * object, lies in the prefix of a values array (3.11's PyDictValues of an
 * instance or a split dict): new_values() mallocs prefix + n pointers, the
 * prefix round_up(n + 2, 8) bytes whose last byte is the prefix's size and
 * whose other bytes are the insertion order or never written, so they keep
 * the words of the chunk's earlier use (a pointer to a live object). */
int scanpy_in_values_prefix(const struct scanpy *py, uint64_t lo, uint64_t size, uint64_t offset);

/* A deque's block and the bytes of it [vlo, vhi) that hold references
 * (its live item slots and the links between its blocks). */
struct scanpy_dqblock {
    uint64_t addr;
    uint32_t vlo, vhi;
};

/* Deque o's blocks (scanpydeque.c): the chain from its left block to its
 * right one, then the free blocks it caches (vlo == vhi: nothing), the
 * first `cap` of them in out. Returns how many it has, or 0 when its
 * fields do not add up (then none is known). Reads the blocks directly: the caller catches
 * faults. */
size_t scanpy_deque_blocks(const struct scanpy *py, const struct scanpy_obj *o,
                           struct scanpy_dqblock *out, size_t cap);
/* A deque object's block's bytes (GC head included); 0 when the layout has
 * no deque. */
uint64_t scanpy_deque_object_bytes(const struct scanpy *py);

/* Whether holder o ends a Python chain through the pointer at byte `offset`
 * of its block: a module's md_dict (module global) or a type's tp_dict
 * (class attribute). Returns SCANPY_END_MODULE, SCANPY_END_CLASS or 0. */
#define SCANPY_END_MODULE 1u
#define SCANPY_END_CLASS 2u
uint32_t scanpy_chain_end(const struct scanpy *py, const struct scanpy_obj *o, uint64_t lo,
                          uint64_t offset);

/* One hop's Python names. flags (the same values as scanmsg.h's SCANMSG_PY_*):
 * OBJECT: the block is a Python object of type `type`; PART: a buffer the
 * Python object holding it owns (its list items, dict keys or values,
 * bytearray bytes), folded into it; MODULE, CLASS, FRAME: the chain ends at
 * module `owner`'s global `via`, class `owner`'s attribute `via`, or the
 * local `via` of a live frame of function `owner`. */
#define SCANPY_HOP_OBJECT 1u
#define SCANPY_HOP_PART 2u
#define SCANPY_HOP_MODULE 4u
#define SCANPY_HOP_CLASS 8u
#define SCANPY_HOP_FRAME 16u
#define SCANPY_NAME 96
struct scanpy_hop {
    uint32_t flags;          /* SCANMSG_PY_* */
    char type[SCANPY_NAME];  /* the object's type name ("" when not an object) */
    char via[SCANPY_NAME];   /* the slot: ".loader", "['app-3']", "[0]" ("" when none) */
    char owner[SCANPY_NAME]; /* chain end: the module or class name */
    char key[SCANPY_NAME];   /* a dict slot's key, unquoted (not sent) */
};

/* Names a holder's slot. holder is the node's block [lo, lo+size) holding,
 * at byte `offset`, a pointer to `interior` bytes into the block below it;
 * below_offset is where that block (when it is a buffer the holder owns: a
 * list's items, a dict's keys or values) holds the pointer one hop further
 * down (-1 when it holds none). Fills h->via (and owner for chain ends) and
 * returns 1 when the block below is a buffer owned by the holder (a "part":
 * renderers fold it into the holder). */
int scanpy_name_slot(struct scanpy *py, const struct scanpy_view *v, const struct scanpy_obj *o,
                     uint64_t lo, uint64_t offset, uint64_t interior, uint64_t below_lo,
                     int64_t below_offset, int below_is_object, struct scanpy_hop *h);

/* A dict's key at the entry holding byte `offset` of its keys block (kind
 * from the block), as text into buf: "'app-3'" quoted (raw = 0) or app-3
 * (raw = 1). Returns 0 or -1 when it is not an entry's value slot. */
int scanpy_dict_key(struct scanpy *py, const struct scanpy_view *v, uint64_t keys_lo,
                    uint64_t offset, int raw, char *buf, size_t cap);

/* A module object's name (md_name), a type object's name (tp_name) into buf
 * ("?" when unreadable). */
void scanpy_module_name(const struct scanpy *py, const struct scanpy_obj *o, char *buf, size_t cap);
void scanpy_type_name(const struct scanpy *py, uint64_t type, char *buf, size_t cap);

/* Child: appends one root per live frame of every Python thread (its locals:
 * localsplus[0..co_nlocalsplus)), kind SCANBFS_STACK with the heapline thread
 * id of its thread (from stacks by kernel tid, 0 when unknown) and flag
 * SCANBFS_ROOT_FRAME, to roots[n..cap). The frames live in the interpreter's
 * own mmap'ed data stack, which no other root covers. Returns the new count. */
struct scan_range;
size_t scanpy_frame_roots(struct scanpy *py, const struct scan_range *stacks, size_t n_stacks,
                          struct scanbfs_root *roots, size_t n, size_t cap);

/* Names the local at addr of the frame whose locals start at lo (a
 * SCANBFS_ROOT_FRAME root): func "handle()" (its qualified name), var "p".
 * Returns 0 or -1. */
int scanpy_frame_local(const struct scanpy *py, uint64_t lo, uint64_t addr, char *func,
                       size_t func_cap, char *var, size_t var_cap);

/* The census: one row per type. */
struct scanpy_census_row {
    uint64_t type;
    uint64_t count, bytes;
    uint64_t oldest; /* block address of the instance allocated first (lowest seq) */
    uint32_t oldest_seq;
    uint32_t pad;
    char name[SCANPY_NAME];
};

/* Adds the block [lo, lo+size) allocated with sequence number seq to the
 * rows (capacity cap, *n used). Returns 0, or -1 when a new type finds no
 * room (the block is not counted). */
int scanpy_census_add(struct scanpy *py, const struct scanpy_view *v, uint64_t lo, uint64_t size,
                      uint32_t seq, struct scanpy_census_row *rows, size_t cap, size_t *n);

#endif
