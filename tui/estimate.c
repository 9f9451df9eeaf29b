/*
 * estimate.c - error bounds of sampled figures (the reasoning is in
 * estimate.h); the TUI and report show them beside every estimate.
 */
#include "estimate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

/* The variance of an estimate of bytes in blocks at rate (0: exact). */
static double variance(uint64_t rate, int64_t bytes, int64_t blocks)
{
    double x, f;

    if (!rate || bytes <= 0)
        return 0;
    x = blocks > 0 ? (double)bytes / (double)blocks / (double)rate : 0;
    f = x < 1e-9 ? 1.0 : x > 700 ? 0.0 : x / expm1(x);
    return (double)bytes * (double)rate * f;
}

uint64_t estimate_error(uint64_t rate, int64_t bytes, int64_t blocks)
{
    return (uint64_t)llround(2.0 * sqrt(variance(rate, bytes, blocks)));
}

/* The variance of an estimate of blocks at rate: blocks / (e^x - 1) at the
 * mean block size x = bytes / blocks / rate (estimate.h); a mean under one
 * byte is taken as one byte (weight_of() samples a 0-byte block as 1). */
static double blocks_variance(uint64_t rate, int64_t bytes, int64_t blocks)
{
    double x;

    if (!rate || blocks <= 0)
        return 0;
    x = bytes > blocks ? (double)bytes / (double)blocks / (double)rate : 1.0 / (double)rate;
    return x > 700 ? 0.0 : (double)blocks / expm1(x);
}

uint64_t estimate_blocks_error(uint64_t rate, int64_t bytes, int64_t blocks)
{
    return (uint64_t)llround(2.0 * sqrt(blocks_variance(rate, bytes, blocks)));
}

uint64_t estimate_change_error(uint64_t rate_a, int64_t bytes_a, int64_t blocks_a, uint64_t rate_b,
                               int64_t bytes_b, int64_t blocks_b)
{
    int a_larger = bytes_a >= bytes_b;
    int64_t bytes = a_larger ? bytes_a : bytes_b, blocks = a_larger ? blocks_a : blocks_b;

    return (uint64_t)llround(
        2.0 * sqrt(variance(rate_a, bytes, blocks) + variance(rate_b, bytes, blocks)));
}

const char *estimate_format_bound(char *buf, size_t n, uint64_t bound)
{
    char s[32];

    size_format(s, sizeof(s), (double)bound);
    snprintf(buf, n, "+-%s", s);
    return buf;
}

const char *estimate_format_count(char *buf, size_t n, uint64_t bound)
{
    snprintf(buf, n, "+-%llu", (unsigned long long)bound);
    return buf;
}

const char *estimate_format(char *buf, size_t n, uint64_t rate, int64_t bytes, int64_t blocks)
{
    if (!rate) {
        if (n)
            buf[0] = 0;
        return buf;
    }
    return estimate_format_bound(buf, n, estimate_error(rate, bytes, blocks));
}

void estimate_mark(char *buf, size_t n)
{
    size_t len = strlen(buf);

    if (n < 2)
        return;
    if (len > n - 2)
        len = n - 2;
    memmove(buf + 1, buf, len);
    buf[0] = '~';
    buf[len + 1] = 0;
}
