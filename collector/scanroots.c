/*
 * scanroots.c - gathering, clipping and naming the roots of a scan.
 *
 * Invariant: the child only reads what the parent gathered before the fork
 * plus /proc/self/maps through raw read(2); no loader or stdio lock is
 * touched after the fork.
 */
#include "scanroots.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "debugfile.h"
#include "ownmaps.h"
#include "procmaps.h"

struct collect_ctx {
    struct scanroots *r;
    size_t cap_mods, cap_roots;
    int failed;
    uint64_t self[16]; /* the collector's writable segments (lo, hi): its bss is no anon root */
    size_t n_self;
};

static int push_root(struct collect_ctx *c, const struct scanbfs_root *root)
{
    struct scanroots *r = c->r;

    if (r->n_roots == c->cap_roots) {
        size_t cap = c->cap_roots ? 2 * c->cap_roots : 64;
        struct scanbfs_root *n = realloc(r->roots, cap * sizeof(*n));
        if (!n)
            return -1;
        r->roots = n;
        c->cap_roots = cap;
    }
    r->roots[r->n_roots++] = *root;
    return 0;
}

static int own_module(const struct dl_phdr_info *info)
{
    uint64_t self = (uint64_t)(uintptr_t)&scanroots_collect;

    if (!info->dlpi_name || !info->dlpi_name[0])
        return 0; /* the executable: never skipped (tests link the engine into it) */
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uint64_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz)
            return 1;
    }
    return 0;
}

/* The C library: its malloc keeps chunk pointers in its own data. */
static int is_allocator(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    return strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0 ||
           strncmp(base, "libc.musl", 9) == 0 || strncmp(base, "ld-musl", 7) == 0;
}

static int collect_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct collect_ctx *c = arg;
    struct scanroots *r = c->r;
    char exe[4096];
    const char *path = info->dlpi_name;
    int any = 0;

    (void)size;
    if (own_module(info)) {
        for (int i = 0; i < info->dlpi_phnum && c->n_self < 8; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
                continue;
            c->self[2 * c->n_self] = info->dlpi_addr + ph->p_vaddr;
            c->self[2 * c->n_self + 1] =
                (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + 4095) & ~(uint64_t)4095;
            c->n_self++;
        }
        return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_W))
            any = 1;
    if (!any)
        return 0;
    if (!path || !path[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        path = exe;
    }
    if (r->n_mods == c->cap_mods) {
        size_t cap = c->cap_mods ? 2 * c->cap_mods : 32;
        struct scanroots_module *n = realloc(r->mods, cap * sizeof(*n));
        if (!n) {
            c->failed = 1;
            return 1;
        }
        r->mods = n;
        c->cap_mods = cap;
    }
    r->mods[r->n_mods].base = info->dlpi_addr;
    r->mods[r->n_mods].path = strdup(path);
    if (!r->mods[r->n_mods].path) {
        c->failed = 1;
        return 1;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        struct scanbfs_root root;
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        root.lo = info->dlpi_addr + ph->p_vaddr;
        root.hi = root.lo + ph->p_memsz;
        root.kind = SCANBFS_GLOBAL;
        root.id = (uint32_t)r->n_mods;
        root.flags = is_allocator(path) ? SCANBFS_ROOT_ALLOCATOR : 0;
        if (push_root(c, &root)) {
            c->failed = 1;
            r->n_mods++;
            return 1;
        }
    }
    r->n_mods++;
    return 0;
}

/* ---- anonymous mappings the program made ---- */

struct map_line {
    uint64_t lo, hi;
    char perms[5];
    int anon; /* no file, no name */
};

static int parse_maps_line(const char *line, struct map_line *m)
{
    unsigned long long lo, hi, off, inode;
    unsigned dmaj, dmin;
    int at = 0;

    if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &lo, &hi, m->perms, &off, &dmaj, &dmin,
               &inode, &at) < 7)
        return -1;
    m->lo = lo;
    m->hi = hi;
    m->anon = inode == 0 && (line[at] == 0 || line[at] == '\n');
    return 0;
}

