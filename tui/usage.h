/*
 * usage.h - the one writer of a command's usage error.
 */
#ifndef HEAPLINE_USAGE_H
#define HEAPLINE_USAGE_H

/* A usage error of cmd: one line on stderr, "heapline CMD: WHY (see heapline
 * CMD --help)". Returns 2, the exit status of every usage error. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
