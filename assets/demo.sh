#!/bin/sh
# demo.sh - build the demo services and show the leak (called by `make demo`).
#
# On a terminal: the leaky service under `heapline run` (the live TUI).
# Otherwise (CI, a pipe), or while `heapline run` does not exist yet:
# `heapline record` of the leaky service, then `heapline report` of it, and
# the same for its fixed twin, for comparison.
#
# Environment: BUILD (default build), DEMO_ARGS (extra service arguments).
set -eu

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HL=$BUILD/heapline
OUT=$BUILD/assets
CC=${CC:-cc}
mkdir -p "$OUT"

for s in leaky_service fixed_service; do
    echo "  CC      $OUT/$s"
    $CC -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra \
        -o "$OUT/$s" "assets/$s.c"
done

if [ ! -x "$HL" ]; then
    echo "demo: $HL is missing; build it with: make BUILD=$BUILD" >&2
    exit 1
fi

# `heapline run` exists once its usage names it.
has_run=0
if "$HL" --help 2>&1 | grep -q 'heapline run'; then
    has_run=1
fi

if [ -t 1 ] && [ -t 0 ] && [ "$has_run" = 1 ]; then
    echo "demo: the leaky service under heapline run (q quits)"
    # shellcheck disable=SC2086
    exec "$HL" run -o "$OUT/leaky.heapline" -- "$OUT/leaky_service" ${DEMO_ARGS:-}
fi

for s in leaky_service fixed_service; do
    rec=$OUT/${s%_service}.heapline
    echo "demo: heapline record -o $rec -- $OUT/$s ${DEMO_ARGS:-}"
    # shellcheck disable=SC2086
    "$HL" record -o "$rec" -- "$OUT/$s" ${DEMO_ARGS:-}
    echo
    echo "demo: heapline report $rec --top 8"
    "$HL" report "$rec" --top 8
    echo
done
# The objgraph step of the story: what keeps the oldest loader table alive?
LIB=$BUILD/libheapline.so
if [ -e "$LIB" ]; then
    log=$OUT/leaky-live.log
    LD_PRELOAD=$PWD/$LIB "$OUT/leaky_service" --apps 4 --pause 700 >"$log" 2>&1 &
    pid=$!
    i=0
    while [ "$i" -lt 100 ] && ! grep -q "app 2" "$log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    echo "demo: heapline backrefs $pid --site loader_load_table   (the service is still running)"
    "$HL" backrefs "$pid" --site loader_load_table || echo "demo: backrefs failed"
    wait "$pid" || true
    echo
fi
echo "demo: the leaky service keeps every loader alive (loader_load_table above), held through"
echo "demo: the global instance_map; the fixed one releases them after each unload."
echo "demo: explore the recordings with: $HL replay $OUT/leaky.heapline"
