#!/bin/bash
# tests/backrefs/heapwalk.sh - glibc's heap as the scan walks it (collector/heapwalk.c) against
# the exact live table of the same process, block for block (HEAPLINE_HEAPWALK_CHECK: the scan
# child writes the comparison to the program's stderr): python3 holding a parsed JSON document
# (PYTHONMALLOC=malloc) and sqlite3 after tests/bench/real.sql. Every block of the table must be
# in the walk with glibc's malloc_usable_size(), and every other block of the walk must have been
# handed out untracked (collector/untracked.h: the collector's own calls, or before it started).
# BUILD=dir (default build).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$BUILD/heapline
LIB=$(realpath "$BUILD/libheapline.so")
OUT=$BUILD/tests/backrefs
mkdir -p "$OUT"
fails=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# check NAME FEED -- CMD...: CMD under the collector, its stdin a fifo fed by FEED (a function
# that writes to fd 7, ending with something that prints "ready"); then one scan, and the
# comparison the scan child wrote
check() {
    local name=$1 feed=$2; shift 3
    local fifo=$OUT/$name.in err=$OUT/$name.err out=$OUT/$name.out line=""
    rm -f "$fifo"; mkfifo "$fifo"
    : >"$out"; : >"$err"
    HEAPLINE_HEAPWALK_CHECK=1 PYTHONMALLOC=malloc LD_PRELOAD=$LIB "$@" <"$fifo" >"$out" 2>"$err" &
    local pid=$!
    pids+=("$pid")
    exec 7>"$fifo"
    $feed
    # the whole line: read while the program writes it, it can stop inside the address
    for _ in $(seq 1 600); do grep -q ready "$out" && [ -z "$(tail -c 1 "$out")" ] && break; sleep 0.05; done
    if ! grep -q ready "$out"; then
        echo "FAIL $name: the program did not get ready: $(head -3 "$err")"
        fails=$((fails + 1)); exec 7>&-; return
    fi
    # a live block: the one the program names, else one found in the middle of [heap]
    local addr lo hi k
    addr=$(sed -n 's/^ready \(0x[0-9a-f]*\).*/\1/p' "$out")
    if [ -z "$addr" ]; then
        read -r lo hi < <(awk '/\[heap\]/ { split($1, r, "-"); print r[1], r[2] }' /proc/$pid/maps)
        for k in 8 7 9 6 10 5 11 4 12 3 13; do
            addr=$(printf '0x%x' $(( 0x$lo + (0x$hi - 0x$lo) * k / 16 )))
            "$HL" backrefs "$pid" --address "$addr" --depth 1 >/dev/null 2>&1 && break
        done
    fi
    local before tasks
    before=$(grep -ac 'heapwalk check: heap' "$err")
    tasks=$(ls /proc/$pid/task | wc -l)
    "$HL" backrefs "$pid" --address "$addr" --depth 1 >"$OUT/$name.chains" 2>&1
    for _ in $(seq 1 200); do
        [ "$(grep -ac 'heapwalk check: heap' "$err")" -gt "$before" ] &&
            line=$(grep -a 'heapwalk check: heap' "$err" | tail -1) && break
        sleep 0.05
    done
    exec 7>&-
    kill "$pid" 2>/dev/null
    grep -a 'heapwalk check:' "$err" | grep -av 'check: heap' | sort -u | sed "s/^/  $name: /"
    if [ -z "$line" ]; then
        echo "FAIL $name: no comparison: $(cat "$OUT/$name.chains" "$err" | head -3)"
        fails=$((fails + 1)); return
    fi
    python3 - "$name" "$line" "$tasks" "$libc_dbg" <<'PY' || fails=$((fails + 1))
import re, sys
name, line, tasks, libc_dbg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
m = re.search(r"heap (\d+) blocks, table (\d+), same (\d+) \(sizes agree (\d+)\), only in the heap "
              r"(\d+) \(untracked: the collector's (\d+), before it started (\d+)\), only in the "
              r"table (\d+), heaps left out (\d+)", line)
if not m:
    sys.exit("FAIL %s: unreadable comparison: %s" % (name, line))
heap, table, same, sizes, only_heap, own, before, only_table, left_out = map(int, m.groups())
ok = (only_heap == 0 and only_table == 0 and left_out == 0 and same == table == sizes and
      heap == same + own + before and table > 1000)
# every thread's tcache_perthread_struct is glibc's, none of the blocks: with libc's debug
# symbols each is named by its thread's TLS variable, one a thread of the process
t = re.search(r"tcaches (\d+) (named by the TLS of (\d+) threads|by shape)", line)
if not t:
    sys.exit("FAIL %s: no tcache figures: %s" % (name, line))
if libc_dbg:
    ok = ok and t.group(3) is not None and int(t.group(1)) == int(t.group(3)) == tasks
print("%-4s %s: tcaches %s %s (threads of the process: %d)" % (
    "ok" if ok else "FAIL", name, t.group(1), t.group(2), tasks))
print("%-4s %s: heap %d blocks = %d in the table (sizes agree %d) + %d the collector's + %d "
      "before it started; unexplained: %d only in the heap, %d only in the table; %d heaps left "
      "out" % ("ok" if ok else "FAIL", name, heap, same, sizes, own, before, only_heap,
               only_table, left_out))
print("     (%s)" % line.split("; ", 1)[1] if "; " in line else "")
if not ok:
    sys.exit(1)
PY
}

