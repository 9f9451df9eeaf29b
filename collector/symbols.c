/*
 * symbols.c - symbolization with libdwfl.
 *
 * Invariant: a module gets its id (1..) the first time one of its ips is
 * described, and keeps it; the id lives in the Dwfl_Module's user data, so a
 * re-report after dlopen keeps the ids of modules that stayed. An ip outside
 * every module is described with module 0 and no names.
 */
#include "symbols.h"

#include <dlfcn.h>
#include <sys/auxv.h>
#include <pthread.h>
#include <fcntl.h>
#include <link.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "debugfile.h"
#include "demangle.h"
#include "dwlib.h"
#include "dwscopes.h"
#include "elfpages.h"
#include "fds.h"
#include "lines.h"
#include "symfile.h"
#include "wire.h"

/* A module's build id as lowercase hex into out (2 * 64 + 1 bytes); NULL
 * when it has none. */
static const char *build_id_of(Dwfl_Module *mod, char *out)
{
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(mod, &bits, &vaddr);

    if (len <= 0 || len > 64)
        return NULL;
    for (int i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", bits[i]);
    return out;
}

/* ---- names only ----
 * A shared library's debug file from the distribution (/usr/lib/debug by
 * build id: libc6-dbg's libc and ld.so) is read for its .symtab alone
 * (symfile.h), never handed to libdw: libdw inflated all of libc's DWARF
 * sections, 10 MB of the collector's 14.7 MB of libdw on a python3 run, and
 * mapped the 4 MB file, for libc's file:line and inlined frames, which a user
 * looking at their own code does not need. The program's executable, and any
 * debug file under HEAPLINE_DEBUG_DIR or found by .gnu_debuglink, keep their
 * DWARF (HEAPLINE_DEBUG_DIR=/usr/lib/debug brings libc's back). */
struct names_only {
    Dwfl_Module *m;
    char *path; /* its debug file */
};
static struct names_only *names_only;
static size_t n_names_only;

static const char *names_only_path(Dwfl_Module *m)
{
    for (size_t i = 0; i < n_names_only; i++)
        if (names_only[i].m == m)
            return names_only[i].path;
    return NULL;
}

/* Whether the debug file at path gives mod its names only (above); noted. */
static int names_only_take(Dwfl_Module *mod, const char *path)
{
    Dwarf_Addr start = 0, end = 0;
    uint64_t entry = (uint64_t)getauxval(AT_ENTRY);
    void *p;

    dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
    if (!debugfile_is_system(path) || (entry >= start && entry < end))
        return 0;
    p = realloc(names_only, (n_names_only + 1) * sizeof(*names_only));
    if (!p)
        return 0;
    names_only = p;
    if (!(names_only[n_names_only].path = strdup(path)))
        return 0;
    names_only[n_names_only++].m = mod;
    return 1;
}

static void names_only_free(void)
{
    for (size_t i = 0; i < n_names_only; i++)
        free(names_only[i].path);
    free(names_only);
    names_only = NULL;
    n_names_only = 0;
}

/* Separate debug information: the candidates of debugfile.h (local files
 * only, never debuginfod), opened close-on-exec at a high number the
 * program's close() spares (fds.h). libdwfl checks that the file matches.
 * A file that gives names only (above) is not handed over: libdwfl then asks
 * again for the DWARF, and is told there is none. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                          const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    char id[2 * 64 + 1], path[4096 + 300];
    int fd;

    if (names_only_path(mod))
        return -1;
    fd = debugfile_open(file_name, build_id_of(mod, id), debuglink_file, path, sizeof(path));
    if (fd < 0)
        return -1;
    if (names_only_take(mod, path)) {
        close(fd);
        return -1;
    }
    if (!(*debuginfo_file_name = strdup(path))) {
        close(fd);
        return -1;
    }
    return fds_adopt_closable(fd);
}

/* The module's file, opened close-on-exec (libdwfl's own lookup would leave
 * the program's exec'd children holding our descriptors), at a high number
 * the program's close() spares (fds.h). */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *module_name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    int fd = -1;

    if (module_name && module_name[0] == '/') {
        fd = open(module_name, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            *file_name = strdup(module_name);
            if (*file_name)
                return fds_adopt_closable(fd);
            close(fd);
        }
    }
    fd = dwfl_linux_proc_find_elf(mod, userdata, module_name, base, file_name, elfp);
    if (fd >= 0 && !*elfp)
        return fds_adopt_closable(fd);
    if (fd >= 0) { /* an Elf already reads it: keep the number */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fds_protect_closable(fd);
    }
    return fd;
}

