/*
 * demangle.c - C++ names as the program spells them (demangle.h).
 *
 * Invariant: the demangler is looked up once (dlsym(RTLD_DEFAULT)); a
 * program without it gets every name back as it was.
 */
#include "demangle.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

char *demangle_cxx(const char *name)
{
    static demangle_fn fn;
    static int looked;
    int status = -1;
    char *d;

    if (!name || name[0] != '_' || name[1] != 'Z')
        return NULL;
    if (!looked) {
        fn = (demangle_fn)dlsym(RTLD_DEFAULT, "__cxa_demangle");
        looked = 1;
    }
    if (!fn)
        return NULL;
    d = fn(name, NULL, NULL, &status);
    if (d && status == 0)
        return d;
    free(d);
    return NULL;
}

void demangle_in_place(char *buf, size_t cap)
{
    char *d = cap ? demangle_cxx(buf) : NULL;

    if (d)
        snprintf(buf, cap, "%s", d);
    free(d);
}
