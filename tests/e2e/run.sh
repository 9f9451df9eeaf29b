#!/bin/bash
# tests/e2e/run.sh - end-to-end tests of the heapline TUI in tmux.
#
# A private tmux server (-L heapline-e2e-PID, no config) runs `heapline replay`
# of a recording made here by `heapline record` of tests/e2e/e2e_target.c
# (known sizes from distinct functions), and `heapline run` of the same
# program, at 80x24 and 160x50. Keys are sent with send-keys; every check
# polls capture-pane until the text a person would see is there (timeout:
# E2E_TIMEOUT seconds). Figures on screen are compared with
# `heapline report --json --at` at the same time point.
#
#   BUILD=build tests/e2e/run.sh          (make e2e)
#   E2E_SAVE=assets/screens tests/e2e/run.sh   also saves each screen as text
set -euo pipefail

cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
[ -x "$HL" ] || { echo "e2e: $HL not built" >&2; exit 1; }
command -v tmux >/dev/null || { echo "e2e: tmux is not installed (make deps)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "e2e: python3 is not installed (make deps)" >&2; exit 1; }

. tests/e2e/lib.sh

e2e_private_tmp e2e

pass() { echo "  ok    $*"; }

# ---- the program and its recording ----
${CC:-cc} -O0 -g -fno-omit-frame-pointer -Icollector tests/e2e/e2e_target.c -o "$TMP/e2e_target"
REC=$TMP/e2e.heapline
# the TUIs run in $TMP, so titles show short names (the screens go to the README)
export E2E_CWD=$TMP
"$HL" record -o "$REC" -- "$TMP/e2e_target" >/dev/null 2>"$TMP/record.err" ||
    { cat "$TMP/record.err" >&2; e2e_fail "heapline record failed"; }

# report FILE-TAG --at X: writes $TMP/FILE-TAG.json
report() { "$HL" report "$REC" --json --at "$2" >"$TMP/$1.json"; }
# json TAG EXPR: evaluates EXPR over the report d
json() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/$1.json" "$2"; }
# site TAG FUNCTION FIELD
site() { json "$1" "next((s['$3'] for s in d['sites'] if s['function']=='$2'), 0)"; }
exact() { python3 -c 'import sys; print(f"{int(sys.argv[1]):,}")' "$1"; }
# the TUI's human byte format (widget_fmt_bytes)
human() {
    python3 - "$1" <<'PY'
import sys
v = int(sys.argv[1])
if v < 1024:
    print(f"{v}B"); sys.exit()
units = " KMGTPE"; u = 0; x = float(v)
while x >= 1024 and u + 1 < len(units):
    x /= 1024; u += 1
if x < 9.995: print(f"{x:.2f}{units[u]}")
elif x < 99.95: print(f"{x:.1f}{units[u]}")
elif x < 1023.5: print(f"{x:.0f}{units[u]}")
else: print(f"{x/1024:.2f}{units[u+1]}")
PY
}
has_braille() {
    e2e_screen | python3 -c 'import sys; l=sys.stdin.read().splitlines(); n=int(sys.argv[1]); sys.exit(0 if any(0x2801 <= ord(c) <= 0x28ff for c in l[n]) else 1)' "$1"
}
# every site row shows the report's live bytes, live blocks and allocations
# (figures under 1000 print exactly; the test's counts are)
# report_cursor TAG T: report --at T, the time the header shows for the cursor, is
# the state on the screen (the header rounds the cursor's point up to the
# millisecond, or finer when the next point lies within that millisecond)
report_cursor() {
    local t=${2%s} exact human
    report "$1" "$t"
    exact="($(exact "$(json "$1" 'd["live_bytes"]')") B)"
    human="heap $(human "$(json "$1" 'd["live_bytes"]')") "
    for _ in $(seq 100); do
        case $(e2e_screen) in *"$exact"* | *"$human"*) return ;; esac
        sleep 0.1
    done
    e2e_fail "the heap at the cursor ($2) is not report --at $t's ($exact)"
}
check_rows() { # REPORT-TAG
    local fn lb bl al
    for fn in config_alloc cache_alloc temp_alloc leak_alloc; do
        lb=$(human "$(site "$1" $fn live_bytes)")
        bl=$(site "$1" $fn live_blocks)
        al=$(site "$1" $fn allocations)
        [ "$al" = 0 ] && continue
        e2e_wait_re "^$fn +[^ ]+ +$lb +$bl +$al " ||
            e2e_fail "row of $fn: want $lb $bl $al"
    done
}
# the tree's guides are straight: under an expanded node (▾) its first child's
# branch (├ └) sits in the expander's column, and every bar (│) continues a
# bar or a tee in the row above. Prints the rows checked; fails on a bend.
tree_straight() {
    e2e_screen | python3 -c '
import sys
rows = sys.stdin.read().splitlines()
body = [r for r in rows if any(c in r for c in "▾▸├└")]
pairs = 0
for a, b in zip(body, body[1:]):
    e = a.find("▾")
    k = min([i for i in (b.find("├"), b.find("└")) if i >= 0], default=-1)
    if e >= 0 and k >= 0 and k <= e + 2 and b.find("▾") != k:
        if k != e:
            print("child branch at column %d under its parent expander at %d:\n%s\n%s" % (k, e, a, b)); sys.exit(1)
        pairs += 1
    for c, ch in enumerate(b):
        if ch == "│" and (c >= len(a) or a[c] not in "│├"):
            print("a bar at column %d does not continue the row above:\n%s\n%s" % (c, a, b)); sys.exit(1)
print(pairs)
'
}
no_wide_chars() {
    e2e_screen | python3 -c 'import sys; t=sys.stdin.read(); bad=[c for c in t if ord(c) > 127]; sys.exit(1 if bad else 0)'
}

