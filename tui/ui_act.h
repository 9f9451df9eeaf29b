/*
 * ui_act.h - the loop's share of the actions (ui_act.c); the actions
 * themselves (ui_act_*(ui, key)) are declared in view_ctx.h for keys.c.
 */
#ifndef HEAPLINE_UI_ACT_H
#define HEAPLINE_UI_ACT_H

#include <stdint.h>

struct ui;

/* Puts the time cursor on the timeline point at or before time t (a click
 * on the timeline). Returns KEYS_* reaction flags. */
int ui_act_goto(struct ui *ui, int64_t t);

/* Moves the list cursor of the screen up (enum view_move). */
void ui_act_list_move(struct ui *ui, int delta, int how);

/* The growth window at the cursor: from the mark, a preset, or the visible
 * range (ns, at least 1). */
int64_t ui_act_growth_window(const struct ui *ui);

#endif
