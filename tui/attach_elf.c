/*
 * attach_elf.c - exported function addresses from an ELF file's .dynsym
 * (attach_elf.h). The file is hostile input: every offset and count is
 * checked against the file's size before it is read.
 */
#include "attach_elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_at(int fd, void *buf, size_t n, uint64_t off, uint64_t fsize)
{
    if (off > fsize || n > fsize - off)
        return -1;
    return pread(fd, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

int attach_elf_symbols(const char *path, struct attach_elf_sym *syms, size_t n,
                       uint64_t *first_vaddr, char *err, size_t errsz)
{
    Elf64_Ehdr eh;
    Elf64_Shdr *sh = NULL;
    Elf64_Sym *sym = NULL;
    uint16_t *ver = NULL;
    char *str = NULL;
    struct stat sb;
    int fd, rc = -1;
    size_t nsym = 0, nstr = 0;

    for (size_t i = 0; i < n; i++)
        syms[i].value = syms[i].size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || read_at(fd, &eh, sizeof(eh), 0, (uint64_t)sb.st_size) != 0 ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        snprintf(err, errsz, "%s: not a 64-bit ELF file", path);
        goto out;
    }
    *first_vaddr = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;

        if (read_at(fd, &ph, sizeof(ph), eh.e_phoff + (uint64_t)i * sizeof(ph),
                    (uint64_t)sb.st_size) != 0)
            break;
        if (ph.p_type == PT_LOAD) {
            *first_vaddr = ph.p_vaddr & ~(uint64_t)0xfff;
            break;
        }
    }
    sh = calloc(eh.e_shnum ? eh.e_shnum : 1, sizeof(*sh));
    if (!sh ||
        read_at(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), eh.e_shoff, (uint64_t)sb.st_size) != 0) {
        snprintf(err, errsz, "%s: unreadable section headers", path);
        goto out;
    }
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_link < eh.e_shnum && !sym) {
            const Elf64_Shdr *s = &sh[sh[i].sh_link];

            nsym = sh[i].sh_size / sizeof(Elf64_Sym);
            nstr = s->sh_size;
            sym = malloc(nsym * sizeof(*sym) + 1);
            str = malloc(nstr + 1);
            if (!sym || !str ||
                read_at(fd, sym, nsym * sizeof(*sym), sh[i].sh_offset, (uint64_t)sb.st_size) ||
                read_at(fd, str, nstr, s->sh_offset, (uint64_t)sb.st_size)) {
                snprintf(err, errsz, "%s: unreadable .dynsym", path);
                goto out;
            }
            str[nstr] = 0;
        }
    }
    for (unsigned i = 0; i < eh.e_shnum && sym; i++) {
        if (sh[i].sh_type == SHT_GNU_versym && sh[i].sh_size / 2 == nsym) {
            ver = malloc(nsym * 2 + 2);
            if (ver && read_at(fd, ver, nsym * 2, sh[i].sh_offset, (uint64_t)sb.st_size)) {
                free(ver);
                ver = NULL;
            }
        }
    }
    if (!sym) {
        snprintf(err, errsz, "%s: no dynamic symbols (a statically linked program)", path);
        goto out;
    }
    for (size_t k = 0; k < nsym; k++) {
        unsigned type = ELF64_ST_TYPE(sym[k].st_info);
        int hidden = ver && (ver[k] & 0x8000);

        if (sym[k].st_shndx == SHN_UNDEF || sym[k].st_name >= nstr ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(str + sym[k].st_name, syms[i].name) != 0)
                continue;
            /* the default version wins over a compat one (dlopen@GLIBC_2.2.5) */
            if (!syms[i].value || !hidden) {
                syms[i].value = sym[k].st_value;
                syms[i].size = sym[k].st_size;
            }
        }
    }
    rc = 0;
out:
    free(sh);
    free(sym);
    free(str);
    free(ver);
    close(fd);
    return rc;
}
