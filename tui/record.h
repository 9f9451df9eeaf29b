/*
 * record.h - `heapline record -o FILE -- CMD...`: a headless recording.
 */
#ifndef HEAPLINE_RECORD_H
#define HEAPLINE_RECORD_H

/* Runs argv[0..] with the collector preloaded and HEAPLINE_RECORD=<absolute
 * path of out>, waits for it, and returns its exit status (128 + signal
 * number when a signal killed it; 127 when it could not be started). Says on
 * stderr when no recording was written. HEAPLINE_SOCKET is left as the
 * environment has it, so `heapline attach` works while recording. */
int record_main(const char *out, char *const argv[]);

#endif
