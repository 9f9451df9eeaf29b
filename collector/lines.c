/*
 * lines.c - compact copies of CU line tables (lines.h).
 *
 * Invariant: a CU's copy holds every row of libdw's table for it, in libdw's
 * order (sorted by address), so the search below picks the row libdw's
 * would. A CU whose table could not be copied is answered by libdw on the
 * Dwfl's Dwarf, as before; so is every CU of a module whose DWARF has a dwz
 * file (.gnu_debugaltlink): the reading Dwarf could not find its shared
 * strings (comp_dir among them) without a search of its own; so is a CU
 * whose rows do not fit a row's word (a line past 2^20 - 1 or a file index
 * past 2047) or are not in address order: nothing is rounded.
 *
 * Rows are kept in groups of LINES_GROUP: a group's first row whole (12
 * bytes with where the group's code starts), each row after it as varints
 * from the row before: the address step with one flag bit, then either the
 * line's step (zigzag) or, when the file or the end of a sequence changed,
 * the whole line word. 3.0 bytes a row on python3's JSON bench, 605k rows
 * in 1.8 MB (8 bytes a row before, 4.8 MB); a lookup searches the groups,
 * then decodes at most LINES_GROUP - 1 rows.
 */
#include "lines.h"

#include <elfutils/libdwelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dwlib.h"

#define AUX_ROWS (64u << 10) /* rows the reading Dwarf may hold: about 2.5 MB */
#define ROW_LINE_BITS 20
#define ROW_LINE_MAX ((1u << ROW_LINE_BITS) - 1)
#define ROW_FILE_MAX 2047u /* 11 bits above the line */
#define ROW_END (1u << 31) /* the row ends a sequence */

#define LINES_GROUP 16

/* A row, decoded. */
struct row {
    uint32_t off; /* address - base */
    uint32_t lf;  /* dwarf_lineno | file index << ROW_LINE_BITS | ROW_END */
};

/* A group's first row, and where the code of the rest of it starts. */
struct group {
    struct row first;
    uint32_t at; /* into cu_lines.code */
};

