/*
 * scanpydeque.c - which words of a collections.deque's blocks are references.
 *
 * A deque keeps its items in a chain of fixed blocks (leftlink, 64 item
 * slots, rightlink), mallocs them one by one, and never clears a slot it
 * pops from or a block it caches for reuse. A conservative scan takes those
 * stale words for references: a work queue seems to hold items it handed
 * out long ago, and the left block's uninitialised leftlink once made a
 * 100 KB buffer look held by a Condition's waiters.
 *
 * Invariant: a block is listed only when the deque object's own fields add
 * up (indices inside a block, the length and the indices agreeing, the
 * chain from leftblock reaching rightblock in exactly the blocks its length
 * needs); a deque that does not add up lists nothing, so its blocks are
 * scanned whole, as before. Runs in the scan child, whose fault catching
 * covers the reads of the chain (a block is not looked up first: a binary
 * search a block over a million blocks made the table cost more than the
 * scan it serves).
 */
#include "scanpy.h"

#include "scanpy_layout.h"

static size_t put(struct scanpy_dqblock *out, size_t n, uint64_t addr, uint32_t vlo, uint32_t vhi)
{
    out[n].addr = addr;
    out[n].vlo = vlo; /* an empty deque's one block: vlo == vhi, leftindex == rightindex + 1 */
    out[n].vhi = vhi;
    return n + 1;
}

size_t scanpy_deque_blocks(const struct scanpy *py, const struct scanpy_obj *o,
                           struct scanpy_dqblock *out, size_t cap)
{
    const struct scanpy_layout *l = py->lay;
    const uint64_t *f = (const uint64_t *)(uintptr_t)o->ob;
    uint64_t len = f[l->var_size / 8], left = f[l->deque_leftblock / 8];
    uint64_t right = f[l->deque_rightblock / 8], li = f[l->deque_leftindex / 8];
    uint64_t ri = f[l->deque_rightindex / 8], nfree = f[l->deque_numfree / 8];
    uint64_t bl = l->deque_blocklen, bytes = 8 * (bl + 2), want, b = left;
    size_t n = 0;

    if (!l->deque_blocklen || o->kind != SCANPY_DEQUE || li >= bl || ri >= bl ||
        nfree > l->deque_maxfree || len > (1ull << 40))
        return 0;
    /* the blocks its length needs: items leftindex .. leftindex + len - 1 */
    want = len ? (li + len - 1) / bl + 1 : 1;
    if (len ? (li + len - 1) % bl != ri : (left != right || li != ri + 1))
        return 0;
    if (want + nfree > cap)
        return 0; /* more blocks than the snapshot has room for: not a deque's fields */
    for (uint64_t i = 0; i < want; i++) {
        /* slot k's word is at 8 + 8k; the left block's leftlink and the right
         * block's rightlink are never written (the chain is not circular) */
        uint32_t vlo = i == 0 ? (uint32_t)(8 + 8 * li) : 0;
        uint32_t vhi = i == want - 1 ? (uint32_t)(8 + 8 * (ri + 1)) : (uint32_t)bytes;
        if (!b || (b & 7) || (i == want - 1) != (b == right))
            return 0;
        n = put(out, n, b, vlo, vhi);
        if (i + 1 < want)
            b = *(const uint64_t *)(uintptr_t)(b + bytes - 8);
    }
    /* blocks cached for reuse: every word is left from their last use */
    for (uint64_t i = 0; i < nfree; i++) {
        uint64_t fb = f[(l->deque_freeblocks + 8 * i) / 8];
        if (!fb || (fb & 7))
            return 0;
        n = put(out, n, fb, 0, 0);
    }
    return n;
}

uint64_t scanpy_deque_object_bytes(const struct scanpy *py)
{
    return py->lay && py->lay->deque_basic ? (uint64_t)py->lay->gc_head + py->lay->deque_basic : 0;
}
