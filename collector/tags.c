/*
 * tags.c - tag name interning and the label arena.
 *
 * Invariant: arena bytes and tag entries are written before they are
 * published (tag_n and arena offsets are stored with release), so the
 * collector can read them without the mutex.
 */
#include "tags.h"
#include "ownmaps.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "wire.h"

#define TAGS_ARENA (64u << 20)
#define TAGS_SLOTS (1u << 17)

static char *tags_arena;
static size_t tags_used;
static uint64_t *tags_off; /* id -> arena offset */
static uint16_t *tags_slots;
static atomic_uint tags_n = 1;
static pthread_mutex_t tags_mutex = PTHREAD_MUTEX_INITIALIZER;

int tags_init(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    size_t bytes =
        TAGS_ARENA + (WIRE_MAX_TAG_ID + 1) * sizeof(uint64_t) + TAGS_SLOTS * sizeof(uint16_t);
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);

    if (m == MAP_FAILED)
        return -1;
    memcpy(&tags_mutex, &fresh, sizeof(fresh));
    ownmaps_add(m, bytes);
    tags_arena = m;
    tags_off = (uint64_t *)(m + TAGS_ARENA);
    tags_slots = (uint16_t *)(m + TAGS_ARENA + (WIRE_MAX_TAG_ID + 1) * sizeof(uint64_t));
    tags_used = 0;
    atomic_store(&tags_n, 1);
    return 0;
}

void tags_reset(void)
{
    ownmaps_del(tags_arena);
    if (tags_arena)
        munmap(tags_arena, TAGS_ARENA + (WIRE_MAX_TAG_ID + 1) * sizeof(uint64_t) +
                               TAGS_SLOTS * sizeof(uint16_t));
    tags_arena = NULL;
}

/* Under the mutex. */
static uint64_t arena_put(const char *s, uint32_t *len)
{
    size_t n = strnlen(s, WIRE_MAX_STRING);
    uint64_t off = tags_used;

    if (tags_used + n + 1 > TAGS_ARENA)
        return UINT64_MAX;
    memcpy(tags_arena + off, s, n);
    tags_arena[off + n] = 0;
    tags_used += n + 1;
    if (len)
        *len = (uint32_t)n;
    return off;
}

uint16_t tags_intern(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    size_t n = strnlen(name, WIRE_MAX_STRING);
    uint16_t id = 0;

    if (!tags_arena)
        return 0;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
    pthread_mutex_lock(&tags_mutex);
    for (uint32_t i = (uint32_t)h & (TAGS_SLOTS - 1);; i = (i + 1) & (TAGS_SLOTS - 1)) {
        uint16_t s = tags_slots[i];

        if (s == 0) {
            uint32_t next = atomic_load_explicit(&tags_n, memory_order_relaxed);
            uint64_t off;

            if (next > WIRE_MAX_TAG_ID || (off = arena_put(name, NULL)) == UINT64_MAX)
                break;
            tags_off[next] = off;
            tags_slots[i] = (uint16_t)next;
            atomic_store_explicit(&tags_n, next + 1, memory_order_release);
            id = (uint16_t)next;
            break;
        }
        const char *t = tags_arena + tags_off[s];
        if (strncmp(t, name, n) == 0 && t[n] == 0) {
            id = s;
            break;
        }
    }
    pthread_mutex_unlock(&tags_mutex);
    return id;
}

uint64_t tags_store(const char *label, uint32_t *len)
{
    uint64_t off;

    if (!tags_arena)
        return UINT64_MAX;
    pthread_mutex_lock(&tags_mutex);
    off = arena_put(label ? label : "", len);
    pthread_mutex_unlock(&tags_mutex);
    return off;
}

const char *tags_string(uint64_t off)
{
    return tags_arena + off;
}

uint32_t tags_count(void)
{
    return atomic_load_explicit(&tags_n, memory_order_acquire);
}

const char *tags_name(uint32_t id)
{
    return tags_arena + tags_off[id];
}

void tags_atfork_prepare(void)
{
    pthread_mutex_lock(&tags_mutex);
}

void tags_atfork_parent(void)
{
    pthread_mutex_unlock(&tags_mutex);
}
