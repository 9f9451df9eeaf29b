#!/bin/bash
# tests/e2e/python.sh - the Python story in the TUI (issue 10), in tmux, as a new
# user lives it with Debian's CPython 3.11 (/usr/bin/python3):
#
#  1. 80x24: `heapline run` of assets/leaky_service.py: the growing sites are
#     leaky_service.py lines, whole in the FILE:LINE column, on top while the
#     cursor has not moved; `heapline backrefs PID` of the program under `run`
#     from another shell; o lists the line's objects, Enter names the chain to
#     instance_map as objgraph does, on a "python:" line and on every hop.
#  2. 100x30: the same screens, saved for the README (E2E_SAVE).
#  3. a census's oldest instance freed before Enter: the chain screen says to
#     take a new census (tests/e2e/pydrop.py), at 80x24.
#  4. the fixed twin: its heap comes back down after every unload (the peak
#     is one app's tables, far below what it allocated).
#
#   BUILD=build tests/e2e/python.sh          (make e2e)
#   E2E_SAVE=assets/screens tests/e2e/python.sh   also saves the screens
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
PY=/usr/bin/python3
[ -x "$HL" ] || { echo "e2e python: $HL not built" >&2; exit 1; }
command -v tmux >/dev/null || { echo "e2e python: tmux is not installed (make deps)" >&2; exit 1; }
if ! [ -x "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "e2e python: SKIP ($PY is not CPython 3.11)"
    exit 0
fi

. tests/e2e/lib.sh

e2e_private_tmp e2e-py
# the TUIs run in $TMP with the services copied there, so titles and paths are short
cp assets/leaky_service.py assets/fixed_service.py "$TMP/"
export E2E_CWD=$TMP

pass() { echo "  ok    $*"; }

# the story at one size: sites, backrefs from a shell, objects, the chain
story() {
    local w=$1 h=$2 tag=$3 pid text
    echo "e2e python: the leaky service at ${w}x$h"
    e2e_start "py$w" "$w" "$h" "$HL" run -- "$PY" leaky_service.py --forever --pause 400 --quiet
    # two apps loaded and unloaded, 6 + 9 MB of tables held at leaky_service.py:76, on the
    # first row (15.0M and up)
    e2e_wait_re "^ResourceLoader\.load.* leaky_service\.py:76 +(1[5-9]\.[0-9]|[2-9][0-9]\.[0-9]|[1-9][0-9][0-9])M " 60
    e2e_assert_re "^FUNCTION +FILE:LINE +LIVE"
    e2e_assert_re "^ heapline  live  $PY leaky_service\.py "
    [ "$(e2e_screen | grep -A1 '^FUNCTION' | tail -1 | grep -c 'leaky_service.py:76')" = 1 ] ||
        e2e_fail "leaky_service.py:76 is not the first site"
    e2e_assert_re "^ResourceLoader\.__in.* leaky_service\.py:71 "
    e2e_assert_re "◆load"
    e2e_save "$tag-live-${w}x$h"
    pass "sites: leaky_service.py:76 (load_table) on top, growing; :71, :72 below; load markers"

    pid=$(program_pid)
    [ -n "$pid" ] || e2e_fail "no program under heapline run"
    text=$("$HL" backrefs "$pid" --site leaky_service.py:76) || e2e_fail "backrefs $pid failed"
    echo "$text" | grep -qE '^chain 1 \([0-9]+ hops\): bytearray <- list \[0\] <- ResourceLoader \.table <- Processor \.loader <- dict \[[0-9]+\] <- module __main__ global instance_map:' ||
        e2e_fail "backrefs of the program under run: $text"
    pass "backrefs PID of the program under run (its run-PPID.sock): dict [id] <- module __main__ global instance_map"

    e2e_keys o
    e2e_wait_for "Live objects of ResourceLoader.load_table (leaky_service.py:76)"
    e2e_wait_re "^0x[0-9a-f]+ +56 "
    e2e_save "$tag-objects-${w}x$h"
    e2e_keys Enter
    e2e_wait_re "What keeps 0x[0-9a-f]+ alive" 30
    e2e_wait_for "python: bytearray <- list [0] <- ResourceLoader .table <- Processor .loader" 30
    e2e_wait_re "^(python: | +<- ).*module __main__ global instance_map$"
    e2e_assert_re "^(python: .*| +)<- dict \[[0-9]+\]"
    e2e_assert_re "^= bytearray: object 0x[0-9a-f]+ \(56 B\) from ResourceLoader\.load_table"
    e2e_assert_re "= list \[0\]: heap 0x"
    e2e_assert_re "= ResourceLoader \.table: heap 0x"
    e2e_save "$tag-refs-${w}x$h"
    pass "o, Enter: the oldest bytearray's chain named as objgraph names it, each hop's name first"
    e2e_keys q
    e2e_assert_restored 0
}

story 80 24 py
story 100 30 demo-py

# a census's oldest instance freed before Enter: the chain screen says what to do
echo "e2e python: a census instance freed since the census, 80x24"
e2e_py_service drop "$PWD/tests/e2e/pydrop.py"
DROPPID=$E2E_PY_PID
e2e_start drop 80 24 "$HL" attach "$DROPPID"
e2e_wait_re "attached to .*$DROPPID\.sock"
e2e_keys c
e2e_wait_re "^[0-9]+ live Python objects of [0-9]+ types"
e2e_keys / D o o m e d Enter
e2e_wait_for "; 1 match /Doomed"
e2e_assert_re "^Doomed +3 +[0-9.]+K +\+0 +0x[0-9a-f]+$"
echo drop >&8
for _ in $(seq 200); do grep -q '^dropped' "$TMP/drop.out" && break; sleep 0.05; done
grep -q '^dropped' "$TMP/drop.out" || e2e_fail "pydrop.py did not drop its Doomed"
e2e_keys Enter
e2e_wait_re "^What keeps 0x[0-9a-f]+ alive: no live block at 0x[0-9a-f]+   Esc: back$" 20
e2e_assert_re "^the census is older than the heap: Esc, then c takes a new census$"
e2e_keys Escape c
e2e_wait_re "; growth over [0-9.]+m?s; 0 match /Doomed$"
e2e_keys q
e2e_assert_restored 0
exec 8>&-
kill "$DROPPID" 2>/dev/null || true
wait "$DROPPID" 2>/dev/null || true
pass "Enter on a census type whose instances were freed: 'the census is older than the heap: Esc, then c takes a new census'; c: Doomed is gone"

echo "e2e python: the fixed service"
e2e_start pyfixed 100 30 "$HL" run -o fixed.heapline -- "$PY" fixed_service.py --apps 6 --pause 300 --quiet
e2e_wait_re "exited" 90
e2e_assert_re "◆(load|unload)"
e2e_save demo-py-fixed-100x30
e2e_keys q
e2e_assert_restored 0
"$HL" report "$TMP/fixed.heapline" --json >"$TMP/fixed.json"
python3 - "$TMP/fixed.json" <<'PY' || e2e_fail "the fixed service's heap did not come back down"
import json, sys
r = json.load(open(sys.argv[1]))
mb = 1 << 20
# six apps of 2+3+2+1+3+1 MB a processor, 3 processors each: 36 MB of tables
# allocated; the largest app (3 MB x 3) and the tables of the next are the most at once
ok = r["bytes_allocated"] > 36 * mb and r["peak_bytes"] < 16 * mb
print("  fixed: %.1f MB allocated, peak %.1f MB" % (r["bytes_allocated"] / mb, r["peak_bytes"] / mb))
sys.exit(0 if ok else 1)
PY
pass "fixed_service.py: the heap falls back after each unload (peak one app, not the sum)"
echo "e2e python: all passed"
