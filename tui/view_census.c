/*
 * view_census.c - the live Python objects of a running program by type, as
 * `heapline backrefs PID --types [--growth S]` answers (objgraph's
 * show_most_common_types and show_growth): count and bytes per type, and
 * the growth in count since the first census this screen took. Enter opens
 * the chain of the type's oldest live instance (the refs screen). "/"
 * filters the types by name (a case-insensitive substring, as the sites'
 * filter): the rows shown are indexes into the census, kept in its order.
 *
 * A census is a scan request for address 0 (protocol/scanmsg.h: flag
 * SCANMSG_CENSUS, rows of type, count, bytes, oldest). Its rows are copied
 * out when the answer comes (pychain_census_types), so the screen never
 * holds a pointer into the stream.
 */
#include "view_census.h"

#include <curses.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "model.h"
#include "pychain.h"
#include "responses.h"
#include "scanmsg.h"
#include "source.h"
#include "view_ctx.h"
#include "view_refs.h"
#include "widget.h"

enum census_state { CENSUS_NONE = 0, CENSUS_ASKING, CENSUS_DONE, CENSUS_FAILED };

struct view_census {
    int state; /* enum census_state */
    int req;   /* the request whose answer is awaited (source_response) */
    char error[256];
    struct pychain_type *types; /* the latest census, in the order shown */
    size_t n;
    struct pychain_type *first; /* the first census since the screen opened */
    size_t n_first;
    int64_t first_ms, last_ms; /* when they came (view_ctx_now_ms) */
    uint64_t objects, bytes;   /* the latest census's totals */
    int by_growth;             /* sorted by growth, else by count */
    char filter[128];          /* "/": the types whose name contains it, "" all */
    size_t *shown;             /* indexes into types[] of the rows shown */
    size_t n_shown;
    int sel, top;
};

static struct view_census *state(const struct ui *ui)
{
    return ui->data[VIEW_CENSUS];
}

static int census_open(struct ui *ui)
{
    ui->data[VIEW_CENSUS] = calloc(1, sizeof(struct view_census));
    return ui->data[VIEW_CENSUS] ? 0 : -1;
}

static void census_clear(struct view_census *v)
{
    free(v->types);
    free(v->first);
    free(v->shown);
    v->types = v->first = NULL;
    v->shown = NULL;
    v->n = v->n_first = v->n_shown = 0;
}

/* The rows shown: the census's types whose name matches the filter, in
 * its order. -1 when out of memory (nothing is shown). */
static int refilter(struct view_census *v)
{
    free(v->shown);
    v->n_shown = 0;
    v->shown = malloc((v->n ? v->n : 1) * sizeof *v->shown);
    if (!v->shown)
        return -1;
    for (size_t i = 0; i < v->n; i++)
        if (model_text_matches(v->types[i].name, v->filter))
            v->shown[v->n_shown++] = i;
    return 0;
}

static void census_free(struct ui *ui)
{
    struct view_census *v = state(ui);
    if (v)
        census_clear(v);
    free(v);
    ui->data[VIEW_CENSUS] = NULL;
}

static void census_reset(struct ui *ui)
{
    census_clear(state(ui));
    state(ui)->state = CENSUS_NONE;
}

/* Asks the collector for a census. Returns KEYS_* flags. */
static int ask(struct ui *ui)
{
    struct view_census *v = state(ui);

    if (!ui->src || ui->src_state != SOURCE_OPEN || source_kind(ui->src) == SOURCE_FILE) {
        view_ctx_message(ui, "the census needs a running Python program (run or attach)");
        return KEYS_REDRAW;
    }
    int id = source_request_scan(ui->src, 0, 1, 1);
    if (id <= 0) {
        view_ctx_message(ui, "could not ask the collector for a census");
        return KEYS_REDRAW;
    }
    v->req = id;
    v->state = CENSUS_ASKING;
    return KEYS_REQUERY;
}

/* The growth of type t since the first census (its count when the first
 * census had no such type). */
static int64_t growth_of(const struct view_census *v, const struct pychain_type *t)
{
    for (size_t k = 0; k < v->n_first; k++)
        if (strcmp(v->first[k].name, t->name) == 0)
            return (int64_t)t->count - (int64_t)v->first[k].count;
    return (int64_t)t->count;
}

