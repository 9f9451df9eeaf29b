/*
 * symfile.c - function symbols from an ELF file's .symtab (symfile.h).
 *
 * Invariant: nothing of the file outlives the call: the names point into a
 * copy of its string table, so the mapping and the descriptor are released
 * at once and a fork child or the program's close() cannot meet them.
 */
#include "symfile.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dwlib.h"

static int sym_cmp(const void *pa, const void *pb)
{
    const struct symfile_sym *a = pa, *b = pb;

    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return b->rank - a->rank; /* the preferred alias first */
}

static inline unsigned rank_byte(const struct symfile_sym *s)
{
    return s->rank >= 2 ? 0 : s->rank == 1 ? 1 : 2; /* the preferred first */
}

/* One stable counting pass of v into out by the byte of lo at shift (or, at
 * shift -1, by rank). */
static void radix_pass(const struct symfile_sym *v, struct symfile_sym *out, size_t n,
                       const size_t *count, int shift)
{
    size_t at[256], sum = 0;

    for (int b = 0; b < 256; b++) {
        at[b] = sum;
        sum += count[b];
    }
    for (size_t i = 0; i < n; i++) {
        unsigned b = shift < 0 ? rank_byte(&v[i]) : (unsigned)(v[i].lo >> shift) & 255;

        out[at[b]++] = v[i];
    }
}

/* By start, the preferred alias first, aliases of one rank in table order
 * (as glibc's qsort, a merge sort, left them): a stable radix sort, rank
 * first, then one pass per byte of the starts, skipping the bytes they all
 * share (4 or 5 passes for a library). qsort was 0.9 ms of an exact run's
 * start-up, before main (libc's 6,700 functions). */
void symfile_sort(struct symfile_sym *v, size_t n)
{
    size_t count[9][256];
    struct symfile_sym *tmp, *from = v, *to;

    if (n < 2)
        return;
    tmp = malloc(n * sizeof(*v));
    if (!tmp) {
        qsort(v, n, sizeof(*v), sym_cmp);
        return;
    }
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < n; i++) {
        count[0][rank_byte(&v[i])]++;
        for (int k = 0; k < 8; k++)
            count[k + 1][(v[i].lo >> (8 * k)) & 255]++;
    }
    to = tmp;
    for (int k = 0; k < 9; k++) {
        int same = 0;

        for (int b = 0; b < 256 && !same; b++)
            same = count[k][b] == n;
        if (same)
            continue; /* every key has this byte: the order stays */
        radix_pass(from, to, n, count[k], k ? 8 * (k - 1) : -1);
        to = from;
        from = from == v ? tmp : v;
    }
    if (from != v)
        memcpy(v, from, n * sizeof(*v));
    free(tmp);
}

/* In v sorted by start: the index of the first symbol starting after pc. */
static size_t first_after(const struct symfile_sym *v, size_t n, uint64_t pc)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct symfile_sym *symfile_find(const struct symfile_sym *v, size_t n, uint64_t pc)
{
    size_t lo = first_after(v, n, pc);

    if (lo == 0)
        return NULL;
    size_t i = lo - 1; /* the last start <= pc; its aliases come before it, preferred first */
    while (i > 0 && v[i - 1].lo == v[i].lo)
        i--;
    for (size_t k = i; k < lo; k++)
        if (pc < v[k].hi)
            return &v[k];
    return NULL;
}

/* The file's SHT_SYMTAB section and its header, NULL when it has none. */
static Elf_Scn *symtab_of(Elf *elf, GElf_Shdr *sh)
{
    Elf_Scn *scn = NULL;

    while ((scn = elf_nextscn(elf, scn)) != NULL)
        if (gelf_getshdr(scn, sh) && sh->sh_type == SHT_SYMTAB)
            return scn;
    return NULL;
}

/* The symbols of a symbol table whose names are in str[0..nstr). */
/* The end of section ndx (its address plus size), 0 when it has none. */
static uint64_t section_end(Elf *elf, size_t ndx)
{
    Elf_Scn *scn = elf_getscn(elf, ndx);
    GElf_Shdr sh;

    return scn && gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_ALLOC) ? sh.sh_addr + sh.sh_size : 0;
}

/* The symbols of a symbol table whose names are in str[0..nstr), into t
 * (v and bare hold count entries each). */
