/*
 * ehframe.c - frame-pointer detection from DWARF call frame information.
 *
 * A function built with frame pointers says, after its prologue, "the frame
 * address is rbp + 16" (DW_CFA_def_cfa_register or DW_CFA_def_cfa with
 * register 6); a function without never does (except the rare ones that
 * realign their stack). Every read stays inside the PT_LOAD segment that
 * holds the table; any malformation makes the answer "no", which only costs
 * speed (the caller then uses libunwind).
 */
#include "ehframe.h"

#include <stdint.h>
#include <string.h>

#define DW_EH_PE_omit 0xff

uint64_t ehframe_uleb(struct ehframe_rd *r)
{
    uint64_t v = 0;
    int shift = 0;

    while (r->p < r->end) {
        uint8_t b = *r->p++;

        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return 0;
}

int64_t ehframe_sleb(struct ehframe_rd *r)
{
    uint64_t v = 0; /* unsigned: the shifts may reach the sign bit */
    int shift = 0;
    uint8_t b = 0;

    while (r->p < r->end) {
        b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~(uint64_t)0 << shift;
            return (int64_t)v;
        }
    }
    r->bad = 1;
    return 0;
}

void ehframe_skip(struct ehframe_rd *r, size_t n)
{
    if (r->p > r->end || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        r->p = r->end;
    } else {
        r->p += n;
    }
}

/* Size of an encoded pointer (low nibble of the encoding), 0 for uleb/sleb,
 * -1 when unknown. */
int ehframe_enc_size(uint8_t enc)
{
    switch (enc & 0x0f) {
    case 0x00:
    case 0x04:
    case 0x0c:
        return 8;
    case 0x02:
    case 0x0a:
        return 2;
    case 0x03:
    case 0x0b:
        return 4;
    case 0x01:
    case 0x09:
        return 0;
    default:
        return -1;
    }
}

static void skip_ptr(struct ehframe_rd *r, uint8_t enc)
{
    int n = ehframe_enc_size(enc);

    if (n < 0)
        r->bad = 1;
    else if (n == 0)
        ehframe_uleb(r);
    else
        ehframe_skip(r, (size_t)n);
}

/* Walks CFA instructions; returns 1 if the CFA is ever defined from rbp. */
static int cfa_uses_rbp(struct ehframe_rd *r, uint8_t fde_enc)
{
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;

        switch (op >> 6) {
        case 1: /* advance_loc */
        case 3: /* restore */
            continue;
        case 2: /* offset: uleb */
            ehframe_uleb(r);
            continue;
        }
        switch (op) {
        case 0x00:
        case 0x0a:
        case 0x0b:
            break;
        case 0x01:
            skip_ptr(r, fde_enc);
            break;
        case 0x02:
            ehframe_skip(r, 1);
            break;
        case 0x03:
            ehframe_skip(r, 2);
            break;
        case 0x04:
            ehframe_skip(r, 4);
            break;
        case 0x05:
        case 0x09:
        case 0x14:
        case 0x2f:
            ehframe_uleb(r);
            ehframe_uleb(r);
            break;
        case 0x06:
        case 0x07:
        case 0x08:
        case 0x0e:
        case 0x2e:
            ehframe_uleb(r);
            break;
        case 0x0c: /* def_cfa reg, off */
            if (ehframe_uleb(r) == 6)
                return 1;
            ehframe_uleb(r);
            break;
        case 0x0d: /* def_cfa_register */
            if (ehframe_uleb(r) == 6)
                return 1;
            break;
        case 0x12: /* def_cfa_sf */
            if (ehframe_uleb(r) == 6)
                return 1;
            ehframe_sleb(r);
            break;
        case 0x11:
        case 0x15:
            ehframe_uleb(r);
            ehframe_sleb(r);
            break;
        case 0x13:
            ehframe_sleb(r);
            break;
        case 0x0f: /* def_cfa_expression: block */
            ehframe_skip(r, ehframe_uleb(r));
            break;
        case 0x10:
        case 0x16: /* reg, block */
            ehframe_uleb(r);
            ehframe_skip(r, ehframe_uleb(r));
            break;
        default:
            r->bad = 1;
            break;
        }
    }
    return 0;
}

struct cie {
    const uint8_t *at;
    uint8_t fde_enc;
    int has_z;
    int rbp; /* the CIE's own instructions already use rbp */
    int ok;
};