static void sort_types(struct view_census *v)
{
    pychain_census_sort(v->types, v->n, v->by_growth);
}

/* Takes in the census: the first one stays as the base of the growth. */
static int take(struct view_census *v, const struct scanmsg_result *r)
{
    size_t n;
    struct pychain_type *t = pychain_census_types(r, &n);

    if (!t)
        return -1;
    v->objects = v->bytes = 0;
    for (size_t i = 0; i < n; i++) {
        v->objects += t[i].count;
        v->bytes += t[i].bytes;
    }
    v->last_ms = view_ctx_now_ms();
    if (!v->first) {
        v->first = malloc((n ? n : 1) * sizeof *t);
        if (!v->first) {
            free(t);
            return -1;
        }
        memcpy(v->first, t, n * sizeof *t);
        v->n_first = n;
        v->first_ms = v->last_ms;
    }
    free(v->types);
    v->types = t;
    v->n = n;
    for (size_t i = 0; i < n; i++)
        t[i].delta = growth_of(v, &t[i]);
    sort_types(v);
    return refilter(v);
}

static int census_poll(struct ui *ui, int64_t deadline_ms)
{
    struct view_census *v = state(ui);
    (void)deadline_ms; /* answers only */

    if (v->state != CENSUS_ASKING)
        return 0;
    const struct response *resp = source_response(ui->src, v->req);
    if (!resp)
        return 0;
    if (resp->status) {
        v->state = CENSUS_FAILED;
        snprintf(v->error, sizeof v->error, "%s",
                 resp->message && resp->message[0] ? resp->message : "the census failed");
    } else if (!resp->scan || !(resp->scan->flags & SCANMSG_CENSUS) || take(v, resp->scan) != 0) {
        v->state = CENSUS_FAILED;
        snprintf(v->error, sizeof v->error, "the census is malformed (or out of memory)");
    } else {
        v->state = CENSUS_DONE;
    }
    source_response_done(ui->src, v->req);
    return VIEW_POLL_CHANGED;
}

static void census_move(struct ui *ui, int delta, int how)
{
    struct view_census *v = state(ui);
    view_ctx_move(ui, &v->sel, &v->top, (int)v->n_shown, delta, how);
}

/* The first line: what the table is, or why there is none; the keys
 * after the figures when the line has room for them. */
static void head_line(const struct ui *ui, char *line, size_t n)
{
    const struct view_census *v = state(ui);
    static const char keys[] = "   c: again  s: sort  /: filter  Enter: chain";
    char b[16], span[32], match[160] = "", growth[64] = "";
    int len;

    if (v->state == CENSUS_ASKING && !v->types) {
        snprintf(line, n, "Python objects by type: taking a census...   Esc: back");
        return;
    }
    if (v->state == CENSUS_FAILED) {
        snprintf(line, n, "Python objects by type: %s   Esc: back", v->error);
        return;
    }
    widget_fmt_bytes(b, sizeof b, (int64_t)v->bytes, 0);
    if (v->filter[0])
        snprintf(match, sizeof match, "; %zu match /%s", v->n_shown, v->filter);
    if (v->last_ms != v->first_ms) {
        widget_fmt_time(span, sizeof span, (v->last_ms - v->first_ms) * 1000000);
        snprintf(growth, sizeof growth, "; growth over %s", span);
    }
    len = snprintf(line, n, "%" PRIu64 " live Python objects of %zu types, %s%s%s", v->objects,
                   v->n, b, growth, match);
    if (len > 0 && (size_t)len < n && widget_width(line) + widget_width(keys) <= ui->cols)
        snprintf(line + len, n - (size_t)len, "%s", keys);
}

