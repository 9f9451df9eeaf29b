/*
 * test_cfitab.c - the compiling of .eh_frame into unwind rules (cfitab.c):
 * a hand-written CIE and FDE whose CFA program uses each kind of step
 * (the four advances, register rules, CFA rules, the state stack, an
 * expression, an undefined return address, an operation the compiler does
 * not follow) give exactly the rule expected at every byte of the code; and
 * libc's own table gives malloc's entry the rule every x86_64 function entry
 * has (CFA = SP + 8, FP untouched).
 */
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "cfitab.h"

/* A module of one read-only segment: .eh_frame_hdr at 0, .eh_frame at 64;
 * its "code" (never run, only described) 4 KiB further on. */
#define EH_AT 64
#define CODE_AT 4096
#define FDE_START 0x10 /* the FDE's code starts here in the code range */
#define FDE_LEN 0x30
#define CODE_LEN 0x100

struct module {
    uint8_t seg[CODE_AT] __attribute__((aligned(16)));
    ElfW(Phdr) ph[2];
    struct dl_phdr_info info;
};

static void put32(uint8_t *p, int32_t v)
{
    memcpy(p, &v, 4);
}

/* Writes the header, one CIE and one FDE running prog (FDE_LEN bytes of
 * code at FDE_START); returns the code range's start. */
static uintptr_t module_make(struct module *m, const uint8_t *prog, size_t prog_len)
{
    /* clang-format off */
    static const uint8_t cie[] = {
        0, 0, 0, 0,     /* length, below */
        0, 0, 0, 0,     /* CIE id */
        1, 'z', 'R', 0, /* version 1, augmentation "zR" */
        1,              /* code alignment 1 */
        0x78,           /* data alignment -8 */
        16,             /* return address: register 16 */
        1, 0x1b,        /* augmentation data: FDE addresses pcrel | sdata4 */
        0x0c, 7, 8,     /* def_cfa rsp + 8 */
        0x90, 1,        /* offset r16 at CFA - 8 */
        0, 0,           /* nop padding to 4 bytes */
    };
    /* clang-format on */
    uint8_t *hdr = m->seg, *eh = m->seg + EH_AT, *cie_at = eh, *fde;
    uintptr_t code = (uintptr_t)m->seg + CODE_AT, start = code + FDE_START;
    size_t fde_len;

    memset(m, 0, sizeof(*m));
    memcpy(cie_at, cie, sizeof(cie));
    put32(cie_at, (int32_t)sizeof(cie) - 4);
    fde = cie_at + sizeof(cie);
    fde_len = 4 + 4 + 4 + 1 + prog_len; /* CIE pointer, begin, range, aug length, program */
    fde_len = (fde_len + 3) & ~(size_t)3;
    put32(fde, (int32_t)fde_len);
    put32(fde + 4, (int32_t)(fde + 4 - cie_at));
    put32(fde + 8, (int32_t)(start - (uintptr_t)(fde + 8)));
    put32(fde + 12, FDE_LEN);
    fde[16] = 0; /* no augmentation data */
    memcpy(fde + 17, prog, prog_len);
    put32(fde + 4 + fde_len, 0); /* the terminator */

    hdr[0] = 1;    /* version */
    hdr[1] = 0x1b; /* eh_frame_ptr: pcrel | sdata4 */
    hdr[2] = 0x03; /* fde_count: udata4 */
    hdr[3] = 0x3b; /* table: datarel | sdata4 */
    put32(hdr + 4, (int32_t)(eh - (hdr + 4)));
    put32(hdr + 8, 1);
    put32(hdr + 12, (int32_t)(start - (uintptr_t)hdr));
    put32(hdr + 16, (int32_t)(fde - hdr));

    m->ph[0].p_type = PT_LOAD;
    m->ph[0].p_flags = PF_R;
    m->ph[0].p_vaddr = (uintptr_t)m->seg;
    m->ph[0].p_filesz = m->ph[0].p_memsz = sizeof(m->seg);
    m->ph[1].p_type = PT_GNU_EH_FRAME;
    m->ph[1].p_vaddr = (uintptr_t)m->seg;
    m->info.dlpi_phdr = m->ph;
    m->info.dlpi_phnum = 2;
    return code;
}

/* rule expected: kind, CFA offset, FP saved (1) at fp_off */
struct want {
    unsigned lo, hi; /* code offsets [lo, hi) */
    unsigned kind;
    int32_t cfa_off;
    int fp_saved, fp_off;
};

static void check_rules(const struct cfitab *t, uintptr_t code, const struct want *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (unsigned off = w[i].lo; off < w[i].hi; off++) {
            uint32_t r = cfitab_find(t, code + off);
            int rule = w[i].kind == CFITAB_SP || w[i].kind == CFITAB_FP;

            if (cfitab_kind(r) != w[i].kind ||
                (rule &&
                 (cfitab_cfa_off(r) != w[i].cfa_off || !!(r & CFITAB_FP_SAVED) != w[i].fp_saved ||
                  (w[i].fp_saved && cfitab_fp_off(r) != w[i].fp_off))))
                fail_msg("code offset 0x%x: rule kind %u, CFA offset %d, FP %s at %d; "
                         "expected kind %u, CFA offset %d, FP %s at %d",
                         off, cfitab_kind(r), cfitab_cfa_off(r),
                         r & CFITAB_FP_SAVED ? "saved" : "kept", cfitab_fp_off(r), w[i].kind,
                         w[i].cfa_off, w[i].fp_saved ? "saved" : "kept", w[i].fp_off);
        }
}

