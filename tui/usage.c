/*
 * usage.c - a usage error is one line ending in the help hint, status 2, for
 * every command (main.c's table and the commands that parse their own
 * options: diff, check).
 */
#include "usage.h"

#include <stdarg.h>
#include <stdio.h>

int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "heapline %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see heapline %s --help)\n", cmd);
    return 2;
}