static int cmp_u64_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;

    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Adds [lo, hi) minus the excluded ranges ex[0..n) (lo, hi pairs sorted by
 * lo) as roots, each piece named "[anon LO-HI]" after itself. The kernel
 * merges neighbouring anonymous mappings into one, so a pool can share a
 * line of /proc/self/maps with the collector's rings. */
static int add_anon(struct collect_ctx *c, uint64_t lo, uint64_t hi, const uint64_t *ex, size_t n)
{
    struct scanroots *r = c->r;
    char name[64];
    uint64_t at = lo;

    for (size_t i = 0; i <= n && at < hi; i++) {
        uint64_t end = i < n ? ex[2 * i] : hi, next = i < n ? ex[2 * i + 1] : hi;
        struct scanbfs_root root;

        if (end > hi)
            end = hi;
        if (end > at) {
            if (r->n_mods == c->cap_mods) {
                size_t nc = c->cap_mods ? 2 * c->cap_mods : 32;
                struct scanroots_module *nm = realloc(r->mods, nc * sizeof(*nm));
                if (!nm)
                    return -1;
                r->mods = nm;
                c->cap_mods = nc;
            }
            snprintf(name, sizeof(name), "[anon 0x%llx-0x%llx]", (unsigned long long)at,
                     (unsigned long long)end);
            r->mods[r->n_mods].base = at;
            r->mods[r->n_mods].path = strdup(name);
            if (!r->mods[r->n_mods].path)
                return -1;
            root = (struct scanbfs_root){.lo = at,
                                         .hi = end,
                                         .kind = SCANBFS_GLOBAL,
                                         .id = (uint32_t)r->n_mods++,
                                         .flags = SCANBFS_ROOT_ANON};
            if (push_root(c, &root))
                return -1;
        }
        if (next > at)
            at = next;
    }
    return 0;
}

/* glibc's arenas other than the main one live in heaps of HEAP_MAX_SIZE
 * (64 MiB on 64-bit), aligned to it, the unused part PROT_NONE after. */
#define ARENA_HEAP_SIZE (64ull << 20)

/* 1 when a glibc arena heap starts at a (HEAP_MAX_SIZE-aligned): its
 * heap_info (ar_ptr, prev, size, mprotect_size) is there. Read with
 * process_vm_readv, which fails rather than faults on a range unmapped
 * meanwhile. A heap that grew to its full size has no PROT_NONE reserve
 * after it to tell it by, and one that holds no block the collector has
 * drained yet would be read as the program's. */
static int arena_heap_at(uint64_t a)
{
    uint64_t w[4];
    struct iovec l = {w, sizeof(w)}, r = {(void *)(uintptr_t)a, sizeof(w)};

    if (process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)sizeof(w))
        return 0;
    return w[0] && w[2] > 0 && w[2] <= ARENA_HEAP_SIZE && w[2] % 4096 == 0 && w[3] >= w[2] &&
           w[3] <= ARENA_HEAP_SIZE && w[3] % 4096 == 0;
}

/* The offset of struct pthread's tid, from the descriptor libthread_db
 * reads (_thread_db_pthread_tid: uint32 {bits, count, offset}, among libc's
 * dynamic symbols); 0 when there is none. Looked up once, under phdr_mu. */
static uint32_t pthread_tid_off;

static void find_pthread_tid_off(void)
{
    static int looked;
    const uint32_t *d;

    if (looked)
        return;
    looked = 1;
    d = dlvsym(RTLD_DEFAULT, "_thread_db_pthread_tid", "GLIBC_PRIVATE");
    if (d && d[0] == 32 && d[1] == 1 && d[2] >= 24 && d[2] < 4096)
        pthread_tid_off = d[2];
}

#define SCANROOTS_TCB_SPAN 8192u

