/*
 * heapline.h - the public API a program may call to label its allocations.
 *
 * All three functions are weak symbols: a program that calls them through the
 * HEAPLINE_* macros below runs unchanged, and pays one branch, when
 * libheapline.so is not loaded. With the collector loaded:
 *
 *   heapline_tag_push(name)  every allocation this thread makes until the
 *                            matching pop carries the tag `name` (nesting up
 *                            to 64 deep; the innermost tag wins).
 *   heapline_tag_pop()       ends the innermost tag of this thread.
 *   heapline_mark(label)     puts a labelled marker on the timeline now.
 *
 * The strings are copied; the caller keeps ownership. Thread-safe; not
 * async-signal-safe. Tags and labels are truncated to 4096 bytes.
 */
#ifndef HEAPLINE_H
#define HEAPLINE_H

#ifdef __cplusplus
extern "C" {
#endif

void heapline_tag_push(const char *name) __attribute__((weak));
void heapline_tag_pop(void) __attribute__((weak));
void heapline_mark(const char *label) __attribute__((weak));

#define HEAPLINE_TAG_PUSH(name)                                                                    \
    do {                                                                                           \
        if (heapline_tag_push)                                                                     \
            heapline_tag_push(name);                                                               \
    } while (0)
#define HEAPLINE_TAG_POP()                                                                         \
    do {                                                                                           \
        if (heapline_tag_pop)                                                                      \
            heapline_tag_pop();                                                                    \
    } while (0)
#define HEAPLINE_MARK(label)                                                                       \
    do {                                                                                           \
        if (heapline_mark)                                                                         \
            heapline_mark(label);                                                                  \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
