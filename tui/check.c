/*
 * check.c - limits on a recording, for CI: each limit is one figure of the
 * report compared with a size, and a broken one names where the memory is.
 *
 * A limit holds when the figure is at most the limit. The site named on a
 * broken line is the one that holds most of the figure (largest live bytes at
 * the peak for --max-peak, largest leak for --max-leaked...), so the line
 * says where to look first.
 */
#include "check.h"

#include <stdlib.h>
#include <string.h>

#include "complete.h"
#include "estimate.h"
#include "load.h"
#include "model.h"
#include "record.h"
#include "size.h"
#include "usage.h"

static const struct {
    const char *option;
    int kind;
} check_options[] = {
    {"--max-peak", CHECK_MAX_PEAK},      {"--max-leaked", CHECK_MAX_LEAKED},
    {"--max-live", CHECK_MAX_LIVE},      {"--max-site", CHECK_MAX_SITE},
    {"--no-leaks-from", CHECK_NO_LEAKS},
};
#define CHECK_NOPTIONS (sizeof(check_options) / sizeof(check_options[0]))

/* Fills l from its option's value. Returns 0 or 2 after a usage line. */
static int parse_value(const char *cmd, struct check_limit *l)
{
    const char *v = l->value, *eq;

    switch (l->kind) {
    case CHECK_MAX_SITE:
        eq = strrchr(v, '=');
        if (!eq || eq == v)
            return usage_error(cmd, "--max-site %s: expected FUNCTION=SIZE", v);
        if ((size_t)(eq - v) >= sizeof(l->function))
            return usage_error(cmd, "--max-site: function name too long");
        memcpy(l->function, v, (size_t)(eq - v));
        l->function[eq - v] = 0;
        if (size_parse(eq + 1, &l->bytes) != 0)
            return usage_error(cmd, "--max-site %s: bad size %s (e.g. 10MiB, 512K, 1G)", v, eq + 1);
        return 0;
    case CHECK_NO_LEAKS:
        if (!*v || strlen(v) >= sizeof(l->function))
            return usage_error(cmd, "--no-leaks-from needs a function name");
        snprintf(l->function, sizeof(l->function), "%s", v);
        return 0;
    default:
        if (size_parse(v, &l->bytes) != 0)
            return usage_error(cmd, "%s %s: bad size (e.g. 10MiB, 512K, 1G)", l->option, v);
        return 0;
    }
}

int check_parse(const char *cmd, int argc, char **argv, int first, struct check_spec *c,
                const char **file)
{
    memset(c, 0, sizeof(*c));
    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *val;
        size_t nlen = strcspn(a, "=");
        size_t k;

        if (a[0] != '-' || !a[1]) {
            if (!file)
                return usage_error(cmd, "unexpected argument %s in the limits", a);
            if (*file)
                return usage_error(cmd, "check takes one FILE");
            *file = a;
            continue;
        }
        for (k = 0; k < CHECK_NOPTIONS; k++)
            if (strlen(check_options[k].option) == nlen &&
                strncmp(a, check_options[k].option, nlen) == 0)
                break;
        if (k == CHECK_NOPTIONS && !(nlen == 4 && strncmp(a, "--at", 4) == 0))
            return usage_error(cmd, "unknown option %s", a);
        if (a[nlen]) {
            val = a + nlen + 1;
        } else {
            if (i + 1 >= argc)
                return usage_error(cmd, "%s needs a value", a);
            val = argv[++i];
        }
        if (k == CHECK_NOPTIONS) { /* --at, of the --max-live before it */
            struct check_limit *l = c->n ? &c->limit[c->n - 1] : NULL;

            if (!l || l->kind != CHECK_MAX_LIVE || l->at.at_text)
                return usage_error(cmd, "--at goes right after a --max-live");
            if (report_parse_at(val, &l->at) != 0)
                return usage_error(cmd, "--at %s: expected peak, end or seconds", val);
            c->fine |= l->at.at == REPORT_AT_TIME;
            continue;
        }
        if (c->n == CHECK_MAX_LIMITS)
            return usage_error(cmd, "more than %d limits", CHECK_MAX_LIMITS);
        c->limit[c->n] = (struct check_limit){.kind = check_options[k].kind,
                                              .option = check_options[k].option,
                                              .value = val,
                                              .at = {.at = REPORT_AT_END}};
        if (parse_value(cmd, &c->limit[c->n]) != 0)
            return 2;
        c->n++;
    }
    if (file && !*file)
        return usage_error(cmd, "check needs a FILE");
    if (!c->n)
        return usage_error(cmd, "no limit given (--max-peak, --max-leaked, --max-live, "
                                "--max-site, --no-leaks-from)");
    return 0;
}