static Dwfl *dwfl;
static int64_t used_ns, trimmed_ns; /* used_ns: the last use since a trim, 0 none */
static size_t trimmed_bytes;        /* given back by symbols_trim() */
static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};
static uint32_t next_module = 1;

static uint64_t *seen; /* open addressing set of ips, 0 = empty */
static size_t seen_cap, seen_n;

static char *names[WIRE_MAX_INLINED + 2]; /* demangled strings of the last call */
static int n_names;
static struct wire_inline inl[WIRE_MAX_INLINED];
static struct symbols_module modinfo;
static char build_id_hex[2 * 64 + 1];

static unsigned long long seen_adds, seen_subs;

static int count_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    unsigned long long *c = arg;

    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1;
}

/* The loader's counts of modules loaded and unloaded so far, into c. */
static void loader_counts(unsigned long long c[2])
{
    c[0] = c[1] = 0;
    dl_iterate_phdr(count_cb, c);
}

/* The loader's counts at the last report from scratch: one per change of
 * the modules at most, whatever the addresses asked. */
static unsigned long long anew_adds, anew_subs;

static int modules_changed_since_anew(void)
{
    unsigned long long c[2];

    loader_counts(c);
    if (c[0] == anew_adds && c[1] == anew_subs)
        return 0;
    anew_adds = c[0];
    anew_subs = c[1];
    return 1;
}

/* Whether modules were loaded or unloaded since the last report (an address
 * in no known module is then worth a new report; else it is JIT code or
 * garbage and a report would only cost time). */
static int modules_changed(void)
{
    unsigned long long c[2];

    loader_counts(c);
    return c[0] != seen_adds || c[1] != seen_subs;
}

/* ---- function symbols ----
 * dwfl_module_addrinfo() scans the whole symbol table on every call (libelf's
 * gelf_getsym per symbol): with libpython's 20k symbols that was a fifth of
 * the collector thread's time on a python3 run. Each module's function
 * symbols are read once into an array sorted by address and searched; an
 * address no sized function symbol covers goes to dwfl_module_addrinfo(),
 * whose rules for sizeless symbols then apply as before, unless no symbol
 * of libdwfl's could name it (symfile_cover: a stripped library's own
 * functions, which were most of its calls). */
struct fsyms {
    Dwfl_Module *m;
    struct symfile_table s;     /* from libdwfl: only s.v, names in libelf's string
                                   tables (they live as long as the Dwfl); from a
                                   names-only debug file: all of it (symfile.h) */
    struct symfile_cover cover; /* from libdwfl: where dwfl_module_addrinfo() may
                                   name something (else empty: anywhere) */
};
static struct fsyms *fsyms; /* one per module seen, in order of first use */
static size_t n_fsyms, cap_fsyms;

/* t's symbols from m's names-only debug file; -1 when it could not be read
 * (its .dynsym is used then). */
static int fsyms_from_file(Dwfl_Module *m, struct fsyms *t)
{
    Dwarf_Addr bias = 0;

    if (!dwfl_module_getelf(m, &bias))
        return -1;
    return symfile_read(names_only_path(m), bias, &t->s);
}

/* The module's sorted function symbols, read at first use (NULL: none or
 * out of memory; dwfl_module_addrinfo() is used then). */
