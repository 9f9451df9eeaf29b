/*
 * pygen.c - the code-object generation (pygen.h).
 *
 * Invariant: a thread whose walk read an even generation g, noted each code
 * object it validated (pygen_note after that read) and recorded g, reads g
 * again in a later walk only if none of those code objects was freed in
 * between. So a frame that reads the same code pointer as that walk's runs
 * the same code object, and its fingerprint need not be read again.
 *
 * Why it holds. The walk reads only its own thread's live frames, and a
 * frame holds a reference to its code object: a code object is alive while
 * a walk notes it, and its free() comes after the walk (through the
 * reference count, under the GIL, or on the same thread). free() tests the
 * bit (acquire) before the block goes back to the allocator; a set bit bumps
 * the generation (by 2), which any later walk reads (the new code object at
 * that address reaches the walking thread through the allocator's and the
 * interpreter's locks). A clear bit means a clear (the only stores that
 * clear bits) came after the walk's note: the filter, once 1/16 full, is
 * cleared by one thread at a time as: generation + 1 (odd, acq_rel), bits
 * stored 0 (release), generation + 1 (even, release). The free's acquire
 * load read that clear's store (or a note after it), so the first + 1
 * happens before the free and before any later walk, which reads a newer
 * generation than g, unless g was read after that + 1: then g, even, was
 * read after the second + 1 (bumps add 2, odd stays odd), whose release
 * orders the clear before the walk's note: the note would not be lost.
 * Walks that read an odd generation trust nothing.
 *
 * A filter bit also set by other addresses only costs a bump: every walk
 * after it checks its code objects as it would without the generation.
 * Code objects are never realloc()ed by CPython; deep-frozen ones are
 * static and never freed.
 */
#include "pygen.h"

#define PYGEN_FILL_MAX ((1u << PYGEN_BITS_LOG) / 16) /* bits set before a clear */

atomic_int pygen_on;
_Atomic uint64_t pygen_bits[(1u << PYGEN_BITS_LOG) / 64];
_Alignas(64) _Atomic uint64_t pygen_gen;
static _Alignas(64) atomic_uint fill;
static atomic_int clearing;
atomic_int pygen_usable;

void pygen_bump(void)
{
    atomic_fetch_add_explicit(&pygen_gen, 2, memory_order_relaxed);
}

void pygen_init(int from_start_malloc)
{
    atomic_store_explicit(&pygen_usable, from_start_malloc ? 0 : -1, memory_order_relaxed);
    atomic_store_explicit(&pygen_on, from_start_malloc, memory_order_relaxed);
}

uint64_t pygen_read_first(int (*check)(void), int *usable)
{
    int s = atomic_load_explicit(&pygen_usable, memory_order_relaxed);

    if (s == 0) {
        s = check && check() ? 1 : -1;
        atomic_store_explicit(&pygen_usable, s, memory_order_relaxed);
        if (s < 0)
            atomic_store_explicit(&pygen_on, 0, memory_order_relaxed);
    }
    *usable = s > 0;
    return s > 0 ? atomic_load_explicit(&pygen_gen, memory_order_acquire) : 1; /* odd */
}

static void clear(void)
{
    if (atomic_exchange_explicit(&clearing, 1, memory_order_acquire))
        return; /* another thread clears */
    atomic_fetch_add_explicit(&pygen_gen, 1, memory_order_acq_rel);
    for (unsigned i = 0; i < sizeof(pygen_bits) / sizeof(pygen_bits[0]); i++)
        atomic_store_explicit(&pygen_bits[i], 0, memory_order_release);
    atomic_store_explicit(&fill, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&pygen_gen, 1, memory_order_release);
    atomic_store_explicit(&clearing, 0, memory_order_release);
}

void pygen_note_slow(_Atomic uint64_t *w, uint64_t m)
{
    if (!(atomic_fetch_or_explicit(w, m, memory_order_relaxed) & m) &&
        atomic_fetch_add_explicit(&fill, 1, memory_order_relaxed) + 1 >= PYGEN_FILL_MAX)
        clear();
}

void pygen_atfork_child(void)
{
    for (unsigned i = 0; i < sizeof(pygen_bits) / sizeof(pygen_bits[0]); i++)
        atomic_store_explicit(&pygen_bits[i], 0, memory_order_relaxed);
    atomic_store_explicit(&fill, 0, memory_order_relaxed);
    atomic_store_explicit(&pygen_gen, (atomic_load(&pygen_gen) | 1) + 1, memory_order_relaxed);
    atomic_store_explicit(&clearing, 0, memory_order_relaxed);
}
