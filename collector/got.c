/*
 * got.c - the GOT rewrite of heapline attach (got.h).
 *
 * Invariant: an entry is only ever changed from whatever it held to the
 * collector's own function of the same name, with one aligned 8-byte store,
 * so a thread calling through it at that moment gets either function, both
 * of which work. The dynamic loader's own module is never touched (its
 * private malloc is not the program's), nor the vDSO.
 */
#include "got.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The collector's definitions (hooks.c, core.c, fds.c): their addresses
 * inside this module, not what symbol lookup finds first. */
extern void *malloc(size_t);
extern void free(void *);
extern void *calloc(size_t, size_t);
extern void *realloc(void *, size_t);
extern void *reallocarray(void *, size_t, size_t);
extern int posix_memalign(void **, size_t, size_t);
extern void *aligned_alloc(size_t, size_t);
extern void *memalign(size_t, size_t);
extern void *valloc(size_t);
extern void *pvalloc(size_t);
extern int close_range(unsigned int, unsigned int, int);
extern void closefrom(int);

static void *got_dlopen(const char *file, int flags);

/* own = 1: also in the collector's own module (its calls to malloc must
 * reach its own hooks, as with LD_PRELOAD, where they come first). */
struct got_name {
    const char *name;
    void *fn;
    int own;
};

static struct got_name got_names[20];
static size_t got_n;
static pthread_mutex_t got_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_ulong got_changed;
static void *(*real_dlopen)(const char *, int);
static uintptr_t own_base; /* load address of the collector's module */

/* The addresses of the collector's definitions. Taken through dlsym on our
 * own module's handle: a plain &malloc in this module would be resolved by
 * the loader to the first definition in the program's scope (libc's). */
static int got_names_init(void)
{
    static const char *const mine[] = {
        "malloc",        "free",     "calloc",      "realloc",  "reallocarray", "posix_memalign",
        "aligned_alloc", "memalign", "valloc",      "pvalloc",  "_exit",        "_Exit",
        "dlclose",       "close",    "close_range", "closefrom"};
    Dl_info di;
    void *self;

    if (got_n)
        return 0;
    if (!dladdr((void *)got_names_init, &di) || !di.dli_fname)
        return -1;
    own_base = (uintptr_t)di.dli_fbase;
    self = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!self)
        return -1;
    real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
        void *fn = dlsym(self, mine[i]);

        if (fn)
            got_names[got_n++] = (struct got_name){mine[i], fn, i < 10};
    }
    dlclose(self); /* NOLOAD took a reference; the module stays */
    if (real_dlopen)
        got_names[got_n++] = (struct got_name){"dlopen", (void *)got_dlopen, 0};
    return got_n ? 0 : -1;
}

static const struct got_name *got_lookup(const char *name, int own)
{
    for (size_t i = 0; i < got_n; i++)
        if (strcmp(got_names[i].name, name) == 0)
            return own && !got_names[i].own ? NULL : &got_names[i];
    return NULL;
}

struct got_module {
    uintptr_t bias;
    const ElfW(Sym) * symtab;
    const char *strtab;
    uintptr_t relro_lo, relro_hi;
    int own;
};

/* A pointer from the dynamic section: the loader has already added the load
 * bias to most of them (not in the vDSO, nor on every architecture). */
static uintptr_t dyn_ptr(uintptr_t v, uintptr_t bias)
{
    return v < bias ? v + bias : v;
}

static void got_write(const struct got_module *m, void **slot, void *fn)
{
    uintptr_t page = (uintptr_t)slot & ~(uintptr_t)(getpagesize() - 1);
    int ro = (uintptr_t)slot >= m->relro_lo && (uintptr_t)slot < m->relro_hi;

    if (*slot == fn)
        return;
    if (ro && mprotect((void *)page, (size_t)getpagesize(), PROT_READ | PROT_WRITE) != 0)
        return;
    __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    atomic_fetch_add(&got_changed, 1);
    if (ro)
        mprotect((void *)page, (size_t)getpagesize(), PROT_READ);
}

static void got_relocs(const struct got_module *m, const ElfW(Rela) * r, size_t bytes)
{
    for (size_t i = 0; i < bytes / sizeof(*r); i++) {
        unsigned long type = ELF64_R_TYPE(r[i].r_info), sym = ELF64_R_SYM(r[i].r_info);
        const struct got_name *g;

#if defined(__x86_64__)
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
#elif defined(__aarch64__)
        if (type != R_AARCH64_JUMP_SLOT && type != R_AARCH64_GLOB_DAT)
            continue;
#else
        continue;
#endif
        if (!sym || !(g = got_lookup(m->strtab + m->symtab[sym].st_name, m->own)))
            continue;
        got_write(m, (void **)(m->bias + r[i].r_offset), g->fn);
    }
}

static int got_module_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    const ElfW(Dyn) *dyn = NULL;
    struct got_module m = {.bias = info->dlpi_addr};
    uintptr_t jmprel = 0, rela = 0;
    size_t jmprel_sz = 0, rela_sz = 0;
    const char *name = info->dlpi_name ? info->dlpi_name : "";

    if (strstr(name, "/ld-linux") || strstr(name, "linux-vdso") || strstr(name, "/ld-musl"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
        else if (ph->p_type == PT_GNU_RELRO) {
            m.relro_lo = info->dlpi_addr + ph->p_vaddr;
            m.relro_hi = m.relro_lo + ph->p_memsz;
        }
    }
    if (!dyn)
        return 0;
    m.own = info->dlpi_addr == own_base;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB:
            m.symtab = (const ElfW(Sym) *)dyn_ptr(d->d_un.d_ptr, m.bias);
            break;
        case DT_STRTAB:
            m.strtab = (const char *)dyn_ptr(d->d_un.d_ptr, m.bias);
            break;
        case DT_JMPREL:
            jmprel = dyn_ptr(d->d_un.d_ptr, m.bias);
            break;
        case DT_PLTRELSZ:
            jmprel_sz = d->d_un.d_val;
            break;
        case DT_RELA:
            rela = dyn_ptr(d->d_un.d_ptr, m.bias);
            break;
        case DT_RELASZ:
            rela_sz = d->d_un.d_val;
            break;
        }
    }
    if (!m.symtab || !m.strtab)
        return 0;
    if (jmprel)
        got_relocs(&m, (const ElfW(Rela) *)jmprel, jmprel_sz);
    if (rela)
        got_relocs(&m, (const ElfW(Rela) *)rela, rela_sz);
    return 0;
}

int got_patch_all(void)
{
    unsigned long before;

    pthread_mutex_lock(&got_mu);
    if (got_names_init() < 0) {
        pthread_mutex_unlock(&got_mu);
        return -1;
    }
    before = atomic_load(&got_changed);
    dl_iterate_phdr(got_module_cb, NULL);
    pthread_mutex_unlock(&got_mu);
    return (int)(atomic_load(&got_changed) - before);
}

unsigned long got_patched_count(void)
{
    return atomic_load(&got_changed);
}

/* The program's dlopen: what it loads binds its malloc to libc's; patch it
 * (and whatever it pulled in) before the handle is returned. Allocations
 * made by the new module's constructors are not seen; their frees are
 * counted as frees of unknown blocks. */
static void *got_dlopen(const char *file, int flags)
{
    void *h = real_dlopen(file, flags);

    if (h)
        got_patch_all();
    return h;
}
