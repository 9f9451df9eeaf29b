#!/bin/bash
# tests/backrefs/run.sh - `heapline backrefs` against programs with known
# reference graphs (graphs.c), run under the collector. BUILD=dir (default
# build). Asserts the exact chains (check.py), the error lines, and that a
# multi-threaded program allocating during scans keeps running.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HL=$BUILD/heapline
LIB=$(realpath "$BUILD/libheapline.so")
OUT=$BUILD/tests/backrefs
mkdir -p "$OUT"
CC=${CC:-cc}
# bind now: a lazy PLT resolution saves registers (holding graph pointers) in dead stack
$CC -O1 -g -fno-omit-frame-pointer -Wl,-z,now -o "$OUT/graphs" tests/backrefs/graphs.c -ldl -lpthread || exit 1
$CC -O1 -g -shared -fPIC -o "$OUT/libbrlib.so" tests/backrefs/brlib.c || exit 1
g++ -O2 -g -o "$OUT/cxxhold" tests/backrefs/cxxhold.cpp || exit 1

fails=0
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# start SCENARIO [ARG]: runs graphs under the collector; sets PID and READY
start() {
    local log="$OUT/$1.out"
    : >"$log"
    LD_PRELOAD=$LIB "$OUT/${PROG:-graphs}" "$@" >"$log" 2>"$OUT/$1.err" &
    PID=$!
    pids+=("$PID")
    READY=""
    for _ in $(seq 1 200); do
        READY=$(grep -m1 '^ready ' "$log" 2>/dev/null)
        [ -n "$READY" ] && break
        sleep 0.05
    done
    if [ -z "$READY" ]; then
        echo "FAIL $1: the program did not get ready"; cat "$OUT/$1.err"; fails=$((fails + 1))
        return 1
    fi
    # the socket appears when the collector thread is up
    for _ in $(seq 1 200); do
        [ -S "/tmp/heapline-$(id -u)/$PID.sock" ] && break
        [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/heapline/$PID.sock" ] && break
        sleep 0.05
    done
    return 0
}

p0() { echo "$READY" | sed -n 's/.* p0=\(0x[0-9a-f]*\).*/\1/p'; }

# scan SCENARIO ARGS...: backrefs --json, checked by check.py
scan_check() {
    local name=$1; shift
    if ! "$HL" backrefs "$@" --json >"$OUT/$name.json" 2>"$OUT/$name.stderr"; then
        echo "FAIL $name: heapline backrefs failed: $(cat "$OUT/$name.stderr")"
        fails=$((fails + 1)); return 1
    fi
    python3 tests/backrefs/check.py "$name" "$READY" "$OUT/$name.json" || fails=$((fails + 1))
}

# expect_error WANT ARGS...: one line on stderr matching WANT, non-zero status
expect_error() {
    local want=$1; shift
    local err
    if err=$("$HL" backrefs "$@" 2>&1 >/dev/null); then
        echo "FAIL error ($*): exit status 0"; fails=$((fails + 1))
    elif ! echo "$err" | grep -q -- "$want" || [ "$(echo "$err" | wc -l)" -ne 1 ]; then
        echo "FAIL error ($*): got '$err', want '$want'"; fails=$((fails + 1))
    else
        echo "ok   error: $err"
    fi
}

for sc in global static stack deadframe exited chain interior cycle arena pool fiber; do
    start $sc || continue
    scan_check $sc "$PID" --address "$(p0)"
    kill "$PID"
done

start dlopen "$(realpath "$OUT/libbrlib.so")" && {
    scan_check dlopen "$PID" --address "$(p0)"
    kill "$PID"
}

# --site: the oldest live object of alloc_link_b; by socket path, text and DOT too
start chain && {
    sock="/tmp/heapline-$(id -u)/$PID.sock"
    [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -S "$XDG_RUNTIME_DIR/heapline/$PID.sock" ] &&
        sock="$XDG_RUNTIME_DIR/heapline/$PID.sock"
    scan_check site "$sock" --site alloc_link_b
    # the same site as FILE:LINE (the line of its calloc)
    scan_check site "$PID" --site "graphs.c:$(grep -n 'return calloc(1, 48);' tests/backrefs/graphs.c | cut -d: -f1)"
    text=$("$HL" backrefs "$PID" --site alloc_target --depth 10)
    echo "$text" | grep -q '^  <- global g_chain (graphs) +0$' &&
        echo "$text" | grep -q 'allocated at alloc_link_a graphs.c:[0-9]*) +16, 1 reference' &&
        echo "ok   text" || { echo "FAIL text:"; echo "$text"; fails=$((fails + 1)); }
    dot=$("$HL" backrefs "$PID" --address "$(p0)" --dot)
    echo "$dot" | grep -q '^digraph backrefs {' && echo "$dot" | grep -q 'g_chain' &&
        echo "$dot" | grep -q -- '-> n0 \[label="+16"\]' &&
        echo "ok   dot" || { echo "FAIL dot:"; echo "$dot"; fails=$((fails + 1)); }
    # --depth 2 stops before the root
    "$HL" backrefs "$PID" --address "$(p0)" --depth 2 --json >"$OUT/depth.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["chains"]==[] and r["depth_limited"] and not r["unreachable"] and len(r["holders"])==2, r' \
        "$OUT/depth.json" && echo "ok   depth" || fails=$((fails + 1))
    # errors: one line on stderr, non-zero status
    expect_error "no allocation site named nosuchfunction" "$PID" --site nosuchfunction
    expect_error "no allocation site named graphs.c:1" "$PID" --site graphs.c:1
    expect_error "bad address: zz" "$PID" --address zz
    expect_error "not inside a live block\|no live block" "$PID" --address 0x10
    expect_error "give exactly one of" "$PID"
    expect_error "no process with pid 999999" 999999 --address 0x10
    # a PID without a collector gets one loaded first (tests/attach): a stopped one is refused
    sleep 30 &
    stopped=$!
    kill -STOP $stopped
    until grep -q '^State:.*T' /proc/$stopped/status; do sleep 0.01; done
    expect_error "pid $stopped (.*) is stopped: resume it first" $stopped --address 0x10
    kill -CONT $stopped
    kill $stopped
    expect_error "/nonexistent.sock: No such file or directory" /nonexistent.sock --address 0x10
    kill "$PID"
}

# a socket that never answers (timeout) and one that sends garbage
# a C++ program's global is named as in its source (jobs::g_done), not as
# its symbol is spelt (_ZN4jobsL6g_doneE)
PROG=cxxhold start cxxhold && {
    text=$("$HL" backrefs "$PID" --address "$(p0)")
    echo "$text" | grep -qx '  <- global jobs::g_done (cxxhold) +0' &&
        echo "$text" | grep -q '^  <- 0x[0-9a-f]* (64 bytes, allocated at jobs::Registry::add(int) .*cxxhold.cpp:23) +0, 1 reference$' &&
        echo "ok   cxx global" || { echo "FAIL cxx global:"; echo "$text"; fails=$((fails + 1)); }
    # --site takes the function as the source names it: the report's name is
    # "jobs::Registry::add(int) [clone .isra.0]"
    for spec in jobs::Registry::add Registry::add add 'jobs::Registry::add(int)'; do
        text=$("$HL" backrefs "$PID" --site "$spec")
        echo "$text" | head -1 | grep -q "^$(p0): 64 bytes allocated at jobs::Registry::add(int) .*cxxhold.cpp:22, 1 reference$" &&
            echo "ok   cxx --site $spec" || { echo "FAIL cxx --site $spec:"; echo "$text"; fails=$((fails + 1)); }
    done
    expect_error "no allocation site named Registry::ad" "$PID" --site Registry::ad
    kill "$PID"
}

fake=$OUT/fake.sock
for mode in silent garbage; do
    rm -f "$fake"
    python3 - "$fake" "$mode" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
if sys.argv[2] == "garbage":
    c.sendall(b"\xc1" * 64)
time.sleep(12)
PY
    fpid=$!
    pids+=("$fpid")
    for _ in $(seq 1 100); do [ -S "$fake" ] && break; sleep 0.05; done
    start_s=$(date +%s)
    if [ $mode = silent ]; then
        expect_error "timeout after 10 s waiting for the collector" "$fake" --address 0x10
        [ $(( $(date +%s) - start_s )) -le 12 ] || { echo "FAIL timeout took too long"; fails=$((fails + 1)); }
    else
        expect_error "bad data from the collector" "$fake" --address 0x10
    fi
    kill "$fpid" 2>/dev/null
done

# a multi-threaded program allocating during the scans: right chain every time,
# no deadlock, the program keeps running and allocating
start threads && {
    for i in 1 2 3 4 5; do
        scan_check threads "$PID" --address "$(p0)"
    done
    t1=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    sleep 0.3
    t2=$(awk '{print $14 + $15}' "/proc/$PID/stat")
    state=$(awk '{print $3}' "/proc/$PID/stat")
    if kill -0 "$PID" 2>/dev/null && [ "$t2" -gt "$t1" ] && [ "$state" != Z ]; then
        echo "ok   threads keep running (cpu ticks $t1 -> $t2)"
    else
        echo "FAIL threads: the program stopped (state $state, ticks $t1 -> $t2)"
        fails=$((fails + 1))
    fi
    kill "$PID"
}

# Python (Debian 12's CPython 3.11, every object a block with PYTHONMALLOC=malloc):
# chains named as objgraph names them, a cycle, the census against the
# program's own gc.get_objects()/sys.getsizeof(), its growth, --type
PY=/usr/bin/python3
tableline=$(grep -n 'self.table = \[bytearray(size)\]' tests/backrefs/pyservice.py | cut -d: -f1)
if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    pyin=$OUT/pyservice.in
    rm -f "$pyin"; mkfifo "$pyin"
    exec 7<>"$pyin"
    : >"$OUT/pyservice.out"
    LD_PRELOAD=$LIB PYTHONMALLOC=malloc "$PY" tests/backrefs/pyservice.py <"$pyin" \
        >"$OUT/pyservice.out" 2>"$OUT/pyservice.err" &
    PID=$!
    pids+=("$PID")
    READY=""
    for _ in $(seq 1 200); do
        READY=$(grep -m1 '^ready ' "$OUT/pyservice.out" 2>/dev/null)
        [ -n "$READY" ] && [ -S "/tmp/heapline-$(id -u)/$PID.sock" -o -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$PID.sock" ] && break
        sleep 0.05
    done
    pyaddr() { echo "$READY" | sed -n "s/.* $1=\(0x[0-9a-f]*\).*/\1/p"; }
    # pycheck NAME WHAT [WANT] -- ARGS...: backrefs --json ARGS, checked by pycheck.py
    pycheck() {
        local name=$1 what=$2 want=$3; shift 4
        if ! "$HL" backrefs "$@" --json >"$OUT/$name.json" 2>"$OUT/$name.stderr"; then
            echo "FAIL $name: $(cat "$OUT/$name.stderr")"; fails=$((fails + 1)); return
        fi
        python3 tests/backrefs/pycheck.py "$what" "$OUT/$name.json" "$want" || fails=$((fails + 1))
    }
    if [ -z "$READY" ]; then
        echo "FAIL python: the program did not get ready"; cat "$OUT/pyservice.err"
        fails=$((fails + 1))
    else
        app3="bytearray <- list [0] <- ResourceLoader .table <- Processor .loader <- dict ['app-3'] <- module __main__ global instance_map"
        pycheck py_app3 chain "$app3" -- "$PID" --address "$(pyaddr app3)"
        text=$("$HL" backrefs "$PID" --address "$(pyaddr app3)")
        [ "$(echo "$text" | grep -c '^chain ')" = 1 ] &&
            echo "$text" | grep -qF "chain 1 (11 hops): $app3:" &&
            echo "ok   python text" || { echo "FAIL python text:"; echo "$text"; fails=$((fails + 1)); }
        dot=$("$HL" backrefs "$PID" --address "$(pyaddr app3)" --dot)
        echo "$dot" | grep -qF 'module __main__ global instance_map' &&
            echo "$dot" | grep -qF "ResourceLoader .table" &&
            echo "ok   python dot" || { echo "FAIL python dot:"; echo "$dot"; fails=$((fails + 1)); }
        # the site is the Python line that makes the bytearrays (object and buffer); its
        # oldest object is app-0's
        pycheck py_site chain "${app3/app-3/app-0}" -- "$PID" --site "pyservice.py:$tableline"
        pycheck py_class chain "Processor <- dict ['x'] <- class Cached attribute keep" -- \
            "$PID" --address "$(pyaddr cached)"
        pycheck py_local chain "Processor <- main() local held" -- "$PID" --address "$(pyaddr local)"
        pycheck py_type chain "Processor <- dict ['app-0'] <- module __main__ global instance_map" -- \
            "$PID" --type Processor
        # a deque's slot that a Job was popped from still holds its address: no reference
        pycheck py_deque chain "Job <- list [0] <- dict ['all'] <- module __main__ global done" -- \
            "$PID" --address "$(pyaddr job)"
        pycheck py_cycle cycle "" -- "$PID" --address "$(pyaddr cycle)"
        "$HL" backrefs "$PID" --address "$(pyaddr cycle)" |
            grep -q '^unreachable: held only by a reference cycle' &&
            echo "ok   python cycle text" || { echo "FAIL python cycle text"; fails=$((fails + 1)); }
        pycheck py_census census "$READY" -- "$PID" --types
        "$HL" backrefs "$PID" --types --top 3 | grep -q ' live Python objects of ' &&
            echo "ok   census text" || { echo "FAIL census text"; fails=$((fails + 1)); }
        pycheck py_growth growth "" -- "$PID" --types --growth 1
        expect_error "no live Python object of type NoSuchType" "$PID" --type NoSuchType
        expect_error "\-\-types takes no" "$PID" --types --site x
    fi
    exec 7>&-
    kill "$PID" 2>/dev/null
    # a holder in a mapping right above the scan child's own: the child took the
    # 4 MB above its type cache (1.7 MB) for its own, so the blocks there (a large
    # dict's table) were never scanned and the chain ended at the value, "leaked"
    exec 7<>"$pyin"
    : >"$OUT/pybigdict.out"
    LD_PRELOAD=$LIB PYTHONMALLOC=malloc "$PY" tests/backrefs/pybigdict.py <"$pyin" \
        >"$OUT/pybigdict.out" 2>"$OUT/pybigdict.err" &
    PID=$!
    pids+=("$PID")
    READY=""
    for _ in $(seq 1 400); do
        READY=$(grep -m1 '^ready ' "$OUT/pybigdict.out" 2>/dev/null)
        [ -n "$READY" ] && break
        sleep 0.05
    done
    pycheck py_bigdict chain "Value <- dict ['k30000'] <- module __main__ global big" -- \
        "$PID" --address "$(pyaddr value)"
    exec 7>&-
    kill "$PID" 2>/dev/null
    # without PYTHONMALLOC=malloc the small objects live in pymalloc's pools, which the
    # scan reads: the buffer's chains go through Python objects there, and none is called
    # leaked or unseen, and the shortest is app-0's to instance_map (it was once through a
    # Condition's deque, whose left block's never-written leftlink held the buffer's address)
    exec 7<>"$pyin"
    : >"$OUT/pyservice.out"
    LD_PRELOAD=$LIB "$PY" tests/backrefs/pyservice.py <"$pyin" >"$OUT/pyservice.out" 2>&1 &
    PID=$!
    pids+=("$PID")
    for _ in $(seq 1 200); do
        grep -q '^ready ' "$OUT/pyservice.out" 2>/dev/null && break
        sleep 0.05
    done
    "$HL" backrefs "$PID" --site "pyservice.py:$tableline" >"$OUT/pymalloc.txt" 2>&1
    app0="bytearray <- list [0] <- ResourceLoader .table <- Processor .loader <- dict ['app-0'] <- module __main__ global instance_map"
    if grep -qF "): $app0:" "$OUT/pymalloc.txt" &&
        ! grep -q ' <- deque ' "$OUT/pymalloc.txt" &&
        grep -q "a Python object in pymalloc's pools" "$OUT/pymalloc.txt" &&
        ! grep -q "^note:\|leaked" "$OUT/pymalloc.txt"; then
        echo "ok   pymalloc: the bytearray's chains through pymalloc's pools"
    else
        echo "FAIL pymalloc chain:"; cat "$OUT/pymalloc.txt"; fails=$((fails + 1))
    fi
    exec 7>&-
    kill "$PID" 2>/dev/null
fi
# a census of a program that is not Python: one error line
start chain && {
    expect_error "census: not a Python program (the census reads CPython 3.11's objects)$" "$PID" --types
    kill "$PID"
}

# a Python site by FILE:LINE: the oldest live object of leaky_service.py's table line
# (CPython 3.11: the bytearray object of the first app's first table)
if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    line=$(grep -n 'table = bytearray(nbytes)' assets/leaky_service.py | cut -d: -f1)
    PYTHONMALLOC=malloc LD_PRELOAD=$LIB /usr/bin/python3 assets/leaky_service.py --forever --pause 200 \
        >"$OUT/pysite.out" 2>"$OUT/pysite.err" &
    PID=$!
    pids+=("$PID")
    # the first app loaded and unloaded: its tables are live (up to 60 s on a loaded machine);
    # and the collector's socket is there (the program may print before its thread is up)
    for _ in $(seq 1 600); do
        grep -q "loaded and unloaded" "$OUT/pysite.out" &&
            [ -S "/tmp/heapline-$(id -u)/$PID.sock" -o -S "${XDG_RUNTIME_DIR:-/nonexistent}/heapline/$PID.sock" ] &&
            break
        sleep 0.1
    done
    if ! grep -q "loaded and unloaded" "$OUT/pysite.out"; then
        echo "FAIL python site: leaky_service.py did not load its first app in 60 s: $(head -3 "$OUT/pysite.err")"
        fails=$((fails + 1))
    elif "$HL" backrefs "$PID" --site "leaky_service.py:$line" --depth 1 --json >"$OUT/pysite.json" 2>"$OUT/pysite.stderr" &&
        python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["target"]
assert (t["function"], t["size"]) == ("ResourceLoader.load_table", 56), t' "$OUT/pysite.json"; then
        echo "ok   python site leaky_service.py:$line"
    else
        echo "FAIL python site leaky_service.py:$line: $(cat "$OUT/pysite.stderr") $(head -c 300 "$OUT/pysite.json")"
        fails=$((fails + 1))
    fi
    kill "$PID"
else
    echo "skip python site: /usr/bin/python3 is not CPython 3.11"
fi

if [ "$fails" -ne 0 ]; then
    echo "backrefs: $fails failure(s)"
    exit 1
fi
echo "backrefs: all passed"
