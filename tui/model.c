/*
 * model.c - the run's state, built one decoded message at a time.
 *
 * Invariant: `cur` (per stack) is the authoritative current state and every
 * change to it is also written to the delta log, grouped by timeline point;
 * the per-site checkpoints are copies of the per-site sums at some points.
 * So the state at any point = nearest checkpoint + the log since it, and the
 * latest state = cur. Whether `cur` follows the events or the ticks is fixed
 * by the stream (see model.h, "Authority").
 *
 * Strings, frames and sites live in chunks that never move, so pointers
 * handed to views stay valid for the model's life.
 */
#include "model.h"

#include <ctype.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "liveset.h"
#include "scanmsg.h"
#include "wire.h"

#define CHUNK 1024u
#define MAX_SITE_TAGS 16u
#define MAX_SITE_THREADS 32u
#define SET_OVERFLOW UINT32_MAX

struct fig {
    int64_t live_bytes, live_blocks;
    uint64_t allocations, bytes_allocated;
};

struct delta {
    uint32_t stack;
    uint32_t pad;
    struct fig d;
};

struct stack_node {
    uint32_t parent;
    uint32_t site;  /* MODEL_NONE until first used */
    uint32_t frame; /* index of the frame of ip */
    uint32_t defined;
    uint64_t ip;
};

struct site_ext {
    uint32_t tags[MAX_SITE_TAGS];
    uint32_t n_tags; /* SET_OVERFLOW: too many to list, matches any */
    uint32_t threads[MAX_SITE_THREADS];
    uint32_t n_threads;
    uint64_t temporary;
    uint64_t peak_bytes;
};

/*
 * A site's share of one thread and tag (events only): a "party". Its figures
 * follow the blocks, so a block freed on another thread still counts against
 * the thread (and tag) that allocated it. cur is the latest state, pk the
 * state at the exact peak (as for stacks, through a dirty list); the history
 * is the party log, one entry per party changed in a timeline point, stamped
 * with that point's time: the state at a point is the entries stamped at or
 * before its time, which stays true when compaction merges points.
 */
struct party {
    uint32_t site, thread, tag;
    uint8_t pk_dirty, pending;
    struct fig cur, pk, pend;
};

struct party_delta {
    int64_t time;
    uint32_t party, pad;
    struct fig d;
};

struct checkpoint {
    uint32_t point; /* state after this point */
    uint32_t n_sites;
    struct fig *sites;
};

struct str_entry {
    const char *s;
    uint32_t hash;
};

struct model {
    char err[256];
    uint64_t gen;
    struct model_summary sum;
    int hello_seen, any_event, any_tick, rebase_pending;

    /* strings: chunked pool + open-addressing set */
    char **pools;
    size_t n_pools, pool_used, pool_cap;
    struct str_entry *strs;
    size_t strs_cap, strs_n;

    /* modules by id */
    struct model_module *mods; /* name NULL: never defined */
    uint32_t n_mods;

    /* frames: chunked, + ip -> index hash */
    struct model_frame **frame_chunks;
    uint32_t n_frames;
    uint32_t *frame_hash; /* index+1, 0 empty */
    uint32_t frame_hash_cap;
    struct model_frame unknown_frame;

    /* stacks */
    struct stack_node *nodes;
    uint32_t n_nodes; /* array length (max id + 1) */
    uint32_t n_defined;
    struct fig *cur; /* authoritative, per stack */
    struct fig *tk;  /* from SNAPSHOT + TICK, per stack */
    struct fig *pk;  /* at the exact peak (events), per stack */
    uint8_t *pk_dirty;
    uint32_t *dirty;
    uint32_t n_dirty, dirty_cap;

    /* sites: chunked, + key hash */
    struct model_site **site_chunks;
    struct site_ext **ext_chunks;
    uint32_t n_sites;
    uint32_t *site_hash; /* index+1 */
    uint32_t site_hash_cap;
    struct fig *site_cur; /* per site, authoritative */
    uint32_t site_cap;

    /* timeline */
    struct model_point *points;
    uint64_t *delta_end; /* log index after each point */
    uint32_t n_points, points_cap;
    struct delta *log;
    uint64_t n_log, log_cap;
    struct checkpoint *cps;
    uint32_t n_cps, cps_cap;
    uint64_t log_at_cp;
    uint64_t log_budget, next_compact_log; /* compaction thresholds (entries) */
    uint32_t point_budget, next_compact_points;

    /* open bucket (events) */
    uint32_t *pend_idx; /* per stack: index into pend + 1 */
    struct delta *pend;
    uint32_t n_pend, pend_cap;
    int bucket_open;
    int64_t bucket_start, bucket_last;

    /* peak totals (exact) */
    struct model_point peak_pt;

    /* parties: (site, thread, tag) figures, events only */
    struct party *parties;
    uint32_t n_parties, parties_cap;
    uint32_t *party_hash; /* index+1 */
    uint32_t party_hash_cap;
    uint32_t *party_pend, n_party_pend, party_pend_cap;    /* changed in the open bucket */
    uint32_t *party_dirty, n_party_dirty, party_dirty_cap; /* changed since the peak */
    struct party_delta *plog;
    uint64_t n_plog, plog_cap;

    /* markers, threads, tags */
    struct model_marker *markers;
    uint32_t n_markers, markers_cap;
    struct model_thread *threads;
    uint32_t threads_cap;
    const char **tags;
    uint32_t tags_cap;

    /* the blocks live in the latest state, and the event stream's numbering */
    struct liveset ls;
    uint64_t ev_in_state; /* events whose changes the figures hold (points record it) */

    /* other blocks that live as long as the model (the frames inlined at an ip) */
    void **misc;
    size_t n_misc;

    /* strings and frames of streams before a model_reset(): views may still
     * hold pointers to them until they query again */
    void **grave;
    size_t n_grave;

    /* last response */
    struct model_response resp;
    struct model_object *resp_objs;
    unsigned char *resp_bytes;
    char *resp_msg;

    /* the last scan response, re-encoded into memory the model owns */
    char *scan_buf;
    msgpack_zone scan_zone;
    int scan_zone_on;
    struct scanmsg_result scan;
    uint64_t scan_seq;

    /* latest tick totals (ticks authority), rss */
    uint64_t rss;
};

/* ------------------------------------------------------------------ util */

static int fail(struct model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct model *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->err, sizeof(m->err), fmt, ap);
    va_end(ap);
    return -1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
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

