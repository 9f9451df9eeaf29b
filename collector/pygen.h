/*
 * pygen.h - the code-object generation: whether any code object a Python
 * frame walk relied on may have been freed since a thread's last walk.
 *
 * Only when every code object is freed through free() (PYTHONMALLOC=malloc
 * from the interpreter's start, checked once Python runs; never after
 * heapline attach, where pymalloc's arenas hold older code objects, nor
 * for a libpython dlopen()ed after start-up, nor in a program without
 * one: its frees test nothing): free()
 * tests the freed address in a filter of the code objects walks have
 * validated (pygen_note) and, on a hit, bumps the generation before the
 * block goes back to the allocator. A walk that reads the same even
 * generation as the thread's last walk can trust the code objects that walk
 * validated, where their frames read the same code pointer: none was freed,
 * so none was replaced at its address. The argument is in pygen.c.
 */
#ifndef HEAPLINE_PYGEN_H
#define HEAPLINE_PYGEN_H

#include <stdatomic.h>
#include <stdint.h>

#define PYGEN_BITS_LOG 15 /* 4 KiB of filter */

/* Nonzero while free() must test (hooks.c reads it with one load). */
extern atomic_int pygen_on __attribute__((visibility("hidden")));
extern _Atomic uint64_t pygen_bits[(1u << PYGEN_BITS_LOG) / 64]
    __attribute__((visibility("hidden")));

/* The filter's bit of an address: its bits 4.. as they are (malloc's blocks
 * are 16-aligned), no multiply on free()'s path: word, then bit in it. */
static inline _Atomic uint64_t *pygen_word(uintptr_t p)
{
    return &pygen_bits[(p >> 10) & ((1u << PYGEN_BITS_LOG) / 64 - 1)];
}

static inline uint64_t pygen_bit(uintptr_t p)
{
    return 1ull << ((p >> 4) & 63);
}

/* Any thread, signal-unsafe like free(): bumps the generation. */
void pygen_bump(void);

/* Hot path, free() of p, before the real free: one load and a branch when
 * off; when on, a bit test and, for a code object walks rely on (or a
 * false positive), a bump. */
static inline void pygen_freeing(const void *p)
{
    if (__builtin_expect(atomic_load_explicit(&pygen_on, memory_order_relaxed), 0)) {
        if (atomic_load_explicit(pygen_word((uintptr_t)p), memory_order_acquire) &
            pygen_bit((uintptr_t)p))
            pygen_bump();
    }
}

/* Start-up (pyframes_init): on when PYTHONMALLOC=malloc is in effect from
 * the start, the interpreter is in the program at start-up (not dlopen()ed
 * later) and the collector was not attached. */
void pygen_init(int from_start_malloc);

/* Walks: the generation to record (acquire: read before any pygen_note of
 * the walk), odd when it cannot be trusted; *usable when the allocator was
 * checked to be malloc (check, called on the first walk, returns nonzero
 * when it is). */
uint64_t pygen_read_first(int (*check)(void), int *usable);
extern atomic_int pygen_usable __attribute__((visibility("hidden"))); /* 0 unchecked, 1, -1 */
extern _Atomic uint64_t pygen_gen __attribute__((visibility("hidden")));

static inline uint64_t pygen_read(int (*check)(void), int *usable)
{
    if (__builtin_expect(atomic_load_explicit(&pygen_usable, memory_order_relaxed) > 0, 1)) {
        *usable = 1;
        return atomic_load_explicit(&pygen_gen, memory_order_acquire);
    }
    return pygen_read_first(check, usable);
}

/* pygen_note()'s setting of a bit. */
void pygen_note_slow(_Atomic uint64_t *w, uint64_t m);

/* Walks: code (a live code object of this thread's frames) was validated
 * under the generation read before. */
static inline void pygen_note(uintptr_t code)
{
    _Atomic uint64_t *w = pygen_word(code);
    uint64_t m = pygen_bit(code);

    if (!(atomic_load_explicit(w, memory_order_relaxed) & m))
        pygen_note_slow(w, m);
}

/* fork child: a clear the fork cut short is finished, every cache dropped. */
void pygen_atfork_child(void);

#endif
