/*
 * scanwords.c - the search's word loops: a range of words against the
 * frontier (portable and AVX2), level 0's scan that marks the blocks which
 * may hold a reference and lists the words that may be one, and the packed
 * copy of those blocks: later levels read the list, or else the copy, as
 * one stream.
 *
 * Invariant: a word goes on to bfs_on_hit() only when it points into the
 * frontier's span and page filter; a block without a mark holds no word
 * that points into any block, and a word not listed points into none, so
 * later levels lose nothing by skipping them.
 */
#include "scanbfs_impl.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* Scans words [lo, hi) (lo 8-byte aligned). The hot loop: eight words at a
 * time are tested against the frontier span with branch-free compares. A
 * conservative scan reads what sanitizers call redzones: not instrumented. */
__attribute__((no_sanitize_address)) static void scan_words(struct bfs *s, uint64_t lo_addr,
                                                            uint64_t hi_addr, uint32_t kind,
                                                            uint32_t id, size_t b,
                                                            uint64_t holder_lo)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8);
    const uint64_t fmin = s->fmin, fspan = s->fspan;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        unsigned any = 0;
        for (unsigned k = 0; k < 8; k++)
            any |= (w[i + k] - fmin) < fspan;
        if (__builtin_expect(any, 0))
            for (unsigned k = 0; k < 8; k++)
                check_word(s, kind, id, b, holder_lo, &w[i + k]);
    }
    for (; i < n; i++)
        check_word(s, kind, id, b, holder_lo, &w[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

/* The same with AVX2: four words a compare (unsigned via the sign-bit flip),
 * and only the words inside the span (a movemask bit each) go on to the page
 * filter and the frontier search. */
__attribute__((no_sanitize_address, target("avx2"))) static void
scan_words_avx2(struct bfs *s, uint64_t lo_addr, uint64_t hi_addr, uint32_t kind, uint32_t id,
                size_t b, uint64_t holder_lo)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8);
    const __m256i sign = _mm256_set1_epi64x(INT64_MIN);
    const __m256i vmin = _mm256_set1_epi64x((long long)s->fmin);
    const __m256i vspan = _mm256_set1_epi64x((long long)(s->fspan ^ (uint64_t)INT64_MIN));
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(w + i));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(w + i + 4));
        __m256i ma = _mm256_cmpgt_epi64(vspan, _mm256_xor_si256(_mm256_sub_epi64(a, vmin), sign));
        __m256i mc = _mm256_cmpgt_epi64(vspan, _mm256_xor_si256(_mm256_sub_epi64(c, vmin), sign));
        unsigned bits = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(ma)) |
                        (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(mc)) << 4;
        while (__builtin_expect(bits != 0, 0)) {
            unsigned k = (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            check_word(s, kind, id, b, holder_lo, &w[i + k]);
        }
    }
    for (; i < n; i++)
        check_word(s, kind, id, b, holder_lo, &w[i]);
}
#endif

/* A word that may point into a block, into level 0's list (counted past
 * its room: the list is then not used). */
static inline void list_word(struct bfs *s, const uint64_t *wp)
{
    if (s->wl_n < s->wl_cap) {
        s->wl[s->wl_n] = *wp;
        s->wl_at[s->wl_n] = (uint64_t)(uintptr_t)wp;
    }
    s->wl_n++;
}

/* Level 0's scan of block b's words [lo_addr, hi_addr): scan_words() and
 * the mark in one pass, each word that may point into a block listed; 1
 * when there is one (may_ref).
 * The frontier (the target) lies inside the blocks' two spans, so a word
 * outside them is neither a hit nor a mark. */
__attribute__((no_sanitize_address)) static int bfs_scan_mark(struct bfs *s, uint64_t lo_addr,
                                                              uint64_t hi_addr, size_t b)
{
    const uint64_t *w = (const uint64_t *)(uintptr_t)lo_addr;
    size_t n = (size_t)((hi_addr - lo_addr) / 8), i = 0;
    const uint64_t hmin = s->hmin, hspan = s->hspan, hmin2 = s->hmin2, hspan2 = s->hspan2;
    uint64_t holder_lo = s->blocks[b].addr;
    int holds = 0;

    for (; i + 8 <= n; i += 8) {
        unsigned any = 0;
        for (unsigned k = 0; k < 8; k++)
            any |= ((w[i + k] - hmin) < hspan) | ((w[i + k] - hmin2) < hspan2);
        if (__builtin_expect(any, 0))
            for (unsigned k = 0; k < 8; k++) {
                check_word(s, SCANBFS_HEAP, 0, b, holder_lo, &w[i + k]);
                if (may_ref(s, w[i + k])) {
                    holds = 1;
                    list_word(s, &w[i + k]);
                }
            }
    }
    for (; i < n; i++)
        if (w[i] - hmin < hspan || w[i] - hmin2 < hspan2) {
            check_word(s, SCANBFS_HEAP, 0, b, holder_lo, &w[i]);
            if (may_ref(s, w[i])) {
                holds = 1;
                list_word(s, &w[i]);
            }
        }
    return holds;
}

