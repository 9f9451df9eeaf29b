#!/bin/bash
# tests/bench/scan.sh - backreference scan figures (issue 4): the engine alone
# (scan_bench) and end to end through the collector and `heapline backrefs`
# on a real program with ~100 MB and ~1 GiB of live heap in millions of
# blocks. BUILD=dir (default build). Prints figures; not a timed test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
OUT=$BUILD/bench
mkdir -p "$OUT"
BUILD=$BUILD CC=$CC tests/bench/build.sh "$OUT" scan_bench graphs || exit 1

"$OUT/scan_bench" 100 1024

echo "end to end (program under the collector, heapline backrefs --json):"
for mb in 100 1024; do
    log="$OUT/graphs-$mb.out"
    LD_PRELOAD=$(realpath "$BUILD/libheapline.so") "$OUT/graphs" big "$mb" >"$log" 2>&1 &
    pid=$!
    # the whole line: read while the program writes it, it can stop inside an address
    for _ in $(seq 1 1200); do
        grep -q '^ready ' "$log" && [ -z "$(tail -c 1 "$log")" ] && break
        sleep 0.1
    done
    target=$(sed -n 's/.* p0=\(0x[0-9a-f]*\).*/\1/p' "$log")
    if [ -z "$target" ]; then
        echo "  $mb MB: the program was not ready after 120 s"
        kill "$pid" 2>/dev/null
        continue
    fi
    for _ in $(seq 1 100); do [ -S "/tmp/heapline-$(id -u)/$pid.sock" ] && break; sleep 0.1; done
    for run in 1 2 3; do
        if "$BUILD/heapline" backrefs "$pid" --address "$target" --json >"$OUT/scan-$mb.json"; then
            python3 - "$OUT/scan-$mb.json" "$mb" "$(grep -m1 '^big:' "$log")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
hops = len(r["chains"][0]) if r["chains"] else 0
per_level = (r["scan_ms"] - r["prep_ms"]) / max(r["levels"], 1)
gbs = (r["bytes_scanned"] / max(r["levels"], 1)) / (per_level * 1e6) if per_level > 0 else 0
print("  %5s MB (%s): chain of %d hops in %.0f ms (sort %.0f ms, %d levels, %.1f GB/s a level), "
      "whole scan %.0f ms, program paused %.1f ms"
      % (sys.argv[2], sys.argv[3].split(": ", 1)[1], hops, r["chain_ms"], r["prep_ms"],
         r["levels"], gbs, r["scan_ms"], r["pause_ms"]))
PY
        fi
    done
    kill "$pid"
    wait "$pid" 2>/dev/null
done

# the Python figure of issue 10: the chain of a Python object in a 423 MB
# Python heap (tests/bench/pyscan.sh), three runs and the census
echo "  Python (tests/bench/pyscan.sh; targets: chain < 1 s end to end, program paused < 50 ms):"
BUILD=$BUILD bash tests/bench/pyscan.sh 2>&1 | sed 's/^/    /'
