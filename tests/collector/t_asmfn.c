/*
 * t_asmfn.c - a function without debug information in the middle of a C
 * file's code: asm_alloc is written in assembler between site_before and
 * site_after (built -g -fno-toplevel-reorder, so it stays there). The line
 * table has no row of its own for it: the last row before it is
 * site_before's closing brace, line 21, which addr2line reports for it (and
 * heapline did). A frame's line must be its own: asm_alloc has none.
 * Expected: asm_alloc 3 x 20 bytes, no file, line 0, called from site_after
 * at line 40; site_before 3 x 10 bytes at line 20.
 */
#include "t_common.h"

void *asm_alloc(size_t n);

SITE void *site_before(size_t n)
{
    /* padding: the brace below is the line the line table would lend */


    return sink(malloc(n));
}

__asm__(".text\n"
        ".globl asm_alloc\n"
        ".type asm_alloc, @function\n"
        "asm_alloc:\n"
        "    push %rbp\n"
        "    mov %rsp, %rbp\n"
        "    call malloc@PLT\n"
        "    pop %rbp\n"
        "    ret\n"
        ".size asm_alloc, .-asm_alloc\n");

SITE void *site_after(size_t n)
{
    /* padding */



    return sink(asm_alloc(n));
}

int main(void)
{
    for (int i = 0; i < 3; i++) {
        site_before(10);
        site_after(20);
    }
    return 0;
}
