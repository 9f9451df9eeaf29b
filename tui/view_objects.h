/*
 * view_objects.h - the live objects of one site, oldest first (size, age,
 * tag, thread), from the model's object table.
 */
#ifndef HEAPLINE_VIEW_OBJECTS_H
#define HEAPLINE_VIEW_OBJECTS_H

struct ui;

/* Re-reads the objects of ui->objects.site at the cursor's time. */
void view_objects_refresh(struct ui *ui);

void view_objects_draw(struct ui *ui, int y, int h);
void view_objects_move(struct ui *ui, int delta, int to);
void view_objects_free(struct ui *ui);

/* Takes in a RESPONSE the view waits for (called after every source read).
 * Returns 1 when the screen changed. */
int view_objects_poll(struct ui *ui);

#endif
