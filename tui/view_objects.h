/*
 * view_objects.h - the live objects of one site, oldest first (size, age,
 * tag, thread): objects.c answers, this view draws.
 */
#ifndef HEAPLINE_VIEW_OBJECTS_H
#define HEAPLINE_VIEW_OBJECTS_H

struct ui;
struct model_thread;

#include <stddef.h>
#include <stdint.h>

/* The screen's ops (view_ctx.h). */
extern const struct view_ops view_objects_ops;

/* Re-reads the objects of the open site at the cursor's state. In a
 * replay with the cursor before the latest state, that starts (or aims) a
 * rewind of the recording: the list waits for view_objects_work(). */
void view_objects_refresh(struct ui *ui);

/* Reads the recording toward the cursor's state until deadline_ms
 * (view_ctx_now_ms(); at least one slice), while the view waits for it
 * (the view is reading). Returns 1 when the screen changed (progress, the
 * list, an error), 0 when there was nothing to do. */
int view_objects_work(struct ui *ui, int64_t deadline_ms);

void view_objects_draw(struct ui *ui, int y, int h);
void view_objects_move(struct ui *ui, int delta, int how); /* enum view_move */
void view_objects_free(struct ui *ui);

struct model;

/* The allocation stack of an object, for its detail line: from its site's
 * frame outward (the plumbing below the site is the stack tree's to show),
 * every inlined level a frame of its own, "fn file:line < fn file:line"
 * with base file names and C++ names without parameters, shortened to
 * name_w cells as cxxname_fit() does (ascii: "<...>"); each run of
 * plumbing above the site (std::function's invokers, libc's thread start)
 * is one "...", so the program's next frame fits at 80 columns. Cut to
 * n - 1 bytes. Returns buf. */
const char *view_objects_stack_line(const struct model *m, uint32_t stack, int name_w, int ascii,
                                    char *buf, size_t n);

/* Pure helper (tested): a block's thread for the THREAD column, its name
 * and its OS tid: "w0 (4242)", "(4242)" unnamed, "#id" when the thread was
 * never defined. */
void view_objects_thread(const struct model_thread *t, uint32_t id, char *buf, size_t n);

/* Takes in a RESPONSE the view waits for (its poll op, after every source
 * read). Returns 1 when the screen changed. */
int view_objects_answer(struct ui *ui);

#endif
