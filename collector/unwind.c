/*
 * unwind.c - stack capture.
 *
 * The frame-pointer walk trusts a frame only if it lies inside the thread's
 * stack, above the previous one and 16-byte aligned (so reading it is always
 * safe), and its return address lands in the code of a module that keeps
 * frame pointers (ehframe.h): a function without them would leave its
 * caller's frame out silently. A return address in other code ends the walk:
 * it is complete if the address is one of the thread's roots (libc calling
 * main() or the thread function), otherwise the call falls back to
 * unw_backtrace. The executable ranges and the rules come from unwtable.c's
 * table (unwind_int.h: published whole, never freed, so a walk on any thread
 * can keep using the one it loaded).
 *
 * The table walk (code without frame pointers) steps each frame by its
 * module's compiled unwind rule (cfitab.h): CFA = SP or FP + offset, the
 * return address at CFA - 8, FP reloaded from the CFA or kept. It reads only
 * the thread's stack: a CFA that does not lie above the last one, inside the
 * stack, hands the walk to libunwind, as does a frame without a rule it can
 * follow (no FDE: JIT or unknown code; an expression; a signal frame) or in a
 * module whose table is not compiled yet (the walk asks for it). The rules
 * and their end (the outermost frame's return address undefined) are
 * libunwind's own, so the frames are unw_backtrace's. The tables are
 * compiled on the collector thread when a walk first asks (unwind_serve),
 * reused across rebuilds of the range table, and never freed (a walk may
 * still read one). A frame-pointer walk that meets a
 * module without frame pointers hands the stack to the table walk first.
 */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cfitab.h"
#include "core.h"
#include "unwind_int.h"

static struct range self_range, unw_range;
static int unwind_fp;
static int unwind_cfi;   /* the table walk (CORE_UNWIND_CFI or CHECK) */
int unwind_table_only;   /* the table walk, not in check mode (unwind.h) */
static int unwind_check; /* both walks on every call, compared */
static int
    cfi_tables; /* the rules are compiled: the table walk, or the frame-pointer walk's fallback */
static atomic_ullong fp_fallback, fp_to_table;
/* table walks handed to libunwind (no rule, or off the stack) and, in check
 * mode only (a shared counter per walk would be a cache line bouncing
 * between the program's threads), walks made and compared with
 * unw_backtrace's (equal, different) */
static atomic_ullong cfi_walks, cfi_no_rule, cfi_off_stack, cfi_equal, cfi_differ;
/* check mode: walks replayed whole from a thread's trace, and replays that
 * met a word that differed (or the trace's end) and stepped on */
static atomic_ullong cfi_replayed, cfi_diverged;
static atomic_ullong cfi_one_fde; /* rules read from one FDE: the module not compiled yet */

static void cfi_key_init(void);

int unwind_init(int mode)
{
    int main_fp = 0;

    unwind_table_only = 0;
    self_range = unwtable_module((const void *)unwind_init);
    unw_range = unwtable_module((const void *)unw_backtrace);
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    if (mode == CORE_UNWIND_LIBUNWIND)
        return mode;
    cfi_key_init();
    /* the ranges now, a module's rules on the collector thread when a walk
     * first needs them (unwind_serve): until then that walk goes to
     * libunwind. % of a module's code with frame pointers for the walk to
     * trust it: 70 when choosing by itself (auto), 30 when frame pointers
     * were asked for (small programs are mostly start-up stubs, which have
     * none). */
    if (unwtable_init(mode == CORE_UNWIND_FP ? 30 : 70, &main_fp) < 0)
        return CORE_UNWIND_LIBUNWIND;
#if defined(__x86_64__)
    cfi_tables = 1;
#endif
    if (mode == CORE_UNWIND_FP || (mode == CORE_UNWIND_AUTO && main_fp)) {
        unwind_fp = 1;
        unwtable_start(1, cfi_tables);
        return CORE_UNWIND_FP;
    }
#if defined(__x86_64__)
    unwind_cfi = 1;
    unwind_check = mode == CORE_UNWIND_CHECK;
    unwind_table_only = !unwind_check;
    unwtable_start(0, cfi_tables);
    return unwind_check ? CORE_UNWIND_CHECK : CORE_UNWIND_CFI;
#else
    return CORE_UNWIND_LIBUNWIND;
#endif
}

static int capture_unw(uintptr_t *ips, int max)
{
    void *buf[CORE_MAX_DEPTH + 16];
    int want = max + 16, n, skip = 0;

    if (want > (int)(sizeof(buf) / sizeof(buf[0])))
        want = (int)(sizeof(buf) / sizeof(buf[0]));
    unwtable_enter();
    n = unw_backtrace(buf, want);
    unwtable_leave();
    while (skip < n && (in_range(&self_range, (uintptr_t)buf[skip]) ||
                        in_range(&unw_range, (uintptr_t)buf[skip])))
        skip++;
    n -= skip;
    if (n > max)
        n = max;
    for (int i = 0; i < n; i++)
        ips[i] = (uintptr_t)buf[skip + i];
    return n;
}

