/*
 * attach_unw.c - libunwind-ptrace through dlopen (attach_unw.h).
 *
 * Invariant: the table is returned only with every entry found; a library
 * that loaded without one of them stays loaded and unused (dlclose of
 * libunwind is not worth its risks).
 */
#include "attach_unw.h"

#include <dlfcn.h>
#include <stddef.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static struct attach_unw unw;
static int tried, ok;

/* One symbol into *slot; 0, or -1 when missing. */
static int find(void *lib, const char *name, void *slot)
{
    void *p = dlsym(lib, name);

    if (!p)
        return -1;
    *(void **)slot = p;
    return 0;
}

const struct attach_unw *attach_unw(void)
{
    void *generic, *ptrace;

    if (tried)
        return ok ? &unw : NULL;
    tried = 1;
    /* global: libunwind-ptrace takes its _U<target>_ names from there */
    generic = dlopen("libunwind-" STR(UNW_TARGET) ".so.8", RTLD_NOW | RTLD_GLOBAL);
    ptrace = generic ? dlopen("libunwind-ptrace.so.0", RTLD_NOW) : NULL;
    if (!ptrace)
        return NULL;
    ok = find(generic, STR(UNW_OBJ(create_addr_space)), &unw.create_addr_space) == 0 &&
         find(generic, STR(UNW_OBJ(set_caching_policy)), &unw.set_caching_policy) == 0 &&
         find(generic, STR(UNW_OBJ(destroy_addr_space)), &unw.destroy_addr_space) == 0 &&
         find(generic, STR(UNW_OBJ(flush_cache)), &unw.flush_cache) == 0 &&
         find(generic, STR(UNW_OBJ(init_remote)), &unw.init_remote) == 0 &&
         find(generic, STR(UNW_OBJ(step)), &unw.step) == 0 &&
         find(generic, STR(UNW_OBJ(get_reg)), &unw.get_reg) == 0 &&
         find(ptrace, "_UPT_create", &unw.upt_create) == 0 &&
         find(ptrace, "_UPT_destroy", &unw.upt_destroy) == 0 &&
         find(ptrace, "_UPT_accessors", &unw.upt_accessors) == 0;
    return ok ? &unw : NULL;
}
