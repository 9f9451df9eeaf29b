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
 * or half the descriptor limit, or fds_fit_table()'s), away from the small numbers programs and
 * shell scripts pick for themselves (exec 3>file), registers it and returns
 * it (fd itself if it cannot be moved). */
int fds_adopt(int fd);

/* fds_adopt() for a descriptor a library of the collector's (libdw) closes
 * with close(): a close() of it from a thread holding track_guard really
 * closes it, the program's close() still skips it. */
int fds_adopt_closable(int fd);

/* fds_protect() for such a descriptor, at the number it has. */
void fds_protect_closable(int fd);

/* Unregisters fd and really closes it. */
void fds_close(int fd);

/* heapline attach, before fds_protect_libunwind(): the high numbers start
 * half way up the program's descriptor table as it is (32 in the usual table
 * of 64, numbers programs leave to the lowest free one anyway), not at 512. In a program with
 * threads each growth of the table waits for an RCU grace period (8 ms here; 3 of them to reach
 * 512) on the thread heapline stopped, and its threads may be between two epochs of work when it
 * comes. */
void fds_fit_table(void);

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
