#!/bin/bash
# tests/tools/run.sh - diff, report --flamegraph, check and record --check on
# recordings whose figures are known exactly (t_tools.c), plus a flame graph
# of a real program whose folded counts must add up to its report.
#
# One line per check: PASS, FAIL (expected vs got) or SKIP (a missing tool).
# Exits 1 if any check failed. Environment: BUILD (default build), KEEP=1
# (keep the work directory).
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
SRC=$PWD/tests/tools
W=$(mktemp -d /tmp/heapline-tools.XXXXXX)
PASSED=0
FAILED=0
SKIPPED=0
cleanup() { [ "${KEEP:-0}" = 1 ] && echo "work directory: $W" || rm -rf "$W"; }
trap cleanup EXIT

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
# judge NAME OUTPUT: PASS when OUTPUT is empty, else FAIL with it
judge() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$(echo "$2" | head -5 | tr '\n' ' ')"; fi; }
# same NAME WANT GOT
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }

# ---- two builds of one program (the second with code before every
# function: other addresses, the same lines), run with other arguments ----
CFLAGS="-std=gnu11 -O0 -g -fno-omit-frame-pointer -Wall -I$PWD/tests/collector"
mkdir -p "$W/a" "$W/b"
# the same file name in both builds, as two builds of one program have
(cd "$SRC" && cc $CFLAGS t_tools.c -o "$W/a/t_tools" &&
    cc $CFLAGS -include pad.h t_tools.c -o "$W/b/t_tools") 2>"$W/build.log" ||
    { echo "FAIL build: $(head -3 "$W/build.log")"; exit 1; }
if [ "$(nm "$W/a/t_tools" | grep ' site_keep$')" = "$(nm "$W/b/t_tools" | grep ' site_keep$')" ]; then
    echo "FAIL build: the padded build did not move site_keep"
    exit 1
fi
# A keeps 3 blocks and churns 10; B keeps 5, churns 4, and has 2 extra blocks
"$HL" record -o "$W/A.hl" -- "$W/a/t_tools" 3 10 >"$W/A.log" 2>&1 || echo "FAIL record A: $(cat "$W/A.log")"
"$HL" record -o "$W/B.hl" -- "$W/b/t_tools" 5 4 >"$W/B.log" 2>&1 || echo "FAIL record B: $(cat "$W/B.log")"

# ---- diff ----
"$HL" diff "$W/A.hl" "$W/B.hl" --json >"$W/diff.json" 2>"$W/diff.err"
same diff-status "0 ''" "$? '$(cat "$W/diff.err")'"
# every figure of every site, and the order (largest change first)
judge diff-json "$(python3 - "$W/diff.json" "$SRC/t_tools.c" <<'PY' || echo "the checker failed"
import json, sys
d = json.load(open(sys.argv[1]))
want_sites = [  # (function, line, {figure: (a, b)}), in the expected order
    ("site_keep", 20, dict(live_bytes=(3000, 5000), live_blocks=(3, 5), allocations=(3, 5),
                           bytes_allocated=(3000, 5000), peak_bytes=(3000, 5000),
                           leaked_bytes=(3000, 5000))),
    ("site_churn", 21, dict(live_bytes=(0, 0), live_blocks=(0, 0), allocations=(10, 4),
                            bytes_allocated=(1000, 400), peak_bytes=(100, 100), leaked_bytes=(0, 0))),
    ("site_extra", 22, dict(live_bytes=(0, 0), live_blocks=(0, 0), allocations=(0, 2),
                            bytes_allocated=(0, 128), peak_bytes=(0, 128), leaked_bytes=(0, 0))),
    ("site_fixed", 19, dict(live_bytes=(0, 0), live_blocks=(0, 0), allocations=(1, 1),
                            bytes_allocated=(4096, 4096), peak_bytes=(4096, 4096),
                            leaked_bytes=(0, 0))),
]
want_totals = dict(live_bytes=(3000, 5000), live_blocks=(3, 5), allocations=(14, 12),
                   bytes_allocated=(8096, 9624), peak_bytes=(7196, 9224),
                   leaked_bytes=(3000, 5000))
bad = []
def figs(obj, want, where):
    for k, (a, b) in want.items():
        got = (obj.get(k + "_a"), obj.get(k + "_b"), obj.get(k + "_delta"))
        if got != (a, b, b - a):
            bad.append(f"{where}.{k}: expected {(a, b, b - a)}, got {got}")
figs(d, want_totals, "totals")
got_order = [(s["function"], s["line"]) for s in d["sites"]]
if got_order != [(f, l) for f, l, _ in want_sites]:
    bad.append(f"sites: expected {[(f, l) for f, l, _ in want_sites]}, got {got_order}")
