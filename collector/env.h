/*
 * env.h - heapline's variables out of the program's environment, and back in
 * for the programs it execs and spawns.
 *
 * A program measured by heapline must see the environment it would see bare
 * (perl copies its environment at start; `env` prints it). So once the
 * collector has read its configuration, env_take() removes its variables
 * from environ (the HEAPLINE_* ones the collector reads, and libheapline from
 * LD_PRELOAD). The exec family, posix_spawn, system and popen, which this
 * module defines, put back what a child needs to be recorded as before: the
 * owner's exec'd image always, any other child (fork, spawn) unless
 * HEAPLINE_FORK=off.
 */
#ifndef HEAPLINE_ENV_H
#define HEAPLINE_ENV_H

#include <sys/types.h>

/*
 * Saves the collector's variables for the children (environ is not touched
 * yet: start-up may run inside a malloc that setenv makes). owner_pid: the
 * pid of the run's first process (this one when it is the owner); fork_off:
 * HEAPLINE_FORK=off. Once per process image, from the collector's start-up.
 */
void env_take(pid_t owner_pid, int fork_off);

/*
 * Removes them from environ, in place (no allocation: the array is the
 * program's, and glibc's setenv may own it). From the collector's
 * constructor, before main, outside any libc call; after env_take().
 */
void env_strip(void);

#endif
