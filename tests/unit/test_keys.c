/*
 * test_keys.c - the one key table: lookups per screen, no key bound twice on
 * a screen, and the help generated from it lists every binding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curses.h>

#include "keys.h"
#include "view_ctx.h"

static void test_lookup(void **state)
{
    (void)state;
    const struct keys_binding *b = keys_lookup(KEYS_SITES, 'q');
    assert_non_null(b);
    assert_ptr_equal(b->action, ui_act_quit);
    /* Enter opens the tree on the site table and toggles a node in the tree */
    assert_ptr_equal(keys_lookup(KEYS_SITES, '\r')->action, ui_act_open_tree);
    assert_ptr_equal(keys_lookup(KEYS_TREE, '\r')->action, ui_act_tree_toggle);
    /* Left moves time on the site table, collapses in the tree */
    assert_ptr_equal(keys_lookup(KEYS_SITES, KEY_LEFT)->action, ui_act_time_back);
    assert_ptr_equal(keys_lookup(KEYS_TREE, KEY_LEFT)->action, ui_act_tree_collapse);
    assert_ptr_equal(keys_lookup(KEYS_TREE, '[')->action, ui_act_time_back);
    assert_ptr_equal(keys_lookup(KEYS_SITES, 'p')->action, ui_act_time_peak);
    assert_ptr_equal(keys_lookup(KEYS_SITES, 'j')->action, ui_act_down);
    /* keys of one screen do nothing on another */
    assert_null(keys_lookup(KEYS_SITES, 'b'));
    assert_null(keys_lookup(KEYS_TREE, '/'));
    assert_null(keys_lookup(KEYS_SITES, 'Q'));
    assert_ptr_equal(keys_lookup(KEYS_TREE, 'z')->action, ui_act_zoom_in);
}

static void test_no_duplicates(void **state)
{
    size_t n;
    const struct keys_binding *t = keys_table(&n);
    (void)state;
    for (unsigned screen = 1; screen <= KEYS_CENSUS; screen <<= 1) {
        for (size_t i = 0; i < n; i++) {
            if (!(t[i].screens & screen))
                continue;
            for (int k = 0; k < KEYS_MAX_CODES && t[i].codes[k]; k++) {
                /* the first binding of this code on this screen must be this one */
                const struct keys_binding *b = keys_lookup(screen, t[i].codes[k]);
                if (b != &t[i])
                    fail_msg("key %d bound twice on screen %u (%s / %s)", t[i].codes[k], screen,
                             b->label, t[i].label);
            }
        }
    }
}

static void test_help(void **state)
{
    size_t n, lines = keys_help_count();
    const struct keys_binding *t = keys_table(&n);
    char buf[256];
    (void)state;
    assert_true(lines > n); /* every binding plus section titles */
    assert_int_equal(keys_help_line(0, buf, sizeof buf, 200), 1);
    assert_string_equal(buf, "Everywhere");
    assert_int_equal(keys_help_line(1, buf, sizeof buf, 200), 1);
    assert_string_equal(buf, "  q             quit (the terminal is restored)");
    assert_int_equal(keys_help_line(lines, buf, sizeof buf, 200), 0);
    /* each binding's help appears exactly once */
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t l = 0; l < lines; l++) {
            keys_help_line(l, buf, sizeof buf, 250);
            if (strstr(buf, t[i].help) && strstr(buf, t[i].label))
                seen++;
        }
        if (seen != 1)
            fail_msg("binding '%s' listed %d times in the help", t[i].label, seen);
    }
    /* cut at the width */
    keys_help_line(1, buf, sizeof buf, 10);
    assert_int_equal(strlen(buf), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_no_duplicates),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