/* A prologue and epilogue as compilers write them, with each kind of step */
static void test_program_steps(void **state)
{
    /* clang-format off */
    static const uint8_t prog[] = {
        0x41,                   /* advance_loc 1 */
        0x0e, 16,               /* def_cfa_offset 16 */
        0x86, 2,                /* offset r6 (rbp) at CFA - 16 */
        0x02, 3,                /* advance_loc1 3 */
        0x0d, 6,                /* def_cfa_register rbp */
        0x03, 0x10, 0,          /* advance_loc2 0x10 */
        0x0a,                   /* remember_state */
        0x0c, 7, 8,             /* def_cfa rsp + 8 */
        0xc6,                   /* restore r6 (the CIE's: unchanged) */
        0x04, 8, 0, 0, 0,       /* advance_loc4 8 */
        0x0b,                   /* restore_state: FP + 16, rbp saved */
        0x41,                   /* advance_loc 1 */
        0x10, 3, 1, 0x9c,       /* expression r3 (rbx): libunwind must step */
        0x41,                   /* advance_loc 1 */
        0x08, 3,                /* same_value r3 */
        0x07, 16,               /* undefined r16: the outermost frame */
        0x41,                   /* advance_loc 1 */
        0x08, 16,               /* same_value r16: not a return address at CFA - 8 */
        0x12, 7, 0x7e,          /* def_cfa_sf rsp + (-2 * -8) */
        0x05, 16, 1,            /* offset_extended r16 at CFA - 8 */
        0x42,                   /* advance_loc 2 */
        0x01,                   /* set_loc: not followed */
    };
    /* clang-format on */
    /* clang-format off */
    const struct want want[] = {
        {0, FDE_START, CFITAB_BAD, 0, 0, 0},                 /* no FDE */
        {FDE_START, FDE_START + 1, CFITAB_SP, 8, 0, 0},      /* entry */
        {FDE_START + 1, FDE_START + 4, CFITAB_SP, 16, 1, -16},
        {FDE_START + 4, FDE_START + 0x14, CFITAB_FP, 16, 1, -16},
        {FDE_START + 0x14, FDE_START + 0x1c, CFITAB_SP, 8, 0, 0},
        {FDE_START + 0x1c, FDE_START + 0x1d, CFITAB_FP, 16, 1, -16},
        {FDE_START + 0x1d, FDE_START + 0x1e, CFITAB_BAD, 0, 0, 0},
        {FDE_START + 0x1e, FDE_START + 0x1f, CFITAB_END, 0, 0, 0},
        {FDE_START + 0x1f, FDE_START + 0x21, CFITAB_SP, 16, 1, -16},
        {FDE_START + 0x21, CODE_LEN, CFITAB_BAD, 0, 0, 0},   /* set_loc on, then no FDE */
    };
    /* clang-format on */
    struct module *m =
        mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t code;
    struct cfitab *t;

    (void)state;
    assert_ptr_not_equal(m, MAP_FAILED);
    code = module_make(m, prog, sizeof(prog));
    t = cfitab_build(&m->info, code, code + CODE_LEN);
    assert_non_null(t);
    assert_int_equal(t->fdes, 1);
    check_rules(t, code, want, sizeof(want) / sizeof(want[0]));
    munmap(t, t->map_bytes);
    munmap(m, sizeof(*m));
}

/* A state stack popped empty, and one pushed past its depth (8): the rows
 * from there on are BAD, those before kept */
static void test_state_stack_limits(void **state)
{
    /* clang-format off */
    static const uint8_t popped[] = {
        0x41, 0x0e, 16, 0x42, /* SP + 8 at 0, SP + 16 from 1 */
        0x0b,                 /* restore_state with nothing remembered */
        0x41,
    };
    /* clang-format on */
    /* clang-format off */
    static const uint8_t pushed[] = {
        0x41, 0x0e, 16, 0x42, /* SP + 8 at 0, SP + 16 from 1 */
        0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, /* 9 remember_state */
        0x41,
    };
    /* clang-format on */
    const struct want want[] = {
        {FDE_START, FDE_START + 1, CFITAB_SP, 8, 0, 0},
        {FDE_START + 1, FDE_START + 3, CFITAB_SP, 16, 0, 0},
        {FDE_START + 3, CODE_LEN, CFITAB_BAD, 0, 0, 0},
    };
    const uint8_t *progs[] = {popped, pushed};
    size_t lens[] = {sizeof(popped), sizeof(pushed)};

    (void)state;
    for (int i = 0; i < 2; i++) {
        struct module *m =
            mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uintptr_t code;
        struct cfitab *t;

        assert_ptr_not_equal(m, MAP_FAILED);
        code = module_make(m, progs[i], lens[i]);
        t = cfitab_build(&m->info, code, code + CODE_LEN);
        assert_non_null(t);
        check_rules(t, code, want, sizeof(want) / sizeof(want[0]));
        munmap(t, t->map_bytes);
        munmap(m, sizeof(*m));
    }
}

