/*
 * t_dlopen.c - dlopen(argv[1]), call lib_site_alloc 5 x 100 (2 freed), then
 * dlclose: the sites must still be named after the library is unmapped.
 */
#include <dlfcn.h>

#include "t_common.h"

int main(int argc, char **argv)
{
    T_ASSERT(argc == 2);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    T_ASSERT(h != NULL);
    void *(*fn)(size_t) = (void *(*)(size_t))dlsym(h, "lib_site_alloc");
    T_ASSERT(fn != NULL);
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = fn(100);
    free(p[1]);
    free(p[3]);
    T_ASSERT(dlclose(h) == 0);
    return 0;
}
