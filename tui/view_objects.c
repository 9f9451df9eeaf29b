/*
 * view_objects.c - the live objects of a site, oldest first.
 *
 * Where they come from is objects.c's (the model's latest state, a rewind of
 * the recording for an earlier state, a slice per pass of the loop, or the
 * collector of a running program): this view asks it at the cursor's state
 * and draws the answer. Objects from the stream have no address (it names
 * blocks by allocation sequence number: shown as #seq); a running program's
 * collector answers with addresses.
 */
#include "view_objects.h"

#include <curses.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "keys.h"
#include "model.h"
#include "objects.h"
#include "source.h"
#include "view_ctx.h"
#include "view_refs.h"
#include "view_sites.h"
#include "view_tree.h"
#include "widget.h"

struct view_objects {
    uint32_t site;
    struct objects *answer;          /* the list and where it comes from (objects.h) */
    const struct model_object *objs; /* what is drawn: objects_list(answer) */
    int n;
    uint64_t total;
    int sel, top;
    int valid;
    int reading;      /* objects_state(answer) == OBJECTS_READING: polled for slices */
    int64_t asked_at; /* time_last when the collector was asked */
};

static struct view_objects *state(const struct ui *ui)
{
    return ui->data[VIEW_OBJECTS];
}

static int objects_open(struct ui *ui)
{
    ui->data[VIEW_OBJECTS] = calloc(1, sizeof(struct view_objects));
    return ui->data[VIEW_OBJECTS] ? 0 : -1;
}

static void objects_reset(struct ui *ui)
{
    state(ui)->n = 0;
}

/* The view's copy of the answer's list and state, and its notice on the
 * status line. */
static void take(struct ui *ui)
{
    struct view_objects *v = state(ui);
    const char *say = objects_notice(v->answer);

    v->objs = objects_list(v->answer, &v->n, &v->total);
    v->reading = objects_state(v->answer) == OBJECTS_READING;
    v->valid = 1;
    if (say)
        view_ctx_message(ui, "%s", say);
    view_objects_move(ui, 0, 0);
}

/* The answer, made at first use. 0, or -1 (out of memory, said). */
static int answer(struct ui *ui)
{
    struct view_objects *v = state(ui);

    if (!v->answer && !(v->answer = objects_new())) {
        view_ctx_message(ui, "out of memory");
        return -1;
    }
    return 0;
}

int view_objects_answer(struct ui *ui)
{
    struct view_objects *v = state(ui);

    if (!v->answer || objects_state(v->answer) != OBJECTS_ASKING ||
        !objects_work(v->answer, ui->m, ui->src, 0))
        return 0;
    take(ui);
    return 1;
}

/* Whether the program is gone (ended, or its stream is): a collector's list
 * is then of the moment it was asked (the model cannot correct it: a live
 * client joins a running program, so its events miss the blocks from before
 * it joined), and the hint line says so. */
static int program_gone(const struct ui *ui)
{
    return model_summary(ui->m)->state == MODEL_ENDED || !ui->src || ui->src_state != SOURCE_OPEN;
}

void view_objects_refresh(struct ui *ui)
{
    struct view_objects *v = state(ui);
    struct model_query q;

    if (answer(ui))
        return;
    view_ctx_query(ui, &q);
    objects_ask(v->answer, ui->m, ui->src, v->site, &q, view_ctx_cursor_time(ui));
    take(ui);
}

int view_objects_work(struct ui *ui, int64_t deadline_ms)
{
    struct view_objects *v = state(ui);

    if (!v->answer || objects_state(v->answer) != OBJECTS_READING ||
        !objects_work(v->answer, ui->m, ui->src, deadline_ms))
        return 0;
    take(ui);
    return 1;
}

void view_objects_move(struct ui *ui, int delta, int to)
{
    struct view_objects *v = state(ui);

    view_ctx_move(ui, &v->sel, &v->top, v->n, delta, to);
}

#define STACK_LINE_FRAMES 64
#define STACK_LINE_NAME                                                                            \
    40 /* cells a C++ name may take: geo::Cache<std::string, geo::Shape>::get                      \
        */

