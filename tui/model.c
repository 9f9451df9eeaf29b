/*
 * model.c - the model's life cycle, its one mutator model_apply(), and the
 * definitions a stream sends before it uses them (modules, frames, stacks,
 * threads, tags, markers). The figures are model_events.c's, the timeline
 * model_log.c's, the queries model_query.c's (the map is in model_int.h).
 *
 * Invariant: model_reset() keeps every string and frame it handed out valid
 * until model_free() (they move to the grave), so a view that holds one
 * while a program execs never reads freed memory.
 */
#include "model_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "wire.h"

/* ------------------------------------------------------------------ util */

int model_fail(struct model *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->err, sizeof(m->err), fmt, ap);
    va_end(ap);
    return -1;
}

int model_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    q = realloc(*p, n * elem);
    if (!q)
        return -1;
    memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
    *p = q;
    *cap = n;
    return 0;
}

/* model_grow for uint32_t capacities */
int model_grow32(void **p, uint32_t *cap, size_t need, size_t elem)
{
    size_t c = *cap;
    int r;

    if (need > UINT32_MAX / 2)
        return -1;
    r = model_grow(p, &c, need, elem);
    *cap = (uint32_t)c;
    return r;
}

static const char *intern(struct model *m, const char *s, size_t n)
{
    return strpool_intern(&m->strs, s, n);
}

const char *model_intern_w(struct model *m, const struct wire_str *s)
{
    return intern(m, s->ptr, s->len);
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');

    return s ? s + 1 : p;
}

/* ---------------------------------------------------------------- life */

/* Frees everything the model owns except the struct itself. */
static void model_fini(struct model *m)
{
    strpool_free(&m->strs);
    for (size_t i = 0; i < m->n_misc; i++)
        free(m->misc[i]);
    free(m->misc);
    free(m->mods);
    for (uint32_t i = 0; i * MODEL_CHUNK < m->n_frames; i++)
        free(m->frame_chunks[i]);
    free(m->frame_chunks);
    hashtab_free(&m->frame_hash);
    free(m->nodes);
    free(m->cur);
    free(m->tk);
    free(m->pk);
    free(m->pk_dirty);
    free(m->dirty);
    for (uint32_t i = 0; i * MODEL_CHUNK < m->n_sites; i++) {
        free(m->site_chunks[i]);
        free(m->ext_chunks[i]);
    }
    free(m->site_chunks);
    free(m->ext_chunks);
    hashtab_free(&m->site_hash);
    free(m->site_cur);
    free(m->points);
    free(m->delta_end);
    free(m->log);
    for (uint32_t i = 0; i < m->n_cps; i++)
        free(m->cps[i].sites);
    free(m->cps);
    free(m->pend_idx);
    free(m->pend);
    free(m->parties);
    hashtab_free(&m->party_hash);
    free(m->party_pend);
    free(m->party_dirty);
    free(m->plog);
    free(m->markers);
    free(m->threads);
    free(m->tags);
    liveset_free(&m->ls);
}

static int model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->unknown_frame.function = m->unknown_frame.file = m->unknown_frame.module = "";
    m->sum.exe = "";
    m->sum.disabled_reason = "";
    m->sum.events_exact = 1;
    if (model_sites_reserve(m, 1024))
        return -1;
    m->nodes[0].defined = 1;
    m->n_defined = 1;
    model_set_budget(m, 3u << 19, 1u << 18); /* 1.5M entries: the log array stays 2M */
    return 0;
}

struct model *model_new(void)
{
    struct model *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    if (model_init(m) != 0) {
        model_fini(m);
        free(m);
        return NULL;
    }
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    model_fini(m);
    for (size_t i = 0; i < m->n_grave; i++)
        free(m->grave[i]);
    free(m->grave);
    free(m);
}

/* Moves the blocks that hold strings and frames to the grave (freed by
 * model_free), so pointers handed out before a reset stay valid. */