void unwind_roots(struct unwind_root roots[UNWIND_ROOTS])
{
    struct unwind_root all[CORE_MAX_DEPTH];
    unw_context_t uc;
    unw_cursor_t cur;
    int n = 0;

    memset(roots, 0, UNWIND_ROOTS * sizeof(roots[0]));
    if (!unwind_fp)
        return; /* the table walk ends where the rules say, without roots */
    unwtable_enter();
    if (unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0) {
        unwtable_leave();
        return;
    }
    while (n < CORE_MAX_DEPTH) {
        unw_word_t ip = 0, sp = 0;

        unw_get_reg(&cur, UNW_REG_IP, &ip);
        unw_get_reg(&cur, UNW_REG_SP, &sp);
        all[n++] = (struct unwind_root){ip, sp};
        if (unw_step(&cur) <= 0)
            break;
    }
    unwtable_leave();
    if (n == CORE_MAX_DEPTH)
        return; /* too deep to see the top: the walk will fall back */
    for (int i = 0; i < UNWIND_ROOTS && i < n; i++)
        roots[i] = all[n - 1 - i];
}

/* If the frame returning to ret with stack pointer sp is one of the thread's
 * roots, appends the roots outside it (so the stack ends as libunwind's
 * would) and returns the new count; else -1. */
static inline int end_at_root(const struct unwind_root *roots, uintptr_t ret, uintptr_t sp,
                              uintptr_t *ips, int n, int max)
{
    for (int i = 0; i < UNWIND_ROOTS; i++)
        if (roots[i].ip == ret && roots[i].sp == sp) {
            while (--i >= 0 && n < max && roots[i].ip)
                ips[n++] = (uintptr_t)roots[i].ip;
            return n;
        }
    return -1;
}

/* The ranges this thread's walks found last (most recent first), valid
 * while hot_tab is the published table (whose ranges are never freed): a
 * walk crosses the same few modules every time (ours, the program's,
 * libc's), and the binary search for each was a third of the walk.
 * Initial-exec TLS, like the hooks' guard: pointers, 32 bytes of the static
 * TLS a dlopen() into a running program must find spare. */
#define HOT_RANGES 4
static __thread const struct exec_table *hot_tab;
static __thread const struct range *hot[HOT_RANGES];

static inline int find_hot(const struct exec_table *t, uintptr_t a, struct range *out)
{
    const struct range *r;
    int i;

    if (hot_tab == t) {
        for (i = 0; i < HOT_RANGES && hot[i]; i++)
            if (in_range(hot[i], a)) {
                *out = *hot[i];
                return 1;
            }
    } else {
        memset(hot, 0, sizeof(hot));
        hot_tab = t;
    }
    r = find_exec(t, a);
    if (!r)
        return 0;
    memmove(&hot[1], &hot[0], (HOT_RANGES - 1) * sizeof(hot[0]));
    hot[0] = r;
    *out = *r;
    return 1;
}

/* The walk's stack-cache hash: one multiply chain over the return addresses,
 * then the count, and the high half folded down (the cache indexes sets
 * with the low bits, which a product alone takes from the inputs' low bits). */
#define WALK_HASH_SEED 0x9E3779B97F4A7C15ull
static inline uint64_t walk_hash_step(uint64_t h, uintptr_t ret)
{
    return (h ^ ret) * 0xff51afd7ed558ccdull;
}
static inline uint64_t walk_hash_final(uint64_t h, int n)
{
    h = (h ^ (uint64_t)n) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 32);
}

/* Returns the frames, or -1 when the chain cannot be trusted. Consecutive
 * return addresses are mostly in one module: the last range is tried first
 * (one unsigned compare), then the thread's hot ranges, then the table. The
 * loop is kept to the loads of the chain, a few compares and one multiply
 * chain for the stack-cache hash, so it runs at about the latency of the
 * frame-to-frame loads. */
