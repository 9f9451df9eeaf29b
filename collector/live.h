/*
 * live.h - the exact table of live allocations (address -> size, stack, time,
 * allocation sequence number, thread, tag), owned by the collector thread.
 *
 * Open addressing with linear probing and backward-shift deletion in mmap'd
 * memory: 32-byte entries kept between 0.3 and 3/4 full (see live.c), so the
 * table costs 43 to 64 bytes per live block as the heap grows, at most 107
 * after it shrank. Only the collector thread reads or writes it; a
 * fork()ed scan child may walk it with live_foreach (no allocation, no lock).
 *
 * An entry packs 256 bits: addresses and sizes take 48 bits (Linux hands a
 * program addresses above 2^48 only when it asks for them with an mmap hint;
 * such a block is refused and tracking stops, see normalise.c), the time 56
 * bits of nanoseconds (2.28 years from the collector's start), the sequence
 * number its 40 wire bits (wire.h), stack, thread and tag their wire bounds.
 */
#ifndef HEAPLINE_LIVE_H
#define HEAPLINE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#define LIVE_ADDR_BITS 48
#define LIVE_TIME_BITS 56

struct live_entry {
    uint64_t addr : LIVE_ADDR_BITS; /* 0: empty slot */
    uint64_t tag : 16;              /* <= WIRE_MAX_TAG_ID */
    uint64_t size : LIVE_ADDR_BITS;
    uint64_t time : LIVE_TIME_BITS; /* ns since the collector started */
    uint64_t seq : 40;              /* allocation sequence number, mod 2^WIRE_SEQ_BITS */
    uint64_t stack : 24;            /* < TRIE_MAX_NODES */
    uint64_t thread : 24;           /* <= WIRE_MAX_THREAD_ID */
} __attribute__((packed, aligned(8)));

_Static_assert(sizeof(struct live_entry) == 32, "a live entry is 32 bytes");

/* Fills an entry as the bit-field initializer would, but from four whole
 * words: the initializer is compiled to narrow stores and a wide reload, a
 * store-forwarding stall on every insert. Values are cut to their widths.
 * (GCC's x86-64 layout: fields from bit 0 up, straddling words when packed;
 * test_live checks it against the bit fields.) */
static inline void live_pack(struct live_entry *dst, uint64_t addr, uint64_t tag, uint64_t size,
                             uint64_t time, uint64_t seq, uint64_t stack, uint64_t thread)
{
    const uint64_t m48 = (1ull << 48) - 1, m24 = (1ull << 24) - 1;
    uint64_t w[4];

    time &= (1ull << LIVE_TIME_BITS) - 1;
    seq &= (1ull << 40) - 1;
    w[0] = (addr & m48) | (tag << 48);
    w[1] = (size & m48) | (time << 48); /* time bits 0..15 */
    w[2] = (time >> 16) | (seq << 40);  /* time bits 16..55, seq bits 0..23 */
    w[3] = (seq >> 24) | ((stack & m24) << 16) | ((thread & m24) << 40);
    __builtin_memcpy(dst, w, sizeof(w));
}

/* Whether a block fits an entry (its address and size within LIVE_ADDR_BITS). */
static inline int live_fits(uint64_t addr, uint64_t size)
{
    return (addr >> LIVE_ADDR_BITS) == 0 && (size >> LIVE_ADDR_BITS) == 0;
}

int live_init(void);
void live_reset(void);

/* The entry of a live block starting at addr, or NULL. */
struct live_entry *live_find(uint64_t addr);

/* Starts loading the slot where a lookup of addr begins (for a lookup soon
 * after: the table outgrows the caches). No effect on the table. Worth it
 * only while live_prefetch_worth is set: the table is larger than a core's
 * L2 cache (below that, the call cost a churn run 5% of the collector's
 * time and saved nothing). */
void live_prefetch(uint64_t addr);
extern int live_prefetch_worth;

/* Adds a block (addr must not be live). Returns 0 or -1 (out of memory: the
 * caller turns tracking off). Invalidates entry pointers. */
int live_insert(const struct live_entry *e);

/* live_find() that also sets *slot to where addr would be inserted (the
 * empty slot that ended the probe) when it is not live, else to NULL. */
struct live_entry *live_find_slot(uint64_t addr, struct live_entry **slot);

/* live_insert() given the slot from live_find_slot() for e->addr, with no
 * insert or remove since (NULL: probe again). Same result and same layout:
 * put() would stop at that slot. */
int live_insert_at(const struct live_entry *e, struct live_entry *slot);

/* Removes the entry returned by live_find(). Invalidates entry pointers. */
void live_remove(struct live_entry *e);

size_t live_count(void);
size_t live_bytes_used(void); /* bytes of table memory */

typedef void live_fn(void *arg, const struct live_entry *e);
/* Calls fn for every live entry. No allocation, no lock. */
void live_foreach(live_fn *fn, void *arg);

/* A walk in steps, for work spread over the collector's turns: calls fn for
 * the live entries of slots [from, from + n) and returns where the next step
 * starts (live_slots() at the end). Slots are renumbered when the table is
 * resized (live_generation() changes: start again); between steps a removal
 * may shift an entry from after the walk's position to before it (it is
 * then not seen) or, at the table's wrap, the other way (seen twice). */
size_t live_walk(size_t from, size_t n, live_fn *fn, void *arg);
size_t live_slots(void);
unsigned live_generation(void);

/* The live block containing addr (start <= addr < start + size), or NULL.
 * Walks the whole table: for rare requests only. */
struct live_entry *live_find_containing(uint64_t addr);

#endif