else:
    for s, (f, l, w) in zip(d["sites"], want_sites):
        figs(s, w, f)
        if (s["file"], s["module"]) != (sys.argv[2], "t_tools"):
            bad.append(f"{f}: file/module {s['file']}/{s['module']}")
for k in ("at_a", "at_b"):
    if d[k] != "end":
        bad.append(f"{k}: {d[k]}")
print("\n".join(bad))
PY
)"

# at each side's peak: A's holds a churn block, B's the two extra blocks
"$HL" diff "$W/A.hl" "$W/B.hl" --json --at-a peak --at-b=peak >"$W/diffp.json"
judge diff-at-peak "$(python3 - "$W/diffp.json" <<'PY' || echo "the checker failed"
import json, sys
d = json.load(open(sys.argv[1]))
want = {"site_keep": (3000, 5000), "site_fixed": (4096, 4096), "site_churn": (100, 0),
        "site_extra": (0, 128)}
bad = []
if (d["live_bytes_a"], d["live_bytes_b"], d["at_a"], d["at_b"]) != (7196, 9224, "peak", "peak"):
    bad.append(f"totals {d['live_bytes_a']} {d['live_bytes_b']} {d['at_a']} {d['at_b']}")
got = {s["function"]: (s["live_bytes_a"], s["live_bytes_b"]) for s in d["sites"]}
if got != want:
    bad.append(f"expected {want}, got {got}")
if [s["function"] for s in d["sites"]] != ["site_keep", "site_extra", "site_churn", "site_fixed"]:
    bad.append("order " + str([s["function"] for s in d["sites"]]))
print("\n".join(bad))
PY
)"

# the text: the totals' changes and the sites in order, exactly
"$HL" diff "$W/A.hl" "$W/B.hl" >"$W/diff.txt"
got=$(sed -n '/^  live bytes/p;/^  allocations/p;/^  peak heap/p' "$W/diff.txt" | tr -s ' ')
same diff-text-totals " live bytes 2.93 KiB 4.88 KiB +1.95 KiB
 allocations 14 12 -2
 peak heap 7.03 KiB 9.01 KiB +1.98 KiB" "$got"
got=$(grep -E '^ .*site_' "$W/diff.txt" | tr -s ' ' | cut -d' ' -f2-)
same diff-text-sites "2.93 KiB 4.88 KiB +1.95 KiB +2 +2 site_keep $SRC/t_tools.c:20 [t_tools]
0 B 0 B 0 +0 -6 site_churn $SRC/t_tools.c:21 [t_tools]
0 B 0 B 0 +0 +2 site_extra $SRC/t_tools.c:22 [t_tools]" "$got"
same diff-text-count "3 sites changed, 1 unchanged" "$(tail -1 "$W/diff.txt")"
# a recording against itself: nothing changed
"$HL" diff "$W/A.hl" "$W/A.hl" >"$W/self.txt"
same diff-self "  (no site changed)
0 sites changed, 3 unchanged" "$(tail -2 "$W/self.txt")"

# a side cut short: said before any figure, and its leaks are not known (text and JSON)
head -c "$(($(stat -c %s "$W/B.hl") / 2))" "$W/B.hl" >"$W/Bcut.hl"
"$HL" diff "$W/A.hl" "$W/Bcut.hl" >"$W/cut.txt" 2>/dev/null
same diff-incomplete-first "B  INCOMPLETE recording: recording truncated at" \
    "$(sed -n 3p "$W/cut.txt" | cut -c1-47)"
same diff-incomplete-leaks "leaked 2.93 KiB not known -" "$(grep '^  leaked' "$W/cut.txt" | tr -s ' ' | cut -c2-)"
"$HL" diff "$W/A.hl" "$W/Bcut.hl" --json >"$W/cut.json" 2>/dev/null
same diff-incomplete-json "True None False truncated None None" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
keep = [s for s in d["sites"] if s["function"] == "site_keep"][0]
print(d["complete_a"], d["incomplete_a"], d["complete_b"], d["incomplete_b"]["reason"],
      d["leaked_bytes_b"], keep["leaked_bytes_delta"])' "$W/cut.json")"
