/*
 * keys.h - the TUI's one key table: every binding with its name, help text,
 * the screens it applies to and the action it runs. The help screen is
 * generated from this table, so a binding cannot exist without its help.
 *
 * Actions return reaction flags (htop style); the loop decides what to redraw.
 */
#ifndef HEAPLINE_KEYS_H
#define HEAPLINE_KEYS_H

#include <stddef.h>

struct ui;

/* Screens (bit masks) a binding applies to. */
#define KEYS_SITES 1u
#define KEYS_TREE 2u
#define KEYS_OBJECTS 4u
#define KEYS_REFS 8u
#define KEYS_CENSUS 16u
#define KEYS_LISTS (KEYS_SITES | KEYS_TREE | KEYS_OBJECTS | KEYS_REFS | KEYS_CENSUS)

/* Reaction flags returned by actions. */
#define KEYS_NONE 0
#define KEYS_REDRAW 1  /* draw again */
#define KEYS_REQUERY 2 /* the question changed (time, sort, filter...): recompute */
#define KEYS_QUIT 4

typedef int keys_action_fn(struct ui *ui, int key);

#define KEYS_MAX_CODES 6

struct keys_binding {
    int codes[KEYS_MAX_CODES]; /* curses key codes or characters; 0 ends the list */
    const char *label;         /* how help names the keys: "Left h" */
    const char *help;          /* one line */
    unsigned screens;          /* KEYS_* mask */
    keys_action_fn *action;
};

/* The binding of key on a screen (first match in table order), or NULL. */
const struct keys_binding *keys_lookup(unsigned screen, int key);

/* The table, for help and tests: *n gets the count. */
const struct keys_binding *keys_table(size_t *n);

/*
 * Help text generated from the table: line `i` (0-based) of the help written
 * into buf (NUL-terminated, at most n bytes, cut at `width` cells). Section
 * titles ("Everywhere", "Call sites", ...) separate the bindings. Returns 1
 * when line i exists, 0 past the end.
 */
int keys_help_line(size_t i, char *buf, size_t n, int width);

/* Number of help lines (keys_help_line returns 1 for i below it). */
size_t keys_help_count(void);

#endif
