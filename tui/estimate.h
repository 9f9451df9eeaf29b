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
 *
 * Blocks. A block of s bytes is picked with p = 1 - e^(-s/R) and stands for
 * w = 1 / p blocks, so its count adds I / p (I: picked or not, mean p) whose
 * variance is (1 - p) / p = 1 / (e^(s/R) - 1). That is estimated without bias
 * from the picked blocks alone by summing (1 - p) / p^2 = w (w - 1) over them
 * (its mean is the sum of p (1 - p) / p^2 over every block). With every block
 * of the site at its mean size, x = B / (N R) for N estimated blocks, the sum
 * is N (w - 1) = N / (e^x - 1) = N g(x): about N R / s for blocks much
 * smaller than R (so 2 sqrt(N R / s) blocks for the 95% bound), the bytes'
 * variance over s^2 (the two bounds agree: blocks bound = bytes bound / mean
 * size). The mean size is the one approximation, the same as the bytes':
 * g is convex, so for a site whose blocks differ widely in size (a few large
 * ones beside many small ones) the bound is too narrow; for blocks of R or
 * more, recorded exactly, it is too wide (g(1) = 0.58, not 0; g(20) ~ 2e-9);
 * for blocks of one size under R it is the estimator's own.
 */
#ifndef HEAPLINE_ESTIMATE_H
#define HEAPLINE_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

/* The 95% bound of an estimate of bytes in blocks at rate (0: exact, 0
 * returned). */
uint64_t estimate_error(uint64_t rate, int64_t bytes, int64_t blocks);

/* The 95% bound of an estimate of blocks (bytes in them, their estimated
 * bytes) at rate (0: exact, 0 returned). */
uint64_t estimate_blocks_error(uint64_t rate, int64_t bytes, int64_t blocks);

/* The 95% bound of a change from A to B of a site's bytes, either side
 * sampled (rate 0: exact): what the two estimates may differ by when the
 * site did not change. Each sampled side's variance is taken at the larger
 * of the two figures (in blocks of that side's mean size): a side that
 * reads 0 of a site holding less than its rate says little (a site of 4 KiB
 * at 512 KiB is sampled once in 128 runs), and the bound says so. 0 when
 * neither side is sampled. */
uint64_t estimate_change_error(uint64_t rate_a, int64_t bytes_a, int64_t blocks_a, uint64_t rate_b,
                               int64_t bytes_b, int64_t blocks_b);

/* "+-1.20 MiB" for a bound of bytes into buf. Returns buf. */
const char *estimate_format_bound(char *buf, size_t n, uint64_t bound);

/* "+-1234" for a bound of blocks (or any count) into buf. Returns buf. */
const char *estimate_format_count(char *buf, size_t n, uint64_t bound);

/* "+-1.20 MiB" (estimate_error) into buf; "" when rate is 0. Returns buf. */
const char *estimate_format(char *buf, size_t n, uint64_t rate, int64_t bytes, int64_t blocks);

/* Marks the figure in buf as an estimate: "~" in front (in place, cut to n). */
void estimate_mark(char *buf, size_t n);

#endif