/*
 * 1 for the stack of a thread that has ended, which glibc keeps mapped in
 * its stack cache for the next thread: the thread's descriptor (struct
 * pthread) lies at the top of its stack mapping, found by its two pointers
 * to itself (tcbhead_t's tcb and self, words 0 and 2), and its tid is 0
 * (the kernel clears it when the thread exits) or -1 (pthread_join marks
 * a joined thread's so). Its frames are a dead
 * thread's, stale pointers every one: a collector thread that had served a
 * backrefs request left the target's address there, a false holder. A live
 * thread's stack (tid set) is read as any mapping; a fiber's has no such
 * descriptor. Read with process_vm_readv (the mapping may be gone already).
 */
static int cached_thread_stack(uint64_t lo, uint64_t hi)
{
    static uint64_t w[SCANROOTS_TCB_SPAN / 8]; /* the collector thread's alone */
    uint64_t from = hi - lo > SCANROOTS_TCB_SPAN ? hi - SCANROOTS_TCB_SPAN : lo;
    struct iovec l = {w, hi - from}, r = {(void *)(uintptr_t)from, hi - from};
    size_t n = (hi - from) / 8, tid_w = pthread_tid_off / 8;

    if (!pthread_tid_off || process_vm_readv(getpid(), &l, 1, &r, 1, 0) != (ssize_t)(hi - from))
        return 0;
    for (size_t i = n - 4; n >= 4; i -= 2) { /* descriptors are 16-byte aligned at least */
        uint64_t at = from + 8 * i;
        if (w[i] == at && w[i + 2] == at) {
            int32_t tid;
            if (i + tid_w >= n)
                return 0;
            memcpy(&tid, (const char *)&w[i] + pthread_tid_off, sizeof(tid));
            return tid <= 0;
        }
        if (i < 2)
            break;
    }
    return 0;
}

/*
 * Writable private anonymous mappings as roots: memory the program mapped
 * itself (a pool, an arena of its own, pymalloc's, a fiber's stack under
 * its guard page) can hold the only pointer to a block, as valgrind's leak
 * check counts it. Not: what is already a root (module segments and their
 * bss, the stacks of the threads that allocate), a glibc arena heap, the
 * collector's own mappings and its threads' stacks (ownmaps.h), and, in the
 * child, one that holds a live block (malloc's, SCANBFS_ROOT_ANON). A
 * mapping with a guard page below is no longer taken for a thread's stack
 * and left out whole: a suspended fiber's stack held the only pointer to a
 * block called leaked, and a program mapping the kernel merged into a
 * thread stack's was never read. Each is named "[anon LO-HI]". Returns -1
 * when out of memory.
 */
static int collect_anon(struct collect_ctx *c)
{
    struct scanroots *r = c->r;
    struct map_line *v = NULL;
    size_t n = 0, cap = 0, len = 0, n_ex;
    uint64_t *ex = NULL;
    char *line = NULL;
    FILE *f = fopen("/proc/self/maps", "re");
    int rc = 0;

    if (!f)
        return 0;
    while (getline(&line, &len, f) > 0) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 256;
            struct map_line *nv = realloc(v, nc * sizeof(*nv));
            if (!nv) {
                rc = -1;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (parse_maps_line(line, &v[n]) == 0)
            n++;
    }
    free(line);
    fclose(f);
    /* what is not the program's: its roots so far, the collector's mappings
     * and its own data and bss */
    n_ex = r->n_roots + c->n_self + OWNMAPS_MAX;
    ex = rc == 0 ? malloc(2 * n_ex * sizeof(*ex)) : NULL;
    if (!ex)
        rc = -1;
    if (rc == 0) {
        for (size_t i = 0; i < r->n_roots; i++) {
            ex[2 * i] = r->roots[i].lo;
            ex[2 * i + 1] = r->roots[i].hi;
        }
        memcpy(ex + 2 * r->n_roots, c->self, c->n_self * 2 * sizeof(*ex));
        n_ex =
            r->n_roots + c->n_self + ownmaps_copy(ex + 2 * (r->n_roots + c->n_self), OWNMAPS_MAX);
        qsort(ex, n_ex, 2 * sizeof(*ex), cmp_u64_pair);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct map_line *m = &v[i];
        int reserve_above = i + 1 < n && v[i + 1].lo == m->hi && v[i + 1].anon &&
                            strncmp(v[i + 1].perms, "---p", 4) == 0;

        if (!m->anon || strncmp(m->perms, "rw-p", 4) != 0 || cached_thread_stack(m->lo, m->hi))
            continue;
        if (m->lo % ARENA_HEAP_SIZE == 0 && reserve_above)
            continue; /* a glibc arena heap */
        {
            uint64_t at = m->lo;
            for (uint64_t a = (m->lo + ARENA_HEAP_SIZE - 1) & ~(ARENA_HEAP_SIZE - 1);
                 a < m->hi && rc == 0; a += ARENA_HEAP_SIZE) {
                if (!arena_heap_at(a))
                    continue;
                if (a > at)
                    rc = add_anon(c, at, a, ex, n_ex);
                at = a + ARENA_HEAP_SIZE < m->hi ? a + ARENA_HEAP_SIZE : m->hi;
            }
            if (rc == 0 && at < m->hi)
                rc = add_anon(c, at, m->hi, ex, n_ex);
        }
    }
    free(ex);
    free(v);
    return rc;
}