report end end
report peak peak
END_LIVE=$(json end 'd["live_bytes"]')
PEAK=$(json peak 'd["live_bytes"]')
[ "$(json peak 'd["peak_bytes"]')" = "$PEAK" ] || e2e_fail "report: live at the peak != peak_bytes"
CONFIG_END=$(site end config_alloc live_bytes)
[ "$CONFIG_END" = 1048576 ] || e2e_fail "report: config_alloc live $CONFIG_END, want 1048576"
echo "e2e: recording: live at end $END_LIVE B, peak $PEAK B"

# ---- replay at 80x24 ----
echo "e2e: replay 80x24"
e2e_start r80 80 24 "$HL" replay e2e.heapline
e2e_wait_for "heapline  replay"
e2e_wait_for "end of recording"
e2e_wait_for "config_alloc"
e2e_assert_screen "FUNCTION"
e2e_assert_screen "[end]"
e2e_assert_screen "config_alloc: live $(exact "$CONFIG_END") B"
# the selected site's line whole at 80 columns, its total and peak with their units
e2e_wait_re "^config_alloc: live [0-9,]+ B, [0-9,]+ blocks?, [0-9,]+ allocs?(  .*)?  total [0-9.]+[BKMG]?, peak [0-9.]+[BKMG]? *$"
e2e_assert_screen "heap $(human "$END_LIVE") "
has_braille 1 || e2e_fail "no braille sparkline in the heap row"
has_braille 2 || e2e_fail "no braille sparkline in the rss row"
e2e_assert_screen "◆spike-freed"   # the last marker and its label on the axis
pass "sites, figures at the end equal report --at end, braille sparklines, markers"
e2e_save sites-80x24

T0=$(e2e_cursor_time)
e2e_keys Home
e2e_wait_for "[cursor]"
e2e_wait_time_change "$T0"
T1=$(e2e_cursor_time)
e2e_keys Right
e2e_wait_time_change "$T1"
T2=$(e2e_cursor_time)
python3 -c "import sys; sys.exit(0 if float('${T2%s}') > float('${T1%s}') else 1)" ||
    e2e_fail "Right moved the cursor back: $T1 -> $T2"
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do e2e_keys Right; done
# keys are handled in order: once w's message shows, every Right has landed
e2e_keys w
e2e_wait_for "growth over 1s"
T3=$(e2e_cursor_time)
report_cursor t3 "${T3%s}"
e2e_assert_screen "heap $(human "$(json t3 'd["live_bytes"]')") "
pass "Home, Right move the cursor ($T0 -> $T1 -> $T2 -> $T3); heap at $T3 equals report --at"

e2e_keys End
e2e_wait_for "[end]"
e2e_keys p
e2e_wait_for "[peak]"
e2e_assert_screen "heap $(human "$PEAK") "
e2e_assert_screen "temp_alloc"
pass "End, p: the peak's heap equals report --at peak"
e2e_keys z
e2e_wait_re "zoom [0-9.]+s t="
e2e_assert_screen "heap $(human "$PEAK") "   # zooming keeps the cursor's state
# the zoomed graph spans its visible lowest to highest and says so: the peak
# (4 MiB) over the 1 MiB of config_alloc before it
e2e_wait_re "^heap .* [0-9.]+[BKMG]?-$(human "$PEAK")\$"
e2e_screen | sed -n 2p | python3 -c 'import sys; l=sys.stdin.read()[5:-8]; sys.exit(0 if len(set(l)) > 2 else 1)' ||
    e2e_fail "the zoomed heap row is one glyph"
pass "a zoomed graph is scaled to what it shows ($(e2e_screen | sed -n 2p | awk '{print $NF}'))"
e2e_keys Z
e2e_wait_gone "zoom "
pass "z / Z zoom the timeline around the cursor and back"
e2e_keys n
e2e_wait_for "marker: spike-freed"
e2e_keys N N
e2e_wait_for "marker: loaded"
pass "n / N walk the markers"

# the stack tree of the top site at the end
e2e_keys End g
e2e_wait_for "[end]"
e2e_keys Enter
e2e_wait_for "Stack tree of config_alloc"
e2e_wait_for "load_config"
# the site's file by its name, as the site table shows it, and the keys whole at 80 columns
e2e_assert_re "^Stack tree of config_alloc \(e2e_target\.c:[0-9]+\), top-down   b: flip  Esc: back$"
e2e_assert_screen "run_phases"
e2e_assert_screen "main"
e2e_save tree-80x24
e2e_keys g -
e2e_wait_gone "load_config"
e2e_keys Space
e2e_wait_for "load_config"
pass "Enter opens the tree; collapse hides and expand shows the callers"
e2e_keys b
e2e_wait_re "^Stack tree of config_alloc \(e2e_target\.c:[0-9]+\), bottom-up   b: flip  Esc: back$"
# bottom-up, OWN is what a frame allocated itself: the root's, all of its inclusive bytes
root=$(e2e_screen | grep -E -A1 '^ *INCL +OWN' | tail -1 || true)
[ -n "$root" ] && [ "$(echo "$root" | awk '{print $1}')" = "$(echo "$root" | awk '{print $2}')" ] ||
    e2e_fail "bottom-up, the root's OWN is not its INCL: $root"
e2e_keys Escape
e2e_wait_for "FUNCTION"
e2e_wait_gone "Stack tree"
pass "b flips the tree, Esc goes back"

e2e_keys '?'
e2e_wait_for "Keys (from the key table"
e2e_assert_screen "time cursor back one column"
e2e_save help-80x24
e2e_keys x
e2e_wait_gone "Keys (from the key table"
pass "? shows the help generated from the key table"

e2e_keys / c a c h e Enter
e2e_wait_for "cache_alloc"
e2e_wait_gone "config_alloc"
e2e_wait_re "missed 0 \| 1 of [0-9]+ sites"
e2e_keys / C-u Enter
e2e_wait_for "config_alloc"
e2e_wait_re "missed 0 \| [0-9]+ sites"
pass "/ filters the sites by text; the status bar counts the sites shown of all"