static __attribute__((noinline)) int walk_fp(uintptr_t *start, uintptr_t *ips, int max,
                                             uintptr_t lo, uintptr_t hi,
                                             const struct unwind_root *roots, uintptr_t *stop,
                                             uint64_t *hash)
{
    uint64_t h = WALK_HASH_SEED;
    const struct exec_table *t = atomic_load_explicit(&unwtable_tab, memory_order_acquire);
    uintptr_t f = (uintptr_t)(start ? start : __builtin_frame_address(0));
    struct range last = {0};
    uintptr_t last_span = 0; /* last.hi - last.lo */
    int n = 0;

    if (!t || f < lo || f + 16 > hi || (f & 15))
        return -1;
    while (n < max) {
        const uintptr_t *fp = (const uintptr_t *)f;
        uintptr_t next = fp[0], ret = fp[1];

        if (__builtin_expect(ret - last.lo >= last_span, 0)) {
            if (!find_hot(t, ret, &last))
                return -1;
            last_span = last.hi - last.lo;
        }
        /* the collector's own frames come first, and are skipped; they
         * keep frame pointers (the Makefile builds them so) whatever the
         * share of the module that does (its bundled libraries' code does
         * not: under 70%, and every walk from a program built with frame
         * pointers went to the table walk from its first frame) */
        int own = __builtin_expect(n == 0, 0) && in_range(&self_range, ret);

        if (__builtin_expect(!own, 1)) {
            ips[n++] = ret;
            h = walk_hash_step(h, ret);
        }
        if (__builtin_expect(!last.fp && !own,
                             0)) { /* code without frame pointers: its caller is unknown */
            int m = end_at_root(roots, ret, f + 16, ips, n, max);

            *stop = ret;
            for (int i = n; i < m; i++)
                h = walk_hash_step(h, ips[i]);
            *hash = walk_hash_final(h, m);
            return m;
        }
        if (next == 0)
            break;
        /* next lies above this frame, 16-aligned, with its two words below hi
         * (hi - 16 - f does not wrap: f + 16 <= hi holds for this frame) */
        if (next - f - 1 >= hi - 16 - f || (next & 15))
            return -1;
        f = next;
    }
    *hash = walk_hash_final(h, n);
    return n;
}

/* The rules this thread's walks used last, decoded, by return address: a
 * walk meets the same few hundred call sites again and again, and the
 * table's lookup (an index word, then a scan of a few rows whose length the
 * branch predictor cannot guess) was most of a frame's cost. Direct-mapped
 * by the address's low bits (a frame's cost is the chain return address ->
 * slot -> CFA -> next return address: no hashing on it). 1024 slots: with
 * 256, python3's start-up (new stacks of 64 frames through the importer)
 * refilled a slot 606,000 times in 84,000 walks, 24,000 times with 1024
 * (callgrind: the walks' instructions 296M -> 221M). Valid while
 * cache_tab is the published table (a module loaded or unloaded empties
 * it); a slot holds only a rule the walk can follow, or the end.
 *
 * Even with the rule cached, a frame's cost was that chain of two dependent
 * loads, about 11 cycles. The traces remove it for stacks seen before: the
 * last walk that started at a (return address, SP) records, for its first
 * CFI_TRACE_LEN frames, where on the stack each return address was read
 * (an offset from the first SP) and what it was. The next walk from the same
 * return address and SP reads those words all at once and compares: while
 * they are equal, every frame had the same rule, so the same CFA, so the next
 * word is at the recorded place: the frames are the ones the step-by-step
 * walk would find, and it read and checked the same addresses. At the first
 * word that differs (or the end of the record) the step-by-step walk goes on
 * from that frame. A record stops at a frame whose CFA is FP-based (what
 * follows depends on FP, not on SP alone). Valid while tab is the published
 * table; two ways in each of 128 sets (churn's 84 stacks did not fit in
 * 32; with 64, python3's JSON bench replayed 86% of its walks whole, 96%
 * with 128). 15 KiB + 256 x 568 bytes a thread,
 * mapped on its first table walk, not in TLS: the library's static TLS must
 * stay small enough for dlopen into a running program (heapline attach;
 * glibc keeps about 1.6 KB spare), as pyframes' memo does. */
#define CFI_CACHE 1024
#define CFI_FP_BASE 1  /* CFA = FP + offset (else SP + offset) */
#define CFI_FP_SAVED 2 /* FP saved at CFA + fp_off */
#define CFI_END 4      /* the outermost frame */
#define CFI_TRACE_SETS_LOG2 7
#define CFI_TRACES (2 << CFI_TRACE_SETS_LOG2)
#define CFI_TRACE_LEN 32
#define CFI_FP_FIRST (-1) /* fp_at: FP is still the first frame's */
struct cfi_trace {
    const struct exec_table *tab; /* recorded under this table (NULL: empty) */
    uintptr_t pc0, sp0, hi;       /* the first frame, the stack's top */
    int n, max;                   /* frames recorded, the walk's max */
    int whole;                    /* the walk ended with frame n - 1 */
    uint64_t hash;                /* then its stack's hash */
    uintptr_t pc[CFI_TRACE_LEN];  /* frame k's return address ... */
    int32_t at[CFI_TRACE_LEN];    /* ... read at sp0 + at[k] */
    int32_t fp_at[CFI_TRACE_LEN]; /* FP at frame k: read at sp0 + fp_at[k], or CFI_FP_FIRST */
};
struct cfi_cache {
    const struct exec_table *tab;
    /* parallel arrays, so each is one scaled load from the slot's index */
    uintptr_t pc[CFI_CACHE]; /* the return address (0: empty) */
    int32_t cfa_off[CFI_CACHE];
    int16_t fp_off[CFI_CACHE];
    uint8_t flags[CFI_CACHE];
    uint8_t trace_mru[CFI_TRACES / 2]; /* the way of each set used last */
    struct cfi_trace trace[CFI_TRACES];
};
static __thread struct cfi_cache *cfi_cache;
static pthread_key_t cfi_key;
static atomic_int cfi_key_ok;

