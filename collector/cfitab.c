/*
 * cfitab.c - compiling .eh_frame into a table of unwind rules (cfitab.h).
 *
 * The FDEs are taken in the order of .eh_frame_hdr's search table (the one
 * libunwind searches), each one's CFA program run once from its start to its
 * end: a row where the rule changes, and a BAD row where the FDE ends (an
 * address no FDE covers is one libunwind guesses at). Anything this compiler
 * does not model, or reads out of bounds, makes the rows from that point of
 * the FDE BAD: that costs only speed (the walk goes to libunwind), never a
 * wrong stack. x86_64 register numbers: 6 rbp, 7 rsp, 16 the return address.
 */
#include "cfitab.h"

#include <string.h>
#include <sys/mman.h>

#include "ehframe.h"

#define REG_FP 6
#define REG_SP 7
#define REG_RA 16
#define NREGS 17 /* libunwind's DWARF_NUM_PRESERVED_REGS: a higher one fails its step */
#define STATE_STACK 8

enum { W_SAME, W_UNDEF, W_CFAREL, W_OTHER, W_EXPR };

struct reg_rule {
    uint8_t where;
    int64_t off;
};

struct cfa_state {
    int cfa_reg; /* -1: an expression (or not defined) */
    int64_t cfa_off;
    struct reg_rule r[NREGS];
};

struct cie_info {
    const uint8_t *at;
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra;
    uint8_t fde_enc;
    int has_z, signal, ok;
    const uint8_t *ins, *ins_end;
};

/* A growing array of rows, in an anonymous mapping. The first is room for
 * ROWS_ROOM rows (32 MiB of address space, its pages touched as rows are
 * put): doubling from 4096 rows copied libc's rows four times and unmapped
 * each smaller mapping, every unmap a TLB flush that interrupted the
 * program's threads (sqlite3's sampled run: 0.35 ms of its collector
 * thread's 11.7 went to those copies and their page faults). A module with
 * more rows doubles from there; an address-space limit (ulimit -v) that
 * refuses the room starts from 4096 rows, as before. */
#define ROWS_ROOM (1u << 22)
#define ROWS_MIN 4096u

struct rows {
    uint32_t *pc, *rule;
    size_t n, cap;
    int fixed; /* pc and rule are the caller's arrays of cap rows: no growing */
};

