/*
 * cxxname.c - C++ names fitted to a column (cxxname.h).
 *
 * Invariant: brackets are counted outside operator names only ("operator<"
 * and "operator()" open nothing), so a depth of 0 is the name's own level;
 * every step works on buf, NUL-terminated, and makes it shorter.
 */
#include "cxxname.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "widget.h"

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* The end of the operator token starting at s[i] ("operator<<",
 * "operator()", "operator new[]"), or i when none starts there. */
static size_t skip_operator(const char *s, size_t i, size_t end)
{
    size_t j = i + 8;

    if (end - i < 8 || memcmp(s + i, "operator", 8) || (i > 0 && ident_char(s[i - 1])) ||
        (j < end && ident_char(s[j])))
        return i;
    if (j + 1 < end && (s[j] == '(' || s[j] == '[') && s[j + 1] == s[j] + 1 + (s[j] == '['))
        return j + 2;             /* "()", "[]" */
    if (j < end && s[j] == ' ') { /* operator new, delete[], a conversion */
        j++;
        while (j < end && ident_char(s[j]))
            j++;
        if (j + 1 < end && s[j] == '[' && s[j + 1] == ']')
            j += 2;
        return j;
    }
    while (j < end && strchr("<>=!+-*/%^&|~,", s[j]))
        j++;
    return j;
}

/* Calls at(s, k, arg) for each k in [from, end) at depth 0 (outside all
 * brackets and operator names) until it returns nonzero; returns that k, or
 * end. */
static size_t scan0(const char *s, size_t from, size_t end, int (*at)(const char *, size_t, void *),
                    void *arg)
{
    int depth = 0;

    for (size_t k = from; k < end;) {
        size_t op = skip_operator(s, k, end);

        if (op != k) {
            k = op;
            continue;
        }
        if (depth == 0 && at(s, k, arg))
            return k;
        if (strchr("<([{", s[k]))
            depth++;
        else if (strchr(">)]}", s[k]) && depth > 0)
            depth--;
        k++;
    }
    return end;
}

static int ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);

    return n >= t && !memcmp(s + n - t, tail, t);
}

size_t cxxname_base_len(const char *fn)
{
    static const char *const tails[] = {" const", " volatile", " &&", " &"};
    size_t n = strlen(fn);
    int again = 1;

    while (again) {
        again = 0;
        if (n > 0 && fn[n - 1] == ']') { /* " [clone .isra.0]" */
            const char *c = NULL;

            for (const char *p = strstr(fn, " [clone "); p && p < fn + n;
                 p = strstr(p + 1, " [clone "))
                c = p;
            if (c) {
                n = (size_t)(c - fn);
                again = 1;
            }
        }
        for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++)
            if (ends_with(fn, n, tails[t])) {
                n -= strlen(tails[t]);
                again = 1;
            }
    }
    if (n == 0 || fn[n - 1] != ')')
        return n;
    int depth = 0;
    for (size_t i = n; i > 0; i--) {
        depth += fn[i - 1] == ')' ? 1 : fn[i - 1] == '(' ? -1 : 0;
        if (depth != 0)
            continue;
        if (i == 1 || (i - 1 == n - 2 && ends_with(fn, i - 1, "operator")))
            return n; /* "(...)" alone, or the name "operator()" */
        return i - 1;
    }
    return n;
}

int cxxname_matches(const char *fn, const char *spec)
{
    size_t b = cxxname_base_len(fn), s = strlen(spec);
    const char *clone = strstr(fn, " [clone ");

    if (!strcmp(fn, spec) || (clone && (size_t)(clone - fn) == s && !memcmp(fn, spec, s)))
        return 1; /* whole, or without GCC's clone suffix: "add(int)" */
    if (s == 0 || s > b || memcmp(fn + b - s, spec, s))
        return 0;
    return s == b || (b - s >= 2 && fn[b - s - 1] == ':' && fn[b - s - 2] == ':');
}

/* A space that ends a return type (not the one in "operator< <char>"). */
static int is_space(const char *s, size_t k, void *arg)
{
    (void)arg;
    return s[k] == ' ' && s[k + 1] != '<';
}

