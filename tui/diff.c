/*
 * diff.c - two recordings, site by site, from the report's own queries
 * (report_query, model_view_at), so a diff of a recording with itself is all
 * zeros and each side equals `heapline report --at` of that file.
 *
 * Matching: every site of both views becomes an entry keyed by (function
 * label, file, line, module); the entries of both sides are sorted by key
 * and runs of one key merged, so a key is one row whatever its site ids.
 */
#include "diff.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "complete.h"
#include "estimate.h"
#include "json.h"
#include "load.h"
#include "model.h"
#include "report.h"
#include "size.h"
#include "usage.h"

/* the figures compared, per side, in this order (and named so in JSON) */
enum diff_fig {
    DIFF_LIVE_BYTES,
    DIFF_LIVE_BLOCKS,
    DIFF_ALLOCATIONS,
    DIFF_BYTES_ALLOCATED,
    DIFF_PEAK_BYTES,
    DIFF_LEAKED_BYTES,
    DIFF_NFIG
};
static const char *const diff_fig_names[DIFF_NFIG] = {
    "live_bytes", "live_blocks", "allocations", "bytes_allocated", "peak_bytes", "leaked_bytes"};

struct diff_row {
    char function[160];
    const char *file, *module;
    uint32_t line;
    int64_t f[2][DIFF_NFIG]; /* A, B */
};

static int64_t delta(const struct diff_row *r, int k)
{
    return r->f[1][k] - r->f[0][k];
}

/* The 95% bound of the row's change of live bytes, its sides sampled at
 * rate[] (0 when neither is: then every change is beyond it). */
static uint64_t live_bound(const struct diff_row *r, const uint64_t rate[2])
{
    return estimate_change_error(rate[0], r->f[0][DIFF_LIVE_BYTES], r->f[0][DIFF_LIVE_BLOCKS],
                                 rate[1], r->f[1][DIFF_LIVE_BYTES], r->f[1][DIFF_LIVE_BLOCKS]);
}

static int beyond_bound(const struct diff_row *r, const uint64_t rate[2])
{
    int64_t d = delta(r, DIFF_LIVE_BYTES);

    return (uint64_t)(d < 0 ? -d : d) > live_bound(r, rate);
}

static int key_cmp(const struct diff_row *a, const struct diff_row *b)
{
    int c = strcmp(a->function, b->function);

    if (!c)
        c = strcmp(a->file, b->file);
    if (!c && a->line != b->line)
        c = a->line < b->line ? -1 : 1;
    if (!c)
        c = strcmp(a->module, b->module);
    return c;
}

static int row_key_cmp(const void *pa, const void *pb)
{
    return key_cmp(pa, pb);
}