/* "grow t_check.c:21", "grow [libx.so]": where a site is */
static const char *site_where(const struct model *m, uint32_t site, char *buf, size_t n)
{
    const struct model_site *s = site == MODEL_NONE ? NULL : model_site(m, site);
    char label[160];

    if (!s)
        return snprintf(buf, n, "(no site)"), buf;
    if (*s->file)
        snprintf(buf, n, "%s %s:%u", model_site_label(s, label, sizeof(label)), s->file, s->line);
    else
        snprintf(buf, n, "%s [%s]", model_site_label(s, label, sizeof(label)), s->module);
    return buf;
}

/* The site of v with the largest figure (live bytes, or leaked bytes). */
static uint32_t largest(const struct model_view *v, int leaked)
{
    uint32_t best = MODEL_NONE;
    int64_t most = 0;

    for (uint32_t i = 0; i < v->n_rows; i++) {
        int64_t x = leaked ? (int64_t)v->rows[i].leaked_bytes : v->rows[i].live_bytes;

        if (x > most) {
            most = x;
            best = v->rows[i].site;
        }
    }
    return best;
}

/* One broken limit: "broken: OPTION VALUE: WHAT N bytes (H), limit L bytes;
 * SITE_ROLE: SITE". */
static void broken(FILE *out, const struct check_limit *l, const char *what, uint64_t measured,
                   const char *when, const char *role, const char *where)
{
    char h[32];

    fprintf(out, "broken: %s %s: %s %llu bytes (%s)%s, limit %llu bytes; %s: %s\n", l->option,
            l->value, what, (unsigned long long)measured,
            size_format(h, sizeof(h), (double)measured), when, (unsigned long long)l->bytes, role,
            where);
}

/* Checks one limit on the views at the end, the peak and --at. Returns the
 * number of broken lines written. */
static int check_one(const struct model *m, const struct check_limit *l,
                     const struct model_view *end, const struct model_view *peak,
                     const struct model_view *at, FILE *out)
{
    const struct model_summary *sum = model_summary(m);
    char where[512], when[64], label[160], bound[40];
    int n = 0, sites = 0;

    switch (l->kind) {
    case CHECK_MAX_PEAK:
        if (sum->peak_bytes <= l->bytes)
            return 0;
        snprintf(when, sizeof(when), " at %.3f s", (double)sum->peak_time / 1e9);
        broken(out, l, "peak heap", sum->peak_bytes, when, "largest site at the peak",
               site_where(m, largest(peak, 0), where, sizeof(where)));
        return 1;
    case CHECK_MAX_LEAKED:
        if (sum->leaked_bytes <= l->bytes)
            return 0;
        broken(out, l, "leaked", sum->leaked_bytes, " (live at the end)", "largest leak",
               site_where(m, largest(end, 1), where, sizeof(where)));
        return 1;
    case CHECK_MAX_LIVE:
        if (at->totals.heap_bytes <= l->bytes)
            return 0;
        snprintf(when, sizeof(when), " at %.3f s", (double)at->time / 1e9);
        broken(out, l, "live", at->totals.heap_bytes, when, "largest site then",
               site_where(m, largest(at, 0), where, sizeof(where)));
        return 1;
    }
    fflush(out); /* a note on stderr comes after the lines before it */
    /* the sites of a function */
    for (uint32_t i = 0; i < end->n_rows; i++) {
        const struct model_row *r = &end->rows[i];
        const struct model_site *s = model_site(m, r->site);

        if (!s || strcmp(model_site_label(s, label, sizeof(label)), l->function) != 0)
            continue;
        sites++;
        site_where(m, r->site, where, sizeof(where));
        if (l->kind == CHECK_MAX_SITE && r->peak_bytes > l->bytes) {
            /* sampled: the bound of the estimate (blocks at the peak not
             * known: taken as small ones, the widest bound) */
            if (sum->sample_rate)
                snprintf(when, sizeof(when), ", 95%% bound %s",
                         estimate_format(bound, sizeof(bound), sum->sample_rate,
                                         (int64_t)r->peak_bytes, 0));
            broken(out, l, sum->sample_rate ? "site's peak, estimated," : "site's peak",
                   r->peak_bytes, sum->sample_rate ? when : "", "site", where);
            n++;
        } else if (l->kind == CHECK_NO_LEAKS && (r->leaked_bytes || r->leaked_blocks)) {
            /* sampled: a sampled block live at the end is a leak proven; its
             * site's figures are estimates */
            fprintf(out,
                    "broken: %s %s: %s%llu bytes in %s%llu blocks leaked (live at the end)%s; "
                    "site: %s\n",
                    l->option, l->value, sum->sample_rate ? "~" : "",
                    (unsigned long long)r->leaked_bytes, sum->sample_rate ? "~" : "",
                    (unsigned long long)r->leaked_blocks,
                    sum->sample_rate ? ", estimated from sampled blocks" : "", where);
            n++;
        }
    }
    if (!sites)
        fprintf(stderr, "heapline check: %s %s: no site is in function %s (the limit holds)\n",
                l->option, l->value, l->function);
    return n;
}

