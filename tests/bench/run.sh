#!/bin/bash
# tests/bench/run.sh - `make bench`: what the collector costs. Prints figures, asserts nothing.
#
#  1. churn (tests/bench/churn.c: 2 threads, 4 million allocation calls, depths
#     5-25, 4 sites), built with and without frame pointers: wall time bare,
#     under `heapline record` with HEAPLINE_UNWIND=libunwind, =fp and the
#     default; the ratios; record bytes per event; events lost.
#  2. heaptrack on the same run where it works (under a memory limit and a
#     timeout, and said so when it does not), else on the largest run it
#     survives; its compressed trace size per call.
#  3. collector memory per live allocation (churn --live: 100k and 1M blocks).
#  4. the backreference scan: tests/bench/scan.sh (its engineer's), else scan_bench.c.
# Times are the median of RUNS runs (default 3), wall clock from date +%s.%N.
#
# Environment: BUILD (default build), CALLS (4000000), RUNS (3),
# HT_MEM_KB (8000000: heaptrack's ulimit -v), HT_TIMEOUT (120 s).
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
LIB=$PWD/$BUILD/libheapline.so
B=$PWD/$BUILD/tests/bench
CALLS=${CALLS:-4000000}
RUNS=${RUNS:-3}
HT_MEM_KB=${HT_MEM_KB:-8000000}
HT_TIMEOUT=${HT_TIMEOUT:-120}
mkdir -p "$B"

for f in "$HL" "$LIB"; do
    [ -e "$f" ] || { echo "bench: $f is missing (make BUILD=$BUILD)" >&2; exit 1; }
done

for v in fp:-fno-omit-frame-pointer nofp:-fomit-frame-pointer; do
    cc -std=gnu11 -O2 -g "${v#*:}" -pthread -o "$B/churn_${v%%:*}" tests/bench/churn.c || exit 1
done

now() { date +%s.%N; }
# timed CMD...: run once, print "WALL CPU" seconds (CPU = user + system of the whole process
# tree, from /usr/bin/time); "fail(RC)" when it failed
timed() {
    local s e rc cpu
    s=$(now)
    /usr/bin/time -f "%U %S" -o "$B/last.time" "$@" >"$B/last.log" 2>&1 </dev/null
    rc=$?
    e=$(now)
    if [ "$rc" != 0 ]; then echo "fail($rc)"; return 1; fi
    cpu=$(awk '{ u = $1; s = $2 } END { printf "%.3f", u + s }' "$B/last.time")
    awk -v s="$s" -v e="$e" -v c="$cpu" 'BEGIN { printf "%.3f %s\n", e - s, c }'
}
# median CMD...: "WALL CPU" of the run with the median wall time of RUNS runs, or fail(RC)
median() {
    local i t ts=()
    for i in $(seq "$RUNS"); do
        t=$(timed "$@") || { echo "$t"; return 1; }
        ts+=("$t")
    done
    printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a + 0 == a) printf "%.2fx", a / b; else print "-" }'; }
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }

echo "heapline bench - $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r), commit $(git rev-parse --short HEAD 2>/dev/null)"
echo "churn: $CALLS allocation calls in 2 threads, call depths 5-25, 4 sites; median of $RUNS runs"
echo "(the collector thread shares the $(nproc) CPUs with the 2 program threads; load average at start: $(cut -d" " -f1-3 /proc/loadavg))"
echo

# ---- 1. churn under heapline ----
cc -std=gnu11 -O2 -g -fno-omit-frame-pointer -shared -fPIC -o "$B/unw_shim.so" tests/bench/unw_shim.c \
    $(pkg-config --libs libunwind 2>/dev/null || echo -lunwind) -ldl -lpthread || exit 1
printf '%-36s %7s %7s %8s %8s %8s %8s %8s %6s\n' "run" "wall s" "cpu s" "wall/bare" "cpu/bare" \
    "wall/shim" "+cpu ns" "B/event" "lost"