/* grow for uint32_t capacities */
static int grow32(void **p, uint32_t *cap, size_t need, size_t elem)
{
    size_t c = *cap;
    int r;

    if (need > UINT32_MAX / 2)
        return -1;
    r = grow(p, &c, need, elem);
    *cap = (uint32_t)c;
    return r;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Interns n bytes of s; returns a NUL-terminated string that lives as long
 * as the model, or NULL when out of memory. */
static const char *intern(struct model *m, const char *s, size_t n)
{
    uint32_t h = hash_bytes(s, n);
    size_t i;
    char *p;

    if (!s || n == 0)
        return "";
    if (m->strs_n * 2 >= m->strs_cap) {
        size_t nc = m->strs_cap ? m->strs_cap * 2 : 1024;
        struct str_entry *t = calloc(nc, sizeof(*t));

        if (!t)
            return NULL;
        for (size_t j = 0; j < m->strs_cap; j++) {
            if (!m->strs[j].s)
                continue;
            size_t k = m->strs[j].hash & (nc - 1);
            while (t[k].s)
                k = (k + 1) & (nc - 1);
            t[k] = m->strs[j];
        }
        free(m->strs);
        m->strs = t;
        m->strs_cap = nc;
    }
    for (i = h & (m->strs_cap - 1); m->strs[i].s; i = (i + 1) & (m->strs_cap - 1))
        if (m->strs[i].hash == h && strncmp(m->strs[i].s, s, n) == 0 && m->strs[i].s[n] == 0)
            return m->strs[i].s;
    if (m->pool_used + n + 1 > m->pool_cap || m->n_pools == 0) {
        size_t cap = n + 1 > 65536 ? n + 1 : 65536;
        char **np = realloc(m->pools, (m->n_pools + 1) * sizeof(*np));

        if (!np)
            return NULL;
        m->pools = np;
        if (!(np[m->n_pools] = malloc(cap)))
            return NULL;
        m->n_pools++;
        m->pool_used = 0;
        m->pool_cap = cap;
    }
    p = m->pools[m->n_pools - 1] + m->pool_used;
    memcpy(p, s, n);
    p[n] = 0;
    m->pool_used += n + 1;
    m->strs[i].s = p;
    m->strs[i].hash = h;
    m->strs_n++;
    return p;
}

static const char *intern_w(struct model *m, const struct wire_str *s)
{
    return intern(m, s->ptr, s->len);
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');

    return s ? s + 1 : p;
}

/* ---------------------------------------------------------------- frames */

static struct model_frame *frame_at(const struct model *m, uint32_t i)
{
    return &m->frame_chunks[i / CHUNK][i % CHUNK];
}

static uint32_t frame_find(const struct model *m, uint64_t ip)
{
    if (!m->frame_hash_cap)
        return MODEL_NONE;
    for (uint32_t i = (uint32_t)mix64(ip) & (m->frame_hash_cap - 1); m->frame_hash[i];
         i = (i + 1) & (m->frame_hash_cap - 1))
        if (frame_at(m, m->frame_hash[i] - 1)->ip == ip)
            return m->frame_hash[i] - 1;
    return MODEL_NONE;
}

/* Returns the index of the frame of ip, creating an empty one. */
static uint32_t frame_get(struct model *m, uint64_t ip)
{
    uint32_t f = frame_find(m, ip), i;
    struct model_frame *fr;

    if (f != MODEL_NONE)
        return f;
    if ((m->n_frames + 1) * 2 > m->frame_hash_cap) {
        uint32_t nc = m->frame_hash_cap ? m->frame_hash_cap * 2 : 4096;
        uint32_t *t = calloc(nc, sizeof(*t));

        if (!t)
            return MODEL_NONE;
        for (uint32_t j = 0; j < m->n_frames; j++) {
            uint32_t k = (uint32_t)mix64(frame_at(m, j)->ip) & (nc - 1);
            while (t[k])
                k = (k + 1) & (nc - 1);
            t[k] = j + 1;
        }
        free(m->frame_hash);
        m->frame_hash = t;
        m->frame_hash_cap = nc;
    }
    if (m->n_frames % CHUNK == 0) {
        struct model_frame **c = realloc(m->frame_chunks, (m->n_frames / CHUNK + 1) * sizeof(*c));
        if (!c)
            return MODEL_NONE;
        m->frame_chunks = c;
        if (!(c[m->n_frames / CHUNK] = calloc(CHUNK, sizeof(**c))))
            return MODEL_NONE;
    }
    f = m->n_frames++;
    fr = frame_at(m, f);
    fr->ip = ip;
    fr->function = fr->file = fr->module = "";
    for (i = (uint32_t)mix64(ip) & (m->frame_hash_cap - 1); m->frame_hash[i];
         i = (i + 1) & (m->frame_hash_cap - 1))
        ;
    m->frame_hash[i] = f + 1;
    return f;
}

static const char *ip_label(const char *function, const char *module, uint64_t offset, uint64_t ip,
                            char *buf, size_t n)
{
    if (function && *function)
        return function;
    if (module && *module)
        snprintf(buf, n, "%s+0x%" PRIx64, module, offset);
    else
        snprintf(buf, n, "0x%" PRIx64, ip);
    return buf;
}

const char *model_frame_label(const struct model_frame *f, char *buf, size_t n)
{
    return f ? ip_label(f->function, f->module, f->offset, f->ip, buf, n) : "?";
}

const char *model_site_label(const struct model_site *s, char *buf, size_t n)
{
    return s ? ip_label(s->function, s->module, s->offset, s->ip, buf, n) : "?";
}

int model_site_is(const struct model_site *s, const char *spec)
{
    const char *colon = strrchr(spec, ':'), *d;
    size_t flen, slen;
    char *end;
    unsigned long line;

    if (!s)
        return 0;
    if (strcmp(s->function, spec) == 0)
        return 1;
    if (!colon || colon == spec || !colon[1] || colon[-1] == ':')
        return 0;
    for (d = colon + 1; *d; d++)
        if (!isdigit((unsigned char)*d))
            return 0;
    line = strtoul(colon + 1, &end, 10);
    if (line != s->line || !*s->file)
        return 0;
    flen = (size_t)(colon - spec);
    slen = strlen(s->file);
    if (flen > slen || memcmp(s->file + slen - flen, spec, flen) != 0)
        return 0;
    return flen == slen || s->file[slen - flen - 1] == '/';
}

const struct model_frame *model_frame(const struct model *m, uint64_t ip)
{
    uint32_t f = frame_find(m, ip);

    return f == MODEL_NONE ? &m->unknown_frame : frame_at(m, f);
}

/* ----------------------------------------------------------------- sites */

static struct model_site *site_at(const struct model *m, uint32_t i)
{
    return &m->site_chunks[i / CHUNK][i % CHUNK];
}

static struct site_ext *ext_at(const struct model *m, uint32_t i)
{
    return &m->ext_chunks[i / CHUNK][i % CHUNK];
}

/* ---- allocator plumbing: the frames a site looks through ----
 * One predicate per kind, in a table: a frame is plumbing when any says so.
 * Inlined frames are frames like the others (model.h), so the same rules see
 * through std::vector's inlined allocator as through libstdc++'s operator
 * new. */

static const char *const plumbing_modules[] = {
    "libc.so",        "libc-",     "libstdc++.so", "libgcc_s", "ld-linux",
    "libheapline.so", "libc++.so", "libc++abi.so", "ld-musl",  NULL};

/* The C and C++ runtimes, the loader and the collector itself. */
static int in_runtime_module(const struct model_frame *f)
{
    for (int i = 0; plumbing_modules[i]; i++)
        if (strncmp(f->module, plumbing_modules[i], strlen(plumbing_modules[i])) == 0)
            return 1;
    return 0;
}

static const char *const plumbing_functions[] = {"malloc",
                                                 "calloc",
                                                 "realloc",
                                                 "reallocarray",
                                                 "free",
                                                 "posix_memalign",
                                                 "aligned_alloc",
                                                 "memalign",
                                                 "valloc",
                                                 "pvalloc",
                                                 "strdup",
                                                 "strndup",
                                                 "wcsdup",
                                                 "xmalloc",
                                                 "xcalloc",
                                                 "xrealloc",
                                                 "xzalloc",
                                                 "xstrdup",
                                                 "xstrndup",
                                                 "xmemdup",
                                                 "g_malloc",
                                                 "g_malloc0",
                                                 "g_realloc",
                                                 "g_strdup",
                                                 "g_strndup",
                                                 "g_try_malloc",
                                                 "__libc_malloc",
                                                 "__libc_calloc",
                                                 "__libc_realloc",
                                                 "__libc_memalign",
                                                 NULL};

/* The allocation functions and their well-known wrappers, by name. */
static int is_allocation_function(const struct model_frame *f)
{
    const char *fn = f->function;

    if (!strncmp(fn, "operator new", 12) || !strncmp(fn, "operator delete", 15) ||
        !strncmp(fn, "_Znw", 4) || !strncmp(fn, "_Zna", 4))
        return 1;
    for (int i = 0; plumbing_functions[i]; i++)
        if (strcmp(fn, plumbing_functions[i]) == 0)
            return 1;
    return 0;
}

/* Where a demangled C++ name's qualified name starts: after its return type
 * (a template function's demangled name has one: "void std::vector<int>::
 * _M_realloc_insert<int const&>(...)"), at the last space outside <> and ()
 * before the parameter list. */
static const char *cxx_qualified_name(const char *fn)
{
    const char *start = fn;
    int depth = 0;

    if (!strncmp(fn, "operator", 8))
        return fn;
    for (const char *p = fn; *p; p++) {
        if (*p == '<' || *p == '(') {
            if (*p == '(' && depth == 0)
                break;
            depth++;
        } else if ((*p == '>' || *p == ')') && depth > 0) {
            depth--;
        } else if (*p == ' ' && depth == 0) {
            start = p + 1;
        }
    }
    return start;
}

/* The C++ standard library as the compiler inlines it into the program: a
 * function of namespace std or __gnu_cxx (std::__new_allocator<T>::allocate,
 * std::vector<T>::_M_realloc_insert), or any frame whose line is in the
 * library's headers (/usr/include/c++/12/bits/stl_tree.h, libc++'s
 * include/c++/v1). */
static int is_cxx_library(const struct model_frame *f)
{
    const char *q = cxx_qualified_name(f->function);

    return !strncmp(q, "std::", 5) || !strncmp(q, "__gnu_cxx::", 11) ||
           strstr(f->file, "/include/c++/") != NULL;
}

static int (*const plumbing_rules[])(const struct model_frame *) = {
    in_runtime_module,
    is_allocation_function,
    is_cxx_library,
};

/* 1 when a frame is allocator plumbing that a site should look through. */
static int frame_is_plumbing(const struct model_frame *f)
{
    for (size_t i = 0; i < sizeof(plumbing_rules) / sizeof(plumbing_rules[0]); i++)
        if (plumbing_rules[i](f))
            return 1;
    return 0;
}

static uint32_t site_key_hash(const struct model_site *s)
{
    uint64_t h = (uintptr_t)s->function * 31 + (uintptr_t)s->file * 17 + s->line * 7 +
                 (uintptr_t)s->module * 3;

    if (!*s->function)
        h ^= s->ip;
    return (uint32_t)mix64(h);
}

static int site_key_eq(const struct model_site *a, const struct model_site *b)
{
    return a->function == b->function && a->file == b->file && a->line == b->line &&
           a->module == b->module && (*a->function || a->ip == b->ip);
}

/* A frame's key as a site: what site_key_hash and site_key_eq compare. */
static struct model_site frame_key(const struct model_frame *f)
{
    return (struct model_site){.function = f->function,
                               .file = f->file,
                               .line = f->line,
                               .module = f->module,
                               .ip = f->ip,
                               .offset = f->offset};
}

/* Finds or adds the site of frame f. Returns its id or MODEL_NONE (OOM). */
static uint32_t site_get(struct model *m, const struct model_frame *f)
{
    struct model_site key = frame_key(f);
    uint32_t h = site_key_hash(&key), i, id;

    if ((m->n_sites + 1) * 2 > m->site_hash_cap) {
        uint32_t nc = m->site_hash_cap ? m->site_hash_cap * 2 : 1024;
        uint32_t *t = calloc(nc, sizeof(*t));

        if (!t)
            return MODEL_NONE;
        for (uint32_t j = 0; j < m->n_sites; j++) {
            uint32_t k = site_key_hash(site_at(m, j)) & (nc - 1);
            while (t[k])
                k = (k + 1) & (nc - 1);
            t[k] = j + 1;
        }
        free(m->site_hash);
        m->site_hash = t;
        m->site_hash_cap = nc;
    }
    for (i = h & (m->site_hash_cap - 1); m->site_hash[i]; i = (i + 1) & (m->site_hash_cap - 1))
        if (site_key_eq(site_at(m, m->site_hash[i] - 1), &key))
            return m->site_hash[i] - 1;
    if (m->n_sites % CHUNK == 0) {
        size_t nch = m->n_sites / CHUNK + 1;
        struct model_site **c = realloc(m->site_chunks, nch * sizeof(*c));
        struct site_ext **e;

        if (!c)
            return MODEL_NONE;
        m->site_chunks = c;
        e = realloc(m->ext_chunks, nch * sizeof(*e));
        if (!e)
            return MODEL_NONE;
        m->ext_chunks = e;
        c[nch - 1] = calloc(CHUNK, sizeof(**c));
        e[nch - 1] = calloc(CHUNK, sizeof(**e));
        if (!c[nch - 1] || !e[nch - 1])
            return MODEL_NONE;
    }
    if (grow32((void **)&m->site_cur, &m->site_cap, m->n_sites + 1, sizeof(struct fig)))
        return MODEL_NONE;
    id = m->n_sites++;
    key.id = id;
    key.thread = MODEL_NONE;
    *site_at(m, id) = key;
    m->site_hash[i] = id + 1;
    return id;
}

/* Interpreter plumbing: the modules of CPython itself (the python3.x
 * executable, libpython3.x.so: PyObject_Malloc, _PyObject_GC_New,
 * list_resize, the eval loop...). A site looks through them to the Python
 * frame above; in a stack without Python frames they are ordinary code. */
static const char *const interpreter_modules[] = {"python3", "libpython3", NULL};

/* 1 for a Python frame (a synthetic ip, wire.h). */
static int frame_is_python(const struct model_frame *f)
{
    return f->ip >= WIRE_PYTHON_IP_BASE;
}

static int frame_is_interpreter(const struct model_frame *f)
{
    for (int i = 0; interpreter_modules[i]; i++)
        if (strncmp(f->module, interpreter_modules[i], strlen(interpreter_modules[i])) == 0)
            return 1;
    return 0;
}

/* The frames of a stack, leaf first, the inlined ones included (model.h):
 * a node's innermost frame, outward through `outer`, then the parent node's
 * innermost. node is 0 (and f NULL) past the outermost. */
struct fwalk {
    uint32_t node;
    const struct model_frame *f;
};

static struct fwalk fwalk_at(const struct model *m, uint32_t node)
{
    return (struct fwalk){node, node ? frame_at(m, m->nodes[node].frame) : NULL};
}

static struct fwalk fwalk_next(const struct model *m, struct fwalk w)
{
    if (w.f->outer)
        return (struct fwalk){w.node, w.f->outer};
    return fwalk_at(m, m->nodes[w.node].parent);
}

/* Where in a defined stack its site's frame is (stack_site's rule); node 0
 * for the empty stack. In a stack with Python frames, interpreter frames are
 * plumbing too: the site is the innermost Python frame, unless code of its
 * own (a C extension) is below it. */
static struct fwalk site_frame(const struct model *m, uint32_t stack)
{
    struct fwalk unnamed = {0, NULL}, named = {0, NULL}, own = {0, NULL};
    struct fwalk leaf = fwalk_at(m, stack);

    for (struct fwalk w = leaf; w.node != 0; w = fwalk_next(m, w)) {
        if (frame_is_python(w.f))
            return own.node ? own : w;
        if (frame_is_plumbing(w.f))
            continue;
        if (!*w.f->function) {
            if (!unnamed.node)
                unnamed = w;
            continue;
        }
        if (!named.node)
            named = w;
        if (!own.node && !frame_is_interpreter(w.f)) {
            own = w;
            if (own.f == named.f)
                return w; /* no interpreter frame below it: the site either way */
        }
    }
    return named.node ? named : unnamed.node ? unnamed : leaf;
}

/* The frame one up from a site's frame w: the one it was inlined into, or
 * its caller. In a stack with Python frames the interpreter's frames are
 * looked through, so a C extension's caller is the Python line that called
 * it. NULL when w is the outermost. */
static const struct model_frame *caller_frame(const struct model *m, struct fwalk w)
{
    struct fwalk up = fwalk_next(m, w);

    for (struct fwalk x = up; x.node != 0; x = fwalk_next(m, x)) {
        if (frame_is_python(x.f))
            return x.f;
        if (!frame_is_interpreter(x.f) && !frame_is_plumbing(x.f))
            break;
    }
    return up.f;
}

/* The site of a defined stack, computed at first use: the first frame from the
 * leaf (inlined frames included) that is not allocator plumbing and has a name.
 * Static functions of a stripped library have no name (sqlite3's allocator
 * wrappers, say): the site is then the first named caller (sqlite3_prepare_v2),
 * which tells a user more than an address. Without any named frame, the first
 * non-plumbing frame; without that, the leaf. */
static uint32_t stack_site(struct model *m, uint32_t stack)
{
    struct stack_node *n;
    struct fwalk w;

    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        stack = 0;
    n = &m->nodes[stack];
    if (n->site != MODEL_NONE)
        return n->site;
    w = site_frame(m, stack);
    n->site = site_get(m, w.f ? w.f : &m->unknown_frame);
    if (n->site != MODEL_NONE)
        site_at(m, n->site)->n_stacks++;
    return n->site;
}

static void site_note(struct model *m, uint32_t site, uint32_t tag, uint32_t thread)
{
    struct site_ext *e = ext_at(m, site);
    struct model_site *s = site_at(m, site);
    uint32_t i;

    if (s->thread == MODEL_NONE) {
        s->thread = thread;
        s->tag = tag;
    }
    if (e->n_tags != SET_OVERFLOW) {
        for (i = 0; i < e->n_tags && e->tags[i] != tag; i++)
            ;
        if (i == e->n_tags) {
            if (e->n_tags == MAX_SITE_TAGS)
                e->n_tags = SET_OVERFLOW;
            else
                e->tags[e->n_tags++] = tag;
        }
    }
    if (e->n_threads != SET_OVERFLOW) {
        for (i = 0; i < e->n_threads && e->threads[i] != thread; i++)
            ;
        if (i == e->n_threads) {
            if (e->n_threads == MAX_SITE_THREADS)
                e->n_threads = SET_OVERFLOW;
            else
                e->threads[e->n_threads++] = thread;
        }
    }
}

/* -------------------------------------------------------- stacks, arrays */

static int stacks_reserve(struct model *m, uint32_t n)
{
    uint32_t old = m->n_nodes, cap = old;

    if (n <= old)
        return 0;
    if (cap < 1024)
        cap = 1024;
    while (cap < n)
        cap *= 2;
    /* arrays are sized together; track by n_nodes = capacity */
    struct stack_node *nn = realloc(m->nodes, (size_t)cap * sizeof(*nn));
    if (!nn)
        return -1;
    m->nodes = nn;
    for (uint32_t i = old; i < cap; i++)
        nn[i] = (struct stack_node){.site = MODEL_NONE, .frame = MODEL_NONE};
#define GROWARR(arr, T)                                                                            \
    do {                                                                                           \
        T *q_ = realloc(m->arr, (size_t)cap * sizeof(T));                                          \
        if (!q_)                                                                                   \
            return -1;                                                                             \
        memset(q_ + old, 0, (size_t)(cap - old) * sizeof(T));                                      \
        m->arr = q_;                                                                               \
    } while (0)
    GROWARR(cur, struct fig);
    GROWARR(tk, struct fig);
    GROWARR(pk, struct fig);
    GROWARR(pk_dirty, uint8_t);
    GROWARR(pend_idx, uint32_t);
#undef GROWARR
    m->n_nodes = cap;
    return 0;
}

/* ---------------------------------------------------------------- life */

/* Frees everything the model owns except the struct itself. */
static void model_fini(struct model *m)
{
    for (size_t i = 0; i < m->n_pools; i++)
        free(m->pools[i]);
    free(m->pools);
    for (size_t i = 0; i < m->n_misc; i++)
        free(m->misc[i]);
    free(m->misc);
    free(m->strs);
    free(m->mods);
    for (uint32_t i = 0; i * CHUNK < m->n_frames; i++)
        free(m->frame_chunks[i]);
    free(m->frame_chunks);
    free(m->frame_hash);
    free(m->nodes);
    free(m->cur);
    free(m->tk);
    free(m->pk);
    free(m->pk_dirty);
    free(m->dirty);
    for (uint32_t i = 0; i * CHUNK < m->n_sites; i++) {
        free(m->site_chunks[i]);
        free(m->ext_chunks[i]);
    }
    free(m->site_chunks);
    free(m->ext_chunks);
    free(m->site_hash);
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
    free(m->party_hash);
    free(m->party_pend);
    free(m->party_dirty);
    free(m->plog);
    free(m->markers);
    free(m->threads);
    free(m->tags);
    liveset_free(&m->ls);
    free(m->resp_objs);
    free(m->resp_bytes);
    free(m->resp_msg);
    free(m->scan_buf);
    if (m->scan_zone_on)
        msgpack_zone_destroy(&m->scan_zone);
}

static int model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    m->unknown_frame.function = m->unknown_frame.file = m->unknown_frame.module = "";
    m->sum.exe = "";
    m->sum.disabled_reason = "";
    m->sum.events_exact = 1;
    if (stacks_reserve(m, 1024))
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
    size_t n = m->n_pools + m->n_misc + (m->n_frames + CHUNK - 1) / CHUNK;
    void **g = realloc(m->grave, (m->n_grave + n + 1) * sizeof(*g));

    if (!g)
        return -1;
    m->grave = g;
    for (size_t i = 0; i < m->n_pools; i++)
        g[m->n_grave++] = m->pools[i];
    for (size_t i = 0; i < m->n_misc; i++)
        g[m->n_grave++] = m->misc[i];
    for (uint32_t i = 0; i * CHUNK < m->n_frames; i++)
        g[m->n_grave++] = m->frame_chunks[i];
    m->n_pools = m->n_misc = 0;
    m->n_frames = 0;
    return 0;
}