struct find_ctx {
    uintptr_t addr, lo, hi;
    struct dl_phdr_info info;
    int found;
};

/* The span [lo, hi) of a module's executable segments (lo >= hi: none). */
static void exec_span(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX, *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        if (a < *lo)
            *lo = a;
        if (a + ph->p_memsz > *hi)
            *hi = a + ph->p_memsz;
    }
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct find_ctx *c = arg;
    uintptr_t lo, hi;

    (void)size;
    exec_span(info, &lo, &hi);
    if (c->addr >= lo && c->addr < hi) {
        c->lo = lo, c->hi = hi, c->info = *info, c->found = 1;
        return 1;
    }
    return 0;
}

/* libc, built without frame pointers: at malloc's first instruction the
 * return address was just pushed (CFA = SP + 8) and rbp is untouched */
static void test_libc_malloc_entry(void **state)
{
    struct find_ctx c = {0};
    struct cfitab *t;
    uint32_t r;

    (void)state;
    c.addr = (uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
    assert_true(c.addr != 0);
    dl_iterate_phdr(find_cb, &c);
    assert_true(c.found);
    t = cfitab_build(&c.info, c.lo, c.hi);
    assert_non_null(t);
    assert_true(t->fdes > 1000);
    r = cfitab_find(t, c.addr);
    assert_int_equal(cfitab_kind(r), CFITAB_SP);
    assert_int_equal(cfitab_cfa_off(r), 8);
    assert_int_equal(r & CFITAB_FP_SAVED, 0);
    munmap(t, t->map_bytes);
}

/* a compile asked to stop gives up (the run ends), and is whole otherwise */
static void test_build_until(void **state)
{
    struct find_ctx c = {0};
    struct cfitab *t;
    atomic_int stop = 1;

    (void)state;
    c.addr = (uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
    dl_iterate_phdr(find_cb, &c);
    assert_true(c.found);
    assert_null(cfitab_build_until(&c.info, c.lo, c.hi, &stop));
    atomic_store(&stop, 0);
    t = cfitab_build_until(&c.info, c.lo, c.hi, &stop);
    assert_non_null(t);
    assert_true(t->fdes > 1000);
    munmap(t, t->map_bytes);
}

/* The rule of one pc read from the FDE alone equals the compiled table's,
 * at every row's first address and the one past it, and across each row in
 * steps, in every loaded module that has a table (libc, libm, libcmocka,
 * this program); a pc below the module's code, and one past its last FDE
 * (its .eh_frame_hdr itself), read BAD. */
static int same_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    size_t *counts = arg; /* modules, pcs compared, mismatches */
    uintptr_t lo, hi;
    struct cfitab_src src;
    struct cfitab *t;

    (void)size;
    exec_span(info, &lo, &hi);
    if (lo >= hi || cfitab_src_of(info, &src) < 0)
        return 0;
    t = cfitab_build(info, lo, hi);
    if (!t)
        return 0;
    counts[0]++;
    for (uint32_t i = 0; i < t->n; i++) {
        uintptr_t at = lo + t->pc[i], end = i + 1 < t->n ? lo + t->pc[i + 1] : hi;
        uintptr_t step = (end - at) / 7 + 1;

        for (uintptr_t pc = at; pc < end; pc = pc == at ? pc + 1 : pc + step) {
            uint32_t want = cfitab_find(t, pc), got = cfitab_rule_at(&src, lo, pc);

            counts[1]++;
            if (got != want) {
                if (counts[2]++ < 5)
                    print_message("%s +0x%lx: table 0x%x, one FDE 0x%x\n", info->dlpi_name,
                                  (unsigned long)(pc - lo), want, got);
            }
        }
    }
    assert_int_equal(cfitab_kind(cfitab_rule_at(&src, lo, lo - 1)), CFITAB_BAD);
    if ((uintptr_t)src.hdr > hi)
        assert_int_equal(cfitab_kind(cfitab_rule_at(&src, lo, (uintptr_t)src.hdr)), CFITAB_BAD);
    munmap(t, t->map_bytes);
    return 0;
}

static void test_rule_at_equals_table(void **state)
{
    size_t counts[3] = {0, 0, 0};

    (void)state;
    dl_iterate_phdr(same_cb, counts);
    print_message("%zu modules, %zu pcs compared, %zu differ\n", counts[0], counts[1], counts[2]);
    assert_true(counts[0] >= 2);
    assert_true(counts[1] > 100000);
    assert_int_equal(counts[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_program_steps),        cmocka_unit_test(test_state_stack_limits),
        cmocka_unit_test(test_libc_malloc_entry),    cmocka_unit_test(test_build_until),
        cmocka_unit_test(test_rule_at_equals_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