row() { # row LABEL "WALL CPU" "BARE_WALL BARE_CPU" "SHIM_WALL SHIM_CPU" BPE LOST
    local w c bw bc sw extra
    read -r w c <<<"$2"
    read -r bw bc <<<"$3"
    read -r sw _ <<<"$4"
    extra=$(awk -v c="${c:-x}" -v b="$bc" -v n="$CALLS" \
        'BEGIN { if (c + 0 == c && b + 0 == b) printf "%.0f", (c - b) * 1e9 / n; else print "-" }')
    printf '%-36s %7s %7s %8s %8s %8s %8s %8s %6s\n' "$1" "$w" "${c:--}" "$(ratio "$w" "$bw")" \
        "$(ratio "${c:-x}" "$bc")" "$(ratio "$w" "$sw")" "$extra" "$5" "$6"
}
for bin in fp nofp; do
    prog=$B/churn_$bin
    bare=$(median "$prog" "$CALLS")
    row "churn_$bin bare" "$bare" "$bare" "" "" ""
    declare -A shim=()
    for u in libunwind fp; do
        shim[$u]=$(median env LD_PRELOAD="$B/unw_shim.so" UNW_SHIM=$u "$prog" "$CALLS")
        row "churn_$bin shim: $u walk only" "${shim[$u]}" "$bare" "${shim[$u]}" "" ""
    done
    for mode in libunwind fp default; do
        rec=$B/churn_$bin.$mode.heapline
        if [ "$mode" = default ]; then envs=(env -u HEAPLINE_UNWIND); else envs=(env HEAPLINE_UNWIND=$mode); fi
        t=$(median "${envs[@]}" "$HL" record -o "$rec" -- "$prog" "$CALLS")
        bpe="-"
        lost="-"
        if [ -s "$rec" ] && "$HL" report "$rec" --json --top 100 >"$B/rep.json" 2>"$B/rep.err"; then
            events=$(json "$B/rep.json" 'allocations + frees')
            bpe=$(awk -v s="$(stat -c %s "$rec")" -v e="$events" 'BEGIN { printf "%.2f", s / e }')
            # churn's own calls are exactly CALLS at its 4 sites
            ours=$(json "$B/rep.json" "sum(s['allocations'] for s in sites if s['function'].startswith('site_'))")
            lost=$((CALLS - ours))
        elif [ -s "$rec" ]; then
            bpe="report-failed"
        fi
        ref=${shim[$mode]:-${shim[fp]}}
        [ "$mode" = default ] && [ "$bin" = nofp ] && ref=${shim[libunwind]}
        row "churn_$bin heapline ($mode)" "$t" "$bare" "$ref" "$bpe" "$lost"
    done
    [ "$bin" = fp ] && BARE_FP=${bare%% *}
done
echo "  wall/shim: against the shim with the same walk (default: fp on churn_fp, libunwind on"
echo "  churn_nofp, whose frame-pointer chain breaks). +cpu ns: CPU time (all threads) added per"
echo "  allocation call, against the bare run. B/event: record file bytes / (allocations +"
echo "  frees). lost: CALLS minus the allocations the report counts at churn's sites."
echo "  Targets (issue 2): heapline <= 1.3x the bare libunwind walk without frame pointers,"
echo "  <= 1.5x the uninstrumented run with them; <= 8 bytes/event."
echo

# ---- 2. heaptrack ----
# ht CALLS: run heaptrack once on churn_fp under the limits; sets HT_T, HT_CALLS, HT_BYTES, HT_WHY
ht() {
    local out=$B/ht.$1 s e rc f
    rm -f "$out".*
    s=$(now)
    (ulimit -v "$HT_MEM_KB"; timeout "$HT_TIMEOUT" heaptrack -o "$out" "$B/churn_fp" "$1") \
        >"$out.log" 2>&1 </dev/null
    rc=$?
    e=$(now)
    HT_T=$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }')
    f=$(ls "$out".zst "$out".gz 2>/dev/null | head -1)
    HT_BYTES=$( [ -n "$f" ] && stat -c %s "$f" || echo 0)
    HT_CALLS=$( [ -n "$f" ] && heaptrack_print -f "$f" 2>/dev/null |
        sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
    HT_WHY=""
    if grep -q bad_alloc "$out.log"; then
        HT_WHY="out of memory (std::bad_alloc in heaptrack_interpret under ulimit -v $HT_MEM_KB KB)"
    elif [ "$rc" = 124 ]; then
        HT_WHY="timed out after $HT_TIMEOUT s"
    elif [ "$rc" != 0 ]; then
        HT_WHY="exited $rc: $(tail -1 "$out.log")"
    elif [ "${HT_CALLS:-0}" -lt "$1" ]; then
        HT_WHY="saw only ${HT_CALLS:-0} of $1 calls"
    fi
}
if ! command -v heaptrack >/dev/null || ! command -v heaptrack_print >/dev/null; then
    echo "heaptrack: not installed, no comparison"
