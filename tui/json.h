/*
 * json.h - a small streaming JSON writer (to a FILE), enough for reports.
 *
 * The writer tracks nesting so commas come out right; strings are escaped
 * (control characters, quotes, backslashes; invalid UTF-8 bytes become
 * U+FFFD). Numbers are written exactly (integers) or with %.9g (floats).
 */
#ifndef HEAPLINE_JSON_H
#define HEAPLINE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
    FILE *f;
    int depth;
    int count[JSON_MAX_DEPTH]; /* items written at each depth */
    int pretty;
};

void json_init(struct json *j, FILE *f, int pretty);
void json_object_begin(struct json *j, const char *key); /* key NULL inside arrays / top */
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *v); /* v NULL writes null */
void json_i64(struct json *j, const char *key, int64_t v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_f64(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);

/* Writes s as a JSON string literal (with quotes). */
void json_write_string(FILE *f, const char *s);

/* The same for n bytes that need no NUL (a NUL byte is written \u0000);
 * s NULL is the empty string. */
void json_write_stringn(FILE *f, const char *s, size_t n);

#endif
