#!/bin/bash
# tests/bench/ab.sh - two builds of heapline against each other on the same programs, runs
# interleaved so both see the same machine: `make bench-ab A=DIR B=DIR` (or this script with
# the two build directories). Prints figures, asserts nothing.
#
# Each round runs, in an order that rotates from round to round, the program bare, under
# build A's `heapline record` and under build B's, in exact mode and with --sample 512K. A
# row prints each variant's median wall time, the median of its per-round ratios to that
# round's bare run, and B's median per-round ratio to A. Programs: python3's JSON round trip
# (tests/bench/real_json.py 100000, PYTHONMALLOC=malloc), sqlite3 on tests/bench/real.sql
# (a fresh database each run), churn_nofp with one thread (tests/bench/churn.c without frame
# pointers, 2M calls). A program that is not installed is skipped, and said so.
#
# Environment: ROUNDS (5), AB_PROGS (python3 sqlite3 churn: the rows to run), AB_MODES
# (exact sampled).
set -u

cd "$(dirname "$0")/../.." || exit 1
[ $# -eq 2 ] || {
    echo "usage: tests/bench/ab.sh BUILD_DIR_A BUILD_DIR_B  (each: make BUILD=DIR)" >&2
    exit 2
}
A=$(cd "$1" 2>/dev/null && pwd) || { echo "ab: $1: no such directory" >&2; exit 2; }
Bd=$(cd "$2" 2>/dev/null && pwd) || { echo "ab: $2: no such directory" >&2; exit 2; }
for d in "$A" "$Bd"; do
    for f in heapline libheapline.so; do
        [ -x "$d/$f" ] || [ -f "$d/$f" ] || { echo "ab: $d/$f is missing (make BUILD=$d)" >&2; exit 2; }
    done
done
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d /tmp/heapline-ab.XXXXXX) || exit 1
trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
# once IN CMD...: wall seconds of one run with stdin from IN, or "fail"
once() {
    local in=$1 s e
    shift
    s=$(now)
    "$@" <"$in" >"$W/log" 2>&1 || { echo fail; return; }
    e=$(now)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.4f\n", e - s }'
}
med() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ a[NR] = $1 }
    END { if (!NR) print "-"; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 == a && b > 0) printf "%.3f", a / b; else print "-" }'; }

# hl DIR MODE CMD...: CMD under DIR's heapline record, none of the user's HEAPLINE_* settings
hl() {
    local d=$1 mode=$2 opt=()
    shift 2
    [ "$mode" = sampled ] && opt=(--sample 512K)
    # shellcheck disable=SC2046
    env $(env | sed -n 's/^\(HEAPLINE_[A-Z_]*\)=.*/-u \1/p') HEAPLINE_LIB="$d/libheapline.so" \
        "$d/heapline" record "${opt[@]}" -o "$W/rec.heapline" -- "$@"
}

# row NAME IN PREP CMD...: ROUNDS rounds, each mode's A and B beside bare
row() {
    local name=$1 in=$2 prep=$3 r v t m order
    shift 3
    local -A T R k
    local variants=(bare)
    for m in ${AB_MODES:-exact sampled}; do variants+=("A.$m" "B.$m"); done
    for r in $(seq "$ROUNDS"); do
        # rotate the order so no variant always runs first (a warm or a cold cache)
        order=("${variants[@]:r%${#variants[@]}}" "${variants[@]:0:r%${#variants[@]}}")
        for v in "${order[@]}"; do
            $prep
            case $v in
            bare) t=$(once "$in" "$@") ;;
            A.*) t=$(once "$in" hl "$A" "${v#A.}" "$@") ;;
            B.*) t=$(once "$in" hl "$Bd" "${v#B.}" "$@") ;;
            esac
            [ "$t" = fail ] && { echo "  $name $v: failed: $(tail -1 "$W/log")"; return; }
            T[$v]="${T[$v]:-} $t"
            k[$v]=$t
        done
        for v in "${variants[@]:1}"; do
            R[$v]="${R[$v]:-} $(div "${k[$v]}" "${k[bare]}")"
        done
        for m in ${AB_MODES:-exact sampled}; do
            R[BA.$m]="${R[BA.$m]:-} $(div "${k[B.$m]}" "${k[A.$m]}")"
        done
    done
    printf '  %-10s bare %.3f s\n' "$name" "$(med <<<"${T[bare]}")"
    for m in ${AB_MODES:-exact sampled}; do
        printf '    %-8s A %.3f s %.2fx bare   B %.3f s %.2fx bare   B/A %.3fx\n' "$m" \
            "$(med <<<"${T[A.$m]}")" "$(med <<<"${R[A.$m]}")" \
            "$(med <<<"${T[B.$m]}")" "$(med <<<"${R[B.$m]}")" "$(med <<<"${R[BA.$m]}")"
    done
}

echo "heapline A/B - $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A: $A"
echo "B: $Bd"
echo "$ROUNDS rounds; times: median wall; x bare: median of per-round ratios to that round's bare run"
nop() { :; }
for p in ${AB_PROGS:-python3 sqlite3 churn}; do
    case $p in
    python3)
        PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
        if [ -z "$PY" ]; then
            echo "  python3: not found"
            continue
        fi
        (export PYTHONMALLOC=malloc; row python3 /dev/null nop "$PY" tests/bench/real_json.py 100000)
        ;;
    sqlite3)
        SQ=$(command -v sqlite3) || { echo "  sqlite3: not installed"; continue; }
        fresh() { rm -f "$W/real.db" "$W/real.db-journal" "$W/real.db-wal"; }
        row sqlite3 tests/bench/real.sql fresh "$SQ" "$W/real.db"
        ;;
    churn)
        cc -std=gnu11 -O2 -g -fomit-frame-pointer -pthread -o "$W/churn_nofp" tests/bench/churn.c ||
            continue
        row churn_nofp /dev/null nop "$W/churn_nofp" 2000000 1
        ;;
    *) echo "  $p: unknown program (python3, sqlite3, churn)" ;;
    esac
done