static pthread_mutex_t phdr_mu = PTHREAD_MUTEX_INITIALIZER;

void scanroots_atfork_prepare(void)
{
    pthread_mutex_lock(&phdr_mu);
}

void scanroots_atfork_parent(void)
{
    pthread_mutex_unlock(&phdr_mu);
}

void scanroots_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&phdr_mu, &fresh, sizeof(fresh));
}

int scanroots_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    int rc;

    pthread_mutex_lock(&phdr_mu);
    rc = dl_iterate_phdr(cb, arg);
    pthread_mutex_unlock(&phdr_mu);
    return rc;
}

int scanroots_collect(struct scanroots *r, const struct scan_range *stacks, size_t n_stacks)
{
    struct collect_ctx c = {.r = r};

    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&phdr_mu);
    dl_iterate_phdr(collect_module, &c);
    find_pthread_tid_off();
    pthread_mutex_unlock(&phdr_mu);
    for (size_t i = 0; i < n_stacks && !c.failed; i++) {
        struct scanbfs_root root;
        root.lo = stacks[i].lo;
        root.hi = stacks[i].hi;
        root.kind = SCANBFS_STACK;
        root.id = stacks[i].thread_id;
        root.flags = 0;
        if (root.hi > root.lo && push_root(&c, &root))
            c.failed = 1;
    }
    if (!c.failed && collect_anon(&c) < 0)
        c.failed = 1;
    if (c.failed) {
        scanroots_free(r);
        return -ENOMEM;
    }
    return 0;
}

void scanroots_free(struct scanroots *r)
{
    for (size_t i = 0; i < r->n_mods; i++)
        free(r->mods[i].path);
    free(r->mods);
    free(r->roots);
    memset(r, 0, sizeof(*r));
}

/* ---- clipping in the child ---- */

static size_t clip_maps(const struct scanbfs_root *in, size_t n, struct scanbfs_root *out,
                        size_t cap);

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Parses "lo-hi rwxp ..." at line[0..len). Returns 1 for a readable mapping. */
static int parse_map_line(const char *line, size_t len, uint64_t *lo, uint64_t *hi)
{
    size_t i = 0;
    int v;

    *lo = *hi = 0;
    while (i < len && (v = hexval(line[i])) >= 0) {
        *lo = (*lo << 4) | (uint64_t)v;
        i++;
    }
    if (i >= len || line[i++] != '-')
        return 0;
    while (i < len && (v = hexval(line[i])) >= 0) {
        *hi = (*hi << 4) | (uint64_t)v;
        i++;
    }
    if (i + 1 >= len || line[i] != ' ')
        return 0;
    return line[i + 1] == 'r';
}