static void cfi_cache_drop(void *p)
{
    cfi_cache = NULL;
    munmap(p, sizeof(struct cfi_cache));
}

static void cfi_key_init(void)
{
    if (!atomic_load(&cfi_key_ok) && pthread_key_create(&cfi_key, cfi_cache_drop) == 0)
        atomic_store_explicit(&cfi_key_ok, 1, memory_order_release);
}

/* This thread's cache, mapped on its first call; NULL when it cannot be. */
static struct cfi_cache *cfi_cache_get(void)
{
    void *p;

    if (__builtin_expect(cfi_cache != NULL, 1))
        return cfi_cache;
    if (!atomic_load_explicit(&cfi_key_ok, memory_order_acquire))
        return NULL;
    p = mmap(NULL, sizeof(struct cfi_cache), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    cfi_cache = p;
    pthread_setspecific(cfi_key, p);
    return cfi_cache;
}

/* Fills slot i for return address pc from its module's table; 0, or -1 when
 * no table has a rule the walk can follow there. */
static __attribute__((noinline)) int cfi_fill(const struct exec_table *t, uintptr_t pc,
                                              struct cfi_cache *c, unsigned i)
{
    struct range r;
    uint32_t rule;
    unsigned kind;

    if (!find_hot(t, pc - 1, &r)) {
        /* a module dlopen()ed since the table was built: the next refresh
         * adds it and compiles its rules at once, not a tick later and then
         * on the next ask (python3's JSON bench sent 16,000 to 27,000
         * walks through _json's C encoder to libunwind meanwhile) */
        unwtable_ask(pc - 1);
        return -1;
    }
    if (r.tab) {
        rule = cfitab_find(r.tab, pc - 1);
    } else {
        /* compiled soon; until then this pc's FDE alone, once a thread (a
         * sampled sqlite3 run's 150 walks took 57 us each in libunwind,
         * 2% of the run, where the collector does not compile) */
        struct dl_find_object o;

        if (r.flags & RANGE_TRIED)
            return -1; /* tried: the module has no rules this reader knows */
        unwtable_ask(pc - 1);
        if (!r.src.hdr || _dl_find_object((void *)(pc - 1), &o) != 0 ||
            o.dlfo_eh_frame != r.src.hdr)
            return -1; /* no table, or not the module the table saw there */
        rule = cfitab_rule_at(&r.src, r.lo, pc - 1);
        atomic_fetch_add_explicit(&cfi_one_fde, 1, memory_order_relaxed);
    }
    kind = cfitab_kind(rule);
    if (kind == CFITAB_BAD)
        return -1;
    c->pc[i] = pc;
    c->cfa_off[i] = cfitab_cfa_off(rule);
    c->fp_off[i] = (int16_t)cfitab_fp_off(rule);
    c->flags[i] = (kind == CFITAB_FP ? CFI_FP_BASE : 0) |
                  (rule & CFITAB_FP_SAVED ? CFI_FP_SAVED : 0) | (kind == CFITAB_END ? CFI_END : 0);
    return 0;
}

/* Where a walk is: the frame whose return address pc is to be taken next
 * (n frames taken before it), its SP and the FP its rule sees. */
struct cfi_pos {
    uintptr_t pc, sp, fp;
    int n;
};

/* Replays trace e (its key matches the walk's start, sp0): reads the
 * recorded words into ips and compares. Returns e->n when that is the whole
 * walk; else the frame to step on from: the first whose word differs (ips[k]
 * holds the word read there), or the last one recorded. */
static inline int trace_replay(const struct cfi_trace *e, uintptr_t sp0, uintptr_t *ips)
{
    int k, n = e->n;

    ips[0] = e->pc[0];
    for (k = 1; k < n; k++) {
        uintptr_t v = *(const uintptr_t *)(sp0 + (intptr_t)e->at[k]);

        ips[k] = v;
        if (__builtin_expect(v != e->pc[k], 0))
            return k;
    }
    return e->whole ? n : n - 1;
}

/* The fast path's replay (unwind_walk_cfi()): whether trace e is the whole
 * walk, then its words copied into ips (or only the first when rest: *rest
 * the trace's words, for the caller to copy when it needs them: the stack
 * cache's hits do not). Four frames a branch, the words compared before
 * anything is stored: the words past a difference are still inside the
 * stack (the trace's sp0 and hi are this walk's), and a walk with a
 * difference starts again in walk_cfi(), which writes ips anew. Storing each
 * word as it was read kept so many values live that the compiler spilled
 * two of the four to the stack (33 instructions a group of four, 20 now). */
static inline int trace_replay_whole(const struct cfi_trace *e, uintptr_t sp0, uintptr_t *ips,
                                     const uintptr_t **rest)
{
    const int32_t *at = e->at;
    const uintptr_t *pc = e->pc;
    int k = 1, n = e->n;

    if (!e->whole)
        return 0;
    for (; k + 4 <= n; k += 4)
        if (((*(const uintptr_t *)(sp0 + (intptr_t)at[k]) ^ pc[k]) |
             (*(const uintptr_t *)(sp0 + (intptr_t)at[k + 1]) ^ pc[k + 1]) |
             (*(const uintptr_t *)(sp0 + (intptr_t)at[k + 2]) ^ pc[k + 2]) |
             (*(const uintptr_t *)(sp0 + (intptr_t)at[k + 3]) ^ pc[k + 3])) != 0)
            return 0;
    for (; k < n; k++)
        if (*(const uintptr_t *)(sp0 + (intptr_t)at[k]) != pc[k])
            return 0;
    if (rest) {
        ips[0] = pc[0];
        *rest = pc;
    } else {
        memcpy(ips, pc, (size_t)n * sizeof(*ips));
    }
    return 1;
}

static inline int trace_key(const struct cfi_trace *e, const struct exec_table *t, uintptr_t pc,
                            uintptr_t sp, uintptr_t hi, int max)
{
    return e->tab == t && e->pc0 == pc && e->sp0 == sp && e->hi == hi && e->max == max;
}

/* From frame *f (16-aligned, its two words below hi), past the collector's
 * own frames, which keep frame pointers: *f becomes the frame whose return
 * address *pc is the program's first; -1 when the chain leaves the stack. */
static inline int skip_own(uintptr_t *f, uintptr_t hi, uintptr_t *pc)
{
    uintptr_t at = *f;

    for (;;) {
        const uintptr_t *w = (const uintptr_t *)at;
        uintptr_t next = w[0];

        *pc = w[1];
        if (!in_range(&self_range, *pc))
            break;
        /* next lies above, 16-aligned, with its two words below hi */
        if (next - at - 1 >= hi - 16 - at || (next & 15))
            return -1;
        at = next;
    }
    *f = at;
    return 0;
}

static inline unsigned trace_set(uintptr_t sp0, uintptr_t pc)
{
    return (unsigned)(((sp0 >> 4) * 0x9E3779B97F4A7C15ull + pc * 0xff51afd7ed558ccdull) >>
                      (64 - CFI_TRACE_SETS_LOG2));
}

/* Starts a walk whose first frame returns to pc with SP sp0 (FP fp0) from
 * the thread's traces. Two ways a set, the set by Fibonacci hashing of
 * sp0 / 16 plus a constant from pc: the SPs of one pc at different depths,
 * an arithmetic progression, then fall into different sets (a random hash
 * put 4 of unwind_bench's 21 stacks on another's slot). Both ways may hold
 * the same start with different callers (a function called from two places
 * at one depth; churn's two identical sites, folded into one by the
 * linker): the most recently used is replayed first, then the other.
 * Returns the frames when a trace was the whole walk (*hash set); else -1,
 * with *p the frame to step on from (0 when no trace matched), *dest the
 * trace to record into (its frames before p->n hold this walk's) and
 * *matched whether a trace started here. */
static int trace_start(struct cfi_cache *c, const struct exec_table *t, uintptr_t pc, uintptr_t sp0,
                       uintptr_t fp0, uintptr_t hi, int max, uintptr_t *ips, struct cfi_pos *p,
                       struct cfi_trace **dest, int *matched, uint64_t *hash)
{
    unsigned set = trace_set(sp0, pc);
    struct cfi_trace *e = &c->trace[2 * set];
    int mru = c->trace_mru[set], best = -1, k = 0, w;