int check_run(const char *path, const struct check_spec *c, FILE *out)
{
    struct complete_input in;
    struct complete verdict;
    struct model *m = load_recording(path, c->fine, stderr, &in);
    struct report_options at_end = {.at = REPORT_AT_END}, at_peak = {.at = REPORT_AT_PEAK};
    struct model_view end = {0}, peak = {0}, at = {0};
    struct model_query q;
    char err[1024];
    int nbroken = 0, rc = 2;

    if (!m)
        return 2;
    /* a leak limit on a recording that cannot prove leaks is bad input, never
     * a pass or a fail: its "live at the end" may be freed after it stops */
    complete_judge(m, &in, &verdict);
    for (int i = 0; i < c->n && !verdict.leaks_known; i++) {
        if (c->limit[i].kind == CHECK_MAX_LEAKED || c->limit[i].kind == CHECK_NO_LEAKS) {
            fprintf(stderr, "heapline check: %s %s: leaks not known: %s\n", c->limit[i].option,
                    c->limit[i].value, verdict.leaks_why);
            goto out;
        }
    }
    /* every --at first: one beyond the end is bad input, not a broken limit */
    for (int i = 0; i < c->n; i++) {
        if (report_query(m, &c->limit[i].at, &q, err, sizeof(err)) != 0) {
            fprintf(stderr, "heapline check: %s\n", err);
            goto out;
        }
    }
    if (report_query(m, &at_end, &q, err, sizeof(err)) != 0 || model_view_at(m, &q, &end) ||
        report_query(m, &at_peak, &q, err, sizeof(err)) != 0 || model_view_at(m, &q, &peak))
        goto oom;
    for (int i = 0; i < c->n; i++) {
        if (c->limit[i].kind == CHECK_MAX_LIVE &&
            (report_query(m, &c->limit[i].at, &q, err, sizeof(err)) != 0 ||
             model_view_at(m, &q, &at) != 0))
            goto oom;
        nbroken += check_one(m, &c->limit[i], &end, &peak, &at, out);
    }
    if (!nbroken)
        fprintf(out, "heapline check: %d limit%s hold%s in %s\n", c->n, c->n == 1 ? "" : "s",
                c->n == 1 ? "s" : "", path);
    for (int i = 0; i < c->n; i++) {
        if (model_summary(m)->sample_rate &&
            (c->limit[i].kind == CHECK_MAX_SITE || c->limit[i].kind == CHECK_NO_LEAKS)) {
            char rate[32];

            fflush(out);
            fprintf(stderr,
                    "heapline check: %s is sampled (one sample every %s on average): --max-site "
                    "and --no-leaks-from were judged on estimates, and a site with no sampled "
                    "block left may still have leaked\n",
                    path, size_format(rate, sizeof(rate), (double)model_summary(m)->sample_rate));
            break;
        }
    }
    rc = nbroken ? 1 : 0;
    goto out;
oom:
    fprintf(stderr, "heapline check: out of memory\n");
out:
    model_view_free(&at);
    model_view_free(&end);
    model_view_free(&peak);
    model_free(m);
    return rc;
}

int check_main(int argc, char **argv)
{
    struct check_spec *c = malloc(sizeof(*c));
    const char *file = NULL;
    int rc;

    if (!c) {
        fprintf(stderr, "heapline: out of memory\n");
        return 2;
    }
    rc = check_parse("check", argc, argv, 2, c, &file);
    if (rc == 0)
        rc = check_run(file, c, stdout);
    free(c);
    return rc;
}

/* Splits s into words in place (blanks separate; quotes group). Returns the
 * count, or -1 for an unclosed quote or too many words. */
static int split_words(char *s, char **w, int max)
{
    int n = 0;

    for (;;) {
        char *o;

        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            return n;
        if (n == max)
            return -1;
        w[n++] = o = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n') {
            if (*s == '\'' || *s == '"') {
                char q = *s++;

                while (*s && *s != q)
                    *o++ = *s++;
                if (!*s)
                    return -1;
                s++;
                continue;
            }
            *o++ = *s++;
        }
        if (*s)
            s++;
        *o = 0;
    }
}

int check_record(const char *out, const char *limits, char *const argv[])
{
    enum { MAX_WORDS = 2 * CHECK_MAX_LIMITS + 4 };
    struct check_spec *c = malloc(sizeof(*c));
    char *copy = strdup(limits), *w[MAX_WORDS + 1];
    int n, rc, status;

    if (!c || !copy) {
        free(c);
        free(copy);
        fprintf(stderr, "heapline: out of memory\n");
        return 2;
    }
    /* w[0] stands for argv[0], as check_parse reads from an index */
    n = split_words(copy, w + 1, MAX_WORDS);
    if (n < 0) {
        rc = usage_error("record", "--check %s: an unclosed quote or too many words", limits);
        goto out;
    }
    rc = check_parse("record", n + 1, w, 1, c, NULL);
    if (rc != 0)
        goto out;
    status = record_main(out, argv);
    fflush(stdout);
    rc = check_run(out, c, stdout);
    if (status != 0)
        rc = status;
out:
    free(copy);
    free(c);
    return rc;
}