static size_t clip_mapping(const struct scanbfs_root *in, size_t n, uint64_t lo, uint64_t hi,
                           struct scanbfs_root *out, size_t k, size_t cap)
{
    for (size_t i = 0; i < n && k < cap; i++) {
        uint64_t a = in[i].lo > lo ? in[i].lo : lo;
        uint64_t b = in[i].hi < hi ? in[i].hi : hi;
        if (a < b) {
            out[k] = in[i];
            out[k].lo = a;
            out[k].hi = b;
            k++;
        }
    }
    return k;
}

/* Raises a stack's lo past the pages never touched: a thread's stack mapping
 * is 8 MiB, but it grows down from hi and the untouched low end (not
 * resident) holds nothing. Only that prefix is cut, so a page swapped out
 * in the middle is still scanned. Returns 0 when nothing is left. */
static int trim_stack(struct scanbfs_root *r)
{
    enum { CHUNK = 4096 };
    unsigned char vec[CHUNK];
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t lo = r->lo & ~(page - 1);

    while (lo < r->hi) {
        uint64_t pages = (r->hi - lo + page - 1) / page;
        if (pages > CHUNK)
            pages = CHUNK;
        if (mincore((void *)(uintptr_t)lo, pages * page, vec) != 0)
            return 1; /* cannot tell: keep it whole */
        for (uint64_t i = 0; i < pages; i++) {
            if (vec[i] & 1) {
                if (lo + i * page > r->lo)
                    r->lo = lo + i * page;
                return 1;
            }
        }
        lo += pages * page;
    }
    return 0;
}

size_t scanroots_clip(const struct scanbfs_root *in, size_t n, struct scanbfs_root *out, size_t cap)
{
    size_t k = clip_maps(in, n, out, cap), kept = 0;

    for (size_t i = 0; i < k; i++)
        if (out[i].kind != SCANBFS_STACK || trim_stack(&out[i]))
            out[kept++] = out[i];
    return kept;
}

/* clip_maps()'s roots so far, a line of /proc/self/maps at a time. */
struct clip_acc {
    const struct scanbfs_root *in;
    size_t n, k, cap;
    struct scanbfs_root *out;
};

static void clip_line(char *line, size_t len, void *arg)
{
    struct clip_acc *a = arg;
    uint64_t lo, hi;

    if (parse_map_line(line, len, &lo, &hi))
        a->k = clip_mapping(a->in, a->n, lo, hi, a->out, a->k, a->cap);
}

static size_t clip_maps(const struct scanbfs_root *in, size_t n, struct scanbfs_root *out,
                        size_t cap)
{
    enum { BUF = 1 << 16 };
    char *buf = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct clip_acc acc = {in, n, 0, cap, out};
    size_t k;

    if (buf != MAP_FAILED) {
        long lines = procmaps_each(buf, BUF, clip_line, &acc);

        munmap(buf, BUF);
        if (lines > 0)
            return acc.k;
    }
    for (k = 0; k < n && k < cap; k++)
        out[k] = in[k];
    return k;
}

/* ---- naming ---- */

/* The symbol table of an ELF64 file mapped at f[0..size): .symtab when
 * present (static symbols too; *full = 1), else .dynsym. Every offset is
 * checked against the file's size. Returns 0 with the table, its string table
 * and count. */