# a sampled side: said first, and every figure by site marked as an estimate. The tests below
# read site_keep's estimate: a draw that sampled none of its five 1000-byte blocks (0.38^5, one
# run in 130) is recorded again, up to 5 times
for _ in 1 2 3 4 5; do
    "$HL" record --sample 1K -o "$W/Bs.hl" -- "$W/b/t_tools" 5 4 >"$W/Bs.log" 2>&1 ||
        fail diff-sampled "record --sample 1K: $(cat "$W/Bs.log")"
    "$HL" report "$W/Bs.hl" --json --top 100000 2>/dev/null |
        python3 -c 'import json, sys; sys.exit(not any(s["function"] == "site_keep" for s in json.load(sys.stdin)["sites"]))' &&
        break
done
"$HL" diff "$W/A.hl" "$W/Bs.hl" >"$W/smp.txt"
same diff-sampled-said "B  sampled: one sample every 1.00 KiB on average: its figures by site are estimates (~); its totals are exact (heap bytes: usable sizes)" \
    "$(sed -n 3p "$W/smp.txt")"
# columns: live A (exact here), then live B, change, 95% bound, blocks, allocs (each from B:
# estimates; the bound: what the two may differ by with no change)
same diff-sampled-marked "" "$(grep -E '^ .*site_' "$W/smp.txt" | awk '{
    a = substr($0, 3, 12); sub(/^ +/, "", a)
    if (a ~ /^~/) { print; next }
    b = substr($0, 42, 12); sub(/^ +/, "", b)
    if (b !~ /^\+-[0-9]/) { print; next }
    split("16 12 29 12 55 8 64 8", c, " ")
    for (i = 1; i < 8; i += 2) { f = substr($0, c[i], c[i + 1]); sub(/^ +/, "", f); if (f !~ /^~/) { print; next } } }')"
same diff-sampled-header "live A live B change 95% bound blocks allocs function file:line [module]" \
    "$(grep -A1 '^Sites by change' "$W/smp.txt" | tail -1 | tr -s ' ' | cut -c2-)"
"$HL" diff "$W/A.hl" "$W/Bs.hl" --json >"$W/smp.json"
same diff-sampled-json "False 0 True 1024 True" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["sampled_a"], d["sample_rate_a"], d["sampled_b"], d["sample_rate_b"],
      all(s["estimated"] for s in d["sites"]))' "$W/smp.json")"
# each site's bound: 2 sqrt(the larger figure x rate x f) (tui/estimate.h), and beyond_bound
# where the change exceeds it; the text's last line counts those sites
same diff-sampled-bound "" "$(python3 - "$W/smp.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
R = d["sample_rate_b"]
for s in d["sites"]:
    a, b = s["live_bytes_a"], s["live_bytes_b"]
    big, blocks = (a, s["live_blocks_a"]) if a >= b else (b, s["live_blocks_b"])
    x = big / blocks / R if blocks > 0 and big > 0 else 0
    f = 1.0 if x < 1e-9 else (0.0 if x > 700 else x / math.expm1(x))
    want = round(2 * math.sqrt(big * R * f)) if big > 0 else 0
    if s["live_bytes_delta_bound"] != want or s["beyond_bound"] != (abs(s["live_bytes_delta"]) > want):
        print(s["function"], s["live_bytes_delta"], s["live_bytes_delta_bound"], want, s["beyond_bound"])
PY
)"
beyond=$(python3 -c 'import json, sys; print(sum(1 for s in json.load(open(sys.argv[1]))["sites"] if s["beyond_bound"]))' "$W/smp.json")
same diff-sampled-count "; live bytes beyond sampling's 95% bound at $beyond" \
    "$(tail -1 "$W/smp.txt" | sed 's/^[^;]*//')"

# report of the sampled side: each site's blocks have a 95% bound, 2 sqrt(N / (e^x - 1)) at the
# mean size x = bytes / blocks / rate (tui/estimate.h), as live_blocks_error and in the text
# after the bytes' bound
"$HL" report "$W/Bs.hl" --json --top 100000 >"$W/Bs.json" 2>&1
"$HL" report "$W/Bs.hl" --top 100000 >"$W/Bs.txt" 2>&1
same report-sampled-blocks-bound "" "$(python3 - "$W/Bs.json" "$W/Bs.txt" <<'PY'
import json, math, re, sys
d = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
R = d["sample_rate"]
if "          live    blocks    95% bound  (blocks)  function  file:line  [module]\n" not in text:
    print("no (blocks) column in the text report")
for s in d["sites"]:
    b, n = s["live_bytes"], s["live_blocks"]
    x = max(b / n, 1) / R if n > 0 else 0
    want = round(2 * math.sqrt(n / math.expm1(x))) if n > 0 and x <= 700 else 0
    if s.get("live_blocks_error") != want:
        print(s["function"], n, s.get("live_blocks_error"), want)
    elif b > 0 and not re.search(r"~%d +\+-\S+ [KMG]?i?B +\+-%d  %s  " % (n, want, s["function"]), text):
        print(s["function"], "no '~%d ... +-%d' line in the text" % (n, want))