static int is_scope(const char *s, size_t k, void *arg)
{
    (void)arg;
    return s[k] == ':' && s[k + 1] == ':';
}

/* A template argument list: after a name ("Cache<"), never Python's "<module>". */
static int is_angle(const char *s, size_t k, void *arg)
{
    (void)arg;
    return s[k] == '<' && k > 0 && ident_char(s[k - 1]);
}

/* Replaces every `from` in buf by `to` (no longer than from). */
static void replace_all(char *buf, const char *from, const char *to)
{
    size_t f = strlen(from), t = strlen(to);

    for (char *p = strstr(buf, from); p; p = strstr(p + t, from)) {
        memmove(p + t, p + f, strlen(p + f) + 1);
        memcpy(p, to, t);
    }
}

/* The end of the template argument list opening at buf[k] (one past its
 * '>'), or 0 when it does not close. */
static size_t list_end(const char *buf, size_t k, size_t len)
{
    size_t e = k + 1;
    int depth = 1;

    while (e < len && depth > 0) {
        size_t op = skip_operator(buf, e, len);
        if (op != e) {
            e = op;
            continue;
        }
        depth += strchr("<([{", buf[e]) ? 1 : strchr(">)]}", buf[e]) ? -1 : 0;
        e++;
    }
    return depth == 0 ? e : 0;
}

/* Collapses the longest template argument list at depth 0 that is longer
 * than dots to "<dots>". Returns 0 when there is none. */
static int collapse_longest(char *buf, const char *dots)
{
    size_t d = strlen(dots), len = strlen(buf), best = 0, best_e = 0;

    for (size_t k = 0; (k = scan0(buf, k, len, is_angle, NULL)) < len; k++) {
        size_t e = list_end(buf, k, len);

        if (e && e - k - 2 > d && (!best_e || e - k > best_e - best)) {
            best = k;
            best_e = e;
        }
    }
    if (!best_e)
        return 0;
    memmove(buf + best + 1 + d, buf + best_e - 1, len - (best_e - 1) + 1);
    memcpy(buf + best + 1, dots, d);
    return 1;
}

/* Drops leading scopes of buf, down to two ("Cache<…>::get"), until it fits:
 * into out[0..n). Returns whether it fits. */
static int drop_scopes(const char *buf, int width, char *out, size_t n)
{
    snprintf(out, n, "%s", buf);
    while (widget_width(out) > width) {
        size_t len = strlen(out), k = scan0(out, 0, len, is_scope, NULL);

        if (k + 2 >= len || scan0(out, k + 2, len, is_scope, NULL) >= len)
            return 0;
        memmove(out, out + k + 2, len - (k + 2) + 1);
    }
    return 1;
}

/* The steps of cxxname_fit() into out[0..n), with buf[0..n) to work in:
 * template arguments tell instantiations (sites) apart, leading namespaces
 * seldom do, so the scopes go before each template argument list, the
 * longest list first. */
static void shorten(const char *fn, size_t base, int width, int ascii, char *buf, char *out,
                    size_t n)
{
    size_t start = 0; /* after a template function's return type: "void std::__invoke_impl<" */
    for (size_t k = 0; (k = scan0(fn, k, base, is_space, NULL)) < base; k++)
        start = k + 1;
    snprintf(buf, n, "%.*s", (int)(base - start), fn + start);
    replace_all(buf,
                "std::__cxx11::basic_string<char, std::char_traits<char>, "
                "std::allocator<char> >",
                "std::string");
    replace_all(buf, "std::__cxx11::", "std::");
    while (!drop_scopes(buf, width, out, n) && collapse_longest(buf, ascii ? "..." : "\u2026"))
        ;
}

const char *cxxname_fit(const char *fn, int width, int ascii, char *buf, size_t n)
{
    /* a whole std::map<...>::emplace<...> before its steps, not cut mid-list */
    char w[4096], out[4096];

    if (!fn || widget_width(fn) <= width || n == 0)
        return fn;
    shorten(fn, cxxname_base_len(fn), width, ascii, w, out, sizeof w);
    snprintf(buf, n, "%s", out);
    return buf;
}