static int rows_grow(struct rows *w)
{
    if (w->fixed)
        return -1;
    size_t cap = w->cap ? w->cap * 2 : ROWS_ROOM;
    uint32_t *pc = mmap(NULL, cap * 8, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (pc == MAP_FAILED && !w->cap) {
        cap = ROWS_MIN;
        pc = mmap(NULL, cap * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (pc == MAP_FAILED)
        return -1;
    if (w->n) {
        memcpy(pc, w->pc, w->n * 4);
        memcpy(pc + cap, w->rule, w->n * 4);
    }
    if (w->cap)
        munmap(w->pc, w->cap * 8);
    w->pc = pc;
    w->rule = pc + cap;
    w->cap = cap;
    return 0;
}

/* The rule from off on: replaces the rows at or after off (a later FDE, or a
 * later instruction at the same address, wins), merges with an equal rule. */
static int rows_put(struct rows *w, uint32_t off, uint32_t rule)
{
    while (w->n && w->pc[w->n - 1] >= off)
        w->n--;
    if (w->n && w->rule[w->n - 1] == rule)
        return 0;
    if (w->n == w->cap && w->fixed) {
        /* one FDE's rows come in address order: only the last can still
         * hold at a later address, or be replaced at its own */
        w->pc[0] = w->pc[w->n - 1];
        w->rule[0] = w->rule[w->n - 1];
        w->n = 1;
    }
    if (w->n == w->cap && rows_grow(w) < 0)
        return -1;
    w->pc[w->n] = off;
    w->rule[w->n++] = rule;
    return 0;
}

/* The rule of a CFA state, with libunwind's test for a "standard frame"
 * (x86_64 Gstash_frame.c) and its end of the chain (an undefined return
 * address, or an undefined rbp: x86_64 Gstep.c). */
static uint32_t classify(const struct cfa_state *s)
{
    const struct reg_rule *fp = &s->r[REG_FP], *sp = &s->r[REG_SP], *ra = &s->r[REG_RA];
    uint32_t rule;

    if (ra->where == W_UNDEF || fp->where == W_UNDEF)
        return CFITAB_END;
    for (int i = 0; i < NREGS; i++)
        if (s->r[i].where == W_EXPR)
            return CFITAB_BAD; /* evaluated by libunwind's step, which may fail */
    if (s->cfa_reg != REG_FP && s->cfa_reg != REG_SP)
        return CFITAB_BAD;
    if (ra->where != W_CFAREL || ra->off != -8)
        return CFITAB_BAD;
    if (!(sp->where == W_SAME || sp->where == W_UNDEF ||
          (sp->where == W_CFAREL && sp->off > -(1 << 14) && sp->off < (1 << 14) && sp->off != -1)))
        return CFITAB_BAD;
    if (s->cfa_off < -(1 << 20) || s->cfa_off >= (1 << 20))
        return CFITAB_BAD;
    rule = (s->cfa_reg == REG_SP ? CFITAB_SP : CFITAB_FP) | ((uint32_t)s->cfa_off << 11);
    if (fp->where == W_CFAREL) {
        if (fp->off % 8 || fp->off < -1024 || fp->off > 1016)
            return CFITAB_BAD;
        rule |= CFITAB_FP_SAVED | (((uint32_t)(fp->off / 8) & 0xff) << 3);
    } else if (fp->where != W_SAME) {
        return CFITAB_BAD;
    }
    return rule;
}

struct run {
    struct rows *w;
    uintptr_t base; /* table's lo */
    uintptr_t lo, hi;
};

static int put_at(struct run *u, uintptr_t loc, uint32_t rule)
{
    if (loc < u->lo)
        loc = u->lo;
    if (loc >= u->hi)
        return 0;
    return rows_put(u->w, (uint32_t)(loc - u->base), rule);
}

static int reg_ok(uint64_t reg)
{
    return reg < NREGS;
}

/* A factored offset, v * the CIE's data alignment. -1 when it does not fit
 * in 64 bits (no compiler writes that; fuzz_cfitab did): the program is then
 * not followed. */
static int factored(int64_t v, const struct cie_info *c, int64_t *off)
{
    return __builtin_mul_overflow(v, c->data_align, off) ? -1 : 0;
}

static int factored_u(uint64_t v, const struct cie_info *c, int64_t *off)
{
    return v > INT64_MAX ? -1 : factored((int64_t)v, c, off);
}

/* The step of an advance_loc instruction op (its operand read from r):
 * 1 with *delta set, or 0 when op is not an advance. */
static int cfa_advance(struct ehframe_rd *r, const struct cie_info *c, uint8_t op, uint64_t *delta)
{
    if (op >> 6 == 1) { /* advance_loc */
        *delta = (op & 0x3f) * c->code_align;
        return 1;
    }
    switch (op) {
    case 0x02: /* advance_loc1 */
        *delta = r->p < r->end ? *r->p : 0;
        ehframe_skip(r, 1);
        *delta *= c->code_align;
        return 1;
    case 0x03: { /* advance_loc2 */
        uint16_t v = 0;
        if ((size_t)(r->end - r->p) >= 2)
            memcpy(&v, r->p, 2);
        ehframe_skip(r, 2);
        *delta = v * c->code_align;
        return 1;
    }
    case 0x04: { /* advance_loc4 */
        uint32_t v = 0;
        if ((size_t)(r->end - r->p) >= 4)
            memcpy(&v, r->p, 4);
        ehframe_skip(r, 4);
        *delta = v * c->code_align;
        return 1;
    }
    }
    return 0;
}

/* A register's rule (offset, restore, undefined, same_value, register,
 * val_offset, expression and their extended forms): 1 when op was one, 0
 * when op is not a register rule, -1 when it cannot be followed (a register
 * past NREGS, an offset that overflows, a restore in a CIE). init: the
 * CIE's state, for restore (NULL in the CIE's own program). */
static int cfa_reg_op(struct ehframe_rd *r, const struct cie_info *c, struct cfa_state *s,
                      const struct cfa_state *init, uint8_t op)
{
    uint64_t reg;
    int64_t off;

    switch (op >> 6) {
    case 2: /* offset */
        reg = op & 0x3f;
        if (!reg_ok(reg) || factored_u(ehframe_uleb(r), c, &off) < 0)
            return -1;
        s->r[reg] = (struct reg_rule){W_CFAREL, off};
        return 1;
    case 3: /* restore */
        reg = op & 0x3f;
        if (!reg_ok(reg) || !init)
            return -1;
        s->r[reg] = init->r[reg];
        return 1;
    }
    switch (op) {
    case 0x05: /* offset_extended */
        reg = ehframe_uleb(r);
        if (!reg_ok(reg) || factored_u(ehframe_uleb(r), c, &off) < 0)
            return -1;
        s->r[reg] = (struct reg_rule){W_CFAREL, off};
        return 1;
    case 0x11: /* offset_extended_sf */
        reg = ehframe_uleb(r);
        if (!reg_ok(reg) || factored(ehframe_sleb(r), c, &off) < 0)
            return -1;
        s->r[reg] = (struct reg_rule){W_CFAREL, off};
        return 1;
    case 0x2f: /* GNU_negative_offset_extended */
        reg = ehframe_uleb(r);
        if (!reg_ok(reg) || factored_u(ehframe_uleb(r), c, &off) < 0 || off == INT64_MIN)
            return -1;
        s->r[reg] = (struct reg_rule){W_CFAREL, -off};
        return 1;
    case 0x06: /* restore_extended */
        reg = ehframe_uleb(r);
        if (!reg_ok(reg) || !init)
            return -1;
        s->r[reg] = init->r[reg];
        return 1;
    case 0x07: /* undefined */
    case 0x08: /* same_value */
        reg = ehframe_uleb(r);
        if (!reg_ok(reg))
            return -1;
        s->r[reg] = (struct reg_rule){op == 0x07 ? W_UNDEF : W_SAME, 0};
        return 1;
    case 0x09: /* register */
        reg = ehframe_uleb(r);
        ehframe_uleb(r);
        if (!reg_ok(reg))
            return -1;
        s->r[reg] = (struct reg_rule){W_OTHER, 0};
        return 1;
    case 0x14: /* val_offset */
    case 0x15: /* val_offset_sf */
        reg = ehframe_uleb(r);
        if (op == 0x14)
            ehframe_uleb(r);
        else
            ehframe_sleb(r);
        if (!reg_ok(reg))
            return -1;
        s->r[reg] = (struct reg_rule){W_OTHER, 0};
        return 1;
    case 0x10: /* expression */
    case 0x16: /* val_expression */
        reg = ehframe_uleb(r);
        ehframe_skip(r, ehframe_uleb(r));
        if (!reg_ok(reg))
            return -1;
        s->r[reg] = (struct reg_rule){W_EXPR, 0};
        return 1;
    }
    return 0;
}

/* The CFA's rule (def_cfa and its forms), or an instruction that changes
 * nothing the table keeps (nop, GNU_args_size): 1 when op was one, 0 when
 * not, -1 when a factored offset overflows. */
static int cfa_def_op(struct ehframe_rd *r, const struct cie_info *c, struct cfa_state *s,
                      uint8_t op)
{
    int64_t off;

    switch (op) {
    case 0x00: /* nop */
        return 1;
    case 0x0c: /* def_cfa */
        s->cfa_reg = (int)ehframe_uleb(r);
        s->cfa_off = (int64_t)ehframe_uleb(r);
        return 1;
    case 0x12: /* def_cfa_sf */
        s->cfa_reg = (int)ehframe_uleb(r);
        if (factored(ehframe_sleb(r), c, &off) < 0)
            return -1;
        s->cfa_off = off;
        return 1;
    case 0x0d: /* def_cfa_register */
        s->cfa_reg = (int)ehframe_uleb(r);
        return 1;
    case 0x0e: /* def_cfa_offset */
        s->cfa_off = (int64_t)ehframe_uleb(r);
        return 1;
    case 0x13: /* def_cfa_offset_sf */
        if (factored(ehframe_sleb(r), c, &off) < 0)
            return -1;
        s->cfa_off = off;
        return 1;
    case 0x0f: /* def_cfa_expression */
        ehframe_skip(r, ehframe_uleb(r));
        s->cfa_reg = -1;
        return 1;
    case 0x2e: /* GNU_args_size */
        ehframe_uleb(r);
        return 1;
    }
    return 0;
}

/* Runs a CFA program from loc. emit: rows are written (an FDE), else the
 * program is the CIE's (init is then the state being built). Returns 0, or
 * -1 at an instruction this compiler does not follow (the rows from loc on
 * are then BAD): set_loc, vendor operations, a state stack deeper than
 * STATE_STACK or popped empty, and what the steps above refuse. */
static int run_cfa(struct ehframe_rd *r, const struct cie_info *c, struct cfa_state *s,
                   const struct cfa_state *init, struct run *u, uintptr_t *loc)
{
    struct cfa_state stack[STATE_STACK];
    int depth = 0;

    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint64_t delta;
        int done;

        if (cfa_advance(r, c, op, &delta)) {
            if (!u)
                return -1; /* a CIE does not advance */
            if (put_at(u, *loc, classify(s)) < 0)
                return -1;
            *loc += delta;
            if (*loc >= u->hi)
                return 0;
            continue;
        }
        if (op == 0x0a) { /* remember_state */
            if (depth == STATE_STACK)
                return -1;
            stack[depth++] = *s;
            continue;
        }
        if (op == 0x0b) { /* restore_state: the CFA too, as libunwind does */
            if (depth == 0)
                return -1;
            *s = stack[--depth];
            continue;
        }
        done = cfa_reg_op(r, c, s, init, op);
        if (done == 0)
            done = cfa_def_op(r, c, s, op);
        if (done <= 0)
            return -1;
    }
    return r->bad ? -1 : 0;
}

static void cfi_parse_cie(const uint8_t *at, const uint8_t *seg_lo, const uint8_t *seg_end,
                          struct cie_info *c)
{
    struct ehframe_rd r;
    uint32_t len;
    const char *aug;
    uint8_t version;

    memset(c, 0, sizeof(*c));
    c->at = at;
    if (at < seg_lo || at >= seg_end || (size_t)(seg_end - at) < 9)
        return;
    memcpy(&len, at, 4);
    if (len < 8 || len == 0xffffffffu || len > (size_t)(seg_end - at) - 4)
        return;
    r = (struct ehframe_rd){at + 8, at + 4 + len, 0};
    version = *r.p++;
    aug = (const char *)r.p;
    while (r.p < r.end && *r.p)
        r.p++;
    ehframe_skip(&r, 1);
    if (r.bad || strchr(aug, 'e') || (version != 1 && version != 3))
        return;
    c->code_align = ehframe_uleb(&r);
    c->data_align = ehframe_sleb(&r);
    if (version == 1) {
        c->ra = r.p < r.end ? *r.p : 0;
        ehframe_skip(&r, 1);
    } else {
        c->ra = ehframe_uleb(&r);
    }
    if (aug[0] == 'z') {
        uint64_t alen = ehframe_uleb(&r);
        const uint8_t *aend = r.p + alen;

        c->has_z = 1;
        if (alen > (size_t)(r.end - r.p))
            return;
        for (const char *a = aug + 1; *a && !r.bad; a++) {
            if (*a == 'R') {
                c->fde_enc = r.p < r.end ? *r.p : 0xff;
                ehframe_skip(&r, 1);
            } else if (*a == 'P') {
                uint8_t enc = r.p < r.end ? *r.p : 0xff;
                int n;

                ehframe_skip(&r, 1);
                n = ehframe_enc_size(enc);
                if (n < 0)
                    return;
                if (n == 0)
                    ehframe_uleb(&r);
                else
                    ehframe_skip(&r, (size_t)n);
            } else if (*a == 'L') {
                ehframe_skip(&r, 1);
            } else if (*a == 'S') {
                c->signal = 1;
            } else {
                return; /* an augmentation we do not know: its FDEs are BAD */
            }
        }
        r.p = aend;
    } else if (aug[0]) {
        return;
    }
    if (r.bad || ehframe_enc_size(c->fde_enc) <= 0 || c->ra != REG_RA || c->code_align == 0)
        return;
    c->ins = r.p;
    c->ins_end = r.end;
    c->ok = 1;
}

/* Reads an FDE's address range (its size; the start comes from the search
 * table). */
static uint64_t read_range(struct ehframe_rd *r, int sz)
{
    uint64_t v = 0;

    if ((size_t)(r->end - r->p) >= (size_t)sz) {
        if (sz == 2) {
            uint16_t x;
            memcpy(&x, r->p, 2);
            v = x;
        } else if (sz == 4) {
            uint32_t x;
            memcpy(&x, r->p, 4);
            v = x;
        } else {
            memcpy(&v, r->p, 8);
        }
    }
    ehframe_skip(r, (size_t)sz);
    return v;
}

/* One FDE: its rows, and a BAD row where it ends. */
static int compile_fde(const uint8_t *fde, uintptr_t start, const struct cie_info *c, struct run *u)
{
    struct ehframe_rd r;
    struct cfa_state init, s;
    uint32_t len;
    uintptr_t loc = start, end;
    int sz = ehframe_enc_size(c->fde_enc);

    memcpy(&len, fde, 4);
    r = (struct ehframe_rd){fde + 8, fde + 4 + len, 0};
    ehframe_skip(&r, (size_t)sz); /* pc_begin: the search table's */
    end = start + read_range(&r, sz);
    if (c->has_z)
        ehframe_skip(&r, ehframe_uleb(&r));
    if (r.bad || end <= start)
        return put_at(u, start, CFITAB_BAD);
    if (end <= u->lo || start >= u->hi)
        return 0;
    memset(&init, 0, sizeof(init));
    init.cfa_reg = -1;
    struct ehframe_rd ci = {c->ins, c->ins_end, 0};
    if (c->signal || run_cfa(&ci, c, &init, NULL, NULL, &loc) < 0) {
        if (put_at(u, start, CFITAB_BAD) < 0)
            return -1;
    } else {
        s = init;
        if (run_cfa(&r, c, &s, &init, u, &loc) < 0) {
            if (put_at(u, loc, CFITAB_BAD) < 0)
                return -1;
        } else if (loc < end && put_at(u, loc, classify(&s)) < 0) {
            return -1;
        }
    }
    return end < u->hi ? put_at(u, end, CFITAB_BAD) : 0;
}

struct cfitab *cfitab_build(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi)
{
    return cfitab_build_until(info, lo, hi, NULL);
}

int cfitab_src_of(const struct dl_phdr_info *info, struct cfitab_src *s)
{
    const uint8_t *hdr = NULL;
    uintptr_t seg_lo, seg_hi;
    uint32_t count;

    memset(s, 0, sizeof(*s));
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
            hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!hdr || ehframe_segment_of(info, (uintptr_t)hdr, &seg_lo, &seg_hi) < 0 ||
        seg_hi - (uintptr_t)hdr < 12)
        return -1;
    /* version 1, eh_frame_ptr pcrel|sdata4, count udata4, table datarel|sdata4 */
    if (hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
        return -1;
    memcpy(&count, hdr + 8, 4);
    if (count == 0 || (seg_hi - (uintptr_t)hdr - 12) / 8 < count)
        return -1;
    *s = (struct cfitab_src){hdr, seg_lo, seg_hi, count};
    return 0;
}

/* Search table entry i: the address its FDE starts to cover, and the FDE
 * (checked to lie in the segment with its length and CIE pointer). 0, or -1
 * when the FDE does not. */
static int src_entry(const struct cfitab_src *s, uint32_t i, uintptr_t *start, const uint8_t **fde)
{
    int32_t loc_rel, fde_rel;
    uint32_t len;
    const uint8_t *seg_end = (const uint8_t *)s->seg_hi;

    memcpy(&loc_rel, s->hdr + 12 + 8 * (size_t)i, 4);
    memcpy(&fde_rel, s->hdr + 12 + 8 * (size_t)i + 4, 4);
    *start = (uintptr_t)s->hdr + (intptr_t)loc_rel;
    *fde = s->hdr + fde_rel;
    if (*fde < (const uint8_t *)s->seg_lo || *fde + 8 > seg_end)
        return -1;
    memcpy(&len, *fde, 4);
    if (len < 8 || len == 0xffffffffu || len > (size_t)(seg_end - *fde) - 4)
        return -1;
    return 0;
}

uint32_t cfitab_rule_at(const struct cfitab_src *s, uintptr_t lo, uintptr_t pc)
{
    uint32_t pcs[CFITAB_AT_ROWS], rules[CFITAB_AT_ROWS];
    struct rows w = {pcs, rules, 0, CFITAB_AT_ROWS, 1};
    struct run u = {&w, lo, lo, pc + 1};
    struct cie_info cie;
    uint32_t a = 0, b, j;
    uintptr_t start;
    const uint8_t *fde;
    int32_t cie_rel;

    if (!s->hdr || pc < lo || pc - lo >= (1ull << 32) || pc == UINTPTR_MAX)
        return CFITAB_BAD;
    /* the last entry that starts at or before pc: a later FDE's rows replace
     * an earlier one's from its start on, in the table as here */
    b = s->count;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        int32_t loc_rel;

        memcpy(&loc_rel, s->hdr + 12 + 8 * (size_t)m, 4);
        if ((uintptr_t)s->hdr + (intptr_t)loc_rel <= pc)
            a = m + 1;
        else
            b = m;
    }
    if (a == 0)
        return CFITAB_BAD;
    j = a - 1;
    if (src_entry(s, j, &start, &fde) < 0)
        return CFITAB_BAD;
    memcpy(&cie_rel, fde + 4, 4);
    cfi_parse_cie(fde + 4 - cie_rel, (const uint8_t *)s->seg_lo, (const uint8_t *)s->seg_hi, &cie);
    if (!cie.ok || compile_fde(fde, start, &cie, &u) < 0 || w.n == 0)
        return CFITAB_BAD;
    /* the rows stop at pc (the run's end is pc + 1): the last one holds */
    return w.pc[w.n - 1] <= (uint32_t)(pc - lo) ? w.rule[w.n - 1] : CFITAB_BAD;
}

struct cfitab *cfitab_build_until(const struct dl_phdr_info *info, uintptr_t lo, uintptr_t hi,
                                  const atomic_int *stop)
{
    struct cfitab_src src;
    struct rows w = {0};
    struct run u = {&w, lo, lo, hi};
    struct cie_info cie = {0};
    struct cfitab *t = NULL;
    uint32_t fdes = 0;

    if (hi <= lo || hi - lo >= (1ull << 32) || cfitab_src_of(info, &src) < 0)
        return NULL;
    const uint8_t *seg_end = (const uint8_t *)src.seg_hi, *seg_start = (const uint8_t *)src.seg_lo;
    if (put_at(&u, lo, CFITAB_BAD) < 0)
        goto fail;
    for (uint32_t i = 0; i < src.count; i++) {
        int32_t cie_rel;
        const uint8_t *fde, *cie_at;
        uintptr_t start;

        if ((i & 255) == 0 && stop && atomic_load_explicit(stop, memory_order_relaxed))
            goto fail;
        if (src_entry(&src, i, &start, &fde) < 0)
            goto fail;
        memcpy(&cie_rel, fde + 4, 4);
        cie_at = fde + 4 - cie_rel;
        if (cie.at != cie_at)
            cfi_parse_cie(cie_at, seg_start, seg_end, &cie);
        fdes++;
        if (!cie.ok) {
            if (put_at(&u, start, CFITAB_BAD) < 0)
                goto fail;
            continue;
        }
        if (compile_fde(fde, start, &cie, &u) < 0)
            goto fail;
    }

    /* the final mapping: header, pc[n], rule[n], blk[nblk + 1] */
    size_t nblk = ((hi - lo - 1) >> CFITAB_BLOCK_SHIFT) + 2;
    size_t bytes = sizeof(*t) + w.n * 8 + nblk * 4;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        goto fail;
    t = m;
    uint32_t *pc = (uint32_t *)(t + 1), *rule = pc + w.n, *blk = rule + w.n;
    memcpy(pc, w.pc, w.n * 4);
    memcpy(rule, w.rule, w.n * 4);
    for (size_t b = 0, i = 0; b < nblk; b++) {
        uint64_t at = (uint64_t)b << CFITAB_BLOCK_SHIFT;

        while (i + 1 < w.n && pc[i + 1] <= at)
            i++;
        blk[b] = (uint32_t)i;
    }
    *t = (struct cfitab){lo, hi, (uint32_t)w.n, pc, rule, blk, bytes, fdes, 0};
    for (size_t i = 0; i < w.n; i++)
        t->bad_rows += cfitab_kind(rule[i]) == CFITAB_BAD;
    mprotect(m, bytes, PROT_READ);
fail:
    if (w.cap)
        munmap(w.pc, w.cap * 8);
    return t;
}