    for (int j = 0; j < 2; j++) {
        int m;

        w = mru ^ j;
        if (!trace_key(&e[w], t, pc, sp0, hi, max))
            continue;
        m = trace_replay(&e[w], sp0, ips);
        if (__builtin_expect(m == e[w].n, 1)) {
            c->trace_mru[set] = (uint8_t)w;
            *hash = e[w].hash;
            return m;
        }
        if (best < 0 || m > k)
            best = w, k = m;
    }
    *matched = best >= 0;
    *p = (struct cfi_pos){pc, sp0, fp0, 0};
    w = mru ^ 1; /* record into the least recently used way ... */
    if (best >= 0) {
        const struct cfi_trace *b = &e[best];
        int32_t fa = b->fp_at[k];

        p->pc = ips[k];
        p->sp = sp0 + (intptr_t)b->at[k] + 8;
        p->fp = fa == CFI_FP_FIRST ? fp0 : *(const uintptr_t *)(sp0 + (intptr_t)fa);
        p->n = k;
        /* ... keeping the best match (its prefix copied), unless that is the
         * least recently used way and the other way starts elsewhere; when
         * both start here, the shorter match goes */
        if (trace_key(&e[best ^ 1], t, pc, sp0, hi, max))
            w = best ^ 1;
        if (w != best) {
            memcpy(e[w].pc, b->pc, (size_t)(k + 1) * sizeof(b->pc[0]));
            memcpy(e[w].at, b->at, (size_t)(k + 1) * sizeof(b->at[0]));
            memcpy(e[w].fp_at, b->fp_at, (size_t)(k + 1) * sizeof(b->fp_at[0]));
        }
    }
    c->trace_mru[set] = (uint8_t)w;
    e[w].tab = NULL; /* valid again when the walk ends well */
    *dest = &e[w];
    return -1;
}

/* The table walk. Returns the frames, or -1 when libunwind must walk this
 * stack (*why: the counter to charge). The collector's own frames keep frame
 * pointers: their chain, from start, leads to the program's first frame,
 * whose registers are those the hook's frame saved (SP its CFA, FP the
 * saved FP). From there each frame is one rule lookup (at the return address
 * - 1: the call, not what follows it) and one or two loads from the stack,
 * or, for a stack seen before, the trace's replay. */
static __attribute__((noinline)) int walk_cfi(void *start, uintptr_t *ips, int max, uint64_t lo,
                                              uint64_t hi, uint64_t *hash, atomic_ullong **why)
{
    const struct exec_table *t = atomic_load_explicit(&unwtable_tab, memory_order_acquire);
    uintptr_t f = (uintptr_t)(start ? start : __builtin_frame_address(0));
    uintptr_t pc, sp, fp, sp0, fp0;
    intptr_t fp_at = CFI_FP_FIRST;
    struct cfi_cache *c = cfi_cache_get();
    struct cfi_trace *e = NULL;
    uint64_t h = WALK_HASH_SEED;
    int n = 0, rec_end = CFI_TRACE_LEN, fp_stop = 0, whole = 0, matched = 0;

    *why = &cfi_off_stack;
    if (!t || !c || f < lo || f + 16 > hi || (f & 15) || max <= 0)
        return -1;
    if (skip_own(&f, hi, &pc) < 0)
        return -1;
    sp0 = sp = f + 16;
    fp0 = fp = ((const uintptr_t *)f)[0];
    if (__builtin_expect(c->tab != t, 0)) {
        memset(c, 0, offsetof(struct cfi_cache, trace));
        c->tab = t;
    }
    {
        struct cfi_pos p = {0, 0, 0, 0};
        int m = trace_start(c, t, pc, sp0, fp0, hi, max, ips, &p, &e, &matched, hash);

        if (__builtin_expect(unwind_check, 0))
            atomic_fetch_add_explicit(m >= 0 ? &cfi_replayed : &cfi_diverged, m >= 0 || matched,
                                      memory_order_relaxed);
        if (m >= 0)
            return m;
        pc = p.pc, sp = p.sp, fp = p.fp, n = p.n;
        fp_at = n ? e->fp_at[n] : CFI_FP_FIRST;
        for (int k = 0; k < n; k++)
            h = walk_hash_step(h, ips[k]);
    }
    /* every offset from sp0 fits in the record's 32 bits (the CFAs stay
     * below hi) */
    if (hi - sp0 > INT32_MAX / 2)
        rec_end = 0;
    for (;;) {
        unsigned i = pc & (CFI_CACHE - 1), flags;
        uintptr_t cfa;

        if (n < rec_end) {
            e->pc[n] = pc;
            e->at[n] = (int32_t)(sp - sp0) - 8;
            e->fp_at[n] = (int32_t)fp_at;
        }
        ips[n++] = pc;
        h = walk_hash_step(h, pc);
        if (__builtin_expect(c->pc[i] != pc, 0) && cfi_fill(t, pc, c, i) < 0) {
            *why = &cfi_no_rule;
            return -1;
        }
        flags = c->flags[i];
        if (__builtin_expect(flags & CFI_END, 0)) {
            whole = 1;
            break;
        }
        /* a branch, not a select: predicted, it keeps FP off the chain of
         * loads from one frame to the next */
        if (__builtin_expect(flags & CFI_FP_BASE, 0)) {
            cfa = fp + (intptr_t)c->cfa_off[i];
            if (rec_end > n) /* the frames from here on depend on FP */
                rec_end = n;
            fp_stop = 1;
        } else {
            cfa = sp + (intptr_t)c->cfa_off[i];
        }
        /* the CFA lies above this frame's SP, inside the stack, 8-aligned:
         * the return address below it can be read */
        if (cfa < sp + 8 || cfa > hi || (cfa & 7))
            return -1;
        if (flags & CFI_FP_SAVED) {
            uintptr_t at = cfa + (intptr_t)c->fp_off[i];

            if (at - sp > hi - sp - 8)
                return -1;
            fp = *(const uintptr_t *)at;
            fp_at = at - sp0;
        }
        pc = ((const uintptr_t *)cfa)[-1];
        sp = cfa;
        if (n >= max) {
            whole = 1;
            break;
        }
        /* libunwind ends the trace there too (a word the trace does not
         * record: its replay steps the last frame again) */
        if (pc < 0x4000)
            break;
    }
    /* whole: the end follows from the recorded frames alone */
    *hash = walk_hash_final(h, n);
    if (rec_end > 0) {
        e->n = n < rec_end ? n : rec_end;
        e->whole = whole && !fp_stop && n <= rec_end;
        e->hash = *hash;
        e->pc0 = e->pc[0], e->sp0 = sp0, e->hi = hi, e->max = max, e->tab = t;
    }
    return n;
}

/* The table walk, with its common case first: the stack was walked from
 * this start before and the most recently used trace there replays whole.
 * That is what walk_cfi() would find first too, with the same frames and
 * hash; anything else (no trace, a difference, a table or cache to set up)
 * is walk_cfi()'s, from the start. Check mode compares these walks too.
 * Apart, because walk_cfi()'s step loop keeps every register busy: its
 * entry saved and spilled a dozen of them for every walk, and 92% of
 * python3's walks end here. */
__attribute__((noinline)) int unwind_walk_cfi(void *start, uintptr_t *ips, int max, uint64_t lo,
                                              uint64_t hi, uint64_t *hash, atomic_ullong **why,
                                              const uintptr_t **rest)
{
    const struct exec_table *t = atomic_load_explicit(&unwtable_tab, memory_order_acquire);
    const struct cfi_cache *c = cfi_cache;
    uintptr_t f = (uintptr_t)start, pc;

    if (__builtin_expect(!t || !c || c->tab != t || !f, 0) || f < lo || f + 16 > hi || (f & 15) ||
        max <= 0)
        return walk_cfi(start, ips, max, lo, hi, hash, why);
    if (skip_own(&f, hi, &pc) < 0)
        return walk_cfi(start, ips, max, lo, hi, hash, why);
    {
        uintptr_t sp0 = f + 16;
        unsigned set = trace_set(sp0, pc);
        const struct cfi_trace *e = &c->trace[2 * set + c->trace_mru[set]];

        if (trace_key(e, t, pc, sp0, hi, max) && trace_replay_whole(e, sp0, ips, rest)) {
            if (__builtin_expect(unwind_check, 0)) /* counted as walk_cfi() does */
                atomic_fetch_add_explicit(&cfi_replayed, 1, memory_order_relaxed);
            *hash = e->hash;
            return e->n;
        }
    }
    return walk_cfi(start, ips, max, lo, hi, hash, why);
}

/* The walk stopped at stop, in code without frame pointers, and libunwind
 * found ips[0..n). If stop is among the outermost frames and not a root yet,
 * the thread's roots were taken somewhere else (a thread registered early,
 * in a library constructor, saw other outermost frames than main's): take
 * them again from here, so the next walk ends there. */
static void learn_roots(struct unwind_root *roots, uintptr_t stop, const uintptr_t *ips, int n,
                        int max)
{
    if (n <= 0 || n >= max)
        return;
    for (int i = 0; i < UNWIND_ROOTS; i++)
        if (roots[i].ip == stop)
            return; /* known (a recursive function at another depth) */
    for (int k = n - 1; k >= 0 && k >= n - UNWIND_ROOTS; k--)
        if (ips[k] == stop) {
            unwind_roots(roots);
            return;
        }
}

/* Check mode: the table walk's frames against libunwind's, counted; the
 * first difference on stderr, once. */
static void check_walk(const uintptr_t *mine, int nm, const uintptr_t *unw, int nu)
{
    static atomic_int said;
    char msg[2048];
    size_t len;

    if (nm == nu && memcmp(mine, unw, (size_t)nu * sizeof(*unw)) == 0) {
        atomic_fetch_add_explicit(&cfi_equal, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&cfi_differ, 1, memory_order_relaxed);
    if (atomic_exchange(&said, 1))
        return;
    len = (size_t)snprintf(msg, sizeof(msg),
                           "unwind check: the table walk's %d frames differ from "
                           "unw_backtrace's %d:",
                           nm, nu);
    for (int i = 0; i < (nm > nu ? nm : nu) && len + 48 < sizeof(msg); i++)
        len += (size_t)snprintf(msg + len, sizeof(msg) - len, " %lx/%lx",
                                i < nm ? (unsigned long)mine[i] : 0ul,
                                i < nu ? (unsigned long)unw[i] : 0ul);
    core_say(msg);
}

int unwind_capture_other(void *start, uintptr_t *ips, int max, uint64_t stack_lo, uint64_t stack_hi,
                         struct unwind_root *roots, uint64_t *hash, atomic_ullong *failed)
{
    uintptr_t stop = 0;
    int n = -1;

    if (failed) {
        atomic_fetch_add_explicit(failed, 1, memory_order_relaxed);
    } else if (unwind_check && stack_hi) {
        atomic_ullong *why;
        uintptr_t mine[CORE_MAX_DEPTH];
        int nm = unwind_walk_cfi(start, mine, max, stack_lo, stack_hi, hash, &why, NULL);

        atomic_fetch_add_explicit(&cfi_walks, 1, memory_order_relaxed);
        n = capture_unw(ips, max);
        if (nm >= 0)
            check_walk(mine, nm, ips, n);
        else
            atomic_fetch_add_explicit(why, 1, memory_order_relaxed);
        *hash = unwind_hash(ips, n > 0 ? n : 0);
        return n;
    } else if (unwind_fp && stack_hi) {
        atomic_ullong *why;

        n = walk_fp(start, ips, max, (uintptr_t)stack_lo, (uintptr_t)stack_hi, roots, &stop, hash);
        if (n >= 0)
            return n;
        /* a module without frame pointers (libc's wrappers of malloc, a
         * library built without them): its rules, when compiled */
        if (cfi_tables) {
            n = unwind_walk_cfi(start, ips, max, stack_lo, stack_hi, hash, &why, NULL);
            if (n >= 0) {
                atomic_fetch_add_explicit(&fp_to_table, 1, memory_order_relaxed);
                if (stop)
                    learn_roots(roots, stop, ips, n, max);
                return n;
            }
        }
        atomic_fetch_add_explicit(&fp_fallback, 1, memory_order_relaxed);
    }
    n = capture_unw(ips, max);
    if (stop)
        learn_roots(roots, stop, ips, n, max);
    *hash = unwind_hash(ips, n > 0 ? n : 0);
    return n;
}

void unwind_rules_all(void)
{
    unwtable_compile_all();
}

uint64_t unwind_fallbacks(void)
{
    return atomic_load(&fp_fallback) +
           (unwind_cfi ? atomic_load(&cfi_no_rule) + atomic_load(&cfi_off_stack) : 0);
}

void unwind_describe(char *buf, size_t size)
{
    if (!unwind_cfi) {
        snprintf(buf, size,
                 "%llu frame-pointer fallbacks (%llu more finished by the table walk: %zu "
                 "modules, %zu rules, %zu KiB, compiled in %.1f ms)",
                 (unsigned long long)atomic_load(&fp_fallback),
                 (unsigned long long)atomic_load(&fp_to_table), unwtable_stats.modules,
                 unwtable_stats.rows, unwtable_stats.bytes / 1024, unwtable_stats.build_ns / 1e6);
        return;
    }
    int len =
        snprintf(buf, size,
                 "table walks: %llu to libunwind (%llu without a rule, %llu off the "
                 "stack; %zu modules, %zu rules, %zu KiB, compiled in %.1f ms; %llu rules read "
                 "from one FDE before their module's were)",
                 (unsigned long long)(atomic_load(&cfi_no_rule) + atomic_load(&cfi_off_stack)),
                 (unsigned long long)atomic_load(&cfi_no_rule),
                 (unsigned long long)atomic_load(&cfi_off_stack), unwtable_stats.modules,
                 unwtable_stats.rows, unwtable_stats.bytes / 1024, unwtable_stats.build_ns / 1e6,
                 (unsigned long long)atomic_load(&cfi_one_fde));
    if (unwind_check && len > 0 && (size_t)len < size)
        snprintf(buf + len, size - (size_t)len,
                 ", %llu checked against unw_backtrace: %llu equal, %llu different"
                 " (%llu replayed whole from a thread's traces, %llu replays stepped on)",
                 (unsigned long long)atomic_load(&cfi_walks),
                 (unsigned long long)atomic_load(&cfi_equal),
                 (unsigned long long)atomic_load(&cfi_differ),
                 (unsigned long long)atomic_load(&cfi_replayed),
                 (unsigned long long)atomic_load(&cfi_diverged));
}
