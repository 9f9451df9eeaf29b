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

static int sym_cmp(const void *pa, const void *pb)
{
    const struct symfile_sym *a = pa, *b = pb;

    if (a->lo != b->lo)
        return a->lo < b->lo ? -1 : 1;
    return b->rank - a->rank; /* the preferred alias first */
}

void symfile_sort(struct symfile_sym *v, size_t n)
{
    if (n)
        qsort(v, n, sizeof(*v), sym_cmp);
}

const struct symfile_sym *symfile_find(const struct symfile_sym *v, size_t n, uint64_t pc)
{
    size_t lo = 0, hi = n;

    while (lo < hi) { /* the first symbol starting after pc */
        size_t mid = (lo + hi) / 2;

        if (v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
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
static long read_syms(Elf_Data *syms, size_t count, const char *str, size_t nstr, uint64_t bias,
                      struct symfile_sym *out)
{
    long n = 0;

    for (size_t i = 1; i < count; i++) {
        GElf_Sym sym;

        if (!gelf_getsym(syms, (int)i, &sym))
            continue;
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);

        if (sym.st_name == 0 || sym.st_name >= nstr || !str[sym.st_name] || sym.st_size == 0 ||
            sym.st_shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        out[n++] =
            (struct symfile_sym){sym.st_value + bias, sym.st_value + bias + sym.st_size,
                                 str + sym.st_name, bind == STB_GLOBAL ? 2 : bind == STB_WEAK};
    }
    return n;
}

static long read_elf(Elf *elf, uint64_t bias, struct symfile_sym **out, char **strings)
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
    *out = malloc(count * sizeof(**out));
    *strings = malloc(str->d_size + 1);
    if (!*out || !*strings) {
        free(*out);
        free(*strings);
        *out = NULL;
        *strings = NULL;
        return -1;
    }
    memcpy(*strings, str->d_buf, str->d_size);
    (*strings)[str->d_size] = 0; /* a table cut short still ends its last name */
    return read_syms(syms, count, *strings, str->d_size, bias, *out);
}

long symfile_read(const char *path, uint64_t bias, struct symfile_sym **out, char **strings)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf *elf;
    long n = -1;

    if (fd < 0)
        return -1;
    elf_version(EV_CURRENT);
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf && elf_kind(elf) == ELF_K_ELF)
        n = read_elf(elf, bias, out, strings);
    elf_end(elf);
    close(fd);
    return n;
}
