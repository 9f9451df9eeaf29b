/*
 * dwlib.c - elfutils loaded on first use (dwlib.h).
 *
 * Invariant: the table is filled once, whole or not at all, before
 * dwlib_load() first returns 0; the library is never closed, so a pointer
 * read from the table stays valid for the life of the process.
 */
#define DWLIB_NO_NAMES
#include "dwlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* libdw's soname: its DT_NEEDED brings libelf, whose functions dlsym()
 * finds through the same handle. */
#ifndef DWLIB_SONAME
#define DWLIB_SONAME "libdw.so.1"
#endif

struct dwlib dwlib;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;

/* One line: what failed (dlerror()'s text names the library). */
static void say(const char *what)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "heapline: %s; native frames go without names\n", what);

    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void load(void)
{
    struct dwlib t;
    void *h = dlopen(DWLIB_SONAME, RTLD_LAZY | RTLD_LOCAL);

    if (!h) {
        say(dlerror());
        return;
    }
#define DWLIB_FIND(name)                                                                           \
    if (!(*(void **)&t.name = dlsym(h, #name))) {                                                  \
        say(DWLIB_SONAME ": no " #name);                                                           \
        return;                                                                                    \
    }
    DWLIB_FNS(DWLIB_FIND)
#undef DWLIB_FIND
    memcpy(&dwlib, &t, sizeof(t));
    loaded = 0;
}

int dwlib_load(void)
{
    pthread_once(&once, load);
    return loaded;
}