static uint64_t mag(int64_t v)
{
    return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

/* largest change first: live bytes, allocations, bytes allocated, peak; then
 * by key, so the order is the same every time */
static int row_change_cmp(const void *pa, const void *pb)
{
    static const int order[] = {DIFF_LIVE_BYTES, DIFF_ALLOCATIONS, DIFF_BYTES_ALLOCATED,
                                DIFF_PEAK_BYTES, DIFF_LIVE_BLOCKS, DIFF_LEAKED_BYTES};
    const struct diff_row *a = pa, *b = pb;

    for (int i = 0; i < DIFF_NFIG; i++) {
        uint64_t x = mag(delta(a, order[i])), y = mag(delta(b, order[i]));

        if (x != y)
            return x > y ? -1 : 1;
    }
    return key_cmp(a, b);
}

/* Appends the sites of m at q's time to rows as side `side`; a site counts
 * when something of it exists at the time (as report lists them). Returns 0
 * or -1 (out of memory). */
static int collect(const struct model *m, const struct model_query *q, int side,
                   struct diff_row **rows, uint32_t *n, struct model_view *v)
{
    struct diff_row *r;

    if (model_view_at(m, q, v) != 0)
        return -1;
    r = realloc(*rows, ((size_t)*n + v->n_rows + 1) * sizeof(*r));
    if (!r)
        return -1;
    *rows = r;
    for (uint32_t i = 0; i < v->n_rows; i++) {
        const struct model_row *x = &v->rows[i];
        const struct model_site *s = model_site(m, x->site);
        struct diff_row *d = &r[*n];
        const char *label;

        if (!s ||
            !(x->allocations || x->live_bytes || x->live_blocks || x->leaked_bytes || x->temporary))
            continue;
        memset(d, 0, sizeof(*d));
        label = model_site_label(s, d->function, sizeof(d->function));
        if (label != d->function)
            snprintf(d->function, sizeof(d->function), "%s", label);
        d->file = s->file;
        d->line = s->line;
        d->module = s->module;
        d->f[side][DIFF_LIVE_BYTES] = x->live_bytes;
        d->f[side][DIFF_LIVE_BLOCKS] = x->live_blocks;
        d->f[side][DIFF_ALLOCATIONS] = (int64_t)x->allocations;
        d->f[side][DIFF_BYTES_ALLOCATED] = (int64_t)x->bytes_allocated;
        d->f[side][DIFF_PEAK_BYTES] = (int64_t)x->peak_bytes;
        d->f[side][DIFF_LEAKED_BYTES] = (int64_t)x->leaked_bytes;
        (*n)++;
    }
    return 0;
}

/* Merges runs of one key (sorted rows) into one row. Returns the new count. */
static uint32_t merge(struct diff_row *r, uint32_t n)
{
    uint32_t out = 0;

    for (uint32_t i = 0; i < n; i++) {
        if (out && key_cmp(&r[out - 1], &r[i]) == 0) {
            for (int side = 0; side < 2; side++)
                for (int k = 0; k < DIFF_NFIG; k++)
                    r[out - 1].f[side][k] += r[i].f[side][k];
            continue;
        }
        r[out++] = r[i];
    }
    return out;
}

/* whole-run and at-the-time totals of one side */
static void totals(const struct model *m, const struct model_view *v, int64_t t[DIFF_NFIG])
{
    const struct model_summary *s = model_summary(m);

    t[DIFF_LIVE_BYTES] = (int64_t)v->totals.heap_bytes;
    t[DIFF_LIVE_BLOCKS] = (int64_t)v->totals.heap_blocks;
    t[DIFF_ALLOCATIONS] = (int64_t)v->totals.allocations;
    t[DIFF_BYTES_ALLOCATED] = (int64_t)v->totals.bytes_allocated;
    t[DIFF_PEAK_BYTES] = (int64_t)s->peak_bytes;
    t[DIFF_LEAKED_BYTES] = (int64_t)s->leaked_bytes;
}

static const char *at_name(const struct report_options *o)
{
    return o->at == REPORT_AT_PEAK ? "peak" : o->at == REPORT_AT_END ? "end" : "time";
}

/* name_a, name_b, name_delta; a side whose leaks are not known (known[s]
 * 0) gives null for a leak figure, and so does the delta */
static void json_triple(struct json *j, const char *name, int k, int64_t a, int64_t b,
                        const int known[2])
{
    int leak = k == DIFF_LEAKED_BYTES;
    char key[64];

    snprintf(key, sizeof(key), "%s_a", name);
    if (leak && !known[0])
        json_str(j, key, NULL);
    else
        json_i64(j, key, a);
    snprintf(key, sizeof(key), "%s_b", name);
    if (leak && !known[1])
        json_str(j, key, NULL);
    else
        json_i64(j, key, b);
    snprintf(key, sizeof(key), "%s_delta", name);
    if (leak && !(known[0] && known[1]))
        json_str(j, key, NULL);
    else
        json_i64(j, key, b - a);
}

/* complete_a, incomplete_a (null, or reason, time and message),
 * leaks_known_a, sampled_a, sample_rate_a; the same for b */
static void json_side(struct json *j, const struct model *m, const struct complete *c, char side)
{
    uint64_t rate = model_summary(m)->sample_rate;
    char key[32];

    snprintf(key, sizeof(key), "complete_%c", side);
    json_bool(j, key, c->complete);
    snprintf(key, sizeof(key), "incomplete_%c", side);
    if (c->complete) {
        json_str(j, key, NULL);
    } else {
        json_object_begin(j, key);
        json_str(j, "reason", c->reason);
        json_f64(j, "time", (double)c->time / 1e9);
        json_str(j, "message", c->message);
        json_object_end(j);
    }
    snprintf(key, sizeof(key), "leaks_known_%c", side);
    json_bool(j, key, c->leaks_known);
    snprintf(key, sizeof(key), "sampled_%c", side);
    json_bool(j, key, rate != 0);
    snprintf(key, sizeof(key), "sample_rate_%c", side);
    json_u64(j, key, rate);
}

static void write_json(const struct diff_options *o, const struct report_options *at[2],
                       const struct model *m[2], const struct complete c[2],
                       const struct model_view v[2], const int64_t t[2][DIFF_NFIG],
                       const struct diff_row *r, uint32_t n, FILE *out)
{
    uint32_t top = o->top < 0 || (uint32_t)o->top > n ? n : (uint32_t)o->top;
    int known[2] = {c[0].leaks_known, c[1].leaks_known};
    uint64_t rate[2] = {model_summary(m[0])->sample_rate, model_summary(m[1])->sample_rate};
    int sampled = rate[0] || rate[1];
    struct json j;

    json_init(&j, out, 1);
    json_object_begin(&j, NULL);
    json_str(&j, "a", o->name_a);
    json_str(&j, "b", o->name_b);
    json_str(&j, "at_a", at_name(at[0]));
    json_str(&j, "at_b", at_name(at[1]));
    json_f64(&j, "time_a", (double)v[0].time / 1e9);
    json_f64(&j, "time_b", (double)v[1].time / 1e9);
    json_side(&j, m[0], &c[0], 'a');
    json_side(&j, m[1], &c[1], 'b');
    for (int k = 0; k < DIFF_NFIG; k++)
        json_triple(&j, diff_fig_names[k], k, t[0][k], t[1][k], known);
    json_array_begin(&j, "sites");
    for (uint32_t i = 0; i < top; i++) {
        json_object_begin(&j, NULL);
        json_str(&j, "function", r[i].function);
        json_str(&j, "file", r[i].file);
        json_u64(&j, "line", r[i].line);
        json_str(&j, "module", r[i].module);
        for (int k = 0; k < DIFF_NFIG; k++)
            json_triple(&j, diff_fig_names[k], k, r[i].f[0][k], r[i].f[1][k], known);
        json_bool(&j, "estimated", sampled);
        json_u64(&j, "live_bytes_delta_bound", live_bound(&r[i], rate));
        json_bool(&j, "beyond_bound", beyond_bound(&r[i], rate));
        json_object_end(&j);
    }
    json_array_end(&j);
    json_object_end(&j);
    fputc('\n', out);
}

/* "+1.50 KiB", "-300 B", "0": a change for people */
static const char *signed_size(char *buf, size_t cap, int64_t d)
{
    if (!d)
        return snprintf(buf, cap, "0"), buf;
    size_format(buf + 1, cap - 1, (double)d);
    if (d > 0) {
        buf[0] = '+';
        return buf;
    }
    return buf + 1;
}

/* "~" before a figure of a sampled side (an estimate), in place */
static char *est(char *buf, size_t n, int sampled)
{
    if (sampled)
        estimate_mark(buf, n);
    return buf;
}

static void write_text(const struct diff_options *o, const struct report_options *at[2],
                       const struct model *m[2], const struct complete c[2],
                       const struct model_view v[2], const int64_t t[2][DIFF_NFIG],
                       const struct diff_row *r, uint32_t n, FILE *out)
{
    static const char *const total_names[DIFF_NFIG] = {
        "live bytes", "live blocks", "allocations", "bytes allocated", "peak heap", "leaked"};
    uint32_t top = o->top < 0 ? 20 : (uint32_t)o->top, shown = 0, changed = 0, beyond = 0;
    uint64_t rate[2] = {model_summary(m[0])->sample_rate, model_summary(m[1])->sample_rate};
    int smp[2] = {rate[0] != 0, rate[1] != 0}, either = smp[0] || smp[1];
    char b1[32], b2[32], b3[32], chg[32], n1[32], n2[32], bound[40];

    for (int s = 0; s < 2; s++) {
        const struct model_summary *sum = model_summary(m[s]);

        fprintf(out, "%s  %s: %s (pid %u), at %s (%.3f s)\n", s ? "B" : "A",
                s ? o->name_b : o->name_a, *sum->exe ? sum->exe : "(unknown program)", sum->pid,
                at[s]->at == REPORT_AT_PEAK  ? "the peak"
                : at[s]->at == REPORT_AT_END ? "the end"
                                             : "time",
                (double)v[s].time / 1e9);
    }
    /* what a reader must know before any figure: a side cut short, a side
     * sampled */
    for (int s = 0; s < 2; s++) {
        if (!c[s].complete)
            fprintf(out, "%s  INCOMPLETE recording: %s\n", s ? "B" : "A", c[s].message);
        if (rate[s])
            fprintf(out,
                    "%s  sampled: one sample every %s on average: its figures by site are "
                    "estimates (~); its totals are exact (heap bytes: usable sizes)\n",
                    s ? "B" : "A", size_format(b1, sizeof(b1), (double)rate[s]));
    }
    fprintf(out, "\n  %-16s %14s %14s %14s\n", "", "A", "B", "change");
    for (int k = 0; k < DIFF_NFIG; k++) {
        if (k == DIFF_LEAKED_BYTES && !(c[0].leaks_known && c[1].leaks_known))
            fprintf(out, "  %-16s %14s %14s %14s\n", total_names[k],
                    c[0].leaks_known ? size_format(b1, sizeof(b1), (double)t[0][k]) : "not known",
                    c[1].leaks_known ? size_format(b2, sizeof(b2), (double)t[1][k]) : "not known",
                    "-");
        else if (k != DIFF_LIVE_BLOCKS && k != DIFF_ALLOCATIONS)
            fprintf(out, "  %-16s %14s %14s %14s\n", total_names[k],
                    size_format(b1, sizeof(b1), (double)t[0][k]),
                    size_format(b2, sizeof(b2), (double)t[1][k]),
                    signed_size(b3, sizeof(b3), t[1][k] - t[0][k]));
        else
            fprintf(out, "  %-16s %14lld %14lld %+14lld\n", total_names[k], (long long)t[0][k],
                    (long long)t[1][k], (long long)(t[1][k] - t[0][k]));
    }
    fprintf(out, "\nSites by change (live bytes, then allocations):\n");
    if (either) /* what the sampled estimates may differ by with no change */
        fprintf(out, "  %12s %12s %12s %12s %8s %8s  %s\n", "live A", "live B", "change",
                "95% bound", "blocks", "allocs", "function  file:line  [module]");
    else
        fprintf(out, "  %12s %12s %12s %8s %8s  %s\n", "live A", "live B", "change", "blocks",
                "allocs", "function  file:line  [module]");
    for (uint32_t i = 0; i < n; i++) {
        int any = 0;

        for (int k = 0; k < DIFF_NFIG; k++)
            any |= delta(&r[i], k) != 0;
        if (!any)
            continue;
        changed++;
        beyond += either && beyond_bound(&r[i], rate);
        if (shown >= top)
            continue;
        shown++;

        size_format(b1, sizeof(b1), (double)r[i].f[0][DIFF_LIVE_BYTES]);
        size_format(b2, sizeof(b2), (double)r[i].f[1][DIFF_LIVE_BYTES]);
        snprintf(chg, sizeof(chg), "%s",
                 signed_size(b3, sizeof(b3), delta(&r[i], DIFF_LIVE_BYTES)));
        snprintf(n1, sizeof(n1), "%+lld", (long long)delta(&r[i], DIFF_LIVE_BLOCKS));
        snprintf(n2, sizeof(n2), "%+lld", (long long)delta(&r[i], DIFF_ALLOCATIONS));
        fprintf(out, "  %12s %12s %12s", est(b1, sizeof(b1), smp[0]), est(b2, sizeof(b2), smp[1]),
                est(chg, sizeof(chg), either));
        if (either)
            fprintf(out, " %12s",
                    estimate_format_bound(bound, sizeof(bound), live_bound(&r[i], rate)));
        fprintf(out, " %8s %8s  %s", est(n1, sizeof(n1), either), est(n2, sizeof(n2), either),
                r[i].function);
        if (*r[i].file)
            fprintf(out, "  %s:%u", r[i].file, r[i].line);
        if (*r[i].module)
            fprintf(out, "  [%s]", r[i].module);
        fputc('\n', out);
    }
    if (!changed)
        fprintf(out, "  (no site changed)\n");
    else if (changed > shown)
        fprintf(out, "  ... %u more changed site%s (--top N)\n", changed - shown,
                changed - shown == 1 ? "" : "s");
    fprintf(out, "%u site%s changed, %u unchanged", changed, changed == 1 ? "" : "s", n - changed);
    if (either) /* the rest: what sampling alone may have moved */
        fprintf(out, "; live bytes beyond sampling's 95%% bound at %u", beyond);
    fputc('\n', out);
}

/* ---- a base to compare against, site by site (replay --against) ---- */

struct diff_base {
    struct diff_row *rows; /* sorted by key, one row per key (side 0) */
    uint32_t n;
};

struct diff_base *diff_base_new(const struct model *a, const struct model_query *q)
{
    struct diff_base *b = calloc(1, sizeof(*b));
    struct model_view v = {0};

    if (!b)
        return NULL;
    if (collect(a, q, 0, &b->rows, &b->n, &v) != 0) {
        model_view_free(&v);
        diff_base_free(b);
        return NULL;
    }
    model_view_free(&v);
    qsort(b->rows, b->n, sizeof(*b->rows), row_key_cmp);
    b->n = merge(b->rows, b->n);
    return b;
}

void diff_base_free(struct diff_base *b)
{
    if (b)
        free(b->rows);
    free(b);
}

int diff_base_live(const struct diff_base *b, const struct model *m, uint32_t site,
                   int64_t *live_bytes)
{
    const struct model_site *s = model_site(m, site);
    struct diff_row key;
    const struct diff_row *hit;
    const char *label;

    *live_bytes = 0;
    if (!b || !s)
        return 0;
    memset(&key, 0, sizeof(key));
    label = model_site_label(s, key.function, sizeof(key.function));
    if (label != key.function)
        snprintf(key.function, sizeof(key.function), "%s", label);
    key.file = s->file;
    key.line = s->line;
    key.module = s->module;
    hit = bsearch(&key, b->rows, b->n, sizeof(*b->rows), row_key_cmp);
    if (!hit)
        return 0;
    *live_bytes = hit->f[0][DIFF_LIVE_BYTES];
    return 1;
}

int diff_write(const struct model *a, const struct report_options *at_a, const struct model *b,
               const struct report_options *at_b, const struct diff_options *o, FILE *out,
               char *err, size_t errsz)
{
    const struct model *m[2] = {a, b};
    const struct report_options *at[2] = {at_a, at_b};
    struct model_view v[2] = {{0}, {0}};
    int64_t t[2][DIFF_NFIG];
    const struct complete_input whole = {0},
                                *in[2] = {o->in_a ? o->in_a : &whole, o->in_b ? o->in_b : &whole};
    struct complete c[2];
    struct diff_row *rows = NULL;
    uint32_t n = 0;
    int rc = -1;

    for (int s = 0; s < 2; s++) {
        struct model_query q;

        complete_judge(m[s], in[s], &c[s]);
        if (report_query(m[s], at[s], &q, err, errsz) != 0) {
            /* name the side: "B: --at 9: beyond the end ..." */
            char why[512];

            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errsz, "%s: %s", s ? o->name_b : o->name_a, why);
            goto out;
        }
        if (collect(m[s], &q, s, &rows, &n, &v[s]) != 0) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
        totals(m[s], &v[s], t[s]);
    }
    qsort(rows, n, sizeof(*rows), row_key_cmp);
    n = merge(rows, n);
    qsort(rows, n, sizeof(*rows), row_change_cmp);
    if (o->json)
        write_json(o, at, m, c, v, (const int64_t(*)[DIFF_NFIG])t, rows, n, out);
    else
        write_text(o, at, m, c, v, (const int64_t(*)[DIFF_NFIG])t, rows, n, out);
    rc = 0;
out:
    free(rows);
    model_view_free(&v[0]);
    model_view_free(&v[1]);
    return rc;
}

