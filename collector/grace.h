/*
 * grace.h - grace periods for memory that the program's threads read
 * without a lock (the stack trie's older indexes): when every thread that
 * may have been reading it when it was retired has passed a point where it
 * holds nothing it read before.
 */
#ifndef HEAPLINE_GRACE_H
#define HEAPLINE_GRACE_H

/* Starts a grace period: what was retired before this call may be freed
 * once grace_passed() says so. Collector thread. */
void grace_start(void);

/* 1 once every thread listed at grace_start() has committed an event since
 * (each interning ends with one) or exited; 0 while one has not (a thread
 * that never allocates again keeps it 0: the memory then stays). Collector
 * thread. */
int grace_passed(void);

#endif
