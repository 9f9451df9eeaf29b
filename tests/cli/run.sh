#!/bin/bash
# tests/cli/run.sh - the command line as a user meets it: exit statuses and the
# exact error lines of usage errors, --help of every command, refusals of
# recordings and socket directories that are not safe, stale sockets.
#
# One line per check: PASS, FAIL (expected vs got) or SKIP (needs root and
# setpriv). Exits 1 if any check failed. Environment: BUILD (default build).
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
LIB=$PWD/$BUILD/libheapline.so
W=$(mktemp -d /tmp/heapline-cli.XXXXXX)
PASSED=0
FAILED=0
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

# check NAME STATUS STDERR CMD...: CMD exits STATUS and prints exactly STDERR
# (one line) on stderr
check() {
    local name=$1 want_rc=$2 want_err=$3 err rc
    shift 3
    err=$("$@" 2>&1 >/dev/null </dev/null)
    rc=$?
    if [ "$rc" != "$want_rc" ] || [ "$err" != "$want_err" ]; then
        fail "$name" "expected status $want_rc and '$want_err', got status $rc and '$err'"
    else
        pass "$name"
    fi
}

# ---- usage errors: one line with a hint, status 2 ----
check unknown-command 2 "heapline: unknown command 'frob' (see heapline --help)" "$HL" frob
check unknown-option 2 "heapline: unknown option '--frob' (see heapline --help)" "$HL" --frob
check report-option 2 "heapline report: unknown option --frob (see heapline report --help)" \
    "$HL" report x.heapline --frob
check report-top 2 "heapline report: --top 0: not a number from 1 to 1000000000 (see heapline report --help)" \
    "$HL" report x.heapline --top 0
check record-no-o 2 "heapline record: record needs -o FILE (see heapline record --help)" \
    "$HL" record -- true
check run-no-cmd 2 "heapline run: no command to run (see heapline run --help)" "$HL" run
check attach-option 2 "heapline attach: unknown option -x (see heapline attach --help)" \
    "$HL" attach -x
check replay-none 2 "heapline replay: replay needs a FILE (see heapline replay --help)" "$HL" replay
check backrefs-depth 2 \
    "heapline backrefs: bad depth: 1024 (from 1 to 1000) (see heapline backrefs --help)" \
    "$HL" backrefs 1 --address 0x10 --depth 1024
check backrefs-fanout 2 \
    "heapline backrefs: bad fanout: 0 (from 1 to 1000) (see heapline backrefs --help)" \
    "$HL" backrefs 1 --address 0x10 --fanout 0
check backrefs-no-site 2 \
    "heapline backrefs: give exactly one of --site FUNCTION, --address ADDR and --type NAME (see heapline backrefs --help)" \
    "$HL" backrefs 1
check backrefs-option 2 "heapline backrefs: unknown option --frob (see heapline backrefs --help)" \
    "$HL" backrefs 1 --frob

# ---- run -o: a recording that cannot be created is refused before the program starts ----
check run-bad-output 1 "heapline: /nonexistent_dir/x: No such file or directory" \
    "$HL" run -o /nonexistent_dir/x -- touch "$W/ran"
[ -e "$W/ran" ] && fail run-bad-output-started "the program ran" || pass run-bad-output-not-started
check record-bad-output 1 "heapline: /nonexistent_dir/x: No such file or directory" \
    "$HL" record -o /nonexistent_dir/x -- touch "$W/ran"

# ---- --help of every command: status 0, its usage line on stdout ----
for c in run record attach replay report backrefs; do
    out=$("$HL" "$c" --help 2>"$W/help.err")
    rc=$?
    want=$("$HL" --help | sed -n "s/^  heapline $c  */heapline $c /p" | head -1)
    if [ "$rc" = 0 ] && [ "$(echo "$out" | head -1)" = "usage: $want" ] && [ ! -s "$W/help.err" ]; then
        pass "help-$c"
    else
        fail "help-$c" "expected status 0 and 'usage: $want', got status $rc and '$(echo "$out" | head -1)'"
    fi
done
out=$("$HL" backrefs --help)
case $out in
*"--fanout N "*"(1 to 1000, default 64)"*) pass help-backrefs-fanout ;;
*) fail help-backrefs-fanout "backrefs --help does not explain --fanout: $out" ;;
esac
"$HL" --help | grep -q -- '--fanout N' && pass help-fanout ||
    fail help-fanout "heapline --help does not list backrefs --fanout"

echo "cli tests: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
