/*
 * leaky_service.c - the story of ../shared/seed.md, in C.
 *
 * A service loads "apps" one after another. Loading an app builds an app
 * manager whose NLP pipeline has a few processors; each processor owns a large
 * resource loader (gazetteers, embeddings, tables: several MB in a few blocks).
 * Every processor registers itself in the global `instance_map` so that worker
 * code can find it by id (the seed's `Processor.instance_map`).
 *
 * The bug: the map holds a strong reference (it takes a refcount) and nothing
 * ever removes the entry, so when the app is unloaded and its manager drops
 * its references, every processor - and the loader it owns - stays alive. The
 * heap grows by the size of each app's loaders, forever.
 *
 * Built with -DFIXED (fixed_service.c) the map holds weak references, like the
 * seed's WeakValueDictionary: it takes no refcount, and a processor removes
 * its own entry when it is destroyed, so memory falls back after each unload.
 *
 * The chain that keeps a loader table alive, for `heapline backrefs`:
 *   loader table <- resource_loader <- processor <- instance_map.slots[] (heap)
 *                <- instance_map (global, this executable)
 *
 * Usage: leaky_service [--apps N] [--pause MS] [--forever] [--quiet]
 * Runs unchanged without the collector (the heapline_* symbols are weak).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../collector/heapline.h"

#ifdef FIXED
#define SERVICE_NAME "fixed_service"
#else
#define SERVICE_NAME "leaky_service"
#endif

/* ---- resource loader: the big data an NLP processor needs ---- */

#define LOADER_TABLES 4

struct resource_loader {
    char app[32];
    size_t table_bytes[LOADER_TABLES];
    unsigned char *tables[LOADER_TABLES]; /* gazetteer, embeddings, vocab, model */
};

/* Each table is allocated in its own function, so the site table names what it is. */
__attribute__((noinline)) static unsigned char *loader_load_table(size_t bytes, unsigned seed)
{
    unsigned char *t = malloc(bytes);
    if (!t)
        return NULL;
    /* Touch every page (RSS follows the heap) with data that is not all zero. */
    for (size_t i = 0; i < bytes; i += 64)
        t[i] = (unsigned char)(seed + i / 64);
    return t;
}

/* Allocate the loader of one processor of `app`: about `mb` MB in 4 blocks. */
__attribute__((noinline)) struct resource_loader *loader_create(const char *app, unsigned mb)
{
    struct resource_loader *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    snprintf(l->app, sizeof(l->app), "%s", app);
    /* Uneven table sizes: half, quarter, and two eighths of the loader. */
    size_t total = (size_t)mb << 20;
    size_t sizes[LOADER_TABLES] = {total / 2, total / 4, total / 8, total / 8};
    for (int i = 0; i < LOADER_TABLES; i++) {
        l->table_bytes[i] = sizes[i];
        l->tables[i] = loader_load_table(sizes[i], (unsigned)i * 31u + (unsigned)app[0]);
        if (!l->tables[i]) {
            fprintf(stderr, SERVICE_NAME ": out of memory loading %s\n", app);
            exit(1);
        }
    }
    return l;
}

__attribute__((noinline)) static void loader_destroy(struct resource_loader *l)
{
    if (!l)
        return;
    for (int i = 0; i < LOADER_TABLES; i++)
        free(l->tables[i]);
    free(l);
}

/* ---- processors, refcounted, registered in instance_map ---- */

struct processor {
    uint64_t id;
    int refs;
    char kind[24];
    struct resource_loader *loader;
};

/* The global registry: open addressing, id -> processor. Never shrinks. */
struct instance_map_slot {
    uint64_t id; /* 0: empty, UINT64_MAX: deleted */
    struct processor *proc;
};

struct instance_map {
    size_t cap;
    size_t count;
    struct instance_map_slot *slots;
};

struct instance_map instance_map; /* the seed's Processor.instance_map */

static uint64_t next_processor_id = 1;

static size_t instance_map_hash(uint64_t id, size_t cap)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