int model_reset(struct model *m)
{
    uint64_t gen = m->gen;
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
    return 0;
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

/* --------------------------------------------------------- delta logging */

static int log_push(struct model *m, uint32_t stack, const struct fig *d)
{
    if (m->n_log == m->log_cap) {
        size_t cap = (size_t)m->log_cap;

        if (grow((void **)&m->log, &cap, (size_t)m->n_log + 1, sizeof(struct delta)))
            return -1;
        m->log_cap = cap;
    }
    m->log[m->n_log++] = (struct delta){.stack = stack, .d = *d};
    return 0;
}

/* Wrapping arithmetic: hostile figures may overflow, never into UB. */
static int64_t wadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static void fig_add(struct fig *a, const struct fig *d)
{
    a->live_bytes = wadd(a->live_bytes, d->live_bytes);
    a->live_blocks = wadd(a->live_blocks, d->live_blocks);
    a->allocations += d->allocations;
    a->bytes_allocated += d->bytes_allocated;
}

/* Applies a per-stack change to the authoritative state (site sums, site
 * peaks, exact-peak dirtiness). Does not log. */
static void cur_apply(struct model *m, uint32_t stack, const struct fig *d)
{
    uint32_t site = m->nodes[stack].site;

    fig_add(&m->cur[stack], d);
    if (site != MODEL_NONE) {
        struct fig *sf = &m->site_cur[site];
        struct site_ext *e = ext_at(m, site);

        fig_add(sf, d);
        if (sf->live_bytes > 0 && (uint64_t)sf->live_bytes > e->peak_bytes)
            e->peak_bytes = (uint64_t)sf->live_bytes;
    }
    if (!m->pk_dirty[stack]) {
        if (m->n_dirty == m->dirty_cap &&
            grow32((void **)&m->dirty, &m->dirty_cap, m->n_dirty + 1, sizeof(uint32_t)))
            return; /* peak state loses precision, never memory safety */
        m->pk_dirty[stack] = 1;
        m->dirty[m->n_dirty++] = stack;
    }
}

/* Adds a change to the open bucket. */
static int pend_add(struct model *m, uint32_t stack, const struct fig *d)
{
    uint32_t i = m->pend_idx[stack];

    if (!i) {
        if (grow32((void **)&m->pend, &m->pend_cap, m->n_pend + 1, sizeof(struct delta)))
            return -1;
        m->pend[m->n_pend] = (struct delta){.stack = stack};
        i = m->pend_idx[stack] = ++m->n_pend;
    }
    fig_add(&m->pend[i - 1].d, d);
    return 0;
}

/* ------------------------------------------------------------- parties */

static uint32_t party_hash_of(uint32_t site, uint32_t thread, uint32_t tag)
{
    return (uint32_t)mix64(((uint64_t)site << 32) ^ ((uint64_t)thread << 16) ^ tag);
}

/* The party of (site, thread, tag), created empty. MODEL_NONE: out of memory. */
static uint32_t party_get(struct model *m, uint32_t site, uint32_t thread, uint32_t tag)
{
    uint32_t i, id;

    if ((m->n_parties + 1) * 2 > m->party_hash_cap) {
        uint32_t nc = m->party_hash_cap ? m->party_hash_cap * 2 : 1024;
        uint32_t *t = calloc(nc, sizeof(*t));

        if (!t)
            return MODEL_NONE;
        for (uint32_t j = 0; j < m->n_parties; j++) {
            const struct party *p = &m->parties[j];
            uint32_t k = party_hash_of(p->site, p->thread, p->tag) & (nc - 1);
            while (t[k])
                k = (k + 1) & (nc - 1);
            t[k] = j + 1;
        }
        free(m->party_hash);
        m->party_hash = t;
        m->party_hash_cap = nc;
    }
    for (i = party_hash_of(site, thread, tag) & (m->party_hash_cap - 1); m->party_hash[i];
         i = (i + 1) & (m->party_hash_cap - 1)) {
        const struct party *p = &m->parties[m->party_hash[i] - 1];
        if (p->site == site && p->thread == thread && p->tag == tag)
            return m->party_hash[i] - 1;
    }
    if (grow32((void **)&m->parties, &m->parties_cap, m->n_parties + 1, sizeof(struct party)))
        return MODEL_NONE;
    id = m->n_parties++;
    m->parties[id] = (struct party){.site = site, .thread = thread, .tag = tag};
    m->party_hash[i] = id + 1;
    return id;
}

/* An event's change to its block's party (the thread and tag that allocated
 * it): the latest state, the open bucket, and the peak's dirty list. */
static int party_change(struct model *m, uint32_t site, const struct liveset_block *b,
                        const struct fig *d)
{
    uint32_t id = party_get(m, site, b->thread, b->tag);
    struct party *p;

    if (id == MODEL_NONE)
        return -1;
    p = &m->parties[id];
    fig_add(&p->cur, d);
    if (!p->pending) {
        if (grow32((void **)&m->party_pend, &m->party_pend_cap, m->n_party_pend + 1,
                   sizeof(uint32_t)))
            return -1;
        m->party_pend[m->n_party_pend++] = id;
        p->pending = 1;
    }
    fig_add(&p->pend, d);
    if (!p->pk_dirty) {
        if (grow32((void **)&m->party_dirty, &m->party_dirty_cap, m->n_party_dirty + 1,
                   sizeof(uint32_t)))
            return -1;
        m->party_dirty[m->n_party_dirty++] = id;
        p->pk_dirty = 1;
    }
    return 0;
}

/* The open bucket closes as a point at `time`: its party changes go to the
 * party log stamped with it. */
static int party_close(struct model *m, int64_t time)
{
    for (uint32_t i = 0; i < m->n_party_pend; i++) {
        struct party *p = &m->parties[m->party_pend[i]];

        if (m->n_plog == m->plog_cap) {
            size_t cap = (size_t)m->plog_cap;
            if (grow((void **)&m->plog, &cap, (size_t)m->n_plog + 1, sizeof(*m->plog)))
                return -1;
            m->plog_cap = cap;
        }
        m->plog[m->n_plog++] =
            (struct party_delta){.time = time, .party = m->party_pend[i], .d = p->pend};
        p->pend = (struct fig){0};
        p->pending = 0;
    }
    m->n_party_pend = 0;
    return 0;
}

static struct model_point totals_now(const struct model *m, int64_t time)
{
    struct model_point p = {.time = time,
                            .heap_bytes = m->sum.heap_bytes,
                            .heap_blocks = m->sum.heap_blocks,
                            .rss = m->sum.rss,
                            .allocations = m->sum.allocations,
                            .frees = m->sum.frees,
                            .bytes_allocated = m->sum.bytes_allocated,
                            .events = m->ev_in_state};
    return p;
}

static int checkpoint_maybe(struct model *m)
{
    uint64_t spacing = 65536;
    struct checkpoint *c;

    if ((uint64_t)m->n_sites * 4 > spacing)
        spacing = (uint64_t)m->n_sites * 4;
    if (m->n_log - m->log_at_cp < spacing)
        return 0;
    if (grow32((void **)&m->cps, &m->cps_cap, m->n_cps + 1, sizeof(*m->cps)))
        return -1;
    c = &m->cps[m->n_cps];
    c->sites = malloc((size_t)(m->n_sites ? m->n_sites : 1) * sizeof(struct fig));
    if (!c->sites)
        return -1;
    if (m->n_sites)
        memcpy(c->sites, m->site_cur, (size_t)m->n_sites * sizeof(struct fig));
    c->n_sites = m->n_sites;
    c->point = m->n_points - 1;
    m->n_cps++;
    m->log_at_cp = m->n_log;
    return 0;
}

/* The last point grew (a continuation part of a tick): a checkpoint taken
 * at it must include the new deltas. */
static int cp_refresh_last(struct model *m)
{
    struct checkpoint *c;

    if (!m->n_cps || m->cps[m->n_cps - 1].point != m->n_points - 1)
        return 0;
    c = &m->cps[m->n_cps - 1];
    if (c->n_sites < m->n_sites) {
        struct fig *f = realloc(c->sites, (size_t)m->n_sites * sizeof(*f));
        if (!f)
            return fail(m, "out of memory");
        c->sites = f;
    }
    if (m->n_sites)
        memcpy(c->sites, m->site_cur, (size_t)m->n_sites * sizeof(struct fig));
    c->n_sites = m->n_sites;
    m->log_at_cp = m->n_log;
    return 0;
}

/* Rebuilds every checkpoint from the log (after a compaction). */
static int checkpoints_rebuild(struct model *m)
{
    struct fig *acc = calloc(m->n_sites ? m->n_sites : 1, sizeof(*acc));
    uint64_t li = 0;

    if (!acc)
        return -1;
    for (uint32_t i = 0; i < m->n_cps; i++)
        free(m->cps[i].sites);
    m->n_cps = 0;
    m->log_at_cp = 0;
    for (uint32_t p = 0; p < m->n_points; p++) {
        for (; li < m->delta_end[p]; li++) {
            uint32_t site = m->nodes[m->log[li].stack].site;
            if (site != MODEL_NONE)
                fig_add(&acc[site], &m->log[li].d);
        }
        uint64_t spacing = (uint64_t)m->n_sites * 4 > 65536 ? (uint64_t)m->n_sites * 4 : 65536;
        if (li - m->log_at_cp >= spacing && p + 1 < m->n_points) {
            struct checkpoint *c;
            if (grow32((void **)&m->cps, &m->cps_cap, m->n_cps + 1, sizeof(*m->cps)))
                goto fail;
            c = &m->cps[m->n_cps];
            c->sites = malloc((size_t)(m->n_sites ? m->n_sites : 1) * sizeof(*acc));
            if (!c->sites)
                goto fail;
            memcpy(c->sites, acc, (size_t)m->n_sites * sizeof(*acc));
            c->n_sites = m->n_sites;
            c->point = p;
            m->n_cps++;
            m->log_at_cp = li;
        }
    }
    free(acc);
    return 0;
fail:
    free(acc);
    return -1;
}

/* After a compaction: each party log entry takes the time of the first
 * point left at or after it, and entries of one party at one time become
 * one, so the party log coarsens as the timeline does (and stays bounded
 * with it). */
static int plog_compact(struct model *m)
{
    uint64_t *stamp = calloc(m->n_parties ? m->n_parties : 1, sizeof(*stamp));
    uint64_t *idx = calloc(m->n_parties ? m->n_parties : 1, sizeof(*idx));
    uint64_t w = 0, run = 0;
    int64_t run_time = INT64_MIN;
    uint32_t pi = 0;

    if (!stamp || !idx) {
        free(stamp);
        free(idx);
        return -1;
    }
    for (uint64_t i = 0; i < m->n_plog; i++) {
        struct party_delta e = m->plog[i];

        while (pi < m->n_points && m->points[pi].time < e.time)
            pi++;
        if (pi < m->n_points)
            e.time = m->points[pi].time;
        if (e.time != run_time) {
            run_time = e.time;
            run++;
        }
        if (stamp[e.party] == run) {
            fig_add(&m->plog[idx[e.party]].d, &e.d);
        } else {
            stamp[e.party] = run;
            idx[e.party] = w;
            m->plog[w++] = e;
        }
    }
    m->n_plog = w;
    free(stamp);
    free(idx);
    return 0;
}

/*
 * Bounded memory for long runs: when the log or the timeline passes its
 * budget, the older half of the timeline is merged pairwise (a point keeps
 * the later of two, its deltas summed per stack), so old history gets
 * coarser while recent history keeps full resolution. The peak, the totals
 * and the latest state are untouched.
 */
static int compact(struct model *m)
{
    uint32_t half = (m->n_points / 2) & ~1u, np = 0, *idx = NULL;
    uint64_t rd = 0, wr = 0;
    struct delta *tmp = NULL;
    uint32_t tmp_n = 0, tmp_cap = 0;

    if (half < 2)
        return 0;
    idx = calloc(m->n_nodes, sizeof(*idx));
    if (!idx)
        return -1;
    for (uint32_t p = 0; p < m->n_points; p++) {
        int merge = p < half && (p & 1) == 0; /* p joins p + 1 */
        uint64_t end = m->delta_end[p];

        for (; rd < end; rd++) {
            const struct delta *d = &m->log[rd];
            uint32_t k = idx[d->stack];
            if (!k) {
                if (grow32((void **)&tmp, &tmp_cap, tmp_n + 1, sizeof(*tmp))) {
                    free(idx);
                    free(tmp);
                    return -1;
                }
                tmp[tmp_n] = (struct delta){.stack = d->stack};
                k = idx[d->stack] = ++tmp_n;
            }
            fig_add(&tmp[k - 1].d, &d->d);
        }
        if (merge)
            continue;
        /* tmp has the deltas of the (merged) point: write them back */
        for (uint32_t i = 0; i < tmp_n; i++) {
            idx[tmp[i].stack] = 0;
            m->log[wr++] = tmp[i];
        }
        tmp_n = 0;
        if (p > 0 && p <= half && (p & 1)) /* the later of a merged pair */
            m->points[p].flags |= m->points[p - 1].flags;
        m->points[np] = m->points[p];
        m->delta_end[np] = wr;
        np++;
    }
    free(idx);
    free(tmp);
    m->n_points = np;
    m->n_log = wr;
    if (plog_compact(m))
        return -1;
    return checkpoints_rebuild(m);
}

static int compact_maybe(struct model *m)
{
    if (m->n_log < m->next_compact_log && m->n_points < m->next_compact_points)
        return 0;
    if (compact(m) != 0)
        return -1;
    /* the timeline always shrinks by a quarter; when merging does not
     * shrink the log (every stack distinct), wait for it to grow by half
     * again: never a compaction per point */
    m->next_compact_points = m->point_budget;
    m->next_compact_log =
        m->n_log < m->log_budget - m->log_budget / 4 ? m->log_budget : m->n_log + m->n_log / 2;
    return 0;
}

void model_set_budget(struct model *m, uint64_t log_entries, uint32_t points)
{
    m->log_budget = m->next_compact_log = log_entries < 1024 ? 1024 : log_entries;
    m->point_budget = m->next_compact_points = points < 16 ? 16 : points;
}

/* Appends a timeline point whose deltas are the log since the previous one.
 * Points stay in time order (model_point_at() searches them): one stamped
 * before the last point joins it in time. */
static int point_push(struct model *m, const struct model_point *pin)
{
    struct model_point pt = *pin;
    const struct model_point *p = &pt;

    if (m->n_points && pt.time < m->points[m->n_points - 1].time)
        pt.time = m->points[m->n_points - 1].time;
    if (m->n_points == m->points_cap) {
        uint32_t cap = m->points_cap;

        if (grow32((void **)&m->points, &cap, m->n_points + 1, sizeof(*m->points)))
            return -1;
        uint32_t cap2 = m->points_cap;
        if (grow32((void **)&m->delta_end, &cap2, m->n_points + 1, sizeof(*m->delta_end)))
            return -1;
        m->points_cap = cap;
    }
    m->points[m->n_points] = *p;
    m->delta_end[m->n_points] = m->n_log;
    m->n_points++;
    if (m->sum.time_first == 0 && m->n_points == 1)
        m->sum.time_first = p->time;
    if (compact_maybe(m) != 0)
        return -1;
    return checkpoint_maybe(m);
}

/* Closes the open event bucket as a timeline point at `time`. */
static int bucket_close(struct model *m, int64_t time, uint64_t rss)
{
    struct model_point p;

    if (!m->bucket_open)
        return 0;
    for (uint32_t i = 0; i < m->n_pend; i++) {
        m->pend_idx[m->pend[i].stack] = 0;
        if (log_push(m, m->pend[i].stack, &m->pend[i].d))
            return -1;
    }
    m->n_pend = 0;
    m->bucket_open = 0;
    if (time < m->bucket_last)
        time = m->bucket_last;
    /* points stay in time order: events drained after an event-less tick
     * may be stamped before it */
    if (m->n_points && time < m->points[m->n_points - 1].time)
        time = m->points[m->n_points - 1].time;
    if (party_close(m, time))
        return -1;
    p = totals_now(m, time);
    p.rss = rss;
    return point_push(m, &p);
}

static void see_time(struct model *m, int64_t t)
{
    if (t > m->sum.time_last)
        m->sum.time_last = t;
}

/* ---------------------------------------------------------------- events */

static void peak_check(struct model *m, int64_t time)
{
    if (m->sum.heap_bytes <= m->sum.peak_bytes)
        return;
    m->sum.peak_bytes = m->sum.heap_bytes;
    m->sum.peak_time = time;
    for (uint32_t i = 0; i < m->n_dirty; i++) {
        uint32_t s = m->dirty[i];
        m->pk[s] = m->cur[s];
        m->pk_dirty[s] = 0;
    }
    m->n_dirty = 0;
    for (uint32_t i = 0; i < m->n_party_dirty; i++) {
        struct party *p = &m->parties[m->party_dirty[i]];
        p->pk = p->cur;
        p->pk_dirty = 0;
    }
    m->n_party_dirty = 0;
    m->peak_pt = totals_now(m, time);
}

/* A change from an event to block b's figures: authoritative in events mode. */
static int event_change(struct model *m, uint32_t stack, const struct liveset_block *b,
                        const struct fig *d, int64_t time)
{
    if (!m->sum.events_exact) {
        m->ev_in_state = m->sum.events; /* ticks rule: a point holds what came before it */
        /* attached: a block allocated since is still known by thread and tag
         * (the next tick's point takes the change, apply_state) */
        if (!m->sum.missed && m->nodes[stack].site != MODEL_NONE &&
            party_change(m, m->nodes[stack].site, b, d))
            return fail(m, "out of memory");
        return 0;
    }
    if (m->bucket_open && time >= m->bucket_start + MODEL_BUCKET_NS) {
        /* the point closed here holds the events before this one */
        if (bucket_close(m, m->bucket_last, m->rss))
            return -1;
    }
    if (!m->bucket_open) {
        m->bucket_open = 1;
        m->bucket_start = time;
    }
    if (time > m->bucket_last)
        m->bucket_last = time;
    m->ev_in_state = m->sum.events; /* this event's change is in the state from here on */
    cur_apply(m, stack, d);
    if (pend_add(m, stack, d))
        return -1;
    if (m->nodes[stack].site != MODEL_NONE && party_change(m, m->nodes[stack].site, b, d))
        return fail(m, "out of memory");
    if (d->live_blocks > 0) {
        m->sum.allocations += (uint64_t)d->live_blocks;
        m->sum.bytes_allocated += d->bytes_allocated;
    } else if (d->live_blocks < 0) {
        m->sum.frees += (uint64_t)-d->live_blocks;
    }
    m->sum.heap_bytes += (uint64_t)d->live_bytes;
    m->sum.heap_blocks += (uint64_t)d->live_blocks;
    peak_check(m, time);
    return 0;
}

static uint32_t ev_stack(struct model *m, uint32_t stack)
{
    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        stack = 0;
    if (stack_site(m, stack) == MODEL_NONE)
        return MODEL_NONE;
    return stack;
}

/* The hooks of the model's liveset: an event's meaning for the figures. The
 * numbering, matching and thread state are liveset.c's, shared with rewind. */
static void ev_event(void *ctx, int64_t time)
{
    struct model *m = ctx;

    see_time(m, time);
    m->sum.events++;
    m->any_event = 1;
}

static int ev_alloc(void *ctx, struct liveset_block *b)
{
    struct model *m = ctx;
    uint32_t stack = ev_stack(m, b->stack);
    struct fig d = {.live_bytes = (int64_t)b->size,
                    .live_blocks = 1,
                    .allocations = 1,
                    .bytes_allocated = b->size};

    if (stack == MODEL_NONE)
        return fail(m, "out of memory");
    b->stack = stack;
    site_note(m, m->nodes[stack].site, b->tag, b->thread);
    return event_change(m, stack, b, &d, b->time);
}

static int ev_release(void *ctx, const struct liveset_block *b, int64_t time, int temporary)
{
    struct model *m = ctx;
    struct fig d = {.live_bytes = (int64_t)(0 - b->size), .live_blocks = -1};

    if (temporary) {
        uint32_t site = m->nodes[b->stack].site;
        if (site != MODEL_NONE)
            ext_at(m, site)->temporary++;
        m->sum.temporary++;
    }
    return event_change(m, b->stack, b, &d, time);
}

static const struct liveset_hooks ev_hooks = {
    .event = ev_event, .alloc = ev_alloc, .release = ev_release};

static int apply_events(struct model *m, const struct wire_msg *msg)
{
    struct events_iter it;
    int r;

    decode_events_begin(&it, msg);
    r = liveset_apply(&m->ls, &it, UINT64_MAX, &ev_hooks, m);
    m->sum.unmatched_frees = m->ls.unmatched;
    switch (r) {
    case LIVESET_DONE:
        return 0;
    case LIVESET_ETHREAD:
        return fail(m, "thread %u: id out of sequence", m->ls.bad_thread);
    case LIVESET_ENOMEM:
        return fail(m, "out of memory");
    case LIVESET_EHOOK:
        return -1; /* the hook said why, when it could */
    default:
        return fail(m, "corrupt event batch");
    }
}

/* ----------------------------------------------------------------- ticks */

static int tick_check_consistency(struct model *m, const struct wire_totals *t)
{
    if (m->sum.heap_bytes != t->heap_bytes || m->sum.heap_blocks != t->heap_blocks ||
        m->sum.allocations != t->allocations || m->sum.frees != t->frees ||
        m->sum.bytes_allocated != t->bytes_allocated ||
        (t->peak_bytes && (m->sum.peak_bytes != t->peak_bytes || m->sum.peak_time != t->peak_time)))
        m->sum.tick_mismatches++;
    return 0;
}

/* Ticks are authoritative from now on: rebase cur on tk. */
static int rebase_on_ticks(struct model *m)
{
    for (uint32_t s = 0; s < m->n_nodes; s++) {
        struct fig d = {wsub(m->tk[s].live_bytes, m->cur[s].live_bytes),
                        wsub(m->tk[s].live_blocks, m->cur[s].live_blocks),
                        m->tk[s].allocations - m->cur[s].allocations,
                        m->tk[s].bytes_allocated - m->cur[s].bytes_allocated};
        if (!d.live_bytes && !d.live_blocks && !d.allocations && !d.bytes_allocated)
            continue;
        if (stack_site(m, s) == MODEL_NONE)
            return fail(m, "out of memory");
        cur_apply(m, s, &d);
        if (log_push(m, s, &d))
            return fail(m, "out of memory");
    }
    return 0;
}

static int apply_state(struct model *m, const struct wire_msg *msg)
{
    const struct wire_totals *t = &msg->u.state.totals;
    int snap = msg->type == WIRE_SNAPSHOT;
    uint32_t n = wire_list_count(&msg->u.state.sites, 5);
    struct model_point last = {0};
    int same = 0;

    see_time(m, t->time);
    /* before any event, a snapshot says where the allocation sequence stands:
     * blocks numbered up to there were allocated before we joined */
    if (snap && !m->any_event)
        liveset_begin_at(&m->ls, msg->u.state.seq);
    /* a snapshot with history before any event: we joined a running program */
    if (snap && !m->any_event && !m->sum.attached && (t->allocations || t->heap_bytes)) {
        m->sum.attached = 1;
        m->sum.events_exact = 0;
        if (m->bucket_open && bucket_close(m, m->bucket_last, m->rss))
            return fail(m, "out of memory");
    }
    if (m->n_points) {
        last = m->points[m->n_points - 1];
        same = m->any_tick && last.time == t->time && last.heap_bytes == t->heap_bytes &&
               last.allocations == t->allocations && !(last.flags & MODEL_POINT_HISTORY);
    }
    m->any_tick = 1;
    m->rss = t->rss;
    m->sum.rss = t->rss;
    if (t->rss > m->sum.peak_rss)
        m->sum.peak_rss = t->rss;

    for (uint32_t i = 0; i < n; i++) {
        struct wire_site ws;
        struct fig d;
        uint32_t s;

        if (decode_site_at(&msg->u.state.sites, i, &ws) != 1)
            return fail(m, "corrupt site list");
        s = ev_stack(m, ws.stack);
        if (s == MODEL_NONE)
            return fail(m, "out of memory");
        if (snap)
            d = (struct fig){wsub(ws.live_bytes, m->tk[s].live_bytes),
                             wsub(ws.live_blocks, m->tk[s].live_blocks),
                             ws.allocations - m->tk[s].allocations,
                             ws.bytes_allocated - m->tk[s].bytes_allocated};
        else
            d = (struct fig){ws.live_bytes, ws.live_blocks, ws.allocations, ws.bytes_allocated};
        fig_add(&m->tk[s], &d);
        if (!m->sum.events_exact && !m->rebase_pending) {
            cur_apply(m, s, &d);
            if (log_push(m, s, &d))
                return fail(m, "out of memory");
        }
    }

    if (m->sum.events_exact) {
        /* events rule; the tick closes the bucket and brings RSS. The point
         * is the state after the bucket's events, so it is stamped with the
         * last of them: a collector that starts late ticks before it has
         * drained the events stamped before the tick, which come after it
         * (a point at the tick's time would be later than theirs). */
        if (!snap)
            tick_check_consistency(m, t);
        if (m->bucket_open) {
            if (bucket_close(m, m->bucket_last, t->rss))
                return fail(m, "out of memory");
        } else if (same) {
            m->points[m->n_points - 1].rss = t->rss;
        } else {
            struct model_point p =
                totals_now(m, t->time > m->bucket_last ? t->time : m->bucket_last);
            p.rss = t->rss;
            if (point_push(m, &p))
                return fail(m, "out of memory");
        }
        return 0;
    }
    if (m->rebase_pending) {
        m->rebase_pending = 0;
        if (rebase_on_ticks(m))
            return -1;
    }
    m->sum.heap_bytes = t->heap_bytes;
    m->sum.heap_blocks = t->heap_blocks;
    m->sum.allocations = t->allocations;
    m->sum.frees = t->frees;
    m->sum.bytes_allocated = t->bytes_allocated;
    if (same) {
        /* a continuation part of the same tick: deltas join the last point */
        m->delta_end[m->n_points - 1] = m->n_log;
        if (party_close(m, t->time))
            return fail(m, "out of memory");
        return cp_refresh_last(m);
    }
    {
        struct model_point p = totals_now(m, t->time);
        if (point_push(m, &p) || party_close(m, t->time))
            return fail(m, "out of memory");
    }
    if (t->peak_bytes) {
        /* the collector's exact peak, to the event: what a recording of the
         * same run reports, where the ticks alone would show the highest 10 ms
         * sample, lower and later */
        if (t->peak_bytes >= m->sum.peak_bytes) {
            m->sum.peak_bytes = t->peak_bytes;
            m->sum.peak_time = t->peak_time;
        }
    } else if (t->heap_bytes > m->sum.peak_bytes) { /* an older collector */
        m->sum.peak_bytes = t->heap_bytes;
        m->sum.peak_time = t->time;
        m->peak_pt = m->points[m->n_points - 1];
    }
    return 0;
}

static int apply_history(struct model *m, const struct wire_msg *msg)
{
    uint32_t n = wire_list_count(&msg->u.history, 4), k = 0;
    int64_t first = m->n_points ? m->points[0].time : INT64_MAX;
    struct model_point *tmp;

    tmp = calloc(n ? n : 1, sizeof(*tmp));
    if (!tmp)
        return fail(m, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        struct wire_history_row r;

        if (decode_history_at(&msg->u.history, i, &r) != 1) {
            free(tmp);
            return fail(m, "corrupt history");
        }
        if (r.time >= first || (k && r.time <= tmp[k - 1].time))
            continue;
        tmp[k++] = (struct model_point){.time = r.time,
                                        .heap_bytes = r.heap_bytes,
                                        .heap_blocks = r.heap_blocks,
                                        .rss = r.rss,
                                        .flags = MODEL_POINT_HISTORY};
        if (r.rss > m->sum.peak_rss)
            m->sum.peak_rss = r.rss;
        if (r.heap_bytes > m->sum.peak_bytes) { /* a peak before we attached */
            m->sum.peak_bytes = r.heap_bytes;
            m->sum.peak_time = r.time;
            m->peak_pt = tmp[k - 1];
        }
    }
    if (k) {
        uint32_t cap = m->points_cap, cap2 = m->points_cap;
        if (grow32((void **)&m->points, &cap, m->n_points + k, sizeof(*m->points)) ||
            grow32((void **)&m->delta_end, &cap2, m->n_points + k, sizeof(*m->delta_end))) {
            free(tmp);
            return fail(m, "out of memory");
        }
        m->points_cap = cap;
        memmove(m->points + k, m->points, m->n_points * sizeof(*m->points));
        memmove(m->delta_end + k, m->delta_end, m->n_points * sizeof(*m->delta_end));
        memcpy(m->points, tmp, k * sizeof(*tmp));
        for (uint32_t i = 0; i < k; i++)
            m->delta_end[i] = 0;
        for (uint32_t i = 0; i < m->n_cps; i++)
            m->cps[i].point += k;
        m->n_points += k;
        m->sum.time_first = m->points[0].time;
    }
    free(tmp);
    return 0;
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
            return fail(m, "corrupt stack list");
        if (sn.id == 0 || sn.parent >= sn.id)
            return fail(m, "stack %u: parent %u is not below it", sn.id, sn.parent);
        /* ids are handed out in sequence: refuse a jump that would make us
         * allocate for ids nobody defined */
        if (sn.id > m->n_defined * 2u + 65536u)
            return fail(m, "stack %u: id out of sequence", sn.id);
        if (sn.parent >= m->n_nodes || !m->nodes[sn.parent].defined)
            return fail(m, "stack %u: undefined parent %u", sn.id, sn.parent);
        if (stacks_reserve(m, sn.id + 1))
            return fail(m, "out of memory");
        nd = &m->nodes[sn.id];
        if (nd->defined) {
            if (nd->parent != sn.parent || nd->ip != sn.ip)
                return fail(m, "stack %u redefined", sn.id);
            continue;
        }
        f = frame_get(m, sn.ip);
        if (f == MODEL_NONE)
            return fail(m, "out of memory");
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
        return fail(m, "out of memory");
    }
    m->misc = nm;
    m->misc[m->n_misc++] = chain;
    for (uint32_t i = 0; i < n; i++) {
        struct wire_str fn, file;
        uint32_t line;

        if (decode_inline_at(inlined, i, &fn, &file, &line) != 1)
            return fail(m, "corrupt inlined list");
        chain[i] = (struct model_frame){.ip = fr->ip,
                                        .function = intern_w(m, &fn),
                                        .file = intern_w(m, &file),
                                        .line = line,
                                        .module = fr->module,
                                        .offset = fr->offset,
                                        .inline_depth = n - 1 - i,
                                        .outer = i + 1 < n ? &chain[i + 1] : NULL};
        if (!chain[i].function || !chain[i].file)
            return fail(m, "out of memory");
    }
    fr->inline_depth = n;
    fr->outer = chain;
    return 0;
}

