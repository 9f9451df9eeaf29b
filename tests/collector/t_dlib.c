/*
 * t_dlib.c - libt_dlib.so, dlopen'd by t_dlopen. Its constructor allocates
 * 55 bytes (kept); lib_site_alloc allocates what it is asked.
 */
#include "t_common.h"

SITE void *lib_site_ctor(size_t n) { return sink(malloc(n)); }
SITE void *lib_site_alloc(size_t n) { return sink(malloc(n)); }

__attribute__((constructor)) static void lib_init(void) { lib_site_ctor(55); }