else
    echo "heaptrack $(heaptrack --version 2>/dev/null | awk '{ print $2 }') (limits: ulimit -v $HT_MEM_KB KB, timeout $HT_TIMEOUT s):"
    ht "$CALLS"
    if [ -z "$HT_WHY" ]; then
        printf '  churn_fp %s calls: %s s (%s bare), trace %s bytes = %.2f bytes/call\n' "$CALLS" "$HT_T" \
            "$(ratio "$HT_T" "$BARE_FP")" "$HT_BYTES" "$(awk -v a="$HT_BYTES" -v b="$HT_CALLS" 'BEGIN { print a / b }')"
    else
        echo "  churn_fp $CALLS calls: FAILED after $HT_T s: $HT_WHY (trace so far: $HT_BYTES bytes, ${HT_CALLS:-0} calls)"
        # the largest run it survives here: 300k calls (it dies at about 330k)
        small=300000
        bare_s=$(median "$B/churn_fp" "$small")
        bare_s=${bare_s%% *}
        hl_s=$(median "$HL" record -o "$B/churn_small.heapline" -- "$B/churn_fp" "$small")
        hl_s=${hl_s%% *}
        ts=()
        for _ in $(seq "$RUNS"); do ht "$small"; [ -z "$HT_WHY" ] && ts+=("$HT_T"); done
        if [ ${#ts[@]} -gt 0 ]; then
            hts=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
            hsz=$(stat -c %s "$B/churn_small.heapline" 2>/dev/null || echo 0)
            "$HL" report "$B/churn_small.heapline" --json --top 1 >"$B/rep.json" 2>/dev/null
            hev=$(json "$B/rep.json" 'allocations + frees' 2>/dev/null || echo 0)
            hal=$(json "$B/rep.json" 'allocations' 2>/dev/null || echo 0)
            echo "  instead, churn_fp $small calls (bare $bare_s s; run ${#ts[@]}/$RUNS ok):"
            printf '    heaptrack      %8s s  %8s bare   trace %8s bytes  %.2f bytes/call\n' "$hts" \
                "$(ratio "$hts" "$bare_s")" "$HT_BYTES" "$(awk -v a="$HT_BYTES" -v b="${HT_CALLS:-1}" 'BEGIN { print a / b }')"
            printf '    heapline (def) %8s s  %8s bare   file  %8s bytes  %.2f bytes/call (%.2f bytes/event)\n' \
                "$hl_s" "$(ratio "$hl_s" "$bare_s")" "$hsz" \
                "$(awk -v a="$hsz" -v b="$hal" 'BEGIN { print (b ? a / b : 0) }')" \
                "$(awk -v a="$hsz" -v b="$hev" 'BEGIN { print (b ? a / b : 0) }')"
            echo "    (at this size start-up dominates: the ratios understate the per-call costs)"
        else
            echo "  heaptrack failed at $small calls too: $HT_WHY"
        fi
    fi
fi
echo

# ---- 3. collector memory per live allocation ----
live() { # live N [heapline]: rss_kb of churn --live N
    if [ -n "${2:-}" ]; then
        "$HL" record -o "$B/live.heapline" -- "$B/churn_fp" --live "$1" 2>/dev/null
    else
        "$B/churn_fp" --live "$1"
    fi | awk '/^rss_kb/ { print $2 }'
}
b1=$(live 100000)
b2=$(live 1000000)
h1=$(live 100000 h)
h2=$(live 1000000 h)
echo "collector memory per live allocation (RSS read by the program itself, 300 ms after allocating):"
if [ -n "$b1" ] && [ -n "$b2" ] && [ -n "$h1" ] && [ -n "$h2" ]; then
    echo "  bare: 100k blocks $b1 KB, 1M blocks $b2 KB; under heapline record: $h1 KB, $h2 KB"
    awk -v b1="$b1" -v b2="$b2" -v h1="$h1" -v h2="$h2" 'BEGIN {
        printf "  (RSS heapline - RSS bare) / 1M live blocks: %.1f bytes per live allocation\n", (h2 - b2) * 1024 / 1000000
        printf "  slope between 100k and 1M blocks (fixed costs removed): %.1f bytes per live allocation\n", ((h2 - b2) - (h1 - b1)) * 1024 / 900000
    }'
else
    echo "  could not measure (bare: '$b1' '$b2', heapline: '$h1' '$h2')"
fi
echo

# ---- 4. backreference scan ----
if [ -x tests/bench/scan.sh ] || [ -f tests/bench/scan.sh ]; then
    echo "backreference scan (tests/bench/scan.sh):"
    BUILD=$BUILD bash tests/bench/scan.sh 2>&1 | sed 's/^/  /'
elif [ -f tests/bench/scan_bench.c ]; then
    echo "backreference scan (tests/bench/scan_bench.c):"
    SCAN_SRC=$(ls collector/scan*.c 2>/dev/null | tr '\n' ' ')
    # shellcheck disable=SC2086
    if cc -std=gnu11 -D_GNU_SOURCE -O2 -g -pthread -Icollector -Iprotocol -o "$B/scan_bench" \
        tests/bench/scan_bench.c $SCAN_SRC "$BUILD/libhlproto.a" \
        $(pkg-config --libs msgpack libzstd 2>/dev/null || echo -lmsgpackc -lzstd) \
        >"$B/scan_build.log" 2>&1; then
        "$B/scan_bench" 2>&1 | sed 's/^/  /'
    else
        echo "  build failed: $(head -3 "$B/scan_build.log" | tr '\n' ' ')"
    fi
fi
