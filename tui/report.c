/*
 * report.c - `heapline report`: text for humans, JSON for scripts.
 *
 * The JSON field names are a promise (README.md, "report --json"): never
 * rename them; add new ones. Every figure comes from the same model queries
 * the TUI uses, so the two agree at the same time point.
 */
#include "report.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "complete.h"
#include "estimate.h"
#include "flame.h"
#include "html.h"
#include "json.h"
#include "load.h"
#include "model.h"
#include "size.h"
#include "wire.h"

/* A time as the TUI prints it, its "s" optional: seconds (0.404, 0.404s,
 * 62.5), minutes and seconds (1m02.3s) or hours and minutes (1h02m). *ns
 * gets it. Returns 0, or -1 when s is none of these or beyond 1e9 s. */
static int parse_seconds(const char *s, int64_t *ns)
{
    static const struct {
        char unit;
        double secs;
    } big[] = {{'h', 3600}, {'m', 60}};
    double total = 0, v;
    const char *p = s;
    char *end;
    int parts = 0;

    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        unsigned long long n;

        if (!isdigit((unsigned char)*p))
            break;
        errno = 0;
        n = strtoull(p, &end, 10);
        if (*end != big[i].unit || errno)
            continue;
        total += (double)n * big[i].secs;
        p = end + 1;
        parts++;
    }
    if (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return -1;
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno || !isfinite(v))
            return -1;
        end += *end == 's';
        if (*end)
            return -1;
        total += v;
    } else if (!parts) {
        return -1;
    }
    if (total > 1e9)
        return -1;
    *ns = (int64_t)llround(total * 1e9);
    return 0;
}

