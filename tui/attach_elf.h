/*
 * attach_elf.h - the few facts heapline attach reads from an ELF file: the
 * address and size of exported functions (by the default version of each
 * name, as dlsym finds them) and the virtual address of the first loadable
 * segment (to turn a mapping's start into the load bias).
 */
#ifndef HEAPLINE_ATTACH_ELF_H
#define HEAPLINE_ATTACH_ELF_H

#include <stddef.h>
#include <stdint.h>

struct attach_elf_sym {
    const char *name; /* in: the name to find */
    uint64_t value;   /* out: st_value, 0 when not found */
    uint64_t size;    /* out: st_size */
};

/* Looks up every syms[i].name among the defined functions of path's
 * .dynsym. *first_vaddr gets the first PT_LOAD's p_vaddr rounded down to a
 * page. Returns 0, or -1 with one line in err (not an ELF file, no .dynsym:
 * a statically linked program). */
int attach_elf_symbols(const char *path, struct attach_elf_sym *syms, size_t n,
                       uint64_t *first_vaddr, char *err, size_t errsz);

#endif