static int elf_symtab(const unsigned char *f, size_t size, const Elf64_Sym **syms, size_t *n,
                      const char **strs, size_t *strs_size, int *full)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)f;
    const Elf64_Shdr *sh;
    int pick = -1;

    if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
        eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        eh->e_shoff > size || (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
        return -1;
    sh = (const Elf64_Shdr *)(const void *)(f + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type == SHT_SYMTAB)
            pick = i;
        else if (sh[i].sh_type == SHT_DYNSYM && pick < 0)
            pick = i;
    }
    if (pick < 0 || sh[pick].sh_link >= eh->e_shnum)
        return -1;
    {
        const Elf64_Shdr *st = &sh[pick], *str = &sh[st->sh_link];
        if (st->sh_offset > size || st->sh_size > size - st->sh_offset || str->sh_offset > size ||
            str->sh_size > size - str->sh_offset || st->sh_entsize != sizeof(Elf64_Sym) ||
            st->sh_offset % 8 != 0)
            return -1;
        *syms = (const Elf64_Sym *)(const void *)(f + st->sh_offset);
        *n = st->sh_size / sizeof(Elf64_Sym);
        *strs = (const char *)(f + str->sh_offset);
        *strs_size = str->sh_size;
        *full = st->sh_type == SHT_SYMTAB;
    }
    return 0;
}

/* The GNU build id of an ELF64 file as lowercase hex into out (cap >= 2 *
 * 64 + 1). Returns 0 when found. */
static int elf_build_id(const unsigned char *f, size_t size, char *out, size_t cap)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)f;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(const void *)(f + eh->e_shoff);

    for (int i = 0; i < eh->e_shnum; i++) {
        size_t off = sh[i].sh_offset, end;
        if (sh[i].sh_type != SHT_NOTE || off > size || sh[i].sh_size > size - off)
            continue;
        end = off + sh[i].sh_size;
        while (end - off >= sizeof(Elf64_Nhdr)) {
            const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(const void *)(f + off);
            size_t name = (nh->n_namesz + 3) & ~(size_t)3, desc = (nh->n_descsz + 3) & ~(size_t)3;
            off += sizeof(*nh);
            if (name > end - off || desc > end - off - name)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(f + off, "GNU", 4) == 0 && nh->n_descsz > 0 && nh->n_descsz <= 64 &&
                cap > 2 * (size_t)nh->n_descsz) {
                for (uint32_t k = 0; k < nh->n_descsz; k++)
                    snprintf(out + 2 * k, 3, "%02x", f[off + name + k]);
                return 0;
            }
            off += name + desc;
        }
    }
    return -1;
}

/* The .gnu_debuglink name of an ELF64 file (NUL-terminated inside the
 * section), or NULL. */
static const char *elf_debuglink(const unsigned char *f, size_t size)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(const void *)f;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(const void *)(f + eh->e_shoff), *names;

    if (eh->e_shstrndx >= eh->e_shnum)
        return NULL;
    names = &sh[eh->e_shstrndx];
    if (names->sh_offset > size || names->sh_size > size - names->sh_offset)
        return NULL;
    for (int i = 0; i < eh->e_shnum; i++) {
        const char *n = (const char *)f + names->sh_offset + sh[i].sh_name;
        size_t off = sh[i].sh_offset;

        if (sh[i].sh_name >= names->sh_size || strnlen(n, names->sh_size - sh[i].sh_name) != 14 ||
            memcmp(n, ".gnu_debuglink", 14))
            continue;
        if (sh[i].sh_type == SHT_NOBITS || off > size || sh[i].sh_size > size - off ||
            strnlen((const char *)f + off, sh[i].sh_size) == sh[i].sh_size)
            return NULL;
        return (const char *)f + off;
    }
    return NULL;
}

static int symbol_in(const char *path, uint64_t module_offset, char *sym, size_t cap,
                     uint64_t *sym_start, int follow_debug);

/* The ELF file at path mapped read-only (its size in *size), or NULL. */
static unsigned char *map_file(const char *path, size_t *size)
{
    struct stat stt;
    unsigned char *f;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode) || stt.st_size <= 0) {
        close(fd);
        return NULL;
    }
    f = mmap(NULL, (size_t)stt.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        return NULL;
    *size = (size_t)stt.st_size;
    return f;
}

/* The separate debug file of the stripped module mapped at f (debugfile.h),
 * its path into dbg. 0 when there is one. */