static void read_syms(Elf *elf, Elf_Data *syms, size_t count, const char *str, size_t nstr,
                      uint64_t bias, struct symfile_table *t)
{
    for (size_t i = 1; i < count; i++) {
        GElf_Sym sym;

        if (!gelf_getsym(syms, (int)i, &sym))
            continue;
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
        int rank = bind == STB_GLOBAL ? 2 : bind == STB_WEAK;

        if (sym.st_name == 0 || sym.st_name >= nstr || !str[sym.st_name] ||
            sym.st_shndx == SHN_UNDEF)
            continue;
        if (sym.st_size != 0 && (type == STT_FUNC || type == STT_GNU_IFUNC)) {
            t->v[t->n++] = (struct symfile_sym){
                sym.st_value + bias, sym.st_value + bias + sym.st_size, str + sym.st_name, rank};
        } else if (sym.st_size == 0 && type != STT_SECTION && type != STT_FILE && type != STT_TLS &&
                   sym.st_shndx < SHN_LORESERVE) {
            uint64_t end = section_end(elf, sym.st_shndx);

            if (end > sym.st_value)
                t->bare[t->nbare++] =
                    (struct symfile_sym){sym.st_value + bias, end + bias, str + sym.st_name, rank};
        }
    }
}

static int read_elf(Elf *elf, uint64_t bias, struct symfile_table *t)
{
    GElf_Shdr sh;
    Elf_Scn *scn = symtab_of(elf, &sh);
    Elf_Data *syms, *str;
    size_t count;

    if (!scn || sh.sh_entsize == 0 || !(syms = elf_getdata(scn, NULL)))
        return -1;
    scn = elf_getscn(elf, sh.sh_link);
    if (!scn || !(str = elf_getdata(scn, NULL)) || !str->d_buf || str->d_size == 0)
        return -1;
    count = sh.sh_size / sh.sh_entsize;
    t->v = malloc(count * sizeof(*t->v));
    t->bare = malloc(count * sizeof(*t->bare));
    t->strings = malloc(str->d_size + 1);
    if (!t->v || !t->bare || !t->strings)
        return -1;
    memcpy(t->strings, str->d_buf, str->d_size);
    t->strings[str->d_size] = 0; /* a table cut short still ends its last name */
    read_syms(elf, syms, count, t->strings, str->d_size, bias, t);
    symfile_sort(t->v, t->n);
    symfile_sort(t->bare, t->nbare);
    return 0;
}

int symfile_read(const char *path, uint64_t bias, struct symfile_table *t)
{
    int fd;
    Elf *elf;
    int rc = -1;

    *t = (struct symfile_table){0};
    if (dwlib_load() != 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    elf_version(EV_CURRENT);
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf && elf_kind(elf) == ELF_K_ELF)
        rc = read_elf(elf, bias, t);
    elf_end(elf);
    close(fd);
    if (rc != 0)
        symfile_free(t);
    return rc;
}

void symfile_free(struct symfile_table *t)
{
    free(t->v);
    free(t->bare);
    free(t->strings);
    *t = (struct symfile_table){0};
}

const struct symfile_sym *symfile_label(const struct symfile_table *t, uint64_t pc)
{
    size_t lo = first_after(t->bare, t->nbare, pc);

    if (lo == 0)
        return NULL;
    size_t i = lo - 1; /* the nearest start <= pc; the preferred alias comes first */
    while (i > 0 && t->bare[i - 1].lo == t->bare[i].lo)
        i--;
    const struct symfile_sym *b = &t->bare[i];
    if (pc >= b->hi)
        return NULL;                  /* past its section */
    lo = first_after(t->v, t->n, pc); /* the sized symbol before pc must not end after b */
    if (lo > 0 && t->v[lo - 1].hi <= pc && t->v[lo - 1].hi > b->lo)
        return NULL; /* a function ends between the label and pc */
    return b;
}

int symfile_cover_build(struct symfile_cover *c, struct symfile_sym *v, size_t n)
{
    uint64_t top = 0;

    *c = (struct symfile_cover){0};
    if (!n)
        return 0;
    c->lo = malloc(n * sizeof(*c->lo));
    c->max_hi = malloc(n * sizeof(*c->max_hi));
    if (!c->lo || !c->max_hi) {
        symfile_cover_free(c);
        return -1;
    }
    symfile_sort(v, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].hi > top)
            top = v[i].hi;
        c->lo[i] = v[i].lo;
        c->max_hi[i] = top;
    }
    c->n = n;
    return 0;
}

int symfile_cover_may(const struct symfile_cover *c, uint64_t pc)
{
    size_t lo = 0, hi = c->n;

    if (!c->lo)
        return 1;
    while (lo < hi) { /* the first start after pc */
        size_t mid = (lo + hi) / 2;

        if (c->lo[mid] <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && c->max_hi[lo - 1] > pc;
}

void symfile_cover_free(struct symfile_cover *c)
{
    free(c->lo);
    free(c->max_hi);
    *c = (struct symfile_cover){0};
}
