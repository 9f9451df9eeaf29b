/*
 * dwlib.h - elfutils (libdw, and libelf behind it) loaded with dlopen() by
 * the symbolizer, on the collector's threads, instead of as the library's
 * DT_NEEDED: every program then paid before its main for mapping and
 * relocating libdw, libelf, liblzma and libbz2 (and liblzma's cpuid), which
 * only the collector thread uses, to name frames.
 *
 * A file that calls elfutils includes this header after its other includes:
 * each function it calls is a macro over the table dwlib_load() fills, so
 * the calls read as elfutils' own. Nothing here may be called before
 * dwlib_load() returned 0.
 */
#ifndef HEAPLINE_DWLIB_H
#define HEAPLINE_DWLIB_H

#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libelf.h>

/* The elfutils functions the collector calls: X(name) each. */
#define DWLIB_FNS(X)                                                                               \
    X(dwarf_attr)                                                                                  \
    X(dwarf_attr_integrate)                                                                        \
    X(dwarf_begin_elf)                                                                             \
    X(dwarf_child)                                                                                 \
    X(dwarf_cu_getdwarf)                                                                           \
    X(dwarf_dieoffset)                                                                             \
    X(dwarf_end)                                                                                   \
    X(dwarf_filesrc)                                                                               \
    X(dwarf_formstring)                                                                            \
    X(dwarf_formudata)                                                                             \
    X(dwarf_getalt)                                                                                \
    X(dwarf_getelf)                                                                                \
    X(dwarf_getsrc_die)                                                                            \
    X(dwarf_getsrcfiles)                                                                           \
    X(dwarf_getsrclines)                                                                           \
    X(dwarf_haspc)                                                                                 \
    X(dwarf_line_file)                                                                             \
    X(dwarf_lineaddr)                                                                              \
    X(dwarf_lineendsequence)                                                                       \
    X(dwarf_lineno)                                                                                \
    X(dwarf_linesrc)                                                                               \
    X(dwarf_offdie)                                                                                \
    X(dwarf_onesrcline)                                                                            \
    X(dwarf_ranges)                                                                                \
    X(dwarf_setalt)                                                                                \
    X(dwarf_siblingof)                                                                             \
    X(dwarf_tag)                                                                                   \
    X(dwelf_dwarf_gnu_debugaltlink)                                                                \
    X(dwfl_addrmodule)                                                                             \
    X(dwfl_begin)                                                                                  \
    X(dwfl_end)                                                                                    \
    X(dwfl_getmodules)                                                                             \
    X(dwfl_linux_proc_find_elf)                                                                    \
    X(dwfl_linux_proc_report)                                                                      \
    X(dwfl_module_addrdie)                                                                         \
    X(dwfl_module_addrinfo)                                                                        \
    X(dwfl_module_build_id)                                                                        \
    X(dwfl_module_getdwarf)                                                                        \
    X(dwfl_module_getelf)                                                                          \
    X(dwfl_module_getsym_info)                                                                     \
    X(dwfl_module_getsymtab)                                                                       \
    X(dwfl_module_info)                                                                            \
    X(dwfl_module_nextcu)                                                                          \
    X(dwfl_report_begin)                                                                           \
    X(dwfl_report_begin_add)                                                                       \
    X(dwfl_report_end)                                                                             \
    X(elf_begin)                                                                                   \
    X(elf_end)                                                                                     \
    X(elf_getdata)                                                                                 \
    X(elf_getscn)                                                                                  \
    X(elf_kind)                                                                                    \
    X(elf_nextscn)                                                                                 \
    X(elf_rawfile)                                                                                 \
    X(elf_version)                                                                                 \
    X(gelf_getshdr)                                                                                \
    X(gelf_getsym)

#define DWLIB_FIELD(name) __typeof__(name) *name;
struct dwlib {
    DWLIB_FNS(DWLIB_FIELD)
};
#undef DWLIB_FIELD

extern struct dwlib dwlib;

/* Loads libdw (DWLIB_SONAME) and finds every function above, once per
 * process; any thread but the program's (it takes the loader's lock and
 * allocates: callers hold track_guard). Returns 0, or -1 when the library
 * or a function is missing: said once in one line on stderr, and native
 * frames then go without names. */
int dwlib_load(void);

#ifndef DWLIB_NO_NAMES
/* Function-like, so only calls are rewritten: a name used otherwise (a
 * callback) would be left to the linker, which has no libdw to offer. */
