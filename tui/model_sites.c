/*
 * model_sites.c - frames, stacks and sites: which frame of a stack is the
 * place a user should look at (the attribution rule), and the site table.
 *
 * Invariant: a stack's site is computed once, at its first use, from frames
 * that are final by then (the collector defines a frame before any stack
 * that uses it), and never changes; sites are keyed by interned strings,
 * so two frames of one function and line are one site.
 */
#include "model_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxxname.h"
#include "wire.h"

/* ---------------------------------------------------------------- frames */
static uint32_t frame_hash(const void *ctx, uint32_t i)
{
    return (uint32_t)mix64(frame_at(ctx, i)->ip);
}

static int frame_eq(const void *ctx, uint32_t i, const void *ip)
{
    return frame_at(ctx, i)->ip == *(const uint64_t *)ip;
}

/* The index of the frame of ip, MODEL_NONE when none; *slot gets where a
 * new one goes. */
static uint32_t frame_find(const struct model *m, uint64_t ip, uint32_t *slot)
{
    if (!m->frame_hash.cap)
        return MODEL_NONE;
    return hashtab_find(&m->frame_hash, (uint32_t)mix64(ip), frame_eq, m, &ip, slot);
}

uint32_t model_sites_frame_get(struct model *m, uint64_t ip)
{
    uint32_t f, slot;
    struct model_frame *fr;

    if (hashtab_reserve(&m->frame_hash, m->n_frames, 4096, frame_hash, m))
        return MODEL_NONE;
    f = frame_find(m, ip, &slot);
    if (f != MODEL_NONE)
        return f;
    if (m->n_frames % MODEL_CHUNK == 0) {
        struct model_frame **c =
            realloc(m->frame_chunks, (m->n_frames / MODEL_CHUNK + 1) * sizeof(*c));
        if (!c)
            return MODEL_NONE;
        m->frame_chunks = c;
        if (!(c[m->n_frames / MODEL_CHUNK] = calloc(MODEL_CHUNK, sizeof(**c))))
            return MODEL_NONE;
    }
    f = m->n_frames++;
    fr = frame_at(m, f);
    fr->ip = ip;
    fr->function = fr->file = fr->module = "";
    hashtab_set(&m->frame_hash, slot, f);
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
    if (cxxname_matches(s->function, spec)) /* Registry::add: jobs::Registry::add(int) */
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
    uint32_t slot, f = frame_find(m, ip, &slot);

    return f == MODEL_NONE ? &m->unknown_frame : frame_at(m, f);
}

/* ----------------------------------------------------------------- sites */

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
int model_frame_is_plumbing(const struct model_frame *f)
{
    for (size_t i = 0; i < sizeof(plumbing_rules) / sizeof(plumbing_rules[0]); i++)
        if (plumbing_rules[i](f))
            return 1;
    return 0;
}

uint32_t model_sites_key_hash(const struct model_site *s)
{
    uint64_t h = (uintptr_t)s->function * 31 + (uintptr_t)s->file * 17 + s->line * 7 +
                 (uintptr_t)s->module * 3;

    if (!*s->function)
        h ^= s->ip;
    return (uint32_t)mix64(h);
}

int model_sites_key_eq(const struct model_site *a, const struct model_site *b)
{
    return a->function == b->function && a->file == b->file && a->line == b->line &&
           a->module == b->module && (*a->function || a->ip == b->ip);
}

/* A frame's key as a site: what model_sites_key_hash and _eq compare. */
struct model_site model_sites_key(const struct model_frame *f)
{
    return (struct model_site){.function = f->function,
                               .file = f->file,
                               .line = f->line,
                               .module = f->module,
                               .ip = f->ip,
                               .offset = f->offset};
}

static uint32_t site_hash(const void *ctx, uint32_t i)
{
    return model_sites_key_hash(site_at(ctx, i));
}

static int site_eq(const void *ctx, uint32_t i, const void *key)
{
    return model_sites_key_eq(site_at(ctx, i), key);
}

/* Room for one more site in the chunks and the per-site arrays. */
static int site_room(struct model *m)
{
    size_t nch = m->n_sites / MODEL_CHUNK + 1;
    struct model_site **c;
    struct site_ext **e;

    if (m->n_sites % MODEL_CHUNK == 0) {
        c = realloc(m->site_chunks, nch * sizeof(*c));
        if (!c)
            return -1;
        m->site_chunks = c;
        e = realloc(m->ext_chunks, nch * sizeof(*e));
        if (!e)
            return -1;
        m->ext_chunks = e;
        c[nch - 1] = calloc(MODEL_CHUNK, sizeof(**c));
        e[nch - 1] = calloc(MODEL_CHUNK, sizeof(**e));
        if (!c[nch - 1] || !e[nch - 1])
            return -1;
    }
    return model_grow32((void **)&m->site_cur, &m->site_cap, m->n_sites + 1, sizeof(struct fig));
}

/* Finds or adds the site of frame f. Returns its id or MODEL_NONE (OOM). */
static uint32_t site_get(struct model *m, const struct model_frame *f)
{
    struct model_site key = model_sites_key(f);
    uint32_t slot, id;

    if (hashtab_reserve(&m->site_hash, m->n_sites, 1024, site_hash, m))
        return MODEL_NONE;
    id = hashtab_find(&m->site_hash, model_sites_key_hash(&key), site_eq, m, &key, &slot);
    if (id != HASHTAB_NONE)
        return id;
    if (site_room(m))
        return MODEL_NONE;
    id = m->n_sites++;
    key.id = id;
    key.thread = MODEL_NONE;
    *site_at(m, id) = key;
    hashtab_set(&m->site_hash, slot, id);
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

/* Where in a defined stack its site's frame is (model_sites_of_stack's rule); node 0
 * for the empty stack. In a stack with Python frames, interpreter frames are
 * plumbing too: the site is the innermost Python frame, unless code of its
 * own (a C extension) is below it. */
struct fwalk model_sites_site_frame(const struct model *m, uint32_t stack)
{
    struct fwalk unnamed = {0, NULL}, named = {0, NULL}, own = {0, NULL};
    struct fwalk leaf = fwalk_at(m, stack);

    for (struct fwalk w = leaf; w.node != 0; w = fwalk_next(m, w)) {
        if (frame_is_python(w.f))
            return own.node ? own : w;
        if (model_frame_is_plumbing(w.f))
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
const struct model_frame *model_sites_caller_frame(const struct model *m, struct fwalk w)
{
    struct fwalk up = fwalk_next(m, w);

    for (struct fwalk x = up; x.node != 0; x = fwalk_next(m, x)) {
        if (frame_is_python(x.f))
            return x.f;
        if (!frame_is_interpreter(x.f) && !model_frame_is_plumbing(x.f))
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
uint32_t model_sites_of_stack(struct model *m, uint32_t stack)
{
    struct stack_node *n;
    struct fwalk w;

    if (stack >= m->n_nodes || !m->nodes[stack].defined)
        stack = 0;
    n = &m->nodes[stack];
    if (n->site != MODEL_NONE)
        return n->site;
    w = model_sites_site_frame(m, stack);
    n->site = site_get(m, w.f ? w.f : &m->unknown_frame);
    if (n->site != MODEL_NONE)
        site_at(m, n->site)->n_stacks++;
    return n->site;
}

void model_sites_note(struct model *m, uint32_t site, uint32_t tag, uint32_t thread)
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

/* ---------------------------------------------------------------- stacks */

int model_sites_reserve(struct model *m, uint32_t n)
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

/* ------------------------------------------------------------ site queries */

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
