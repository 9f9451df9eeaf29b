/*
 * estimate.h - how sure a sampled figure is.
 *
 * In sampling mode (model_summary()->sample_rate = R) a site's live bytes
 * are the sum of its sampled blocks' weights w = s / (1 - e^(-s/R)). A
 * sampled block of s bytes adds w^2 e^(-s/R) = R w f(s/R) to the variance,
 * f(x) = x / (e^x - 1): R w for blocks much smaller than R, less for larger
 * ones, nothing for blocks of R or more (recorded exactly). So the standard
 * error of an estimate of B bytes is sqrt(B R f(x)) <= sqrt(B R): 5% once a
 * site holds 400 intervals (B = 400 R). x is taken at the site's mean block
 * size (B / blocks), which the ticks carry (the sizes of single blocks they
 * do not); the bound shown is two standard errors (about 95%).
 */
#ifndef HEAPLINE_ESTIMATE_H
#define HEAPLINE_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

/* The 95% bound of an estimate of bytes in blocks at rate (0: exact, 0
 * returned). */
uint64_t estimate_error(uint64_t rate, int64_t bytes, int64_t blocks);

/* "+-1.20 MiB" (estimate_error) into buf; "" when rate is 0. Returns buf. */
const char *estimate_format(char *buf, size_t n, uint64_t rate, int64_t bytes, int64_t blocks);

/* Marks the figure in buf as an estimate: "~" in front (in place, cut to n). */
void estimate_mark(char *buf, size_t n);

#endif
