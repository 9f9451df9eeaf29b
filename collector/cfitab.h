/*
 * cfitab.h - a module's DWARF call frame information (.eh_frame) compiled
 * once into a compact sorted table of unwind rules, for a stack walk with one
 * lookup per frame (the idea of the kernel's ORC tables and of framehop).
 *
 * A rule says how to find the caller of an instruction: CFA = SP or FP +
 * offset, the return address at CFA - 8, FP unchanged or saved at CFA +
 * offset. Everything else the DWARF can say (expressions, registers held in
 * other registers, signal frames, code without an FDE) compiles to BAD: the
 * walker hands that walk to libunwind. The rules are the ones libunwind's own
 * fast trace (x86_64 Gtrace.c, "standard frames") takes, so a walk that
 * stays on GOOD rules finds exactly the frames unw_backtrace finds.
 */
#ifndef HEAPLINE_CFITAB_H
#define HEAPLINE_CFITAB_H

#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A rule, 32 bits: bits 0-1 the kind, bit 2 "FP saved", bits 3-10 the FP's
 * offset from the CFA / 8 (signed), bits 11-31 the CFA's offset from its
 * base register (signed). */
#define CFITAB_BAD 0u /* libunwind must step this frame */
#define CFITAB_SP 1u  /* CFA = SP + offset */
#define CFITAB_FP 2u  /* CFA = FP + offset */
#define CFITAB_END 3u /* the outermost frame (return address or FP undefined) */
#define CFITAB_FP_SAVED 4u

static inline unsigned cfitab_kind(uint32_t rule)
{
    return rule & 3u;
}
static inline int32_t cfitab_cfa_off(uint32_t rule)
{
    return (int32_t)rule >> 11;
}
static inline int32_t cfitab_fp_off(uint32_t rule)
{
    return ((int32_t)(rule << 21) >> 24) * 8;
}

/* Addresses are offsets from lo in 32 bits; blk[b] is the last row at or
 * before lo + b * CFITAB_BLOCK, so a lookup reads one index word and scans a
 * few rows. The arrays live in one mapping of map_bytes, never unmapped
 * while a walk may read it. */
#define CFITAB_BLOCK_SHIFT 7
struct cfitab {
    uintptr_t lo, hi; /* the module's executable code */
    uint32_t n;       /* rows */
    const uint32_t *pc, *rule, *blk;
    size_t map_bytes;
    uint32_t fdes, bad_rows; /* FDEs read, rows that hand the walk to libunwind */
};

/* Compiles the .eh_frame (through .eh_frame_hdr) of a loaded module whose
 * executable segments span [lo, hi). Returns a table in its own mapping, or
 * NULL when the module has no table this reader knows (its frames then go to
 * libunwind). Reads only the module's mapped segments, with bounds checks.
 * Allocates with mmap only. Collector thread (or start-up), never the hot
 * path: about 1 ms per 10,000 FDEs. */
struct cfitab *cfitab_build(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi);

/* cfitab_build(), given up (NULL) as soon as *stop is set (looked at every
 * 256 FDEs, some 25 us apart): a run that ends does not wait for the rest of
 * a module nothing will walk any more (libc's 4 ms). */
struct cfitab *cfitab_build_until(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi,
                                  const atomic_int *stop);

/* Where a module's .eh_frame_hdr is, for cfitab_rule_at(): its search
 * table of count entries, in the loaded segment [seg_lo, seg_hi) that holds
 * it and the FDEs. */
struct cfitab_src {
    const uint8_t *hdr; /* NULL: the module has no table this reader knows */
    uintptr_t seg_lo, seg_hi;
    uint32_t count;
};

/* Finds a loaded module's .eh_frame_hdr and checks its header. 0, or -1
 * (s->hdr NULL) when it has none this reader knows. No allocation. */
int cfitab_src_of(const struct dl_phdr_info *info, struct cfitab_src *s);

#define CFITAB_AT_ROWS 16 /* cfitab_rule_at()'s rows, on the caller's stack */

/* The rule for the instruction at pc (lo <= pc, lo the start of the module's
 * code) without a compiled table: the FDE that covers pc found by a binary
 * search of the search table, and only it run up to pc. The rule
 * cfitab_find() gives on cfitab_build()'s table of the module, or BAD where
 * overlapping FDEs would take a table to say (tests/fuzz/fuzz_cfitab.c
 * checks both ways of reading). For a walk on the program's thread that
 * finds its module not compiled yet: no allocation, no lock, a few
 * microseconds, about 3 KB of stack (a libunwind step takes as much). The module must stay loaded
 * meanwhile (a return address on the walking thread's stack is in code
 * that is). */
uint32_t cfitab_rule_at(const struct cfitab_src *s, uintptr_t lo, uintptr_t pc);

/* The rule for the instruction at pc (lo <= pc < hi). Any thread, no locks. */
static inline uint32_t cfitab_find(const struct cfitab *t, uintptr_t pc)
{
    uint32_t off = (uint32_t)(pc - t->lo), i = t->blk[off >> CFITAB_BLOCK_SHIFT];

    while (i + 1 < t->n && t->pc[i + 1] <= off)
        i++;
    return t->pc[i] <= off ? t->rule[i] : CFITAB_BAD;
}

#endif
