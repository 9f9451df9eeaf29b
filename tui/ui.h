/*
 * ui.h - the interactive TUI: one loop over a source, a model and the screens.
 *
 * The loop polls the source's fd, the keyboard and a timer; it applies a
 * bounded number of messages per pass so keys stay responsive, and redraws at
 * most ~30 times a second, only when something changed. Views read the model
 * (const) and own only their view state. The terminal is always restored
 * (endwin) before ui_main returns, on every path.
 */
#ifndef HEAPLINE_UI_H
#define HEAPLINE_UI_H

struct model;
struct source;

enum ui_source_kind {
    UI_SRC_LIVE_CHILD = 1, /* heapline run: a child started under the collector */
    UI_SRC_ATTACH = 2,     /* heapline attach: a socket to a running collector */
    UI_SRC_REPLAY = 3      /* heapline replay: a recording */
};

struct ui_options {
    int source_kind; /* UI_SRC_LIVE_CHILD, UI_SRC_ATTACH, UI_SRC_REPLAY */
    const char *title;
    /* replay B --against A: A read whole (NULL: no comparison). The site
     * table gains a CHANGE column, B's live bytes minus A's for the same site
     * (matched as `heapline diff` matches), A taken at the cursor's state:
     * its end, its peak, or as long after its start as the cursor is. */
    const struct model *against;
    const char *against_name;
    int q_detaches; /* heapline attach loaded the collector: q detaches it */
};

/* Runs the TUI until the user quits. The model is fed from src (which may be
 * NULL when the model is already complete). Takes no ownership of m or src.
 * Returns the exit status for main (0 on a normal quit, 1 when the terminal
 * could not be set up, with one line already printed to stderr). */
int ui_main(struct model *m, struct source *src, const struct ui_options *opt);

#endif
