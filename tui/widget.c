/*
 * widget.c - numbers, sparklines and rows rendered into buffers.
 *
 * Invariant: every byte sequence written is valid UTF-8 made of code points
 * one column wide, and every output buffer is NUL-terminated (size > 0), so
 * the caller can hand it to curses or compare it in a test as is.
 */
#include "widget.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char spark_ascii[] = " ._-:=+*#";

/* Braille dots filled from the bottom: left column dots 7,3,2,1; right 8,6,5,4. */
static const unsigned braille_left[5] = {0x00, 0x40, 0x44, 0x46, 0x47};
static const unsigned braille_right[5] = {0x00, 0x80, 0xa0, 0xb0, 0xb8};

int widget_spark_per_cell(int mode)
{
    return mode == WIDGET_SPARK_BRAILLE ? 2 : 1;
}

/* Appends code point cp as UTF-8 if it fits with a NUL after it. */
static size_t put_cp(char *out, size_t outsz, size_t pos, unsigned cp)
{
    char b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    }
    if (pos + k + 1 > outsz)
        return pos;
    memcpy(out + pos, b, k);
    return pos + k;
}

/* Level of value v in 0..levels, at least 1 for v > 0. */
static int spark_level(int64_t v, int64_t max, int levels)
{
    if (v <= 0 || max <= 0)
        return 0;
    if (v >= max)
        return levels;
    /* round to nearest, in 128-bit-free arithmetic: v < max here */
    long double f = (long double)v * levels / (long double)max;
    int l = (int)(f + 0.5L);
    if (l < 1)
        l = 1;
    if (l > levels)
        l = levels;
    return l;
}

int widget_spark(char *out, size_t outsz, const int64_t *v, int nv, int64_t max, int mode, int rows,
                 int row)
{
    int per = widget_spark_per_cell(mode);
    int unit = mode == WIDGET_SPARK_BRAILLE ? 4 : 8;
    int cells = (nv + per - 1) / per;
    int below = rows - 1 - row; /* rows of the graph under this one */
    size_t pos = 0;
    int written = 0;

    if (outsz == 0)
        return 0;
    out[0] = '\0';
    if (rows < 1 || row < 0 || row >= rows)
        return 0;
    for (int c = 0; c < cells; c++) {
        int lv[2] = {0, 0};
        for (int k = 0; k < per; k++) {
            int i = c * per + k;
            int l = i < nv ? spark_level(v[i], max, unit * rows) : 0;
            l -= below * unit;
            lv[k] = l < 0 ? 0 : l > unit ? unit : l;
        }
        unsigned cp;
        if (mode == WIDGET_SPARK_BRAILLE) {
            unsigned bits = braille_left[lv[0]] | braille_right[lv[1]];
            cp = bits ? 0x2800 + bits : ' ';
        } else if (mode == WIDGET_SPARK_BLOCK) {
            cp = lv[0] ? 0x2580 + (unsigned)lv[0] : ' ';
        } else {
            cp = (unsigned char)spark_ascii[lv[0]];
        }
        size_t np = put_cp(out, outsz, pos, cp);
        if (np == pos)
            break;
        pos = np;
        written++;
    }
    out[pos] = '\0';
    return written;
}

static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(buf, n, f, ap);
    va_end(ap);
    if (r < 0) {
        if (n)
            buf[0] = '\0';
        return 0;
    }
    return (size_t)r >= n ? (int)(n ? n - 1 : 0) : r;
}

/* Three significant figures of v (>= 1) with a unit letter, never "1024K". */
static int fmt_scaled(char *buf, size_t n, const char *sign, double v, double base,
                      const char *units, const char *suffix_none)
{
    int u = 0;
    while (v >= base && units[u + 1]) {
        v /= base;
        u++;
    }
    if (u == 0)
        return fmt(buf, n, "%s%.0f%s", sign, v, suffix_none);
    /* choose precision so the rounded value keeps 3 significant figures and
     * does not spill into the next unit */
    if (v < 9.995)
        return fmt(buf, n, "%s%.2f%c", sign, v, units[u]);
    if (v < 99.95)
        return fmt(buf, n, "%s%.1f%c", sign, v, units[u]);
    if (v < base - 0.5 || !units[u + 1])
        return fmt(buf, n, "%s%.0f%c", sign, v, units[u]);
    return fmt(buf, n, "%s%.2f%c", sign, v / base, units[u + 1]);
}

int widget_fmt_bytes(char *buf, size_t n, int64_t bytes, int sign)
{
    const char *s = "";
    uint64_t mag = bytes < 0 ? (uint64_t)0 - (uint64_t)bytes : (uint64_t)bytes;
    if (sign && bytes > 0)
        s = "+";
    else if (bytes < 0)
        s = "-";
    if (mag < 1024)
        return fmt(buf, n, "%s%" PRIu64 "B", s, mag);
    return fmt_scaled(buf, n, s, (double)mag, 1024.0, " KMGTPE", "B");
}