#define DWLIB_CALL(name, ...) (dwlib.name(__VA_ARGS__))
#define dwarf_attr(...) DWLIB_CALL(dwarf_attr, __VA_ARGS__)
#define dwarf_attr_integrate(...) DWLIB_CALL(dwarf_attr_integrate, __VA_ARGS__)
#define dwarf_begin_elf(...) DWLIB_CALL(dwarf_begin_elf, __VA_ARGS__)
#define dwarf_child(...) DWLIB_CALL(dwarf_child, __VA_ARGS__)
#define dwarf_cu_getdwarf(...) DWLIB_CALL(dwarf_cu_getdwarf, __VA_ARGS__)
#define dwarf_dieoffset(...) DWLIB_CALL(dwarf_dieoffset, __VA_ARGS__)
#define dwarf_end(...) DWLIB_CALL(dwarf_end, __VA_ARGS__)
#define dwarf_filesrc(...) DWLIB_CALL(dwarf_filesrc, __VA_ARGS__)
#define dwarf_formstring(...) DWLIB_CALL(dwarf_formstring, __VA_ARGS__)
#define dwarf_formudata(...) DWLIB_CALL(dwarf_formudata, __VA_ARGS__)
#define dwarf_getalt(...) DWLIB_CALL(dwarf_getalt, __VA_ARGS__)
#define dwarf_getelf(...) DWLIB_CALL(dwarf_getelf, __VA_ARGS__)
#define dwarf_getsrc_die(...) DWLIB_CALL(dwarf_getsrc_die, __VA_ARGS__)
#define dwarf_getsrcfiles(...) DWLIB_CALL(dwarf_getsrcfiles, __VA_ARGS__)
#define dwarf_getsrclines(...) DWLIB_CALL(dwarf_getsrclines, __VA_ARGS__)
#define dwarf_haspc(...) DWLIB_CALL(dwarf_haspc, __VA_ARGS__)
#define dwarf_line_file(...) DWLIB_CALL(dwarf_line_file, __VA_ARGS__)
#define dwarf_lineaddr(...) DWLIB_CALL(dwarf_lineaddr, __VA_ARGS__)
#define dwarf_lineendsequence(...) DWLIB_CALL(dwarf_lineendsequence, __VA_ARGS__)
#define dwarf_lineno(...) DWLIB_CALL(dwarf_lineno, __VA_ARGS__)
#define dwarf_linesrc(...) DWLIB_CALL(dwarf_linesrc, __VA_ARGS__)
#define dwarf_offdie(...) DWLIB_CALL(dwarf_offdie, __VA_ARGS__)
#define dwarf_onesrcline(...) DWLIB_CALL(dwarf_onesrcline, __VA_ARGS__)
#define dwarf_ranges(...) DWLIB_CALL(dwarf_ranges, __VA_ARGS__)
#define dwarf_setalt(...) DWLIB_CALL(dwarf_setalt, __VA_ARGS__)
#define dwarf_siblingof(...) DWLIB_CALL(dwarf_siblingof, __VA_ARGS__)
#define dwarf_tag(...) DWLIB_CALL(dwarf_tag, __VA_ARGS__)
#define dwelf_dwarf_gnu_debugaltlink(...) DWLIB_CALL(dwelf_dwarf_gnu_debugaltlink, __VA_ARGS__)
#define dwfl_addrmodule(...) DWLIB_CALL(dwfl_addrmodule, __VA_ARGS__)
#define dwfl_begin(...) DWLIB_CALL(dwfl_begin, __VA_ARGS__)
#define dwfl_end(...) DWLIB_CALL(dwfl_end, __VA_ARGS__)
#define dwfl_getmodules(...) DWLIB_CALL(dwfl_getmodules, __VA_ARGS__)
#define dwfl_linux_proc_find_elf(...) DWLIB_CALL(dwfl_linux_proc_find_elf, __VA_ARGS__)
#define dwfl_linux_proc_report(...) DWLIB_CALL(dwfl_linux_proc_report, __VA_ARGS__)
#define dwfl_module_addrdie(...) DWLIB_CALL(dwfl_module_addrdie, __VA_ARGS__)
#define dwfl_module_addrinfo(...) DWLIB_CALL(dwfl_module_addrinfo, __VA_ARGS__)
#define dwfl_module_build_id(...) DWLIB_CALL(dwfl_module_build_id, __VA_ARGS__)
#define dwfl_module_getdwarf(...) DWLIB_CALL(dwfl_module_getdwarf, __VA_ARGS__)
#define dwfl_module_getelf(...) DWLIB_CALL(dwfl_module_getelf, __VA_ARGS__)
#define dwfl_module_getsym_info(...) DWLIB_CALL(dwfl_module_getsym_info, __VA_ARGS__)
#define dwfl_module_getsymtab(...) DWLIB_CALL(dwfl_module_getsymtab, __VA_ARGS__)
#define dwfl_module_info(...) DWLIB_CALL(dwfl_module_info, __VA_ARGS__)
#define dwfl_module_nextcu(...) DWLIB_CALL(dwfl_module_nextcu, __VA_ARGS__)
#define dwfl_report_begin(...) DWLIB_CALL(dwfl_report_begin, __VA_ARGS__)
#define dwfl_report_begin_add(...) DWLIB_CALL(dwfl_report_begin_add, __VA_ARGS__)
#define dwfl_report_end(...) DWLIB_CALL(dwfl_report_end, __VA_ARGS__)
#define elf_begin(...) DWLIB_CALL(elf_begin, __VA_ARGS__)
#define elf_end(...) DWLIB_CALL(elf_end, __VA_ARGS__)
#define elf_getdata(...) DWLIB_CALL(elf_getdata, __VA_ARGS__)
#define elf_getscn(...) DWLIB_CALL(elf_getscn, __VA_ARGS__)
#define elf_kind(...) DWLIB_CALL(elf_kind, __VA_ARGS__)
#define elf_nextscn(...) DWLIB_CALL(elf_nextscn, __VA_ARGS__)
#define elf_rawfile(...) DWLIB_CALL(elf_rawfile, __VA_ARGS__)
#define elf_version(...) DWLIB_CALL(elf_version, __VA_ARGS__)
#define gelf_getshdr(...) DWLIB_CALL(gelf_getshdr, __VA_ARGS__)
#define gelf_getsym(...) DWLIB_CALL(gelf_getsym, __VA_ARGS__)
#endif

#endif
