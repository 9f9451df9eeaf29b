/*
 * ehframe.h - does a loaded module keep frame pointers? Read from its
 * unwind tables (.eh_frame through .eh_frame_hdr), the only evidence a
 * stripped binary carries.
 */
#ifndef HEAPLINE_EHFRAME_H
#define HEAPLINE_EHFRAME_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

/* A bounded reader of DWARF bytes: a read past end sets bad (and reads 0). */
struct ehframe_rd {
    const uint8_t *p, *end;
    int bad;
};
uint64_t ehframe_uleb(struct ehframe_rd *r);
int64_t ehframe_sleb(struct ehframe_rd *r);
void ehframe_skip(struct ehframe_rd *r, size_t n);
/* Size of an encoded pointer (DW_EH_PE_*, low nibble): 2, 4, 8, 0 for
 * uleb/sleb, -1 unknown. */
int ehframe_enc_size(uint8_t enc);

/* The PT_LOAD segment [lo, hi) (file-backed bytes) that contains addr: 0, or
 * -1 when none does. */
int ehframe_segment_of(const struct dl_phdr_info *info, uintptr_t addr, uintptr_t *lo,
                       uintptr_t *hi);

/* The share (0-100) of the module's code bytes, by function, that defines
 * its frame address from rbp: near 100 for a module built with frame
 * pointers (the rest is typically start-up stubs and hand-written assembly),
 * near 0 without. 0 when the tables are missing or in an encoding this reader
 * does not know.
 * Reads only the module's mapped, read-only tables, with bounds checks.
 * Collector start-up and collector thread (after dlopen). */
int ehframe_fp_percent(const struct dl_phdr_info *info);

#endif
