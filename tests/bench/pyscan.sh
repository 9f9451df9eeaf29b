#!/bin/bash
# tests/bench/pyscan.sh - the backreference chain of a Python object in a large
# Python heap (tests/bench/pyheap.py under the collector, PYTHONMALLOC=malloc):
# end-to-end time of `heapline backrefs` and the program's pause (fork), and
# the census of the same heap. BUILD=dir, APPS=N (default 150000: a 423 MB
# heap of 4.8M blocks, RSS 1 GB), RUNS (default "1 2 3").
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$BUILD/heapline
LIB=$(realpath "$BUILD/libheapline.so")
APPS=${APPS:-150000}
OUT=$(mktemp -d)
trap 'exec 7>&-; kill $PID 2>/dev/null; rm -rf "$OUT"' EXIT
mkfifo "$OUT/in"
exec 7<>"$OUT/in"
LD_PRELOAD=$LIB PYTHONMALLOC=malloc /usr/bin/python3 tests/bench/pyheap.py "$APPS" \
    <"$OUT/in" >"$OUT/out" 2>"$OUT/err" &
PID=$!
# the whole line: read while the program writes it, it can stop inside the address
for _ in $(seq 1 1200); do
    grep -q '^ready' "$OUT/out" && [ -z "$(tail -c 1 "$OUT/out")" ] && break
    sleep 0.1
done
ADDR=$(sed -n 's/^ready app=\(0x[0-9a-f]*\)$/\1/p' "$OUT/out")
[ -n "$ADDR" ] || { echo "pyscan: the program did not get ready"; cat "$OUT/err"; exit 1; }
rss=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
# CPU time of the program's reaped children (the scan child), in ms: a figure
# that a loaded machine does not move as it moves wall times
child_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($16 + $17) * 1000 / hz}' /proc/$PID/stat; }
for i in ${RUNS:-1 2 3}; do
    c0=$(child_cpu)
    t0=$(date +%s%N)
    "$HL" backrefs "$PID" --address "$ADDR" --json >"$OUT/r.json" || exit 1
    t1=$(date +%s%N)
    echo "  scan child CPU $(awk -v a="$c0" -v b="$(child_cpu)" 'BEGIN {print b - a}') ms; load $(cut -d' ' -f1 /proc/loadavg)"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: r[k] for k in ('levels', 'bytes_scanned', 'prep_ms', 'chain_ms', 'scan_ms')})" "$OUT/r.json"
    python3 - "$OUT/r.json" $(( (t1 - t0) / 1000000 )) "$rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lines = [l for l in r["python_chains"] if "global" in l]
line = lines[0] if lines else "NO CHAIN TO A GLOBAL (unreachable %s, %d levels)" % (
    r.get("unreachable"), r["levels"])
print("python chain in a %d MB heap (%d blocks, RSS %d MB): %s ms end to end, pause %.1f ms, "
      "scan %.0f ms\n  %s" % (r["heap_bytes"] / 1e6, r["blocks"], int(sys.argv[3]) / 1024,
                              sys.argv[2], r["pause_ms"], r["scan_ms"], line))
PY
done
t0=$(date +%s%N)
"$HL" backrefs "$PID" --types --top 5
t1=$(date +%s%N)
echo "census: $(( (t1 - t0) / 1000000 )) ms end to end"