e2e_keys L
e2e_wait_for "LEAKS"
e2e_wait_for "leak_alloc"
e2e_wait_gone "temp_alloc"
e2e_keys L
e2e_wait_gone "LEAKS"
e2e_keys t
e2e_wait_for "tag cache"
e2e_keys t
e2e_wait_gone "tag cache"
pass "L shows the leaks, t groups by tag"

# mouse (X10 reports, as TERM=screen's kmous): press and release at a cell
click() { # X Y (0-based)
    local x y
    x=$(printf "\\$(printf '%03o' $((33 + $1)))")
    y=$(printf "\\$(printf '%03o' $((33 + $2)))")
    e2e_keys -l $'\e[M '"$x$y"
    e2e_keys -l $'\e[M#'"$x$y"
}
e2e_keys End
e2e_wait_for "[end]"
click 20 1
e2e_wait_for "[cursor]"
e2e_keys End
e2e_wait_for "[end]"
click 3 9 # the fourth site row
e2e_wait_re "^temp_alloc: live"
pass "mouse: a click on the timeline moves the cursor, a click on a row selects it"

e2e_keys q
e2e_assert_restored 0
pass "q quits and the terminal is restored"

# ---- replay: a site's objects at an earlier state ----
# cache_alloc's 64 blocks live from the "cached" marker to just before the end,
# so none is left in the latest state: the list at "spike-freed" comes from
# reading the recording again up to the cursor's state.
echo "e2e: replay objects at the cursor"
[ "$(site end cache_alloc live_blocks)" = 0 ] || e2e_fail "report: cache_alloc live at the end"
e2e_start ro 80 24 "$HL" replay e2e.heapline
e2e_wait_for "end of recording"
e2e_keys Home
e2e_wait_for "[cursor]"
e2e_keys n
e2e_wait_for "marker: loaded"    # before the first point: n still visits it
e2e_keys n n
e2e_wait_for "marker: spike-freed"
T5=$(e2e_cursor_time)
report t5 "${T5%s}"
[ "$(site t5 cache_alloc live_blocks)" = 64 ] || e2e_fail "report --at $T5: cache_alloc not 64 blocks"
e2e_keys / c a c h e Enter
e2e_wait_gone "config_alloc"
e2e_wait_re "^cache_alloc +[^ ]+ +1.00M +64 +64 "
e2e_keys g o
e2e_wait_re "^Live objects of cache_alloc \(.*e2e_target.c:[0-9]+\): 64, oldest first"
e2e_wait_re "^ALLOCATION +SIZE +AGE +ALLOCATED +THREAD \(TID\)"
e2e_wait_re "^#[0-9]+ +16,384 +[0-9.]+s +[0-9.]+s +e2e_target \($(json end 'd["pid"]')\) +cache"
e2e_assert_screen "#N: the program's Nth allocation"
ROWS=$(e2e_screen | grep -cE "^#[0-9]+ +16,384 ")
[ "$ROWS" = 14 ] || e2e_fail "$ROWS rows of 16,384 B shown, want a full page of 14 (the allocation stack takes a line)"
e2e_save objects-replay-past-80x24
# Enter on a recorded block: the status line says why not, two blanks apart from the state it cuts
e2e_keys Enter
e2e_wait_re "^ replay \|.*[^ ]  a recording keeps no addresses: attach to the running program$"
pass "replay: Enter on a block says a recording keeps no addresses, set apart from the state"
e2e_keys Escape End
e2e_wait_for "[end]"
e2e_keys o
e2e_wait_for "Live objects of cache_alloc"
e2e_wait_for "(no live objects known for this site)"
e2e_keys Escape
e2e_wait_for "FUNCTION"
# the spike freed, then 150 ms with no allocation: on a point in that pause
# (a tick; report --at says nothing was allocated from there to 20 ms on),
# the rate over the cursor's column is 0 (a trailing second said 76 over
# the time since the start, ~150 a second)
e2e_keys Home
e2e_wait_for "[cursor]"
e2e_keys n
e2e_wait_for "marker: loaded"
e2e_keys n n
e2e_wait_for "marker: spike-freed"
T6=
W=("1s" "10s" "60s" "the visible window")
for i in 0 1 2 3 4 5 6 7 8 9; do
    # a point may be under a millisecond on (the time shown is the same):
    # w's message, a new one each time, says the Right before it landed
    e2e_keys Right w
    e2e_wait_for "growth over ${W[$((i % 4))]}"
    T=$(e2e_cursor_time)
    report t6 "${T%s}"
    report t6b "$(python3 -c "print(float('${T%s}') + 0.02)")"
    [ "$(json t6 'd["allocations"]')" = 76 ] || break
    if [ "$(json t6b 'd["allocations"]')" = 76 ]; then T6=$T; break; fi
done
[ -n "$T6" ] || e2e_fail "no timeline point in the pause after spike-freed (the collector ticked late?)"
e2e_wait_re "allocs/s 0 over [0-9.]+m?s "
pass "allocs/s at $T6 (in a pause after 76 allocations) is 0, over the cursor's column"
e2e_keys w w w
e2e_keys q
e2e_assert_restored 0
pass "replay: objects at $T5 list cache_alloc's 64 blocks of 16,384 B (freed later), none at the end"

# ---- issue 11: the screens' edges (e2e_target deep) ----
echo "e2e: one line's calls, deep stacks, more objects than listed"
"$HL" record -o "$TMP/deep.heapline" -- "$TMP/e2e_target" deep >/dev/null 2>"$TMP/record.err" ||
    { cat "$TMP/record.err" >&2; e2e_fail "heapline record (deep) failed"; }
