/*
 * debugfile.c - separate debug files by build id and .gnu_debuglink.
 *
 * Invariant: the roots are fixed at start-up (debugfile_init), so a lookup
 * reads only them and the file system: no allocation, usable in the scan's
 * child.
 */
#include "debugfile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEBUGFILE_SYSTEM_ROOT "/usr/lib/debug"

static char user_root[1024]; /* HEAPLINE_DEBUG_DIR, "" when unset */

void debugfile_init(void)
{
    const char *v = getenv("HEAPLINE_DEBUG_DIR");

    user_root[0] = 0;
    if (v && v[0] == '/' && strlen(v) < sizeof(user_root))
        snprintf(user_root, sizeof(user_root), "%s", v);
}

/* The i-th debug root, NULL past the last. */
static const char *root_at(int i)
{
    if (user_root[0] && i-- == 0)
        return user_root;
    return i == 0 ? DEBUGFILE_SYSTEM_ROOT : NULL;
}

/* Opens path when it names a file other than the module; -1 otherwise or
 * when the name did not fit. */
static int try_open(const char *module_path, int len, const char *path, size_t cap)
{
    if (len < 0 || (size_t)len >= cap)
        return -1;
    if (module_path && strcmp(path, module_path) == 0)
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
}

int debugfile_open(const char *module_path, const char *build_id, const char *debuglink, char *path,
                   size_t cap)
{
    const char *root, *slash;
    int fd, dir_len;

    if (build_id && strlen(build_id) > 2)
        for (int i = 0; (root = root_at(i)) != NULL; i++) {
            fd = try_open(
                module_path,
                snprintf(path, cap, "%s/.build-id/%.2s/%s.debug", root, build_id, build_id + 2),
                path, cap);
            if (fd >= 0)
                return fd;
        }
    if (!module_path || !debuglink || !*debuglink || strchr(debuglink, '/'))
        return -1;
    slash = strrchr(module_path, '/');
    if (!slash)
        return -1;
    dir_len = (int)(slash - module_path);
    fd = try_open(module_path, snprintf(path, cap, "%.*s/%s", dir_len, module_path, debuglink),
                  path, cap);
    if (fd < 0)
        fd = try_open(module_path,
                      snprintf(path, cap, "%.*s/.debug/%s", dir_len, module_path, debuglink), path,
                      cap);
    for (int i = 0; fd < 0 && (root = root_at(i)) != NULL; i++)
        fd = try_open(module_path,
                      snprintf(path, cap, "%s%.*s/%s", root, dir_len, module_path, debuglink), path,
                      cap);
    return fd;
}

int debugfile_is_system(const char *path)
{
    static const char dir[] = DEBUGFILE_SYSTEM_ROOT "/.build-id/";
    size_t n = strlen(user_root);

    if (n && strncmp(path, user_root, n) == 0 && path[n] == '/')
        return 0;
    return strncmp(path, dir, sizeof(dir) - 1) == 0;
}
