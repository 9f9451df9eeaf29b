/*
 * scanbfs.h - the breadth-first backreference search over one address space.
 *
 * Given the live blocks (a scan_source), the root ranges (writable module
 * segments, thread stacks) and a target address, finds the holders of the
 * target's block level by level: each level scans every root word and every
 * live block word once for values pointing into the current frontier (the
 * blocks found at the previous level). The result is a tree of nodes in BFS
 * order: node 0 is the target block, every other node holds a pointer into an
 * earlier node (its `to`). Root nodes (globals, stack words) end chains.
 *
 * Never calls malloc and takes no lock: it runs in the forked scan child (and
 * directly in tests and benchmarks). Memory comes from mmap and is returned
 * before it returns.
 */
#ifndef HEAPLINE_SCANBFS_H
#define HEAPLINE_SCANBFS_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"
#include "scanpy.h"

enum scanbfs_kind {
    SCANBFS_HEAP = 1,   /* a live block */
    SCANBFS_GLOBAL = 2, /* a word of a module's writable segment */
    SCANBFS_STACK = 3   /* a word of a thread stack */
};

/* Result flags */
#define SCANBFS_UNREACHABLE 1u   /* fully explored, no root holds the target: leaked */
#define SCANBFS_DEPTH_LIMIT 2u   /* the last level's nodes were not scanned */
#define SCANBFS_FANOUT_LIMIT 4u  /* some holders were left out (fan-out or root limit) */
#define SCANBFS_UNREADABLE 16u   /* some ranges could not be read (freed since) */
#define SCANBFS_STOPPED_EARLY 8u /* stopped extra_levels after the level of the first root */
#define SCANBFS_CYCLE                                                                              \
    32u /* Python, with UNREACHABLE: a holder of the target is held                                \
           by the target (held only by a reference cycle) */

/* Root flags */
#define SCANBFS_ROOT_ALLOCATOR                                                                     \
    1u /* the malloc implementation's module (libc): its                                           \
          pointers to free chunk headers are not references */
#define SCANBFS_ROOT_INTERP                                                                        \
    2u /* the Python interpreter's module: its data is the                                         \
          interpreter's bookkeeping (GC lists, type caches, free                                   \
          lists, interned strings), not a holder: not scanned                                      \
          when params.py is set */

#define SCANBFS_ROOT_FRAME 4u /* a live Python frame's locals (scanpy_frame_roots) */

/* Node flags: a Python holder that ends a chain (not followed further) */
#define SCANBFS_NODE_END_MODULE 1u /* a module object through its md_dict: a module global */
#define SCANBFS_NODE_END_CLASS 2u  /* a type object through its tp_dict: a class attribute */
#define SCANBFS_NODE_END_FRAME 4u  /* a STACK node in a live Python frame's locals */

#define SCANBFS_ROOT_ANON                                                                          \
    8u /* an anonymous mapping the program made (a pool, an                                        \
          arena): skipped when a live block lies in it, for                                        \
          then it is malloc's (an mmap'ed block, a heap), and                                      \
          in a Python program (params.py), where it is the                                         \
          interpreter's */

struct scanbfs_root {
    uint64_t lo, hi; /* [lo, hi), scanned in 8-byte aligned words */
    uint32_t kind;   /* SCANBFS_GLOBAL or SCANBFS_STACK */
    uint32_t id;     /* GLOBAL: caller's module index; STACK: heapline thread id */
    uint32_t flags;  /* SCANBFS_ROOT_* */
};

struct scanbfs_node {
    uint64_t addr;     /* HEAP: block address; roots: address of the pointer word */
    uint64_t size;     /* HEAP: block size; roots: 8 */
    uint64_t offset;   /* HEAP: offset of the pointer inside the block; roots: from root lo */
    uint64_t interior; /* offset inside node `to` the pointer points at (0: its start) */
    int64_t inbound;   /* words anywhere pointing into this node; -1: not counted */
    uint32_t kind;     /* enum scanbfs_kind */
    uint32_t id;       /* HEAP: stack id; GLOBAL: module index; STACK: thread id */
    uint32_t to;       /* index of the node this one points into (node 0: 0) */
    uint32_t level;    /* hops from the target */
    uint32_t flags;    /* SCANBFS_NODE_* (a Python chain end: counts as a root) */
    uint32_t pad;
};

struct scanbfs_params {
    uint64_t target;           /* an address inside a live block */
    uint32_t max_depth;        /* hops; 0 means 10 */
    uint32_t max_fanout;       /* heap holders added per level; 0 means 64 */
    uint32_t max_roots;        /* root nodes in all; 0 means max_fanout */
    uint32_t extra_levels;     /* levels still scanned after the level of the first root */
    uint64_t skip_lo, skip_hi; /* a root range overlapping this is not scanned (own stack) */
    uint32_t no_simd;          /* tests: the portable loop even where AVX2 is there */
    uint32_t no_filter;        /* tests: every level scans every block (no level-0 mark) */
    uint32_t no_list;          /* tests: later levels read the marked blocks (or their copy),
                                  not level 0's list of words */
    uint32_t catch_faults;     /* scan child only: skip ranges that fault (installs
                                  SIGSEGV/SIGBUS handlers for good) */
    struct {
        uint64_t lo, hi;
    } own[4]; /* the caller's own mappings: blocks there are stale */
    uint32_t n_own;
    /* Python (NULL: not Python): references to an object point at its PyObject
     * (its GC links never count), dead objects (refcount 0, on a free list)
     * hold nothing, a module's or a class's dict ends a chain, the
     * interpreter's own data is not a root; and with hops (scanbfs_max_nodes
     * entries) every node is named (type, slot). */
    struct scanpy *py;
    struct scanpy_hop *hops;
    /* census (target 0, py set): rows by type into census[0..cap_census) */
    struct scanpy_census_row *census;
    size_t cap_census, n_census;
};

struct scanbfs_stats {
    uint32_t flags;
    uint32_t levels;        /* levels scanned */
    uint64_t n_blocks;      /* blocks in the snapshot */
    uint64_t heap_bytes;    /* bytes of live blocks (one level) */
    uint64_t root_bytes;    /* bytes of root ranges (one level) */
    uint64_t bytes_scanned; /* all levels */
    uint64_t prep_ns;       /* collect and sort the blocks */
    uint64_t scan_ns;       /* all levels */
    uint64_t first_root_ns; /* from start to the level that found the first root; 0: none */
    uint64_t duration_ns;   /* everything */
    uint64_t faults;        /* ranges skipped because reading them faulted */
    uint64_t words_listed;  /* words in level 0's list, which later levels read (0: not used) */
};

/* Upper bound on the nodes scanbfs_run() writes for these parameters. */
size_t scanbfs_max_nodes(const struct scanbfs_params *p);

/* Runs the search (or, with target 0 and census set, the census: no nodes,
 * p->n_census rows; p is written only there). nodes must hold scanbfs_max_nodes(p) entries. Returns
 * 0 with *n_nodes and *st set, -ENOENT when target is in no live block, -ENOMEM when mmap fails.
 * Safe in a forked child of a multi-threaded process: no malloc, no lock; only mmap, munmap,
 * madvise-free syscalls, clock_gettime and, with catch_faults, sigaction and sigprocmask. Not
 * thread-safe (catch_faults uses one static jump buffer). */
int scanbfs_run(const struct scan_source *src, const struct scanbfs_root *roots, size_t n_roots,
                struct scanbfs_params *p, struct scanbfs_node *nodes, size_t *n_nodes,
                struct scanbfs_stats *st);

#endif
