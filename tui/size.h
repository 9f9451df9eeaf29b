/*
 * size.h - sizes as people write them: "10MiB", "512K", "1G", "1.5 MB", "4096".
 *
 * The one parser of every option that takes a size (check's limits, record
 * --check). Units are powers of 1024 whatever their spelling (K, KB, KiB; M,
 * MB, MiB; G...; T...), as pytest-memray and most memory tools count; B or no
 * unit is bytes. Case-insensitive; one space may separate number and unit.
 */
#ifndef HEAPLINE_SIZE_H
#define HEAPLINE_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into *bytes (a fraction is rounded to the nearest byte). Returns
 * 0, or -1 for anything else: no digits, a negative number, an unknown unit,
 * trailing text, more than 2^62 bytes. */
int size_parse(const char *s, uint64_t *bytes);

/* Writes b for people into buf ("512 B", "1.50 MiB", "-3.00 KiB"): the
 * largest power of 1024 under it, two decimals. Returns buf. */
const char *size_format(char *buf, size_t n, double b);

#endif