const char *view_objects_stack_line(const struct model *m, uint32_t stack, int name_w, int ascii,
                                    char *buf, size_t n)
{
    const struct model_frame *f[STACK_LINE_FRAMES];
    const struct model_site *s = model_site(m, model_stack_site(m, stack));
    uint32_t depth = model_stack_frames(m, stack, f, STACK_LINE_FRAMES), from = 0;
    size_t len = 0;

    buf[0] = 0;
    for (uint32_t i = 0; s && i < depth; i++)
        if (f[i]->function == s->function && f[i]->file == s->file && f[i]->line == s->line) {
            from = i;
            break;
        }
    int skipped = 0; /* plumbing frames since the last one shown */
    for (uint32_t i = from; i < depth && len + 1 < n; i++) {
        char name[160], base[1024], fit[256];
        const char *file = strrchr(f[i]->file, '/') ? strrchr(f[i]->file, '/') + 1 : f[i]->file;
        const char *label = model_frame_label(f[i], name, sizeof name);

        if (i > from && model_frame_is_plumbing(f[i])) {
            skipped = 1; /* std::function's and std::thread's invokers, libc's start */
            continue;
        }
        snprintf(base, sizeof base, "%.*s", (int)cxxname_base_len(label), label);
        int w = snprintf(buf + len, n - len, "%s%s%s", skipped ? " < ..." : "",
                         i > from ? " < " : "", cxxname_fit(base, name_w, ascii, fit, sizeof fit));

        skipped = 0;
        len += w > 0 ? (size_t)w : 0;
        if (*file && len + 1 < n) {
            w = snprintf(buf + len, n - len, " %s:%u", file, f[i]->line);
            len += w > 0 ? (size_t)w : 0;
        }
    }
    if (skipped && len + 1 < n)
        snprintf(buf + len, n - len, " < ...");
    return buf;
}

void view_objects_draw(struct ui *ui, int y, int h)
{
    struct view_objects *v = state(ui);
    char line[2048], title[512], name[160], where[512];
    const struct model_site *s = model_site(ui->m, v->site);
    int64_t now = view_ctx_cursor_time(ui);
    char count[32], reading[128] = "", rw_error[300], upto[32];

    if (h < 4)
        return;
    snprintf(count, sizeof count, "%" PRIu64, v->total);
    int state = v->answer ? objects_state(v->answer) : OBJECTS_READY;
    const char *error = v->answer ? objects_error(v->answer) : "";
    if (state == OBJECTS_READING) {
        uint64_t target, done;
        objects_progress(v->answer, &done, &target);
        /* the time as the title shows it (rounded up to the millisecond) */
        widget_fmt_time(upto, sizeof upto,
                        ui->at == VIEW_AT_TIME ? (now + 999999) / 1000000 * 1000000 : now);
        snprintf(reading, sizeof reading, "  reading the recording up to %s... %d%%", upto,
                 target ? (int)(done * 100 / target) : 100);
        snprintf(count, sizeof count, "...");
    }
    snprintf(rw_error, sizeof rw_error, "  (%s)", error);
    char shown[48] = "", ended[96] = "";
    if (v->total > (uint64_t)v->n)
        snprintf(shown, sizeof shown, " (%d shown)", v->n);
    if (objects_from_collector(v->answer) && state == OBJECTS_READY && program_gone(ui)) {
        char asked[32];
        widget_fmt_time(asked, sizeof asked, v->asked_at);
        snprintf(ended, sizeof ended, "The program has ended: these were live at %s.", asked);
    }
    /* sampling mode: the blocks listed are the samples, each a real block
     * of its exact size; the site's own figures are estimates */
    const char *label = model_site_label(s, name, sizeof name);
    char fit[256];
    /* too long: a C++ name as the table shows it, then without "oldest
     * first" (the AGE column says it), so the count and the keys stay */
    for (int pass = 0; pass < 3; pass++) {
        snprintf(title, sizeof title, "Live objects of %s (%s): %s%s%s%s   Esc: back", label,
                 view_ctx_base(view_ctx_site_where(s, where, sizeof where)), count,
                 model_summary(ui->m)->sample_rate ? " sampled" : "", shown,
                 pass < 2 ? ", oldest first" : "");
        int over = widget_width(title) - ui->cols;
        if (over <= 0)
            break;
        if (pass == 0)
            label = cxxname_fit(label, widget_width(label) - over, ui->ascii, fit, sizeof fit);
    }
    view_ctx_put(y, 0, title, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD));
    /* a recording names blocks by allocation number (it keeps no addresses) */
    int addressed = v->n > 0 && v->objs[0].addr != 0;
    struct widget_col hc[] = {
        {v->n > 0 && !addressed ? "ALLOCATION" : "ADDRESS", 16, WIDGET_LEFT},
        {"SIZE", 10, WIDGET_RIGHT},
        {"AGE", 10, WIDGET_RIGHT},
        {"ALLOCATED", 10, WIDGET_RIGHT},
        {"THREAD (TID)", 20, WIDGET_LEFT},
        {"TAG", -1, WIDGET_LEFT},
    };
    widget_row(line, sizeof line, hc, 6, ui->cols);
    view_ctx_put(y + 1, 0, line, ui->cols, view_ctx_attr(ui, VIEW_PAIR_COLHEAD) | A_UNDERLINE);
    ui->table_y = y + 2;
    ui->table_h = h - 4;
    view_objects_move(ui, 0, 0);
    for (int i = 0; i < ui->table_h; i++) {
        int li = v->top + i;
        if (li >= v->n) {
            const char *empty = state == OBJECTS_ASKING    ? "  asking the collector..."
                                : state == OBJECTS_READING ? reading
                                : error[0]                 ? rw_error
                                           : "  (no live objects known for this site)";
            view_ctx_put(y + 2 + i, 0, li == 0 && i == 0 ? empty : "", ui->cols,
                         view_ctx_attr(ui, VIEW_PAIR_DIM));
            continue;
        }
        const struct model_object *o = &v->objs[li];
        char addr[32], size[32], age[32], at[32], thr[64];
        if (o->addr)
            snprintf(addr, sizeof addr, "0x%" PRIx64, o->addr);
        else /* from the events: named by allocation sequence number */
            snprintf(addr, sizeof addr, "#%" PRIu64, o->seq);
        widget_fmt_exact(size, sizeof size, (int64_t)o->size);
        widget_fmt_time(age, sizeof age, now - o->time);
        widget_fmt_time(at, sizeof at, o->time);
        view_objects_thread(model_thread(ui->m, o->thread), o->thread, thr, sizeof thr);
        const char *tag = o->tag ? model_tag_name(ui->m, o->tag) : "";
        struct widget_col c[] = {
            {addr, 16, WIDGET_LEFT}, {size, 10, WIDGET_RIGHT}, {age, 10, WIDGET_RIGHT},
            {at, 10, WIDGET_RIGHT},  {thr, 20, WIDGET_LEFT},   {tag ? tag : "", -1, WIDGET_LEFT},
        };
        widget_row(line, sizeof line, c, 6, ui->cols);
        view_ctx_put(y + 2 + i, 0, line, ui->cols,
                     li == v->sel ? view_ctx_attr(ui, VIEW_PAIR_SELECTED) : (int)A_NORMAL);
    }
    char st[1024] = "";
    if (v->n > 0 && v->sel < v->n) {
        char frames[1000];
        snprintf(st, sizeof st, "allocated at %s",
                 view_objects_stack_line(ui->m, v->objs[v->sel].stack,
                                         ui->cols / 4 > 20 ? ui->cols / 4 : 20, ui->ascii, frames,
                                         sizeof frames));
    }
    view_ctx_put(y + h - 2, 0, st, ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM) | A_BOLD);
    view_ctx_put(y + h - 1, 0,
                 !v->n       ? ""
                 : ended[0]  ? ended
                 : addressed ? "Enter: what keeps the object alive"
                             : "#N: the program's Nth allocation (a recording keeps no "
                               "addresses)",
                 ui->cols, view_ctx_attr(ui, VIEW_PAIR_DIM));
}

