/*
 * keys.c - the one key table and the help generated from it.
 *
 * Invariant: every key the TUI reacts to is a row here (text entry in the
 * filter prompt aside); the loop only ever calls keys_lookup().
 */
#include "keys.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "view_ctx.h"

#define CTRL(c) ((c)&0x1f)
#define ESC 27

static const struct keys_binding table[] = {
    /* everywhere */
    {{'q', 0}, "q", "quit (the terminal is restored)", KEYS_LISTS, ui_act_quit},
    {{'?', KEY_F(1), 0}, "? F1", "this help (any key closes it)", KEYS_LISTS, ui_act_help},
    {{KEY_LEFT, 'h', 0},
     "Left h",
     "time cursor back one column",
     KEYS_SITES | KEYS_OBJECTS,
     ui_act_time_back},
    {{KEY_RIGHT, 'l', 0},
     "Right l",
     "time cursor forward one column",
     KEYS_SITES | KEYS_OBJECTS,
     ui_act_time_fwd},
    {{'[', 0}, "[", "time cursor back one column (on every screen)", KEYS_LISTS, ui_act_time_back},
    {{']', 0},
     "]",
     "time cursor forward one column (on every screen)",
     KEYS_LISTS,
     ui_act_time_fwd},
    {{KEY_SLEFT, '{', 'H', 0},
     "S-Left { H",
     "time cursor back ten columns",
     KEYS_LISTS,
     ui_act_time_back10},
    {{KEY_SRIGHT, '}', 0},
     "S-Right }",
     "time cursor forward ten columns",
     KEYS_LISTS,
     ui_act_time_fwd10},
    {{KEY_HOME, 0}, "Home", "time cursor to the start of the run", KEYS_LISTS, ui_act_time_home},
    {{KEY_END, 0}, "End", "time cursor to the latest time", KEYS_LISTS, ui_act_time_end},
    {{'p', 0},
     "p",
     "time cursor to the heap peak (the exact state at the peak)",
     KEYS_LISTS,
     ui_act_time_peak},
    {{'n', 0}, "n", "time cursor to the next marker", KEYS_LISTS, ui_act_marker_next},
    {{'N', 0}, "N", "time cursor to the previous marker", KEYS_LISTS, ui_act_marker_prev},
    {{'f', 0}, "f", "follow the present again (live)", KEYS_LISTS, ui_act_follow},
    {{'m', 0},
     "m",
     "mark the cursor time: growth and leaks count from it (m clears)",
     KEYS_LISTS,
     ui_act_mark},
    {{'z', 0}, "z", "zoom the timeline in (twice), around the cursor", KEYS_LISTS, ui_act_zoom_in},
    {{'Z', 0},
     "Z",
     "zoom the timeline out (twice), back to the whole run",
     KEYS_LISTS,
     ui_act_zoom_out},
    {{'w', 0}, "w", "growth over: the visible window, 1s, 10s, 60s", KEYS_LISTS, ui_act_window},
    {{'L', 0},
     "L",
     "leaks: bytes still live at the end (allocated since the mark)",
     KEYS_LISTS,
     ui_act_leaks},
    {{'E', 0},
     "E",
     "temporaries: sites with short-lived allocations",
     KEYS_LISTS,
     ui_act_temporaries},
    {{'v', 0}, "v", "graph style: braille, blocks, ASCII", KEYS_LISTS, ui_act_graph_style},
    {{CTRL('l'), 0}, "C-l", "redraw the screen", KEYS_LISTS, ui_act_redraw},
    /* lists */
    {{KEY_UP, 'k', 0}, "Up k", "previous row", KEYS_LISTS, ui_act_up},
    {{KEY_DOWN, 'j', 0}, "Down j", "next row", KEYS_LISTS, ui_act_down},
    {{KEY_PPAGE, CTRL('b'), 0}, "PgUp C-b", "page up", KEYS_LISTS, ui_act_page_up},
    {{KEY_NPAGE, CTRL('f'), 0}, "PgDn C-f", "page down", KEYS_LISTS, ui_act_page_down},
    {{'g', 0}, "g", "first row", KEYS_LISTS, ui_act_top},
    {{'G', 0}, "G", "last row", KEYS_LISTS, ui_act_bottom},
    /* call sites */
    {{'\n', '\r', KEY_ENTER, 0},
     "Enter",
     "the stack tree of the site",
     KEYS_SITES,
     ui_act_open_tree},
    {{'o', 0},
     "o",
     "the live objects of the site, oldest first",
     KEYS_SITES | KEYS_TREE,
     ui_act_open_objects},
    {{'s', '>', 0}, "s >", "sort by the next column", KEYS_SITES, ui_act_sort_next},
    {{'S', '<', 0}, "S <", "sort by the previous column", KEYS_SITES, ui_act_sort_prev},
    {{'r', 0}, "r", "reverse the sort order", KEYS_SITES, ui_act_sort_reverse},
    {{'/', 0},
     "/",
     "filter by text (function, file, module); empty clears it",
     KEYS_SITES,
     ui_act_filter},
    {{'t', 0}, "t", "group the sites by tag", KEYS_SITES, ui_act_group_tag},
    {{'c', 0},
     "c",
     "Python objects by type (a census of the running program)",
     KEYS_SITES,
     ui_act_open_census},
    {{'T', 0}, "T", "group the sites by thread", KEYS_SITES, ui_act_group_thread},
    /* stack tree */
    {{'b', 0}, "b", "top-down / bottom-up", KEYS_TREE, ui_act_tree_flip},
    {{' ', '\n', '\r', KEY_ENTER, 0},
     "Space Enter",
     "expand or collapse the node",
     KEYS_TREE,
     ui_act_tree_toggle},
    {{'+', KEY_RIGHT, 'l', 0}, "+ Right l", "expand the node", KEYS_TREE, ui_act_tree_expand},
    {{'-', KEY_LEFT, 'h', 0},
     "- Left h",
     "collapse the node, or go to its parent",
     KEYS_TREE,
     ui_act_tree_collapse},
    {{'*', 0}, "*", "expand everything", KEYS_TREE, ui_act_tree_expand_all},
    /* objects */
    {{'\n', '\r', KEY_ENTER, 0},
     "Enter",
     "what keeps this object alive (live only)",
     KEYS_OBJECTS,
     ui_act_open_refs},
    {{'D', 0},
     "D",
     "write the chains as Graphviz DOT (heapline-0xADDR.dot)",
     KEYS_REFS,
     ui_act_refs_dot},
    {{'+', 0},
     "+",
     "scan again 4x deeper (the depth limit: 12, 48, 192, 768, 1000)",
     KEYS_REFS,
     ui_act_refs_deeper},
    /* census */
    {{'\n', '\r', KEY_ENTER, 0},
     "Enter",
     "what keeps the type's oldest live object alive",
     KEYS_CENSUS,
     ui_act_census_chain},
    {{'c', 0}, "c", "another census: growth since the first", KEYS_CENSUS, ui_act_census_again},
    {{'s', 0}, "s", "sort by count / by growth", KEYS_CENSUS, ui_act_census_sort},
    {{'/', 0}, "/", "filter by type name; empty clears it", KEYS_CENSUS, ui_act_filter},
    /* back */
    {{ESC, KEY_BACKSPACE, 127, CTRL('h'), 0},
     "Esc Bksp",
     "back to the previous screen",
     KEYS_TREE | KEYS_OBJECTS | KEYS_REFS | KEYS_CENSUS,
     ui_act_back},
};