static int bury(struct model *m)
{
    void **chunks;
    size_t n_chunks, n;
    void **g;

    if (strpool_hand_over(&m->strs, &chunks, &n_chunks))
        return -1;
    n = n_chunks + m->n_misc + (m->n_frames + MODEL_CHUNK - 1) / MODEL_CHUNK;
    g = realloc(m->grave, (m->n_grave + n + 1) * sizeof(*g));
    if (!g) {
        for (size_t i = 0; i < n_chunks; i++)
            free(chunks[i]);
        free(chunks);
        return -1;
    }
    m->grave = g;
    for (size_t i = 0; i < n_chunks; i++)
        g[m->n_grave++] = chunks[i];
    free(chunks);
    for (size_t i = 0; i < m->n_misc; i++)
        g[m->n_grave++] = m->misc[i];
    for (uint32_t i = 0; i * MODEL_CHUNK < m->n_frames; i++)
        g[m->n_grave++] = m->frame_chunks[i];
    m->n_misc = 0;
    m->n_frames = 0;
    return 0;
}

int model_skipping_events(const struct model *m)
{
    return m->skip_events;
}

int model_skip_events(struct model *m)
{
    m->skip_events = 1;
    if (m->sum.events_exact) { /* ticks rule from here, as after MISSED */
        m->sum.events_exact = 0;
        if (m->bucket_open && model_log_bucket_close(m, m->bucket_last, m->rss))
            return model_fail(m, "out of memory");
        m->rebase_pending = 1;
    }
    return 0;
}

int model_reset(struct model *m)
{
    uint64_t gen = m->gen;
    int skip = m->skip_events;
    void **grave;
    size_t n_grave;

    if (bury(m) != 0)
        return -1;
    grave = m->grave;
    n_grave = m->n_grave;
    model_fini(m);
    if (model_init(m) != 0) {
        model_fini(m);
        memset(m, 0, sizeof(*m));
        m->grave = grave;
        m->n_grave = n_grave;
        m->gen = gen + 1;
        return -1;
    }
    m->grave = grave;
    m->n_grave = n_grave;
    m->gen = gen + 1;
    return skip ? model_skip_events(m) : 0;
}

const char *model_error(const struct model *m)
{
    return m->err;
}

uint64_t model_generation(const struct model *m)
{
    return m->gen;
}

const struct model_summary *model_summary(const struct model *m)
{
    return &m->sum;
}

/* ----------------------------------------------------------- definitions */

static int apply_stacks(struct model *m, const struct wire_msg *msg)
{
    struct stacks_iter it;
    struct wire_stack_node sn;
    int r;

    decode_stacks_begin(&it, msg);
    while ((r = decode_stacks_next(&it, &sn)) != 0) {
        struct stack_node *nd;
        uint32_t f;

        if (r < 0)
            return model_fail(m, "corrupt stack list");
        if (sn.id == 0 || sn.parent >= sn.id)
            return model_fail(m, "stack %u: parent %u is not below it", sn.id, sn.parent);
        /* ids are handed out in sequence: refuse a jump that would make us
         * allocate for ids nobody defined */
        if (sn.id > m->n_defined * 2u + 65536u)
            return model_fail(m, "stack %u: id out of sequence", sn.id);
        if (sn.parent >= m->n_nodes || !m->nodes[sn.parent].defined)
            return model_fail(m, "stack %u: undefined parent %u", sn.id, sn.parent);
        if (model_sites_reserve(m, sn.id + 1))
            return model_fail(m, "out of memory");
        nd = &m->nodes[sn.id];
        if (nd->defined) {
            if (nd->parent != sn.parent || nd->ip != sn.ip)
                return model_fail(m, "stack %u redefined", sn.id);
            continue;
        }
        f = model_sites_frame_get(m, sn.ip);
        if (f == MODEL_NONE)
            return model_fail(m, "out of memory");
        nd->parent = sn.parent;
        nd->ip = sn.ip;
        nd->frame = f;
        nd->defined = 1;
        m->n_defined++;
    }
    return 0;
}

/* The frames a FRAME's inlined list names, outward from fr: each a frame of
 * its own at fr's ip (model.h), in one block the model keeps. */