static const struct fsyms *fsyms_of(Dwfl_Module *m)
{
    struct fsyms *t = NULL;
    int n;

    for (size_t i = 0; i < n_fsyms; i++)
        if (fsyms[i].m == m)
            return fsyms[i].s.v ? &fsyms[i] : NULL;
    if (n_fsyms == cap_fsyms) {
        size_t cap = cap_fsyms ? cap_fsyms * 2 : 64;
        void *p = realloc(fsyms, cap * sizeof(*fsyms));

        if (!p)
            return NULL;
        fsyms = p;
        cap_fsyms = cap;
    }
    t = &fsyms[n_fsyms++];
    *t = (struct fsyms){m, {0}, {0}};
    n = dwfl_module_getsymtab(m); /* looks for the debug file first */
    if (names_only_path(m) && fsyms_from_file(m, t) == 0)
        return t;
    if (n <= 1 || !(t->s.v = malloc((size_t)n * sizeof(*t->s.v))))
        return NULL;
    struct symfile_sym *cand = malloc((size_t)n * sizeof(*cand)); /* libdwfl's candidates */
    size_t nc = 0;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(m, i, &sym, &addr, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);

        if (cand && name && *name && sym.st_shndx != SHN_UNDEF && type != STT_SECTION &&
            type != STT_FILE && type != STT_TLS)
            cand[nc++] =
                (struct symfile_sym){addr, sym.st_size ? addr + sym.st_size : UINT64_MAX, NULL, 0};
        if (!name || !*name || sym.st_size == 0 || sym.st_shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC))
            continue;
        t->s.v[t->s.n++] = (struct symfile_sym){addr, addr + sym.st_size, name,
                                                bind == STB_GLOBAL ? 2 : bind == STB_WEAK};
    }
    symfile_sort(t->s.v, t->s.n);
    if (cand)
        symfile_cover_build(&t->cover, cand, nc);
    free(cand);
    return t;
}

/* ---- compilation units ----
 * libdwfl finds the CU of an address through .debug_aranges, which clang
 * does not write (without -gdwarf-aranges): every address of a clang-built
 * module then had no file, no line and no inlined frames. And between two
 * aranges it answers with the CU before the gap (code without debug
 * information, such as crt1.o's _start, gets a CU that does not cover it).
 * So a CU is used only if its own ranges hold the address; otherwise the
 * module's CU ranges, read once into a sorted array, are searched. */
struct curange {
    Dwarf_Addr lo, hi; /* module addresses (bias added) */
    Dwarf_Die cu;
    Dwarf_Addr bias;
};
struct curanges {
    Dwfl_Module *m;
    struct curange *v;
    size_t n;
};
static struct curanges *curanges;
static size_t n_curanges, cap_curanges;