static int debug_path(const char *path, const unsigned char *f, size_t size, char *dbg, size_t cap)
{
    char id[160];
    int has_id = elf_build_id(f, size, id, sizeof(id)) == 0;
    int dfd = debugfile_open(path, has_id ? id : NULL, elf_debuglink(f, size), dbg, cap);

    if (dfd < 0)
        return -1;
    close(dfd);
    return 0;
}

int scanroots_symbol_values(const char *path, const char *const *names, uint64_t *values, size_t n,
                            int follow_debug)
{
    const Elf64_Sym *syms;
    const char *strs;
    size_t nsyms, strs_size, size = 0;
    unsigned char *f = map_file(path, &size);
    int full = 0, rc = -1;

    for (size_t k = 0; k < n; k++)
        values[k] = 0;
    if (!f)
        return -1;
    if (elf_symtab(f, size, &syms, &nsyms, &strs, &strs_size, &full) == 0) {
        char dbg[4096 + 300];
        if (!full && follow_debug && debug_path(path, f, size, dbg, sizeof(dbg)) == 0 &&
            scanroots_symbol_values(dbg, names, values, n, 0) == 1) {
            munmap(f, size);
            return 1;
        }
        for (size_t i = 0; i < nsyms; i++) {
            const Elf64_Sym *st = &syms[i];
            if (st->st_shndx == SHN_UNDEF || st->st_name >= strs_size)
                continue;
            for (size_t k = 0; k < n; k++) {
                size_t len = strlen(names[k]);
                if (len < strs_size - st->st_name && !values[k] &&
                    memcmp(strs + st->st_name, names[k], len + 1) == 0)
                    values[k] = st->st_value;
            }
        }
        rc = full;
    }
    munmap(f, size);
    return rc;
}

int scanroots_symbol(const char *path, uint64_t module_offset, char *sym, size_t cap,
                     uint64_t *sym_start)
{
    return symbol_in(path, module_offset, sym, cap, sym_start, 1);
}

/* Looks in path; when it has no .symtab (stripped) and follow_debug, in its
 * separate debug file (debugfile.h: by build id, then by .gnu_debuglink)
 * first. */
static int symbol_in(const char *path, uint64_t module_offset, char *sym, size_t cap,
                     uint64_t *sym_start, int follow_debug)
{
    unsigned char *f;
    const Elf64_Sym *syms;
    const char *strs;
    size_t n, strs_size, size = 0;
    uint64_t best_size = UINT64_MAX;
    int found = -1, full = 0;

    sym[0] = 0;
    *sym_start = 0;
    f = map_file(path, &size);
    if (!f)
        return -1;
    if (elf_symtab(f, size, &syms, &n, &strs, &strs_size, &full) == 0 && !full && follow_debug) {
        char dbg[4096 + 300];

        if (debug_path(path, f, size, dbg, sizeof(dbg)) == 0 &&
            symbol_in(dbg, module_offset, sym, cap, sym_start, 0) == 0) {
            munmap(f, size);
            return 0;
        }
    }
    if (elf_symtab(f, size, &syms, &n, &strs, &strs_size, &full) == 0) {
        for (size_t i = 0; i < n; i++) {
            const Elf64_Sym *st = &syms[i];
            int type = ELF64_ST_TYPE(st->st_info);
            size_t len;
            if (type != STT_OBJECT && type != STT_COMMON && type != STT_NOTYPE)
                continue;
            if (st->st_shndx == SHN_UNDEF || st->st_size == 0 || st->st_name >= strs_size)
                continue;
            if (module_offset < st->st_value || module_offset - st->st_value >= st->st_size)
                continue;
            if (st->st_size >= best_size)
                continue; /* the tightest symbol wins */
            len = strnlen(strs + st->st_name, strs_size - st->st_name);
            if (len == 0 || len == strs_size - st->st_name)
                continue; /* empty, or not terminated inside the table */
            best_size = st->st_size;
            snprintf(sym, cap, "%s", strs + st->st_name);
            *sym_start = st->st_value;
            found = 0;
        }
    }
    munmap(f, size);
    return found;
}