static int frame_chain(struct model *m, struct model_frame *fr, const struct wire_list *inlined)
{
    uint32_t n = wire_list_count(inlined, 3);
    struct model_frame *chain;
    void **nm;

    fr->inline_depth = 0;
    fr->outer = NULL;
    if (!n)
        return 0;
    chain = calloc(n, sizeof(*chain));
    nm = chain ? realloc(m->misc, (m->n_misc + 1) * sizeof(*nm)) : NULL;
    if (!nm) {
        free(chain);
        return model_fail(m, "out of memory");
    }
    m->misc = nm;
    m->misc[m->n_misc++] = chain;
    for (uint32_t i = 0; i < n; i++) {
        struct wire_str fn, file;
        uint32_t line;

        if (decode_inline_at(inlined, i, &fn, &file, &line) != 1)
            return model_fail(m, "corrupt inlined list");
        chain[i] = (struct model_frame){.ip = fr->ip,
                                        .function = model_intern_w(m, &fn),
                                        .file = model_intern_w(m, &file),
                                        .line = line,
                                        .module = fr->module,
                                        .offset = fr->offset,
                                        .inline_depth = n - 1 - i,
                                        .outer = i + 1 < n ? &chain[i + 1] : NULL};
        if (!chain[i].function || !chain[i].file)
            return model_fail(m, "out of memory");
    }
    fr->inline_depth = n;
    fr->outer = chain;
    return 0;
}

static int apply_frame(struct model *m, const struct wire_msg *msg)
{
    uint32_t f = model_sites_frame_get(m, msg->u.frame.ip);
    struct model_frame *fr;

    if (f == MODEL_NONE)
        return model_fail(m, "out of memory");
    fr = frame_at(m, f);
    fr->function = model_intern_w(m, &msg->u.frame.function);
    fr->file = model_intern_w(m, &msg->u.frame.file);
    fr->line = msg->u.frame.line;
    if (!fr->function || !fr->file) {
        fr->function = fr->file = "";
        return model_fail(m, "out of memory");
    }
    if (msg->u.frame.module < m->n_mods && m->mods[msg->u.frame.module].name) {
        const struct model_module *mod = &m->mods[msg->u.frame.module];

        fr->module = mod->name;
        fr->offset = msg->u.frame.ip - mod->base;
    } else {
        fr->module = "";
    }
    return frame_chain(m, fr, &msg->u.frame.inlined);
}

static int apply_module(struct model *m, const struct wire_msg *msg)
{
    uint32_t id = msg->u.module.id;
    const char *p = model_intern_w(m, &msg->u.module.path);
    struct model_module *mod;

    if (!p)
        return model_fail(m, "out of memory");
    if (id >= m->n_mods) {
        struct model_module *t = realloc(m->mods, (id + 1) * sizeof(*t));
        if (!t)
            return model_fail(m, "out of memory");
        for (uint32_t i = m->n_mods; i <= id; i++)
            t[i] = (struct model_module){.id = i};
        m->mods = t;
        m->n_mods = id + 1;
    }
    mod = &m->mods[id];
    mod->path = p;
    mod->name = intern(m, basename_of(p), strlen(basename_of(p)));
    mod->base = msg->u.module.base;
    mod->size = msg->u.module.size;
    mod->build_id = model_intern_w(m, &msg->u.module.build_id);
    mod->symbols = msg->u.module.symbols;
    mod->debug_file = model_intern_w(m, &msg->u.module.debug_file);
    return mod->name && mod->build_id && mod->debug_file ? 0 : model_fail(m, "out of memory");
}

static int apply_thread(struct model *m, const struct wire_msg *msg)
{
    uint32_t id = msg->u.thread.id;
    const char *name = model_intern_w(m, &msg->u.thread.name);

    int r = liveset_reserve_thread(&m->ls, id);

    if (r == LIVESET_ETHREAD)
        return model_fail(m, "thread %u: id out of sequence", id);
    if (r != 0)
        return model_fail(m, "out of memory");
    if (!name || model_grow32((void **)&m->threads, &m->threads_cap, id + 1, sizeof(*m->threads)))
        return model_fail(m, "out of memory");
    m->threads[id] = (struct model_thread){.id = id, .os_tid = msg->u.thread.os_tid, .name = name};
    return 0;
}