DPID=$("$HL" report "$TMP/deep.heapline" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
e2e_start deep 80 24 "$HL" replay deep.heapline
e2e_wait_for "end of recording"
e2e_keys / p a i r _ Enter
e2e_wait_re "^pair_alloc "
e2e_wait_re "missed 0 \| 1 of 3 sites"
e2e_keys g Enter
e2e_wait_for "Stack tree of pair_alloc"
e2e_wait_for "pair_alloc  "
# make_pair calls pair_alloc twice on one line: one frame, both calls' figures
N=$(e2e_screen | grep -c "make_pair ")
[ "$N" = 1 ] || e2e_fail "make_pair on $N rows: two calls from one line are one frame"
e2e_wait_re "^ +128B +0B +2 +2 .*make_pair "
pass "two calls from one line are one tree node (128 B, 2 blocks, 2 allocations)"
e2e_keys Escape / C-u d e e p _ a Enter
e2e_wait_re "^deep_alloc "
e2e_keys g Enter
e2e_wait_for "Stack tree of deep_alloc"
# down the whole tree (36 rows, 30 levels): the guides stay straight on the way
for i in $(seq 1 36); do
    e2e_keys j
    if [ $((i % 6)) = 0 ]; then
        e2e_keys w
        e2e_wait_for "growth over"
        e2e_wait_re "^ +[0-9.]+[BK] +[0-9.]+[BK] +[0-9]+ +[0-9]+ \+[0-9]+ "
        P=$(tree_straight) || e2e_fail "tree guides bend after $i rows down: $P"
        [ "$P" -ge 4 ] || e2e_fail "only $P parent/child rows checked"
    fi
done
e2e_save tree-deep-80x24
pass "30 levels deep at 80 columns: whole levels scroll off (+N), the guides stay straight"
e2e_keys Escape / C-u m a n y Enter
e2e_wait_re "^many_alloc "
e2e_keys g o
e2e_wait_for "Live objects of many_alloc"
# 80 columns: the count and the keys, without "oldest first" (the AGE column says it)
e2e_wait_re "\\(e2e_target\\.c:[0-9]+\\): 10050 \\(10000 shown\\)   Esc: back"
e2e_wait_re "^#[0-9]+ +16 +[0-9.]+s +[0-9.]+s +e2e_target \($DPID\)"
pass "objects: 10050 live, 10000 shown, said so; the thread with its tid"
e2e_keys q
e2e_assert_restored 0

# ---- replay at 160x50 ----
echo "e2e: replay 160x50"
e2e_start r160 160 50 "$HL" replay e2e.heapline
e2e_wait_for "end of recording"
e2e_wait_for "heap $(human "$END_LIVE") ($(exact "$END_LIVE") B)"
e2e_screen | sed -n 2p | grep -q "^heap " || e2e_fail "the heap graph's top row has no label"
e2e_screen | sed -n 6p | grep -q "^rss " || e2e_fail "the rss row lost its label"
e2e_assert_screen "leak_alloc"
e2e_assert_screen "blocks $(json end 'd["live_blocks"]') "
check_rows end
e2e_save sites-160x50
e2e_keys p
e2e_wait_for "[peak]"
e2e_wait_for "($(exact "$PEAK") B)"
e2e_assert_screen "blocks $(json peak 'd["live_blocks"]') "
check_rows peak
e2e_save peak-160x50
e2e_keys Home
e2e_wait_for "[cursor]"
for _ in $(seq 1 40); do e2e_keys Right; done
e2e_keys w
e2e_wait_for "growth over 1s"
T4=$(e2e_cursor_time)
report_cursor t4 "${T4%s}"
e2e_wait_for "($(exact "$(json t4 'd["live_bytes"]')") B)"
check_rows t4
pass "160x50: heap, blocks and every site row at the end, the peak and $T4 equal report --at"
e2e_keys End
e2e_wait_for "[end]" # the rows at the end, before g and Enter act on them
e2e_keys g Enter
e2e_wait_for "Stack tree of config_alloc"
e2e_save tree-160x50
e2e_keys Escape '?'
e2e_wait_for "Keys (from the key table"
e2e_save help-160x50
e2e_keys q
e2e_keys q
e2e_assert_restored 0
pass "160x50 tree, help, quit"

# ---- resize ----
echo "e2e: resize"
e2e_start rz 80 24 "$HL" replay e2e.heapline
e2e_wait_for "end of recording"
T resize-window -t rz -x 120 -y 40
e2e_wait_for "allocs/s"
e2e_wait_re "^FUNCTION +FILE:LINE"
T resize-window -t rz -x 80 -y 24
e2e_wait_for "config_alloc"
e2e_keys q
e2e_assert_restored 0
pass "resize redraws at the new size"

# ---- ASCII fallback and NO_COLOR ----
echo "e2e: ASCII and NO_COLOR"
e2e_start asc 80 24 HEAPLINE_ASCII=1 NO_COLOR=1 "$HL" replay e2e.heapline
e2e_wait_for "end of recording"
e2e_wait_for "config_alloc"
no_wide_chars || e2e_fail "HEAPLINE_ASCII=1 still draws non-ASCII characters"
e2e_screen | sed -n 2p | grep -q '[#*+=]' || e2e_fail "no ASCII sparkline"
if T capture-pane -e -p -t asc | grep -qE $'\e\\[(3|4)[0-7]m'; then
    e2e_fail "NO_COLOR set but colours drawn"
fi
e2e_save sites-ascii-80x24
e2e_keys Enter
e2e_wait_for "Stack tree"
e2e_wait_re '`-'
no_wide_chars || e2e_fail "ASCII tree guides expected"
e2e_keys q
e2e_assert_restored 0
E2E_LANG=C e2e_start clang 80 24 "$HL" replay e2e.heapline
e2e_wait_for "config_alloc"
no_wide_chars || e2e_fail "LANG=C: the TUI should fall back to ASCII"
e2e_keys q
e2e_assert_restored 0
pass "ASCII fallback (HEAPLINE_ASCII=1 and a non-UTF-8 locale), NO_COLOR"

# ---- sampling mode: the tree's figures are estimates, marked as on the sites screen ----
echo "e2e: sampled tree"
"$HL" record --sample 1K -o "$TMP/sampled.heapline" -- "$TMP/e2e_target" >/dev/null \
    2>"$TMP/record.err" || { cat "$TMP/record.err" >&2; e2e_fail "heapline record --sample failed"; }
"$HL" report "$TMP/sampled.heapline" --json >"$TMP/sampled.json"
S_LIVE=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(next(s["live_bytes"] for s in d["sites"] if s["function"] == "config_alloc"))' "$TMP/sampled.json")
e2e_start smp 80 24 "$HL" replay sampled.heapline
e2e_wait_for "end of recording"
e2e_wait_re "^config_alloc .* ~"
e2e_keys E
e2e_wait_for "temporaries: not counted in sampling mode"
e2e_assert_re "^FUNCTION .* GROWTH"
e2e_keys g Enter
e2e_wait_for "Stack tree of config_alloc"
e2e_wait_re "^ +~[0-9.]+[KM] +~[0-9.]+[KMB]* +~[0-9]+ +~[0-9]+ . _start"
e2e_assert_screen "_start: inclusive ~$(exact "$S_LIVE") B +-"
e2e_save tree-sampled-80x24
e2e_keys q
e2e_assert_restored 0
pass "sampled: the tree's figures carry ~, and the frame's line its 95% bound ($(exact "$S_LIVE") B)"

# ---- issue 11: grouping by thread and by tag splits a site exactly ----
echo "e2e: groups"
${CC:-cc} -O0 -g -fno-omit-frame-pointer -pthread -Icollector tests/e2e/e2e_threads.c \
    -o "$TMP/e2e_threads"
"$HL" record -o "$TMP/threads.heapline" -- "$TMP/e2e_threads" >/dev/null 2>"$TMP/record.err" ||
    { cat "$TMP/record.err" >&2; e2e_fail "heapline record of e2e_threads failed"; }
e2e_start grp 80 24 "$HL" replay threads.heapline
e2e_wait_for "end of recording"
e2e_wait_re "^thread_alloc .* 977K "
sites=$(e2e_screen | sed -n 's/.*missed 0 | \([0-9]*\) sites .*/\1/p')
e2e_keys T
e2e_wait_re "thread w0 \(tid [0-9]+\): 97\.7K live in 1 site"
# the status counts sites, not rows: thread_alloc's four threads are one site
e2e_assert_re "missed 0 \| $sites sites "
e2e_assert_re "thread w1 \(tid [0-9]+\): 195K live in 1 site"
e2e_assert_re "thread w2 \(tid [0-9]+\): 293K live in 1 site"
e2e_assert_re "thread w3 \(tid [0-9]+\): 391K live in 1 site"
e2e_assert_re "^thread_alloc .* 391K "
e2e_save groups-thread-80x24
e2e_keys T
e2e_wait_gone "thread w0"
e2e_keys t
e2e_wait_for "tag high: 684K live in 1 site"
e2e_assert_screen "tag low: 293K live in 1 site"
e2e_keys q
e2e_assert_restored 0
pass "T and t split a site between its threads and its tags exactly"

# the same live: heapline run attaches to a program that has allocated (ticks rule); the
# threads allocate after the attach, so their shares are known, the rest is not
rm -f "$TMP/go"
e2e_start grplive 80 24 "$HL" run -- ./e2e_threads "$TMP/go"
e2e_wait_for "heapline  live"
e2e_wait_re "^thread_alloc .* 64B "
touch "$TMP/go"
e2e_wait_re "^thread_alloc .* 977K "
e2e_keys T
e2e_wait_re "thread w3 \(tid [0-9]+\): 391K live in 1 site"
e2e_assert_re "thread w0 \(tid [0-9]+\): 97\.7K live in 1 site"
e2e_assert_re "thread w1 \(tid [0-9]+\): 195K live in 1 site"
e2e_assert_re "thread w2 \(tid [0-9]+\): 293K live in 1 site"
e2e_save groups-live-80x24
rm -f "$TMP/go"
e2e_wait_re "exited"
e2e_keys q
e2e_assert_restored 0
pass "live: T splits a site between the threads that allocated after the attach"

# ---- issue 15: replay B --against A: the site table gains the change ----
echo "e2e: replay --against"
# two builds of one program (tests/tools: other addresses, the same lines): A keeps 3 blocks
# of 1000 B, B keeps 5; the change of every site is `heapline diff`'s live_bytes_delta
mkdir -p "$TMP/ta" "$TMP/tb"
(cd tests/tools && ${CC:-cc} -std=gnu11 -O0 -g -fno-omit-frame-pointer -I../collector \
    t_tools.c -o "$TMP/ta/t_tools" && ${CC:-cc} -std=gnu11 -O0 -g -fno-omit-frame-pointer \
    -I../collector -include pad.h t_tools.c -o "$TMP/tb/t_tools")
"$HL" record -o "$TMP/A.hl" -- "$TMP/ta/t_tools" 3 10 >/dev/null 2>&1 || e2e_fail "record A failed"
"$HL" record -o "$TMP/B.hl" -- "$TMP/tb/t_tools" 5 4 >/dev/null 2>&1 || e2e_fail "record B failed"
"$HL" diff "$TMP/A.hl" "$TMP/B.hl" --json >"$TMP/ab.json"
delta() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(next(s["live_bytes_delta"] for s in d["sites"] if s["function"]==sys.argv[2]))' \
    "$TMP/ab.json" "$1"; }
[ "$(delta site_keep)" = 2000 ] || e2e_fail "diff: site_keep changed by $(delta site_keep), not 2000"
keep="+$(human "$(delta site_keep)")"
e2e_start against 80 24 "$HL" replay B.hl --against A.hl
e2e_wait_for "end of recording"
e2e_assert_screen "heapline  replay  B.hl  against A.hl"
e2e_assert_re "^FUNCTION +FILE:LINE +LIVE BLOCKS ALLOCS CHANGE▾ +GROWTH TREND"
# sorted by the size of the change: site_keep first, 4.88K live in B, 2,000 B more than A
first=$(e2e_screen | grep -A1 '^FUNCTION' | tail -1)
echo "$first" | grep -qE "^site_keep +t_tools\.c:20 +4\.88K +5 +5 +\\${keep} " ||
    e2e_fail "the first row is not site_keep with CHANGE $keep: $first"
e2e_assert_re "^site_churn +t_tools\.c:21 +0B +0 +4 +0B "
e2e_save against-80x24
e2e_keys s
e2e_wait_for "sorted by live bytes"
e2e_assert_re "^FUNCTION +FILE:LINE +LIVE▾ BLOCKS ALLOCS +CHANGE +GROWTH"
e2e_keys S
e2e_wait_for "sorted by change"
e2e_keys q
e2e_assert_restored 0
# recordings named by long paths at 80 columns: the title names B by its file, as it names A,
# so "against A.hl" is not cut off by the time on the right
e2e_start against3 80 24 "$HL" replay "$TMP/B.hl" --against "$TMP/A.hl"
e2e_wait_for "end of recording"
e2e_assert_re "^ heapline  replay  B\.hl  against A\.hl +t=[0-9.]+s of [0-9.]+s \[end\]$"
e2e_keys q
e2e_assert_restored 0
# wider: TOTAL and PEAK as well, the change in its place, and room for the whole path
e2e_start against2 140 30 "$HL" replay B.hl --against A.hl
e2e_wait_for "end of recording"
e2e_assert_re "^FUNCTION +FILE:LINE +LIVE BLOCKS ALLOCS CHANGE▾ +GROWTH  TOTAL   PEAK TREND"
# GROWTH over the whole run: +4.88K when the timeline starts before the first event, 0B when
# the collector's first tick came before its events were drained (the state at that tick
# holds them): either, by the race of the two
e2e_assert_re "^site_keep +\S*t_tools\.c:20 +4\.88K +5 +5 +\\${keep} +(\+4\.88K|0B) +4\.88K +4\.88K "
e2e_save against-140x30
e2e_keys q
e2e_assert_restored 0
# no comparison, no column; a base that cannot be read is one line and status 1
e2e_start plainb 80 24 "$HL" replay B.hl
e2e_wait_for "end of recording"
e2e_assert_not_screen "CHANGE"
e2e_keys q
e2e_assert_restored 0
# a sampled side: the change is an estimate too, marked "~" as B's own figures are
"$HL" record --sample 1K -o "$TMP/Bs.hl" -- "$TMP/tb/t_tools" 5 4 >/dev/null 2>&1 ||
    e2e_fail "record --sample 1K failed"
e2e_start againsts 80 24 "$HL" replay Bs.hl --against A.hl
e2e_wait_for "end of recording"
e2e_assert_re "^site_keep +t_tools\.c:20 +~\S+ +~\S+ +~\S+ +~\S+ "
e2e_keys q
e2e_assert_restored 0
err=$(cd "$TMP" && "$HL" replay B.hl --against nosuch.hl 2>&1 >/dev/null) && e2e_fail "a missing base was accepted"
[ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "nosuch.hl" || e2e_fail "missing base: '$err'"
pass "replay B --against A: CHANGE is heapline diff's live_bytes_delta ($keep), largest first; ~ when sampled"

# ---- heapline run: live ----
echo "e2e: run"
e2e_start live 80 24 "$HL" run -o live.heapline -- ./e2e_target slow
e2e_wait_for "heapline  live"
e2e_wait_for "config_alloc" 20
e2e_wait_for "cache_alloc" 20
e2e_save live-80x24
e2e_wait_re "exited" 30
e2e_assert_screen "config_alloc"
e2e_assert_screen "leak_alloc"
e2e_save live-exited-80x24
# issue 11: the live header's peak is the recording's exact peak (bytes, and
# the time of the event that reached it, not of the next 10 ms tick)
"$HL" report "$TMP/live.heapline" --json --at peak >"$TMP/livepeak.json"
LP_BYTES=$(json livepeak 'd["peak_bytes"]')
LP_TIME=$(json livepeak '"%d.%03ds" % divmod(round(d["peak_time"] * 10000) // 10, 1000)')
e2e_assert_screen "peak $(human "$LP_BYTES") at $LP_TIME"
e2e_keys q
e2e_assert_restored 0
pass "run: live sites appear, the exit is shown and the final state kept; the header's peak ($(human "$LP_BYTES") at $LP_TIME) is report --at peak's"

# ---- heapline run: a collector failure reaches the status line, not only a log ----
# (a 2 KB file size limit, SIGXFSZ ignored: the record file's writes fail mid-run)
echo "e2e: run, the collector fails"
e2e_start lim 80 24 "bash -c 'trap \"\" XFSZ; ulimit -f 2; exec $HL run -o $TMP/lim.heapline -- ./e2e_target slow'"
e2e_wait_for "heapline  live"
e2e_wait_for "collector: record file write failed: " 20
# the failure can reach the status line before the first tick's sites are drawn (seen at load 4)
e2e_wait_for "config_alloc" 20
e2e_keys q
e2e_assert_restored 0
pass "run: the collector's failure is on the status line"

# ---- heapline run: a wrapper's wrapper, as pyenv's python3 shim is ----
# env execs bash, whose collector the TUI reaches; bash forks a subshell, then execs the
# program: that stream ended without an END, and the TUI said "connection closed"
echo "e2e: run, a wrapper script (env, bash, a subshell) that execs the program"
printf '#!/usr/bin/env bash\nv=$(echo 1)\nexec ./e2e_target slow\n' >"$TMP/wrapper.sh"
chmod +x "$TMP/wrapper.sh"
e2e_start wrap 80 24 "$HL run -- ./wrapper.sh"
e2e_wait_for "heapline  live"
e2e_wait_for "config_alloc" 20
e2e_wait_re "running \./wrapper\.sh \(pid [0-9]+\)" 20
e2e_keys q
e2e_assert_restored 0
pass "run: followed a wrapper script's exec to the program's sites"

# ---- heapline attach: a running program, then its socket drops ----
echo "e2e: attach"
LD_PRELOAD=$PWD/$BUILD/libheapline.so "$TMP/e2e_target" slow &
TPID=$!
E2E_PIDS="$E2E_PIDS $TPID"
for _ in $(seq 1 100); do [ -S "$XDG_RUNTIME_DIR/heapline/$TPID.sock" ] && break; sleep 0.05; done
[ -S "$XDG_RUNTIME_DIR/heapline/$TPID.sock" ] || e2e_fail "no socket for the target"
e2e_start att 80 24 XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR" "$HL" attach "$TPID"
e2e_wait_for "heapline  attached"
e2e_wait_for "config_alloc" 20
kill -9 "$TPID"
wait "$TPID" 2>/dev/null || true
e2e_wait_re "attached \| connection closed" 20
e2e_assert_screen "config_alloc"
e2e_keys q
e2e_assert_restored 0
pass "attach: sites of a running program; the dropped socket is shown, the state kept"

# ---- issue 4: a site's objects and what keeps one alive (the leaky demo) ----
echo "e2e: objects and backreferences"
${CC:-cc} -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -o "$TMP/leaky_service" \
    assets/leaky_service.c
e2e_start refs 110 30 "$HL" run -- ./leaky_service --apps 3 --pause 100 --forever --quiet
e2e_wait_for "loader_load_table" 20
e2e_wait_re "^loader_load_table " 20
e2e_keys g o
e2e_wait_for "Live objects of loader_load_table"
e2e_wait_re "^0x[0-9a-f]+ +[0-9,]+ "
e2e_save demo-objects-live-110x30
e2e_keys Enter
e2e_wait_re "What keeps 0x[0-9a-f]+ alive" 20
e2e_wait_for "global instance_map" 20
e2e_assert_screen "from loader_load_table"
e2e_assert_screen "from processor_create"
e2e_assert_screen "from instance_map_grow"
e2e_wait_for "first bytes:"
e2e_save demo-refs-110x30
e2e_keys D
e2e_wait_for "wrote heapline-0x"
ls "$TMP"/heapline-0x*.dot >/dev/null 2>&1 || e2e_fail "no DOT file written"
grep -q "instance_map" "$TMP"/heapline-0x*.dot || e2e_fail "the DOT file lacks the root"
grep -q "rankdir=RL" "$TMP"/heapline-0x*.dot || e2e_fail "the DOT file is not backrefs --dot's"
# at 80 columns the title keeps its keys, leaving out the scan's figures
T resize-window -t "$E2E_SESSION" -x 80 -y 24
e2e_wait_re "^What keeps 0x[0-9a-f]+ alive: [0-9]+ levels \(limit [0-9]+\).*   \+: deeper  (D: DOT  )?Esc: back$"
T resize-window -t "$E2E_SESSION" -x 110 -y 30
e2e_keys Escape
e2e_wait_for "Live objects of"
pass "objects oldest first; Enter: the chain to the global instance_map; D writes DOT"
# the census of a C program: the collector's one line on the census screen
e2e_keys Escape
e2e_wait_re "^loader_load_table "
e2e_keys c
e2e_wait_for "Python objects by type: census: not a Python program"
e2e_keys Escape
e2e_wait_re "^loader_load_table "
pass "c on a C program: the census says it is not a Python program"
# the program ends under its objects: the collector's list stays, said to be of its moment
e2e_keys o
e2e_wait_re "^0x[0-9a-f]+ +[0-9,]+ "
e2e_assert_screen "Enter: what keeps the object alive"
pid=$(program_pid)
[ -n "$pid" ] || e2e_fail "no program under heapline run"
kill -TERM "$pid"
e2e_wait_re "^The program has ended: these were live at [0-9.]+m?s\.$" 20
e2e_assert_re "^0x[0-9a-f]+ +[0-9,]+ "
pass "the program ends under the objects view: the list is said to be of the moment it was asked"
e2e_keys q
e2e_assert_restored 0

# ---- issue 10: the census of a running Python program, and its oldest instance's chain ----
echo "e2e: Python census"
PY=/usr/bin/python3
if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    # tests/backrefs/pyservice.py: 7 Processors (392 B by sys.getsizeof), a Tick every 20 ms,
    # held alive by a fifo on its stdin; attached by pid
    e2e_py_service py tests/backrefs/pyservice.py
    PYPID=$E2E_PY_PID
    want=$(sed -n 's/.* Processor=\([0-9]*\)\/\([0-9]*\) .*/\1 \2/p' "$TMP/py.out")
    e2e_start census 160 60 "$HL" attach "$PYPID"
    e2e_wait_re "attached to .*$PYPID\.sock"
    e2e_keys c
    e2e_wait_re "^[0-9]+ live Python objects of [0-9]+ types"
    e2e_assert_re "^TYPE +COUNT▾ +BYTES +GROWTH +OLDEST"
    # Processor: the count gc.get_objects() gives, the bytes sys.getsizeof() sums
    e2e_assert_re "^Processor +${want% *} +${want#* }B +\+0 +0x[0-9a-f]+"
    e2e_assert_re "^Tick +[0-9]+ "
    e2e_save census-160x60
    # a second census: Ticks grew, sorted by growth they come first
    e2e_keys c
    e2e_wait_re "^Tick +[0-9]+ +[0-9.]+K? ?B? *\+[1-9][0-9]* "
    e2e_keys s
    e2e_wait_for "GROWTH▾"
    first=$(e2e_screen | grep -A1 '^TYPE' | tail -1)
    echo "$first" | grep -qE '^Tick ' || e2e_fail "sorted by growth, the first type is not Tick: $first"
    e2e_keys s
    e2e_wait_for "COUNT▾"
    # / filters the types by name: nothing matches zzz; "process" leaves Processor alone
    e2e_keys / z z z Enter
    e2e_wait_re "^[0-9]+ live Python objects of [0-9]+ types, .*; 0 match /zzz"
    e2e_assert_re "^no type matches the filter"
    e2e_keys / C-u p r o c e s s Enter
    e2e_wait_re "; 1 match /process"
    [ "$(e2e_screen | grep -A1 '^TYPE' | tail -1 | cut -d' ' -f1)" = Processor ] ||
        e2e_fail "filtered by /process, the only row is not Processor"
    [ "$(e2e_screen | grep -A2 '^TYPE' | tail -1 | tr -d ' ')" = "" ] ||
        e2e_fail "filtered by /process, more than one row is shown"
    # Enter on Processor: the chain of its oldest instance (app-0's) to instance_map
    e2e_keys Enter
    e2e_wait_re "What keeps 0x[0-9a-f]+ alive" 20
    e2e_wait_for "= dict ['app-0']" 20
    e2e_assert_screen "= module __main__ global instance_map (root): "
    e2e_assert_screen "python: Processor <- dict ['app-0'] <- module __main__ global instance_map"
    e2e_save census-chain-160x60
    e2e_keys Escape
    e2e_wait_re "^[0-9]+ live Python objects of"
    e2e_keys / C-u Enter
    e2e_wait_gone "match /process"
    # at 80x24: the same table in the columns left
    T resize-window -t census -x 80 -y 24
    e2e_wait_re "^TYPE +COUNT▾ +BYTES +GROWTH +OLDEST$"
    e2e_wait_re "^Processor +${want% *} +${want#* }B +\+0 +0x[0-9a-f]+$"
    # the status line's keys whole or not at all: "?:help" where "q:quit" has no room
    ! e2e_screen | tail -1 | grep -qE '(\?|\?:|\?:h|\?:he|\?:hel|q|q:|q:q|q:qu|q:qui)$' ||
        e2e_fail "the status line's keys are cut: $(e2e_screen | tail -1)"
    e2e_save census-80x24
    e2e_keys q
    e2e_assert_restored 0
    exec 8>&-
    kill "$PYPID" 2>/dev/null # the tmux server holds the fifo open too: no EOF to wait for
    wait "$PYPID" 2>/dev/null || true
    pass "c: Processor ${want% *} objects ${want#* } B as gc and getsizeof count; Tick grows; / filters the types; Enter: app-0's chain"
else
    echo "  skip  Python census: needs Debian's CPython 3.11 at $PY"
fi

# ---- issue 11: the oldest entry of a 1000-entry list: + deepens the scan ----
echo "e2e: backreferences 1000 levels deep"
e2e_start list 100 30 "$HL" run -- ./e2e_target list
e2e_wait_re "^list_alloc " 20
e2e_keys g o
e2e_wait_for "Live objects of list_alloc"
e2e_wait_re "^0x[0-9a-f]+ +48 "
e2e_keys Enter
e2e_wait_re "alive: 12 levels \(limit 12\)" 20
e2e_wait_for "stopped at the depth limit: + scans deeper"
for d in 48 192 768 1000; do
    e2e_keys +
    e2e_wait_re "alive: [0-9]+ levels \(limit $d\)" 30
done
e2e_assert_not_screen "stopped at the depth limit"
e2e_keys G
e2e_wait_re "global list_head \+0 in e2e_target +\(root\)"
e2e_wait_re "^\+[0-9]{3} "
e2e_save list-refs-100x30
pass "+ deepens the scan 12 -> 48 -> 192 -> 768 -> 1000: the oldest entry's chain ends at list_head"
e2e_keys q
e2e_assert_restored 0

# ---- issue 12: a recording that is not whole says so on the replay screen ----
echo "e2e: incomplete recordings"
size=$(stat -c %s "$REC")
head -c $((size - 40)) "$REC" >"$TMP/cut.heapline"
e2e_start cut 80 24 "$HL" replay cut.heapline
e2e_wait_for "INCOMPLETE: recording truncated at"
e2e_assert_screen "replay | end of recording: INCOMPLETE"
e2e_keys q
e2e_assert_restored 0
pass "replay of a cut recording: the status line says INCOMPLETE and where it stops"

# ---- issue 12: a killed `run` leaves no run-PID.log behind ----
e2e_start killed 80 24 "$HL" run -- sh -c "'echo hello from the program; sleep 60'"
e2e_wait_for "running sh" 30
tui=$(pgrep -P "$(T list-panes -t killed -F '#{pane_pid}')" | head -1)
prog=$(pgrep -P "$tui" | head -1)
[ -n "$tui" ] && [ -n "$prog" ] || e2e_fail "no heapline ($tui) or program ($prog) process"
sleeper=$(pgrep -P "$prog" | head -1)
kill -KILL "$tui"
kill "$prog" $sleeper
for _ in $(seq 100); do kill -0 "$tui" 2>/dev/null || break; sleep 0.05; done
left=$(ls "$XDG_RUNTIME_DIR/heapline/" | grep -x "run-$tui\.log" || true)
[ -z "$left" ] || e2e_fail "a killed run left $left in $XDG_RUNTIME_DIR/heapline"
pass "run killed by SIGKILL: no run-PID.log left in the socket directory"
e2e_start told 80 24 "$HL" run -- sh -c "'echo hello from the program'"
e2e_wait_for "(output in" 30
tui=$(pgrep -P "$(T list-panes -t told -F '#{pane_pid}')" | head -1)
grep -qx "hello from the program" "$XDG_RUNTIME_DIR/heapline/run-$tui.log" ||
    e2e_fail "the program's output is not in run-$tui.log"
e2e_keys q
e2e_assert_restored 0
[ -e "$XDG_RUNTIME_DIR/heapline/run-$tui.log" ] || e2e_fail "run-$tui.log was removed at quit"
# the status line is gone with the TUI: the shell is told the whole path
e2e_wait_for "heapline: the program's output is in"
T capture-pane -p -J -t told | grep -qxF "heapline: the program's output is in $XDG_RUNTIME_DIR/heapline/run-$tui.log" ||
    e2e_fail "quit does not say where the program's output is"
pass "the output of a program that ended is kept in run-PID.log, as the status line says, and the path is said at quit"

echo "e2e: all passed"
