/*
 * live.h - the exact table of live allocations (address -> size, stack, time,
 * allocation sequence number, thread, tag), owned by the collector thread.
 *
 * Open addressing with linear probing and backward-shift deletion in mmap'd
 * memory: 16-byte entries, 16-byte aligned (a free touches one cache line),
 * kept between 0.3 and 0.85 full (see live.c), rehashed after a growth a
 * few slots an event. Only the collector thread reads or writes it; a
 * fork()ed scan child may walk it with live_foreach (no allocation, no
 * lock).
 *
 * An entry packs 128 bits, each field read where it is needed:
 * - the address divided by 8 (44 bits): blocks lie below 2^47 (x86-64's
 *   user space: Linux hands a program addresses above it only when it asks
 *   with an mmap hint) and are 8-byte aligned (every malloc is: glibc's
 *   16, jemalloc's and tcmalloc's smallest classes 8); other blocks are
 *   refused and tracking stops (normalise.c);
 * - the size (16 bits; sizes from 65535 up are kept beside the table, in a
 *   hash by address: each such block is 64 KiB or more, so they cost at
 *   most 1/2048 of the bytes they hold);
 * - the allocation sequence number (its 40 wire bits, wire.h) and the stack
 *   (21 bits: the trie's ids, TRIE_MAX_NODES);
 * - the thread and tag as an index among the (thread, tag) pairs seen with
 *   the block's stack (7 bits, livepair.h: past 126 pairs a stack's further
 *   blocks keep theirs by address).
 * The time is not in the entry: it comes from the sequence number. Epochs,
 * runs of sequence numbers, keep the earliest and latest time of their
 * blocks, a new one when an insert's time would make that span 65536 ns
 * or more; a ring of the time's low 16 bits by sequence number for the
 * latest LIVE_TIME_RING inserts gives those blocks' times exact. An older
 * block reads the earliest time of its epoch (at most 65535 ns early).
 * Only the latest LIVE_EXACT_EPOCHS epochs are kept so; older ones are
 * merged in pairs (live.c), and a block of a merged epoch reads the
 * earliest time of its epoch (the epoch spans its true time).
 * A free reads the address, size, stack and sequence number, all in the
 * entry; whether the entry is newer than the free (live_newer) needs no
 * more unless the free is older than the latest insert.
 */
#ifndef HEAPLINE_LIVE_H
#define HEAPLINE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_ADDR_BITS 47
#define LIVE_STACK_BITS 21

/* One slot of the table: read it through the functions below. Word 0 is
 * the address / 8 (bits 0-43), the pair index's high bits (44-47) and the
 * size (48-63); word 1 the sequence number (0-39), the pair index's low
 * bits (40-42) and the stack (43-63): a free reads the size and the stack
 * with one shift each. */
struct live_entry {
    uint64_t w[2];
};

_Static_assert(sizeof(struct live_entry) == 16, "a live entry is 16 bytes");

/* Epochs whose blocks' times read back exact (live.h's comment). */
#define LIVE_EXACT_EPOCHS 16384u
/* An epoch spans less than this many ns while it is exact. */
#define LIVE_EPOCH_SPAN 65536
/* The latest inserts whose times read back exact (2 bytes each). */
#define LIVE_TIME_RING (1u << 20)

/* A live block, unpacked. */
struct live_block {
    uint64_t addr, size;
    int64_t time;    /* ns since the collector started */
    uint64_t seq;    /* allocation sequence number: live_insert takes the whole
                      * count (each insert a larger one than the last), the
                      * table gives it back mod 2^WIRE_SEQ_BITS */
    uint32_t stack;  /* < 2^LIVE_STACK_BITS */
    uint32_t thread; /* <= WIRE_MAX_THREAD_ID */
    uint32_t tag;    /* <= WIRE_MAX_TAG_ID */
};

#define LIVE_W0_ADDR ((1ull << 44) - 1)
#define LIVE_SIZE_BIG 0xffffu /* the size is beside the table */

/* Whether a block fits an entry (below 2^LIVE_ADDR_BITS, 8-byte aligned, its
 * size below 2^LIVE_ADDR_BITS). */
static inline int live_fits(uint64_t addr, uint64_t size)
{
    return (addr >> LIVE_ADDR_BITS) == 0 && (addr & 7) == 0 && (size >> LIVE_ADDR_BITS) == 0;
}