static int curange_cmp(const void *pa, const void *pb)
{
    const struct curange *a = pa, *b = pb;

    return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* The module's CU ranges, read at first use (NULL: none or out of memory). */
static struct curanges *curanges_of(Dwfl_Module *m)
{
    struct curanges *t;
    Dwarf_Die *cu = NULL;
    Dwarf_Addr bias;
    size_t cap = 0;

    for (size_t i = 0; i < n_curanges; i++)
        if (curanges[i].m == m)
            return curanges[i].n ? &curanges[i] : NULL;
    if (n_curanges == cap_curanges) {
        size_t nc = cap_curanges ? cap_curanges * 2 : 16;
        void *p = realloc(curanges, nc * sizeof(*curanges));

        if (!p)
            return NULL;
        curanges = p;
        cap_curanges = nc;
    }
    t = &curanges[n_curanges++];
    *t = (struct curanges){m, NULL, 0};
    while ((cu = dwfl_module_nextcu(m, cu, &bias)) != NULL) {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;

        while ((off = dwarf_ranges(cu, off, &base, &lo, &hi)) > 0) {
            if (lo == 0 || hi <= lo) /* a discarded section's tombstone */
                continue;
            if (t->n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                void *p = realloc(t->v, nc * sizeof(*t->v));

                if (!p) {
                    free(t->v);
                    *t = (struct curanges){m, NULL, 0};
                    return NULL;
                }
                t->v = p;
                cap = nc;
            }
            t->v[t->n++] = (struct curange){lo + bias, hi + bias, *cu, bias};
        }
    }
    if (t->n)
        qsort(t->v, t->n, sizeof(*t->v), curange_cmp);
    return t->n ? t : NULL;
}

/* The CU whose own ranges hold pc, and its bias; NULL when none does. */
static Dwarf_Die *module_cu(Dwfl_Module *m, Dwarf_Addr pc, Dwarf_Addr *bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(m, pc, bias);
    struct curanges *t;
    size_t lo = 0, hi;

    if (cu && dwarf_haspc(cu, pc - *bias) > 0)
        return cu;
    if (!(t = curanges_of(m)))
        return NULL;
    hi = t->n;
    while (lo < hi) { /* the first range starting after pc */
        size_t mid = (lo + hi) / 2;

        if (t->v[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i > 0 && lo - i < 8; i--) /* nested or overlapping CUs: a few back */
        if (pc < t->v[i - 1].hi) {
            *bias = t->v[i - 1].bias;
            return &t->v[i - 1].cu;
        }
    return NULL;
}

static void fsyms_free(void)
{
    for (size_t i = 0; i < n_fsyms; i++) {
        symfile_free(&fsyms[i].s);
        symfile_cover_free(&fsyms[i].cover);
    }
    free(fsyms);
    fsyms = NULL;
    n_fsyms = cap_fsyms = 0;
    for (size_t i = 0; i < n_curanges; i++)
        free(curanges[i].v);
    free(curanges);
    curanges = NULL;
    n_curanges = cap_curanges = 0;
}

/* Reports the modules mapped now: added to those known (anew = 0), or
 * replacing them (1: a module reported again with the same range keeps its
 * Dwfl_Module, and with it its id; the others are freed, so the caches
 * kept by Dwfl_Module and by CU go first: a later module could be given a
 * freed one's address). */
static void report_modules(int anew)
{
    unsigned long long c[2];

    loader_counts(c);
    seen_adds = c[0];
    seen_subs = c[1];
    dwscopes_forget(); /* modules gone are freed with their debug data */
    if (anew) {
        fsyms_free();
        lines_free();
        dwfl_report_begin(dwfl);
    } else {
        dwfl_report_begin_add(dwfl);
    }
    dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, NULL, NULL);
}

static void report(void)
{
    report_modules(0);
}

/* Whether the dynamic loader places pc in the module m that the Dwfl gives
 * for it. A module's range in the Dwfl can outlast what is mapped there:
 * a library dlopen()ed in the pages just past libdw's, after libdw was
 * reported, had its frames named libdw-0.188.so+0xae16f (t_dlopen, 1 run in
 * 20 with a second recording running beside it), and a re-report that only
 * adds modules kept that range. _dl_find_object (glibc 2.35) takes no lock:
 * the program may hold the loader's while it waits for the collector. An
 * address in no loaded object (the vDSO, JIT code, a library unloaded
 * since) keeps the Dwfl's answer. */
static int loader_agrees(Dwfl_Module *m, Dwarf_Addr pc)
{
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 35)
    struct dl_find_object o;
    Dwarf_Addr start = 0;

    if (_dl_find_object((void *)(uintptr_t)pc, &o) != 0)
        return 1;
    dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    return (uintptr_t)o.dlfo_map_start == start;
#else
    (void)m;
    (void)pc;
    return 1;
#endif
}

/* Held by the collector around every use of the Dwfl, and by fork() (atfork
 * prepare), so a fork child gets a consistent copy it can keep using. */
static pthread_mutex_t sym_mu = PTHREAD_MUTEX_INITIALIZER;

int symbols_init(void)
{
    if (dwfl)
        return 0; /* inherited through fork: its parsed tables stay useful */
    if (dwlib_load() != 0)
        return -1; /* said: frames go without names */
    pthread_mutex_lock(&sym_mu);
    dwfl = dwfl_begin(&callbacks);
    if (dwfl)
        report();
    pthread_mutex_unlock(&sym_mu);
    return dwfl ? 0 : -1;
}

void symbols_fini(void)
{
    pthread_mutex_lock(&sym_mu);
    fsyms_free(); /* names point into the Dwfl's string tables */
    lines_free(); /* reads through the Dwfl's Elf handles */
    dwscopes_forget();
    if (dwfl)
        dwfl_end(dwfl);
    dwfl = NULL;
    names_only_free();
    pthread_mutex_unlock(&sym_mu);
    free(seen);
    seen = NULL;
    seen_cap = seen_n = 0;
}

void symbols_warm(uint64_t ip)
{
    Dwfl_Module *m;

    pthread_mutex_lock(&sym_mu);
    m = dwfl ? dwfl_addrmodule(dwfl, ip - 1) : NULL;
    if (m) {
        Dwarf_Addr bias = 0, row;
        Dwarf_Die *cu;
        const char *file;
        int line;

        fsyms_of(m);
        if ((cu = module_cu(m, ip - 1, &bias)) != NULL)
            lines_find(cu, ip - 1 - bias, &file, &line, &row);
        used_ns = core_now();
    }
    pthread_mutex_unlock(&sym_mu);
}

uint32_t symbols_module_id(void)
{
    uint32_t id;

    pthread_mutex_lock(&sym_mu);
    id = (uint32_t)next_module++;
    pthread_mutex_unlock(&sym_mu);
    return id;
}

int symbols_first(uint64_t ip)
{
    if ((seen_n + 1) * 2 > seen_cap) {
        size_t cap = seen_cap ? seen_cap * 2 : 4096;
        uint64_t *t = calloc(cap, sizeof(*t));

        if (!t)
            return 1;
        for (size_t i = 0; i < seen_cap; i++) {
            if (!seen[i])
                continue;
            size_t j = (seen[i] * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
            while (t[j])
                j = (j + 1) & (cap - 1);
            t[j] = seen[i];
        }
        free(seen);
        seen = t;
        seen_cap = cap;
    }
    uint64_t key = ip ? ip : 1;
    size_t j = (key * 0x9E3779B97F4A7C15ull >> 20) & (seen_cap - 1);
    while (seen[j]) {
        if (seen[j] == key)
            return 0;
        j = (j + 1) & (seen_cap - 1);
    }
    seen[j] = key;
    seen_n++;
    return 1;
}

static const char *keep(char *s)
{
    if (s && n_names < (int)(sizeof(names) / sizeof(names[0])))
        names[n_names++] = s;
    else
        free(s);
    return s;
}

static const char *nice_name(const char *name)
{
    const char *at = name ? strchr(name, '@') : NULL;

    if (at && at > name) /* symbol version: "foo@@GLIBC_2.34" */
        name = keep(strndup(name, (size_t)(at - name)));
    char *d = demangle_cxx(name);

    return d ? keep(d) : name;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));

    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
    return nice_name(n);
}

