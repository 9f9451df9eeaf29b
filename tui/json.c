/*
 * json.c - a streaming JSON writer: nesting-aware commas, escaped strings.
 */
#include "json.h"

#include <math.h>
#include <string.h>

void json_init(struct json *j, FILE *f, int pretty)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->pretty = pretty;
}

static void indent(struct json *j)
{
    if (!j->pretty)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

static void item(struct json *j, const char *key)
{
    if (j->count[j->depth]++ > 0)
        fputc(',', j->f);
    if (j->depth > 0)
        indent(j);
    if (key) {
        json_write_string(j->f, key);
        fputs(j->pretty ? ": " : ":", j->f);
    }
}

static void open_(struct json *j, const char *key, char c)
{
    item(j, key);
    fputc(c, j->f);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->depth++;
    j->count[j->depth] = 0;
}

static void close_(struct json *j, char c)
{
    int had = j->count[j->depth];

    if (j->depth > 0)
        j->depth--;
    if (had)
        indent(j);
    fputc(c, j->f);
}

void json_object_begin(struct json *j, const char *key)
{
    open_(j, key, '{');
}

void json_object_end(struct json *j)
{
    close_(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
    open_(j, key, '[');
}

void json_array_end(struct json *j)
{
    close_(j, ']');
}

void json_write_string(FILE *f, const char *s)
{
    json_write_stringn(f, s, strlen(s));
}

void json_write_stringn(FILE *f, const char *s, size_t n)
{
    static const unsigned char none[1];
    const unsigned char *p = s ? (const unsigned char *)s : none, *end = p + (s ? n : 0);

    fputc('"', f);
    while (p < end) {
        unsigned char c = *p;
        int len = 0;

        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            p++;
            continue;
        }
        if (c < 0x20) {
            switch (c) {
            case '\n':
                fputs("\\n", f);
                break;
            case '\t':
                fputs("\\t", f);
                break;
            case '\r':
                fputs("\\r", f);
                break;
            default:
                fprintf(f, "\\u%04x", c);
                break;
            }
            p++;
            continue;
        }
        if (c < 0x80) {
            fputc(c, f);
            p++;
            continue;
        }
        /* validate one UTF-8 sequence */
        if (c >= 0xc2 && c <= 0xdf)
            len = 2;
        else if (c >= 0xe0 && c <= 0xef)
            len = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4;
        if (len > end - p)
            len = 0;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xc0) != 0x80)
                len = 0;
        if (len == 0) {
            fputs("\\ufffd", f);
            p++;
            continue;
        }
        fwrite(p, 1, (size_t)len, f);
        p += len;
    }
    fputc('"', f);
}

void json_str(struct json *j, const char *key, const char *v)
{
    item(j, key);
    if (v)
        json_write_string(j->f, v);
    else
        fputs("null", j->f);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
    item(j, key);
    fprintf(j->f, "%lld", (long long)v);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
    item(j, key);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_f64(struct json *j, const char *key, double v)
{
    item(j, key);
    if (!isfinite(v))
        fputs("null", j->f);
    else
        fprintf(j->f, "%.9g", v);
}

void json_bool(struct json *j, const char *key, int v)
{
    item(j, key);
    fputs(v ? "true" : "false", j->f);
}