struct cu_lines {
    Dwarf *dbg;           /* the Dwfl's Dwarf the CU belongs to */
    Dwarf_Off off;        /* the CU DIE's offset */
    Dwarf_Addr base;      /* the first row's address */
    struct group *groups; /* (n + LINES_GROUP - 1) / LINES_GROUP, then the code */
    const uint8_t *code;  /* in the same block, after the groups */
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

/* Writes v as a varint at p; returns its length (at most 5). */
static size_t put_varint(uint8_t *p, uint32_t v)
{
    size_t k = 0;

    do {
        uint8_t b = (uint8_t)(v & 0x7f);

        v >>= 7;
        p[k++] = (uint8_t)(b | (v ? 0x80 : 0));
    } while (v);
    return k;
}

static uint32_t get_varint(const uint8_t **p)
{
    uint32_t v = 0;
    int shift = 0;
    uint8_t b;

    do {
        b = *(*p)++;
        v |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    return v;
}

/* Encodes row r after prev at p (at most ROW_CODE_MAX bytes); returns the
 * bytes, 0 when r comes before prev. */
static size_t put_row(uint8_t *p, struct row prev, struct row r)
{
    uint32_t step = r.off - prev.off;
    int same = (r.lf & ~ROW_LINE_MAX) == (prev.lf & ~ROW_LINE_MAX);
    size_t k;

    if (step > UINT32_MAX >> 1) /* r before prev (or 2 GB past it) */
        return 0;
    k = put_varint(p, step << 1 | !same);
    if (same) {
        int32_t d = (int32_t)(r.lf & ROW_LINE_MAX) - (int32_t)(prev.lf & ROW_LINE_MAX);

        return k + put_varint(p + k, (uint32_t)d << 1 ^ (d < 0 ? UINT32_MAX : 0));
    }
    return k + put_varint(p + k, r.lf);
}

static struct row get_row(const uint8_t **p, struct row prev)
{
    uint32_t a = get_varint(p), v = get_varint(p);

    prev.off += a >> 1;
    if (a & 1)
        prev.lf = v;
    else
        prev.lf += (v >> 1) ^ (0u - (v & 1)); /* the line's step, mod 2^32: it stays in its bits */
    return prev;
}

/* Row i of libdw's table as a row (base: the first row's address), or -1
 * when it does not fit one. */
static int row_of(Dwarf_Lines *lines, size_t i, Dwarf_Files *files, Dwarf_Addr *base,
                  struct row *out)
{
    Dwarf_Line *l = dwarf_onesrcline(lines, i);
    Dwarf_Addr a = 0;
    Dwarf_Files *lf;
    size_t idx = 0;
    int ln = 0;
    bool end = false;

    if (!l || dwarf_lineaddr(l, &a) != 0 || dwarf_lineno(l, &ln) != 0 ||
        dwarf_lineendsequence(l, &end) != 0 || dwarf_line_file(l, &lf, &idx) != 0 || lf != files ||
        idx > ROW_FILE_MAX || ln < 0 || (unsigned)ln > ROW_LINE_MAX)
        return -1;
    if (i == 0)
        *base = a;
    if (a < *base || a - *base > UINT32_MAX)
        return -1;
    *out = (struct row){(uint32_t)(a - *base),
                        (uint32_t)ln | (uint32_t)idx << ROW_LINE_BITS | (end ? ROW_END : 0)};
    return 0;
}

/* Encodes the n rows into c (groups and code in one block): into room for
 * the longest code (10 bytes a row), given back by a realloc to what it took
 * (two passes over libdw's table, one to size it, took a fifth more of the
 * reading's instructions). -1 when a row does not fit. */
#define ROW_CODE_MAX 10
static int encode_rows(struct cu_lines *c, Dwarf_Lines *lines, size_t n, Dwarf_Files *files)
{
    size_t n_groups = (n + LINES_GROUP - 1) / LINES_GROUP, bytes = 0, k, head;
    struct row prev = {0, 0}, r;
    uint8_t *code;
    void *fit;

    head = n_groups * sizeof(struct group);
    if (n > (UINT32_MAX - head) / ROW_CODE_MAX || !(c->groups = malloc(head + n * ROW_CODE_MAX)))
        return -1;
    code = (uint8_t *)(c->groups + n_groups);
    for (size_t i = 0; i < n; i++) {
        if (row_of(lines, i, files, &c->base, &r) != 0)
            return -1;
        if (i % LINES_GROUP == 0) {
            c->groups[i / LINES_GROUP] = (struct group){r, (uint32_t)bytes};
        } else {
            if (!(k = put_row(code + bytes, prev, r)))
                return -1;
            bytes += k;
        }
        prev = r;
    }
    if ((fit = realloc(c->groups, head + bytes + 1)))
        c->groups = fit;
    c->code = (const uint8_t *)(c->groups + n_groups);
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
    if (copy_files(c, files, nfiles) != 0 || (n && encode_rows(c, lines, n, files) != 0))
        goto fail;
    c->n = n;
    return;
fail:
    free(c->groups);
    free(c->files);
    free(c->names);
    c->groups = NULL;
    c->code = NULL;
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
    if (!c || c->n == 0 || addr < c->base)
        return -1;
    u = (c->n - 1) / LINES_GROUP;
    while (l < u) { /* the last group whose first row is at or below addr */
        size_t idx = u - (u - l) / 2;

        if (addr < c->base + c->groups[idx].first.off)
            u = idx - 1;
        else
            l = idx;
    }
    /* then the last row at or below addr, as dwarf_getsrc_die */
    struct row r = c->groups[l].first, next;
    const uint8_t *p = c->code + c->groups[l].at;
    for (size_t i = l * LINES_GROUP + 1; i < c->n && i % LINES_GROUP; i++) {
        next = get_row(&p, r);
        if (addr < c->base + next.off)
            break;
        r = next;
    }
    uint32_t fi = (r.lf & ~ROW_END) >> ROW_LINE_BITS;
    if ((r.lf & ROW_END) || c->base + r.off > addr)
        return -1;
    *file = fi < c->nfiles ? c->files[fi] : NULL;
    *line = (int)(r.lf & ROW_LINE_MAX);
    *row = c->base + r.off;
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
        free(cus[i].groups);
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
