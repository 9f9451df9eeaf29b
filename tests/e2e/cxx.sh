#!/bin/bash
# tests/e2e/cxx.sh - a C++ program's sites in the TUI, in tmux, as a new C++
# user reads them: tests/e2e/e2e_cxx.cpp built g++ -O2 -g, recorded, replayed.
#
#  1. 80x24: a site's name is the demangler's, up to 250 characters; in the
#     table's 20 cells it reads "geo::Cache<…>::get" (parameters, then
#     template arguments, then leading scopes dropped), not the first 19
#     characters "geo::Cache<std::__c~"; the stack tree's title keeps its
#     FILE:LINE and direction, the objects' title its count and keys; a
#     lambda's objects are "allocated at operator()", not "operator", and
#     std::function's frames above it one "...".
#  2. 160x50: room for "geo::Cache<std::string, geo::Shape>::get".
#
#   BUILD=build tests/e2e/cxx.sh          (make e2e)
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
[ -x "$HL" ] || { echo "e2e cxx: $HL not built" >&2; exit 1; }
command -v tmux >/dev/null || { echo "e2e cxx: tmux is not installed (make deps)" >&2; exit 1; }
command -v g++ >/dev/null || { echo "e2e cxx: SKIP (no g++)"; exit 0; }

. tests/e2e/lib.sh

e2e_private_tmp e2e-cxx
# built in $TMP, so the sites' files are e2e_cxx.cpp
cp tests/e2e/e2e_cxx.cpp "$TMP/"
(cd "$TMP" && g++ -O2 -g -o e2e_cxx e2e_cxx.cpp)
"$HL" record -o "$TMP/cxx.heapline" -- "$TMP/e2e_cxx" >/dev/null 2>"$TMP/record.err" ||
    { cat "$TMP/record.err" >&2; e2e_fail "heapline record failed"; }
export E2E_CWD=$TMP

pass() { echo "  ok    $*"; }
line_of() { grep -n -F "$1" tests/e2e/e2e_cxx.cpp | head -1 | cut -d: -f1; }
EMPLACE=$(line_of 'map_.emplace(k, v);')
LAMBDA=$(line_of 'std::make_shared<geo::Polygon<float>>')
CTOR=$(line_of 'explicit Polygon(int n)')
MAKE=$(line_of 'auto v = make();')
# the report's figures of the site whose function starts with $1
figure() {
    "$HL" report "$TMP/cxx.heapline" --json | python3 -c '
import json, sys
s = next(s for s in json.load(sys.stdin)["sites"] if s["function"].startswith(sys.argv[1]))
print(f"{s[sys.argv[2]]:,}")' "$1" "$2"
}
CACHE_BYTES=$(figure "geo::Cache<" live_bytes)
CACHE_BLOCKS=$(figure "geo::Cache<" live_blocks)

echo "e2e cxx: 80x24"
e2e_start cxx80 80 24 "$HL" replay cxx.heapline
e2e_wait_re "^geo::Cache<…>::get +e2e_cxx\.cpp:$EMPLACE +[0-9.]+K +$CACHE_BLOCKS +$CACHE_BLOCKS "
e2e_assert_re "^Polygon<…>::Polygon +e2e_cxx\.cpp:$CTOR "
e2e_assert_re "^operator\(\) +e2e_cxx\.cpp:$LAMBDA "
e2e_assert_not_screen "std::__c~"
pass "sites: geo::Cache<…>::get, Polygon<…>::Polygon, operator() in 20 cells"
e2e_keys / C a c h e Enter
e2e_wait_re "1 of [0-9]+ sites +filter: Cache"
e2e_wait_re "^geo::Cache<…>::get: live $CACHE_BYTES B, $CACHE_BLOCKS blocks, $CACHE_BLOCKS allocs "
pass "detail: geo::Cache<…>::get: live $CACHE_BYTES B, its figures on the line"
e2e_keys Enter
e2e_wait_for "Stack tree of geo::Cache<…>::get (e2e_cxx.cpp:$EMPLACE), top-down   b: flip  Esc: back"
e2e_assert_re "└─▾ geo::Cache<…>::get +e2e_cxx\.cpp:$EMPLACE$"
pass "tree: title with FILE:LINE and direction, the frame named"
e2e_keys Escape
e2e_wait_re "^FUNCTION +FILE:LINE"
e2e_keys o
e2e_wait_for "Live objects of Cache<…>::get (e2e_cxx.cpp:$EMPLACE): $CACHE_BLOCKS, oldest first   Esc: back"
pass "objects: the title keeps its count and keys, the name as short as it must be"
e2e_keys Escape
e2e_wait_re "^FUNCTION +FILE:LINE"
e2e_keys / BSpace BSpace BSpace BSpace BSpace o p e r a t o r Enter
e2e_wait_re "^operator\(\): live "
e2e_keys o
e2e_wait_for "Live objects of operator() (e2e_cxx.cpp:$LAMBDA): $(figure "operator()" live_blocks), oldest first"
# std::function's invoker between the lambda and Cache::get is one "..."
e2e_wait_re "^allocated at operator\(\) e2e_cxx\.cpp:$LAMBDA < \.\.\. < geo::Cache<…>::get e2e_cxx\.cpp:$MAKE"
pass "objects of the lambda: allocated at operator() e2e_cxx.cpp:$LAMBDA < ... < geo::Cache<…>::get e2e_cxx.cpp:$MAKE"

echo "e2e cxx: 160x50"
e2e_start cxx160 160 50 "$HL" replay cxx.heapline
e2e_wait_re "^geo::Cache<std::string, geo::Shape>::get +e2e_cxx\.cpp:$EMPLACE "
e2e_assert_re "^geo::Polygon<float>::Polygon\(int\) +e2e_cxx\.cpp:$CTOR "
pass "sites: geo::Cache<std::string, geo::Shape>::get, geo::Polygon<float>::Polygon(int) whole"
echo "e2e cxx: all passed"
