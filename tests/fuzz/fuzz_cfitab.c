/*
 * fuzz_cfitab.c - libFuzzer target: arbitrary bytes as a loaded module's
 * .eh_frame_hdr followed by its .eh_frame (one read-only segment), compiled
 * by the collector's cfitab_build() and read one pc at a time by
 * cfitab_rule_at() (collector/cfitab.c: it reads every module the program
 * loads, so a malformed table must cost only its rules, never a read outside
 * the segment), both looked up across the code range and compared; and read
 * by ehframe_fp_percent() (collector/ehframe.c).
 */
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../collector/cfitab.c"
#include "../../collector/ehframe.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ElfW(Phdr) ph[2];
    struct dl_phdr_info info;
    struct cfitab *t;
    uint8_t *seg;
    uintptr_t lo, hi;

    if (size < 12)
        return 0;
    /* exactly the input's bytes: a read past them is ASan's to see */
    seg = malloc(size);
    memcpy(seg, data, size);
    memset(ph, 0, sizeof(ph));
    ph[0].p_type = PT_LOAD;
    ph[0].p_flags = PF_R;
    ph[0].p_vaddr = (uintptr_t)seg;
    ph[0].p_filesz = ph[0].p_memsz = size;
    ph[1].p_type = PT_GNU_EH_FRAME;
    ph[1].p_vaddr = (uintptr_t)seg;
    memset(&info, 0, sizeof(info));
    info.dlpi_addr = 0;
    info.dlpi_phdr = ph;
    info.dlpi_phnum = 2;
    /* the code the FDEs describe lies around the table (their addresses are
     * relative to it): 1 MiB either side */
    lo = (uintptr_t)seg > (1u << 20) ? (uintptr_t)seg - (1u << 20) : 0;
    hi = (uintptr_t)seg + size + (1u << 20);
    if (ehframe_fp_percent(&info) > 100)
        abort();
    t = cfitab_build(&info, lo, hi);
    if (t) {
        uint32_t sum = 0;
        struct cfitab_src src;
        int sorted = cfitab_src_of(&info, &src) == 0;

        /* one FDE read alone (cfitab_rule_at) says what the table says, or
         * BAD; where the search table is out of order (no linker writes
         * that) only the bounds are checked, by ASan */
        for (uint32_t i = 1; sorted && i < src.count; i++) {
            int32_t a, b;

            memcpy(&a, src.hdr + 12 + 8 * (size_t)(i - 1), 4);
            memcpy(&b, src.hdr + 12 + 8 * (size_t)i, 4);
            sorted = a <= b;
        }
        for (uintptr_t pc = lo; pc < hi; pc += 61) {
            uint32_t want = cfitab_find(t, pc), got = cfitab_rule_at(&src, lo, pc);

            if (sorted && got != want && cfitab_kind(got) != CFITAB_BAD)
                abort();
            sum += want;
        }
        for (uint32_t i = 0; i < t->n; i++)
            sum += cfitab_find(t, lo + t->pc[i]);
        if (sum == 0x12345678u && t->n == 0)
            abort(); /* keeps the lookups */
        munmap(t, t->map_bytes);
    }
    free(seg);
    return 0;
}