#if defined(__x86_64__)
/* Whether AVX2 may run: the CPU has it and the kernel saves the ymm
 * registers. Asked on the first scan, not at load: __builtin_cpu_supports()
 * links libgcc's constructor, which ran a dozen cpuid instructions in every
 * program before its main (each a trap to the hypervisor in a VM, 15 us
 * here: 72 us of every start). */
static int has_avx2(void)
{
    static atomic_int known; /* 0: not asked yet, 1: no, 2: yes */
    unsigned a, b, c, d, lo, hi;
    int v = atomic_load_explicit(&known, memory_order_relaxed);

    if (v)
        return v == 2;
    v = 1;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AVX)) {
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2))
            v = 2;
    }
    atomic_store_explicit(&known, v, memory_order_relaxed);
    return v == 2;
}
#endif

scan_words_fn *bfs_pick_scan_words(const struct scanbfs_params *p)
{
#if defined(__x86_64__)
    if (!p->no_simd && has_avx2())
        return scan_words_avx2;
#endif
    return scan_words;
}

/* Level > 0 without the packed copy: the marked blocks, by their bits. */
static void bfs_scan_marked(struct bfs *s, scan_words_fn *scan)
{
    while (s->cur < s->n_blocks) {
        size_t b = s->cur;
        uint64_t word = s->refs[b >> 6] >> (b & 63);
        if (!word) {
            s->cur = (b | 63) + 1;
            continue;
        }
        b += (size_t)__builtin_ctzll(word);
        s->cur = b;
        if (b >= s->n_blocks)
            break;
        scan(s, (s->blocks[b].addr + 7) & ~(uint64_t)7,
             (s->blocks[b].addr + blk_size(s, b)) & ~(uint64_t)7, SCANBFS_HEAP, 0, b,
             s->blocks[b].addr);
        s->cur = b + 1;
    }
}

/* Level > 0 with the packed copy: one scan of it all (a fault in on_hit
 * resumes after the block it was at, pk_next). */
static void bfs_scan_packed(struct bfs *s, scan_words_fn *scan)
{
    while (s->cur < s->pk_words) {
        scan(s, (uint64_t)(uintptr_t)&s->pk[s->cur], (uint64_t)(uintptr_t)&s->pk[s->pk_words],
             SCANBFS_HEAP | SCANBFS_KIND_PACKED, 0, 0, 0);
        s->cur = s->pk_words;
    }
}

/* A hit in the packed copy at word_addr: its block (*b) and the address
 * its block's offsets count from (*holder_lo); s->pk_next is set past it. */
void bfs_packed_block(struct bfs *s, uint64_t word_addr, size_t *b, uint64_t *holder_lo)
{
    size_t w = (size_t)((word_addr - (uint64_t)(uintptr_t)s->pk) / 8), lo = 0, hi = s->n_ref;
    uint64_t head;

    while (lo < hi) { /* the last block starting at or before w */
        size_t mid = lo + (hi - lo) / 2;
        if (s->pk_at[mid].pos <= w)
            lo = mid + 1;
        else
            hi = mid;
    }
    lo--;
    *b = (size_t)s->pk_at[lo].b;
    head = ((s->blocks[*b].addr + 7) & ~(uint64_t)7) - s->blocks[*b].addr;
    *holder_lo = (uint64_t)(uintptr_t)&s->pk[s->pk_at[lo].pos] - head;
    s->pk_next = lo + 1 < s->n_ref ? s->pk_at[lo + 1].pos : s->pk_words;
}

/* Level > 0 with level 0's list: one scan of its values (a fault in
 * on_hit resumes after the word it was at, pk_next). */
static void bfs_scan_words_list(struct bfs *s, scan_words_fn *scan)
{
    while (s->cur < s->wl_n) {
        scan(s, (uint64_t)(uintptr_t)&s->wl[s->cur], (uint64_t)(uintptr_t)&s->wl[s->wl_n],
             SCANBFS_HEAP | SCANBFS_KIND_WORDS, 0, 0, 0);
        s->cur = s->wl_n;
    }
}

/* A hit in level 0's list at *word_addr: the word's own address (in
 * *word_addr), its block (*b) and the block's start (*holder_lo); pk_next
 * is set past it. 0, or -1 when no block holds it (not after level 0). */
int bfs_listed_word(struct bfs *s, uint64_t *word_addr, size_t *b, uint64_t *holder_lo)
{
    size_t i = (size_t)((*word_addr - (uint64_t)(uintptr_t)s->wl) / 8);
    uint64_t at = s->wl_at[i];
    long k = bfs_find_block(s, at);

    s->pk_next = i + 1;
    if (k < 0)
        return -1;
    *word_addr = at;
    *b = (size_t)k;
    *holder_lo = s->blocks[k].addr;
    return 0;
}

