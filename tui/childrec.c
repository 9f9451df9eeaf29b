/*
 * childrec.c - which FILE.<pid> recordings a run wrote, and which an earlier
 * run left (childrec.h).
 *
 * A file is this run's when it was not there before the program started, or
 * was there and has changed since (a child whose pid an earlier child had:
 * the collector rewrote it). Identity is the inode with its size and mtime,
 * never a clock compared with an mtime (a re-recording within the same second
 * counted the earlier run's children as its own).
 *
 * Invariant: nothing here writes, truncates or removes a file; a name is
 * taken with lstat (a link is never followed) and a file is opened only when
 * it is a regular file (a planted FIFO would hang the open), with O_NOFOLLOW
 * and O_NONBLOCK all the same.
 */
#include "childrec.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode.h"
#include "recfile.h"
#include "wire.h"

#define CHILDREC_LISTED 4 /* names a line lists before "..." */

struct childrec_file {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* Calls fn for each regular file FILE.<digits> beside abs_out, with its
 * path, its pid part and its lstat. Returns 0, or -1 when the directory
 * cannot be read or fn returned -1. */
typedef int childrec_each_fn(const char *path, const char *pid, const struct stat *sb, void *arg);

static int each_child(const char *abs_out, childrec_each_fn *fn, void *arg)
{
    const char *slash = strrchr(abs_out, '/'), *base = slash ? slash + 1 : abs_out;
    char dir[PATH_MAX], path[2 * PATH_MAX + 2];
    size_t blen = strlen(base);
    struct dirent *e;
    struct stat sb;
    int rc = 0;
    DIR *dp;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - abs_out) : 0, abs_out);
    if (!(dp = opendir(dir[0] ? dir : "/")))
        return -1;
    while (rc == 0 && (e = readdir(dp))) {
        const char *pid = e->d_name + blen + 1;

        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.' || !*pid ||
            strspn(pid, "0123456789") != strlen(pid))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        rc = fn(path, pid, &sb, arg);
    }
    closedir(dp);
    return rc;
}

static int note(const char *path, const char *pid, const struct stat *sb, void *arg)
{
    struct childrec *c = arg;
    struct childrec_file *f = realloc(c->before, (c->n_before + 1) * sizeof(*f));

    (void)path;
    (void)pid;
    if (!f)
        return -1;
    c->before = f;
    c->before[c->n_before++] =
        (struct childrec_file){sb->st_dev, sb->st_ino, sb->st_size, sb->st_mtim};
    return 0;
}

int childrec_before(struct childrec *c, const char *abs_out)
{
    c->before = NULL;
    c->n_before = 0;
    if (each_child(abs_out, note, c) == 0)
        return 0;
    childrec_free(c); /* unreadable directory: nothing noted, nothing left to say */
    return -1;
}

/* 1 when sb is a file that was there before the program started, unchanged. */
static int left_over(const struct childrec *c, const struct stat *sb)
{
    for (size_t i = 0; i < c->n_before; i++) {
        const struct childrec_file *f = &c->before[i];

        if (f->dev == sb->st_dev && f->ino == sb->st_ino && f->size == sb->st_size &&
            f->mtime.tv_sec == sb->st_mtim.tv_sec && f->mtime.tv_nsec == sb->st_mtim.tv_nsec)
            return 1;
    }
    return 0;
}

/* 1 when path is a regular file that starts as a recording does. */
static int is_recording(const char *path)
{
    char magic[8];
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), yes;

    if (fd < 0)
        return 0;
    yes = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && pread(fd, magic, 8, 0) == 8 &&
          memcmp(magic, WIRE_FILE_MAGIC, 8) == 0;
    close(fd);
    return yes;
}

/* The program named in a recording's HELLO, into exe (basename; "?" when
 * the file does not start with one). */
static void recorded_exe(const char *path, char *exe, size_t cap)
{
    struct recfile_reader r;
    struct decode d;
    struct wire_msg m;
    char buf[4096];
    ssize_t n;

    snprintf(exe, cap, "?");
    if (recfile_open(&r, path) != 0)
        return;
    decode_init(&d);
    while ((n = recfile_read(&r, buf, sizeof(buf))) > 0 && decode_feed(&d, buf, (size_t)n) == 0) {
        int k = decode_next(&d, &m);

        if (k == WIRE_ENEEDMORE)
            continue;
        if (k == 1 && m.type == WIRE_HELLO) {
            const char *p = m.u.hello.exe.ptr, *slash;
            size_t len = m.u.hello.exe.len;

            slash = p ? memrchr(p, '/', len) : NULL;
            if (slash) {
                len -= (size_t)(slash + 1 - p);
                p = slash + 1;
            }
            if (p)
                snprintf(exe, cap, "%.*s", (int)len, p);
        }
        break;
    }
    decode_free(&d);
    recfile_close(&r);
}

/* The two lines' counts and lists, filled by sort(). */
struct said {
    const struct childrec *c;
    const char *out;
    unsigned n_new, n_old;
    char new_list[600], old_list[600];
    size_t new_used, old_used;
};

static void add(char *list, size_t cap, size_t *used, unsigned count, const char *text)
{
    if (count > CHILDREC_LISTED || *used >= cap)
        return;
    *used += (size_t)snprintf(list + *used, cap - *used, "%s %s", count > 1 ? "," : "", text);
}

static int sort(const char *path, const char *pid, const struct stat *sb, void *arg)
{
    struct said *s = arg;
    char text[PATH_MAX + 96], exe[64] = "?";

    if (left_over(s->c, sb)) {
        if (!is_recording(path)) /* another program's file: none of ours to speak of */
            return 0;
        snprintf(text, sizeof(text), "%s.%s", s->out, pid);
        add(s->old_list, sizeof(s->old_list), &s->old_used, ++s->n_old, text);
        return 0;
    }
    if (++s->n_new <= CHILDREC_LISTED) {
        recorded_exe(path, exe, sizeof(exe));
        snprintf(text, sizeof(text), "%s.%s (%s)", s->out, pid, exe);
        add(s->new_list, sizeof(s->new_list), &s->new_used, s->n_new, text);
    }
    return 0;
}

void childrec_say(const struct childrec *c, const char *abs_out, const char *out)
{
    struct said s = {.c = c, .out = out};

    each_child(abs_out, sort, &s);
    if (s.n_new)
        fprintf(stderr, "heapline: %u child process%s recorded too:%s%s\n", s.n_new,
                s.n_new == 1 ? "" : "es", s.new_list, s.n_new > CHILDREC_LISTED ? ", ..." : "");
    if (s.n_old)
        fprintf(stderr, "heapline: %u child recording%s of an earlier run left as %s:%s%s\n",
                s.n_old, s.n_old == 1 ? "" : "s", s.n_old == 1 ? "it was" : "they were", s.old_list,
                s.n_old > CHILDREC_LISTED ? ", ..." : "");
}

void childrec_free(struct childrec *c)
{
    free(c->before);
    c->before = NULL;
    c->n_before = 0;
}