static int apply_tag(struct model *m, const struct wire_msg *msg)
{
    uint32_t id = msg->u.tag.id;
    const char *name = model_intern_w(m, &msg->u.tag.name);

    if (!name || model_grow32((void **)&m->tags, &m->tags_cap, id + 1, sizeof(*m->tags)))
        return model_fail(m, "out of memory");
    m->tags[id] = name;
    return 0;
}

/* In events mode, the state just after a marker is a point (n lands on it)
 * when every event applied so far came before the marker (they do: the
 * collector sends a marker after the events before it): the open bucket
 * closes at the marker's time (no event falls between its last event and
 * the marker, so its state holds there too), or, with none open, a point
 * at the marker's time repeats the last state. Without it a collector whose
 * first tick comes late leaves no state between a marker and the next
 * events' point. */
static int marker_point(struct model *m, int64_t time)
{
    struct model_point p;

    if (!m->sum.events_exact || m->bucket_last > time)
        return 0;
    if (m->bucket_open)
        return model_log_bucket_close(m, time, m->rss) ? model_fail(m, "out of memory") : 0;
    if (!m->n_points || m->points[m->n_points - 1].time >= time)
        return 0;
    p = model_events_totals(m, time);
    p.rss = m->rss;
    if (model_log_point(m, &p))
        return model_fail(m, "out of memory");
    return 0;
}

static int apply_marker(struct model *m, const struct wire_msg *msg)
{
    const char *label = model_intern_w(m, &msg->u.marker.label);
    uint32_t i;

    if (!label ||
        model_grow32((void **)&m->markers, &m->markers_cap, m->n_markers + 1, sizeof(*m->markers)))
        return model_fail(m, "out of memory");
    model_see_time(m, msg->u.marker.time);
    /* keep time order (markers from threads may arrive slightly out of order) */
    for (i = m->n_markers; i > 0 && m->markers[i - 1].time > msg->u.marker.time; i--)
        m->markers[i] = m->markers[i - 1];
    m->markers[i] = (struct model_marker){.time = msg->u.marker.time, .label = label};
    m->n_markers++;
    return marker_point(m, msg->u.marker.time);
}

/* Keeps a NOTE (model.h): -1 out of memory, else 0. A later client gets
 * the notes again with the definitions: one of the same time and text is
 * the one already kept. */
static int model_take_note(struct model *m, int64_t time, const struct wire_str *text)
{
    struct model_summary *s = &m->sum;
    const char *t = model_intern_w(m, text);

    if (!t)
        return -1;
    for (uint32_t i = 0; i < s->n_notes && i < MODEL_NOTES; i++)
        if (s->note_time[i] == time && strcmp(s->notes[i], t) == 0)
            return 0;
    if (s->n_notes < MODEL_NOTES) {
        s->notes[s->n_notes] = t;
        s->note_time[s->n_notes] = time;
    }
    s->n_notes++;
    return 0;
}

