/*
 * fds.h - the collector's descriptors survive the program closing them.
 *
 * Daemons close every descriptor they did not open, and libunwind re-creates
 * (closing whatever the numbers now name) a pipe it finds closed, which would
 * close the program's own files. close, close_range and closefrom are
 * interposed so that they skip the descriptors registered here and pretend
 * success for them; the program never owned them. dup2 onto one of them is
 * not prevented: the collector checks its descriptors before use (fdid.h).
 * pipe and pipe2 are interposed too: the real call, and while
 * fds_protect_libunwind() starts libunwind on this thread, the move of the
 * new pipe to high numbers.
 */
#ifndef HEAPLINE_FDS_H
#define HEAPLINE_FDS_H

/* Registers fd as the collector's. Any thread; async-signal-safe. */
void fds_protect(int fd);

/* Moves a new descriptor of the collector's to a high number (at least 512,
 * or half the descriptor limit), away from the small numbers programs and
 * shell scripts pick for themselves (exec 3>file), registers it and returns
 * it (fd itself if it cannot be moved). */
int fds_adopt(int fd);

/* Unregisters fd and really closes it. */
void fds_close(int fd);

/* Start-up, before any other call into libunwind (unwind_init's
 * unw_set_caching_policy starts it, and 1.6 opens its pipe then): registers
 * the pipe libunwind opens for itself (in its constructor, or when it starts,
 * which this call makes happen at a high number: preloaded, our pipe2 moves
 * it there; loaded late, every free number below is filled first). Guard
 * held. */
void fds_protect_libunwind(void);

/* Fork child: the registered descriptors are the parent's; forget them (the
 * collector's own code closes those it must). */
void fds_atfork_child(void);

#endif