PY
)"

# diff's bad input
check() { # check NAME STATUS STDERR CMD...
    local name=$1 want_rc=$2 want_err=$3 err rc
    shift 3
    err=$("$@" 2>&1 >/dev/null </dev/null)
    rc=$?
    same "$name" "$want_rc $want_err" "$rc $err"
}
check diff-one-file 2 "heapline diff: diff needs two files, A and B (see heapline diff --help)" \
    "$HL" diff "$W/A.hl"
check diff-three-files 2 "heapline diff: diff takes two files, A and B (see heapline diff --help)" \
    "$HL" diff "$W/A.hl" "$W/A.hl" "$W/A.hl"
check diff-bad-at 2 "heapline diff: --at-b soon: expected peak, end or seconds (see heapline diff --help)" \
    "$HL" diff "$W/A.hl" "$W/B.hl" --at-b soon
check diff-missing 1 "heapline: $W/none.hl: No such file or directory" "$HL" diff "$W/A.hl" "$W/none.hl"
check diff-beyond 1 "heapline: $W/B.hl: --at 1000: beyond the end of the recording ($(
    "$HL" report "$W/B.hl" --json | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["duration"])') s)" \
    "$HL" diff "$W/A.hl" "$W/B.hl" --at-b 1000

# ---- flame graph: exact lines, and counts that add up to the report ----
"$HL" report "$W/B.hl" --flamegraph --at peak >"$W/B.folded"
same flame-peak "_start;__libc_start_main;__libc_start_call_main;main;work;site_extra 128
_start;__libc_start_main;__libc_start_call_main;main;work;site_fixed 4096
_start;__libc_start_main;__libc_start_call_main;main;work;site_keep 5000" \
    "$(sed 's/^.*;main;/_start;__libc_start_main;__libc_start_call_main;main;/' "$W/B.folded")"
# flame_sums NAME FILE: for every --by and --at, the folded counts add up to
# report --json's figure at the same time
flame_sums() {
    local name=$1 file=$2 at by field sum want
    for at in peak end; do
        "$HL" report "$file" --json --at $at >"$W/rep.json" || { fail "$name" "report failed"; return; }
        for by in live allocated allocations; do
            case $by in
            live) field=live_bytes ;;
            allocated) field=bytes_allocated ;;
            allocations) field=allocations ;;
            esac
            sum=$("$HL" report "$file" --flamegraph --at $at --by $by |
                awk '{ n = $NF; s += n; if (n <= 0) bad = 1 } END { print (bad ? "bad" : s + 0) }')
            want=$(python3 -c "import json; print(json.load(open('$W/rep.json'))['$field'])")
            same "$name-$at-$by" "$want" "$sum"
        done
    done
}
flame_sums flame-sum-t_tools "$W/B.hl"
"$HL" report "$W/Bs.hl" --flamegraph >/dev/null 2>"$W/flame-s.err"
same flame-sampled-said "heapline: $W/Bs.hl: sampled (one sample every 1.00 KiB on average): the counts are estimates" \
    "$(cat "$W/flame-s.err")"
