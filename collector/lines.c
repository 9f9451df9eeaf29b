/*
 * lines.c - compact copies of CU line tables (lines.h).
 *
 * Invariant: a CU's copy holds every row of libdw's table for it, in libdw's
 * order (sorted by address), so the search below picks the row libdw's
 * would. A CU whose table could not be copied is answered by libdw on the
 * Dwfl's Dwarf, as before; so is every CU of a module whose DWARF has a dwz
 * file (.gnu_debugaltlink): the reading Dwarf could not find its shared
 * strings (comp_dir among them) without a search of its own; so is a CU
 * whose rows do not fit the 8-byte row (a line past 2^20 - 1 or a file index
 * past 2047): nothing is rounded.
 */
#include "lines.h"

#include <elfutils/libdwelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define AUX_ROWS (64u << 10) /* rows the reading Dwarf may hold: about 2.5 MB */
#define ROW_LINE_BITS 20
#define ROW_LINE_MAX ((1u << ROW_LINE_BITS) - 1)
#define ROW_FILE_MAX 2047u /* 11 bits above the line */
#define ROW_END (1u << 31) /* the row ends a sequence */

/* 8 bytes a row (12 before: 9 MB for libpython's 764k rows, now 6). */
struct row {
    uint32_t off; /* address - base */
    uint32_t lf;  /* dwarf_lineno | file index << ROW_LINE_BITS | ROW_END */
};

struct cu_lines {
    Dwarf *dbg;       /* the Dwfl's Dwarf the CU belongs to */
    Dwarf_Off off;    /* the CU DIE's offset */
    Dwarf_Addr base;  /* the first row's address */
    struct row *rows; /* NULL: none */
    size_t n, nfiles;
    const char **files; /* dwarf_filesrc() of each, pointing into names */
    char *names;
    int direct; /* answered by libdw on dbg (dwz) */
};

static struct cu_lines *cus; /* open addressing on (dbg, off); dbg NULL = empty */
static size_t cap, n_cus;

/* The Dwarf the tables are read through, over the same Elf as main. */
static Dwarf *aux, *aux_main;
static size_t aux_rows;

