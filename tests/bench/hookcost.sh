#!/bin/bash
# tests/bench/hookcost.sh - the collector's own instructions per malloc/free pair on the program's
# thread, by callgrind (instruction counts: the same on a loaded machine, unlike times).
#
# tests/bench/pairs.c makes N and 2N pairs bare, in exact mode and in sampling mode (512K, and
# 1G: no sample point at all); a pair costs the difference of the two runs' program-thread
# instructions over N (start-up cancels), and the collector's functions' own instructions
# (hooks.c and what it inlines from sample.h) are split per call. Asserts nothing.
# usage: tests/bench/hookcost.sh [N]   (default 200000; BUILD=build, HOOKCOST_LIB=another .so)
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${BUILD:-build}
N=${1:-200000}
LIB=${HOOKCOST_LIB:-$PWD/$B/libheapline.so} # another build to compare: HOOKCOST_LIB=path
W=$(mktemp -d) || exit 1
trap 'rm -rf "$W"' EXIT
command -v valgrind >/dev/null || { echo "hookcost: valgrind not installed"; exit 0; }
[ -f "$LIB" ] || { echo "hookcost: $LIB missing (make first)"; exit 1; }
cc -std=gnu11 -O2 -g -o "$W/pairs" tests/bench/pairs.c || exit 1

# ir MODE COUNT: the program thread's instructions; its callgrind file stays as $W/MODE.COUNT
ir() {
    local envs=()
    case $1 in
    bare) ;;
    exact) envs=(LD_PRELOAD="$LIB" HEAPLINE_RECORD="$W/r.heapline" HEAPLINE_SAMPLE=off) ;;
    *) envs=(LD_PRELOAD="$LIB" HEAPLINE_RECORD="$W/r.heapline" HEAPLINE_SAMPLE="$1") ;;
    esac
    env "${envs[@]}" valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$W/$1.$2" "$W/pairs" "$2" >/dev/null 2>&1
    grep -m1 '^summary:\|^totals:' "$W/$1.$2-01" | awk '{print $2}'
}

echo "callgrind, tests/bench/pairs.c: $N and $((2 * N)) malloc/free pairs (8-1007 B, 256 live)"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) (counts do not depend on it)"
bare=0
for mode in bare exact 512K 1G; do
    a=$(ir "$mode" "$N")
    b=$(ir "$mode" $((2 * N)))
    pair=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN {printf "%.1f", (b - a) / n}')
    [ "$mode" = bare ] && bare=$pair
    printf '%-6s %7s instructions a pair on the program thread, %6s over bare\n' "$mode" "$pair" \
        "$(awk -v p="$pair" -v b="$bare" 'BEGIN {printf "%+.1f", p - b}')"
    [ "$mode" = bare ] && continue
    # the collector's functions by their own instructions, per pair (over 2N pairs)
    callgrind_annotate "$W/$mode.$((2 * N))-01" 2>/dev/null |
        awk -v n=$((2 * N)) '/(hooks\.c|sample\.h):/ && !/=>/ {
            gsub(",", "", $1); for (i = 2; i <= NF; i++) if ($i ~ /(hooks\.c|sample\.h):/) f = $i
            sub(/.*:/, "", f)
            own[f] += $1 / n; total += $1 / n }
            END { for (f in own) if (own[f] >= 0.5) line = line sprintf(" %s %.1f", f, own[f])
                  printf "       hooks:%s = %.1f\n", line, total }'
done
