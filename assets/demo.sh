#!/bin/sh
# demo.sh - the seed's story twice, in C and in Python (called by `make demo`).
#
# On a terminal, three live TUIs one after the other (q in each goes on):
#   1. the C service (assets/leaky_service.c) under `heapline run`;
#   2. the Python service (assets/leaky_service.py --forever), its twin in
#      the seed's own language: the sites are its .py lines, and Enter on an
#      object shows the chain to instance_map with Python names;
#   3. the fixed Python service (assets/fixed_service.py): the timeline comes
#      back down after every unload.
# Otherwise (CI, a pipe): `heapline record` and `heapline report` of each
# service and its fixed twin, and `heapline backrefs` on each leaky one
# while it runs.
#
# Environment: BUILD (default build), DEMO_ARGS (extra arguments of the C
# service), PYTHON (default /usr/bin/python3, else python3 on PATH).
set -eu

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HL=$BUILD/heapline
LIB=$BUILD/libheapline.so
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
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=$(command -v python3 || true); fi
fi
if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "demo: the Python story needs CPython 3.11 or later (python3: ${PY:-not found}); C only"
    PY=
fi

# pause TEXT: on a terminal, TEXT and a wait for Enter
pause() {
    printf '\n%s\n' "$1"
    printf 'demo: Enter starts it, Ctrl-C stops the demo. '
    read -r _
}

if [ -t 1 ] && [ -t 0 ]; then
    pause "demo 1/3: the C service under heapline run. Its heap steps up at every
\"load\" marker and never comes down; loader_load_table grows on top.
Enter on a site: its stack tree; o: its live objects; Enter on an object:
what keeps it alive (the global instance_map). q goes on to Python."
    # shellcheck disable=SC2086
    "$HL" run -o "$OUT/leaky.heapline" -- "$OUT/leaky_service" ${DEMO_ARGS:-} || true
    [ -n "$PY" ] || exit 0
    pause "demo 2/3: the same service in Python (assets/leaky_service.py --forever,
under $PY; run sets PYTHONMALLOC=malloc: every object is a block).
The growing sites are leaky_service.py lines (ResourceLoader.load_table on
top). o on it, then Enter on the oldest object: its chain, named as objgraph
names it, ends at \"module __main__ global instance_map\". From another shell:
  heapline backrefs \$(pgrep -nf leaky_service.py) --site leaky_service.py:76
q goes on to the fixed service."
    "$HL" run -o "$OUT/leaky_py.heapline" -- "$PY" assets/leaky_service.py --forever || true
    pause "demo 3/3: the fixed service (instance_map a WeakValueDictionary, the
seed's fix): the heap falls back after every \"unload\" marker. q ends it."
    "$HL" run -o "$OUT/fixed_py.heapline" -- "$PY" assets/fixed_service.py --apps 8 --pause 1000 || true
    echo "demo: the recordings are in $OUT (heapline replay $OUT/leaky_py.heapline)"
    exit 0
fi

# live_backrefs WHAT READY_TEXT SITE CMD...: CMD under the preloaded collector; once its
# output shows READY_TEXT, `heapline backrefs PID --site SITE` while it still runs
live_backrefs() {
    what=$1 ready=$2 site=$3
    shift 3
    [ -e "$LIB" ] || return 0
    log=$OUT/$what-live.log
    LD_PRELOAD=$PWD/$LIB PYTHONMALLOC=malloc "$@" >"$log" 2>&1 &
    pid=$!
    i=0
    while [ "$i" -lt 200 ] && ! grep -q "$ready" "$log" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
    echo "demo: heapline backrefs $pid --site $site   (the service is still running)"
    "$HL" backrefs "$pid" --site "$site" || echo "demo: backrefs failed"
    wait "$pid" || true
    echo
}

echo "demo 1/2: the C service"
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
live_backrefs leaky "app 2" loader_load_table "$OUT/leaky_service" --apps 4 --pause 700
echo "demo: the leaky service keeps every loader alive (loader_load_table above), held through"
echo "demo: the global instance_map; the fixed one releases them after each unload."
[ -n "$PY" ] || exit 0

echo
echo "demo 2/2: the same story in Python ($PY)"
for s in leaky_service fixed_service; do
    rec=$OUT/${s%_service}_py.heapline
    echo "demo: heapline record -o $rec -- $PY assets/$s.py --apps 4 --pause 100"
    "$HL" record -o "$rec" -- "$PY" "assets/$s.py" --apps 4 --pause 100
    echo
    # the peak: the leaky service's is its last app, with every earlier one still held
    echo "demo: heapline report $rec --at peak --top 5"
    "$HL" report "$rec" --at peak --top 5
    echo
done
live_backrefs leaky_py "app 2" leaky_service.py:76 "$PY" assets/leaky_service.py --apps 4 --pause 700
echo "demo: leaky_service.py:76 (ResourceLoader.load_table) holds every app's tables: its oldest"
echo "demo: bytearray is held through Processor.loader by the module global instance_map; the"
echo "demo: fixed service (a WeakValueDictionary) peaks at one app's tables."
echo "demo: explore the recordings with: $HL replay $OUT/leaky_py.heapline"
