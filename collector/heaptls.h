/*
 * heaptls.h - where each thread's tcache pointer lies (heapwalk_tls), for
 * the heap walk to tell the tcache_perthread_structs from the program's
 * blocks exactly, an empty one too.
 *
 * glibc keeps `tcache` in static TLS (malloc.c: static __thread), a local
 * symbol only a full symbol table has: libc's own .symtab, or its separate
 * debug file's (libc6-dbg, /usr/lib/debug; debugfile.h). From it and this
 * thread's TLS block of libc (dl_iterate_phdr), the offset of the variable
 * from any thread's pointer; from the descriptors libthread_db reads
 * (_thread_db_rtld_global__dl_stack_used, ..._stack_user,
 * _thread_db_pthread_list: uint32 {bits, count, offset}, in libc's
 * read-only data), where the lists of threads are. Without them the walk
 * tells tcaches by shape (HEAPWALK_TCACHE_SHAPE).
 *
 * Collector thread, before a scan's snapshot: opens and maps files once,
 * then answers from what it kept.
 */
#ifndef HEAPLINE_HEAPTLS_H
#define HEAPLINE_HEAPTLS_H

#include "heapwalk.h"

/* The tls of this process: a pointer to it (kept), or NULL when libc's
 * symbols do not say (stripped, no debug file: the walk goes by shape)
 * with the reason in *why (may be NULL). x86-64 only. */
const struct heapwalk_tls *heaptls_find(const char **why);

#endif