int diff_main(int argc, char **argv)
{
    struct report_options at[2] = {{.at = REPORT_AT_END}, {.at = REPORT_AT_END}};
    struct diff_options o = {.top = -1};
    const char *file[2] = {NULL, NULL};
    struct model *m[2] = {NULL, NULL};
    struct complete_input in[2];
    char err[1024];
    int rc = 1;

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val;
        size_t nlen = strcspn(a, "=");

        if (strcmp(a, "--json") == 0) {
            o.json = 1;
            continue;
        }
        if (a[0] != '-' || !a[1]) {
            if (file[1])
                return usage_error("diff", "diff takes two files, A and B");
            file[file[0] ? 1 : 0] = a;
            continue;
        }
        if (!(nlen == 5 && strncmp(a, "--top", 5) == 0) &&
            !(nlen == 6 && (strncmp(a, "--at-a", 6) == 0 || strncmp(a, "--at-b", 6) == 0)))
            return usage_error("diff", "unknown option %s", a);
        if (a[nlen]) {
            val = a + nlen + 1;
        } else {
            if (i + 1 >= argc)
                return usage_error("diff", "%s needs a value", a);
            val = argv[++i];
        }
        if (nlen == 5) {
            char *end;
            long v;

            errno = 0;
            v = strtol(val, &end, 10);
            if (end == val || *end || errno || v < 1 || v > 1000000000)
                return usage_error("diff", "--top %s: not a number from 1 to 1000000000", val);
            o.top = (int)v;
        } else if (report_parse_at(val, &at[a[5] == 'b']) != 0) {
            return usage_error("diff", "%.*s %s: expected peak, end or seconds", (int)nlen, a, val);
        }
    }
    if (!file[1])
        return usage_error("diff", "diff needs two files, A and B");
    o.name_a = file[0];
    o.name_b = file[1];
    o.in_a = &in[0];
    o.in_b = &in[1];
    for (int s = 0; s < 2; s++) {
        m[s] = load_recording(file[s], at[s].at == REPORT_AT_TIME, stderr, &in[s]);
        if (!m[s])
            goto out;
    }
    if (diff_write(m[0], &at[0], m[1], &at[1], &o, stdout, err, sizeof(err)) != 0) {
        fprintf(stderr, "heapline: %s\n", err);
        goto out;
    }
    rc = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "heapline: writing the diff: %s\n", strerror(errno));
        rc = 1;
    }
out:
    model_free(m[0]);
    model_free(m[1]);
    return rc;
}