#define TABLE_N (sizeof table / sizeof table[0])

const struct keys_binding *keys_lookup(unsigned screen, int key)
{
    for (size_t i = 0; i < TABLE_N; i++) {
        if (!(table[i].screens & screen))
            continue;
        for (int k = 0; k < KEYS_MAX_CODES && table[i].codes[k]; k++)
            if (table[i].codes[k] == key)
                return &table[i];
    }
    return NULL;
}

const struct keys_binding *keys_table(size_t *n)
{
    *n = TABLE_N;
    return table;
}

/* Help sections, in order; a binding is listed in the first section whose
 * mask it covers entirely, so shared bindings are not repeated. */
static const struct {
    const char *title;
    unsigned mask;
} sections[] = {
    {"Everywhere", KEYS_LISTS},
    {"Call sites", KEYS_SITES},
    {"Call sites and objects", KEYS_SITES | KEYS_OBJECTS},
    {"Stack tree", KEYS_TREE},
    {"Objects", KEYS_OBJECTS},
    {"What keeps an object alive", KEYS_REFS},
    {"Python objects by type", KEYS_CENSUS},
    {"Other screens", KEYS_TREE | KEYS_OBJECTS | KEYS_REFS | KEYS_CENSUS},
};
#define SECTIONS_N (sizeof sections / sizeof sections[0])

static int in_section(const struct keys_binding *b, size_t s)
{
    if (b->screens == sections[s].mask)
        return 1;
    return 0;
}

/* Walks the generated help; calls back for line i. Returns lines total. */
static size_t help_walk(size_t want, char *buf, size_t n, int width, int *found)
{
    size_t line = 0;
    for (size_t s = 0; s < SECTIONS_N; s++) {
        int any = 0;
        for (size_t i = 0; i < TABLE_N; i++) {
            const struct keys_binding *b = &table[i];
            int placed = in_section(b, s);
            /* bindings of an unlisted mask go to the first section they touch */
            if (!placed) {
                int listed = 0;
                for (size_t t = 0; t < SECTIONS_N; t++)
                    if (in_section(b, t))
                        listed = 1;
                if (!listed && (b->screens & sections[s].mask)) {
                    /* the first specific section (not "Everywhere") it touches */
                    size_t first = SECTIONS_N;
                    for (size_t t = 1; t < SECTIONS_N && first == SECTIONS_N; t++)
                        if (b->screens & sections[t].mask)
                            first = t;
                    placed = first == s;
                }
            }
            if (!placed)
                continue;
            if (!any) {
                if (line > 0) {
                    if (line == want && buf) {
                        snprintf(buf, n, "%s", "");
                        *found = 1;
                    }
                    line++;
                }
                if (line == want && buf) {
                    snprintf(buf, n, "%s", sections[s].title);
                    *found = 1;
                }
                line++;
                any = 1;
            }
            if (line == want && buf) {
                snprintf(buf, n, "  %-13s %s", b->label, b->help);
                *found = 1;
            }
            line++;
        }
    }
    if (buf && *found && width >= 0 && n > 0) {
        /* ASCII text: cut at width bytes */
        if (strlen(buf) > (size_t)width)
            buf[width] = '\0';
    }
    return line;
}

int keys_help_line(size_t i, char *buf, size_t n, int width)
{
    int found = 0;
    if (n == 0)
        return 0;
    buf[0] = '\0';
    help_walk(i, buf, n, width, &found);
    return found;
}

size_t keys_help_count(void)
{
    int found = 0;
    return help_walk((size_t)-1, NULL, 0, -1, &found);
}