# a real program: many stacks, inlined frames, libraries
if command -v python3 >/dev/null; then
    "$HL" record -o "$W/py.hl" -- python3 -c 'x = [str(i) * 3 for i in range(20000)]; import json; json.dumps(x)' \
        >"$W/py.log" 2>&1
    flame_sums flame-sum-python3 "$W/py.hl"
    # each stack once, every line "frames COUNT"
    got=$("$HL" report "$W/py.hl" --flamegraph --by allocations | awk '
        NF < 2 || $NF !~ /^[0-9]+$/ { print "bad line: " $0; exit }
        { k = $0; sub(/ [0-9]+$/, "", k); if (seen[k]++) { print "twice: " k; exit } }')
    judge flame-format-python3 "$got"
else
    skip flame-sum-python3 "no python3"
fi
check flame-by 2 "heapline report: --by bytes: expected live, allocated or allocations (see heapline report --help)" \
    "$HL" report "$W/B.hl" --flamegraph --by bytes
check flame-json 2 "heapline report: --json, --flamegraph and --html exclude each other (see heapline report --help)" \
    "$HL" report "$W/B.hl" --flamegraph --json
check flame-by-alone 2 "heapline report: --by goes with --flamegraph (see heapline report --help)" \
    "$HL" report "$W/B.hl" --by live

# ---- report --html: one offline page, rendered by headless chromium, whose
# figures are the report's ----
CHROMIUM=$(command -v chromium || command -v chromium-browser)
# html_check NAME RECORDING: the page renders and shows the report's figures
html_check() {
    local name=$1 file=$2
    "$HL" report "$file" --html "$W/$name.html" 2>"$W/$name.err" ||
        { fail "$name" "report --html: $(cat "$W/$name.err")"; return; }
    # offline: no external script, style, font or image (the SVG namespace is a name, not a fetch)
    judge "$name-offline" "$(sed 's#http://www.w3.org/2000/svg##g' "$W/$name.html" |
        grep -oiE '(src|href)=|url\(|@import|https?://' | sort -u)"
    if [ -z "$CHROMIUM" ]; then
        skip "$name-render" "no chromium (make deps installs it)"
        return
    fi
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$W/chromium" \
        --dump-dom "file://$W/$name.html" >"$W/$name.dom" 2>"$W/$name.chromium.log"
    "$HL" report "$file" --json --at peak >"$W/$name.peak.json"
    judge "$name-render" "$(python3 - "$W/$name.dom" "$W/$name.peak.json" <<'PY' || echo "the checker failed"
import json, re, sys
dom = open(sys.argv[1]).read()
rep = json.load(open(sys.argv[2]))
def value(id_):
    m = re.search(r'id="%s"[^>]*data-value="([0-9.]+)"' % id_, dom) or \
        re.search(r'data-value="([0-9.]+)"[^>]*id="%s"' % id_, dom)
    return m and float(m.group(1))
bad = []
if 'data-rendered="1"' not in dom:
    bad.append("the page's script did not finish")
want = {"peak_bytes": rep["peak_bytes"], "allocations": rep["total_allocations"],
        "frees": rep["total_frees"], "bytes_allocated": rep["total_bytes_allocated"],
        "leaked_bytes": rep["leaked_bytes"], "flame-total": rep["live_bytes"],
        "peak": rep["peak_bytes"]}
for k, v in want.items():
    if value(k) != v:
        bad.append(f"{k}: page {value(k)}, report {v}")
frames = re.search(r'data-frames="(\d+)"', dom)
if not frames or int(frames.group(1)) < 2:
    bad.append(f"flame graph frames: {frames and frames.group(1)}")
markers = re.search(r'data-markers="(\d+)"', dom)
if not markers or int(markers.group(1)) != len(rep["markers"]):
    bad.append(f"markers: page {markers and markers.group(1)}, report {len(rep['markers'])}")
if dom.count('class="marker"') != len(rep["markers"]):
    bad.append("marker lines: %d" % dom.count('class="marker"'))
print("\n".join(bad))
PY
)"
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$W/chromium" \
        --window-size=1000,800 --screenshot="$W/$name.png" "file://$W/$name.html" >/dev/null 2>&1
    if [ "$(head -c 8 "$W/$name.png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG\r\n032\n" ]; then
        pass "$name-screenshot"
    else
        fail "$name-screenshot" "chromium wrote no PNG"
    fi
}
html_check html-t_tools "$W/B.hl"
[ -e "$W/py.hl" ] && html_check html-python3 "$W/py.hl"
# html_says NAME RECORDING WANT: the rendered page's verdict, note and leaked row
html_says() {
    local name=$1 file=$2 want=$3
    if [ -z "$CHROMIUM" ]; then
        skip "$name" "no chromium (make deps installs it)"
        return
    fi
    "$HL" report "$file" --html "$W/$name.html" 2>/dev/null
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$W/chromium" \
        --dump-dom "file://$W/$name.html" 2>/dev/null >"$W/$name.dom"
    same "$name" "$want" "$(python3 -c '
import re, sys
dom = open(sys.argv[1]).read()
for id_ in ("verdict", "sampled"):
    m = re.search(r"<p id=\"%s\"[^>]*>([^<]*)</p>" % id_, dom)
    print(id_ + ":", m.group(1) if m and "hidden" not in m.group(0) else "(hidden)")
m = re.search(r"id=\"leaked_bytes\"[^>]*>([^<]*)<", dom)
print("leaked:", m and m.group(1))' "$W/$name.dom")"
}
html_says html-incomplete "$W/Bcut.hl" "verdict: INCOMPLETE recording: $(sed -n 3p "$W/cut.txt" | sed 's/^B  INCOMPLETE recording: //')
sampled: (hidden)
leaked: not known: the recording is incomplete"
html_says html-sampled "$W/Bs.hl" "verdict: (hidden)
sampled: Sampled: one sample every 1.00 KiB on average: the flame graph's figures are estimates (~); the totals are exact (heap bytes: usable sizes).
leaked: $("$HL" report "$W/Bs.hl" | sed -n 's/^leaked *//p' | sed 's/(live at end)/(live at the end)/')"
check html-json 2 "heapline report: --json, --flamegraph and --html exclude each other (see heapline report --help)" \
    "$HL" report "$W/B.hl" --json --html "$W/x.html"