int widget_fmt_count(char *buf, size_t n, uint64_t count)
{
    if (count < 1000)
        return fmt(buf, n, "%" PRIu64, count);
    return fmt_scaled(buf, n, "", (double)count, 1000.0, " kMGTPE", "");
}

int widget_fmt_exact(char *buf, size_t n, int64_t v)
{
    char digits[32];
    char tmp[48];
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int nd = snprintf(digits, sizeof digits, "%" PRIu64, mag);
    size_t p = 0;
    if (v < 0)
        tmp[p++] = '-';
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            tmp[p++] = ',';
        tmp[p++] = digits[i];
    }
    tmp[p] = '\0';
    return fmt(buf, n, "%s", tmp);
}

int widget_fmt_time(char *buf, size_t n, int64_t ns)
{
    const char *s = "";
    if (ns < 0) {
        s = "-";
        ns = -ns;
    }
    int64_t ms = ns / 1000000;
    if (ms < 60000)
        return fmt(buf, n, "%s%" PRId64 ".%03" PRId64 "s", s, ms / 1000, ms % 1000);
    int64_t ds = ns / 100000000; /* tenths of a second */
    if (ds < 36000)
        return fmt(buf, n, "%s%" PRId64 "m%02" PRId64 ".%" PRId64 "s", s, ds / 600, (ds / 10) % 60,
                   ds % 10);
    int64_t min = ds / 600;
    return fmt(buf, n, "%s%" PRId64 "h%02" PRId64 "m", s, min / 60, min % 60);
}

int widget_width(const char *s)
{
    int w = 0;
    if (!s)
        return 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* Byte offset of the first byte of cell `cells` in s (or its end). */
static size_t cell_offset(const char *s, int cells)
{
    size_t i = 0;
    int w = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (w == cells)
                return i;
            w++;
        }
        i++;
    }
    return i;
}

static size_t put_bytes(char *out, size_t outsz, size_t pos, const char *s, size_t len)
{
    if (pos + len + 1 > outsz)
        len = outsz > pos + 1 ? outsz - pos - 1 : 0;
    memcpy(out + pos, s, len);
    return pos + len;
}

static size_t put_spaces(char *out, size_t outsz, size_t pos, int k)
{
    while (k-- > 0 && pos + 2 <= outsz)
        out[pos++] = ' ';
    return pos;
}

/* Writes text into exactly w cells. */
static size_t put_cell(char *out, size_t outsz, size_t pos, const char *text, int w, int align)
{
    const char *t = text ? text : "";
    int tw = widget_width(t);
    if (w <= 0)
        return pos;
    if (tw <= w) {
        if (align == WIDGET_RIGHT)
            pos = put_spaces(out, outsz, pos, w - tw);
        pos = put_bytes(out, outsz, pos, t, strlen(t));
        if (align != WIDGET_RIGHT)
            pos = put_spaces(out, outsz, pos, w - tw);
        return pos;
    }
    if (align == WIDGET_LEFT_CUT_HEAD) {
        pos = put_bytes(out, outsz, pos, "~", 1);
        size_t off = cell_offset(t, tw - (w - 1));
        return put_bytes(out, outsz, pos, t + off, strlen(t + off));
    }
    pos = put_bytes(out, outsz, pos, t, cell_offset(t, w - 1));
    return put_bytes(out, outsz, pos, "~", 1);
}

int widget_row(char *out, size_t outsz, const struct widget_col *cols, int ncols, int width)
{
    int fixed = 0, flex = -1;
    size_t pos = 0;
    int used = 0;

    if (outsz == 0)
        return 0;
    for (int i = 0; i < ncols; i++) {
        if (cols[i].width < 0 && flex < 0)
            flex = i;
        else if (cols[i].width > 0)
            fixed += cols[i].width;
    }
    fixed += ncols > 1 ? ncols - 1 : 0;
    int flexw = width - fixed;
    if (flexw < 0)
        flexw = 0;
    for (int i = 0; i < ncols && used < width; i++) {
        int w = i == flex ? flexw : cols[i].width < 0 ? 0 : cols[i].width;
        if (i > 0) {
            pos = put_spaces(out, outsz, pos, 1);
            used++;
        }
        if (w > width - used)
            w = width - used;
        pos = put_cell(out, outsz, pos, cols[i].text, w, cols[i].align);
        used += w;
    }
    pos = put_spaces(out, outsz, pos, width - used);
    out[pos] = '\0';
    return (int)pos;
}
