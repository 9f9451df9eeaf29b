#!/bin/bash
# tests/attach/bench.sh - attach's figures (section 8 of make bench): on a busy
# 8-thread program (tests/attach/busy.c: 8 threads churning the heap), the time
# from `heapline attach PID` to the first screen that shows its sites (tmux),
# the longest stop of any of its threads as heapline measures it (ptrace stop to
# detach) and as the program's own clock sees it (the longest gap between two
# rounds of any thread, scheduling included, against a bare run's), then N
# attach/detach cycles (record --pid --for 0.05) on 4 busy threads: hangs,
# crashes, and whether the program's output changed. Prints figures; a failed
# cycle is a failure.
#
#   BUILD=build tests/attach/bench.sh [CYCLES]     (default 100)
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
CYCLES=${1:-100}
TMP=$(mktemp -d /tmp/heapline-attach-bench.XXXXXX)
SOCK="heapline-attach-bench-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR=$TMP/run
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
${CC:-cc} -O2 -g -pthread tests/attach/busy.c -o "$TMP/busy" || exit 1

# longest gap between two rounds of any thread: busy's own clock, over ~2 s
gaps() { # FILE: the largest "longest gap" in ms
    awk '/longest gap/{g=$5+0; if (g>m) m=g} END{printf "%.1f", m}' "$1"
}
BUSY_GAPS=1 "$TMP/busy" 8 20000 >/dev/null 2>"$TMP/bare.gaps" &
P=$!
sleep 2
kill -TERM $P
wait $P

echo "  busy 8 threads (tests/attach/busy.c), load average $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v tmux >/dev/null; then
    BUSY_GAPS=1 "$TMP/busy" 8 20000 >/dev/null 2>"$TMP/attached.gaps" &
    P=$!
    sleep 0.5
    T() { tmux -L "$SOCK" -f /dev/null "$@"; }
    s=$(date +%s%N)
    T new-session -d -s a -x 120 -y 40 \
        "env HEAPLINE_ATTACH_STATS=1 $HL attach $P 2>$TMP/attach.err; echo heapline-exit=\$?; sleep 60"
    first=
    while [ $(($(date +%s%N) - s)) -lt 20000000000 ]; do
        if T capture-pane -p -t a | grep -q 'churn'; then
            first=$((($(date +%s%N) - s) / 1000000))
            break
        fi
        sleep 0.01
    done
    sleep 1
    T send-keys -t a q
    for i in $(seq 1 500); do T capture-pane -p -t a | grep -q heapline-exit= && break; sleep 0.02; done
    sleep 1
    kill -TERM $P
    wait $P
    stop=$(sed -n 's/.*attached to pid.*longest stop \([0-9.]*\) ms, total \([0-9.]*\) ms.*/\1 \2/p' "$TMP/attach.err")
    dstop=$(sed -n 's/.*detached from pid.*longest stop \([0-9.]*\) ms.*/\1/p' "$TMP/attach.err")
    [ -n "$stop" ] || echo "  heapline attach said: $(cat "$TMP/attach.err")"
    echo "  time to the first screen with its sites: ${first:-none in 20 s} ms (target < 1000)"
    echo "  longest stop of any thread, heapline's measure: attach ${stop% *} ms (all of the attach:" \
        "${stop#* } ms), detach ${dstop:-?} ms (target < 50)"
    echo "  longest gap between two rounds of any thread, the program's clock: $(gaps "$TMP/attached.gaps") ms" \
        "with the attach, $(gaps "$TMP/bare.gaps") ms bare (scheduling included)"
else
    echo "  time to the first screen: tmux is not installed"
fi

s=$(date +%s%N)
if BUILD=$BUILD tests/attach/run.sh --cycles "$CYCLES" >"$TMP/cycles.log" 2>&1; then
    echo "  $CYCLES attach/detach cycles (record --pid --for 0.05, 4 busy threads): 0 deadlocks," \
        "0 crashes, output unchanged, $((($(date +%s%N) - s) / 1000000 / CYCLES)) ms a cycle"
else
    echo "  $CYCLES attach/detach cycles: FAILED: $(tail -2 "$TMP/cycles.log")"
    exit 1
fi