check html-unwritable 1 "heapline: $W/nodir/x.html: No such file or directory" \
    "$HL" report "$W/B.hl" --html "$W/nodir/x.html"
# the page's file: a page of ours is written again; anything else is left as it was
"$HL" report "$W/A.hl" --html "$W/fresh.html"
"$HL" report "$W/B.hl" --html "$W/again.html"
check html-rewritten 0 "" "$HL" report "$W/A.hl" --html "$W/again.html"
cmp -s "$W/fresh.html" "$W/again.html" && pass html-rewritten-same ||
    fail html-rewritten-same "the page written over an older page differs from a fresh one"
printf 'my notes\n' >"$W/notes.html"
check html-not-ours 1 "heapline: $W/notes.html: exists and is not a heapline report page: not overwritten (remove it, or choose another name)" \
    "$HL" report "$W/B.hl" --html "$W/notes.html"
same html-not-ours-kept "my notes" "$(cat "$W/notes.html")"
ln -s "$W/notes.html" "$W/link.html"
check html-link 1 "heapline: $W/link.html: is a symbolic link (report pages are not written through links; name the target)" \
    "$HL" report "$W/B.hl" --html "$W/link.html"
check html-device 1 "heapline: /dev/null: not a regular file (a device, FIFO or socket): refusing to write a page there" \
    "$HL" report "$W/B.hl" --html /dev/null

# check on a sampled recording: a site limit is judged on estimates, and said so
out=$("$HL" check "$W/Bs.hl" --max-site site_keep=1G 2>"$W/check-s.err")
same check-sampled "0 heapline check: 1 limit holds in $W/Bs.hl
heapline check: $W/Bs.hl is sampled (one sample every 1.00 KiB on average): --max-site and --no-leaks-from were judged on estimates, and a site with no sampled block left may still have leaked" \
    "$? $out
$(cat "$W/check-s.err")"

# broken on an estimate: the line gives the estimate's 95% bound, 2 sqrt(bytes x rate) (the
# blocks at the site's peak are not known: small ones, the widest bound; tui/estimate.h)
out=$("$HL" check "$W/Bs.hl" --max-site site_keep=1 2>/dev/null)
rc=$?
same check-sampled-bound "1 matches" "$rc $(python3 - "$out" <<'PY'
import math, re, sys
m = re.match(r"broken: --max-site site_keep=1: site's peak, estimated, (\d+) bytes \(([^)]*)\), "
             r"95% bound \+-([^,]*), limit 1 bytes; site: site_keep ", sys.argv[1])
def fmt(b):
    u = 0
    while b >= 1024 and u < 4:
        b /= 1024
        u += 1
    return "%.0f B" % b if u == 0 else "%.2f %s" % (b, ["B", "KiB", "MiB", "GiB", "TiB"][u])
print("matches" if m and m.group(3) == fmt(round(2 * math.sqrt(int(m.group(1)) * 1024)))
      and m.group(2) == fmt(int(m.group(1))) else "no: " + sys.argv[1])
PY
)"

# ---- check: exactly the limits broken, one line each ----
# B: peak 9224, leaked 5000 (site_keep), live at the end 5000, site peaks:
# site_keep 5000, site_fixed 4096, site_extra 128, site_churn 100
out=$("$HL" check "$W/B.hl" --max-peak 9K --max-leaked 5000 --max-live 4KiB --max-site site_keep=4.5K \
    --max-site site_fixed=4K --max-site site_churn=100 --no-leaks-from site_keep \
    --no-leaks-from site_fixed 2>"$W/check.err")