#define SCOPES_MAX 64

/* Where the function around pc starts, from its DIE: the start of the range
 * of the subprogram that holds pc (a function split in hot and cold parts has
 * two). 0 when none does. */
static Dwarf_Addr die_start(Dwarf_Die *fn, Dwarf_Addr pc)
{
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;

    while ((off = dwarf_ranges(fn, off, &base, &lo, &hi)) > 0)
        if (lo <= pc && pc < hi)
            return lo;
    return 0;
}

/* Inlined frames at pc (path: the DIEs holding it, outermost first):
 * f->function becomes the innermost inlined function (f->file/line, from the
 * line table, are its own), inl[] the functions it is inlined into, each at
 * its call to the one before; the last is `outer`, the machine function. */
static void inlined(Dwarf_Die *cu, Dwarf_Die *path, int n, struct wire_frame *f, const char *outer)
{
    const char *fn = NULL;
    uint32_t k = 0;

    for (int i = n - 1; i >= 0 && k < WIRE_MAX_INLINED; i--) {
        if (dwarf_tag(&path[i]) != DW_TAG_inlined_subroutine)
            continue;
        Dwarf_Attribute a;
        Dwarf_Word cf = 0, cl = 0;
        const char *name = die_name(&path[i]);

        dwarf_formudata(dwarf_attr(&path[i], DW_AT_call_file, &a), &cf);
        dwarf_formudata(dwarf_attr(&path[i], DW_AT_call_line, &a), &cl);
        if (k == 0)
            fn = name; /* innermost: keeps the line table's file:line */
        else
            inl[k - 1].function = name;
        /* the caller of this inlined body is the next enclosing function */
        inl[k].file = lines_file(cu, cf);
        inl[k].line = (uint32_t)cl;
        inl[k].function = outer; /* replaced if another inlined level follows */
        k++;
    }
    if (k > 0) {
        f->function = fn ? fn : f->function;
        f->inlined = inl;
        f->n_inlined = k;
    }
}

