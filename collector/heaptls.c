/*
 * heaptls.c - each thread's tcache pointer, located once (heaptls.h).
 *
 * Invariant: a heapwalk_tls is handed out only when every value it holds
 * came from libc's and the loader's symbol tables and this thread's own
 * TLS, checked against this thread (its tcache, when it has one, is an
 * in-use chunk of a tcache's size); else NULL with the reason, and the
 * walk goes by shape.
 */
#include "heaptls.h"

#include <link.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

#include "scanroots.h"

#define TLS_PATH 4096

struct modules {
    char libc[TLS_PATH], ld[TLS_PATH];
    uint64_t libc_base, ld_base;
    void *libc_tls; /* this thread's instance of libc's TLS block */
};

static int base_is(const char *path, const char *prefix)
{
    const char *b = strrchr(path, '/');

    b = b ? b + 1 : path;
    return strncmp(b, prefix, strlen(prefix)) == 0;
}

static int module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct modules *m = arg;
    const char *name = info->dlpi_name;

    (void)size;
    if (!name || !*name)
        return 0;
    if (!m->libc[0] && (base_is(name, "libc.so") || base_is(name, "libc-"))) {
        snprintf(m->libc, sizeof(m->libc), "%s", name);
        m->libc_base = info->dlpi_addr;
        m->libc_tls = info->dlpi_tls_data;
    } else if (!m->ld[0] && base_is(name, "ld-")) {
        snprintf(m->ld, sizeof(m->ld), "%s", name);
        m->ld_base = info->dlpi_addr;
    }
    return 0;
}

static struct heapwalk_tls found;
static const char *found_why;
static int done;

/* libc's descriptor of a field: its offset (uint32 {bits, count, offset}). */
static uint64_t field_offset(uint64_t libc_base, uint64_t sym)
{
    uint32_t d[3];

    memcpy(d, (const void *)(uintptr_t)(libc_base + sym), sizeof(d));
    return d[2];
}

static const char *locate(struct heapwalk_tls *t)
{
    static const char *const names[] = {"tcache", "_thread_db_rtld_global__dl_stack_used",
                                        "_thread_db_rtld_global__dl_stack_user",
                                        "_thread_db_pthread_list"};
    static const char *const ld_names[] = {"_rtld_global"};
    static struct modules m; /* 8 KiB: off the collector thread's stack */
    uint64_t v[4], rtld;
    uintptr_t tp = (uintptr_t)pthread_self(); /* x86-64: the thread pointer */

#if !defined(__x86_64__)
    return "heapwalk: tcaches by shape (not x86-64)";
#endif
    memset(&m, 0, sizeof(m));
    scanroots_iterate_phdr(module_cb, &m); /* fork waits meanwhile */
    if (!m.libc[0] || !m.ld[0] || !m.libc_tls)
        return "heapwalk: tcaches by shape (no libc.so or loader found)";
    if (scanroots_symbol_values(m.libc, names, v, 4, 1) != 1 || !v[0])
        return "heapwalk: tcaches by shape (libc has no full symbol table: install its debug "
               "symbols, libc6-dbg)";
    if (!v[1] || !v[2] || !v[3])
        return "heapwalk: tcaches by shape (libc's symbols lack the thread list descriptors)";
    if (scanroots_symbol_values(m.ld, ld_names, &rtld, 1, 0) < 0 || !rtld)
        return "heapwalk: tcaches by shape (the loader has no _rtld_global)";
    rtld += m.ld_base;
    t->tcache_off = (int64_t)((uintptr_t)m.libc_tls + v[0]) - (int64_t)tp;
    t->heads[0] = rtld + field_offset(m.libc_base, v[1]);
    t->heads[1] = rtld + field_offset(m.libc_base, v[2]);
    t->list_off = field_offset(m.libc_base, v[3]);
    { /* this thread is on a list: its node's address is plausible */
        uint64_t mine = *(const uint64_t *)(uintptr_t)(tp + t->tcache_off), next;
        const uint64_t *node = (const uint64_t *)(uintptr_t)(tp + t->list_off);
        memcpy(&next, node, sizeof(next));
        if (t->list_off > 4096 || !next || (next & 7))
            return "heapwalk: tcaches by shape (the thread list descriptors do not check out)";
        if (mine) {
            uint64_t size;
            memcpy(&size, (const void *)(uintptr_t)(mine - 8), sizeof(size));
            size &= ~(uint64_t)7;
            if (size != 0x290 && size != 0x2a0)
                return "heapwalk: tcaches by shape (this thread's tcache is no tcache's chunk)";
        }
    }
    return NULL;
}

const struct heapwalk_tls *heaptls_find(const char **why)
{
    if (!done) {
        found_why = locate(&found);
        done = 1;
    }
    if (why)
        *why = found_why;
    return found_why ? NULL : &found;
}