int model_apply(struct model *m, const struct wire_msg *msg)
{
    int r = 0;

    m->sum.messages++;
    switch (msg->type) {
    case WIRE_HELLO:
        m->hello_seen = 1;
        m->sum.pid = msg->u.hello.pid;
        m->sum.exe = model_intern_w(m, &msg->u.hello.exe);
        if (!m->sum.exe)
            m->sum.exe = "";
        m->sum.start_unix_ns = msg->u.hello.start_unix_ns;
        m->sum.version = msg->u.hello.version;
        m->sum.page_size = msg->u.hello.page_size;
        m->sum.max_depth = msg->u.hello.max_depth;
        m->sum.hello_flags = msg->u.hello.flags;
        m->sum.since_attach = (msg->u.hello.flags & WIRE_HELLO_ATTACHED) != 0;
        /* sampling mode: the events are samples, the ticks carry the
         * estimates and the exact totals, so ticks rule (as when attached) */
        m->sum.sample_rate = msg->u.hello.sample_rate;
        if (m->sum.sample_rate)
            m->sum.events_exact = 0;
        if (m->sum.state == MODEL_WAITING)
            m->sum.state = MODEL_RUNNING;
        break;
    case WIRE_MODULE:
        r = apply_module(m, msg);
        break;
    case WIRE_FRAME:
        r = apply_frame(m, msg);
        break;
    case WIRE_STACKS:
        r = apply_stacks(m, msg);
        break;
    case WIRE_THREAD:
        r = apply_thread(m, msg);
        break;
    case WIRE_TAG:
        r = apply_tag(m, msg);
        break;
    case WIRE_MARKER:
        r = apply_marker(m, msg);
        break;
    case WIRE_EVENTS:
        if (m->skip_events)
            m->sum.skipped_batches++;
        else
            r = model_events_apply(m, msg);
        break;
    case WIRE_TICK:
    case WIRE_SNAPSHOT:
        r = model_events_state(m, msg);
        break;
    case WIRE_HISTORY:
        r = model_events_history(m, msg);
        break;
    case WIRE_MISSED:
        if (!m->sum.missed && msg->u.missed)
            m->sum.missed_time = m->sum.time_last;
        m->sum.missed += msg->u.missed;
        if (m->sum.events_exact) {
            m->sum.events_exact = 0;
            if (m->bucket_open && model_log_bucket_close(m, m->bucket_last, m->rss))
                return model_fail(m, "out of memory");
            m->rebase_pending = 1;
        }
        break;
    case WIRE_END:
        model_see_time(m, msg->u.end.time);
        if (m->bucket_open && model_log_bucket_close(m, m->bucket_last, m->rss))
            return model_fail(m, "out of memory");
        m->sum.state = MODEL_ENDED;
        m->sum.end_reason = msg->u.end.reason;
        m->sum.end_status = msg->u.end.status;
        m->sum.end_time = msg->u.end.time;
        break;
    case WIRE_DISABLED:
        /* the record file failed: its figures stop at its last whole flush,
         * before the time of the failure */
        if (msg->u.disabled.cause == WIRE_OFF_COLLECTOR)
            model_see_time(m, msg->u.disabled.time);
        if (m->bucket_open && model_log_bucket_close(m, m->bucket_last, m->rss))
            return model_fail(m, "out of memory");
        m->sum.state = MODEL_DISABLED;
        if (!m->sum.disabled) { /* the first says when the figures stopped */
            m->sum.disabled = 1;
            m->sum.disabled_time = msg->u.disabled.cause == WIRE_OFF_COLLECTOR
                                       ? msg->u.disabled.time
                                       : m->sum.time_last;
            m->sum.disabled_cause = msg->u.disabled.cause;
            m->sum.disabled_reason = model_intern_w(m, &msg->u.disabled.reason);
            if (!m->sum.disabled_reason)
                m->sum.disabled_reason = "";
        }
        break;
    case WIRE_NOTE:
        if (model_take_note(m, msg->u.note.time, &msg->u.note.text) < 0)
            return model_fail(m, "out of memory");
        break;
    default: /* REQUEST, unknown newer types */
        break;
    }
    m->sum.leaked_bytes = m->sum.heap_bytes;
    m->sum.leaked_blocks = m->sum.heap_blocks;
    m->gen++;
    return r;
}

/* ------------------------------------------------------------- getters */

uint32_t model_module_limit(const struct model *m)
{
    return m->n_mods;
}

const struct model_module *model_module(const struct model *m, uint32_t id)
{
    return id < m->n_mods && m->mods[id].name ? &m->mods[id] : NULL;
}

const struct model_marker *model_markers(const struct model *m, uint32_t *n)
{
    *n = m->n_markers;
    return m->markers;
}

const struct model_thread *model_thread(const struct model *m, uint32_t id)
{
    if (id >= m->threads_cap || !m->threads[id].name)
        return NULL;
    return &m->threads[id];
}

uint32_t model_thread_limit(const struct model *m)
{
    return m->threads_cap;
}

const char *model_tag_name(const struct model *m, uint32_t id)
{
    return id < m->tags_cap ? m->tags[id] : NULL;
}

uint32_t model_tag_limit(const struct model *m)
{
    return m->tags_cap;
}