/* Names ip's function, file:line and inlined frames so that a frame's line
 * is its own: the function is the sized symbol that covers pc, else the
 * subprogram DIE that holds it, else the nearest symbol below; its file:line
 * is the line table's row for pc only when that row starts inside the same
 * function (at or after the function's start, or its part's). A row from
 * before the function's start belongs to other code: crt1.o's _start, which
 * has no debug information, or an assembler function in a C file's code, got
 * the line of whatever came before it. No known start, no line. */
static void describe(Dwfl_Module *m, Dwarf_Addr pc, struct wire_frame *f)
{
    const struct fsyms *fs = fsyms_of(m);
    const struct symfile_sym *sym = fs ? symfile_find(fs->s.v, fs->s.n, pc) : NULL;
    const char *name = sym ? sym->name : NULL;
    Dwarf_Addr start = sym ? sym->lo : 0, bias = 0;
    Dwarf_Die *cu, path[SCOPES_MAX];
    int n = 0;

    const struct symfile_sym *label = !sym && fs ? symfile_label(&fs->s, pc) : NULL;
    if (label) { /* a names-only debug file's: libdwfl has only .dynsym */
        name = label->name;
        start = label->lo;
    } else if (!sym && (!fs || symfile_cover_may(&fs->cover, pc))) {
        GElf_Off off = 0;
        GElf_Sym gs;

        name = dwfl_module_addrinfo(m, pc, &off, &gs, NULL, NULL, NULL);
        start = name ? pc - off : 0;
    }
    cu = module_cu(m, pc, &bias);
    if (cu)
        n = dwscopes_at(cu, pc - bias, path, SCOPES_MAX);
    if (n > 0 && dwarf_tag(&path[0]) == DW_TAG_subprogram && !sym) {
        Dwarf_Addr lo = die_start(&path[0], pc - bias);
        const char *dn = die_name(&path[0]);

        if (dn) {
            name = dn;
            start = lo ? lo + bias : 0;
        }
    }
    f->function = nice_name(name);
    if (!cu)
        return;
    const char *file = NULL;
    int lineno = 0;
    Dwarf_Addr row = 0;
    if (lines_find(cu, pc - bias, &file, &lineno, &row) == 0 && start && row + bias >= start) {
        f->file = file;
        f->line = lineno > 0 ? (uint32_t)lineno : 0;
    }
    if (n > 0 && start)
        inlined(cu, path, n, f, f->function);
}

/* Where a module's function names come from (enum wire_symbols): its own
 * .symtab, else the separate debug file libdwfl found for it (loading the
 * symbol table looks for one: find_debuginfo), else only its exported
 * names. */
static uint32_t symbols_source(Dwfl_Module *m, const char **debug_file)
{
    Dwarf_Addr bias;
    Elf *elf = dwfl_module_getelf(m, &bias);
    Elf_Scn *scn = NULL;
    const char *dbg = NULL;

    *debug_file = NULL;
    if (!elf)
        return WIRE_SYMBOLS_UNKNOWN;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr sh;

        if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
            return WIRE_SYMBOLS_OWN;
    }
    dwfl_module_getsymtab(m);
    dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, NULL, &dbg);
    if (!dbg && names_only_path(m) && fsyms_of(m) && fsyms_of(m)->s.strings)
        dbg = names_only_path(m);
    if (dbg) {
        *debug_file = dbg;
        return WIRE_SYMBOLS_DEBUG_FILE;
    }
    return WIRE_SYMBOLS_EXPORTED;
}

static void frame_locked(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod);

/* ---- the files' pages ----
 * What libdw read of a module's file stays resident (elfpages.h): once the
 * frames stop coming (TRIM_QUIET_NS without one), or every TRIM_MAX_NS while
 * they keep coming, the pages of every loaded file are given back. Every
 * 2 s, python3's JSON bench (new frames throughout) held 2 MB more of
 * libpython's file at its peak; at 0.5 s the run gives back 21.8-22.6 MB in
 * all against 22.0 (what libdw read again after a trim is small). */