/* Room for level 0's list: as many words as 1/64 of the heap's bytes, 16M
 * at most (256 MB), reserved, not populated: a page costs only once written.
 * Before the scan's own mappings are excluded (the list is one). */
void bfs_words_list_map(struct bfs *s, uint64_t heap_bytes)
{
    size_t cap = (size_t)(heap_bytes / 64);
    void *v, *a;

    if (s->p->no_filter || s->p->no_list || cap == 0)
        return;
    cap = cap < (1u << 24) ? cap : (1u << 24);
    v = mmap(NULL, cap * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0);
    a = mmap(NULL, cap * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0);
    if (v == MAP_FAILED || a == MAP_FAILED) {
        if (v != MAP_FAILED)
            munmap(v, cap * 8);
        if (a != MAP_FAILED)
            munmap(a, cap * 8);
        return;
    }
    s->wl = v;
    s->wl_at = a;
    s->wl_cap = cap;
    s->wl_bytes = cap * 8;
    s->wl_at_bytes = cap * 8;
}

#define PACK_MAX_BYTES (256ull << 20)

/* After level 0: the marked blocks' words into one mapping (none when it
 * cannot be had; when the marked blocks are most of the heap: then the copy
 * would cost more than the levels it spares; or past PACK_MAX_BYTES: the
 * child's own memory stays bounded, the program's machine is not pressed
 * for it). */
void bfs_pack_refs(struct bfs *s, uint64_t heap_bytes)
{
    size_t words = s->ref_bytes / 8, w = 0, k = 0;

    if (s->n_ref == 0 || s->ref_bytes > heap_bytes / 2 || s->ref_bytes > PACK_MAX_BYTES ||
        wl_used(s))
        return; /* (level 0's list is used: fewer words still) */
    s->pk_bytes = words * 8;
    s->pk_at_bytes = s->n_ref * sizeof(*s->pk_at);
    s->pk = bfs_map(s->pk_bytes);
    s->pk_at = bfs_map(s->pk_at_bytes);
    if (!s->pk || !s->pk_at) {
        bfs_unmap(s->pk, s->pk_bytes);
        bfs_unmap(s->pk_at, s->pk_at_bytes);
        s->pk = NULL;
        s->pk_at = NULL;
        s->pk_bytes = s->pk_at_bytes = 0;
        return;
    }
    for (size_t b = next_ref(s, 0); b < s->n_blocks; b = next_ref(s, b + 1)) {
        uint64_t lo = (s->blocks[b].addr + 7) & ~(uint64_t)7;
        uint64_t hi = (s->blocks[b].addr + blk_size(s, b)) & ~(uint64_t)7;
        size_t n = (size_t)((hi - lo) / 8);

        s->pk_at[k].pos = w;
        s->pk_at[k++].b = b;
        memcpy(&s->pk[w], (const void *)(uintptr_t)lo, n * 8);
        w += n;
    }
    s->pk_words = w;
    /* a root range unmapped since the snapshot may lie where these are */
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->pk, (uint64_t)(uintptr_t)s->pk + s->pk_bytes);
    bfs_exclude_range(s, (uint64_t)(uintptr_t)s->pk_at,
                      (uint64_t)(uintptr_t)s->pk_at + s->pk_at_bytes);
}

/* A level's scan of the blocks: at level 0 every block, marked as it is
 * scanned (scan_mark); later, the packed copy or else the marked blocks.
 * The cursor is s->cur (and s->pk_next), which a fault's jump moves on. */
void bfs_scan_blocks(struct bfs *s, scan_words_fn *scan)
{
    if (s->level == 0 || s->p->no_filter) {
        for (; s->cur < s->n_blocks; s->cur++) {
            size_t b = s->cur;
            s->wl_block = s->wl_n;
            uint64_t lo = (s->blocks[b].addr + 7) & ~(uint64_t)7;
            uint64_t hi = (s->blocks[b].addr + blk_size(s, b)) & ~(uint64_t)7;
            if (hi <= lo)
                continue;
            if (s->level != 0) {
                scan(s, lo, hi, SCANBFS_HEAP, 0, b, s->blocks[b].addr);
            } else {
                if (bfs_scan_mark(s, lo, hi, b)) {
                    s->refs[b >> 6] |= 1ull << (b & 63);
                    s->ref_bytes += hi - lo;
                    s->n_ref++;
                }
                /* the list's pages are fresh memory: kept while it takes a
                 * quarter of the bytes read at most (past the first MiB) */
                s->wl_read += hi - lo;
                if (s->wl_cap && s->wl_n * 64 > s->wl_read + (1u << 20))
                    s->wl_cap = 0;
            }
        }
        return;
    }
    if (wl_used(s))
        bfs_scan_words_list(s, scan);
    else if (s->pk)
        bfs_scan_packed(s, scan);
    else
        bfs_scan_marked(s, scan);
}
