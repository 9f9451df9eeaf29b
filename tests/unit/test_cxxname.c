/*
 * test_cxxname.c - C++ names as __cxa_demangle spells them (from g++ -O2 -g
 * programs), fitted to the site table's 20 cells at 80 columns and compared
 * without their parameters: exact strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cxxname.h"

#define CACHE_GET                                                                                  \
    "geo::Cache<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >, " \
    "geo::Shape>::get(std::__cxx11::basic_string<char, std::char_traits<char>, "                   \
    "std::allocator<char> > const&, std::function<std::shared_ptr<geo::Shape> ()> const&)"

static size_t base(const char *fn)
{
    return cxxname_base_len(fn);
}

static void test_base_len(void **state)
{
    (void)state;
    assert_int_equal(base("jobs::Registry::add(int)"), strlen("jobs::Registry::add"));
    assert_int_equal(base("jobs::Registry::add(int) [clone .isra.0]"),
                     strlen("jobs::Registry::add"));
    assert_int_equal(base("geo::Circle::clone() const"), strlen("geo::Circle::clone"));
    assert_int_equal(base("std::function<void ()>::operator()() const"),
                     strlen("std::function<void ()>::operator()"));
    assert_int_equal(base("operator()"), strlen("operator()"));
    assert_int_equal(base("main::{lambda()#1}::operator()() const"),
                     strlen("main::{lambda()#1}::operator()"));
    assert_int_equal(base("process_job"), strlen("process_job"));
    assert_int_equal(base("operator new(unsigned long)"), strlen("operator new"));
    assert_int_equal(base("(anonymous namespace)::load()"), strlen("(anonymous namespace)::load"));
    assert_int_equal(base("__invoke_impl<void, main(int, char**)::<lambda()>&>"),
                     strlen("__invoke_impl<void, main(int, char**)::<lambda()>&>"));
}

static void test_matches(void **state)
{
    (void)state;
    assert_true(cxxname_matches("jobs::Registry::add(int) [clone .isra.0]", "jobs::Registry::add"));
    assert_true(cxxname_matches("jobs::Registry::add(int) [clone .isra.0]", "Registry::add"));
    assert_true(cxxname_matches("jobs::Registry::add(int) [clone .isra.0]", "add"));
    assert_true(cxxname_matches("jobs::Registry::add(int)", "jobs::Registry::add(int)"));
    assert_true(
        cxxname_matches("jobs::Registry::add(int) [clone .isra.0]", "jobs::Registry::add(int)"));
    assert_false(
        cxxname_matches("jobs::Registry::add(int) [clone .isra.0]", "jobs::Registry::add(long)"));
    assert_true(cxxname_matches("process_job", "process_job"));
    assert_false(cxxname_matches("jobs::Registry::add(int)", "dd"));
    assert_false(cxxname_matches("jobs::Registry::add(int)", "Registry::ad"));
    assert_false(cxxname_matches("process_job", "job"));
    assert_false(cxxname_matches("jobs::Registry::add(int)", "jobs::Registry::add(long)"));
}

static void fits(const char *fn, int width, int ascii, const char *want)
{
    char buf[256];

    assert_string_equal(cxxname_fit(fn, width, ascii, buf, sizeof buf), want);
}

static void test_fit(void **state)
{
    (void)state;
    fits("build_record(int)", 20, 0, "build_record(int)");
    fits("geo::Circle::clone() const", 20, 0, "geo::Circle::clone");
    fits(CACHE_GET, 20, 0, "geo::Cache<\u2026>::get");
    fits(CACHE_GET, 16, 0, "Cache<\u2026>::get");
    fits(CACHE_GET, 30, 0, "geo::Cache<\u2026>::get");
    fits(CACHE_GET, 60, 0, "geo::Cache<std::string, geo::Shape>::get");
    fits(CACHE_GET, 30, 1, "geo::Cache<...>::get");
    fits("geo::Polygon<double>::Polygon(geo::Polygon<double> const&)", 20, 0,
         "Polygon<\u2026>::Polygon");
    fits("geo::Polygon<double>::Polygon(geo::Polygon<double> const&)", 30, 0,
         "geo::Polygon<double>::Polygon");
    /* the namespace goes before the template arguments that tell sites apart */
    fits("geo::Polygon<float>::Polygon(int)", 24, 0, "Polygon<float>::Polygon");
    fits("std::map<std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> "
         ">, long, std::less<std::__cxx11::basic_string<char, std::char_traits<char>, "
         "std::allocator<char> > > >::operator[](std::__cxx11::basic_string<char, "
         "std::char_traits<char>, std::allocator<char> > const&)",
         30, 0, "std::map<\u2026>::operator[]");
    /* the longest list first: emplace's arguments, then the map's */
    fits("std::pair<std::_Rb_tree_iterator<int>, bool> std::map<int, long>::emplace<std::pair<int, "
         "long>&>(std::pair<int, long>&)",
         30, 0, "map<int, long>::emplace<\u2026>");
    fits("void std::__invoke_impl<void, ThreadPool::ThreadPool(int)::{lambda()#1}>(std::__invoke_"
         "other, ThreadPool::ThreadPool(int)::{lambda()#1}&&)",
         20, 0, "std::__invoke_impl<\u2026>");
    fits("std::vector<int, std::allocator<int> >::operator[](unsigned long)", 20, 0,
         "vector<\u2026>::operator[]");
    fits("bool std::operator< <char>(std::__cxx11::basic_string<char> const&)", 20, 0,
         "std::operator< <char>");
    fits("operator new(unsigned long)", 12, 0, "operator new");
    fits("ThreadPool::push(std::function<void ()>)", 20, 0, "ThreadPool::push");
    fits("ResourceLoader.__init__.<locals>.<listcomp>", 20, 0,
         "ResourceLoader.__init__.<locals>.<listcomp>");
    fits("<module>", 5, 0, "<module>");
    fits("libstdc++.so.6.0.30+0xa57ba", 20, 0, "libstdc++.so.6.0.30+0xa57ba");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_len),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
