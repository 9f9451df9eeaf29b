/*
 * record.h - `heapline record -o FILE -- CMD...`: a headless recording.
 */
#ifndef HEAPLINE_RECORD_H
#define HEAPLINE_RECORD_H

#include <stddef.h>

/* Runs argv[0..] with the collector preloaded and HEAPLINE_RECORD=<absolute
 * path of out>, waits for it, and returns its exit status (128 + signal
 * number when a signal killed it; 127 when it could not be started). Says on
 * stderr when no recording was written. HEAPLINE_SOCKET is left as the
 * environment has it, so `heapline attach` works while recording. */
int record_main(const char *out, char *const argv[]);

/* The one way a recording's file is made before a program is started under
 * the collector (record, run -o): writes the absolute path of out to abs (cap
 * bytes) and creates or empties the file safely (recfile_create_safe(): no
 * symlink followed, nothing truncated that is not a recording of ours).
 * Returns its descriptor, which the caller passes to recfile_remove_if_empty()
 * once the program ended, or -1 with one line in err ("/nonexistent_dir/x: No
 * such file or directory"). */
int record_prepare(const char *out, char *abs, size_t cap, char *err, size_t errsz);

#endif