rc=$?
T=$(python3 -c "import json; d = json.load(open('$W/diffp.json')); print('%.3f' % d['time_b'])")
E=$(python3 -c "import json; d = json.load(open('$W/diff.json')); print('%.3f' % d['time_b'])")
same check-broken "1
broken: --max-peak 9K: peak heap 9224 bytes (9.01 KiB) at $T s, limit 9216 bytes; largest site at the peak: site_keep $SRC/t_tools.c:20
broken: --max-live 4KiB: live 5000 bytes (4.88 KiB) at $E s, limit 4096 bytes; largest site then: site_keep $SRC/t_tools.c:20
broken: --max-site site_keep=4.5K: site's peak 5000 bytes (4.88 KiB), limit 4608 bytes; site: site_keep $SRC/t_tools.c:20
broken: --no-leaks-from site_keep: 5000 bytes in 5 blocks leaked (live at the end); site: site_keep $SRC/t_tools.c:20
" "$rc
$out
$(cat "$W/check.err")"
out=$("$HL" check "$W/B.hl" --max-peak 9224 --max-leaked 5000 --max-live 5000 --max-site site_keep=5000 \
    --no-leaks-from site_fixed --max-live 9224 --at peak 2>&1)
same check-hold "0 heapline check: 6 limits hold in $W/B.hl" "$? $out"
out=$("$HL" check "$W/B.hl" --max-live 9223 --at peak --max-leaked 4999 --max-site nosuch=1 2>&1)
same check-at-peak "1 broken: --max-live 9223: live 9224 bytes (9.01 KiB) at $T s, limit 9223 bytes; largest site then: site_keep $SRC/t_tools.c:20
broken: --max-leaked 4999: leaked 5000 bytes (4.88 KiB) (live at the end), limit 4999 bytes; largest leak: site_keep $SRC/t_tools.c:20
heapline check: --max-site nosuch=1: no site is in function nosuch (the limit holds)" "$? $out"
check check-bad-size 2 "heapline check: --max-peak 10XB: bad size (e.g. 10MiB, 512K, 1G) (see heapline check --help)" \
    "$HL" check "$W/B.hl" --max-peak 10XB
check check-bad-site 2 "heapline check: --max-site site_keep: expected FUNCTION=SIZE (see heapline check --help)" \
    "$HL" check "$W/B.hl" --max-site site_keep
check check-no-limit 2 "heapline check: no limit given (--max-peak, --max-leaked, --max-live, --max-site, --no-leaks-from) (see heapline check --help)" \
    "$HL" check "$W/B.hl"
check check-at-alone 2 "heapline check: --at goes right after a --max-live (see heapline check --help)" \
    "$HL" check "$W/B.hl" --max-peak 1G --at 0
check check-missing 2 "heapline: $W/none.hl: No such file or directory" "$HL" check "$W/none.hl" --max-peak 1G
check check-beyond 2 "heapline check: --at 1000: beyond the end of the recording ($E s)" \
    "$HL" check "$W/B.hl" --max-live 1G --at 1000

# a recording cut short cannot prove a leak: a leak limit on it is bad input
head -c $(($(stat -c %s "$W/B.hl") - 40)) "$W/B.hl" >"$W/Bcut.hl"
"$HL" check "$W/Bcut.hl" --max-leaked 1G >/dev/null 2>"$W/cut.err"
same check-leaks-unknown "2 heapline check: --max-leaked 1G: leaks not known: the recording is incomplete" \
    "$? $(tail -1 "$W/cut.err")"
# ---- record --check: one line records and checks ----
out=$("$HL" record -o "$W/C.hl" --check '--max-peak 8K --no-leaks-from "site_keep"' -- "$W/a/t_tools" 2 2 2>&1)
same record-check-broken "1 broken: --no-leaks-from site_keep: 2000 bytes in 2 blocks leaked (live at the end); site: site_keep $SRC/t_tools.c:20" "$? $out"
out=$("$HL" record -o "$W/C.hl" --check='--max-peak 8K' -- "$W/a/t_tools" 2 2 2>&1)
same record-check-hold "0 heapline check: 1 limit holds in $W/C.hl" "$? $out"
out=$("$HL" record -o "$W/D.hl" --check '--max-peak 1' -- sh -c 'exit 3' 2>&1)
same record-check-status "3" "$?"
check record-check-bad 2 "heapline record: --max-peak 1Q: bad size (e.g. 10MiB, 512K, 1G) (see heapline record --help)" \
    "$HL" record -o "$W/E.hl" --check '--max-peak 1Q' -- "$W/a/t_tools"
[ -e "$W/E.hl" ] && fail record-check-bad-runs "the program ran despite bad limits" || pass record-check-bad-runs

# ---- the man page: every command and every option of its --help ----
MAN=$PWD/tui/heapline.1
manflat=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$MAN")
cmds=$("$HL" --help | sed -n 's/^  heapline \([a-z]*\) .*/\1/p' | sort -u)
missing=""
for c in $cmds; do
    echo "$manflat" | grep -qE "^(heapline )?$c( |$)" || missing="$missing $c"
    for o in $("$HL" "$c" --help | grep -oE -- '(^|[][ (|,])--?[a-z][a-z-]*' | sed 's/^[^-]*//' | sort -u); do
        echo "$manflat" | grep -q -- "$o\b" || missing="$missing $c:$o"
    done
