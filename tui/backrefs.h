/*
 * backrefs.h - `heapline backrefs`: what keeps one live object alive.
 *
 *   heapline backrefs PID|SOCKET (--site FUNCTION | --address ADDR | --type NAME)
 *                    [--depth N] [--fanout N] [--json|--dot]
 *   heapline backrefs PID|SOCKET --types [--growth SECONDS] [--top N] [--json]
 *   (the usage and --help text are main.c's command table)
 *
 * Connects to a collector's socket, picks the object (the oldest live object
 * of a site, or the block at an address), asks for a backreference scan and
 * prints the chains from the object outward to the roots that hold it
 * (chain.h writes them).
 */
#ifndef HEAPLINE_BACKREFS_H
#define HEAPLINE_BACKREFS_H

/* The command (argv[1] is "backrefs"; main() answers --help). Returns the
 * process exit status: 0; 2 after one line on stderr for a usage error (an
 * unknown option, a value out of range, neither or both of --site and
 * --address); 1 after one line for anything else (no such process or socket,
 * a socket directory that is not ours, permission denied, no live object of
 * that site, no live block at that address, timeout after 10 s). */
int backrefs_main(int argc, char **argv);

#endif