static int apply_frame(struct model *m, const struct wire_msg *msg)
{
    uint32_t f = frame_get(m, msg->u.frame.ip);
    struct model_frame *fr;

    if (f == MODEL_NONE)
        return fail(m, "out of memory");
    fr = frame_at(m, f);
    fr->function = intern_w(m, &msg->u.frame.function);
    fr->file = intern_w(m, &msg->u.frame.file);
    fr->line = msg->u.frame.line;
    if (!fr->function || !fr->file) {
        fr->function = fr->file = "";
        return fail(m, "out of memory");
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
    const char *p = intern_w(m, &msg->u.module.path);
    struct model_module *mod;

    if (!p)
        return fail(m, "out of memory");
    if (id >= m->n_mods) {
        struct model_module *t = realloc(m->mods, (id + 1) * sizeof(*t));
        if (!t)
            return fail(m, "out of memory");
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
    mod->build_id = intern_w(m, &msg->u.module.build_id);
    mod->symbols = msg->u.module.symbols;
    mod->debug_file = intern_w(m, &msg->u.module.debug_file);
    return mod->name && mod->build_id && mod->debug_file ? 0 : fail(m, "out of memory");
}

uint32_t model_module_limit(const struct model *m)
{
    return m->n_mods;
}

const struct model_module *model_module(const struct model *m, uint32_t id)
{
    return id < m->n_mods && m->mods[id].name ? &m->mods[id] : NULL;
}

static int apply_thread(struct model *m, const struct wire_msg *msg)
{
    uint32_t id = msg->u.thread.id;
    const char *name = intern_w(m, &msg->u.thread.name);

    int r = liveset_reserve_thread(&m->ls, id);

    if (r == LIVESET_ETHREAD)
        return fail(m, "thread %u: id out of sequence", id);
    if (r != 0)
        return fail(m, "out of memory");
    if (!name || grow32((void **)&m->threads, &m->threads_cap, id + 1, sizeof(*m->threads)))
        return fail(m, "out of memory");
    m->threads[id] = (struct model_thread){.id = id, .os_tid = msg->u.thread.os_tid, .name = name};
    return 0;
}

static int apply_tag(struct model *m, const struct wire_msg *msg)
{
    uint32_t id = msg->u.tag.id;
    const char *name = intern_w(m, &msg->u.tag.name);

    if (!name || grow32((void **)&m->tags, &m->tags_cap, id + 1, sizeof(*m->tags)))
        return fail(m, "out of memory");
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
        return bucket_close(m, time, m->rss) ? fail(m, "out of memory") : 0;
    if (!m->n_points || m->points[m->n_points - 1].time >= time)
        return 0;
    p = totals_now(m, time);
    p.rss = m->rss;
    if (point_push(m, &p))
        return fail(m, "out of memory");
    return 0;
}

static int apply_marker(struct model *m, const struct wire_msg *msg)
{
    const char *label = intern_w(m, &msg->u.marker.label);
    uint32_t i;

    if (!label ||
        grow32((void **)&m->markers, &m->markers_cap, m->n_markers + 1, sizeof(*m->markers)))
        return fail(m, "out of memory");
    see_time(m, msg->u.marker.time);
    /* keep time order (markers from threads may arrive slightly out of order) */
    for (i = m->n_markers; i > 0 && m->markers[i - 1].time > msg->u.marker.time; i--)
        m->markers[i] = m->markers[i - 1];
    m->markers[i] = (struct model_marker){.time = msg->u.marker.time, .label = label};
    m->n_markers++;
    return marker_point(m, msg->u.marker.time);
}

/* Keeps a copy of a scan result: its nodes re-encoded into a buffer of our
 * own and decoded again there, so it outlives the stream's buffers. An
 * invalid result is not kept (the RESPONSE itself still is). */
static int keep_scan(struct model *m, const struct wire_msg *msg)
{
    struct scanmsg_result r;
    struct scanmsg_node *nodes;
    struct encode_buf eb;
    uint32_t n;
    size_t cap;
    char *buf;
    int rc;

    if (scanmsg_decode(msg, &r) != 0)
        return 0;
    n = scanmsg_count(&r);
    nodes = calloc(n ? n : 1, sizeof(*nodes));
    cap = 256 + (size_t)n * 160;
    for (uint32_t i = 0; nodes && i < n; i++) {
        if (scanmsg_node_at(&r, i, &nodes[i]) < 0) {
            free(nodes);
            return 0;
        }
        cap += nodes[i].symbol.len + nodes[i].module.len;
    }
    buf = nodes ? malloc(cap) : NULL;
    if (!buf) {
        free(nodes);
        return fail(m, "out of memory");
    }
    encode_init(&eb, buf, cap);
    rc = scanmsg_encode(&eb, msg->u.response.id, &r, nodes, n);
    free(nodes);
    if (rc != 0) {
        free(buf);
        return 0;
    }
    if (m->scan_zone_on)
        msgpack_zone_destroy(&m->scan_zone);
    free(m->scan_buf);
    m->scan_buf = buf;
    msgpack_zone_init(&m->scan_zone, 4096);
    m->scan_zone_on = 1;
    if (scanmsg_decode_bytes(buf, eb.len, &m->scan_zone, &m->scan) != 0) {
        m->scan_seq = 0; /* cannot happen: we encoded it; never expose half a result */
        return 0;
    }
    m->scan_seq++;
    return 0;
}

const struct scanmsg_result *model_last_scan(const struct model *m, uint64_t *seq)
{
    if (seq)
        *seq = m->scan_seq;
    return m->scan_seq ? &m->scan : NULL;
}

uint32_t model_site_stacks(const struct model *m, uint32_t site, uint32_t *out, uint32_t max)
{
    uint32_t n = 0;

    for (uint32_t s = 1; s < m->n_nodes; s++) {
        if (!m->nodes[s].defined || m->nodes[s].site != site)
            continue;
        if (n < max)
            out[n] = s;
        n++;
    }
    return n;
}

static int apply_response(struct model *m, const struct wire_msg *msg)
{
    struct model_response *r = &m->resp;
    uint32_t n;

    free(m->resp_objs);
    free(m->resp_bytes);
    free(m->resp_msg);
    m->resp_objs = NULL;
    m->resp_bytes = NULL;
    m->resp_msg = NULL;
    if (msg->u.response.status == 0 && msg->u.response.kind == WIRE_REQ_SCAN &&
        keep_scan(m, msg) < 0)
        return -1;
    *r = (struct model_response){.seq = r->seq + 1,
                                 .id = msg->u.response.id,
                                 .status = msg->u.response.status,
                                 .kind = msg->u.response.kind,
                                 .message = "",
                                 .addr = msg->u.response.addr,
                                 .size = msg->u.response.size,
                                 .total = msg->u.response.total};
    if (msg->u.response.message.len) {
        m->resp_msg = strndup(msg->u.response.message.ptr, msg->u.response.message.len);
        if (m->resp_msg)
            r->message = m->resp_msg;
    }
    if (msg->u.response.bytes.len) {
        m->resp_bytes = malloc(msg->u.response.bytes.len);
        if (m->resp_bytes) {
            memcpy(m->resp_bytes, msg->u.response.bytes.ptr, msg->u.response.bytes.len);
            r->bytes = m->resp_bytes;
            r->n_bytes = msg->u.response.bytes.len;
        }
    }
    n = wire_list_count(&msg->u.response.objects, 7);
    if (n) {
        m->resp_objs = calloc(n, sizeof(*m->resp_objs));
        if (!m->resp_objs)
            return fail(m, "out of memory");
        for (uint32_t i = 0; i < n; i++) {
            struct wire_object o;
            if (decode_object_at(&msg->u.response.objects, i, &o) != 1)
                return fail(m, "corrupt object list");
            m->resp_objs[i] = (struct model_object){.addr = o.addr,
                                                    .seq = o.seq,
                                                    .size = o.size,
                                                    .stack = o.stack,
                                                    .thread = o.thread,
                                                    .tag = o.tag,
                                                    .time = o.time};
        }
        r->objects = m->resp_objs;
        r->n_objects = n;
    }
    return 0;
}

const struct model_response *model_last_response(const struct model *m)
{
    return &m->resp;
}

int model_apply(struct model *m, const struct wire_msg *msg)
{
    int r = 0;

    m->sum.messages++;
    switch (msg->type) {
    case WIRE_HELLO:
        m->hello_seen = 1;
        m->sum.pid = msg->u.hello.pid;
        m->sum.exe = intern_w(m, &msg->u.hello.exe);
        if (!m->sum.exe)
            m->sum.exe = "";
        m->sum.start_unix_ns = msg->u.hello.start_unix_ns;
        m->sum.version = msg->u.hello.version;
        m->sum.page_size = msg->u.hello.page_size;
        m->sum.max_depth = msg->u.hello.max_depth;
        m->sum.hello_flags = msg->u.hello.flags;
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
        r = apply_events(m, msg);
        break;
    case WIRE_TICK:
    case WIRE_SNAPSHOT:
        r = apply_state(m, msg);
        break;
    case WIRE_HISTORY:
        r = apply_history(m, msg);
        break;
    case WIRE_RESPONSE:
        r = apply_response(m, msg);
        break;
    case WIRE_MISSED:
        if (!m->sum.missed && msg->u.missed)
            m->sum.missed_time = m->sum.time_last;
        m->sum.missed += msg->u.missed;
        if (m->sum.events_exact) {
            m->sum.events_exact = 0;
            if (m->bucket_open && bucket_close(m, m->bucket_last, m->rss))
                return fail(m, "out of memory");
            m->rebase_pending = 1;
        }
        break;
    case WIRE_END:
        see_time(m, msg->u.end.time);
        if (m->bucket_open && bucket_close(m, m->bucket_last, m->rss))
            return fail(m, "out of memory");
        m->sum.state = MODEL_ENDED;
        m->sum.end_reason = msg->u.end.reason;
        m->sum.end_status = msg->u.end.status;
        m->sum.end_time = msg->u.end.time;
        break;
    case WIRE_DISABLED:
        /* the record file failed: its figures stop at its last whole flush,
         * before the time of the failure */
        if (msg->u.disabled.cause == WIRE_OFF_COLLECTOR)
            see_time(m, msg->u.disabled.time);
        if (m->bucket_open && bucket_close(m, m->bucket_last, m->rss))
            return fail(m, "out of memory");
        m->sum.state = MODEL_DISABLED;
        if (!m->sum.disabled) { /* the first says when the figures stopped */
            m->sum.disabled = 1;
            m->sum.disabled_time = msg->u.disabled.cause == WIRE_OFF_COLLECTOR
                                       ? msg->u.disabled.time
                                       : m->sum.time_last;
            m->sum.disabled_cause = msg->u.disabled.cause;
            m->sum.disabled_reason = intern_w(m, &msg->u.disabled.reason);
            if (!m->sum.disabled_reason)
                m->sum.disabled_reason = "";
        }
        break;
    default: /* REQUEST, unknown newer types */
        break;
    }
    m->sum.leaked_bytes = m->sum.heap_bytes;
    m->sum.leaked_blocks = m->sum.heap_blocks;
    m->gen++;
    return r;
}

/* ------------------------------------------------------------- timeline */

const struct model_point *model_timeline(const struct model *m, uint32_t *n)
{
    *n = m->n_points;
    return m->points;
}

uint32_t model_point_at(const struct model *m, int64_t t)
{
    uint32_t lo = 0, hi = m->n_points;

    if (!m->n_points || m->points[0].time > t)
        return MODEL_NONE;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->points[mid].time <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void model_sample_totals(const struct model *m, int64_t t0, int64_t t1, uint32_t k, int64_t *heap,
                         int64_t *rss)
{
    for (uint32_t i = 0; i < k; i++) {
        int64_t t = k == 1 ? t1 : t0 + (int64_t)((double)(t1 - t0) * i / (k - 1));
        uint32_t p = model_point_at(m, t);

        if (heap)
            heap[i] = p == MODEL_NONE ? 0 : (int64_t)m->points[p].heap_bytes;
        if (rss)
            rss[i] = p == MODEL_NONE ? 0 : (int64_t)m->points[p].rss;
    }
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

uint32_t model_site_count(const struct model *m)
{
    return m->n_sites;
}

const struct model_site *model_site(const struct model *m, uint32_t site)
{
    return site < m->n_sites ? site_at(m, site) : NULL;
}

uint32_t model_stack_site(const struct model *m, uint32_t stack)
{
    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        return MODEL_NONE;
    return m->nodes[stack].site;
}

int model_site_has_tag(const struct model *m, uint32_t site, uint32_t tag)
{
    const struct site_ext *e;

    if (site >= m->n_sites)
        return 0;
    e = ext_at(m, site);
    if (e->n_tags == SET_OVERFLOW || (!m->any_event))
        return 1;
    for (uint32_t i = 0; i < e->n_tags; i++)
        if (e->tags[i] == tag)
            return 1;
    return 0;
}

int model_site_has_thread(const struct model *m, uint32_t site, uint32_t thread)
{
    const struct site_ext *e;

    if (site >= m->n_sites)
        return 0;
    e = ext_at(m, site);
    if (e->n_threads == SET_OVERFLOW || (!m->any_event))
        return 1;
    for (uint32_t i = 0; i < e->n_threads; i++)
        if (e->threads[i] == thread)
            return 1;
    return 0;
}

/* ------------------------------------------------------- state at a time */

/* Per-site figures after point p (MODEL_NONE: before everything) into out
 * (n_sites entries). */
static void sites_at_point(const struct model *m, uint32_t p, struct fig *out)
{
    uint64_t from = 0, to;
    uint32_t lo = 0, hi = m->n_cps, cp = MODEL_NONE;

    memset(out, 0, (size_t)m->n_sites * sizeof(*out));
    if (p == MODEL_NONE)
        return;
    while (lo < hi) { /* last checkpoint with point <= p */
        uint32_t mid = lo + (hi - lo) / 2;
        if (m->cps[mid].point <= p) {
            cp = mid;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (cp != MODEL_NONE) {
        memcpy(out, m->cps[cp].sites, (size_t)m->cps[cp].n_sites * sizeof(*out));
        from = m->delta_end[m->cps[cp].point];
    }
    to = m->delta_end[p];
    for (uint64_t i = from; i < to; i++) {
        uint32_t s = m->nodes[m->log[i].stack].site;
        if (s != MODEL_NONE)
            fig_add(&out[s], &m->log[i].d);
    }
}

/* Resolves a query to a point (MODEL_NONE), "latest" (*latest = 1) or the
 * exact peak (*peak = 1); returns the resolved time. */
static int64_t resolve(const struct model *m, const struct model_query *q, uint32_t *p, int *latest,
                       int *peak)
{
    *latest = *peak = 0;
    *p = MODEL_NONE;
    if (q->at == MODEL_AT_END ||
        (q->at == MODEL_AT_TIME && q->time >= m->sum.time_last &&
         (m->n_points == 0 || q->time >= m->points[m->n_points - 1].time))) {
        *latest = 1;
        return q->at == MODEL_AT_END ? m->sum.time_last : q->time;
    }
    if (q->at == MODEL_AT_PEAK) {
        if (m->sum.events_exact && m->any_event) {
            *peak = 1;
        } else {
            *p = model_point_at(m, m->sum.peak_time);
        }
        return m->sum.peak_time;
    }
    *p = model_point_at(m, q->time);
    return q->time;
}

static void sites_resolved(const struct model *m, uint32_t p, int latest, int peak, struct fig *out)
{
    if (latest) {
        if (m->n_sites)
            memcpy(out, m->site_cur, (size_t)m->n_sites * sizeof(*out));
    } else if (peak) {
        /* pk holds every stack's figures at the last peak */
        memset(out, 0, (size_t)m->n_sites * sizeof(*out));
        for (uint32_t s = 0; s < m->n_nodes; s++)
            if (m->nodes[s].site != MODEL_NONE)
                fig_add(&out[m->nodes[s].site], &m->pk[s]);
    } else {
        sites_at_point(m, p, out);
    }
}

int model_view_at(const struct model *m, const struct model_query *q, struct model_view *v)
{
    uint32_t ns = m->n_sites, p;
    int latest, peak;
    struct fig *now, *then = NULL;
    int64_t t;

    if (v->rows_cap < ns || !v->rows) {
        struct model_row *r = realloc(v->rows, (size_t)(ns ? ns : 1) * sizeof(*r));
        if (!r)
            return -1;
        v->rows = r;
        v->rows_cap = ns ? ns : 1;
    }
    now = calloc(ns ? ns : 1, sizeof(*now));
    if (!now)
        return -1;
    t = resolve(m, q, &p, &latest, &peak);
    sites_resolved(m, p, latest, peak, now);
    v->time = t;
    if (latest)
        v->totals = totals_now(m, t);
    else if (peak)
        v->totals = m->peak_pt;
    else if (p == MODEL_NONE)
        v->totals = (struct model_point){.time = t};
    else
        v->totals = m->points[p];
    if (!latest && !peak)
        v->totals.time = t;
    if (peak) { /* rss of the point that holds the peak (the first one if none yet) */
        uint32_t pp = model_point_at(m, t);
        v->totals.rss = 0;
        if (pp == MODEL_NONE && m->n_points)
            pp = 0;
        else if (pp != MODEL_NONE && m->points[pp].time < t && pp + 1 < m->n_points)
            pp++;
        if (pp != MODEL_NONE)
            v->totals.rss = m->points[pp].rss;
    }

    if (q->window > 0) {
        then = calloc(ns ? ns : 1, sizeof(*then));
        if (!then) {
            free(now);
            return -1;
        }
        sites_at_point(m, model_point_at(m, t - q->window), then);
    }
    for (uint32_t s = 0; s < ns; s++) {
        struct model_row *r = &v->rows[s];
        const struct site_ext *e = ext_at(m, s);

        *r = (struct model_row){
            .site = s,
            .group = MODEL_NONE,
            .live_bytes = now[s].live_bytes,
            .live_blocks = now[s].live_blocks,
            .allocations = now[s].allocations,
            .bytes_allocated = now[s].bytes_allocated,
            .growth = wsub(now[s].live_bytes, then ? then[s].live_bytes : 0),
            .peak_bytes = e->peak_bytes,
            .leaked_bytes = m->site_cur[s].live_bytes > 0 ? (uint64_t)m->site_cur[s].live_bytes : 0,
            .leaked_blocks =
                m->site_cur[s].live_blocks > 0 ? (uint64_t)m->site_cur[s].live_blocks : 0,
            .temporary = e->temporary};
    }
    v->n_rows = ns;
    free(then);

    if (q->spark_points > 0 && ns > 0) {
        uint32_t k = q->spark_points;
        size_t need = (size_t)ns * k;
        struct fig *acc = now; /* reuse */
        uint32_t pi;
        uint64_t li;

        if (v->spark_cap < need) {
            int64_t *b = realloc(v->spark_buf, need * sizeof(*b));
            if (!b) {
                free(now);
                return -1;
            }
            v->spark_buf = b;
            v->spark_cap = need;
        }
        /* sweep: state at spark_from, then forward point by point */
        pi = model_point_at(m, q->spark_from);
        sites_at_point(m, pi, acc);
        pi = pi == MODEL_NONE ? 0 : pi + 1;
        li = pi ? m->delta_end[pi - 1] : 0;
        for (uint32_t j = 0; j < k; j++) {
            int64_t st = k == 1 ? q->spark_to
                                : q->spark_from + (int64_t)((double)(q->spark_to - q->spark_from) *
                                                            j / (k - 1));
            while (pi < m->n_points && m->points[pi].time <= st) {
                for (; li < m->delta_end[pi]; li++) {
                    uint32_t s = m->nodes[m->log[li].stack].site;
                    if (s != MODEL_NONE)
                        fig_add(&acc[s], &m->log[li].d);
                }
                pi++;
            }
            if (pi >= m->n_points && st >= m->sum.time_last) {
                for (uint32_t s = 0; s < ns; s++)
                    v->spark_buf[(size_t)s * k + j] = m->site_cur[s].live_bytes;
            } else {
                for (uint32_t s = 0; s < ns; s++)
                    v->spark_buf[(size_t)s * k + j] = acc[s].live_bytes;
            }
        }
        for (uint32_t s = 0; s < ns; s++)
            v->rows[s].spark = v->spark_buf + (size_t)s * k;
    }
    free(now);
    return 0;
}

int model_query_events(const struct model *m, const struct model_query *q, uint64_t *events)
{
    uint32_t p;
    int latest, peak;

    resolve(m, q, &p, &latest, &peak);
    if (latest)
        *events = m->sum.events;
    else if (peak)
        *events = m->peak_pt.events;
    else
        *events = p == MODEL_NONE ? 0 : m->points[p].events;
    return latest || *events == m->sum.events;
}

void model_view_free(struct model_view *v)
{
    free(v->rows);
    free(v->spark_buf);
    memset(v, 0, sizeof(*v));
}

/* --------------------------------------------------------- sort, filter */

static const struct model *sort_model;
static int sort_key, sort_rev;

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? 1 : a > b ? -1 : 0; /* largest first */
}

static int row_cmp(const void *pa, const void *pb)
{
    const struct model_row *a = pa, *b = pb;
    int c = 0;

    switch (sort_key) {
    case MODEL_SORT_LIVE_BYTES:
        c = cmp_i64(a->live_bytes, b->live_bytes);
        break;
    case MODEL_SORT_LIVE_BLOCKS:
        c = cmp_i64(a->live_blocks, b->live_blocks);
        break;
    case MODEL_SORT_ALLOCATIONS:
        c = cmp_i64((int64_t)a->allocations, (int64_t)b->allocations);
        break;
    case MODEL_SORT_BYTES_ALLOCATED:
        c = cmp_i64((int64_t)a->bytes_allocated, (int64_t)b->bytes_allocated);
        break;
    case MODEL_SORT_GROWTH:
        c = cmp_i64(a->growth, b->growth);
        break;
    case MODEL_SORT_PEAK:
        c = cmp_i64((int64_t)a->peak_bytes, (int64_t)b->peak_bytes);
        break;
    case MODEL_SORT_LEAKED:
        c = cmp_i64((int64_t)a->leaked_bytes, (int64_t)b->leaked_bytes);
        break;
    case MODEL_SORT_TEMPORARY:
        c = cmp_i64((int64_t)a->temporary, (int64_t)b->temporary);
        break;
    case MODEL_SORT_FUNCTION:
        c = strcmp(model_site(sort_model, a->site)->function,
                   model_site(sort_model, b->site)->function);
        break;
    case MODEL_SORT_FILE: {
        const struct model_site *x = model_site(sort_model, a->site);
        const struct model_site *y = model_site(sort_model, b->site);
        c = strcmp(x->file, y->file);
        if (!c)
            c = x->line < y->line ? -1 : x->line > y->line;
        break;
    }
    }
    if (sort_rev)
        c = -c;
    if (!c)
        c = a->site < b->site ? -1 : a->site > b->site;
    return c;
}

void model_rows_sort(const struct model *m, struct model_row *rows, uint32_t n, int key,
                     int reverse)
{
    sort_model = m;
    sort_key = key;
    sort_rev = reverse;
    qsort(rows, n, sizeof(*rows), row_cmp);
}

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    if (!n)
        return 1;
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

uint32_t model_rows_filter(const struct model *m, struct model_row *rows, uint32_t n,
                           const struct model_filter *f)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < n; i++) {
        const struct model_row *r = &rows[i];
        const struct model_site *s = model_site(m, r->site);

        if (!s)
            continue;
        if ((f->flags & MODEL_FILTER_ACTIVE) && r->live_bytes == 0 && r->allocations == 0)
            continue;
        if ((f->flags & MODEL_FILTER_LIVE) && r->live_bytes <= 0)
            continue;
        if ((f->flags & MODEL_FILTER_LEAKS) && r->leaked_bytes == 0)
            continue;
        if ((f->flags & MODEL_FILTER_TEMPORARY) && r->temporary == 0)
            continue;
        if (f->tag != MODEL_NONE && !model_site_has_tag(m, r->site, f->tag))
            continue;
        if (f->thread != MODEL_NONE && !model_site_has_thread(m, r->site, f->thread))
            continue;
        if (f->text && *f->text && !icontains(s->function, f->text) &&
            !icontains(s->file, f->text) && !icontains(s->module, f->text))
            continue;
        rows[k++] = *r;
    }
    return k;
}

/* ------------------------------------------------------------ the tree */

struct tnode {
    uint64_t key;
    uint32_t parent, first_child, next_sibling, depth;
    const struct model_frame *frame;
    struct fig own, incl;
};

struct tbuild {
    struct tnode *n;
    uint32_t len, cap;
    uint32_t *hash; /* index + 1 */
    uint32_t hcap;
};

/* A frame's identity in a tree path: a named frame is keyed as a site is
 * (frame_key: function, file, line, module), not by its return address, so
 * the calls of one function from one line at several addresses are one
 * node with their figures summed, as heaptrack shows them; an unnamed frame
 * by its ip and its depth among the frames inlined there (0 for the machine
 * function keeps the keys of stacks without inlining what they were). */
static uint64_t key_step(uint64_t parent_key, const struct model_frame *fr)
{
    uint64_t id = fr->ip ^ ((uint64_t)fr->inline_depth << 56);

    if (fr->function[0]) {
        struct model_site k = frame_key(fr);

        id = mix64((uint64_t)site_key_hash(&k) << 32 ^ (uintptr_t)k.function ^
                   (uint64_t)k.line * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)k.file * 31 ^
                   (uintptr_t)k.module * 7);
    }
    return mix64(parent_key * 0x9e3779b97f4a7c15ULL ^ id) | 1;
}

/* Finds or adds the child of parent (MODEL_NONE: root) for frame fr. */
static uint32_t tb_child(struct tbuild *b, uint32_t parent, const struct model_frame *fr)
{
    uint64_t pk = parent == MODEL_NONE ? 0 : b->n[parent].key;
    uint64_t key = key_step(pk, fr);
    uint32_t i;

    if ((b->len + 1) * 2 > b->hcap) {
        uint32_t nc = b->hcap ? b->hcap * 2 : 256;
        uint32_t *t = calloc(nc, sizeof(*t));
        if (!t)
            return MODEL_NONE;
        for (uint32_t j = 0; j < b->len; j++) {
            uint32_t k = (uint32_t)b->n[j].key & (nc - 1);
            while (t[k])
                k = (k + 1) & (nc - 1);
            t[k] = j + 1;
        }
        free(b->hash);
        b->hash = t;
        b->hcap = nc;
    }
    for (i = (uint32_t)key & (b->hcap - 1); b->hash[i]; i = (i + 1) & (b->hcap - 1))
        if (b->n[b->hash[i] - 1].key == key)
            return b->hash[i] - 1;
    if (grow32((void **)&b->n, &b->cap, b->len + 1, sizeof(*b->n)))
        return MODEL_NONE;
    b->n[b->len] = (struct tnode){.key = key,
                                  .parent = parent,
                                  .first_child = MODEL_NONE,
                                  .next_sibling = MODEL_NONE,
                                  .depth = parent == MODEL_NONE ? 0 : b->n[parent].depth + 1,
                                  .frame = fr};
    b->hash[i] = b->len + 1;
    return b->len++;
}

static const struct tnode *tsort_base;

static int child_cmp(const void *pa, const void *pb)
{
    const struct tnode *a = &tsort_base[*(const uint32_t *)pa];
    const struct tnode *b = &tsort_base[*(const uint32_t *)pb];

    if (a->incl.live_bytes != b->incl.live_bytes)
        return a->incl.live_bytes > b->incl.live_bytes ? -1 : 1;
    if (a->incl.allocations != b->incl.allocations)
        return a->incl.allocations > b->incl.allocations ? -1 : 1;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Per-stack figures at the query's time for stacks of `site` (MODEL_NONE:
 * all) into out (n_nodes entries). */
static void stacks_at(const struct model *m, uint32_t site, const struct model_query *q,
                      struct fig *out)
{
    uint32_t p;
    int latest, peak;

    resolve(m, q, &p, &latest, &peak);
    if (latest) {
        memcpy(out, m->cur, (size_t)m->n_nodes * sizeof(*out));
        return;
    }
    if (peak) {
        memcpy(out, m->pk, (size_t)m->n_nodes * sizeof(*out));
        return;
    }
    memset(out, 0, (size_t)m->n_nodes * sizeof(*out));
    if (p == MODEL_NONE)
        return;
    for (uint64_t i = 0; i < m->delta_end[p]; i++) {
        uint32_t s = m->log[i].stack;
        if (site == MODEL_NONE || m->nodes[s].site == site)
            fig_add(&out[s], &m->log[i].d);
    }
}

/* Callers are keyed as sites are (frame_key); NULL is the outermost. */
static int same_caller(const struct model_frame *a, const struct model_frame *b)
{
    struct model_site ka, kb;

    if (!a || !b)
        return a == b;
    ka = frame_key(a);
    kb = frame_key(b);
    return site_key_eq(&ka, &kb);
}

static uint64_t caller_hash(uint32_t site, const struct model_frame *f)
{
    struct model_site k;

    if (!f)
        return mix64(site);
    k = frame_key(f);
    return mix64(((uint64_t)site << 32) ^ site_key_hash(&k));
}

/* By site, then largest live bytes, most allocations, most bytes, lowest ip:
 * the same order for the same recording on every run. */
static int caller_cmp(const void *pa, const void *pb)
{
    const struct model_caller *a = pa, *b = pb;
    uint64_t ia = a->frame ? a->frame->ip : 0, ib = b->frame ? b->frame->ip : 0;

    if (a->site != b->site)
        return a->site < b->site ? -1 : 1;
    if (a->live_bytes != b->live_bytes)
        return a->live_bytes > b->live_bytes ? -1 : 1;
    if (a->allocations != b->allocations)
        return a->allocations > b->allocations ? -1 : 1;
    if (a->bytes_allocated != b->bytes_allocated)
        return a->bytes_allocated > b->bytes_allocated ? -1 : 1;
    if (ia != ib)
        return ia < ib ? -1 : 1;
    ia = a->frame ? a->frame->inline_depth : 0;
    ib = b->frame ? b->frame->inline_depth : 0;
    return ia < ib ? -1 : ia > ib;
}

int model_callers(const struct model *m, const struct model_query *q, struct model_callers *t)
{
    struct fig *st = calloc(m->n_nodes ? m->n_nodes : 1, sizeof(*st));
    uint32_t n = 0, cap = 0, hcap = 1024, *hash = calloc(hcap, sizeof(*hash));
    struct model_caller *c = NULL;

    memset(t, 0, sizeof(*t));
    t->top_stack = calloc((size_t)m->n_sites + 1, sizeof(*t->top_stack));
    if (!st || !hash || !t->top_stack)
        goto oom;
    stacks_at(m, MODEL_NONE, q, st);
    for (uint32_t s = 1; s < m->n_nodes; s++) {
        const struct stack_node *node = &m->nodes[s];
        const struct model_frame *f = NULL;
        struct fwalk w;
        uint32_t k;

        if (!node->defined || node->site == MODEL_NONE ||
            (!st[s].live_bytes && !st[s].live_blocks && !st[s].allocations))
            continue;
        w = site_frame(m, s);
        if (w.node)
            f = caller_frame(m, w);
        if ((n + 1) * 2 > hcap) { /* hash holds entry index + 1, at most half full */
            uint32_t nc = hcap * 2, *nh = calloc(nc, sizeof(*nh));

            if (!nh)
                goto oom;
            for (uint32_t e = 0; e < n; e++) {
                for (k = (uint32_t)caller_hash(c[e].site, c[e].frame) & (nc - 1); nh[k];
                     k = (k + 1) & (nc - 1))
                    ;
                nh[k] = e + 1;
            }
            free(hash);
            hash = nh;
            hcap = nc;
        }
        for (k = (uint32_t)caller_hash(node->site, f) & (hcap - 1); hash[k];
             k = (k + 1) & (hcap - 1)) {
            const struct model_caller *e = &c[hash[k] - 1];

            if (e->site == node->site && same_caller(e->frame, f))
                break;
        }
        if (!hash[k]) {
            if (grow32((void **)&c, &cap, n + 1, sizeof(*c)))
                goto oom;
            c[n] = (struct model_caller){.site = node->site, .frame = f};
            hash[k] = ++n;
        }
        uint32_t *top = &t->top_stack[node->site];
        if (!*top || st[s].live_bytes > st[*top].live_bytes ||
            (st[s].live_bytes == st[*top].live_bytes && st[s].allocations > st[*top].allocations))
            *top = s;
        struct model_caller *e = &c[hash[k] - 1];
        e->live_bytes = wadd(e->live_bytes, st[s].live_bytes);
        e->live_blocks = wadd(e->live_blocks, st[s].live_blocks);
        e->allocations += st[s].allocations;
        e->bytes_allocated += st[s].bytes_allocated;
    }
    if (n > 1)
        qsort(c, n, sizeof(*c), caller_cmp);
    t->start = calloc((size_t)m->n_sites + 1, sizeof(*t->start));
    if (!t->start)
        goto oom;
    for (uint32_t e = 0; e < n; e++)
        t->start[c[e].site + 1]++;
    for (uint32_t i = 0; i < m->n_sites; i++)
        t->start[i + 1] += t->start[i];
    t->c = c;
    t->n_sites = m->n_sites;
    free(hash);
    free(st);
    return 0;
oom:
    free(c);
    free(hash);
    free(st);
    free(t->top_stack);
    t->top_stack = NULL;
    return -1;
}

uint32_t model_callers_top_stack(const struct model_callers *t, uint32_t site)
{
    return t->top_stack && site < t->n_sites ? t->top_stack[site] : 0;
}

const struct model_caller *model_callers_of(const struct model_callers *t, uint32_t site,
                                            uint32_t *n)
{
    if (!t->start || site >= t->n_sites) {
        *n = 0;
        return NULL;
    }
    *n = t->start[site + 1] - t->start[site];
    return *n ? t->c + t->start[site] : NULL; /* t->c is NULL when no site has callers */
}

void model_callers_free(struct model_callers *t)
{
    free(t->c);
    free(t->start);
    free(t->top_stack);
    memset(t, 0, sizeof(*t));
}

int model_tree_build(const struct model *m, uint32_t site, const struct model_query *q, int dir,
                     struct model_tree *t)
{
    struct tbuild b = {0};
    struct fig *st = calloc(m->n_nodes, sizeof(*st));
    const struct model_frame **path = NULL;
    uint32_t path_cap = 0, *order = NULL, *stackv = NULL;
    uint32_t n_order = 0;
    int rc = -1;

    if (!st)
        return -1;
    stacks_at(m, site, q, st);
    for (uint32_t s = 1; s < m->n_nodes; s++) {
        uint32_t depth = 0, cur = MODEL_NONE;

        if (!m->nodes[s].defined || m->nodes[s].site == MODEL_NONE)
            continue;
        if (site != MODEL_NONE && m->nodes[s].site != site)
            continue;
        if (!st[s].live_bytes && !st[s].live_blocks && !st[s].allocations)
            continue;
        for (struct fwalk w = fwalk_at(m, s); w.node != 0; w = fwalk_next(m, w)) {
            if (grow32((void **)&path, &path_cap, depth + 1, sizeof(*path)))
                goto out;
            path[depth++] = w.f;
        }
        /* path[0] is the leaf, path[depth-1] the outermost frame */
        for (uint32_t i = 0; i < depth; i++) {
            cur = tb_child(&b, cur, dir == MODEL_TREE_TOP_DOWN ? path[depth - 1 - i] : path[i]);
            if (cur == MODEL_NONE)
                goto out;
            fig_add(&b.n[cur].incl, &st[s]);
        }
        if (cur != MODEL_NONE)
            fig_add(&b.n[cur].own, &st[s]);
    }
    /* link children, sorted, then emit depth-first */
    {
        uint32_t *kids = malloc(((size_t)b.len + 1) * sizeof(*kids));
        uint32_t *cnt = calloc((size_t)b.len + 1, sizeof(*cnt));
        uint32_t *start = calloc((size_t)b.len + 2, sizeof(*start));
        uint32_t *fill;

        if (!kids || !cnt || !start) {
            free(kids);
            free(cnt);
            free(start);
            goto out;
        }
        /* bucket children by parent (slot b.len is the roots) */
        for (uint32_t i = 0; i < b.len; i++)
            cnt[b.n[i].parent == MODEL_NONE ? b.len : b.n[i].parent]++;
        for (uint32_t i = 0; i <= b.len; i++)
            start[i + 1] = start[i] + cnt[i];
        fill = cnt;
        memset(fill, 0, ((size_t)b.len + 1) * sizeof(*fill));
        for (uint32_t i = 0; i < b.len; i++) {
            uint32_t pslot = b.n[i].parent == MODEL_NONE ? b.len : b.n[i].parent;
            kids[start[pslot] + fill[pslot]++] = i;
        }
        tsort_base = b.n;
        for (uint32_t i = 0; i <= b.len; i++)
            if (start[i + 1] - start[i] > 1)
                qsort(kids + start[i], start[i + 1] - start[i], sizeof(*kids), child_cmp);
        /* iterative DFS */
        order = malloc(((size_t)b.len + 1) * sizeof(*order));
        stackv = malloc(((size_t)b.len + 1) * sizeof(*stackv));
        if (!order || !stackv) {
            free(kids);
            free(cnt);
            free(start);
            goto out;
        }
        {
            uint32_t sp = 0;
            for (uint32_t i = start[b.len + 1]; i > start[b.len]; i--)
                stackv[sp++] = kids[i - 1];
            while (sp) {
                uint32_t x = stackv[--sp];
                order[n_order++] = x;
                for (uint32_t i = start[x + 1]; i > start[x]; i--)
                    stackv[sp++] = kids[i - 1];
            }
        }
        free(kids);
        free(cnt);
        free(start);
    }
    if (t->cap < b.len || !t->nodes) {
        struct model_tree_node *nn = realloc(t->nodes, ((size_t)b.len + 1) * sizeof(*nn));
        if (!nn)
            goto out;
        t->nodes = nn;
        t->cap = b.len + 1;
    }
    {
        /* new index of each build node */
        uint32_t *newi = stackv; /* reuse */
        for (uint32_t i = 0; i < n_order; i++)
            newi[order[i]] = i;
        for (uint32_t i = 0; i < n_order; i++) {
            const struct tnode *x = &b.n[order[i]];
            t->nodes[i] = (struct model_tree_node){
                .key = x->key,
                .parent = x->parent == MODEL_NONE ? MODEL_NONE : newi[x->parent],
                .first_child = MODEL_NONE,
                .next_sibling = MODEL_NONE,
                .depth = x->depth,
                .frame = x->frame,
                .own_bytes = x->own.live_bytes,
                .own_blocks = x->own.live_blocks,
                .incl_bytes = x->incl.live_bytes,
                .incl_blocks = x->incl.live_blocks,
                .allocations = x->incl.allocations,
                .bytes_allocated = x->incl.bytes_allocated};
        }
        /* links: walking backwards, each node becomes its parent's first child */
        uint32_t last_root = MODEL_NONE;
        for (uint32_t i = n_order; i > 0; i--) {
            struct model_tree_node *x = &t->nodes[i - 1];
            if (x->parent == MODEL_NONE) {
                x->next_sibling = last_root;
                last_root = i - 1;
            } else {
                x->next_sibling = t->nodes[x->parent].first_child;
                t->nodes[x->parent].first_child = i - 1;
            }
        }
        t->first_root = last_root;
        t->n = n_order;
    }
    rc = 0;
out:
    free(st);
    free(path);
    free(order);
    free(stackv);
    free(b.n);
    free(b.hash);
    return rc;
}

void model_tree_free(struct model_tree *t)
{
    free(t->nodes);
    memset(t, 0, sizeof(*t));
}

uint32_t model_tree_find(const struct model_tree *t, uint64_t key)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->nodes[i].key == key)
            return i;
    return MODEL_NONE;
}