static size_t home(Dwarf *dbg, Dwarf_Off off, size_t c)
{
    uint64_t k = (uint64_t)(uintptr_t)dbg ^ (off * UINT64_C(0x9E3779B97F4A7C15));

    return (size_t)((k * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (c - 1);
}

static int grow(void)
{
    size_t c = cap ? cap * 2 : 64;
    struct cu_lines *t = calloc(c, sizeof(*t));

    if (!t)
        return -1;
    for (size_t i = 0; i < cap; i++) {
        if (!cus[i].dbg)
            continue;
        size_t j = home(cus[i].dbg, cus[i].off, c);
        while (t[j].dbg)
            j = (j + 1) & (c - 1);
        t[j] = cus[i];
    }
    free(cus);
    cus = t;
    cap = c;
    return 0;
}

/* The reading Dwarf for main's file, begun anew when main changes or the
 * last one holds too many rows. */
static Dwarf *aux_for(Dwarf *main)
{
    Elf *elf = dwarf_getelf(main);

    if (aux && (aux_main != main || aux_rows > AUX_ROWS)) {
        dwarf_end(aux);
        aux = NULL;
    }
    if (!aux && elf) {
        aux = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
        aux_main = main;
        aux_rows = 0;
        if (aux && dwarf_getalt(main)) /* dwz's shared strings: comp_dir may be there */
            dwarf_setalt(aux, dwarf_getalt(main));
    }
    return aux;
}

/* The CU's file names into c->files / c->names. */
static int copy_files(struct cu_lines *c, Dwarf_Files *files, size_t nfiles)
{
    size_t len = 0, at = 0;

    for (size_t i = 0; i < nfiles; i++) {
        const char *s = dwarf_filesrc(files, i, NULL, NULL);
        len += s ? strlen(s) + 1 : 0;
    }
    c->files = calloc(nfiles ? nfiles : 1, sizeof(*c->files));
    c->names = malloc(len ? len : 1);
    if (!c->files || !c->names)
        return -1;
    for (size_t i = 0; i < nfiles; i++) {
        const char *s = dwarf_filesrc(files, i, NULL, NULL);

        if (!s)
            continue;
        c->files[i] = memcpy(c->names + at, s, strlen(s) + 1);
        at += strlen(s) + 1;
    }
    c->nfiles = nfiles;
    return 0;
}

/* Copies the table of the CU at c->off in c->dbg; when it cannot (no
 * memory, addresses more than 4 GB apart, as a tombstone of -1 makes them),
 * c is answered by libdw directly. */
static void read_cu(struct cu_lines *c)
{
    Dwarf *dbg = aux_for(c->dbg);
    Dwarf_Die die;
    Dwarf_Lines *lines;
    Dwarf_Files *files;
    size_t n, nfiles;

    if (!dbg || !dwarf_offdie(dbg, c->off, &die) || dwarf_getsrclines(&die, &lines, &n) != 0 ||
        dwarf_getsrcfiles(&die, &files, &nfiles) != 0) {
        c->direct = 1;
        return;
    }
    aux_rows += n;
    if (copy_files(c, files, nfiles) != 0 || (n && !(c->rows = malloc(n * sizeof(*c->rows)))))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        Dwarf_Line *l = dwarf_onesrcline(lines, i);
        Dwarf_Addr a = 0;
        Dwarf_Files *lf;
        size_t idx = 0;
        int ln = 0;
        bool end = false;

        if (!l || dwarf_lineaddr(l, &a) != 0 || dwarf_lineno(l, &ln) != 0 ||
            dwarf_lineendsequence(l, &end) != 0 || dwarf_line_file(l, &lf, &idx) != 0 ||
            lf != files || idx > ROW_FILE_MAX || ln < 0 || (unsigned)ln > ROW_LINE_MAX)
            goto fail;
        if (i == 0)
            c->base = a;
        if (a < c->base || a - c->base > UINT32_MAX)
            goto fail;
        c->rows[i] =
            (struct row){(uint32_t)(a - c->base),
                         (uint32_t)ln | (uint32_t)idx << ROW_LINE_BITS | (end ? ROW_END : 0)};
    }
    c->n = n;
    return;
fail:
    free(c->rows);
    free(c->files);
    free(c->names);
    c->rows = NULL;
    c->files = NULL;
    c->names = NULL;
    c->nfiles = 0;
    c->direct = 1;
}

/* The copy of cudie's CU, read at first use; NULL without memory. */
static struct cu_lines *cu_of(Dwarf_Die *cudie)
{
    Dwarf *dbg = cudie->cu ? dwarf_cu_getdwarf(cudie->cu) : NULL;
    Dwarf_Off off = dwarf_dieoffset(cudie);
    size_t j;

    if (!dbg)
        return NULL;
    if ((n_cus + 1) * 2 > cap && grow() != 0)
        return NULL;
    for (j = home(dbg, off, cap); cus[j].dbg; j = (j + 1) & (cap - 1))
        if (cus[j].dbg == dbg && cus[j].off == off)
            return &cus[j];
    cus[j] = (struct cu_lines){.dbg = dbg, .off = off};
    n_cus++;
    const char *alt;
    const void *id;
    if (dwelf_dwarf_gnu_debugaltlink(dbg, &alt, &id) > 0)
        cus[j].direct = 1;
    else
        read_cu(&cus[j]);
    return &cus[j];
}

int lines_find(Dwarf_Die *cudie, Dwarf_Addr addr, const char **file, int *line, Dwarf_Addr *row)
{
    struct cu_lines *c = cu_of(cudie);
    size_t l = 0, u;

    if (c && c->direct) {
        Dwarf_Line *dl = dwarf_getsrc_die(cudie, addr);

        if (!dl || dwarf_lineaddr(dl, row) != 0)
            return -1;
        *file = dwarf_linesrc(dl, NULL, NULL);
        *line = 0;
        dwarf_lineno(dl, line);
        return 0;
    }
    if (!c || c->n == 0)
        return -1;
    u = c->n - 1;
    while (l < u) { /* the last row at or below addr, as dwarf_getsrc_die */
        size_t idx = u - (u - l) / 2;

        if (addr < c->base + c->rows[idx].off)
            u = idx - 1;
        else
            l = idx;
    }
    const struct row *r = &c->rows[l];
    uint32_t fi = (r->lf & ~ROW_END) >> ROW_LINE_BITS;
    if ((r->lf & ROW_END) || c->base + r->off > addr)
        return -1;
    *file = fi < c->nfiles ? c->files[fi] : NULL;
    *line = (int)(r->lf & ROW_LINE_MAX);
    *row = c->base + r->off;
    return 0;
}

const char *lines_file(Dwarf_Die *cudie, Dwarf_Word idx)
{
    struct cu_lines *c = cu_of(cudie);
    Dwarf_Files *files;
    size_t nfiles;

    if (c && c->direct)
        return dwarf_getsrcfiles(cudie, &files, &nfiles) == 0 && idx < nfiles
                   ? dwarf_filesrc(files, idx, NULL, NULL)
                   : NULL;
    return c && idx < c->nfiles ? c->files[idx] : NULL;
}

void lines_free(void)
{
    for (size_t i = 0; i < cap; i++) {
        free(cus[i].rows);
        free(cus[i].files);
        free(cus[i].names);
    }
    free(cus);
    cus = NULL;
    cap = n_cus = 0;
    if (aux)
        dwarf_end(aux);
    aux = aux_main = NULL;
    aux_rows = 0;
}
