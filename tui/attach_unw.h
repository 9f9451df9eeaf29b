/*
 * attach_unw.h - libunwind-ptrace, loaded by the first attach that unwinds a
 * stopped thread, not by every start of heapline.
 *
 * Linked, it and the libraries it needs (libunwind-x86_64, libunwind,
 * liblzma) were four of the libraries ld.so maps before `heapline record`
 * can start the program; only attach uses them. Main thread only.
 */
#ifndef HEAPLINE_ATTACH_UNW_H
#define HEAPLINE_ATTACH_UNW_H

#include <libunwind-ptrace.h>
#include <sys/types.h>

/* The calls attach makes, under their libunwind names. */
struct attach_unw {
    unw_addr_space_t (*create_addr_space)(unw_accessors_t *, int);
    int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
    void (*destroy_addr_space)(unw_addr_space_t);
    void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
    int (*init_remote)(unw_cursor_t *, unw_addr_space_t, void *);
    int (*step)(unw_cursor_t *);
    int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
    void *(*upt_create)(pid_t);
    void (*upt_destroy)(void *);
    unw_accessors_t *upt_accessors;
};

/* The calls, loading the libraries on the first call; NULL when they cannot
 * be loaded (attach then reads stacks by scanning them, as it does where
 * the unwinding stops). Never unloaded. */
const struct attach_unw *attach_unw(void);

#endif