int report_parse_at(const char *s, struct report_options *o)
{
    o->at_text = s;
    if (strcmp(s, "peak") == 0) {
        o->at = REPORT_AT_PEAK;
        return 0;
    }
    if (strcmp(s, "end") == 0) {
        o->at = REPORT_AT_END;
        return 0;
    }
    if (parse_seconds(s, &o->time) != 0)
        return -1;
    o->at = REPORT_AT_TIME;
    return 0;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Sites first by live bytes, then bytes allocated, then id. */
static int cmp_live(const void *pa, const void *pb)
{
    const struct model_row *a = pa, *b = pb;

    if (a->live_bytes != b->live_bytes)
        return a->live_bytes > b->live_bytes ? -1 : 1;
    if (a->bytes_allocated != b->bytes_allocated)
        return a->bytes_allocated > b->bytes_allocated ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static int cmp_leak(const void *pa, const void *pb)
{
    const struct model_row *a = pa, *b = pb;

    if (a->leaked_bytes != b->leaked_bytes)
        return a->leaked_bytes > b->leaked_bytes ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static int cmp_temp(const void *pa, const void *pb)
{
    const struct model_row *a = pa, *b = pb;

    if (a->temporary != b->temporary)
        return a->temporary > b->temporary ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

static void json_site_id(struct json *j, const struct model_site *s)
{
    char buf[160];

    json_str(j, "function", model_site_label(s, buf, sizeof(buf)));
    json_str(j, "file", s->file);
    json_u64(j, "line", s->line);
    json_str(j, "module", s->module);
}

/* Ends a site's object with its offset in the module (addr2line's address
 * for an unnamed site), after the figures that scripts read by position too. */
static void json_site_end(struct json *j, const struct model_site *s)
{
    json_u64(j, "offset", s ? s->offset : 0);
    json_object_end(j);
}

/* Callers listed per site in JSON (the text lists three: text_callers). */
#define REPORT_CALLERS 5

/* A caller's frame as json_site_id names a site; all empty for none (the
 * site's frame was the outermost). */
static void json_frame_id(struct json *j, const struct model_frame *f)
{
    char buf[160];

    json_str(j, "function", f ? model_frame_label(f, buf, sizeof(buf)) : "");
    json_str(j, "file", f ? f->file : "");
    json_u64(j, "line", f ? f->line : 0);
    json_str(j, "module", f ? f->module : "");
    json_u64(j, "offset", f ? f->offset : 0);
}

/* "callers": where the site's memory comes from, one frame up (see
 * model_callers), largest live bytes first. */
static void json_callers(struct json *j, const struct model_callers *t, uint32_t site)
{
    uint32_t n;
    const struct model_caller *c = model_callers_of(t, site, &n);

    json_array_begin(j, "callers");
    for (uint32_t i = 0; i < n && i < REPORT_CALLERS; i++) {
        json_object_begin(j, NULL);
        json_frame_id(j, c[i].frame);
        json_i64(j, "live_bytes", c[i].live_bytes);
        json_i64(j, "live_blocks", c[i].live_blocks);
        json_u64(j, "allocations", c[i].allocations);
        json_u64(j, "bytes_allocated", c[i].bytes_allocated);
        json_object_end(j);
    }
    json_array_end(j);
    if (n > REPORT_CALLERS)
        json_u64(j, "more_callers", n - REPORT_CALLERS);
}

/* Frames of a site's stack listed in JSON, leaf first. */
#define REPORT_STACK_FRAMES 128

/* "stack": the site's heaviest stack at the time (model_callers_top_stack),
 * leaf first, every inlined level a frame of its own ("inlined": true when the
 * frame's code was inlined into the next one). */
static void json_stack(struct json *j, const struct model *m, const struct model_callers *t,
                       uint32_t site)
{
    const struct model_frame *f[REPORT_STACK_FRAMES];
    uint32_t n = model_stack_frames(m, model_callers_top_stack(t, site), f, REPORT_STACK_FRAMES);

    json_array_begin(j, "stack");
    for (uint32_t i = 0; i < n; i++) {
        json_object_begin(j, NULL);
        json_frame_id(j, f[i]);
        json_bool(j, "inlined", f[i]->outer != NULL);
        json_object_end(j);
    }
    json_array_end(j);
}

/* Stripped modules: no symbol table and no separate debug file found, so
 * their static functions (a program's own allocation wrappers) have no name.
 * The debug file that would name them is the one with their build id. */
static int stripped(const struct model_module *mod)
{
    return mod && mod->symbols == WIRE_SYMBOLS_EXPORTED;
}

static void build_id_path(const struct model_module *mod, char *buf, size_t n)
{
    if (strlen(mod->build_id) > 2)
        snprintf(buf, n, "/usr/lib/debug/.build-id/%.2s/%s.debug", mod->build_id,
                 mod->build_id + 2);
    else
        snprintf(buf, n, "%s", "");
}

/* "no_symbols": each stripped module once, with the build id and the path a
 * debug file would need. */
static void json_no_symbols(struct json *j, const struct model *m)
{
    char path[300];

    json_array_begin(j, "no_symbols");
    for (uint32_t id = 0; id < model_module_limit(m); id++) {
        const struct model_module *mod = model_module(m, id);

        if (!stripped(mod))
            continue;
        build_id_path(mod, path, sizeof(path));
        json_object_begin(j, NULL);
        json_str(j, "module", mod->name);
        json_str(j, "path", mod->path);
        json_str(j, "build_id", mod->build_id);
        json_str(j, "debug_file", path);
        json_object_end(j);
    }
    json_array_end(j);
}

/* "leaked_bytes" and the like: the figure when leaks are known, else null
 * (not 0: nothing is proven either way). */
static void json_leak(struct json *j, const char *key, const struct complete *c, uint64_t v)
{
    if (c->leaks_known)
        json_u64(j, key, v);
    else
        json_str(j, key, NULL);
}

/* "complete", "incomplete" (null, or why and from when), "leaks_known" and
 * why not: what a script must read before any figure. */
static void json_verdict(struct json *j, const struct complete *c, const struct complete_input *in)
{
    json_bool(j, "complete", c->complete);
    if (c->complete) {
        json_str(j, "incomplete", NULL);
    } else {
        json_object_begin(j, "incomplete");
        json_str(j, "reason", c->reason);
        json_f64(j, "time", secs(c->time));
        json_str(j, "message", c->message);
        if (in->corrupt)
            json_u64(j, "byte", in->corrupt_at);
        json_object_end(j);
    }
    json_bool(j, "leaks_known", c->leaks_known);
    json_str(j, "leaks_unknown_because", c->leaks_known ? NULL : c->leaks_why);
}

/* A site's live bytes at the global peak (heaptrack's "peak" of a site):
 * at_peak is by site id, n_at_peak entries. */
static int64_t at_peak_of(const int64_t *at_peak, uint32_t n_at_peak, uint32_t site)
{
    return site < n_at_peak ? at_peak[site] : 0;
}

static void write_json(const struct model *m, const struct report_options *o,
                       const struct model_callers *callers, const struct model_view *v,
                       const int64_t *at_peak, uint32_t n_at_peak, struct model_row *rows,
                       uint32_t n, const struct complete_input *in, const struct complete *c,
                       FILE *out)
{
    const struct model_summary *sum = model_summary(m);
    uint32_t top = o->top < 0 || (uint32_t)o->top > n ? n : (uint32_t)o->top;
    struct json j;

    json_init(&j, out, 1);
    json_object_begin(&j, NULL);
    json_str(&j, "exe", sum->exe);
    json_u64(&j, "pid", sum->pid);
    json_verdict(&j, c, in);
    json_str(&j, "at", o->at == REPORT_AT_PEAK ? "peak" : o->at == REPORT_AT_END ? "end" : "time");
    json_f64(&j, "time", secs(v->time));
    json_f64(&j, "duration", secs(sum->time_last));
    json_u64(&j, "allocations", v->totals.allocations);
    json_u64(&j, "frees", v->totals.frees);
    json_u64(&j, "bytes_allocated", v->totals.bytes_allocated);
    json_u64(&j, "live_bytes", v->totals.heap_bytes);
    json_u64(&j, "live_blocks", v->totals.heap_blocks);
    json_u64(&j, "rss", v->totals.rss);
    json_u64(&j, "peak_bytes", sum->peak_bytes);
    json_f64(&j, "peak_time", secs(sum->peak_time));
    json_u64(&j, "peak_rss", sum->peak_rss);
    json_leak(&j, "leaked_bytes", c, sum->leaked_bytes);
    json_leak(&j, "leaked_blocks", c, sum->leaked_blocks);
    json_u64(&j, "temporary_allocations", sum->temporary);
    json_u64(&j, "total_allocations", sum->allocations);
    json_u64(&j, "total_frees", sum->frees);
    json_u64(&j, "total_bytes_allocated", sum->bytes_allocated);
    json_u64(&j, "unmatched_frees", sum->unmatched_frees);
    json_u64(&j, "missed_events", sum->missed);
    json_u64(&j, "tick_mismatches", sum->tick_mismatches);
    /* sampling mode: per-site figures are estimates (each site says so, with
     * its 95% bound); totals stay exact, live and peak bytes in usable bytes */
    json_bool(&j, "sampled", sum->sample_rate != 0);
    json_u64(&j, "sample_rate", sum->sample_rate);
    json_bool(&j, "since_attach", sum->since_attach);
    json_bool(&j, "truncated", in->truncated);
    if (sum->state == MODEL_ENDED) {
        json_str(&j, "end",
                 sum->end_reason == WIRE_END_SIGNAL ? "signal"
                 : sum->end_reason == WIRE_END_EXEC ? "exec"
                 : sum->end_reason == WIRE_END_EXIT ? "exit"
                                                    : "detach");
        json_i64(&j, "end_status", sum->end_status);
    } else {
        json_str(&j, "end", NULL);
    }
    if (sum->disabled)
        json_str(&j, "disabled", sum->disabled_reason);
    /* what the collector told the user, in order (at most MODEL_NOTES) */
    json_array_begin(&j, "notes");
    for (uint32_t i = 0; i < sum->n_notes && i < MODEL_NOTES; i++) {
        json_object_begin(&j, NULL);
        json_f64(&j, "time", secs(sum->note_time[i]));
        json_str(&j, "text", sum->notes[i]);
        json_object_end(&j);
    }
    json_array_end(&j);
    json_array_begin(&j, "sites");
    for (uint32_t i = 0; i < top; i++) {
        const struct model_row *r = &rows[i];
        json_object_begin(&j, NULL);
        json_site_id(&j, model_site(m, r->site));
        json_i64(&j, "live_bytes", r->live_bytes);
        json_i64(&j, "live_blocks", r->live_blocks);
        json_u64(&j, "allocations", r->allocations);
        json_u64(&j, "bytes_allocated", r->bytes_allocated);
        json_u64(&j, "peak_bytes", r->peak_bytes);
        json_i64(&j, "live_at_peak", at_peak_of(at_peak, n_at_peak, r->site));
        json_leak(&j, "leaked_bytes", c, r->leaked_bytes);
        json_u64(&j, "temporary", r->temporary);
        json_bool(&j, "estimated", sum->sample_rate != 0);
        json_u64(&j, "live_bytes_error",
                 estimate_error(sum->sample_rate, r->live_bytes, r->live_blocks));
        json_u64(&j, "live_blocks_error",
                 estimate_blocks_error(sum->sample_rate, r->live_bytes, r->live_blocks));
        json_u64(&j, "offset", model_site(m, r->site) ? model_site(m, r->site)->offset : 0);
        json_callers(&j, callers, r->site);
        json_stack(&j, m, callers, r->site);
        json_object_end(&j);
    }
    json_array_end(&j);

    qsort(rows, n, sizeof(*rows), cmp_leak);
    json_array_begin(&j, "leaks");
    for (uint32_t i = 0, k = 0; c->leaks_known && i < n && k < top; i++) {
        if (!rows[i].leaked_bytes && !rows[i].leaked_blocks)
            continue;
        k++;
        json_object_begin(&j, NULL);
        json_site_id(&j, model_site(m, rows[i].site));
        json_u64(&j, "bytes", rows[i].leaked_bytes);
        json_u64(&j, "blocks", rows[i].leaked_blocks);
        json_site_end(&j, model_site(m, rows[i].site));
    }
    json_array_end(&j);

    qsort(rows, n, sizeof(*rows), cmp_temp);
    json_array_begin(&j, "temporary");
    for (uint32_t i = 0, k = 0; i < n && k < top; i++) {
        if (!rows[i].temporary)
            continue;
        k++;
        json_object_begin(&j, NULL);
        json_site_id(&j, model_site(m, rows[i].site));
        json_u64(&j, "count", rows[i].temporary);
        json_u64(&j, "allocations", model_site(m, rows[i].site) ? rows[i].allocations : 0);
        json_site_end(&j, model_site(m, rows[i].site));
    }
    json_array_end(&j);

    {
        uint32_t nm;
        const struct model_marker *mk = model_markers(m, &nm);
        json_array_begin(&j, "markers");
        for (uint32_t i = 0; i < nm; i++) {
            json_object_begin(&j, NULL);
            json_f64(&j, "time", secs(mk[i].time));
            json_str(&j, "label", mk[i].label);
            json_object_end(&j);
        }
        json_array_end(&j);
    }
    json_no_symbols(&j, m);
    json_object_end(&j);
    fputc('\n', out);
}

/* The second column's width: a count (blocks, allocations), or bytes (the
 * at-peak table's "site max": "1023.99 KiB", and "~" before it when sampled). */
#define COL_COUNT 9
#define COL_BYTES 12

/* The sampled site tables' bound columns: bytes', then blocks' when the
 * table has a column of blocks. */
#define COL_BOUND 12
#define COL_BLOCKS_BOUND 9

/* fig1 and fig2 as given (fig2 in a column of width w2), or in sampling mode
 * marked as estimates ("~"), with the 95% bound of bytes (fig1's, when fig1
 * is bytes, else < 0) after them, and when fig2 is the blocks (w2 is
 * COL_COUNT) the 95% bound of blocks after that. */
static void text_site_w(FILE *out, const struct model *m, const struct model_row *r,
                        const char *fig1, const char *fig2, int w2, int64_t bytes, int64_t blocks)
{
    const struct model_site *s = model_site(m, r->site);
    uint64_t rate = model_summary(m)->sample_rate;
    char buf[160], e1[40], e2[40], err[40], berr[40] = "";

    if (rate) {
        snprintf(e1, sizeof(e1), "~%s", fig1);
        snprintf(e2, sizeof(e2), "~%s", fig2);
        estimate_format(err, sizeof(err), rate, bytes, blocks);
        if (w2 == COL_COUNT)
            snprintf(berr, sizeof(berr), " %*s", COL_BLOCKS_BOUND,
                     bytes < 0 ? ""
                               : estimate_format_count(buf, sizeof(buf),
                                                       estimate_blocks_error(rate, bytes, blocks)));
        fprintf(out, "  %12s %*s %*s%s  %s", e1, w2, e2, COL_BOUND, bytes >= 0 ? err : "", berr,
                model_site_label(s, buf, sizeof(buf)));
    } else {
        fprintf(out, "  %12s %*s  %s", fig1, w2, fig2, model_site_label(s, buf, sizeof(buf)));
    }
    if (*s->file)
        fprintf(out, "  %s:%u", s->file, s->line);
    if (*s->module)
        fprintf(out, "  [%s]", s->module);
    fputc('\n', out);
}

static void text_site_est(FILE *out, const struct model *m, const struct model_row *r,
                          const char *fig1, const char *fig2, int64_t bytes, int64_t blocks)
{
    text_site_w(out, m, r, fig1, fig2, COL_COUNT, bytes, blocks);
}

static void text_site(FILE *out, const struct model *m, const struct model_row *r, const char *fig1,
                      const char *fig2)
{
    text_site_est(out, m, r, fig1, fig2, -1, 0);
}

/* Under a site of the top list, its callers with live bytes when it has two
 * or more of them (an allocation wrapper: Perl_safesysmalloc, git's xmalloc),
 * at most 3, then how many more have live bytes; a site with one caller is
 * its own story. */
static void text_callers(FILE *out, const struct model_callers *t, uint32_t site, uint64_t rate)
{
    uint32_t n, live = 0, shown = 0;
    const struct model_caller *c = model_callers_of(t, site, &n);
    const char *est = rate ? "~" : "";
    int gap = rate ? 1 + COL_BOUND + 1 + COL_BLOCKS_BOUND : 0; /* the 95% bounds' columns, blank */
    char size[32], fig1[40], fig2[32], buf[160];

    while (live < n && c[live].live_bytes > 0) /* in order: live bytes first */
        live++;
    for (; live >= 2 && shown < live && shown < 3; shown++) {
        const struct model_frame *f = c[shown].frame;

        size_format(size, sizeof(size), (double)c[shown].live_bytes);
        snprintf(fig1, sizeof(fig1), "%s%s", est, size);
        snprintf(fig2, sizeof(fig2), "%s%lld", est, (long long)c[shown].live_blocks);
        fprintf(out, "  %12s %9s %*s   <- %s", fig1, fig2, gap, "",
                f ? model_frame_label(f, buf, sizeof(buf)) : "(outermost frame)");
        if (f && *f->file)
            fprintf(out, "  %s:%u", f->file, f->line);
        if (f && *f->module)
            fprintf(out, "  [%s]", f->module);
        fputc('\n', out);
    }
    if (live > shown && shown)
        fprintf(out, "  %12s %9s %*s   <- %u more caller%s with live bytes\n", "", "", gap, "",
                live - shown, live - shown == 1 ? "" : "s");
}

/* "At the peak by site": each site's bytes when the heap peaked (what
 * heaptrack calls a site's peak) beside its own highest ("site max", which
 * may come at another time), largest at the peak first. */
static void text_at_peak(FILE *out, const struct model *m, const struct model_row *rows, uint32_t n,
                         const int64_t *at_peak, uint32_t n_at_peak, uint32_t top)
{
    const struct model_summary *sum = model_summary(m);
    struct model_row *t = malloc((n ? n : 1) * sizeof(*t));
    uint32_t k = 0, shown = 0;
    char b2[32], b3[32];

    if (sum->sample_rate) /* the bound is the bytes at the peak's */
        fprintf(out, "\nAt the peak (%.3f s) by site:\n  %12s %*s %12s  %s\n", secs(sum->peak_time),
                "at peak", COL_BYTES, "site max", "95% bound", "function  file:line  [module]");
    else
        fprintf(out, "\nAt the peak (%.3f s) by site:\n  %12s %*s  %s\n", secs(sum->peak_time),
                "at peak", COL_BYTES, "site max", "function  file:line  [module]");
    if (!t) {
        fprintf(out, "  (out of memory)\n");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        t[k] = rows[i];
        t[k].live_bytes = at_peak_of(at_peak, n_at_peak, rows[i].site);
        if (t[k].live_bytes > 0)
            k++;
    }
    qsort(t, k, sizeof(*t), cmp_live);
    for (uint32_t i = 0; i < k && shown < top; i++, shown++) {
        size_format(b2, sizeof(b2), (double)t[i].live_bytes);
        size_format(b3, sizeof(b3), (double)t[i].peak_bytes);
        text_site_w(out, m, &t[i], b2, b3, COL_BYTES, t[i].live_bytes, t[i].live_blocks);
    }
    if (!shown)
        fprintf(out, "  (nothing live)\n");
    free(t);
}

/* The report's first lines: the run, its totals, what it lacks, markers. */
static void text_summary(const struct model *m, const struct complete *c, FILE *out)
{
    const struct model_summary *sum = model_summary(m);
    char b1[32];

    fprintf(out, "heapline report: %s (pid %u)%s\n", *sum->exe ? sum->exe : "(unknown program)",
            sum->pid, c->complete ? "" : "  [INCOMPLETE recording]");
    if (!c->complete)
        fprintf(out, "INCOMPLETE    %s\n", c->message);
    fprintf(out, "duration      %.3f s", secs(sum->time_last));
    if (sum->state == MODEL_ENDED) {
        if (sum->end_reason == WIRE_END_SIGNAL)
            fprintf(out, ", killed by signal %d", sum->end_status);
        else if (sum->end_reason == WIRE_END_EXIT)
            fprintf(out, ", exit status %d", sum->end_status);
        else if (sum->end_reason == WIRE_END_EXEC)
            fprintf(out, ", exec'd another program");
    }
    fputc('\n', out);
    size_format(b1, sizeof(b1), (double)sum->peak_bytes);
    fprintf(out, "peak heap     %s (%llu bytes) at %.3f s\n", b1,
            (unsigned long long)sum->peak_bytes, secs(sum->peak_time));
    if (sum->peak_rss) {
        size_format(b1, sizeof(b1), (double)sum->peak_rss);
        fprintf(out, "peak rss      %s\n", b1);
    }
    size_format(b1, sizeof(b1), (double)sum->bytes_allocated);
    fprintf(out, "total         %llu allocations, %llu frees, %s allocated\n",
            (unsigned long long)sum->allocations, (unsigned long long)sum->frees, b1);
    size_format(b1, sizeof(b1), (double)sum->leaked_bytes);
    if (c->leaks_known)
        fprintf(out, "leaked        %s in %llu blocks (live at end)\n", b1,
                (unsigned long long)sum->leaked_blocks);
    else
        fprintf(out, "leaked        not known: %s\n", c->leaks_why);
    if (sum->sample_rate) /* a temporary is told by the event after it */
        fprintf(out, "temporary     not counted in sampling mode\n");
    else
        fprintf(out, "temporary     %llu allocations freed right away\n",
                (unsigned long long)sum->temporary);
    if (sum->sample_rate) {
        size_format(b1, sizeof(b1), (double)sum->sample_rate);
        fprintf(out,
                "sampled       one sample every %s on average: figures by site are estimates "
                "(~), +- their 95%% bound; totals are exact (heap bytes: usable sizes)\n",
                b1);
    }
    if (sum->since_attach) /* a service's heap of 200M can read 0B here */
        fprintf(out,
                "since attach  the collector was loaded into the running program (attach, record "
                "--pid): figures count from then (live: %s)\n",
                sum->sample_rate ? "the net change of heap bytes since, never below 0"
                                 : "the blocks allocated since that are live");
    if (sum->missed)
        fprintf(out, "missed        %llu events (figures from ticks)\n",
                (unsigned long long)sum->missed);
    if (sum->disabled)
        fprintf(out, "disabled      at %.3f s: %s\n", secs(sum->disabled_time),
                sum->disabled_reason);
    for (uint32_t i = 0; i < sum->n_notes && i < MODEL_NOTES; i++)
        fprintf(out, "collector     at %.3f s: %s\n", secs(sum->note_time[i]), sum->notes[i]);
    for (uint32_t id = 0; id < model_module_limit(m); id++) {
        const struct model_module *mod = model_module(m, id);
        char path[300];

        if (!stripped(mod))
            continue;
        build_id_path(mod, path, sizeof(path));
        fprintf(out,
                "no symbols    %s is stripped: functions it does not export show as "
                "%s+0xOFFSET",
                mod->path, mod->name);
        if (*path)
            fprintf(out, "; a debug file with build id %s would name them (%s)", mod->build_id,
                    path);
        fputc('\n', out);
    }
    {
        uint32_t nm;
        const struct model_marker *mk = model_markers(m, &nm);
        for (uint32_t i = 0; i < nm; i++)
            fprintf(out, "marker        %.3f s  %s\n", secs(mk[i].time), mk[i].label);
    }
}

static void write_text(const struct model *m, const struct report_options *o,
                       const struct model_callers *callers, const struct model_view *v,
                       const int64_t *at_peak, uint32_t n_at_peak, struct model_row *rows,
                       uint32_t n, const struct complete *c, FILE *out)
{
    const struct model_summary *sum = model_summary(m);
    uint32_t top = o->top < 0 ? 10 : (uint32_t)o->top;
    char b1[32], b2[32], b3[32];
    uint32_t shown = 0;

    text_summary(m, c, out);
    size_format(b1, sizeof(b1), (double)v->totals.heap_bytes);
    fprintf(out, "\nAt %s (%.3f s): %s live in %llu blocks; %llu allocations, %llu frees so far\n",
            o->at == REPORT_AT_PEAK  ? "the peak"
            : o->at == REPORT_AT_END ? "the end"
                                     : "time",
            secs(v->time), b1, (unsigned long long)v->totals.heap_blocks,
            (unsigned long long)v->totals.allocations, (unsigned long long)v->totals.frees);
    if (sum->sample_rate)
        fprintf(out, "\nTop sites by live bytes:\n  %12s %9s %*s %*s  %s\n", "live", "blocks",
                COL_BOUND, "95% bound", COL_BLOCKS_BOUND, "(blocks)",
                "function  file:line  [module]");
    else
        fprintf(out, "\nTop sites by live bytes:\n  %12s %9s  %s\n", "live", "blocks",
                "function  file:line  [module]");
    for (uint32_t i = 0; i < n && shown < top; i++) {
        if (rows[i].live_bytes <= 0)
            break;
        size_format(b2, sizeof(b2), (double)rows[i].live_bytes);
        snprintf(b3, sizeof(b3), "%lld", (long long)rows[i].live_blocks);
        text_site_est(out, m, &rows[i], b2, b3, rows[i].live_bytes, rows[i].live_blocks);
        text_callers(out, callers, rows[i].site, sum->sample_rate);
        shown++;
    }
    if (!shown)
        fprintf(out, "  (nothing live)\n");
    text_at_peak(out, m, rows, n, at_peak, n_at_peak, top);

    qsort(rows, n, sizeof(*rows), cmp_leak);
    if (!c->leaks_known)
        fprintf(out, "\nLeaked: not known (%s): nothing is called a leak\n", c->leaks_why);
    else if (sum->sample_rate)
        fprintf(out, "\nLeaked (live at end) by site:\n  %12s %9s %*s %*s\n", "bytes", "blocks",
                COL_BOUND, "95% bound", COL_BLOCKS_BOUND, "(blocks)");
    else
        fprintf(out, "\nLeaked (live at end) by site:\n  %12s %9s\n", "bytes", "blocks");
    shown = 0;
    for (uint32_t i = 0; c->leaks_known && i < n && shown < top && rows[i].leaked_bytes;
         i++, shown++) {
        size_format(b2, sizeof(b2), (double)rows[i].leaked_bytes);
        snprintf(b3, sizeof(b3), "%llu", (unsigned long long)rows[i].leaked_blocks);
        text_site_est(out, m, &rows[i], b2, b3, (int64_t)rows[i].leaked_bytes,
                      (int64_t)rows[i].leaked_blocks);
    }
    if (!shown && c->leaks_known)
        fprintf(out, "  (no leaks)\n");

    if (sum->sample_rate)
        return;
    qsort(rows, n, sizeof(*rows), cmp_temp);
    fprintf(out, "\nTemporary allocations by site:\n  %12s %9s\n", "temporary", "allocs");
    shown = 0;
    for (uint32_t i = 0; i < n && shown < top && rows[i].temporary; i++, shown++) {
        snprintf(b2, sizeof(b2), "%llu", (unsigned long long)rows[i].temporary);
        snprintf(b3, sizeof(b3), "%llu", (unsigned long long)rows[i].allocations);
        text_site(out, m, &rows[i], b2, b3);
    }
    if (!shown)
        fprintf(out, "  (none)\n");
}

int report_query(const struct model *m, const struct report_options *o, struct model_query *q,
                 char *err, size_t errsz)
{
    const struct model_summary *sum = model_summary(m);

    memset(q, 0, sizeof(*q));
    if (o->at == REPORT_AT_TIME) {
        if (o->time > sum->time_last) {
            snprintf(err, errsz, "--at %s: beyond the end of the recording (%.3f s)",
                     o->at_text ? o->at_text : "", secs(sum->time_last));
            return -1;
        }
        q->at = MODEL_AT_TIME;
        q->time = o->time;
    } else {
        q->at = o->at == REPORT_AT_PEAK ? MODEL_AT_PEAK : MODEL_AT_END;
    }
    return 0;
}

int report_write(const struct model *m, const struct report_options *o,
                 const struct complete_input *in, FILE *out, char *err, size_t errsz)
{
    struct complete c;
    struct model_query q = {0}, qp = {.at = MODEL_AT_PEAK};
    struct model_view v = {0}, vp = {0};
    struct model_callers callers;
    int64_t *at_peak;
    uint32_t n = 0, n_at_peak;

    if (report_query(m, o, &q, err, errsz) != 0)
        return -1;
    if (model_view_at(m, &q, &v) != 0 || model_view_at(m, &qp, &vp) != 0) {
        model_view_free(&v);
        model_view_free(&vp);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    /* each site's bytes at the global peak, by site id (rows are by id) */
    n_at_peak = model_site_count(m);
    at_peak = calloc(n_at_peak ? n_at_peak : 1, sizeof(*at_peak));
    for (uint32_t i = 0; at_peak && i < vp.n_rows; i++)
        if (vp.rows[i].site < n_at_peak)
            at_peak[vp.rows[i].site] = vp.rows[i].live_bytes;
    model_view_free(&vp);
    if (!at_peak) {
        model_view_free(&v);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    /* only sites that exist at the time: something allocated or live */
    for (uint32_t i = 0; i < v.n_rows; i++)
        if (v.rows[i].allocations || v.rows[i].live_bytes || v.rows[i].live_blocks ||
            v.rows[i].leaked_bytes || v.rows[i].temporary)
            v.rows[n++] = v.rows[i];
    qsort(v.rows, n, sizeof(*v.rows), cmp_live);
    if (model_callers(m, &q, &callers) != 0) {
        free(at_peak);
        model_view_free(&v);
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    complete_judge(m, in, &c);
    if (o->json)
        write_json(m, o, &callers, &v, at_peak, n_at_peak, v.rows, n, in, &c, out);
    else
        write_text(m, o, &callers, &v, at_peak, n_at_peak, v.rows, n, &c, out);
    free(at_peak);
    model_callers_free(&callers);
    model_view_free(&v);
    return 0;
}

int report_main(const char *path, const struct report_options *o, FILE *out, FILE *errf)
{
    char err[1024];
    struct complete_input in;
    int rc = 0;
    /* --at SECONDS: full timeline resolution (a one-shot command may use the
     * memory; the TUI keeps the default budget) */
    struct model *m = load_recording(path, o->at == REPORT_AT_TIME, errf, &in);

    if (!m)
        return 1;
    if (o->html) {
        rc = html_write_file(m, o, &in, o->html, errf);
        model_free(m);
        return rc;
    }
    if (o->flamegraph && model_summary(m)->sample_rate) {
        /* folded stacks have no room for a mark: the estimate is said here */
        char rate[32];

        size_format(rate, sizeof(rate), (double)model_summary(m)->sample_rate);
        fprintf(errf,
                "heapline: %s: sampled (one sample every %s on average): the counts are "
                "estimates\n",
                path, rate);
    }
    if (o->flamegraph ? flame_write(m, o, out, err, sizeof(err)) != 0
                      : report_write(m, o, &in, out, err, sizeof(err)) != 0) {
        fprintf(errf, "heapline: %s\n", err);
        rc = 1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(errf, "heapline: writing the report: %s\n", strerror(errno));
        rc = 1;
    }
    model_free(m);
    return rc;
}