static void parse_cie(const uint8_t *at, const uint8_t *seg_end, struct cie *c)
{
    struct ehframe_rd r = {at, seg_end, 0};
    uint32_t len;
    const char *aug;

    memset(c, 0, sizeof(*c));
    c->at = at;
    if ((size_t)(seg_end - at) < 8)
        return;
    memcpy(&len, at, 4);
    if (len == 0 || len == 0xffffffffu || len > (size_t)(seg_end - at) - 4)
        return;
    r.end = at + 4 + len;
    r.p = at + 8;        /* length, CIE id */
    ehframe_skip(&r, 1); /* version */
    aug = (const char *)r.p;
    while (r.p < r.end && *r.p)
        r.p++;
    ehframe_skip(&r, 1);
    if (r.bad || strchr(aug, 'e'))
        return;       /* "eh" augmentation: obsolete */
    ehframe_uleb(&r); /* code alignment */
    ehframe_sleb(&r); /* data alignment */
    ehframe_uleb(&r); /* return register (version 3; 1 byte in version 1, same for < 128) */
    c->fde_enc = 0;   /* absptr unless 'R' */
    if (aug[0] == 'z') {
        uint64_t alen = ehframe_uleb(&r);
        const uint8_t *aend = r.p + alen;

        c->has_z = 1;
        for (const char *a = aug + 1; *a && !r.bad; a++) {
            if (*a == 'R') {
                ehframe_skip(&r, 1);
                if (!r.bad)
                    c->fde_enc = r.p[-1];
            } else if (*a == 'P') {
                uint8_t enc;

                ehframe_skip(&r, 1);
                if (r.bad)
                    break;
                enc = r.p[-1];
                skip_ptr(&r, enc);
            } else if (*a == 'L') {
                ehframe_skip(&r, 1);
            } else if (*a != 'S' && *a != 'B') {
                break;
            }
        }
        if (aend > r.end || aend < r.p) {
            r.bad = 1;
        } else {
            r.p = aend;
        }
    }
    if (r.bad || ehframe_enc_size(c->fde_enc) < 0)
        return;
    c->rbp = cfa_uses_rbp(&r, c->fde_enc);
    c->ok = 1;
}

int ehframe_segment_of(const struct dl_phdr_info *info, uintptr_t addr, uintptr_t *lo,
                       uintptr_t *hi)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD && addr >= a && addr < a + ph->p_filesz) {
            *lo = a;
            *hi = a + ph->p_filesz;
            return 0;
        }
    }
    return -1;
}

int ehframe_fp_percent(const struct dl_phdr_info *info)
{
    const uint8_t *hdr = NULL;
    uintptr_t lo, hi;
    uint32_t count;
    uint64_t fp_bytes = 0, total_bytes = 0;
    struct cie cie = {0};

    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!hdr || ehframe_segment_of(info, (uintptr_t)hdr, &lo, &hi) < 0 || hi - (uintptr_t)hdr < 12)
        return 0;
    /* version 1, eh_frame_ptr pcrel|sdata4, count udata4, table datarel|sdata4 */
    if (hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
        return 0;
    memcpy(&count, hdr + 8, 4);
    if (count == 0 || (hi - (uintptr_t)hdr - 12) / 8 < count)
        return 0;
    const uint8_t *seg_end = (const uint8_t *)hi, *seg_lo = (const uint8_t *)lo;
    uint32_t step = count > 4000 ? count / 4000 : 1; /* a sample is enough */
    for (uint32_t i = 0; i < count; i += step) {
        int32_t fde_rel;
        const uint8_t *fde;
        uint32_t len;
        int32_t cie_rel;

        memcpy(&fde_rel, hdr + 12 + 8 * (size_t)i + 4, 4);
        fde = hdr + fde_rel;
        if (fde < seg_lo || fde + 8 > seg_end)
            return 0;
        memcpy(&len, fde, 4);
        memcpy(&cie_rel, fde + 4, 4);
        if (len < 8 || len == 0xffffffffu || len > (size_t)(seg_end - fde) - 4)
            return 0;
        const uint8_t *cie_at = fde + 4 - cie_rel;
        if (cie_at < seg_lo || cie_at >= seg_end)
            return 0;
        if (cie.at != cie_at)
            parse_cie(cie_at, seg_end, &cie);
        if (!cie.ok)
            return 0;
        struct ehframe_rd r = {fde + 8, fde + 4 + len, 0};
        int sz = ehframe_enc_size(cie.fde_enc);
        uint64_t range = 0;
        if (sz == 0) {
            ehframe_uleb(&r);
            range = ehframe_uleb(&r);
        } else {
            ehframe_skip(&r, (size_t)sz); /* pc_begin */
            if (!r.bad && (size_t)(r.end - r.p) >= (size_t)sz) {
                if (sz == 2) {
                    uint16_t x;
                    memcpy(&x, r.p, 2);
                    range = x;
                } else if (sz == 4) {
                    uint32_t x;
                    memcpy(&x, r.p, 4);
                    range = x;
                } else {
                    memcpy(&range, r.p, 8);
                }
            }
            ehframe_skip(&r, (size_t)sz); /* pc_range */
        }
        if (range > (1u << 24))
            range = 1u << 24;
        total_bytes += range;
        if (cie.has_z)
            ehframe_skip(&r, ehframe_uleb(&r));
        if (r.bad)
            return 0;
        if (cie.rbp || cfa_uses_rbp(&r, cie.fde_enc))
            fp_bytes += range;
    }
    return total_bytes > 0 ? (int)(fp_bytes * 100 / total_bytes) : 0;
}