#define TRIM_QUIET_NS 200000000ll
#define TRIM_MAX_NS 500000000ll

static void trim_image(Elf *elf)
{
    size_t size;
    char *raw = elf ? elf_rawfile(elf, &size) : NULL;

    if (raw)
        trimmed_bytes += elfpages_drop(raw, size);
}

static int trim_module(Dwfl_Module *m, void **user, const char *name, Dwarf_Addr start, void *arg)
{
    const char *main_file = NULL, *debug_file = NULL;
    Dwarf_Addr bias;
    Elf *elf = NULL;
    Dwarf *dw;

    /* only files already open: the getters would open the others */
    dwfl_module_info(m, NULL, NULL, NULL, NULL, NULL, &main_file, &debug_file);
    if (main_file)
        trim_image(elf = dwfl_module_getelf(m, &bias));
    if (debug_file && (dw = dwfl_module_getdwarf(m, &bias)) != NULL && dwarf_getelf(dw) != elf)
        trim_image(dwarf_getelf(dw));
    return DWARF_CB_OK;
}

void symbols_trim(int64_t now)
{
    if (!used_ns || (now - used_ns < TRIM_QUIET_NS && now - trimmed_ns < TRIM_MAX_NS))
        return;
    pthread_mutex_lock(&sym_mu);
    used_ns = 0;
    trimmed_ns = now;
    if (dwfl)
        dwfl_getmodules(dwfl, trim_module, NULL, 0);
    pthread_mutex_unlock(&sym_mu);
}

size_t symbols_trimmed_bytes(void)
{
    return trimmed_bytes;
}

void symbols_frame(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod)
{
    pthread_mutex_lock(&sym_mu);
    frame_locked(ip, f, mod);
    used_ns = core_now();
    pthread_mutex_unlock(&sym_mu);
}

static void frame_locked(uint64_t ip, struct wire_frame *f, const struct symbols_module **mod)
{
    Dwfl_Module *m;
    Dwarf_Addr pc = ip ? ip - 1 : 0;

    for (int i = 0; i < n_names; i++)
        free(names[i]);
    n_names = 0;
    memset(f, 0, sizeof(*f));
    f->ip = ip;
    *mod = NULL;
    if (!dwfl)
        return;
    m = dwfl_addrmodule(dwfl, pc);
    if (!m && modules_changed()) {
        report(); /* a module loaded since: dlopen */
        m = dwfl_addrmodule(dwfl, pc);
    }
    if (m && !loader_agrees(m, pc) && modules_changed_since_anew()) {
        report_modules(1); /* the loader's view, from scratch */
        m = dwfl_addrmodule(dwfl, pc);
    }
    if (!m)
        return;

    void **user;
    Dwarf_Addr start, end;
    const char *path = dwfl_module_info(m, &user, &start, &end, NULL, NULL, NULL, NULL);
    if (!*user) {
        *user = (void *)(uintptr_t)next_module++;
        modinfo.id = (uint32_t)(uintptr_t)*user;
        modinfo.path = path;
        modinfo.base = start;
        modinfo.size = end - start;
        modinfo.symbols = symbols_source(m, &modinfo.debug_file); /* opens the file first */
        modinfo.build_id = build_id_of(m, build_id_hex);
        *mod = &modinfo;
    }
    f->module = (uint32_t)(uintptr_t)*user;
    describe(m, pc, f);
}

void symbols_atfork_prepare(void)
{
    pthread_mutex_lock(&sym_mu);
}

void symbols_atfork_parent(void)
{
    pthread_mutex_unlock(&sym_mu);
}

static int forget_module(Dwfl_Module *m, void **user, const char *name, Dwarf_Addr start, void *arg)
{
    *user = NULL;
    return DWARF_CB_OK;
}

void symbols_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&sym_mu, &fresh, sizeof(fresh));
    /* The child's stream starts empty: every frame and module is new to it.
     * The Dwfl and what it parsed stay (the parent's copy, consistent since
     * fork() held sym_mu). */
    seen = NULL;
    seen_cap = seen_n = 0;
    next_module = 1;
    if (dwfl)
        dwfl_getmodules(dwfl, forget_module, NULL, 0);
}
