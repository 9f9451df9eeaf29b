/*
 * heapimage.h - a synthetic glibc 2.36 heap image for heapwalk's unit test
 * and its fuzz target: libc's data with main_arena, a [heap] with a tcache,
 * blocks, a free chunk, a tcache entry, a fastbin chunk and the top chunk, a
 * thread heap (heap_info, its arena, an empty tcache, one block, top) and an
 * mmapped chunk. The fuzz target reads its input as these bytes.
 */
#ifndef HEAPLINE_HEAPIMAGE_H
#define HEAPLINE_HEAPIMAGE_H

#include <stdint.h>
#include <string.h>

#include "heapwalk.h"

#define HI_LIBC 0x7f0000000000ull
#define HI_BRK 0x555500000000ull
#define HI_HEAP 0x7e0004000000ull /* 64 MiB aligned */
#define HI_MMAP 0x7e0100000000ull
#define HI_MAIN (HI_LIBC + 0x100)
#define HI_TARENA (HI_HEAP + 0x30)
#define HI_KEY 0x5eed5eed5eed5eedull

struct heapimage {
    unsigned char libc[0x2000], brk[0x2000], heap[0x2000], mm[0x3000];
};

static inline void hi_put(unsigned char *base, uint64_t base_addr, uint64_t addr, uint64_t v)
{
    memcpy(base + (addr - base_addr), &v, 8);
}

#define HI_LIBC_W(a, v) hi_put(im->libc, HI_LIBC, (a), (v))
#define HI_BRK_W(a, v) hi_put(im->brk, HI_BRK, (a), (v))
#define HI_HEAP_W(a, v) hi_put(im->heap, HI_HEAP, (a), (v))

static inline void heapimage_build(struct heapimage *im)
{
    const uint64_t b = HI_BRK, h = HI_HEAP;

    memset(im, 0, sizeof(*im));
    /* main_arena: fastbinsY[0] = c4, top, an empty unsorted bin, next: the thread arena */
    HI_LIBC_W(HI_MAIN + 0x10, b + 0x320);
    HI_LIBC_W(HI_MAIN + 0x60, b + 0x440);
    HI_LIBC_W(HI_MAIN + 0x70, HI_MAIN + 0x60);
    HI_LIBC_W(HI_MAIN + 0x78, HI_MAIN + 0x60);
    HI_LIBC_W(HI_MAIN + 0x870, HI_TARENA);
    /* [heap]: c0 the tcache (counts[0] = 1, entries[0] = c3's memory) */
    HI_BRK_W(b + 0x8, 0x291);
    HI_BRK_W(b + 0x10, 1);
    HI_BRK_W(b + 0x90, b + 0x310);
    HI_BRK_W(b + 0x290 + 0x8, 0x31);                 /* c1 in use */
    HI_BRK_W(b + 0x2c0 + 0x8, 0x41);                 /* c2 free */
    HI_BRK_W(b + 0x300, 0x40);                       /* c3's prev_size */
    HI_BRK_W(b + 0x300 + 0x8, 0x20);                 /* c3 in a tcache */
    HI_BRK_W(b + 0x310, (b + 0x310) >> 12);          /* its next: NULL, safe-linked */
    HI_BRK_W(b + 0x318, HI_KEY);                     /* its key */
    HI_BRK_W(b + 0x320 + 0x8, 0x21);                 /* c4 in fastbin 0 */
    HI_BRK_W(b + 0x330, (b + 0x330) >> 12);          /* its fd: NULL */
    HI_BRK_W(b + 0x340 + 0x8, 0x101);                /* c5 in use */
    HI_BRK_W(b + 0x440 + 0x8, (0x2000 - 0x440) | 1); /* top */
    /* the thread heap: heap_info, its arena, an empty tcache, one block, top */
    HI_HEAP_W(h, HI_TARENA);
    HI_HEAP_W(h + 0x10, 0x2000);
    HI_HEAP_W(h + 0x18, 0x2000);
    HI_HEAP_W(HI_TARENA + 0x60, h + 0xb90);
    HI_HEAP_W(HI_TARENA + 0x70, HI_TARENA + 0x60);
    HI_HEAP_W(HI_TARENA + 0x78, HI_TARENA + 0x60);
    HI_HEAP_W(HI_TARENA + 0x870, HI_MAIN);
    HI_HEAP_W(h + 0x8d0 + 0x8, 0x295);
    HI_HEAP_W(h + 0xb60 + 0x8, 0x35);
    HI_HEAP_W(h + 0xb90 + 0x8, (0x2000 - 0xb90) | 1);
    /* an mmapped chunk of two pages, then a page that is none */
    hi_put(im->mm, HI_MMAP, HI_MMAP + 8, 0x2002);
}

/* The threads of the image (heapwalk_tls): glibc's two lists of thread
 * descriptors in libc's data (the loader's in a process), the main thread
 * on dl_stack_user with [heap]'s tcache, a thread on dl_stack_used with the
 * thread heap's (empty) one. */
#define HI_USED (HI_LIBC + 0x1000)
#define HI_USER (HI_LIBC + 0x1010)
#define HI_PD_MAIN (HI_LIBC + 0x1400)
#define HI_PD_THREAD (HI_LIBC + 0x1800)
#define HI_LIST_OFF 0x2c0u
#define HI_TCACHE_OFF (-0x48)

static inline void hi_thread(struct heapimage *im, uint64_t head, uint64_t pd, uint64_t tcache)
{
    uint64_t node = pd + HI_LIST_OFF, last;

    memcpy(&last, im->libc + (head + 8 - HI_LIBC), 8);
    if (!last)
        last = head;
    HI_LIBC_W(node, head);                       /* next */
    HI_LIBC_W(node + 8, last);                   /* prev */
    HI_LIBC_W(last == head ? head : last, node); /* the last one's next */
    HI_LIBC_W(head + 8, node);
    HI_LIBC_W(pd + HI_TCACHE_OFF, tcache);
}

static inline struct heapwalk_tls heapimage_tls(struct heapimage *im)
{
    struct heapwalk_tls t = {{HI_USED, HI_USER}, HI_LIST_OFF, HI_TCACHE_OFF};

    HI_LIBC_W(HI_USED, HI_USED);
    HI_LIBC_W(HI_USED + 8, 0);
    HI_LIBC_W(HI_USER, HI_USER);
    HI_LIBC_W(HI_USER + 8, 0);
    hi_thread(im, HI_USER, HI_PD_MAIN, HI_BRK + 0x10);
    hi_thread(im, HI_USED, HI_PD_THREAD, HI_HEAP + 0x8d0 + 0x10);
    return t;
}

/* The image's ranges, sorted. Returns 4. */
static inline size_t heapimage_maps(const struct heapimage *im, struct heapwalk_map *m)
{
    m[0] = (struct heapwalk_map){HI_BRK, HI_BRK + sizeof(im->brk), im->brk, HEAPWALK_BRK, 0};
    m[1] = (struct heapwalk_map){HI_HEAP, HI_HEAP + sizeof(im->heap), im->heap, HEAPWALK_ANON, 0};
    m[2] = (struct heapwalk_map){HI_MMAP, HI_MMAP + sizeof(im->mm), im->mm, HEAPWALK_ANON, 0};
    m[3] = (struct heapwalk_map){HI_LIBC, HI_LIBC + sizeof(im->libc), im->libc, HEAPWALK_LIBC, 0};
    return 4;
}

#endif