static void draw_table(struct ui *ui, int y)
{
    struct view_census *v = state(ui);
    struct widget_col c[5] = {{"TYPE", -1, WIDGET_LEFT},
                              {v->by_growth ? "COUNT" : "COUNT\u25be", 10, WIDGET_RIGHT},
                              {"BYTES", 8, WIDGET_RIGHT},
                              {v->by_growth ? "GROWTH\u25be" : "GROWTH", 9, WIDGET_RIGHT},
                              {"OLDEST", 16, WIDGET_RIGHT}};
    char line[1024], count[24], bytes[16], growth[24], oldest[24];

    if (ui->ascii) {
        c[1].text = v->by_growth ? "COUNT" : "COUNTv";
        c[3].text = v->by_growth ? "GROWTHv" : "GROWTH";
    }
    widget_row(line, sizeof line, c, 5, ui->cols);
    view_ctx_put(y, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= (int)v->n_shown) {
            view_ctx_put(y + 1 + i, 0,
                         i == 0 && v->filter[0] && v->state != CENSUS_ASKING
                             ? "no type matches the filter"
                             : "",
                         ui->cols, A_NORMAL);
            continue;
        }
        const struct pychain_type *t = &v->types[v->shown[li]];
        snprintf(count, sizeof count, "%" PRIu64, t->count);
        widget_fmt_bytes(bytes, sizeof bytes, (int64_t)t->bytes, 0);
        snprintf(growth, sizeof growth, "%+" PRId64, t->delta);
        snprintf(oldest, sizeof oldest, "0x%" PRIx64, t->oldest);
        c[0].text = t->name;
        c[1].text = count;
        c[2].text = bytes;
        c[3].text = growth;
        c[4].text = oldest;
        widget_row(line, sizeof line, c, 5, ui->cols);
        view_ctx_put(y + 1 + i, 0, line, ui->cols,
                     li == v->sel ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL);
    }
}

static void census_draw(struct ui *ui, int y, int h)
{
    struct view_census *v = state(ui);
    char line[512];

    if (h < 4)
        return;
    head_line(ui, line, sizeof line);
    view_ctx_put(y, 0, line, ui->cols,
                 view_ctx_attr(ui, v->state == CENSUS_FAILED ? VIEW_PAIR_WARN : VIEW_PAIR_COLHEAD));
    ui->table_y = y + 2;
    ui->table_h = h - 2;
    census_move(ui, 0, VIEW_MOVE_BY);
    draw_table(ui, y + 1);
}

/* ---- actions ---- */

int ui_act_open_census(struct ui *ui, int key)
{
    struct view_census *v = state(ui);
    int r;

    census_clear(v);
    v->sel = v->top = 0;
    v->by_growth = 0;
    v->filter[0] = '\0';
    r = ask(ui);
    if (v->state == CENSUS_ASKING)
        view_ctx_show(ui, VIEW_CENSUS);
    return r;
}

int ui_act_census_again(struct ui *ui, int key)
{
    if (state(ui)->state == CENSUS_ASKING)
        return KEYS_NONE;
    return ask(ui);
}

int ui_act_census_sort(struct ui *ui, int key)
{
    struct view_census *v = state(ui);
    v->by_growth = !v->by_growth;
    sort_types(v);
    refilter(v);
    view_ctx_message(ui, "sorted by %s", v->by_growth ? "growth" : "count");
    return KEYS_REDRAW;
}

int ui_act_census_chain(struct ui *ui, int key)
{
    struct view_census *v = state(ui);
    if (v->sel < 0 || (size_t)v->sel >= v->n_shown)
        return KEYS_NONE;
    const struct pychain_type *t = &v->types[v->shown[v->sel]];
    if (!t->oldest) {
        view_ctx_message(ui, "no live instance of %s", t->name);
        return KEYS_REDRAW;
    }
    return view_refs_open_census(ui, t->oldest);
}

static const char *census_filter(const struct ui *ui)
{
    return state(ui)->filter;
}

/* The selected type stays selected when the new filter shows it (so
 * clearing the filter leaves the cursor on the type it found), else the
 * first row is. */
static void census_set_filter(struct ui *ui, const char *text)
{
    struct view_census *v = state(ui);
    size_t had = v->sel >= 0 && (size_t)v->sel < v->n_shown ? v->shown[v->sel] : SIZE_MAX;

    snprintf(v->filter, sizeof v->filter, "%s", text);
    refilter(v);
    v->sel = v->top = 0;
    for (size_t i = 0; i < v->n_shown; i++)
        if (v->shown[i] == had)
            v->sel = (int)i;
}

const struct view_ops view_census_ops = {
    .name = "census",
    .keys = KEYS_CENSUS,
    .open = census_open,
    .draw = census_draw,
    .move = census_move,
    .poll = census_poll,
    .reset = census_reset,
    .free = census_free,
    .filter = census_filter,
    .set_filter = census_set_filter,
};
