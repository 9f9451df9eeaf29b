/*
 * brkwall.c - a main heap that is not contiguous: a page mapped right
 * where [heap] would grow makes glibc's sbrk fail, and main_arena goes on
 * in mmapped memory of its own (sysmalloc's MORECORE failure path). Holds
 * blocks on both sides, prints "ready ADDR" (a block past the wall) and
 * waits for its stdin to close.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define N 1600

static void *keep[N];

int main(void)
{
    char buf[64];
    uintptr_t end;
    void *wall;

    for (int i = 0; i < 100; i++) /* some blocks in [heap] */
        keep[i] = malloc(200);
    end = ((uintptr_t)sbrk(0) + 4095) & ~(uintptr_t)4095;
    wall = mmap((void *)end, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
                0);
    if (wall == MAP_FAILED || (uintptr_t)wall != end) {
        fprintf(stderr, "brkwall: cannot map the wall\n");
        return 1;
    }
    for (int i = 100; i < N; i++) /* 600 KB more: past the wall, in one region */
        memset(keep[i] = malloc(400), i & 0xff, 400);
    if ((uintptr_t)keep[N - 1] >= end - (1u << 20) && (uintptr_t)keep[N - 1] < end) {
        fprintf(stderr, "brkwall: the heap did not move\n");
        return 1;
    }
    printf("ready %p\n", keep[N - 1]);
    fflush(stdout);
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    return 0;
}
