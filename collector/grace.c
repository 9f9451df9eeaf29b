/*
 * grace.c - grace periods by the rings' heads (grace.h).
 *
 * Invariant: a program thread reads the stack trie only inside a tracked
 * call, after it took its ring and before it commits that call's event
 * (track.c): the head's release store orders every read before it. So a
 * thread whose head moved past the value seen at grace_start() has ended
 * any reading it was doing then, and one that has exited reads nothing.
 * A thread whose ring was listed after grace_start() read trie_levels after
 * the ring was listed (ring_register's fence), so after what was retired
 * had been retired: it never reads it.
 */
#include "grace.h"

#include "ring.h"

static unsigned grace_gen;

void grace_start(void)
{
    if (++grace_gen == 0)
        grace_gen = 1;                         /* 0 is a fresh ring's */
    atomic_thread_fence(memory_order_seq_cst); /* pairs with ring_register's */
    for (struct ring *r = ring_list(); r; r = r->next) {
        r->grace_gen = grace_gen;
        r->grace_head = atomic_load_explicit(&r->head, memory_order_acquire);
    }
}

int grace_passed(void)
{
    for (struct ring *r = ring_list(); r; r = r->next) {
        if (r->grace_gen != grace_gen || atomic_load_explicit(&r->dead, memory_order_acquire))
            continue;
        if (atomic_load_explicit(&r->head, memory_order_acquire) == r->grace_head)
            return 0;
    }
    return 1;
}