void view_objects_thread(const struct model_thread *t, uint32_t id, char *buf, size_t n)
{
    if (t && t->name[0])
        snprintf(buf, n, "%s (%u)", t->name, t->os_tid);
    else if (t)
        snprintf(buf, n, "(%u)", t->os_tid);
    else
        snprintf(buf, n, "#%u", id);
}

void view_objects_free(struct ui *ui)
{
    struct view_objects *v = state(ui);
    if (v)
        objects_free(v->answer);
    free(v);
    ui->data[VIEW_OBJECTS] = NULL;
}

/* Answers from the collector, then a slice of the rewind. */
static int objects_poll(struct ui *ui, int64_t deadline_ms)
{
    int r = view_objects_answer(ui) ? VIEW_POLL_CHANGED : 0;
    if (state(ui)->reading && view_objects_work(ui, deadline_ms))
        r |= VIEW_POLL_CHANGED;
    if (state(ui)->reading)
        r |= VIEW_POLL_BUSY;
    return r;
}

int ui_act_open_objects(struct ui *ui, int key)
{
    uint32_t site = ui->view == VIEW_TREE ? view_tree_site(ui) : view_sites_selected(ui);
    if (site == MODEL_NONE) {
        view_ctx_message(ui, "select a site first");
        return KEYS_REDRAW;
    }
    struct view_objects *v = state(ui);
    v->site = site;
    v->sel = v->top = 0;
    view_ctx_show(ui, VIEW_OBJECTS);
    if (answer(ui) == 0) {
        objects_drop_collector(v->answer);
        /* a running program: ask the collector (it knows objects from before an attach) */
        if (ui->src && ui->src_state == SOURCE_OPEN &&
            objects_ask_collector(v->answer, ui->m, ui->src, site) >= 0) {
            v->asked_at = model_summary(ui->m)->time_last;
            take(ui);
        }
    }
    return KEYS_REQUERY;
}

int ui_act_open_refs(struct ui *ui, int key)
{
    struct view_objects *v = state(ui);
    if (v->n == 0)
        return KEYS_NONE;
    if (!v->objs[v->sel].addr) {
        view_ctx_message(ui, "a recording keeps no addresses: attach to the running program");
        return KEYS_REDRAW;
    }
    return view_refs_open(ui, v->objs[v->sel].addr, v->objs[v->sel].size);
}

const struct view_ops view_objects_ops = {
    .name = "objects",
    .keys = KEYS_OBJECTS,
    .open = objects_open,
    .draw = view_objects_draw,
    .move = view_objects_move,
    .poll = objects_poll,
    .update = view_objects_refresh,
    .reset = objects_reset,
    .free = view_objects_free,
};