__attribute__((noinline)) static void instance_map_grow(void)
{
    size_t ncap = instance_map.cap ? instance_map.cap * 2 : 16;
    struct instance_map_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns) {
        fprintf(stderr, SERVICE_NAME ": out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < instance_map.cap; i++) {
        struct instance_map_slot *s = &instance_map.slots[i];
        if (s->id == 0 || s->id == UINT64_MAX)
            continue;
        size_t j = instance_map_hash(s->id, ncap);
        while (ns[j].id)
            j = (j + 1) & (ncap - 1);
        ns[j] = *s;
    }
    free(instance_map.slots);
    instance_map.slots = ns;
    instance_map.cap = ncap;
}

static void instance_map_put(struct processor *p)
{
    if ((instance_map.count + 1) * 2 > instance_map.cap)
        instance_map_grow();
    size_t j = instance_map_hash(p->id, instance_map.cap);
    while (instance_map.slots[j].id != 0 && instance_map.slots[j].id != UINT64_MAX)
        j = (j + 1) & (instance_map.cap - 1);
    instance_map.slots[j].id = p->id;
    instance_map.slots[j].proc = p;
    instance_map.count++;
}

#ifdef FIXED
static void instance_map_remove(uint64_t id)
{
    if (!instance_map.cap)
        return;
    size_t j = instance_map_hash(id, instance_map.cap);
    while (instance_map.slots[j].id != 0) {
        if (instance_map.slots[j].id == id) {
            instance_map.slots[j].id = UINT64_MAX;
            instance_map.slots[j].proc = NULL;
            instance_map.count--;
            return;
        }
        j = (j + 1) & (instance_map.cap - 1);
    }
}
#endif

/* Worker code finds processors by id (subproc_call_instance_function). */
static struct processor *instance_map_get(uint64_t id)
{
    if (!instance_map.cap)
        return NULL;
    size_t j = instance_map_hash(id, instance_map.cap);
    while (instance_map.slots[j].id != 0) {
        if (instance_map.slots[j].id == id)
            return instance_map.slots[j].proc;
        j = (j + 1) & (instance_map.cap - 1);
    }
    return NULL;
}

__attribute__((noinline)) struct processor *processor_create(const char *app, const char *kind,
                                                             unsigned loader_mb)
{
    struct processor *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->id = next_processor_id++;
    p->refs = 1; /* the caller's reference */
    snprintf(p->kind, sizeof(p->kind), "%s", kind);
    p->loader = loader_create(app, loader_mb);
    instance_map_put(p);
#ifndef FIXED
    p->refs++; /* BUG: the registry holds a strong reference, and never drops it */
#endif
    return p;
}

__attribute__((noinline)) static void processor_release(struct processor *p)
{
    if (--p->refs > 0)
        return;
#ifdef FIXED
    instance_map_remove(p->id); /* weak registry: forget the dead processor */
#endif
    loader_destroy(p->loader);
    free(p);
}

/* ---- apps ---- */

struct app_spec {
    const char *name;
    unsigned loader_mb; /* per processor */
};

static const struct app_spec app_specs[] = {
    {"kwik_e_mart", 2},      {"video_discovery", 3}, {"home_assistant", 2},
    {"food_ordering", 1},    {"banking_assistant", 3}, {"hr_assistant", 1},
    {"screening_bot", 2},    {"weather_bot", 1},
};
#define APP_SPECS (sizeof(app_specs) / sizeof(app_specs[0]))

static const char *const processor_kinds[] = {"domain_classifier", "intent_classifier",
                                              "entity_recognizer"};
#define PROCESSORS (sizeof(processor_kinds) / sizeof(processor_kinds[0]))

struct app_manager {
    char name[32];
    uint64_t processor_ids[PROCESSORS];
    struct processor *processors[PROCESSORS];
};

/* Short-lived work while an app serves requests: parse, tokenize, answer. */
__attribute__((noinline)) static size_t app_handle_request(struct app_manager *app, unsigned n)
{
    char *query = malloc(128 + n % 256);
    if (!query)
        return 0;
    int len = snprintf(query, 128, "%s query %u", app->name, n);
    char **tokens = calloc(16, sizeof(*tokens));
    size_t answer = 0;
    for (int i = 0; tokens && i < 16; i++) {
        tokens[i] = strndup(query + (i % (len > 0 ? len : 1)), 8);
        answer += tokens[i] ? strlen(tokens[i]) : 0;
    }
    struct processor *p = instance_map_get(app->processor_ids[n % PROCESSORS]);
    if (p && p->loader)
        answer += p->loader->tables[0][n % 64 * 64];
    for (int i = 0; tokens && i < 16; i++)
        free(tokens[i]);
    free(tokens);
    free(query);
    return answer;
}