/* --------------------------------------------------------------- objects */

static int obj_cmp(const void *pa, const void *pb)
{
    const struct model_object *a = pa, *b = pb;

    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

int model_objects_in(const struct model *m, const struct liveset *ls, uint32_t site, int64_t time,
                     uint32_t max, struct model_object **out, uint64_t *total)
{
    struct model_object *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    *total = 0;
    for (uint64_t i = 0; i < ls->cap; i++) {
        const struct liveset_block *e = &ls->slots[i];
        uint32_t stack = e->stack;

        if (!e->seq || e->time > time)
            continue;
        if (stack >= m->n_nodes || !m->nodes[stack].defined)
            stack = 0; /* as ev_stack() files it */
        if (site != MODEL_NONE && m->nodes[stack].site != site)
            continue;
        if (grow((void **)&v, &cap, n + 1, sizeof(*v))) {
            free(v);
            return -1;
        }
        v[n++] = (struct model_object){.seq = e->seq & WIRE_SEQ_MASK,
                                       .size = e->size,
                                       .stack = stack,
                                       .thread = e->thread,
                                       .tag = e->tag,
                                       .time = e->time};
    }
    if (n)
        qsort(v, n, sizeof(*v), obj_cmp);
    *total = n;
    if (n > max)
        n = max;
    *out = v;
    return (int)n;
}

int model_objects(const struct model *m, uint32_t site, int64_t time, uint32_t max,
                  struct model_object **out, uint64_t *total)
{
    return model_objects_in(m, &m->ls, site, time, max, out, total);
}

uint32_t model_stack_frames(const struct model *m, uint32_t stack, const struct model_frame **out,
                            uint32_t max)
{
    uint32_t n = 0;

    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        return 0;
    for (struct fwalk w = fwalk_at(m, stack); w.node != 0 && n < max; w = fwalk_next(m, w))
        out[n++] = w.f;
    return n;
}

void model_range_max(const struct model *m, uint32_t i, uint32_t j, uint64_t *heap, uint64_t *rss)
{
    uint64_t h = 0, r = 0;

    if (j > m->n_points)
        j = m->n_points;
    for (; i < j; i++) {
        if (m->points[i].heap_bytes > h)
            h = m->points[i].heap_bytes;
        if (m->points[i].rss > r)
            r = m->points[i].rss;
    }
    if (heap)
        *heap = h;
    if (rss)
        *rss = r;
}

int model_live_since(const struct model *m, int64_t t0, uint64_t *bytes, uint64_t *blocks)
{
    memset(bytes, 0, (size_t)m->n_sites * sizeof(*bytes));
    memset(blocks, 0, (size_t)m->n_sites * sizeof(*blocks));
    for (uint64_t i = 0; i < m->ls.cap; i++) {
        const struct liveset_block *e = &m->ls.slots[i];
        uint32_t s;

        if (!e->seq || e->time < t0)
            continue;
        s = m->nodes[e->stack].site;
        if (s == MODEL_NONE)
            continue;
        bytes[s] += e->size;
        blocks[s]++;
    }
    return 0;
}

static int group_row_cmp(const void *pa, const void *pb)
{
    const struct model_group_row *a = pa, *b = pb;

    if (a->group != b->group)
        return a->group < b->group ? -1 : 1;
    return a->site < b->site ? -1 : a->site > b->site;
}

int model_group_rows(const struct model *m, const struct model_query *q, int by_thread,
                     struct model_group_row **out)
{
    struct model_group_row *r;
    struct fig *f = NULL;
    uint32_t n = 0, k = 0, p;
    int latest, peak;
    /* events give each block's thread and tag: all of them (events rule), or
     * those allocated since an attach while no event was missed */
    int known = m->sum.events_exact || !m->sum.missed;

    *out = NULL;
    resolve(m, q, &p, &latest, &peak);
    if (known && !latest && !peak) {
        /* the party log up to the point's time (MODEL_NONE: nothing yet) */
        f = calloc(m->n_parties ? m->n_parties : 1, sizeof(*f));
        if (!f)
            return -1;
        for (uint64_t i = 0; p != MODEL_NONE && i < m->n_plog; i++)
            if (m->plog[i].time <= m->points[p].time)
                fig_add(&f[m->plog[i].party], &m->plog[i].d);
    }
    r = malloc(((size_t)m->n_parties + m->n_sites + 1) * sizeof(*r));
    if (!r) {
        free(f);
        return -1;
    }
    for (uint32_t i = 0; known && i < m->n_parties; i++) {
        const struct party *pt = &m->parties[i];
        const struct fig *x = latest ? &pt->cur : peak ? &pt->pk : &f[i];

        if (!x->allocations && !x->live_bytes && !x->live_blocks)
            continue;
        r[n++] = (struct model_group_row){by_thread ? pt->thread : pt->tag,
                                          pt->site,
                                          x->live_bytes,
                                          x->live_blocks,
                                          x->allocations,
                                          x->bytes_allocated};
    }
    free(f);
    /* parties that differ only in the other dimension add up */
    qsort(r, n, sizeof(*r), group_row_cmp);
    for (uint32_t i = 0; i < n; i++) {
        if (k && r[k - 1].group == r[i].group && r[k - 1].site == r[i].site) {
            r[k - 1].live_bytes += r[i].live_bytes;
            r[k - 1].live_blocks += r[i].live_blocks;
            r[k - 1].allocations += r[i].allocations;
            r[k - 1].bytes_allocated += r[i].bytes_allocated;
        } else {
            r[k++] = r[i];
        }
    }
    if (!m->sum.events_exact) {
        /* ticks rule: what the known rows leave of each site (blocks from
         * before the attach, or everything after a miss) is not known */
        struct model_view v = {0};
        struct fig *acc = calloc(m->n_sites ? m->n_sites : 1, sizeof(*acc));
        uint32_t nk = k;

        if (!acc || model_view_at(m, q, &v) != 0) {
            free(acc);
            model_view_free(&v);
            free(r);
            return -1;
        }
        for (uint32_t i = 0; i < nk; i++)
            if (r[i].site < m->n_sites)
                fig_add(&acc[r[i].site], &(struct fig){r[i].live_bytes, r[i].live_blocks,
                                                       r[i].allocations, r[i].bytes_allocated});
        for (uint32_t i = 0; i < v.n_rows; i++) {
            const struct model_row *w = &v.rows[i];
            const struct fig *a = &acc[w->site];
            struct model_group_row x = {
                MODEL_NONE,
                w->site,
                wsub(w->live_bytes, a->live_bytes),
                wsub(w->live_blocks, a->live_blocks),
                w->allocations > a->allocations ? w->allocations - a->allocations : 0,
                w->bytes_allocated > a->bytes_allocated ? w->bytes_allocated - a->bytes_allocated
                                                        : 0};
            if (x.live_bytes || x.live_blocks || x.allocations)
                r[k++] = x;
        }
        model_view_free(&v);
        free(acc);
        qsort(r, k, sizeof(*r), group_row_cmp);
    }
    *out = r;
    return (int)k;
}

void model_group_live(const struct model *m, int group_by_thread, uint64_t *bytes, uint64_t *blocks)
{
    uint32_t lim = group_by_thread ? m->threads_cap : m->tags_cap;

    memset(bytes, 0, (size_t)lim * sizeof(*bytes));
    memset(blocks, 0, (size_t)lim * sizeof(*blocks));
    for (uint64_t i = 0; i < m->ls.cap; i++) {
        const struct liveset_block *e = &m->ls.slots[i];
        uint32_t k;

        if (!e->seq)
            continue;
        k = group_by_thread ? e->thread : e->tag;
        if (k >= lim)
            continue;
        bytes[k] += e->size;
        blocks[k]++;
    }
}
