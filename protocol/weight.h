/*
 * weight.h - the weight of one sampled block, as both ends of the wire
 * count it: the collector sums it into a site's estimate (collector/sites.c),
 * the TUI into a thread's or a tag's (tui/model_events.c), so the two agree.
 *
 * A block of size bytes sampled at rate (HELLO's sample_rate: a Poisson
 * process of that mean over the bytes allocated) was picked with probability
 * p = 1 - e^(-size/rate); it stands for size / p bytes and 1 / p blocks (the
 * unbiased estimator of tcmalloc, jemalloc and pprof). Blocks of rate bytes
 * or more are recorded exactly (p = 1), and so is every block in exact mode
 * (rate 0).
 */
#ifndef HEAPLINE_WEIGHT_H
#define HEAPLINE_WEIGHT_H

#include <math.h>
#include <stdint.h>

/* *bytes = size / p, *blocks_fp = 65536 / p (blocks in fixed point, 1/65536).
 * Any thread; no state. */
static inline void weight_of(uint64_t rate, uint64_t size, uint64_t *bytes, uint64_t *blocks_fp)
{
    double p;

    if (!rate || size >= rate) {
        *bytes = size;
        *blocks_fp = 65536;
        return;
    }
    p = -expm1(-(double)(size ? size : 1) / (double)rate);
    *bytes = (uint64_t)llround((double)size / p);
    *blocks_fp = (uint64_t)llround(65536.0 / p);
}

#endif
