#!/bin/bash
# tests/e2e/screens.sh - regenerates the README's text screenshots of the demo
# (assets/screens/demo-*.txt): the leaky service under `heapline run` at
# 100x30, its site table after the run, the stack tree of the loader's site,
# the objects of that site, and the fixed twin for comparison.
#
#   BUILD=build tests/e2e/screens.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
OUT=$PWD/assets/screens
. tests/e2e/lib.sh
e2e_private_tmp screens
export E2E_CWD=$TMP E2E_SAVE=$OUT
mkdir -p "$OUT"
for s in leaky_service fixed_service; do
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -o "$TMP/$s" "assets/$s.c"
done

e2e_start demo 100 30 "$HL" run -- ./leaky_service --apps 6 --pause 300 --quiet
e2e_wait_for "loader_load_table" 20
e2e_save demo-live-100x30
e2e_wait_re "exited" 60
e2e_save demo-sites-100x30
e2e_keys g Enter
e2e_wait_for "Stack tree of"
e2e_save demo-tree-100x30
e2e_keys b
e2e_wait_for "bottom-up"
e2e_save demo-tree-bottom-up-100x30
e2e_keys Escape o
e2e_wait_for "Live objects of"
e2e_save demo-objects-100x30
e2e_keys q
e2e_wait_for "heapline-exit="

e2e_start fixed 100 30 "$HL" run -- ./fixed_service --apps 6 --pause 300 --quiet
e2e_wait_re "exited" 60
e2e_save demo-fixed-100x30
e2e_keys q
e2e_wait_for "heapline-exit="
echo "screens: written to $OUT"