# libc's debug symbols (libc6-dbg) name each thread's tcache; without them, by shape
libc=$(ldd /bin/sh | awk '/libc\.so/ { print $3 }')
bid=$(readelf -n "$libc" 2>/dev/null | awk '/Build ID/ { print $3 }')
libc_dbg=0
[ -n "$bid" ] && [ -f "/usr/lib/debug/.build-id/${bid:0:2}/${bid:2}.debug" ] && libc_dbg=1

feed_none() { :; }
feed_sql() {
    cat tests/bench/real.sql >&7
    echo "SELECT 'ready';" >&7
}

check python feed_none -- /usr/bin/python3 tests/backrefs/pyhold.py
# one arena for every thread, the collector's too: main_arena found by its top chunk, not the ring
check python-1-arena feed_none -- env MALLOC_ARENA_MAX=1 /usr/bin/python3 tests/backrefs/pyhold.py
check sqlite3 feed_sql -- sqlite3 :memory:
# a main heap that is not contiguous: [heap] could not grow past a page mapped in its way, and
# glibc went on in a region it mapped (main_arena's top is there)
cc -O1 -g -o "$OUT/brkwall" tests/backrefs/brkwall.c || exit 1
check brkwall feed_none -- "$OUT/brkwall"

# badheap: 4 threads churning the heap (tests/attach/busy.c) while 10 scans run, sampled: a
# snapshot whose walk does not add up is walked again on a new one (3 at most); every answer is
# complete (no heap left out, heap_walk_partial false) or says partial after the third
cc -O2 -g -pthread -o "$OUT/busy" tests/attach/busy.c || exit 1
HEAPLINE_SAMPLE=512K HEAPLINE_HEAPWALK_CHECK=1 LD_PRELOAD=$LIB "$OUT/busy" 4 1000 \
    >"$OUT/badheap.out" 2>"$OUT/badheap.err" &