__attribute__((noinline)) static struct app_manager *app_load(const struct app_spec *spec)
{
    struct app_manager *app = calloc(1, sizeof(*app));
    if (!app)
        return NULL;
    snprintf(app->name, sizeof(app->name), "%s", spec->name);
    for (size_t i = 0; i < PROCESSORS; i++) {
        app->processors[i] = processor_create(spec->name, processor_kinds[i], spec->loader_mb);
        app->processor_ids[i] = app->processors[i]->id;
    }
    return app;
}

__attribute__((noinline)) static void app_unload(struct app_manager *app)
{
    for (size_t i = 0; i < PROCESSORS; i++)
        processor_release(app->processors[i]);
    free(app);
}

/* Live processors and the bytes their loaders hold, found through the map. */
static void live_figures(size_t *procs, size_t *bytes)
{
    *procs = 0;
    *bytes = 0;
    for (size_t i = 0; i < instance_map.cap; i++) {
        struct instance_map_slot *s = &instance_map.slots[i];
        if (s->id == 0 || s->id == UINT64_MAX)
            continue;
        (*procs)++;
        for (int t = 0; t < LOADER_TABLES; t++)
            *bytes += s->proc->loader->table_bytes[t];
    }
}

/* The operator restarts the leaky service when it has grown too far (--forever). */
static void service_restart(void)
{
    for (size_t i = 0; i < instance_map.cap; i++) {
        struct instance_map_slot *s = &instance_map.slots[i];
        if (s->id == 0 || s->id == UINT64_MAX)
            continue;
        loader_destroy(s->proc->loader);
        free(s->proc);
    }
    free(instance_map.slots);
    memset(&instance_map, 0, sizeof(instance_map));
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static void usage(void)
{
    fprintf(stderr, "usage: " SERVICE_NAME " [--apps N] [--pause MS] [--forever] [--quiet]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    unsigned apps = 6, pause_ms = 1500;
    int forever = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--apps") && i + 1 < argc)
            apps = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--pause") && i + 1 < argc)
            pause_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--forever"))
            forever = 1;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else
            usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    char label[64];
    size_t served = 0;
    for (unsigned n = 0; forever || n < apps; n++) {
        const struct app_spec *spec = &app_specs[n % APP_SPECS];

        snprintf(label, sizeof(label), "load %s", spec->name);
        HEAPLINE_MARK(label);
        HEAPLINE_TAG_PUSH(spec->name);
        struct app_manager *app = app_load(spec);
        if (!app) {
            fprintf(stderr, SERVICE_NAME ": out of memory\n");
            return 1;
        }
        /* Serve for a while: many short-lived allocations, spread over the pause. */
        unsigned steps = pause_ms / 10 ? pause_ms / 10 : 1;
        for (unsigned s = 0; s < steps; s++) {
            for (unsigned r = 0; r < 20; r++)
                served += app_handle_request(app, s * 20 + r);
            if (pause_ms)
                sleep_ms(pause_ms / steps);
        }
        HEAPLINE_TAG_POP();

        snprintf(label, sizeof(label), "unload %s", spec->name);
        HEAPLINE_MARK(label);
        app_unload(app);
        app = NULL;

        size_t procs, bytes;
        live_figures(&procs, &bytes);
        if (!quiet)
            printf("%s: app %u %-18s loaded and unloaded; live processors %zu, loader memory "
                   "%.1f MB\n",
                   SERVICE_NAME, n + 1, spec->name, procs, (double)bytes / (1 << 20));

        if (forever && bytes > (size_t)256 << 20) {
            HEAPLINE_MARK("restart");
            if (!quiet)
                printf("%s: %.0f MB held by unloaded apps: restarting\n", SERVICE_NAME,
                       (double)bytes / (1 << 20));
            service_restart();
        }
    }
    if (!quiet)
        printf("%s: done (%zu answers)\n", SERVICE_NAME, served);
    return 0;
}