done
judge man-covers-help "${missing:+not in heapline.1:$missing}"
if command -v man >/dev/null; then
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" 2>&1 >/dev/null)
    judge man-renders "$warn"
else
    skip man-renders "no man"
fi
for s in 0 1 2; do
    echo "$manflat" | sed -n '/^\.SH EXIT STATUS/,/^\.SH ENV/p' | grep -qx "\.B $s" ||
        fail man-exit-status "exit status $s is not documented"
done
pass man-exit-status

# ---- bash completion: commands, options, values, pids with a socket ----
# comp WORDS...: what the completion offers for the last word, sorted, one line
comp() {
    PATH="$PWD/$BUILD:$PATH" bash -c 'source tui/heapline.bash; COMP_WORDS=("$@");
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _heapline; printf "%s\n" "${COMPREPLY[@]}" | sort -u | tr "\n" " "' \
        comp "$@"
}
same complete-commands "--help --version attach backrefs check diff record replay report run " \
    "$(comp heapline '')"
same complete-check "--max-leaked --max-live --max-peak --max-site " "$(comp heapline check x.hl --max)"
same complete-report "--at --by --flamegraph --help --html --json --top " "$(comp heapline report x.hl --)"
same complete-by "allocated allocations live " "$(comp heapline report x.hl --flamegraph --by '')"
same complete-at "end peak " "$(comp heapline diff a b --at-b '')"
SD=$(mktemp -d /tmp/heapline-tools-sock.XXXXXX)
chmod 700 "$SD"
HEAPLINE_SOCKET_DIR=$SD "$HL" record -o "$W/sleep.hl" -- sleep 30 >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do ls "$SD"/*.sock >/dev/null 2>&1 && break; sleep 0.1; done
spid=$(ls "$SD" | sed -n 's/^\([0-9]*\)\.sock$/\1/p')
same complete-pid "$spid " "$(HEAPLINE_SOCKET_DIR=$SD comp heapline attach '')"
kill "$spid" 2>/dev/null
wait "$rpid" 2>/dev/null
rm -rf "$SD"
[ -n "$spid" ] || fail complete-pid-socket "no socket appeared in the socket directory"

# ---- make install puts the man page and the completion in place ----
if make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$W/inst" PREFIX=/usr >"$W/install.log" 2>&1; then
    got=$(cd "$W/inst" && find . -type f | sort | tr '\n' ' ')
    same install "./usr/bin/heapline ./usr/include/heapline.h ./usr/lib/heapline/libheapline.so ./usr/share/bash-completion/completions/heapline ./usr/share/man/man1/heapline.1 " "$got"
    make --no-print-directory -s uninstall BUILD="$BUILD" DESTDIR="$W/inst" PREFIX=/usr >>"$W/install.log" 2>&1
    same uninstall "" "$(cd "$W/inst" && find . -type f)"
else
    fail install "$(tail -3 "$W/install.log")"
fi

# ---- make bench's per-frame walk (tests/bench/unwind_bench.c) builds, and its 21 stacks
# walked by the table walk equal unw_backtrace's, with no frame handed to libunwind ----
if tests/bench/unwind_bench_build.sh "$W"; then
    ub=$("$W/unwind_bench" 20 2>&1)
    same unwind-bench "stacks 21 different 0 fallbacks 0" \
        "$(awk '$1 == "stacks" || $1 == "different" || $1 == "fallbacks" { printf "%s%s %s", sep, $1, $2; sep = " " }' <<<"$ub")"
else
    fail unwind-bench "build: $(head -3 "$W/unwind_bench_build.log" | tr '\n' ' ')"
fi

# ---- make bench's other programs that compile collector or protocol sources build (built,
# not run: tests/bench/build.sh holds the bench scripts' own compile lines) ----
if BUILD=$BUILD tests/bench/build.sh "$W/bench" >"$W/bench_build.log" 2>&1; then
    same bench-build "scan_bench graphs zfloor" \
        "$(cd "$W/bench" && for p in scan_bench graphs zfloor; do [ -x "$p" ] && echo "$p"; done | tr '\n' ' ' | sed 's/ $//')"
else
    fail bench-build "$({ grep -m3 -E "error|undefined" "$W/bench_build.log" || head -3 "$W/bench_build.log"; } | tr "\n" " ")"
fi

echo "tools tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" = 0 ]