pid=$!
pids+=("$pid")
for _ in $(seq 1 200); do
    { [ -S "/tmp/heapline-$(id -u)/$pid.sock" ] ||
      [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$pid.sock" ]; } && break
    sleep 0.05
done
read -r lo hi < <(awk '/\[heap\]/ { split($1, r, "-"); print r[1], r[2] }' /proc/$pid/maps)
: >"$OUT/badheap.partial"
for i in $(seq 1 10); do
    # the middle of [heap]: a block, or between blocks as the threads churn ("no live block")
    "$HL" backrefs "$pid" --address "$(printf '0x%x' $(( 0x$lo + (0x$hi - 0x$lo) / 2 )))" --json \
        >"$OUT/badheap.json" 2>"$OUT/badheap.stderr"
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["heap_walk_partial"])' \
        "$OUT/badheap.json" >>"$OUT/badheap.partial" 2>/dev/null ||
        { grep -q "no live block at" "$OUT/badheap.stderr" && echo nonblock || echo none; } \
            >>"$OUT/badheap.partial"
done
kill "$pid" 2>/dev/null
python3 - "$OUT/badheap.err" "$OUT/badheap.partial" <<'PY' || fails=$((fails + 1))
import re, sys
text = open(sys.argv[1], errors="replace").read()
partial = open(sys.argv[2]).read().split()
finals = re.findall(r"heapwalk check: heap .*heaps left out (\d+).*snapshot (\d+)", text)
retries = re.findall(r"heapwalk check: snapshot (\d) did not add up \((.*?)\): a new one", text)
bad = []
if len(finals) != 10 or len(partial) != 10:
    bad.append("%d answers, %d check lines" % (len(partial), len(finals)))
for (left, snap), p in zip(finals, partial):
    left, snap = int(left), int(snap)
    if p == "nonblock":  # an error answer: the walk's line alone says complete or partial
        p = "False" if left == 0 else "True"
    if not ((left == 0 and p == "False" and snap <= 3) or (left > 0 and p == "True" and snap == 3)):
        bad.append("heaps left out %d at snapshot %d, heap_walk_partial %s" % (left, snap, p))
print("%-4s badheap: 10 scans of 4 churning threads: %d complete, %d partial after 3 snapshots "
      "(%d on no live block); %d snapshots walked again%s" % (
          "FAIL" if bad else "ok", sum(1 for f in finals if f[0] == "0"),
          sum(1 for f in finals if f[0] != "0"), partial.count("nonblock"), len(retries),
          " (%s)" % "; ".join(sorted(set(r[1] for r in retries))) if retries else ""))
if bad:
    sys.exit("  " + "\n  ".join(bad))
PY

# sampling mode: the table holds none of graphs' small blocks, the scan walks glibc's heap and
# finds the exact run's chain (tests/backrefs/check.py's "chain"), every block "not sampled"
cc -O1 -g -fno-omit-frame-pointer -Wl,-z,now -o "$OUT/graphs" tests/backrefs/graphs.c -ldl -lpthread ||
    exit 1
HEAPLINE_SAMPLE=512K LD_PRELOAD=$LIB "$OUT/graphs" chain >"$OUT/sampled.out" 2>"$OUT/sampled.err" &
pid=$!
pids+=("$pid")
for _ in $(seq 1 200); do
    grep -q '^ready ' "$OUT/sampled.out" &&
        { [ -S "/tmp/heapline-$(id -u)/$pid.sock" ] ||
          [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$pid.sock" ]; } && break
    sleep 0.05
done
ready=$(grep -m1 '^ready ' "$OUT/sampled.out")
p0=$(echo "$ready" | sed -n 's/.* p0=\(0x[0-9a-f]*\).*/\1/p')
if "$HL" backrefs "$pid" --address "$p0" --json >"$OUT/sampled.json" 2>"$OUT/sampled.stderr"; then
    python3 - "$ready" "$OUT/sampled.json" <<'PY' || fails=$((fails + 1))
import json, re, sys
p = {k: int(v, 16) for k, v in re.findall(r"(p\d)=(0x[0-9a-f]+)", sys.argv[1])}
d = json.load(open(sys.argv[2]))
t = d["target"]
# the chain to g_chain (a stale word on a stack may make a second, shorter one)
chain = next((c for c in d["chains"] if c[-1].get("symbol") == "g_chain"), [])
got = [(h["kind"], int(h["address"], 16), h["offset"], h.get("untracked"), h.get("allocated"))
       for h in chain[:-1]]
want = [("heap", p["p1"], 16, True, "not sampled"), ("heap", p["p2"], 8, True, "not sampled"),
        ("heap", p["p3"], 24, True, "not sampled")]
ok = (d["heap_walk"] and not d["heap_walk_failed"] and int(t["address"], 16) == p["p0"] and
      t["untracked"] and t["allocated"] == "not sampled" and t["size"] == 136 and got == want and
      chain[-1]["kind"] == "global" and chain[-1]["symbol"] == "g_chain")
print("%-4s sampled: the chain of 3 unsampled blocks to global g_chain, from glibc's heap "
      "(target 136 bytes, its chunk's)" % ("ok" if ok else "FAIL"))
if not ok:
    sys.exit("  got %s, target %s, chains %s" % (got, t, d["chains"]))
PY
else
    echo "FAIL sampled: $(cat "$OUT/sampled.stderr")"; fails=$((fails + 1))
fi
kill "$pid" 2>/dev/null

# a sampled census: the counts of the program's own gc.get_objects(), and bytes that say they
# are at the usable size for the objects it did not sample (between sys.getsizeof's sum and
# 15 more per object)
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    pyin=$OUT/census.in
    rm -f "$pyin"; mkfifo "$pyin"
    exec 8<>"$pyin"
    HEAPLINE_SAMPLE=512K PYTHONMALLOC=malloc LD_PRELOAD=$LIB /usr/bin/python3 \
        tests/backrefs/pyservice.py <"$pyin" >"$OUT/census.out" 2>"$OUT/census.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do
        grep -q '^ready ' "$OUT/census.out" &&
            { [ -S "/tmp/heapline-$(id -u)/$pid.sock" ] ||
              [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$pid.sock" ]; } && break
        sleep 0.05
    done
    ready=$(grep -m1 '^ready ' "$OUT/census.out")
    if "$HL" backrefs "$pid" --types --json >"$OUT/census.json" 2>"$OUT/census.stderr" &&
        "$HL" backrefs "$pid" --types --top 1 >"$OUT/census.txt" 2>>"$OUT/census.stderr"; then
        python3 - "$ready" "$OUT/census.json" "$OUT/census.txt" <<'PY' || fails=$((fails + 1))
import json, re, sys
d = json.load(open(sys.argv[2]))
text = open(sys.argv[3]).read()
got = {t["type"]: (t["count"], t["bytes"]) for t in d["types"]}
bad = []
for name, n, size in re.findall(r"(\w+)=(\d+)/(\d+)", sys.argv[1]):
    n, size = int(n), int(size)
    c, b = got.get(name, (None, None))
    if c != n or not size <= b <= size + 15 * n:
        bad.append("%s: census %s/%s, gc.get_objects() %d/%d" % (name, c, b, n, size))
line = "bytes of an object not sampled: its block's usable size (up to 15 more than asked)"
if not d.get("bytes_unseen_usable") or line not in text or not re.findall(r"=\d+/", sys.argv[1]):
    bad.append("no note: %r, %r" % (d.get("bytes_unseen_usable"), text[-200:]))
print("%-4s sampled census: gc.get_objects() counts, usable sizes said" % ("FAIL" if bad else "ok"))
if bad:
    sys.exit("  " + "\n  ".join(bad))
PY
    else
        echo "FAIL sampled census: $(cat "$OUT/census.stderr")"; fails=$((fails + 1))
    fi
    exec 8>&-
    kill "$pid" 2>/dev/null
fi

# pymalloc (no PYTHONMALLOC=malloc, as a service runs): the objects live in pymalloc's pools,
# which the scan reads (collector/pymheap.c); the census counts the program's own
# gc.get_objects() exactly, bytes at the size class (sys.getsizeof's sum to 15 more per
# object), and a Processor's chain ends at the module global instance_map
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    pyin=$OUT/pym.in
    rm -f "$pyin"; mkfifo "$pyin"
    exec 8<>"$pyin"
    env -u PYTHONMALLOC LD_PRELOAD=$LIB /usr/bin/python3 \
        tests/backrefs/pyservice.py <"$pyin" >"$OUT/pym.out" 2>"$OUT/pym.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 1 200); do
        grep -q '^ready ' "$OUT/pym.out" &&
            { [ -S "/tmp/heapline-$(id -u)/$pid.sock" ] ||
              [ -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$pid.sock" ]; } && break
        sleep 0.05
    done
    ready=$(grep -m1 '^ready ' "$OUT/pym.out")
    if "$HL" backrefs "$pid" --types --json >"$OUT/pym.json" 2>"$OUT/pym.stderr" &&
        "$HL" backrefs "$pid" --type Processor --json >"$OUT/pymchain.json" 2>>"$OUT/pym.stderr"; then
        python3 - "$ready" "$OUT/pym.json" "$OUT/pymchain.json" <<'PY' || fails=$((fails + 1))
import json, re, sys
d = json.load(open(sys.argv[2]))
c = json.load(open(sys.argv[3]))
got = {t["type"]: (t["count"], t["bytes"]) for t in d["types"]}
bad = []
for name, n, size in re.findall(r"(\w+)=(\d+)/(\d+)", sys.argv[1]):
    n, size = int(n), int(size)
    cnt, b = got.get(name, (None, None))
    if cnt != n or not size <= b <= size + 15 * n:
        bad.append("%s: census %s/%s, gc.get_objects() %d/%d" % (name, cnt, b, n, size))
if not re.findall(r"=\d+/", sys.argv[1]):
    bad.append("no census in the ready line")
chains = c.get("python_chains", [])
if c.get("pymalloc") is not False or c.get("unreachable") or \
        not any(ch.endswith("module __main__ global instance_map") for ch in chains):
    bad.append("chain: pymalloc %r, unreachable %r, chains %r" %
               (c.get("pymalloc"), c.get("unreachable"), chains))
if not any(h.get("pymalloc") for ch in c.get("chains", []) for h in ch):
    bad.append("no hop marked pymalloc")
print("%-4s pymalloc: census = gc.get_objects(), chain to instance_map through its pools"
      % ("FAIL" if bad else "ok"))
if bad:
    sys.exit("  " + "\n  ".join(bad))
PY
    else
        echo "FAIL pymalloc: $(cat "$OUT/pym.stderr")"; fails=$((fails + 1))
    fi
    exec 8>&-
    kill "$pid" 2>/dev/null
fi

[ $fails -eq 0 ] && echo "heapwalk: all passed" || echo "heapwalk: $fails failed"
[ $fails -eq 0 ]
