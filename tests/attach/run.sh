#!/bin/bash
# tests/attach/run.sh - heapline attach, record --pid and backrefs on programs
# started without heapline: the collector is loaded by ptrace (tui/attach.c),
# records what happens from then on with exact figures, detaches to idle and
# comes back; and each failure gets one line and leaves the program running
# as it was (never stopped, hung or crashed).
#
#   BUILD=build tests/attach/run.sh            (make attach; in make test)
#   BUILD=build tests/attach/run.sh --cycles N  only the attach/detach cycles
#                                               (make stress: 100)
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
[ -x "$HL" ] || { echo "attach: $HL not built" >&2; exit 1; }
CYCLES_ONLY=
if [ "${1:-}" = --cycles ]; then CYCLES_ONLY=${2:?--cycles N}; fi

TMP=$(mktemp -d /tmp/heapline-attach.XXXXXX)
chmod 755 "$TMP"
PIDS=()
REC=
cleanup() {
    # only the ones still our children: the others' pids may belong to anyone by now
    for p in "${PIDS[@]}"; do
        [ "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" = $$ ] || continue
        { kill -CONT "$p" && kill -KILL "$p" && wait "$p"; } 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$TMP/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
unset HEAPLINE_SOCKET_DIR HEAPLINE_ATTACH_TIMEOUT_MS

pass() { echo "PASS $* [${SECONDS}s]"; }
fail() { echo "FAIL $*" >&2; exit 1; }

CC=${CC:-cc}
$CC -O2 -g -pthread tests/attach/busy.c -o "$TMP/busy"
$CC -O1 -g tests/attach/target.c -o "$TMP/target" -ldl -lpthread
$CC -shared -fPIC tests/attach/stuck.c -o "$TMP/libstuck.so"

# wait_line FILE TEXT [SECONDS]: until FILE has a line containing TEXT
wait_line() {
    local end=$(($(date +%s%N) + ${3:-20} * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.02
    done
    fail "timed out waiting for '$2' in $1: $(tail -3 "$1" 2>/dev/null)"
}

# A command target: T_PID, its stdin on fd 7, its stdout in $TMP/NAME.out
start_target() { # NAME MODE [ARG]   (STACK_KB=N: its stack limited to N KiB)
    local name=$1 limit=()
    shift
    [ -z "${STACK_KB:-}" ] || limit=(prlimit --stack=$((STACK_KB * 1024)))
    rm -f "$TMP/$name.in"
    mkfifo "$TMP/$name.in"
    ${limit[@]+"${limit[@]}"} "$TMP/target" "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    T_PID=$!
    PIDS+=("$T_PID")
    exec 7>"$TMP/$name.in"
    wait_line "$TMP/$name.out" "ready $T_PID"
}
# say NAME COMMAND ANSWER: sends a command, waits for its answer (a new line)
say() {
    local before end
    before=$(wc -l <"$TMP/$1.out")
    echo "$2" >&7
    end=$(($(date +%s%N) + 20 * 1000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        tail -n +$((before + 1)) "$TMP/$1.out" | grep -qF -- "$3" && return 0
        sleep 0.02
    done
    fail "timed out waiting for '$3' from $1 after '$2'"
}
state() { awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null || echo gone; }
collector_thread() { grep -lx heapline /proc/"$1"/task/*/comm 2>/dev/null | head -1; }
loaded() { grep -q '/memfd:heapline' "/proc/$1/maps" 2>/dev/null; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
site() { json "$1" "next((s['$3'] for s in d['sites'] if s['function']=='$2'), 0)"; }
# runs_on PID: not stopped, and (a command target) still answers
runs_on() {
    local s
    s=$(state "$1")
    [ "$s" != T ] && [ "$s" != t ] && [ "$s" != gone ] || fail "$2: pid $1 is $s"
}
# one_line FILE: heapline said exactly one line
one_line() { [ "$(wc -l <"$1")" = 1 ] || fail "expected one line, got: $(cat "$1")"; }
# rec_start PID NAME [OPTION...]: record --pid PID -o $TMP/NAME.heapline (its stderr in
# $TMP/NAME.err) in the background (REC), returning once the collector runs in PID;
# rec_stop NAME: Ctrl-C to that record, then its report --json in $TMP/NAME.json
rec_start() {
    local pid=$1 name=$2
    shift 2
    "$HL" record --pid "$pid" "$@" -o "$TMP/$name.heapline" 2>"$TMP/$name.err" &
    REC=$!
    until_collector "$pid" "$name"
}
# until_collector PID NAME: until the collector runs in PID, while REC runs, for 30 s at most
# (heapline once waited for good for a thread that did not stop: a test should say so)
until_collector() {
    local end=$((SECONDS + 30))
    until [ -n "$(collector_thread "$1")" ]; do
        rec_alive "$2" $end
        sleep 0.02
    done
}
rec_alive() { # NAME END: REC (if any: the TUI's is in tmux) runs and SECONDS has not reached END
    [ -z "$REC" ] || kill -0 $REC 2>/dev/null || fail "$1: record --pid ended: $(cat "$TMP/$1.err")"
    [ $SECONDS -lt "$2" ] || { kill -KILL $REC 2>/dev/null; fail "$1: still attaching after 30 s: $(cat "$TMP/$1.err")"; }
}
# wait_rec NAME: REC's exit status, waiting 30 s at most
wait_rec() {
    local end=$((SECONDS + 30))
    while kill -0 $REC 2>/dev/null; do
        [ $SECONDS -lt $end ] || { kill -KILL $REC; fail "$1: record --pid still running after 30 s: $(cat "$TMP/$1.err")"; }
        sleep 0.02
    done
    wait $REC
}
rec_stop() {
    kill -INT $REC
    wait_rec "$1" || fail "$1: record --pid: exit $?: $(cat "$TMP/$1.err")"
    "$HL" report "$TMP/$1.heapline" --json >"$TMP/$1.json"
}

# ---- attach/detach cycles: the program's output is unchanged ----
cycles() {
    local n=$1 bare out size fds1 maps1 fdsn mapsn
    "$TMP/busy" 4 20000 >"$TMP/bare.out" &
    bare=$!
    sleep 0.5
    kill -TERM $bare
    wait $bare || fail "cycles: the bare run failed"
    "$TMP/busy" 4 20000 >"$TMP/busy.out" 2>"$TMP/busy.err" &
    out=$!
    PIDS+=("$out")
    wait_line "$TMP/busy.out" "ready $out"
    size=$(awk '/^FDSize:/{print $2}' /proc/$out/status)
    for i in $(seq 1 "$n"); do
        "$HL" record --pid $out -o "$TMP/cycle.heapline" --for 0.05 2>"$TMP/cycle.err" ||
            fail "cycles: attach $i of $n: $(cat "$TMP/cycle.err")"
        runs_on $out "cycle $i"
        [ -z "$(collector_thread $out)" ] || fail "cycle $i: the collector still runs after detach"
        if [ "$i" = 3 ]; then # the first ones settle the program's arenas (103, 109, 111, 111...)
            fds1=$(ls /proc/$out/fd | wc -l)
            maps1=$(wc -l </proc/$out/maps)
        fi
    done
    # a detached run leaves nothing behind: its thread joined, its buffers and libdw's files
    # closed (each attach once kept 2 descriptors, an 8 MB stack and 5 mappings more)
    fdsn=$(ls /proc/$out/fd | wc -l)
    mapsn=$(wc -l </proc/$out/maps)
    # (busy's own arenas and thread stacks come and go: at most one mapping more an attach)
    [ "$n" -lt 4 ] || { [ "$fdsn" = "$fds1" ] && [ "$mapsn" -le $((maps1 + n - 3)) ]; } ||
        fail "cycles: after attach 3 $fds1 descriptors and $maps1 mappings, after attach $n $fdsn and $mapsn"
    # each growth of a threaded program's descriptor table stops the thread heapline
    # injects into for an RCU grace period (8 ms here; 3 of them took 64 to 512)
    [ "$(awk '/^FDSize:/{print $2}' /proc/$out/status)" = "$size" ] ||
        fail "cycles: the attach grew the descriptor table from $size to $(awk '/^FDSize:/{print $2}' /proc/$out/status)"
    kill -TERM $out
    wait $out || fail "cycles: busy exited with $?"
    sed -i '/^ready /d' "$TMP/bare.out" "$TMP/busy.out"
    cmp -s "$TMP/bare.out" "$TMP/busy.out" ||
        fail "cycles: output differs: $(diff "$TMP/bare.out" "$TMP/busy.out" | head -5)"
    grep -q "every epoch the same" "$TMP/busy.out" || fail "cycles: no output"
    pass "cycles: $n attach/detach cycles on 4 busy threads, 0 hangs, 0 crashes, output unchanged ($(wc -l <"$TMP/busy.out") lines), its descriptor table not grown ($size), after attach 3 and $n: $fds1 and $fdsn descriptors, $maps1 and $mapsn mappings"
}
if [ -n "$CYCLES_ONLY" ]; then
    cycles "$CYCLES_ONLY"
    exit 0
fi

# ---- record --pid --exact: exact figures from the attach on ----
start_target rec cmd
rec_start $T_PID rec --exact
say rec "leak 40 1000" "leaked 40"
say rec "free-old 10" "freed 10"
rec_stop rec
[ "$(site "$TMP/rec.json" leak_site live_blocks)" = 40 ] &&
    [ "$(site "$TMP/rec.json" leak_site live_bytes)" = 40000 ] &&
    [ "$(site "$TMP/rec.json" pre_site allocations)" = 0 ] ||
    fail "record --pid: leak_site $(site "$TMP/rec.json" leak_site live_blocks) blocks $(site "$TMP/rec.json" leak_site live_bytes) bytes"
grep -q "10 frees of blocks allocated before the attach were ignored" "$TMP/rec.err" ||
    fail "record --pid: the ignored frees are not counted: $(cat "$TMP/rec.err")"
# its closing line reads the totals from the ticks alone: the report's, read whole
counts="$(json "$TMP/rec.json" "d['total_allocations']") allocations, $(json "$TMP/rec.json" "d['total_frees']") frees"
grep -q "recorded pid $T_PID for .*: $counts into " "$TMP/rec.err" ||
    fail "record --pid: not '$counts': $(cat "$TMP/rec.err")"
runs_on $T_PID "record --pid"
[ -z "$(collector_thread $T_PID)" ] && loaded $T_PID || fail "record --pid: the collector is not idle"
say rec "leak 1 10" "leaked 1"
say rec "fork" "forked" # a child and a grandchild of a detached program (its fork handlers)
pass "record-pid: leak_site 40 blocks 40000 bytes after the attach, pre_site none, 10 frees from before ignored and counted; detached, idle, the program answers"

# ---- a second attach re-activates the idle collector: a fresh run ----
rec_start $T_PID rec2 --exact
say rec "leak 5 500" "leaked 5"
rec_stop rec2
[ "$(site "$TMP/rec2.json" leak_site live_blocks)" = 5 ] &&
    [ "$(site "$TMP/rec2.json" leak_site live_bytes)" = 2500 ] ||
    fail "re-attach: leak_site $(site "$TMP/rec2.json" leak_site live_blocks) blocks"
[ "$(grep -c '/memfd:heapline' /proc/$T_PID/maps)" = "$(grep -c '/memfd:heapline' /proc/$T_PID/maps | head -1)" ] || true
[ "$(awk '/memfd:heapline/ && $3 == "00000000"' /proc/$T_PID/maps | wc -l)" = 1 ] ||
    fail "re-attach: the library was loaded twice"
pass "reattach: the same library, a fresh run: leak_site 5 blocks 2500 bytes"

# ---- record --pid samples by default (512 KiB): blocks of the rate or more are exact ----
if "$HL" record --pid $T_PID --sample 12 -o "$TMP/bad.heapline" 2>"$TMP/bad.err"; then fail "--sample 12 accepted"; fi
grep -q "expected a size from 1K to 1T" "$TMP/bad.err" && one_line "$TMP/bad.err" ||
    fail "record --pid --sample 12: $(cat "$TMP/bad.err")"
rec_start $T_PID smp
say rec "leak 4 1048576" "leaked 4"
rec_stop smp
got="$(json "$TMP/smp.json" "(d['sampled'], d['sample_rate'])") $(site "$TMP/smp.json" leak_site live_blocks) $(site "$TMP/smp.json" leak_site live_bytes)"
[ "$got" = "(True, 524288) 4 4194304" ] || fail "sampled record --pid: sampled, rate, blocks, bytes: $got"
"$HL" report "$TMP/smp.heapline" | grep -q "sampled" || fail "sampled record --pid: the text report does not say it is sampled"
# a second sampled attach counts its own calls: its totals were the first one's plus its own
rec_start $T_PID smp2
say rec "leak 3 1000" "leaked 3"
rec_stop smp2
got=$(json "$TMP/smp2.json" "d['allocations'], d['frees'], d['bytes_allocated'], d['live_blocks'], d['live_bytes']")
[ "$got" = "(3, 0, 3000, 3, 3000)" ] && grep -q "recorded pid $T_PID for .*: 3 allocations, 0 frees" "$TMP/smp2.err" ||
    fail "second sampled record --pid: allocations, frees, bytes, blocks, live bytes: $got; $(cat "$TMP/smp2.err")"
pass "record-pid-sampled: --sample 12 refused in one line; by default sampled at 524288 B, leak_site's 4 blocks of 1 MiB exact (4194304 bytes); a second sampled attach's totals are its own: 3 allocations, 3000 bytes"

# ---- backrefs PID: bad arguments load nothing; good ones attach, answer, detach ----
if "$HL" backrefs $T_PID --site leak_site --depth 0 2>"$TMP/br.err"; then fail "backrefs: --depth 0 accepted"; fi
grep -q "bad depth: 0" "$TMP/br.err" || fail "backrefs usage: $(cat "$TMP/br.err")"
rc=0
"$HL" backrefs $T_PID --site pre_site 2>"$TMP/br.err" || rc=$?
[ $rc = 1 ] && grep -q "no allocation site named pre_site" "$TMP/br.err" ||
    fail "backrefs: exit $rc: $(cat "$TMP/br.err")"
[ -z "$(collector_thread $T_PID)" ] || fail "backrefs: the collector still runs after it"
say rec "leak 1 10" "leaked 1"
pass "backrefs: --depth 0 refused before any attach; --site pre_site attached, said it has no live block since the attach, detached"

# ---- backrefs PID --site of a site that allocates only after the attach: it waits for a sampled
# block there (5 s at most; a 1 MiB block is always sampled at 512K) and prints its chain ----
"$HL" backrefs $T_PID --site leak_site >"$TMP/brw.out" 2>"$TMP/brw.err" &
BRW=$!
end=$((SECONDS + 30))
until grep -q "waiting up to 5 s" "$TMP/brw.err" 2>/dev/null || [ $SECONDS -ge $end ]; do sleep 0.02; done
say rec "leak 1 1048576" "leaked 1"
rc=0
wait $BRW || rc=$?
[ $rc = 0 ] && grep -q "^0x[0-9a-f]*: 1048576 bytes allocated at leak_site" "$TMP/brw.out" &&
    grep -q "<- global kept (target) +" "$TMP/brw.out" ||
    fail "backrefs-wait: exit $rc: $(cat "$TMP/brw.err" "$TMP/brw.out" | head -8)"
[ -z "$(collector_thread $T_PID)" ] || fail "backrefs-wait: the collector still runs after it"
pass "backrefs-wait: --site leak_site waited for the block allocated after its attach, chain to global kept, detached"

# ---- backrefs PID while record --pid records it: it asks that run's collector (record --pid
# listens too) and leaves it attached; the recording goes on and ends whole ----
rec_start $T_PID brrec --exact
say rec "leak 2 3000" "leaked 2"
"$HL" backrefs $T_PID --site leak_site >"$TMP/brrec.out" 2>"$TMP/brrec.err" ||
    fail "backrefs beside record --pid: $(cat "$TMP/brrec.err")"
grep -q "^0x[0-9a-f]*: 3000 bytes allocated at leak_site" "$TMP/brrec.out" &&
    grep -q "<- global kept (target) +" "$TMP/brrec.out" ||
    fail "backrefs beside record --pid: $(head -5 "$TMP/brrec.out")"
[ -n "$(collector_thread $T_PID)" ] && kill -0 $REC || fail "backrefs beside record --pid: it detached"
say rec "leak 1 700" "leaked 1"
rec_stop brrec
[ "$(json "$TMP/brrec.json" "d['live_blocks'], d['live_bytes'], d['allocations']")" = "(3, 6700, 3)" ] ||
    fail "record --pid beside backrefs: $(json "$TMP/brrec.json" "d['live_blocks'], d['live_bytes'], d['allocations']")"
[ -z "$(collector_thread $T_PID)" ] && [ ! -e "$XDG_RUNTIME_DIR/heapline/$T_PID.sock" ] ||
    fail "record --pid beside backrefs: its end did not detach: $(ls "$XDG_RUNTIME_DIR/heapline")"
pass "backrefs-beside-record: backrefs PID during record --pid: chain to global kept from the record's collector, still attached; the recording has all 3 blocks (6700 bytes), its end detached"

# ---- backrefs PID --address of a block allocated before the attach: its chain to the global,
# through another such block, both found in glibc's heap (collector/heapwalk.c) ----
say rec "chain" "chain "
read -r A D < <(grep '^chain ' "$TMP/rec.out" | tail -1 | cut -d' ' -f2-)
B=$(printf '0x%x' $((A + D)))
"$HL" backrefs $T_PID --address "$B" --json >"$TMP/pre.json" 2>"$TMP/pre.err" ||
    fail "backrefs of a block from before the attach: $(cat "$TMP/pre.err")"
got=$(python3 - "$TMP/pre.json" "$A" "$B" <<'PY'
import json, sys
d, a, b = json.load(open(sys.argv[1])), int(sys.argv[2], 16), int(sys.argv[3], 16)
t = d["target"]
chain = next((c for c in d["chains"] if c[-1].get("symbol") == "pre_chain"), [])
hops = [(h["kind"], int(h["address"], 16), h.get("size"), h.get("untracked"), h.get("allocated"),
         h.get("symbol"), h["offset"]) for h in chain]
print(int(t["address"], 16) == b, t["size"], t["untracked"], t["allocated"], d["heap_walk"],
      hops[:1] == [("heap", a, 56, True, "allocated before the attach or not sampled", None, 0)],
      [h[0] for h in hops], hops[-1][5] if hops else None)
PY
)
[ "$got" = "True 200 True allocated before the attach or not sampled True True ['heap', 'global'] pre_chain" ] ||
    fail "backrefs of a block from before the attach: $got: $(head -c 600 "$TMP/pre.json")"
"$HL" backrefs $T_PID --address "$B" >"$TMP/pre.txt" 2>&1
grep -q "^$B: 200 bytes allocated before the attach or not sampled" "$TMP/pre.txt" &&
    grep -q "<- $(printf '0x%x' $A) (56 bytes, allocated before the attach or not sampled) +0" "$TMP/pre.txt" &&
    grep -q "<- global pre_chain (target) +0" "$TMP/pre.txt" ||
    fail "backrefs text of a block from before the attach: $(cat "$TMP/pre.txt")"
[ -z "$(collector_thread $T_PID)" ] || fail "backrefs: the collector still runs after it"
say rec "leak 1 10" "leaked 1"
pass "backrefs-before-attach: a 200-byte block allocated before the attach (size from its chunk) <- a 56-byte one <- global pre_chain, found in glibc's heap"

# ---- the program ends while recorded ----
"$HL" record --pid $T_PID --exact -o "$TMP/end.heapline" 2>"$TMP/end.err" &
REC=$!
until_collector $T_PID end
say rec "leak 3 100" "leaked 3"
say rec "quit" "bye"
wait_rec end || fail "record --pid of an ending program: exit $?: $(cat "$TMP/end.err")"
grep -q "until it ended" "$TMP/end.err" || fail "end: $(cat "$TMP/end.err")"
"$HL" report "$TMP/end.heapline" --json >"$TMP/end.json"
[ "$(site "$TMP/end.json" leak_site live_blocks)" = 3 ] || fail "end: leak_site $(site "$TMP/end.json" leak_site live_blocks)"
# its figures count from the attach, and the report says so
[ "$(json "$TMP/end.json" "d['since_attach']")" = True ] || fail "end: since_attach is not true"
"$HL" report "$TMP/end.heapline" >"$TMP/end.txt"
grep -qx "since attach  the collector was loaded into the running program (attach, record --pid): figures count from then (live: the blocks allocated since that are live)" "$TMP/end.txt" ||
    fail "end: no 'since attach' line: $(head -12 "$TMP/end.txt")"
exec 7>&-
pass "ended: the recording ends with the program: leak_site 3 blocks, 'since attach' in the report"

# ---- the TUI: heapline attach PID, q detaches to idle ----
if command -v tmux >/dev/null; then
    . tests/e2e/lib.sh
    REC= # heapline runs in tmux
    start_target tui cmd
    say tui "leak 1 10" "leaked 1"
    e2e_start attach 100 30 "$HL attach --exact $T_PID"
    until_collector $T_PID tui
    say tui "leak 7 3000" "leaked 7"
    e2e_wait_re 'leak_site'
    e2e_wait_re '20[.,]5K|21000'
    e2e_wait_re '^heap since attach 20[.,]5K ' # the figure counts from the attach, and says so
    e2e_wait_for '?:help q:detach'              # not q:quit: the program runs on
    e2e_keys q
    e2e_wait_for "heapline-exit=0"
    e2e_cleanup
    for i in $(seq 1 200); do [ -z "$(collector_thread $T_PID)" ] && break; sleep 0.02; done
    [ -z "$(collector_thread $T_PID)" ] && loaded $T_PID || fail "tui: q did not leave the collector idle"
    runs_on $T_PID tui
    say tui "leak 1 10" "leaked 1"
    pass "tui: heapline attach PID shows leak_site (7 blocks, 21000 bytes) from the attach on, 'heap since attach 20.5K', '?:help q:detach'; q leaves the collector idle"

    # two terminals on one program: q in the second one used to detach, ending the first one's
    # session ("the collector closed the stream"); now the last one out detaches
    e2e_start one 100 30 "$HL attach --exact $T_PID"
    until_collector $T_PID tui
    e2e_wait_for FUNCTION
    e2e_start two 80 24 "$HL attach $T_PID"
    e2e_wait_for FUNCTION
    e2e_wait_re '^heap since attach [0-9.]+[BKMG]? .* peak [0-9.]+[BKMG]? at [0-9.]+s$' # sampled, 80 columns
    e2e_keys q
    e2e_wait_for "heapline-exit=0"
    e2e_wait_re "^heapline: pid $T_PID stays attached for heapline pid [0-9]+ \\(q there detaches\\)"
    [ -n "$(collector_thread $T_PID)" ] || fail "two terminals: q in the second one detached"
    E2E_SESSION=one
    say tui "leak 2 5000" "leaked 2"
    e2e_wait_re '9[.,]77K|10000'
    e2e_keys q
    e2e_wait_for "heapline-exit=0"
    e2e_cleanup
    for i in $(seq 1 200); do [ -z "$(collector_thread $T_PID)" ] && break; sleep 0.02; done
    [ -z "$(collector_thread $T_PID)" ] || fail "two terminals: the last q did not detach"
    runs_on $T_PID "two terminals"
    pass "two-terminals: q in the second says 'stays attached for heapline pid N', the first goes on (leak_site 10000 bytes), its q detaches"
    exec 7>&- # its stdin ends: it exits
else
    echo "SKIP tui: tmux is not installed"
fi

# ---- failures: one line each, the program left as it was ----
start_target stopped cmd
kill -STOP $T_PID
until [ "$(state $T_PID)" = T ]; do sleep 0.01; done
if "$HL" attach $T_PID 2>"$TMP/stopped.err"; then fail "stopped: attach succeeded"; fi
one_line "$TMP/stopped.err"
grep -q "is stopped: resume it first" "$TMP/stopped.err" || fail "stopped: $(cat "$TMP/stopped.err")"
[ "$(state $T_PID)" = T ] || fail "stopped: it is $(state $T_PID) now"
kill -CONT $T_PID
say stopped "leak 1 1" "leaked 1"
loaded $T_PID && fail "stopped: the library was loaded"
exec 7>&-
pass "stopped: $(cat "$TMP/stopped.err")"

if $CC -static -O1 -pthread tests/attach/busy.c -o "$TMP/busy_static" 2>/dev/null; then
    "$TMP/busy_static" 1 1000 >/dev/null &
    P=$!
    PIDS+=("$P")
    sleep 0.2
    if "$HL" attach $P 2>"$TMP/static.err"; then fail "static: attach succeeded"; fi
    one_line "$TMP/static.err"
    grep -q "is statically linked" "$TMP/static.err" || fail "static: $(cat "$TMP/static.err")"
    runs_on $P static
    kill -TERM $P
    wait $P || fail "static: the program failed"
    pass "static: $(cat "$TMP/static.err")"
else
    echo "SKIP static: no static libc here"
fi

start_target seccomp seccomp
if "$HL" record --pid $T_PID -o "$TMP/sec.heapline" 2>"$TMP/sec.err"; then fail "seccomp: record succeeded"; fi
one_line "$TMP/sec.err"
grep -q "cannot create a memfd (memfd_create: Operation not permitted" "$TMP/sec.err" ||
    fail "seccomp: $(cat "$TMP/sec.err")"
[ ! -e "$TMP/sec.heapline" ] || fail "seccomp: an empty recording was left"
say seccomp "leak 1 1" "leaked 1"
exec 7>&-
pass "seccomp: $(cat "$TMP/sec.err")"

"$TMP/target" spin >/dev/null &
P=$!
PIDS+=("$P")
sleep 0.2
"$HL" record --pid $P -o "$TMP/spin.heapline" --for 0.5 2>"$TMP/spin.err" ||
    fail "never allocates: exit $?: $(cat "$TMP/spin.err")"
# --for 0.5 records 0.5 s or, on a loaded machine, a little more (it said 0.6 s at load 20)
grep -qE "made no allocation in the (0\.[5-9]|[1-9][0-9]*\.[0-9]) s recorded" "$TMP/spin.err" ||
    fail "spin: $(cat "$TMP/spin.err")"
runs_on $P spin
kill $P
pass "never-allocates: $(grep 'made no' "$TMP/spin.err")"

start_target loader loader "$TMP/libstuck.so"
if HEAPLINE_ATTACH_TIMEOUT_MS=600 "$HL" attach $T_PID 2>"$TMP/loader.err"; then fail "loader: attach succeeded"; fi
one_line "$TMP/loader.err"
grep -q "stayed inside the dynamic loader for 0.6 s" "$TMP/loader.err" || fail "loader: $(cat "$TMP/loader.err")"
loaded $T_PID && fail "loader: the library was loaded"
say loader "leak 1 1" "leaked 1"
pass "loader: $(cat "$TMP/loader.err")"

# Ctrl-C while heapline waits for the loader's thread
HEAPLINE_ATTACH_TIMEOUT_MS=20000 "$HL" attach $T_PID 2>"$TMP/int.err" &
H=$!
sleep 0.4
kill -INT $H
rc=0
wait $H || rc=$?
[ $rc = 1 ] || fail "ctrl-c: exit $rc"
one_line "$TMP/int.err"
grep -q "interrupted: nothing was loaded, pid $T_PID runs on as before" "$TMP/int.err" ||
    fail "ctrl-c: $(cat "$TMP/int.err")"
runs_on $T_PID ctrl-c
say loader "leak 1 1" "leaked 1"
exec 7>&-
pass "ctrl-c: $(cat "$TMP/int.err")"

# a program that runs another (execve) while heapline waits for its loader's thread: the
# addresses heapline read (libc's, the loader's) are the old program's, so it reads the new one
# before any call. It was "memfd_create crashed in pid N at 0x7f... (its registers are
# restored)": a call to the old libc's memfd_create, which the new program does not map (1 in
# 180 record --pid of a program just started from a shell, before its exec, at load 13)
start_target execs loader "$TMP/libstuck.so"
HEAPLINE_ATTACH_TIMEOUT_MS=20000 "$HL" record --pid $T_PID --exact -o "$TMP/execs.heapline" 2>"$TMP/execs.err" &
REC=$!
# heapline stops the program's threads only after it read its maps
end=$((SECONDS + 30))
until grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$T_PID/task/*/status 2>/dev/null; do
    rec_alive execs $end
    sleep 0.002
done
# (heapline's interrupt of a thread that runs execve was lost 1 time in 20 here: it waited
# for good; it sends it again now)
say execs "exec" "ready $T_PID"
until_collector $T_PID execs
say execs "leak 6 700" "leaked 6"
rec_stop execs
one_line "$TMP/execs.err"
grep -q "^heapline: recorded pid $T_PID for .*: 6 allocations, 0 frees" "$TMP/execs.err" ||
    fail "execs: $(cat "$TMP/execs.err")"
[ "$(site "$TMP/execs.json" leak_site live_blocks) $(site "$TMP/execs.json" leak_site live_bytes)" = "6 4200" ] ||
    fail "execs: leak_site $(site "$TMP/execs.json" leak_site live_blocks) blocks $(site "$TMP/execs.json" leak_site live_bytes) bytes"
[ "$(cat "$TMP/execs.out")" = "$(printf 'ready %s\nready %s\nleaked 6' $T_PID $T_PID)" ] ||
    fail "execs: the program's output: $(cat "$TMP/execs.out")"
runs_on $T_PID execs
say execs "leak 1 1" "leaked 1"
exec 7>&-
pass "execs: a program that ran execve during the attach: $(cat "$TMP/execs.err"); leak_site 6 blocks 4200 bytes; its output unchanged"

# a thread that enters the loader for good while recorded: the detach, which takes no loader
# lock, does not wait for it (it waited 3 s and left the collector running, as it did for the
# collector's own thread after its dlopen of libdw)
start_target stuckrec cmd
rec_start $T_PID stuckrec --exact
say stuckrec "leak 2 300" "leaked 2"
say stuckrec "stuck $TMP/libstuck.so" "stuck"
rec_stop stuckrec
grep -q "recorded pid $T_PID for .*: " "$TMP/stuckrec.err" && ! grep -q "detach:" "$TMP/stuckrec.err" ||
    fail "stuck-detach: $(cat "$TMP/stuckrec.err")"
[ -z "$(collector_thread $T_PID)" ] || fail "stuck-detach: the collector still runs"
[ "$(site "$TMP/stuckrec.json" leak_site live_bytes)" = 600 ] ||
    fail "stuck-detach: leak_site $(site "$TMP/stuckrec.json" leak_site live_bytes) bytes"
say stuckrec "leak 1 1" "leaked 1"
exec 7>&-
pass "stuck-detach: a thread stuck in dlopen does not hold up the detach: $(grep 'recorded pid' "$TMP/stuckrec.err")"

# a program that ends while heapline attaches: whenever it ends, one line that says so, with
# the name it had then ("bash" before its exec, "?" once it is gone) (it was
# "ptrace refused for pid N (prog): heapline may run under a seccomp filter ..." when the exiting
# process refused ptrace, or "/proc/N/root/.../libc.so.6: No such file or directory")
ends=""
for i in $(seq 0 11); do
    "$TMP/busy" 2 20000 >/dev/null 2>&1 &
    P=$!
    PIDS+=("$P")
    wait_line /proc/$P/maps libc.so.6
    { sleep "0.00$i"; kill -TERM $P; } &
    K=$!
    rc=0
    "$HL" record --pid $P -o "$TMP/ending.heapline" --for 5 2>"$TMP/ending.err" || rc=$?
    wait $P || true
    wait $K || true
    one_line "$TMP/ending.err"
    grep -qE "^heapline: (recorded pid $P for .* \(until it ended\)|pid $P made no allocation in the .* \(until it ended\) |pid $P( \([^)]*\))? has ended|pid $P \([^)]*\) ended during the attach: nothing was done|no process with pid $P)" "$TMP/ending.err" ||
        fail "ending: rc $rc: $(cat "$TMP/ending.err")"
    ends="$ends$(sed -E "s/$P/N/g; s/ (for|in the) [0-9.]+ s.*/ .../" "$TMP/ending.err" | cut -c11-)|"
    rm -f "$TMP/ending.heapline"
done
pass "ending: 12 programs that end during record --pid, each one line: $(echo "$ends" | tr '|' '\n' | grep . | sort | uniq -c | sed 's/^ *//' | paste -sd';')"

# a thread that does not stop: in vfork() while its child sleeps 4 s (a killable sleep, which
# no ptrace interrupt ends; the state D). heapline gives up after 2 s with one line, where it
# waited for the stop for good, and the program goes on as it was
start_target vfork cmd
echo "vfork 4000" >&7
for _ in $(seq 500); do [ "$(state $T_PID)" = D ] && break; sleep 0.01; done
if "$HL" record --pid $T_PID -o "$TMP/vfork.heapline" 2>"$TMP/vfork-rec.err"; then
    fail "no stop: record --pid succeeded"
fi
one_line "$TMP/vfork-rec.err"
grep -qx "heapline: thread $T_PID of pid $T_PID did not stop within 2 s (in uninterruptible sleep?): nothing was done" "$TMP/vfork-rec.err" ||
    fail "no stop: $(cat "$TMP/vfork-rec.err")"
[ ! -e "$TMP/vfork.heapline" ] || fail "no stop: an empty recording was left"
wait_line "$TMP/vfork.out" vforked
loaded $T_PID && fail "no stop: the library was loaded"
runs_on $T_PID vfork
say vfork "leak 1 1" "leaked 1"
exec 7>&-
pass "no-stop: $(cat "$TMP/vfork-rec.err")"

# a program whose only thread has its stack used up (24 KiB short of a 256 KiB ulimit -s):
# heapline's calls would run below it, where dlopen faulted (it said "cannot write into pid N:
# Bad address" when the area for the call's data was not mapped, and with a few KiB more, a
# fault inside dlopen could leave the loader's lock held). One line, nothing done, it runs on.
STACK_KB=256 start_target deep deep
if HEAPLINE_ATTACH_TIMEOUT_MS=600 "$HL" record --pid $T_PID -o "$TMP/deep.heapline" 2>"$TMP/deep-rec.err"; then
    fail "deep stack: record --pid succeeded"
fi
one_line "$TMP/deep-rec.err"
grep -qE "^heapline: no thread of pid $T_PID at a safe point had 64 KiB of stack free within 0.6 s \(thread $T_PID: [0-9]+ KiB\): nothing was done$" "$TMP/deep-rec.err" ||
    fail "deep stack: $(cat "$TMP/deep-rec.err")"
[ ! -e "$TMP/deep.heapline" ] || fail "deep stack: an empty recording was left"
loaded $T_PID && fail "deep stack: the library was loaded"
runs_on $T_PID deep
say deep "leak 1 1" "leaked 1"
exec 7>&-
pass "deep-stack: $(cat "$TMP/deep-rec.err")"

# a kernel thread (kthreadd, pid 2 outside a pid namespace): one line that says so, where it
# said "statically linked (no libc.so.6)"
if [ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ]; then
    for cmd in "attach 2" "record --pid 2 -o $TMP/kthread.heapline" "backrefs 2 --types"; do
        if "$HL" $cmd 2>"$TMP/kthread.err"; then fail "kernel thread: $cmd succeeded"; fi
        one_line "$TMP/kthread.err"
        grep -q "pid 2 (kthreadd) is a kernel thread: it has no heap, nothing to attach to" "$TMP/kthread.err" ||
            fail "kernel thread: $cmd: $(cat "$TMP/kthread.err")"
    done
    [ ! -e "$TMP/kthread.heapline" ] || fail "kernel thread: record --pid left $TMP/kthread.heapline"
    pass "kernel-thread: $(cat "$TMP/kthread.err")"
else
    echo "SKIP kernel-thread: pid 2 is not kthreadd here"
fi

if "$HL" attach 999999999 2>"$TMP/nopid.err"; then fail "no pid: attach succeeded"; fi
grep -q "no process with pid 999999999" "$TMP/nopid.err" || fail "no pid: $(cat "$TMP/nopid.err")"
pass "no-process: $(cat "$TMP/nopid.err")"

# another user, a process that is not dumpable, Yama: as nobody
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups env -u XDG_RUNTIME_DIR HEAPLINE_SOCKET_DIR=$TMP/nobody"
    mkdir -m 700 "$TMP/nobody" && chown 65534:65534 "$TMP/nobody"
    start_target root cmd
    if $NOBODY "$HL" attach $T_PID 2>"$TMP/uid.err"; then fail "other uid: attach succeeded"; fi
    one_line "$TMP/uid.err"
    grep -q "belongs to uid 0: heapline can attach only to your own processes" "$TMP/uid.err" ||
        fail "other uid: $(cat "$TMP/uid.err")"
    say root "leak 1 1" "leaked 1"
    exec 7>&-
    pass "other-uid: $(cat "$TMP/uid.err")"

    mkfifo "$TMP/nd.in"
    $NOBODY "$TMP/target" nodump <"$TMP/nd.in" >"$TMP/nd.out" &
    P=$!
    PIDS+=("$P")
    exec 7>"$TMP/nd.in"
    wait_line "$TMP/nd.out" "ready"
    P=$(awk '/^ready/{print $2}' "$TMP/nd.out")
    PIDS+=("$P")
    if $NOBODY "$HL" attach $P 2>"$TMP/nd.err"; then fail "nodump: attach succeeded"; fi
    one_line "$TMP/nd.err"
    grep -q "is not dumpable" "$TMP/nd.err" || fail "nodump: $(cat "$TMP/nd.err")"
    say nd "leak 1 1" "leaked 1"
    exec 7>&-
    pass "not-dumpable: $(cat "$TMP/nd.err")"

    # root attaching to a service of another user (sudo heapline backrefs PID): that user's
    # collector binds in /tmp/heapline-65534, serves root, and the chain comes back
    mkfifo "$TMP/nb.in"
    $NOBODY "$TMP/target" cmd <"$TMP/nb.in" >"$TMP/nb.out" 2>"$TMP/nb.stderr" &
    P=$!
    PIDS+=("$P")
    exec 7>"$TMP/nb.in"
    wait_line "$TMP/nb.out" "ready $P"
    say nb "chain" "chain "
    read -r A D < <(grep '^chain ' "$TMP/nb.out" | tail -1 | cut -d' ' -f2-)
    B=$(printf '0x%x' $((A + D)))
    "$HL" backrefs $P --address "$B" >"$TMP/nb.txt" 2>"$TMP/nb.err" ||
        fail "root on uid 65534: $(cat "$TMP/nb.err")"
    grep -q "<- global pre_chain (target) +0" "$TMP/nb.txt" ||
        fail "root on uid 65534: $(cat "$TMP/nb.txt" "$TMP/nb.err")"
    [ "$(stat -c '%U %a' /tmp/heapline-65534)" = "nobody 700" ] ||
        fail "root on uid 65534: $(stat -c '%U %a' /tmp/heapline-65534)"
    [ -z "$(collector_thread $P)" ] ||
        fail "root on uid 65534: the collector still runs after backrefs: $(cat "$TMP/nb.err"; ls /proc/$P/task; cat /proc/$P/task/*/comm)"
    [ ! -e /tmp/heapline-65534/$P.sock ] || fail "root on uid 65534: its socket is left after backrefs"
    # record --pid as root: the file is given to uid 65534, whose collector writes it
    rec_start $P nbrec --exact
    say nb "leak 3 100" "leaked 3"
    rec_stop nbrec
    [ "$(site "$TMP/nbrec.json" leak_site live_bytes) $(stat -c %U "$TMP/nbrec.heapline")" = "300 nobody" ] ||
        fail "root record --pid on uid 65534: $(site "$TMP/nbrec.json" leak_site live_bytes) $(stat -c %U "$TMP/nbrec.heapline")"
    mkdir -m 700 "$TMP/rootonly"
    if "$HL" record --pid $P -o "$TMP/rootonly/x.heapline" 2>"$TMP/nbrec.err"; then
        fail "root record --pid on uid 65534 into a directory it cannot enter: succeeded"
    fi
    one_line "$TMP/nbrec.err"
    grep -q "Permission denied (the program writes it as its own user: -o a path that user can write)$" "$TMP/nbrec.err" ||
        fail "root record --pid on uid 65534: $(cat "$TMP/nbrec.err")"
    runs_on $P "root on uid 65534"
    say nb "leak 1 1" "leaked 1"
    exec 7>&-
    pass "root-on-other-uid: backrefs as root of a block of uid 65534's program: <- global pre_chain, through /tmp/heapline-65534 (nobody, 700); record --pid: leak_site 300 bytes in a file of nobody's; into a root-only directory: $(cat "$TMP/nbrec.err")"

    SCOPE=$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo none)
    if [ "$SCOPE" = 1 ] || [ "$SCOPE" = 2 ]; then
        # a process of nobody that did not allow tracing; heapline as nobody
        $NOBODY sleep 30 &
        P=$!
        PIDS+=("$P")
        sleep 0.2
        P=$(pgrep -u 65534 -x sleep | head -1)
        if $NOBODY "$HL" attach $P 2>"$TMP/yama.err"; then fail "yama: attach succeeded"; fi
        one_line "$TMP/yama.err"
        grep -q "kernel.yama.ptrace_scope=$SCOPE" "$TMP/yama.err" || fail "yama: $(cat "$TMP/yama.err")"
        runs_on $P yama
        pass "yama: $(cat "$TMP/yama.err")"
    else
        echo "SKIP yama: kernel.yama.ptrace_scope is $SCOPE here (the targets allow any tracer: PR_SET_PTRACER_ANY)"
    fi
else
    echo "SKIP other-uid, not-dumpable, yama: need root and setpriv"
fi

# ---- the collector's notes: to the user, never into the service's own stderr ----
# Debian's python3 with pymalloc on: the collector notes that pymalloc keeps small
# objects from malloc. Started under heapline it says so on the program's stderr; attached
# to a running service it says nothing there (the service's logs) and tells record --pid,
# the report and the TUI instead (a NOTE on the stream).
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    env -u PYTHONMALLOC /usr/bin/python3 assets/leaky_service.py --forever --pause 50 \
        >"$TMP/svc.out" 2>"$TMP/svc.err" &
    P=$!
    PIDS+=("$P")
    wait_line "$TMP/svc.out" "loaded and unloaded" 60
    "$HL" record --pid $P -o "$TMP/svc.heapline" --for 0.5 2>"$TMP/svcrec.err" ||
        fail "notes: record --pid: $(cat "$TMP/svcrec.err")"
    note="Python 3.11: pymalloc keeps small objects from malloc; set PYTHONMALLOC=malloc to see every object"
    grep -qxF "heapline: pid $P: $note" "$TMP/svcrec.err" || fail "notes: record --pid said: $(cat "$TMP/svcrec.err")"
    "$HL" report "$TMP/svc.heapline" --json >"$TMP/svc.json"
    [ "$(json "$TMP/svc.json" "[n['text'] for n in d['notes']]")" = "['$note']" ] ||
        fail "notes: report --json: $(json "$TMP/svc.json" "d['notes']")"
    "$HL" report "$TMP/svc.heapline" | grep -qE "^collector     at [0-9.]+ s: $note$" ||
        fail "notes: report: $("$HL" report "$TMP/svc.heapline" | head -12)"
    runs_on $P notes
    [ ! -s "$TMP/svc.err" ] || fail "notes: the service's stderr got: $(cat "$TMP/svc.err")"
    kill $P
    pass "notes: attached to Debian's python3, the pymalloc note went to record --pid and the report, none to the service's stderr"
else
    echo "SKIP notes: /usr/bin/python3 is not CPython 3.11"
fi

cycles 10
echo "attach: all passed"