static inline uint64_t live_addr(const struct live_entry *e)
{
    return (e->w[0] & LIVE_W0_ADDR) << 3;
}

uint64_t live_size_big(const struct live_entry *e);

static inline uint64_t live_size(const struct live_entry *e)
{
    uint32_t s = (uint32_t)(e->w[0] >> 48);

    return s != LIVE_SIZE_BIG ? s : live_size_big(e);
}

static inline uint32_t live_stack(const struct live_entry *e)
{
    return (uint32_t)(e->w[1] >> (64 - LIVE_STACK_BITS));
}

/* The sequence number, mod 2^40. */
static inline uint64_t live_seq(const struct live_entry *e)
{
    return e->w[1] & ((1ull << 40) - 1);
}

/* The time: exact for the latest LIVE_TIME_RING inserts in the latest
 * LIVE_EXACT_EPOCHS epochs, else the earliest of its epoch's (live.h's
 * comment). Finds the epoch (a binary search). */
int64_t live_time(const struct live_entry *e);

/* Whether e's block was allocated later than t (live_time(e) > t), for the
 * normaliser's stragglers: no epoch looked up when t is at or past every
 * insert's time (the common free). Exact while its time is; otherwise
 * (older than LIVE_TIME_RING inserts, or its epoch merged) exact when t
 * lies outside its epoch's span, else as live_time() does. */
int live_newer(const struct live_entry *e, int64_t t);
/* All fields (seq mod 2^40). */
void live_get(const struct live_entry *e, struct live_block *b);

int live_init(void);
void live_reset(void);

/* The entry of a live block starting at addr, or NULL. */
struct live_entry *live_find(uint64_t addr);

/* Starts loading the slots where a lookup of addr begins, the home's cache
 * line and the two after it (for a lookup soon after: the table outgrows
 * the caches). No effect on the table. Worth it
 * only while live_prefetch_worth is set: the table is larger than a core's
 * L2 cache (below that, the call cost a churn run 5% of the collector's
 * time and saved nothing). */
void live_prefetch(uint64_t addr);
extern int live_prefetch_worth;

/* Adds a block (b->addr must not be live, b must fit: live_fits). Returns 0
 * or -1 (out of memory, or 2^19 (thread, tag) pairs: the caller turns
 * tracking off). Invalidates entry pointers. */
int live_insert(const struct live_block *b);

/* live_find() that also sets *slot to where addr would be inserted (the
 * empty slot that ended the probe) when it is not live, else to NULL. */
struct live_entry *live_find_slot(uint64_t addr, struct live_entry **slot);

/* live_insert() given the slot from live_find_slot() for b->addr, with no
 * insert or remove since (NULL: probe again). Same result and same layout:
 * the probe would stop at that slot. */
int live_insert_at(const struct live_block *b, struct live_entry *slot);

/* Removes the entry returned by live_find(). Invalidates entry pointers. */
void live_remove(struct live_entry *e);

/* The collector's loop, every turn: a table that has stayed under 0.3 full
 * for LIVE_SHRINK_AFTER_NS (by now's clock, ns) shrinks. Not sooner: a
 * teardown that ends the program would pay for shrinks it never uses. */
#define LIVE_SHRINK_AFTER_NS 1000000000LL
void live_maintain(int64_t now);

size_t live_count(void);
size_t live_bytes_used(void); /* bytes of table memory, the side tables included */

typedef void live_fn(void *arg, const struct live_entry *e);
/* Calls fn for every live entry. No allocation, no lock, no change to the
 * table (during a growth's sweep too). */
void live_foreach(live_fn *fn, void *arg);

/* A walk in steps, for work spread over the collector's turns: calls fn for
 * the live entries of slots [from, from + n) and returns where the next step
 * starts (live_slots() at the end). Slots are renumbered when the table is
 * resized (live_generation() changes: start again); between steps a removal
 * may shift an entry from after the walk's position to before it (it is
 * then not seen) or, at the table's wrap, the other way (seen twice).
 * A growth's sweep under way (live.c's grow()) ends first: the stop it
 * would have cost at once, only while a client walks. */
size_t live_walk(size_t from, size_t n, live_fn *fn, void *arg);
size_t live_slots(void);
unsigned live_generation(void);

/* The live block containing addr (start <= addr < start + size), or NULL.
 * Walks the whole table: for rare requests only. */
struct live_entry *live_find_containing(uint64_t addr);

#endif
