/*
 * size.c - sizes in and out: the one parser of size options and the one way
 * heapline prints a byte count for people.
 *
 * The number is plain decimal ("1.5G" works; signs, exponents and hex do
 * not), read with strtod; the result is checked against 2^62 before it is
 * rounded, so no input overflows.
 */
#include "size.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* unit spellings, each a power of 1024 */
static const struct {
    const char *name;
    int shift;
} size_units[] = {
    {"", 0},     {"b", 0},  {"k", 10},  {"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
    {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},   {"tb", 40}, {"tib", 40},
};

int size_parse(const char *s, uint64_t *bytes)
{
    char *end;
    double v;

    size_t digits = 0, len = 0;

    if (!s)
        return -1;
    /* only [0-9]*(.[0-9]*): no sign, exponent, hex, inf or nan from strtod */
    while (isdigit((unsigned char)s[len]))
        len++, digits++;
    if (s[len] == '.')
        for (len++; isdigit((unsigned char)s[len]); len++)
            digits++;
    if (!digits)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (end != s + len || errno || !isfinite(v) || v < 0)
        return -1;
    if (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
        if (strcasecmp(end, size_units[i].name) != 0)
            continue;
        v = ldexp(v, size_units[i].shift);
        if (v > 0x1p62)
            return -1;
        *bytes = (uint64_t)llround(v);
        return 0;
    }
    return -1;
}

const char *size_format(char *buf, size_t n, double b)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    int neg = b < 0;

    if (neg)
        b = -b;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%s%.0f %s", neg ? "-" : "", b, unit[u]);
    else
        snprintf(buf, n, "%s%.2f %s", neg ? "-" : "", b, unit[u]);
    return buf;
}
