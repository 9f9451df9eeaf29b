/*
 * view_ctx.c - small helpers every screen uses: the cursor's query, colours
 * with a NO_COLOR fallback, cut-and-pad drawing, site names, status messages.
 */
#include "view_ctx.h"

#include <curses.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "view_census.h"
#include "view_objects.h"
#include "view_refs.h"
#include "view_sites.h"
#include "view_tree.h"
#include "widget.h"

int64_t view_ctx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void view_ctx_query(const struct ui *ui, struct model_query *q)
{
    memset(q, 0, sizeof *q);
    if (ui->at == VIEW_AT_FOLLOW) {
        q->at = MODEL_AT_END;
    } else if (ui->at == VIEW_AT_PEAK) {
        q->at = MODEL_AT_PEAK;
    } else {
        q->at = MODEL_AT_TIME;
        q->time = ui->cursor;
    }
}

int64_t view_ctx_cursor_time(const struct ui *ui)
{
    const struct model_summary *s = model_summary(ui->m);
    if (ui->at == VIEW_AT_FOLLOW)
        return s->time_last;
    if (ui->at == VIEW_AT_PEAK)
        return s->peak_time;
    return ui->cursor;
}

void view_ctx_visible(const struct ui *ui, int64_t *t0, int64_t *t1)
{
    const struct model_summary *s = model_summary(ui->m);
    int64_t f = s->time_first, l = s->time_last > s->time_first ? s->time_last : s->time_first;
    *t0 = f;
    *t1 = l;
    if (ui->zoom_span <= 0 || ui->zoom_span >= l - f)
        return;
    if (ui->at == VIEW_AT_FOLLOW) {
        *t0 = l - ui->zoom_span;
        return;
    }
    *t0 = ui->zoom_t0 < f ? f : ui->zoom_t0 > l - ui->zoom_span ? l - ui->zoom_span : ui->zoom_t0;
    *t1 = *t0 + ui->zoom_span;
}

void view_ctx_pan(struct ui *ui)
{
    int64_t t0, t1, c = view_ctx_cursor_time(ui);
    if (ui->zoom_span <= 0)
        return;
    view_ctx_visible(ui, &t0, &t1);
    if (c < t0)
        t0 = c;
    else if (c > t1)
        t0 = c - ui->zoom_span;
    ui->zoom_t0 = t0;
}

int view_ctx_attr(const struct ui *ui, int pair)
{
    if (ui->color)
        return COLOR_PAIR(pair) |
               (pair == VIEW_PAIR_TITLE || pair == VIEW_PAIR_COLHEAD ? A_BOLD : 0);
    switch (pair) {
    case VIEW_PAIR_TITLE:
    case VIEW_PAIR_STATUS:
    case VIEW_PAIR_SELECTED:
        return A_REVERSE;
    case VIEW_PAIR_COLHEAD:
    case VIEW_PAIR_PEAK:
    case VIEW_PAIR_CURSOR:
    case VIEW_PAIR_WARN:
        return A_BOLD;
    case VIEW_PAIR_DIM:
        return A_DIM;
    default:
        return A_NORMAL;
    }
}

void view_ctx_put(int y, int x, const char *text, int w, int attr)
{
    if (w <= 0)
        return;
    attrset(attr);
    move(y, x);
    int used = 0;
    const char *p = text ? text : "";
    /* cut at w cells on a code point boundary */
    const char *end = p;
    while (*end && used < w) {
        end++;
        while (((unsigned char)*end & 0xc0) == 0x80)
            end++;
        used++;
    }
    if (end > p)
        addnstr(p, (int)(end - p));
    for (; used < w; used++)
        addch(' ');
    attrset(A_NORMAL);
}

void view_ctx_title(int y, int cols, const char *text, const char *keys, int attr)
{
    int kw = widget_width(keys);

    if (widget_width(text) + 3 + kw <= cols || kw + 20 > cols) {
        char line[1024];
        snprintf(line, sizeof line, "%s   %s", text, keys);
        view_ctx_put(y, 0, line, cols, attr);
        return;
    }
    view_ctx_put(y, 0, text, cols - kw - 3, attr);
    view_ctx_put(y, cols - kw - 3, "~  ", 3, attr);
    view_ctx_put(y, cols - kw, keys, kw, attr);
}

const char *view_ctx_base(const char *path)
{
    const char *b = strrchr(path, '/');
    return b && b[1] ? b + 1 : path;
}

const char *view_ctx_site_where(const struct model_site *s, char *buf, size_t n)
{
    if (!s) {
        snprintf(buf, n, "?");
        return buf;
    }
    if (s->file && s->file[0]) {
        snprintf(buf, n, "%s:%u", s->file, s->line);
    } else if (s->module && s->module[0]) {
        snprintf(buf, n, "%s", s->module);
    } else {
        snprintf(buf, n, "?");
    }
    return buf;
}

void view_ctx_message(struct ui *ui, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ui->msg, sizeof ui->msg, fmt, ap);
    va_end(ap);
    ui->msg_until_ms = view_ctx_now_ms() + 4000;
}

void view_ctx_move(const struct ui *ui, int *sel, int *top, int n, int delta, int how)
{
    int h = ui->table_h > 0 ? ui->table_h : 1;
    int s = how == VIEW_MOVE_TO ? delta : how == VIEW_MOVE_SHOWN ? *top + delta : *sel + delta;

    if (s >= n)
        s = n - 1;
    if (s < 0)
        s = 0;
    *sel = s;
    if (*sel < *top)
        *top = *sel;
    if (*sel >= *top + h)
        *top = *sel - h + 1;
    if (*top > n - h)
        *top = n - h;
    if (*top < 0)
        *top = 0;
}

/* ---- the screens ---- */

const struct view_ops *const view_ctx_views[VIEW_COUNT] = {
    [VIEW_SITES] = &view_sites_ops,     [VIEW_TREE] = &view_tree_ops,
    [VIEW_OBJECTS] = &view_objects_ops, [VIEW_REFS] = &view_refs_ops,
    [VIEW_CENSUS] = &view_census_ops,
};

int view_ctx_open(struct ui *ui)
{
    for (int i = 0; i < VIEW_COUNT; i++) {
        if (view_ctx_views[i]->open(ui) != 0) {
            while (i-- > 0)
                view_ctx_views[i]->free(ui);
            return -1;
        }
    }
    return 0;
}

void view_ctx_close(struct ui *ui)
{
    for (int i = 0; i < VIEW_COUNT; i++)
        view_ctx_views[i]->free(ui);
}

const struct view_ops *view_ctx_current(const struct ui *ui)
{
    return view_ctx_views[ui->view];
}

void view_ctx_show(struct ui *ui, int view)
{
    if (view == ui->view)
        return;
    if (ui->n_back == (int)(sizeof ui->back / sizeof ui->back[0])) {
        memmove(ui->back, ui->back + 1, sizeof ui->back - sizeof ui->back[0]);
        ui->n_back--;
    }
    ui->back[ui->n_back++] = ui->view;
    ui->view = view;
}
