#!/bin/bash
# tests/collector/run.sh - exactness tests of the collector and `heapline report`.
#
# Builds the small target programs of this folder into $BUILD/tests/collector,
# records each with `heapline record`, and checks the figures of
# `heapline report --json` per site (blocks, bytes, allocations) with expect.py.
# One line per test: PASS, FAIL (what differed: expected vs got) or SKIP (a
# missing tool, never a wrong figure). Exits 1 if any test failed.
#
# Environment: BUILD (default build), ONLY (a regex: run only the tests whose
# name matches), KEEP=1 (keep the work directory), KNOWN_FAIL (names of tests whose
# failure is known and tracked: they print XFAIL and do not fail the run; a trailing *
# matches a prefix), TMO (seconds each command may take, default 180).
set -u

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
HL=$PWD/$BUILD/heapline
LIB=$PWD/$BUILD/libheapline.so
T=$PWD/$BUILD/tests/collector
W=$T/work
SRC=$PWD/tests/collector
EXPECT="python3 $SRC/expect.py"
ONLY=${ONLY:-.}
TMO=${TMO:-180}

PASSED=0
FAILED=0
SKIPPED=0
FAILS=""

XFAILED=0
# known() NAME: NAME is listed in KNOWN_FAIL (space-separated names; a name ending in * is a prefix)
known() {
    local k
    for k in ${KNOWN_FAIL:-}; do
        case $k in
        *\*) case $1 in "${k%\*}"*) return 0 ;; esac ;;
        *) [ "$1" = "$k" ] && return 0 ;;
        esac
    done
    return 1
}
pass() { echo "PASS $1${2:+: $2}"; PASSED=$((PASSED + 1)); }
fail() {
    if known "$1"; then
        echo "XFAIL $1: $2"
        XFAILED=$((XFAILED + 1))
        return
    fi
    echo "FAIL $1: $2"
    FAILED=$((FAILED + 1))
    FAILS="$FAILS $1"
}
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
want() { echo "$1" | grep -Eq -- "$ONLY"; }
# expect NAME JSON EXPR...: one PASS/FAIL line from expect.py
expect() { judge "$($EXPECT "$@")"; }
# judge LINE: count a PASS/FAIL line printed by a checker
judge() {
    local out=$1
    case $out in
    PASS*) echo "$out"; PASSED=$((PASSED + 1)) ;;
    *)
        local n=${out#* }
        fail "${n%%:*}" "${n#*: }"
        ;;
    esac
}

for f in "$HL" "$LIB"; do
    if [ ! -e "$f" ]; then
        echo "FAIL setup: $f is missing (make BUILD=$BUILD)"
        exit 1
    fi
done

# ---- build the targets ----
mkdir -p "$T"
rm -rf "$W"
mkdir -p "$W"
CFLAGS="-std=gnu11 -O0 -g -fno-omit-frame-pointer -Wall -Wno-unused-result -pthread"
build() { # build OUT CC ARGS...: compile, or report the failure and exit
    local out=$1
    shift
    if ! "$@" -o "$T/$out" 2>"$W/build-$out.log"; then
        echo "FAIL build $out: $(head -5 "$W/build-$out.log")"
        exit 1
    fi
}
build t_alloc cc $CFLAGS "$SRC/t_alloc.c"
build t_alloc_O2 cc ${CFLAGS/-O0 -g -fno-omit-frame-pointer/-O2 -g -fomit-frame-pointer} "$SRC/t_alloc.c"
build t_peak cc $CFLAGS "$SRC/t_peak.c"
build t_teardown cc $CFLAGS "$SRC/t_teardown.c"
build t_cxx g++ -std=c++17 -O0 -g -fno-omit-frame-pointer -Wall "$SRC/t_cxx.cpp"
build t_threads cc $CFLAGS "$SRC/t_threads.c"
build t_tickstall cc $CFLAGS "$SRC/t_tickstall.c"
build t_libcdup cc $CFLAGS "$SRC/t_libcdup.c"
build t_handoff cc $CFLAGS "$SRC/t_handoff.c"
build ticktime cc -std=gnu11 -O2 -g -Wall -I"$PWD/protocol" "$SRC/ticktime.c" "$PWD/$BUILD/libhlproto.a" \
    $(pkg-config --libs msgpack libzstd 2>/dev/null || echo -lmsgpackc -lzstd)
build threadnames cc -std=gnu11 -O2 -g -Wall -I"$PWD/protocol" "$SRC/threadnames.c" \
    "$PWD/$BUILD/libhlproto.a" $(pkg-config --libs msgpack libzstd 2>/dev/null || echo -lmsgpackc -lzstd)
build t_rename cc $CFLAGS "$SRC/t_rename.c"
build t_fork cc $CFLAGS "$SRC/t_fork.c"
build t_forkbusy cc $CFLAGS "$SRC/t_forkbusy.c"
build t_forkearly cc ${CFLAGS/-O0 -g -fno-omit-frame-pointer/-O2 -g -fomit-frame-pointer} "$SRC/t_forkearly.c"
build t_forkwalk cc ${CFLAGS/-O0 -g -fno-omit-frame-pointer/-O2 -g -fomit-frame-pointer} "$SRC/t_forkwalk.c"
build t_execd cc $CFLAGS "$SRC/t_execd.c"
cp "$SRC/t_exec_wrapper.sh" "$T/t_exec_wrapper.sh"
build libt_dlib.so cc $CFLAGS -shared -fPIC "$SRC/t_dlib.c"
build t_dlopen cc $CFLAGS "$SRC/t_dlopen.c" -ldl
build libt_ctorlib.so cc $CFLAGS -shared -fPIC "$SRC/t_ctorlib.c"
build t_ctor cc $CFLAGS "$SRC/t_ctor.c" -L"$T" -lt_ctorlib -Wl,-rpath,"$T"
build t_kill cc $CFLAGS "$SRC/t_kill.c"
build t_exit_thread cc $CFLAGS "$SRC/t_exit_thread.c"
build t_sockclient cc $CFLAGS "$SRC/t_sockclient.c"
build t_sleeper cc $CFLAGS "$SRC/t_sleeper.c"
build t_atexit cc $CFLAGS "$SRC/t_atexit.c"
build t_tls cc $CFLAGS "$SRC/t_tls.c"
build t_spawn cc $CFLAGS "$SRC/t_spawn.c"
build t_environ cc $CFLAGS "$SRC/t_environ.c"
build t_big cc $CFLAGS "$SRC/t_big.c"
build t_closefds cc $CFLAGS "$SRC/t_closefds.c"
build t_threadchurn cc $CFLAGS "$SRC/t_threadchurn.c"
build t_sighandler cc $CFLAGS "$SRC/t_sighandler.c"
build t_inline cc ${CFLAGS/-O0 -g/-O2 -g} "$SRC/t_inline.c"
build t_map g++ -std=c++17 -O2 -g -Wall "$SRC/t_map.cpp"
build t_map_clang clang++ -std=c++17 -O2 -g -Wall -Wno-unknown-attributes "$SRC/t_map.cpp"
build t_asmfn cc $CFLAGS -fno-toplevel-reorder "$SRC/t_asmfn.c"
build t_wrapper cc $CFLAGS "$SRC/t_wrapper.c"
build t_busy cc $CFLAGS "$SRC/t_busy.c"
build t_sample cc $CFLAGS "$SRC/t_sample.c"
build t_mmapthr cc $CFLAGS "$SRC/t_mmapthr.c"
build t_ownzstd cc $CFLAGS "$SRC/t_ownzstd.c" $(pkg-config --libs libzstd 2>/dev/null || echo -lzstd)

# rec NAME [ENV=VAL...] -- CMD...: `heapline record -o $W/NAME.heapline -- CMD`;
# sets RC (its exit status; 124 on timeout) and leaves its output in $W/NAME.log
rec() {
    local name=$1
    shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env ${envs[@]+"${envs[@]}"} timeout "$TMO" "$HL" record -o "$W/$name.heapline" -- "$@" \
        >"$W/$name.log" 2>&1 </dev/null
    RC=$?
}
# rep NAME AT [FILE]: report --json at AT into $W/NAME.AT.json; sets RRC
rep() {
    local file=${3:-$W/$1.heapline}
    timeout "$TMO" "$HL" report "$file" --json --at "$2" --top 1000000 \
        >"$W/$1.$2.json" 2>"$W/$1.$2.err"
    RRC=$?
}
# recorded NAME EXPECTED_RC: FAIL and return 1 if record or report failed
recorded() {
    if [ "$RC" != "$2" ]; then
        fail "$1" "heapline record exited $RC, expected $2: $(tail -3 "$W/$1.log" | tr '\n' ' ')"
        return 1
    fi
    if [ ! -s "$W/$1.heapline" ]; then
        fail "$1" "no recording at $W/$1.heapline"
        return 1
    fi
    return 0
}
reported() { # reported NAME AT
    rep "$1" "$2" "${3:-}"
    if [ "$RRC" != 0 ]; then
        fail "$1@$2" "heapline report --json --at $2 exited $RRC: $(head -3 "$W/$1.$2.err" | tr '\n' ' ')"
        return 1
    fi
    return 0
}

# compare_valgrind NAME OURS_JSON RESET_CMD CMD...: our allocations, frees, bytes allocated and
# the bytes and blocks live at the end against valgrind's (memcheck's "total heap usage" and "in
# use at exit") for the same command, exactly. --run-libc-freeres=no and --run-cxx-freeres=no:
# valgrind would otherwise free glibc's and libstdc++'s own memory at exit, which no run does.
compare_valgrind() {
    local name=$1 json=$2 reset=$3
    shift 3
    if ! command -v valgrind >/dev/null; then
        skip "$name-vs-valgrind" "valgrind is not installed (apt-get install -y valgrind)"
        return
    fi
    eval "$reset"
    timeout "$TMO" valgrind --run-libc-freeres=no --run-cxx-freeres=no "$@" \
        >"$W/vg-$name.out" 2>"$W/vg-$name.log" </dev/null
    judge "$(python3 - "$name-vs-valgrind" "$json" "$W/vg-$name.log" <<'PYEOF'
import json, re, sys
name, ours, log = sys.argv[1:4]
r = json.load(open(ours))
text = open(log).read().replace(",", "")
use = re.search(r"in use at exit: (\d+) bytes in (\d+) blocks", text)
tot = re.search(r"total heap usage: (\d+) allocs (\d+) frees (\d+) bytes allocated", text)
if not use or not tot:
    print(f"FAIL {name}: no heap summary from valgrind: {' '.join(text.split()[-12:])}")
    sys.exit()
vg = {"allocations": int(tot[1]), "frees": int(tot[2]), "bytes_allocated": int(tot[3]),
      "live_bytes": int(use[1]), "live_blocks": int(use[2])}
diff = [f"{k} {r.get(k)} (valgrind {v})" for k, v in vg.items() if r.get(k) != v]
if diff:
    print(f"FAIL {name}: " + ", ".join(diff))
else:
    print(f"PASS {name}: {vg['allocations']} allocations, {vg['frees']} frees, "
          f"{vg['bytes_allocated']} bytes allocated, {vg['live_bytes']} bytes in "
          f"{vg['live_blocks']} blocks live at the end, as valgrind counts them")
PYEOF
)"
}

# ---- the malloc family, exact per site and in total ----
ALLOC_EXPECT=(
    site_malloc.allocations=10 site_malloc.bytes_allocated=5500 site_malloc.live_blocks=6
    site_malloc.live_bytes=4500 site_malloc.peak_bytes=5500
    site_malloc0.allocations=3 site_malloc0.bytes_allocated=0 site_malloc0.live_blocks=3
    site_malloc0.live_bytes=0
    site_calloc.allocations=4 site_calloc.bytes_allocated=960 site_calloc.live_blocks=3
    site_calloc.live_bytes=720
    site_realloc_src.allocations=2 site_realloc_src.bytes_allocated=200
    site_realloc_src.live_blocks=0 site_realloc_src.live_bytes=0 site_realloc_src.peak_bytes=200
    site_realloc_grow.allocations=1 site_realloc_grow.bytes_allocated=5000
    site_realloc_grow.live_blocks=1 site_realloc_grow.live_bytes=5000
    site_realloc_shrink.allocations=1 site_realloc_shrink.bytes_allocated=10
    site_realloc_shrink.live_blocks=1 site_realloc_shrink.live_bytes=10
    site_realloc_null.allocations=2 site_realloc_null.bytes_allocated=1554
    site_realloc_null.live_blocks=2 site_realloc_null.live_bytes=1554
    site_realloc0_src.allocations=1 site_realloc0_src.bytes_allocated=300
    site_realloc0_src.live_blocks=0 site_realloc0_src.live_bytes=0
    site_realloc_zero.allocations=0 site_realloc_zero.live_blocks=0 site_realloc_zero.live_bytes=0
    site_realloc_loop.allocations=100 site_realloc_loop.bytes_allocated=80800
    site_realloc_loop.live_blocks=1 site_realloc_loop.live_bytes=1600 site_realloc_loop.peak_bytes=1600
    site_reallocarray.allocations=2 site_reallocarray.bytes_allocated=243
    site_reallocarray.live_blocks=1 site_reallocarray.live_bytes=180
    site_posix_memalign.allocations=3 site_posix_memalign.bytes_allocated=3000
    site_posix_memalign.live_blocks=2 site_posix_memalign.live_bytes=2000
    site_aligned_alloc.allocations=2 site_aligned_alloc.bytes_allocated=1024
    site_aligned_alloc.live_blocks=2 site_aligned_alloc.live_bytes=1024
    site_memalign.allocations=2 site_memalign.bytes_allocated=600
    site_memalign.live_blocks=1 site_memalign.live_bytes=300
    site_valloc.allocations=1 site_valloc.bytes_allocated=5000
    site_valloc.live_blocks=1 site_valloc.live_bytes=5000
    site_pvalloc.allocations=1 site_pvalloc.bytes_allocated=100
    site_pvalloc.live_blocks=1 site_pvalloc.live_bytes=100
    site_realloc_fail_src.allocations=1 site_realloc_fail_src.live_blocks=1
    site_realloc_fail_src.live_bytes=50 site_realloc_fail.allocations=0
    site_realloc_fail.live_blocks=0 site_calloc_fail.allocations=0 site_malloc_fail.allocations=0
    .allocations=136 .bytes_allocated=104341 .live_blocks=26 .live_bytes=22038 .peak_bytes=22038
    nonneg consistent
)
for v in "alloc:t_alloc:" "alloc-libunwind:t_alloc:HEAPLINE_UNWIND=libunwind" \
    "alloc-fp:t_alloc:HEAPLINE_UNWIND=fp" "alloc-O2-nofp:t_alloc_O2:" \
    "alloc-depth1:t_alloc:HEAPLINE_DEPTH=1"; do
    IFS=: read -r name prog envv <<<"$v"
    want "$name" || continue
    rec "$name" $envv -- "$T/$prog"
    recorded "$name" 0 && reported "$name" end && expect "$name" "$W/$name.end.json" "${ALLOC_EXPECT[@]}"
done
# an allocation wrapper called from three functions: the report lists its callers
# under it, in text and in JSON, with each caller's exact figures
if want wrapper; then
    rec wrapper -- "$T/t_wrapper"
    if recorded wrapper 0 && reported wrapper end; then
        "$HL" report "$W/wrapper.heapline" >"$W/wrapper.txt" 2>&1
        judge "$(python3 - "$W/wrapper.end.json" "$W/wrapper.txt" <<'PY'
import json, re, sys
rep = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
site = [s for s in rep["sites"] if s["function"] == "site_wrap"]
errs = []
if len(site) != 1:
    errs.append(f"site_wrap sites: {len(site)}")
else:
    s = site[0]
    got = (s["live_bytes"], s["live_blocks"], s["allocations"])
    if got != (13400, 18, 23):
        errs.append(f"site_wrap live/blocks/allocations {got}, expected (13400, 18, 23)")
    calls = [(c["function"], c["live_bytes"], c["live_blocks"], c["allocations"],
              c["bytes_allocated"]) for c in s.get("callers", [])]
    want = [("caller_big", 8000, 4, 4, 8000), ("caller_mid", 4000, 4, 4, 4000),
            ("caller_small", 1400, 10, 10, 1400), ("caller_small", 0, 0, 5, 50)]
    if calls != want:
        errs.append(f"callers {calls}, expected {want}")
    lines = {c["line"] for c in s.get("callers", []) if c["function"] == "caller_small"}
    if len(lines) != 2:
        errs.append(f"caller_small's two call lines are not told apart: {lines}")
# text: the three callers with live bytes, largest first, under the site
m = re.search(r"\n +13\.09 KiB +18  site_wrap .*\n"
              r" +7\.81 KiB +4    <- caller_big  \S+t_wrapper\.c:\d+  \[t_wrapper\]\n"
              r" +3\.91 KiB +4    <- caller_mid  .*\n"
              r" +1\.37 KiB +10    <- caller_small  .*\n", text)
if not m:
    errs.append("text report lacks site_wrap and its three callers: " +
                " | ".join(l for l in text.splitlines() if "wrap" in l or "<-" in l))
print("FAIL wrapper: " + "; ".join(errs) if errs else
      "PASS wrapper: site_wrap's callers: caller_big 8000, caller_mid 4000, caller_small 1400 (+50 freed), text and JSON")
PY
)"
    fi
fi
# stripped programs: where a module has no symbols, its separate debug file is
# found by build id (under HEAPLINE_DEBUG_DIR here, /usr/lib/debug by default)
# or by .gnu_debuglink (next to it, in .debug/); without one the report says,
# once, that the module has no symbols and which build id a debug file needs
# stripped NAME PROG [ENV=VAL]: record PROG, check the site and the note
stripped() {
    local name=$1 prog=$2 named=$3
    shift 3
    rec "$name" "$@" -- "$T/$prog"
    recorded "$name" 0 && reported "$name" end || return
    "$HL" report "$W/$name.heapline" >"$W/$name.txt" 2>&1
    judge "$(python3 - "$name" "$W/$name.end.json" "$W/$name.txt" "$prog" \
        "$(readelf -n "$T/$prog" 2>/dev/null | awk '/Build ID/ {print $3}')" "$named" <<'PY'
import json, re, sys
name, rep, text, prog, bid, named = sys.argv[1], json.load(open(sys.argv[2])), \
    open(sys.argv[3]).read(), sys.argv[4], sys.argv[5], sys.argv[6] == "1"
errs = []
fig = lambda s: (s["live_bytes"], s["live_blocks"], s["allocations"])
wrap = [s for s in rep["sites"] if fig(s) == (13400, 18, 23)]
if len(wrap) != 1:
    errs.append("no site with site_wrap's figures (13400 B, 18 blocks, 23 allocations): " +
                str([(s["function"], fig(s)) for s in rep["sites"][:4]]))
note = [x for x in rep.get("no_symbols", []) if x["module"] == prog]
if named:
    if wrap and (wrap[0]["function"], wrap[0]["line"] > 0) != ("site_wrap", True):
        errs.append(f"site {wrap[0]['function']} line {wrap[0]['line']}, expected site_wrap at its line")
    if wrap and sorted({c["function"] for c in wrap[0]["callers"]}) != ["caller_big", "caller_mid", "caller_small"]:
        errs.append(f"callers {[c['function'] for c in wrap[0]['callers']]}")
    if note or re.search(r"no symbols .*/" + re.escape(prog) + " ", text):
        errs.append(f"a module with a debug file is called stripped: {note}")
else:
    if wrap and not re.fullmatch(re.escape(prog) + r"\+0x[0-9a-f]+", wrap[0]["function"]):
        errs.append(f"site {wrap[0]['function']}, expected {prog}+0xOFFSET")
    want = {"module": prog, "build_id": bid,
            "debug_file": f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"}
    if len(note) != 1 or {k: note[0].get(k) for k in want} != want:
        errs.append(f"no_symbols {note}, expected one entry {want}")
    said = re.findall(r"no symbols +\S*/" + re.escape(prog) + r" is stripped: .*", text)
    if len(said) != 1 or f"build id {bid} would name them" not in said[0]:
        errs.append("text: " + " | ".join(l for l in text.splitlines() if "symbols" in l))
print(f"FAIL {name}: " + "; ".join(errs) if errs else
      f"PASS {name}: " + (f"site_wrap named from the debug file" if named else
                          f"{prog} has no symbols, build id {bid}: said once"))
PY
)"
}
if want stripped; then
    if ! command -v objcopy >/dev/null || ! command -v readelf >/dev/null; then
        skip stripped "objcopy/readelf (binutils) are not installed"
    else
        # by build id: the debug file under a root of our own
        cp "$T/t_wrapper" "$T/t_wrapper_strip"
        objcopy --only-keep-debug "$T/t_wrapper_strip" "$W/t_wrapper_strip.debug"
        strip --strip-all "$T/t_wrapper_strip"
        BID=$(readelf -n "$T/t_wrapper_strip" | awk '/Build ID/ {print $3}')
        mkdir -p "$W/debug/.build-id/${BID:0:2}"
        mv "$W/t_wrapper_strip.debug" "$W/debug/.build-id/${BID:0:2}/${BID:2}.debug"
        stripped stripped-nodebug t_wrapper_strip 0
        stripped stripped-buildid t_wrapper_strip 1 HEAPLINE_DEBUG_DIR="$W/debug"
        # by .gnu_debuglink: no build id, the debug file in .debug/ beside the program
        build t_wrapper_link cc $CFLAGS -Wl,--build-id=none "$SRC/t_wrapper.c"
        mkdir -p "$T/.debug"
        objcopy --only-keep-debug "$T/t_wrapper_link" "$T/.debug/t_wrapper_link.debug"
        strip --strip-all "$T/t_wrapper_link"
        (cd "$T/.debug" && objcopy --add-gnu-debuglink=t_wrapper_link.debug "$T/t_wrapper_link")
        stripped stripped-debuglink t_wrapper_link 1
    fi
fi
# recordings are self-contained: the report names sites after the binary is gone
# a stripped program: its sites are module+0xOFFSET, and each offset is the
# address addr2line names in the unstripped binary, with that site's counts
if want stripped; then
    cp "$T/t_alloc" "$W/t_alloc_stripped"
    strip "$W/t_alloc_stripped"
    rec stripped -- "$W/t_alloc_stripped"
    recorded stripped 0 && reported stripped end && judge "$(python3 - "$W/stripped.end.json" \
        "$T/t_alloc" <<'PYEOF'
import json, re, subprocess, sys
d = json.load(open(sys.argv[1]))
named = {}
for x in d["sites"]:
    m = re.fullmatch(r"t_alloc_stripped\+0x([0-9a-f]+)", x["function"])
    if m and int(m.group(1), 16) == x["offset"]:
        fn = subprocess.run(["addr2line", "-f", "-e", sys.argv[2], hex(x["offset"] - 1)],
                            capture_output=True, text=True).stdout.split("\n")[0]
        named[fn] = named.get(fn, 0) + x["allocations"]
# as ALLOC_EXPECT counts them in the unstripped run
want = {"site_malloc": 10, "site_calloc": 4, "site_realloc_loop": 100, "site_posix_memalign": 3}
if all(named.get(k) == v for k, v in want.items()):
    print(f"PASS stripped: sites are t_alloc_stripped+0xOFFSET; addr2line names {len(named)} of them, with their counts")
else:
    print(f"FAIL stripped: expected t_alloc_stripped+0xOFFSET sites that addr2line names {want}, got {named}")
PYEOF
)"
fi

if want self-contained; then
    mkdir -p "$W/gone"
    cp "$T/t_dlopen" "$T/libt_dlib.so" "$W/gone/"
    rec self-contained -- "$W/gone/t_dlopen" "$W/gone/libt_dlib.so"
    rm -rf "$W/gone"
    recorded self-contained 0 && reported self-contained end && expect self-contained \
        "$W/self-contained.end.json" lib_site_alloc.allocations=5 lib_site_alloc.live_bytes=300 \
        lib_site_alloc.module~libt_dlib.so main.allocations'>='0 nonneg consistent
    judge "$(python3 - "$W/self-contained.end.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
s = [x for x in d["sites"] if x["function"] == "lib_site_alloc"]
ok = s and all(x.get("file", "").endswith("t_dlib.c") and x.get("line") for x in s)
print("PASS self-contained-lines" if ok else
      f"FAIL self-contained-lines: lib_site_alloc file:line expected t_dlib.c:N got {[(x.get('file'), x.get('line')) for x in s]}")
PYEOF
)"
fi
if want alloc-top; then
    "$HL" report "$W/alloc.heapline" --json --at end --top 3 >"$W/alloc-top.json" 2>"$W/alloc-top.err"
    expect alloc-top "$W/alloc-top.json" sites'<='3 sorted site_valloc.live_bytes=5000 \
        site_realloc_grow.live_bytes=5000 site_malloc.live_bytes=4500 .live_bytes=22038
    expect alloc-sorted "$W/alloc.end.json" sorted
fi

# without the wrapper: LD_PRELOAD and HEAPLINE_RECORD, as the README shows
if want alloc-preload; then
    LD_PRELOAD="$LIB" HEAPLINE_RECORD="$W/alloc-preload.heapline" HEAPLINE_SOCKET=off \
        "$T/t_alloc" >"$W/alloc-preload.log" 2>&1 </dev/null
    RC=$?
    recorded alloc-preload 0 && reported alloc-preload end &&
        expect alloc-preload "$W/alloc-preload.end.json" "${ALLOC_EXPECT[@]}"
fi

# without libdw (the collector loads it when it first names a frame): one line, and tracking
# goes on with the same figures, frames without names. A libdw.so.1 of no functions found
# first through LD_LIBRARY_PATH stands for a missing or broken one
if want alloc-nolibdw; then
    mkdir -p "$W/nolibdw"
    if echo 'int heapline_not_libdw;' | cc -shared -fPIC -x c -o "$W/nolibdw/libdw.so.1" - \
        2>"$W/nolibdw/build.log"; then
        rec alloc-nolibdw LD_LIBRARY_PATH="$W/nolibdw" -- "$T/t_alloc"
        said=$(grep -c '^heapline: libdw.so.1: no dwarf_attr; native frames go without names$' \
            "$W/alloc-nolibdw.log")
        if [ "$said" != 1 ]; then
            fail alloc-nolibdw "said $said times, not once: $(head -3 "$W/alloc-nolibdw.log")"
        elif recorded alloc-nolibdw 0 && reported alloc-nolibdw end; then
            expect alloc-nolibdw "$W/alloc-nolibdw.end.json" .live_bytes=22038 \
                site_malloc.allocations=0 consistent
        fi
    else
        fail alloc-nolibdw "cannot build a stand-in libdw: $(head -2 "$W/nolibdw/build.log")"
    fi
fi

# nowhere to send the data: the collector turns itself off, the program runs unchanged
if want no-output; then
    env -u HEAPLINE_RECORD HEAPLINE_SOCKET=off LD_PRELOAD="$LIB" "$T/t_alloc" >"$W/no-output.log" 2>&1
    rc=$?
    if [ "$rc" = 0 ] && [ "$(wc -l <"$W/no-output.log")" -le 1 ]; then
        pass no-output "exit 0, said: $(head -1 "$W/no-output.log" | cut -c1-80)"
    else
        fail no-output "exit $rc, output: $(head -3 "$W/no-output.log" | tr '\n' ' ')"
    fi
fi

# record exits with the program's status
if want record-status; then
    rec record-status -- sh -c 'exit 3'
    if [ "$RC" = 3 ]; then pass record-status "exit 3 passed through"; else fail record-status "heapline record of 'exit 3' exited $RC"; fi
fi

# report errors: one line on stderr, non-zero, no crash
if want report-errors; then
    printf 'not a recording\n' >"$W/not-a-recording.heapline"
    head -c 9 "$W/alloc.heapline" >"$W/cut-header.heapline" 2>/dev/null || : >"$W/cut-header.heapline"
    bad=""
    for f in "$W/no-such-file.heapline" "$W/not-a-recording.heapline" "$W/cut-header.heapline" "$W"; do
        "$HL" report "$f" --json >"$W/err.out" 2>"$W/err.err"
        rc=$?
        lines=$(wc -l <"$W/err.err")
        if [ "$rc" = 0 ] || [ "$rc" -ge 128 ] || [ "$lines" != 1 ]; then
            bad="$bad; $(basename "$f"): exit $rc, $lines stderr lines"
        fi
    done
    "$HL" report "$W/alloc.heapline" --at banana >/dev/null 2>"$W/err.err"
    rc=$?
    if [ "$rc" = 0 ] || [ "$rc" -ge 128 ]; then bad="$bad; --at banana: exit $rc"; fi
    if [ -n "$bad" ]; then fail report-errors "${bad#; }"; else pass report-errors "missing, not a recording, cut header, a directory, --at banana: one line, non-zero"; fi
fi

# ---- peak: exact even when it lasts microseconds ----
for v in "peak:" "peak-held:1000"; do
    IFS=: read -r name arg <<<"$v"
    want "$name" || continue
    rec "$name" -- "$T/t_peak" $arg
    recorded "$name" 0 || continue
    reported "$name" end && expect "$name@end" "$W/$name.end.json" \
        site_peak_a.allocations=10 site_peak_a.live_blocks=0 site_peak_a.peak_bytes=10485760 \
        site_peak_b.allocations=5 site_peak_b.live_blocks=5 site_peak_b.live_bytes=5242880 \
        site_peak_b.peak_bytes=5242880 .peak_bytes=10485760 .live_bytes=5242880 \
        .allocations=15 .bytes_allocated=15728640 consistent
    reported "$name" peak && expect "$name@peak" "$W/$name.peak.json" \
        site_peak_a.live_blocks=10 site_peak_a.live_bytes=10485760 site_peak_b.live_blocks=0 \
        site_peak_b.live_bytes=0 .live_blocks=10 .live_bytes=10485760
done
# ---- a sampled recording of a one-thread program defers its collector thread (collect.c):
# none of ours while t_peak holds its peak (one task in /proc, two with HEAPLINE_DEFER=off),
# and the recording is whole: the same counts, no frees out of order, ticks that agree ----
# launched_pid PID: the program `timeout ... heapline record -- PROGRAM` started as PID runs
# (timeout's child is heapline, whose child is the program); waits 2 s at most, "" if none
launched_pid() {
    local hp cp
    for _ in $(seq 100); do
        sleep 0.02
        hp=$(pgrep -P "$1")
        cp=$([ -n "$hp" ] && pgrep -P "$hp")
        [ -n "$cp" ] && break
    done
    echo "$cp"
}
if want sample-defer; then
    for mode in defer:on nodefer:off; do
        IFS=: read -r name dv <<<"$mode"
        HEAPLINE_DEFER=$dv timeout "$TMO" "$HL" record --sample 512K -o "$W/$name.heapline" -- \
            "$T/t_peak" 1500 >"$W/$name.log" 2>&1 </dev/null &
        lp=$!
        tasks=
        cp=$(launched_pid "$lp")
        sleep 0.3
        [ -n "$cp" ] && tasks=$(ls "/proc/$cp/task" 2>/dev/null | wc -l)
        wait "$lp"
        RC=$?
        want_tasks=1
        [ "$dv" = off ] && want_tasks=2
        if [ "$tasks" != "$want_tasks" ]; then
            fail "$name-threads" "HEAPLINE_DEFER=$dv: $tasks threads while the peak is held, expected $want_tasks"
        else
            pass "$name-threads" "HEAPLINE_DEFER=$dv: $tasks thread(s) while the program sleeps"
        fi
        # a sampled peak is its highest tick; deferred, a tick is noted at a sample point with
        # the totals from before it: the 10 MiB held while the program sleeps, at the first free
        peak=10485760
        recorded "$name" 0 && reported "$name" end && expect "$name" "$W/$name.end.json" \
            .allocations=15 .frees=10 .bytes_allocated=15728640 .unmatched_frees=0 \
            .missed_events=0 .tick_mismatches=0 site_peak_a.peak_bytes=$peak \
            site_peak_a.live_bytes=0 site_peak_b.live_bytes=5242880 site_peak_b.live_blocks=5
    done
    # killed outright before its thread ran: a recording that says it was cut short, not an
    # empty file that heapline record would call a program that never loaded the collector
    timeout "$TMO" "$HL" record --sample 512K -o "$W/defer-kill.heapline" -- "$T/t_peak" 3000 \
        >"$W/defer-kill.log" 2>&1 </dev/null &
    lp=$!
    cp=$(launched_pid "$lp")
    sleep 0.3
    [ -n "$cp" ] && kill -KILL "$cp"
    wait "$lp"
    out=$("$HL" report "$W/defer-kill.heapline" --json 2>/dev/null |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["complete"], (d["incomplete"] or {}).get("reason"))')
    if [ "$out" = "False truncated" ] && grep -q "killed by signal 9" "$W/defer-kill.log"; then
        pass defer-kill "SIGKILL before the thread ran: complete False, reason truncated"
    else
        fail defer-kill "report says '$out'; heapline record said: $(tail -2 "$W/defer-kill.log" | tr '\n' ' ')"
    fi
    # a fatal signal before the thread ran: the crash handler starts it, and the recording
    # ends with the signal and the blocks allocated until then (t_peak holds 10 MiB by 0.3 s)
    timeout "$TMO" "$HL" record --sample 512K -o "$W/defer-crash.heapline" -- "$T/t_peak" 3000 \
        >"$W/defer-crash.log" 2>&1 </dev/null &
    lp=$!
    cp=$(launched_pid "$lp")
    sleep 0.3
    [ -n "$cp" ] && kill -SEGV "$cp"
    wait "$lp"
    out=$("$HL" report "$W/defer-crash.heapline" --json 2>/dev/null |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["end"], d["end_status"], d["live_bytes"] >= 10485760, d["truncated"])')
    if [ "$out" = "signal 11 True False" ]; then
        pass defer-crash "SIGSEGV before the thread ran: end signal 11, 10 MiB live or more, not truncated"
    else
        fail defer-crash "report says '$out' (expected 'signal 11 True False': end, status, 10 MiB live, truncated); heapline record said: $(tail -2 "$W/defer-crash.log" | tr '\n' ' ')"
    fi
fi
# --at SECONDS: 0.8 s into the 1 s the program holds its peak: the state there is the
# peak's. Measured from the recorded peak time, not from the start: the
# model's state at a time is its last tick's, and a loaded machine delays the
# first ticks while the collector thread reads libc's debug info.
if want peak-held && [ -s "$W/peak-held.peak.json" ]; then
    held=$(python3 -c 'import json,sys; print("%.3f" % (json.load(open(sys.argv[1]))["peak_time"] + 0.8))' \
        "$W/peak-held.peak.json")
    reported peak-held "$held" && expect "peak-held@peak+0.8" "$W/peak-held.$held.json" \
        site_peak_a.live_blocks=10 site_peak_a.live_bytes=10485760 site_peak_b.live_blocks=0 \
        site_peak_a.allocations=10 site_peak_b.allocations=0 .live_bytes=10485760
fi

# ---- C++ new/delete: the site is the caller of operator new ----
if want cxx; then
    rec cxx -- "$T/t_cxx"
    recorded cxx 0 && reported cxx end && expect cxx "$W/cxx.end.json" \
        site_new_obj.allocations=5 site_new_obj.bytes_allocated=240 site_new_obj.live_blocks=3 \
        site_new_obj.live_bytes=144 \
        site_new_array.allocations=3 site_new_array.bytes_allocated=3000 \
        site_new_array.live_blocks=2 site_new_array.live_bytes=2000 \
        site_new_cookie.allocations=2 site_new_cookie.bytes_allocated=176 \
        site_new_cookie.live_blocks=1 site_new_cookie.live_bytes=88 \
        site_new_aligned.allocations=2 site_new_aligned.bytes_allocated=256 \
        site_new_aligned.live_blocks=1 site_new_aligned.live_bytes=128 \
        site_new_nothrow.allocations=1 site_new_nothrow.bytes_allocated=77 \
        site_new_nothrow.live_blocks=1 site_new_nothrow.live_bytes=77 nonneg consistent &&
        compare_valgrind cxx "$W/cxx.end.json" ":" "$T/t_cxx"
fi

# ---- threads ----
if want threads; then
    rec threads -- "$T/t_threads"
    recorded threads 0 && reported threads end && expect threads "$W/threads.end.json" \
        site_thread_alloc.allocations=800000 site_thread_alloc.bytes_allocated=329600000 \
        site_thread_alloc.live_blocks=8000 site_thread_alloc.live_bytes=128000 .frees'>='792000 \
        .unmatched_frees=0 .missed_events=0 nonneg consistent
fi
# ---- a thread renamed while it runs: defined again under its new name, at a tick ----
if want rename; then
    rec rename -- "$T/t_rename"
    if recorded rename 0; then
        out=$("$T/threadnames" "$W/rename.heapline" | tr '\n' '|')
        exp="THREAD 1 main-old|THREAD 1 main-new|THREAD 2 main-new|THREAD 2 second-new|"
        [ "$out" = "$exp" ] && pass rename "$exp" || fail rename "expected '$exp', got '$out'"
    fi
fi

# ticks dated by the drain's watermark: 8 threads keep the collector behind, and a tick
# dated by the clock came before events stamped earlier than it (tests/collector/ticktime.c)
if want tick-order && [ -s "$W/threads.heapline" ]; then
    out=$("$T/ticktime" "$W/threads.heapline")
    case $? in
    0) pass tick-order "$out, none dated before the tick ahead of it" ;;
    *) fail tick-order "$out" ;;
    esac
fi
# a thread stopped inside the hook after reading the clock (t_tickstall.c, 400 stalls of 3 ms,
# a tick every 1 ms): its event is applied after ticks dated past its stamp, and goes out dated
# at the last of them, never before it: 44-93 such events a run here (more under load, when the
# scheduler stops threads there too), not the share a tick dated by the clock would make late
if want tick-stall; then
    rec tick-stall HEAPLINE_TICK_MS=1 HEAPLINE_STATS=1 -- "$T/t_tickstall"
    if recorded tick-stall 0; then
        n=$(sed -n 's/^allocations //p' "$W/tick-stall.log")
        late=$(sed -n 's/.* \([0-9]*\) committed after a tick dated past their stamp.*/\1/p' \
            "$W/tick-stall.log")
        out=$("$T/ticktime" "$W/tick-stall.heapline")
        if [ $? != 0 ]; then
            fail tick-stall "$out"
        elif [ -z "$n" ] || [ -z "$late" ]; then
            fail tick-stall "no allocation count or no stats line: $(tail -2 "$W/tick-stall.log" | tr '\n' ' ')"
        elif [ "$late" -lt 1 ] || [ "$late" -gt $((n / 100)) ]; then
            fail tick-stall "$late events committed after a tick dated past their stamp, expected 1 to 1% of $n"
        else
            pass tick-stall-order "$out; $late of them committed after a tick dated past their stamp, and dated at it"
        fi
        reported tick-stall end && expect tick-stall "$W/tick-stall.end.json" \
            site_stall_alloc.allocations="$n" site_stall_alloc.live_blocks=0 .unmatched_frees=0 \
            .missed_events=0 nonneg consistent
    fi
fi
# ---- sampling mode: exact totals, per-site estimates within 10% (sampled.py). At 4 KiB the
# checked sites hold about 1900 and 2500 intervals (standard error 2.3%, 2%), so 10% is
# more than 4 standard errors: the test does not flake on the draw ----
if want sample; then
    rec sample-exact -- "$T/t_sample"
    rec sample HEAPLINE_SAMPLE=4K -- "$T/t_sample"
    if recorded sample-exact 0 && recorded sample 0 && reported sample-exact end &&
        reported sample end; then
        usable=$(sed -n 's/^usable //p' "$W/sample.log")
        judge "$(python3 "$SRC/sampled.py" sample "$W/sample-exact.end.json" "$W/sample.end.json" \
            4096 "${usable:-0}" site_small site_mixed site_big site_churn site_grow site_thread)"
        # the command-line option sets the same mode, and refuses a bad size with one line
        "$HL" record --sample 512K -o "$W/sample-opt.heapline" -- "$T/t_sample" >"$W/sample-opt.log" 2>&1
        RC=$?
        if recorded sample-opt 0 && reported sample-opt end; then
            judge "$($EXPECT sample-opt "$W/sample-opt.end.json" .sample_rate=524288 \
                .allocations=520071 site_big.live_bytes=6291456 site_big.live_blocks=6)"
        fi
        err=$("$HL" record --sample 100 -o "$W/x.heapline" -- true 2>&1)
        rc=$?
        if [ "$rc" = 2 ] && [ "$err" = "heapline record: --sample 100: expected a size from 1K to 1T (512K, 2M) or off (see heapline record --help)" ]; then
            pass sample-bad-size
        else
            fail sample-bad-size "exit $rc: $err"
        fi
    fi
fi
if want handoff; then
    rec handoff -- "$T/t_handoff"
    recorded handoff 0 && reported handoff end && expect handoff "$W/handoff.end.json" \
        site_handoff.allocations=200000 site_handoff.bytes_allocated=8000000 \
        site_handoff.live_blocks=0 site_handoff.live_bytes=0 .unmatched_frees=0 .missed_events=0 \
        nonneg consistent
fi
if want tls; then
    rec tls -- "$T/t_tls"
    recorded tls 0 && reported tls end && expect tls "$W/tls.end.json" \
        site_tls.allocations=4000 site_tls.bytes_allocated=223808 site_tls.live_blocks=0 \
        site_tls.live_bytes=0 site_tls_after.live_blocks=1 site_tls_after.live_bytes=16 \
        .unmatched_frees=0 nonneg consistent
fi
if want thread-churn; then
    rec thread-churn -- "$T/t_threadchurn"
    recorded thread-churn 0 && reported thread-churn end && expect thread-churn \
        "$W/thread-churn.end.json" site_churn.allocations=20000 site_churn.bytes_allocated=1280000 \
        site_churn.live_blocks=2000 site_churn.live_bytes=128000 .unmatched_frees=0 \
        .missed_events=0 nonneg consistent
fi
if want exit-thread; then
    rec exit-thread -- "$T/t_exit_thread"
    recorded exit-thread 0 && reported exit-thread end && expect exit-thread \
        "$W/exit-thread.end.json" site_spin.allocations'>='1000 site_spin.live_blocks'<='4 nonneg consistent
fi

# ---- fork: the child records to FILE.<pid>, the parent is unaffected ----
FORK_PARENT=(site_parent_before.allocations=2 site_parent_before.live_blocks=2
    site_parent_before.live_bytes=2000 site_parent_after.allocations=4
    site_parent_after.live_blocks=4 site_parent_after.live_bytes=1000 site_child! nonneg consistent)
if want fork; then
    rec fork -- "$T/t_fork" "$W/fork.childpid"
    if recorded fork 0; then
        reported fork end && expect fork-parent "$W/fork.end.json" "${FORK_PARENT[@]}"
        cpid=$(cat "$W/fork.childpid" 2>/dev/null)
        if [ -z "$cpid" ]; then
            fail fork-child "the target did not write its child's pid"
        elif [ ! -s "$W/fork.heapline.$cpid" ]; then
            fail fork-child "no child recording at fork.heapline.$cpid (files: $(cd "$W" && echo fork.heapline*))"
        else
            reported fork-child end "$W/fork.heapline.$cpid" && expect fork-child \
                "$W/fork-child.end.json" site_child.allocations=3 site_child.live_blocks=3 \
                site_child.live_bytes=1500 site_parent_before! site_parent_after! nonneg consistent
            # record says where the child's recording went, and what it ran
            want_line="heapline: 1 child process recorded too: $W/fork.heapline.$cpid (t_fork)"
            if grep -qxF "$want_line" "$W/fork.log"; then
                pass fork-told "$want_line"
            else
                fail fork-told "record did not say: $want_line (it said: $(tail -2 "$W/fork.log"))"
            fi
            # recorded again into the same file, within the same second or not: the earlier run's
            # child recording is said to be left, not counted as this run's; a file that is not a
            # recording, a link to a recording and a FIFO beside it are neither named nor touched
            echo "not a recording" >"$W/fork.heapline.999998"
            ln -s "fork.heapline.$cpid" "$W/fork.heapline.999999"
            mkfifo "$W/fork.heapline.999997"
            rec fork -- "$T/t_fork" "$W/fork-again.childpid"
            cpid2=$(cat "$W/fork-again.childpid" 2>/dev/null)
            want_new="heapline: 1 child process recorded too: $W/fork.heapline.$cpid2 (t_fork)"
            want_old="heapline: 1 child recording of an earlier run left as it was: $W/fork.heapline.$cpid"
            if [ "$RC" != 0 ] || [ -z "$cpid2" ]; then
                fail fork-again "the second record exited $RC (child pid '$cpid2')"
            elif [ "$(grep '^heapline: ' "$W/fork.log")" != "$want_new"$'\n'"$want_old" ]; then
                fail fork-again "record did not say '$want_new' then '$want_old' alone: $(grep '^heapline: ' "$W/fork.log" | tr '\n' '|')"
            elif [ "$(cat "$W/fork.heapline.999998")" != "not a recording" ] ||
                [ "$(readlink "$W/fork.heapline.999999")" != "fork.heapline.$cpid" ] ||
                [ ! -p "$W/fork.heapline.999997" ] || [ ! -s "$W/fork.heapline.$cpid" ]; then
                fail fork-again "a file beside the recording changed: $(cd "$W" && ls -l fork.heapline.* | tr '\n' '|')"
            else
                pass fork-again "$want_old"
            fi
        fi
    fi
    rec fork-off HEAPLINE_FORK=off -- "$T/t_fork" "$W/fork-off.childpid"
    if recorded fork-off 0; then
        reported fork-off end && expect fork-off-parent "$W/fork-off.end.json" "${FORK_PARENT[@]}"
        extra=$(cd "$W" && ls fork-off.heapline.* 2>/dev/null)
        if [ -n "$extra" ]; then
            fail fork-off-child "HEAPLINE_FORK=off, yet a child recording exists: $extra"
        else
            pass fork-off-child "no child recording"
        fi
    fi
fi

# ---- eight busy threads and an exact record: the events the collector holds and has not
# applied yet (backlogs, stage) are bounded for the whole program, not by thread (the bound
# by thread let this run hold 206 MB, and the program's RSS grew by as much) ----
if want backlog-threads; then
    cc -O2 -g -pthread "$PWD/tests/attach/busy.c" -o "$T/busy"
    HEAPLINE_STATS=1 timeout "$TMO" "$HL" record --exact -o "$W/backlog.heapline" -- "$T/busy" 8 200 \
        >"$W/backlog.out" 2>"$W/backlog.log" </dev/null &
    rpid=$!
    for _ in $(seq 1 400); do grep -q '^ready ' "$W/backlog.out" 2>/dev/null && break; sleep 0.05; done
    sleep 2
    kill -TERM "$(awk '/^ready /{print $2}' "$W/backlog.out")" 2>/dev/null
    wait $rpid
    RC=$?
    held=$(sed -n 's/.*events waiting to be applied held at most \([0-9]*\) bytes.*/\1/p' \
        "$W/backlog.log" | head -1)
    if [ "$RC" != 0 ] || [ -z "$held" ]; then
        fail backlog-threads "record exited $RC: $(tail -3 "$W/backlog.log" | tr '\n' ' ')"
    elif [ "$held" -gt $((96 << 20)) ]; then
        fail backlog-threads "8 threads: events waiting held $held bytes, more than 96 MiB"
    else
        pass backlog-threads "8 busy threads: events waiting held at most $held bytes"
    fi
fi

# ---- a teardown faster than the collector: its ring's events go to an unnamed file beside the
# record file (spill.h) rather than making the program wait or growing its memory, and come back
# in order: the same figures; on tmpfs there is no such file (its pages would be memory), nor
# while the threads making events take every CPU; with no record file, or one on tmpfs, the file
# goes in the socket's directory, or the next of heapline's socket directories off tmpfs ----
if want spill; then
    rec spill HEAPLINE_STATS=1 -- "$T/t_teardown"
    if recorded spill 0; then
        n=$(sed -n 's/.* \([0-9]*\) events spilled to a file.*/\1/p' "$W/spill.log" | head -1)
        back=$(sed -n 's/.* \([0-9]*\) read back).*/\1/p' "$W/spill.log" | head -1)
        reported spill end && expect spill "$W/spill.end.json" site_many.allocations=1500000 \
            site_many.live_blocks=0 site_after.allocations=1000 site_after.live_blocks=1000 \
            site_after.live_bytes=100000 nonneg consistent
        if [ "$(nproc)" -lt 2 ]; then
            skip spill-file "one CPU: the thread leaves none to the collector, which spills nothing then"
        elif [ -z "$n" ]; then
            fail spill-file "no spill figures in HEAPLINE_STATS: $(grep drain "$W/spill.log")"
        elif [ "$n" -gt 0 ] && [ "$n" = "$back" ]; then
            pass spill-file "$n events went through the file and all came back"
        else
            fail spill-file "$n events spilled, ${back:-?} read back: $(grep drain "$W/spill.log")"
        fi
    fi
    shm=/dev/shm/heapline-spill-$$.heapline
    if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
        # every directory the file may use on tmpfs: the record file's, and the only socket
        # directory (HEAPLINE_SOCKET_DIR excludes the other candidates)
        rm -rf "$shm.dir"
        HEAPLINE_STATS=1 HEAPLINE_SOCKET=off HEAPLINE_SOCKET_DIR="$shm.dir" timeout "$TMO" \
            "$HL" record -o "$shm" -- "$T/t_teardown" >"$W/spill-shm.log" 2>&1 </dev/null
        RC=$?
        if [ "$RC" != 0 ] || [ ! -s "$shm" ]; then
            fail spill-shm "heapline record exited $RC: $(tail -3 "$W/spill-shm.log" | tr '\n' ' ')"
        elif ! grep -q ' 0 events spilled to a file (.*spilling off: every directory it may use is on tmpfs' \
            "$W/spill-shm.log"; then
            fail spill-shm "spilled on tmpfs: $(grep drain "$W/spill-shm.log")"
        else
            reported spill-shm end "$shm" && expect spill-shm "$W/spill-shm.end.json" \
                site_many.allocations=1500000 site_many.live_blocks=0 site_after.live_blocks=1000 \
                site_after.live_bytes=100000 nonneg consistent
        fi
        rm -rf "$shm" "$shm.dir"
    else
        skip spill-shm "/dev/shm is not a writable tmpfs here"
    fi
    # spill_events LOG: "N BACK WHERE" from the drain line of HEAPLINE_STATS
    spill_events() {
        sed -n 's/.* \([0-9]*\) events spilled to a file \?\(.*\) (at most .* MB held, \([0-9]*\) read back).*/\1 \3 \2/p' "$1" | head -1
    }
    # spill_check NAME LOG WHERE: PASS when events went through the file WHERE and all came back
    spill_check() {
        read -r n back where <<<"$(spill_events "$2")"
        if [ "${n:-0}" -gt 0 ] && [ "$n" = "$back" ] && [ "$where" = "$3" ]; then
            pass "$1" "$n events went through a file $where and came back"
        else
            fail "$1" "spilled ${n:-?}, read back ${back:-?}, ${where:-nowhere} (expected $3): $(grep drain "$2")"
        fi
    }
    sd=$W/spill-sockdir
    rm -rf "$sd" && mkdir -m 700 "$sd"
    if [ "$(nproc)" -lt 2 ]; then
        skip spill-sock "one CPU: the collector spills nothing then"
    elif [ "$(stat -f -c %T "$sd")" = tmpfs ]; then
        skip spill-sock "$sd is on tmpfs"
    else
        # no record file: the socket's directory holds the file
        timeout "$TMO" env -u HEAPLINE_RECORD LD_PRELOAD="$LIB" HEAPLINE_SOCKET_DIR="$sd" \
            HEAPLINE_STATS=1 "$T/t_teardown" >"$W/spill-sock.log" 2>&1 </dev/null
        RC=$?
        if [ "$RC" != 0 ]; then
            fail spill-sock "exited $RC: $(tail -3 "$W/spill-sock.log" | tr '\n' ' ')"
        else
            spill_check spill-sock "$W/spill-sock.log" "in $sd"
        fi
        # the socket's directory on tmpfs too ($XDG_RUNTIME_DIR/heapline, as on a systemd login):
        # the next of heapline's socket directories off tmpfs, /tmp/heapline-<uid> or
        # $HOME/.cache/heapline
        if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
            xdg=/dev/shm/heapline-xdg-$$
            rm -rf "$xdg" "$W/spill-home" && mkdir -m 700 "$xdg" "$W/spill-home"
            want_dir=/tmp/heapline-$(id -u)
            # sockdir.h refuses a directory that is a symlink, someone else's, or open to
            # writes by group or others
            if [ "$(stat -f -c %T /tmp)" = tmpfs ] || [ -L "$want_dir" ] ||
                { [ -e "$want_dir" ] && { [ "$(stat -c %u "$want_dir")" != "$(id -u)" ] ||
                    [ $((0$(stat -c %a "$want_dir") & 022)) != 0 ]; }; }; then
                want_dir=$W/spill-home/.cache/heapline
            fi
            timeout "$TMO" env -u HEAPLINE_RECORD -u HEAPLINE_SOCKET_DIR LD_PRELOAD="$LIB" \
                XDG_RUNTIME_DIR="$xdg" HOME="$W/spill-home" HEAPLINE_STATS=1 "$T/t_teardown" \
                >"$W/spill-xdg.log" 2>&1 </dev/null
            RC=$?
            if [ "$RC" != 0 ]; then
                fail spill-xdg "exited $RC: $(tail -3 "$W/spill-xdg.log" | tr '\n' ' ')"
            else
                spill_check spill-xdg "$W/spill-xdg.log" "in $want_dir"
            fi
            rm -rf "$xdg" "$W/spill-home"
        else
            skip spill-xdg "/dev/shm is not a writable tmpfs here"
        fi
        # a record file on tmpfs: the socket's directory holds the file, and the figures are exact
        if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
            HEAPLINE_STATS=1 HEAPLINE_SOCKET_DIR="$sd" timeout "$TMO" "$HL" record -o "$shm" -- \
                "$T/t_teardown" >"$W/spill-shm-sock.log" 2>&1 </dev/null
            RC=$?
            read -r n back where <<<"$(spill_events "$W/spill-shm-sock.log")"
            if [ "$RC" != 0 ] || [ ! -s "$shm" ]; then
                fail spill-shm-sock "heapline record exited $RC: $(tail -3 "$W/spill-shm-sock.log" | tr '\n' ' ')"
            elif ! [ "${n:-0}" -gt 0 ] || [ "$n" != "$back" ] || [ "$where" != "in $sd" ]; then
                fail spill-shm-sock "spilled ${n:-?}, read back ${back:-?}, ${where:-nowhere}: $(grep drain "$W/spill-shm-sock.log")"
            else
                reported spill-shm-sock end "$shm" && expect spill-shm-sock "$W/spill-shm-sock.end.json" \
                    site_many.allocations=1500000 site_many.live_blocks=0 site_after.live_blocks=1000 \
                    site_after.live_bytes=100000 nonneg consistent
            fi
            rm -f "$shm"
        fi
    fi
    rm -rf "$sd"
fi

# ---- forks of a busy program: the collector's copies of events it has not applied (its stage
# and backlogs) are not inherited, and each child's own collector starts clean without them ----
if want fork-busy; then
    rec fork-busy HEAPLINE_STATS=1 -- "$T/t_forkbusy" "$W/fork-busy.pids"
    if recorded fork-busy 0; then
        work=$(sed -n 's/^work //p' "$W/fork-busy.pids" 2>/dev/null)
        held=$(sed -n 's/.*events waiting to be applied held at most \([0-9]*\) bytes.*/\1/p' \
            "$W/fork-busy.log" | head -1)
        if [ -z "$work" ]; then
            fail fork-busy "the target did not write its figures"
        else
            reported fork-busy end && expect fork-busy "$W/fork-busy.end.json" \
                site_work.allocations="$work" site_work.live_blocks=0 site_child! site_churn! \
                nonneg consistent
            n=0
            for cpid in $(grep -v '^work' "$W/fork-busy.pids"); do
                n=$((n + 1))
                f="$W/fork-busy.heapline.$cpid"
                if [ ! -s "$f" ]; then
                    fail fork-busy-child "no recording of child $n at $f"
                    continue
                fi
                reported fork-busy-$n end "$f" && expect fork-busy-child-$n \
                    "$W/fork-busy-$n.end.json" site_child.allocations=3 site_child.live_blocks=3 \
                    site_child.live_bytes=1500 site_churn.allocations=100000 \
                    site_churn.live_blocks=0 site_work! nonneg consistent
            done
            if [ "$n" = 6 ]; then
                pass fork-busy-children "6 children recorded (events waiting held at most ${held:-?} B)"
            else
                fail fork-busy-children "$n children of 6 listed"
            fi
        fi
    fi
fi

# ---- many forks: bash command substitutions (forked children that allocate and exec) ----
# forks while the collector thread starts (it compiles the unwind rules the first walks ask for
# inside dl_iterate_phdr): no child may be left stuck on glibc's lock (about 1 run in 7 had one
# before fork() waited for the collector to leave dl_iterate_phdr); 8 runs
if want fork-early; then
    bad=""
    for i in $(seq 8); do
        rm -f "$W"/fork-early.heapline*
        rec fork-early -- "$T/t_forkearly"
        out=$(grep -v '^heapline:' "$W/fork-early.log" | head -1)
        case $out in
        *" children, 0 stuck") ;;
        *) bad="$bad; run $i: exit $RC, printed '$out'" ;;
        esac
    done
    rm -f "$W"/fork-early.heapline*
    if [ -n "$bad" ]; then fail fork-early "${bad#; }"; else pass fork-early "8 runs, no child stuck"; fi
fi

# forks while two threads keep walking stacks through libunwind (frames of code with no
# module, as a JIT's, so libunwind looks each one up with dl_iterate_phdr): no child may be
# left stuck on glibc's lock (8 runs of 8 had one before fork() held the program's threads
# out of libunwind's walk); 8 runs
if want fork-walk; then
    if [ "$(uname -m)" != x86_64 ]; then
        skip fork-walk "t_forkwalk writes x86-64 code"
    else
        bad=""
        kids=0
        for i in $(seq 8); do
            rm -f "$W"/fork-walk.heapline*
            rec fork-walk -- "$T/t_forkwalk"
            out=$(grep -v '^heapline:' "$W/fork-walk.log" | head -1)
            case $out in
            "0 children"*) bad="$bad; run $i: no fork made" ;;
            *" children, 0 stuck, "*) kids=$((kids + ${out%% *})) ;;
            *) bad="$bad; run $i: exit $RC, printed '$out'" ;;
            esac
        done
        rm -f "$W"/fork-walk.heapline*
        if [ -n "$bad" ]; then
            fail fork-walk "${bad#; }"
        else
            pass fork-walk "8 runs, $kids children, none stuck"
        fi
    fi
fi

if want fork-storm; then
    cp "$SRC/t_forks.sh" "$T/t_forks.sh"
    bad=""
    for i in $(seq 4); do
        rm -f "$W"/fork-storm.heapline*
        rec fork-storm -- "$T/t_forks.sh"
        out=$(head -1 "$W/fork-storm.log")
        n=$(cd "$W" && ls fork-storm.heapline.* 2>/dev/null | wc -l)
        if [ "$RC" != 0 ] || [ "$out" != 142 ]; then
            bad="$bad; run $i: exit $RC, printed '$out' (expected 0, '142'), $n child recordings"
        fi
    done
    if [ -n "$bad" ]; then fail fork-storm "${bad#; }"; else pass fork-storm "4 runs, exit 0, output unchanged"; fi
fi

# ---- exec: a wrapper script execs the real program ----
if want exec; then
    rec exec -- "$T/t_exec_wrapper.sh"
    recorded exec 0 && reported exec end && expect exec "$W/exec.end.json" \
        site_execd.allocations=6 site_execd.bytes_allocated=24576 site_execd.live_blocks=4 \
        site_execd.live_bytes=16384 nonneg
    # env(1) execs the program: the recording is the exec'd program's alone, totals included
    rec exec-env -- env HEAPLINE_TEST=1 "$T/t_alloc"
    recorded exec-env 0 && reported exec-env end && expect exec-env "$W/exec-env.end.json" "${ALLOC_EXPECT[@]}"
fi

# ---- dlopen'd library, dlclose'd before exit ----
if want dlopen; then
    rec dlopen -- "$T/t_dlopen" "$T/libt_dlib.so"
    recorded dlopen 0 && reported dlopen end && expect dlopen "$W/dlopen.end.json" \
        lib_site_alloc.allocations=5 lib_site_alloc.bytes_allocated=500 \
        lib_site_alloc.live_blocks=3 lib_site_alloc.live_bytes=300 \
        lib_site_alloc.module~libt_dlib.so lib_site_ctor.allocations=1 \
        lib_site_ctor.live_bytes=55 lib_site_ctor.module~libt_dlib.so nonneg consistent
fi

# two recordings of t_dlopen side by side, 20 rounds: a library dlopen()ed just past libdw's
# pages, after the collector had reported libdw, got its frames named libdw-0.188.so+0xae16f
# (1 run in 20 this way; the Dwfl kept a range past libdw's end): the loader's word decides
# now (symbols.c, loader_agrees)
if want dlopen-beside; then
    bad=""
    for i in $(seq 1 20); do
        for k in a b; do
            timeout "$TMO" "$HL" record -o "$W/dlb-$k.heapline" -- "$T/t_dlopen" "$T/libt_dlib.so" \
                >/dev/null 2>&1 </dev/null &
        done
        wait
        for k in a b; do
            "$HL" report "$W/dlb-$k.heapline" --json 2>/dev/null |
                python3 -c 'import json,sys; d=json.load(sys.stdin); s=[x for x in d["sites"] if x["function"]=="lib_site_alloc" and "libt_dlib.so" in (x.get("module") or "")]; sys.exit(0 if s and s[0]["allocations"]==5 else 1)' ||
                bad="$bad $i$k"
        done
    done
    if [ -n "$bad" ]; then fail dlopen-beside "lib_site_alloc not named in runs$bad of 40"; else pass dlopen-beside "40 recordings, two at a time: lib_site_alloc named in libt_dlib.so in each"; fi
fi

# ---- constructors before main (the executable's and a linked library's) ----
if want ctor; then
    rec ctor -- "$T/t_ctor"
    recorded ctor 0 && reported ctor end && expect ctor "$W/ctor.end.json" \
        ctor_site_early.allocations=2 ctor_site_early.live_bytes=128 \
        ctor_site.allocations=7 ctor_site.live_blocks=7 ctor_site.live_bytes=861 \
        ctorlib_site.allocations=3 ctorlib_site.live_bytes=963 ctorlib_site.module~libt_ctorlib.so \
        main_site.allocations=1 main_site.live_bytes=10 nonneg consistent
fi

# ---- system(3), posix_spawn(3): vfork-style children do not disturb the parent ----
if want spawn; then
    rec spawn -- "$T/t_spawn"
    recorded spawn 0 && reported spawn end && expect spawn "$W/spawn.end.json" \
        site_spawn_before.allocations=5 site_spawn_before.live_bytes=500 \
        site_spawn_between.allocations=5 site_spawn_between.live_bytes=1000 \
        site_spawn_after.allocations=5 site_spawn_after.live_bytes=1500 nonneg consistent
fi

# ---- the environment: the same lines bare and under heapline, in the program and in its
# fork+exec, posix_spawn and system children, which are still recorded ----
if want environ; then
    # a fixed environment (no '_' from the shell), with a preload of the user's own
    ENVB=(env -i PATH="$PATH" HOME="$W" LANG=C T_VAR="a b" LD_PRELOAD=libm.so.6)
    "${ENVB[@]}" "$T/t_environ" >"$W/environ.bare" 2>&1
    "${ENVB[@]}" "$T/t_environ" >"$W/environ.bare2" 2>&1
    rm -f "$W"/environ.heapline*
    "${ENVB[@]}" timeout "$TMO" "$HL" record -o "$W/environ.heapline" -- "$T/t_environ" \
        >"$W/environ.under" 2>"$W/environ.log" </dev/null
    RC=$?
    if [ "$RC" != 0 ]; then
        fail environ "record exited $RC: $(tail -2 "$W/environ.log")"
    elif ! grep -qx 'system: T_VAR=a b' "$W/environ.bare" || ! cmp -s "$W/environ.bare" "$W/environ.bare2"; then
        fail environ "the bare run is not what the test expects: $(head -3 "$W/environ.bare")"
    elif ! diff "$W/environ.bare" "$W/environ.under" >"$W/environ.diff"; then
        fail environ "the environment differs under heapline: $(head -6 "$W/environ.diff" | tr '\n' ' ')"
    else
        pass environ "$(wc -l <"$W/environ.bare") lines the same, main and its exec, spawn and system children"
    fi
    n=0
    for f in "$W"/environ.heapline.*; do
        [ -s "$f" ] || continue
        reported environ-child end "$f" && $EXPECT environ-child "$W/environ-child.end.json" \
            site_environ.allocations=1 site_environ.live_bytes=77 >/dev/null && n=$((n + 1))
    done
    if [ "$n" = 3 ]; then
        pass environ-children "3 child recordings, each with site_environ 1 x 77"
    else
        fail environ-children "$n child recordings with site_environ 1 x 77 (expected 3: $(cd "$W" && echo environ.heapline.*))"
    fi
    # HEAPLINE_FORK=off: the same lines, and no child recorded
    rm -f "$W"/environ-off.heapline*
    "${ENVB[@]}" HEAPLINE_FORK=off timeout "$TMO" "$HL" record -o "$W/environ-off.heapline" -- \
        "$T/t_environ" >"$W/environ-off.under" 2>"$W/environ-off.log" </dev/null
    extra=$(cd "$W" && ls environ-off.heapline.* 2>/dev/null)
    if ! diff -q "$W/environ.bare" "$W/environ-off.under" >/dev/null; then
        fail environ-fork-off "the environment differs under HEAPLINE_FORK=off: $(diff "$W/environ.bare" "$W/environ-off.under" | head -4 | tr '\n' ' ')"
    elif [ -n "$extra" ]; then
        fail environ-fork-off "HEAPLINE_FORK=off, yet child recordings exist: $extra"
    else
        pass environ-fork-off "the same lines, no child recorded"
    fi
fi

# ---- the collector's own zstd and msgpack-c ----
# Taken from their archives when those link into a shared object (Makefile: COLL_AR_LIBS; the
# link's complaint is in $BUILD/libheapline.ar.log when they did not), their names kept local:
# a program with a libzstd of its own still calls that one, and is recorded exactly.
if want own-zstd; then
    rec own-zstd -- "$T/t_ownzstd"
    if recorded own-zstd 0 && reported own-zstd end; then
        if ! grep -qx 'ZSTD_compress from libzstd.so.1' "$W/own-zstd.log"; then
            fail own-zstd "the program's ZSTD_compress is not its libzstd.so.1: $(head -2 "$W/own-zstd.log" | tr '\n' ' ')"
        else
            expect own-zstd "$W/own-zstd.end.json" site_own.allocations=10 site_own.live_blocks=5 \
                site_own.live_bytes=20480
        fi
    fi
    defined=$(nm -D --defined-only "$LIB" | awk '$3 ~ /^(ZSTD_|ZDICT_|ZSTDv|msgpack_)/ { print $3 }' |
        head -3 | tr '\n' ' ')
    needed=$(readelf -d "$LIB" | grep -Eo 'lib(zstd|msgpackc)\.so[.0-9]*' | tr '\n' ' ')
    ars=""
    for a in libzstd.a libmsgpackc.a; do [ -f "$(cc -print-file-name=$a)" ] && ars="$ars $a"; done
    if [ -n "$defined" ]; then
        fail own-zstd-local "libheapline.so exports the names of its zstd or msgpack-c: $defined"
    elif [ -z "$ars" ]; then
        skip own-zstd-archives "neither libzstd.a nor libmsgpackc.a is installed: the shared libraries are used"
    elif [ -s "$BUILD/libheapline.ar.log" ]; then
        skip own-zstd-archives "${ars# } did not link into a shared object: $(head -1 "$BUILD/libheapline.ar.log")"
    elif [ -n "$needed" ]; then
        fail own-zstd-archives "${ars# } installed and linked, yet libheapline.so needs ${needed% }"
    else
        pass own-zstd-archives "no libzstd or libmsgpackc needed (${ars# } linked in), no zstd or msgpack name exported"
    fi
fi

# ---- blocks from mmap, realloc through mremap ----
if want big; then
    rec big -- "$T/t_big"
    recorded big 0 && reported big end && expect big "$W/big.end.json" \
        site_big_malloc.allocations=1 site_big_malloc.bytes_allocated=209715200 \
        site_big_malloc.live_blocks=0 site_big_malloc.peak_bytes=209715200 \
        site_big_calloc.live_blocks=1 site_big_calloc.live_bytes=67108864 \
        site_big_src.allocations=1 site_big_src.live_blocks=0 \
        site_big_grow.allocations=1 site_big_grow.bytes_allocated=3145728 site_big_grow.live_blocks=0 \
        site_big_shrink.allocations=1 site_big_shrink.live_blocks=1 site_big_shrink.live_bytes=100 \
        .peak_bytes=209715200 .live_bytes=67108964 .allocations=5 consistent
fi
# the program's big blocks are placed as without heapline: no free of the collector's
# own moves glibc's mmap threshold (tests/collector/t_mmapthr.c), in either mode
if want mmap-threshold; then
    bare=$("$T/t_mmapthr" 2>&1)
    for mode in exact 512K 4K; do
        rec "mmap-threshold-$mode" HEAPLINE_SAMPLE="${mode/exact/off}" -- "$T/t_mmapthr"
        got=$(head -1 "$W/mmap-threshold-$mode.log")
        if [ "$RC" != 0 ]; then
            fail "mmap-threshold-$mode" "heapline record exited $RC: $(tail -2 "$W/mmap-threshold-$mode.log" | tr '\n' ' ')"
        elif [ "$bare" = "mmapped mmapped" ] && [ "$got" = "$bare" ]; then
            pass "mmap-threshold-$mode" "200000 and 250000 bytes: $got, as bare"
        else
            fail "mmap-threshold-$mode" "bare: $bare, under heapline: $got (expected mmapped mmapped)"
        fi
    done
fi

# ---- a program that closes every descriptor it did not open, then opens its own ----
if want closefds; then
    rec closefds -- "$T/t_closefds" "$W/closefds.out"
    if recorded closefds 0; then
        got=$(od -c "$W/closefds.out" 2>/dev/null | head -3 | tr -s ' ' | tr '\n' ' ')
        if [ "$(cat "$W/closefds.out" 2>/dev/null)" != "$(printf 'hello\nbye')" ]; then
            fail closefds-file "the program's own file was changed: $got"
        else
            pass closefds-file "the program's file holds exactly its own bytes"
        fi
        reported closefds end && expect closefds "$W/closefds.end.json" \
            site_daemon.allocations=10 site_daemon.live_blocks=6 site_daemon.live_bytes=6000 nonneg
    fi
fi

# ---- a script that opens its own descriptors 3-6 (exec 3>file), as scripts do ----
if want script-fds; then
    cp "$SRC/t_fds.sh" "$T/t_fds.sh"
    rm -f "$W"/fds.out.*
    rec script-fds -- "$T/t_fds.sh" "$W/fds.out"
    if recorded script-fds 0; then
        bad=""
        for fd in 3 4 5 6; do
            want_txt=$(printf 'hello %s\nbye %s 10893' "$fd" "$fd")
            if [ "$(tr -d '\000' <"$W/fds.out.$fd" 2>/dev/null)" != "$want_txt" ] ||
                [ "$(wc -c <"$W/fds.out.$fd" 2>/dev/null)" != "$((${#want_txt} + 1))" ]; then
                bad="$bad; fd $fd: $(wc -c <"$W/fds.out.$fd" 2>/dev/null) bytes, starting $(od -An -c "$W/fds.out.$fd" 2>/dev/null | head -2 | tr -s ' ' | tr '\n' ' ' | cut -c1-60)"
            fi
        done
        if [ -n "$bad" ]; then
            fail script-fds "the script's own files were changed (expected 'hello N\\nbye N 10893'):${bad#;}"
        else
            pass script-fds "files on descriptors 3-6 hold exactly the script's lines"
        fi
        grep -q "write failed" "$W/script-fds.log" &&
            fail script-fds-recording "$(grep -m1 "write failed" "$W/script-fds.log")"
    fi
fi

# ---- memory freed on the way out (atexit handlers, destructors) is not leaked ----
if want atexit; then
    rec atexit -- "$T/t_atexit"
    recorded atexit 0 && reported atexit end && expect atexit "$W/atexit.end.json" \
        site_atexit_early.allocations=1 site_atexit_early.live_blocks=0 \
        site_atexit_main.allocations=1 site_atexit_main.live_blocks=0 \
        site_dtor.allocations=1 site_dtor.live_blocks=0 site_leak.live_blocks=1 \
        site_leak.live_bytes=77 .live_bytes=77 .leaked_bytes=77 .leaked_blocks=1 consistent
fi

# ---- a program's own SIGSEGV/SIGABRT handlers still run (and recover) ----
for v in "sighandler:late" "sighandler-early:early"; do
    IFS=: read -r name arg <<<"$v"
    want "$name" || continue
    rec "$name" -- "$T/t_sighandler" "$arg"
    recorded "$name" 0 && reported "$name" end && expect "$name" "$W/$name.end.json" \
        site_sig_before.allocations=3 site_sig_before.live_bytes=30 \
        site_sig_after.allocations=4 site_sig_after.live_bytes=80 nonneg consistent
done

# ---- a program that dies: SIGKILL, abort, SIGSEGV ----
for v in "kill:KILL:137" "abort:abort:134" "segv:segv:139"; do
    IFS=: read -r name how code <<<"$v"
    want "$name" || continue
    rm -f "$W/$name.pid"
    mode=$how
    [ "$how" = KILL ] && mode=""
    timeout "$TMO" "$HL" record -o "$W/$name.heapline" -- "$T/t_kill" "$W/$name.pid" $mode \
        >"$W/$name.log" 2>&1 </dev/null &
    rpid=$!
    for _ in $(seq 100); do [ -s "$W/$name.pid" ] && break; sleep 0.1; done
    if [ ! -s "$W/$name.pid" ]; then
        kill "$rpid" 2>/dev/null
        wait "$rpid"
        fail "$name" "the target never started: $(tail -3 "$W/$name.log" | tr '\n' ' ')"
        continue
    fi
    if [ "$how" = KILL ]; then
        sleep 1 # the collector had a second to write what it knew
        kill -KILL "$(cat "$W/$name.pid")"
    fi
    wait "$rpid"
    RC=$?
    recorded "$name" "$code" || continue
    "$HL" report "$W/$name.heapline" >"$W/$name.txt" 2>&1
    trc=$?
    sig=$((code - 128))
    # SIGKILL: the file stops mid-stream, the report says so. abort/SIGSEGV: the collector may
    # end the recording itself (the report names the signal) or leave it truncated.
    if [ "$trc" != 0 ]; then
        fail "$name-report" "heapline report exited $trc: $(head -3 "$W/$name.txt" | tr '\n' ' ')"
    elif grep -qi truncat "$W/$name.txt"; then
        pass "$name-report" "exit 0, $(grep -i -m1 truncat "$W/$name.txt" | sed 's/^heapline: [^:]*: //' | cut -c1-70)"
    elif [ "$how" != KILL ] && grep -qi "signal $sig" "$W/$name.txt"; then
        pass "$name-report" "exit 0, complete: $(grep -i -m1 "signal $sig" "$W/$name.txt" | sed 's/  */ /g')"
    else
        fail "$name-report" "neither a 'truncated' note nor 'signal $sig' in the text report: $(head -2 "$W/$name.txt" | tr '\n' ' ')"
    fi
    reported "$name" end && expect "$name" "$W/$name.end.json" site_kill.allocations=1000 \
        site_kill.live_blocks=1000 site_kill.live_bytes=64000 nonneg
done

# ---- the record file lags the program by about a tick, under any load ----
# eight threads allocate flat out; SIGKILL 1 s after they all run: the recording
# must already hold their events (it stayed at the program's HELLO for 1-3 s)
if want lag; then
    rm -f "$W/lag.pid"
    timeout "$TMO" "$HL" record -o "$W/lag.heapline" -- "$T/t_busy" "$W/lag.pid" \
        >"$W/lag.log" 2>&1 </dev/null &
    rpid=$!
    for _ in $(seq 100); do [ -s "$W/lag.pid" ] && break; sleep 0.1; done
    if [ ! -s "$W/lag.pid" ]; then
        kill "$rpid" 2>/dev/null
        fail lag "the target never started: $(tail -3 "$W/lag.log" | tr '\n' ' ')"
    else
        sleep 1
        kill -KILL "$(cat "$W/lag.pid")"
        wait "$rpid"
        size=$(stat -c %s "$W/lag.heapline")
        "$HL" report "$W/lag.heapline" --json >"$W/lag.json" 2>"$W/lag.err"
        judge "$(python3 - "$W/lag.json" "$size" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError:
    print(f"FAIL lag: no readable report of the {sys.argv[2]}-byte recording"); sys.exit()
busy = [s for s in d["sites"] if s["function"] == "site_busy"]
n = busy[0]["allocations"] if busy else 0
if n >= 1000 and d["complete"] is False and d["incomplete"]["reason"] in ("truncated", "no_end"):
    print(f"PASS lag: killed 1 s in: {n} site_busy allocations in the {sys.argv[2]}-byte file, reported incomplete ({d['incomplete']['reason']})")
else:
    print(f"FAIL lag: killed 1 s in: {n} site_busy allocations (expected >= 1000) in the {sys.argv[2]}-byte file; complete {d.get('complete')}")
PY
)"
    fi
fi

# ---- the record file cannot grow: the file size limit, a full disk ----
# the program runs on unharmed; the recording ends cleanly at its last flush with the
# reason (file, error), and the report calls it incomplete, not "the program died"
# full_check NAME FILE LOG REASON ERROR LIMIT: judge the recording and what was said
full_check() {
    judge "$(python3 - "$@" "$HL" <<'PY'
import json, os, subprocess, sys
name, path, log, reason, error, limit, hl = sys.argv[1:8]
errs = []
said = [l for l in open(log).read().splitlines() if "write failed" in l]
if len(said) != 1 or path not in said[0] or error not in said[0]:
    errs.append(f"the program's stderr should name {path} and '{error}' once: {said}")
size = os.path.getsize(path)
if int(limit) and size > int(limit):
    errs.append(f"the file is {size} bytes, over the {limit}-byte limit")
r = subprocess.run([hl, "report", path, "--json"], capture_output=True, text=True)
try:
    d = json.loads(r.stdout)
except ValueError:
    d = {}
    errs.append(f"report exited {r.returncode}: {r.stderr.strip()[:200]}")
inc = d.get("incomplete") or {}
if d and (d.get("complete") is not False or inc.get("reason") != reason or path not in inc.get("message", "")):
    errs.append(f"report: complete {d.get('complete')}, incomplete {inc}, expected reason {reason} naming the file")
if d and (d.get("leaked_bytes") is not None or d.get("leaks")):
    errs.append(f"report calls {d.get('leaked_bytes')} bytes leaked in an incomplete recording")
if d and not d.get("allocations"):
    errs.append("no allocations before the stop")
t = subprocess.run([hl, "report", path], capture_output=True, text=True).stdout.splitlines()
if len(t) < 2 or not t[1].startswith("INCOMPLETE ") or "died" in " ".join(t):
    errs.append(f"the text report does not start with the INCOMPLETE line: {t[:2]}")
print(f"FAIL {name}: " + "; ".join(errs) if errs else
      f"PASS {name}: {size} bytes, {d['allocations']} allocations, then: {inc['message'][:90]}")
PY
)"
}
if want file-limit; then
    # 16 KiB: t_threads' whole recording takes 300 to 780 KB, its definitions about 1 KB; the
    # first flushes are small (collector/emit.c), so the file holds its first events
    (trap '' XFSZ; exec prlimit --fsize=16384 "$HL" record -o "$W/file-limit.heapline" -- \
        "$T/t_threads") >"$W/file-limit.log" 2>&1 </dev/null
    rc=$?
    if [ "$rc" != 0 ]; then
        fail file-limit "heapline record exited $rc under a 65536-byte file size limit: $(tail -2 "$W/file-limit.log" | tr '\n' ' ')"
    else
        full_check file-limit "$W/file-limit.heapline" "$W/file-limit.log" file_size_limit \
            "File too large" 16384
    fi
fi
if want disk-full; then
    M=$W/full
    mkdir -p "$M"
    if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=128k heapline-full "$M" 2>/dev/null; then
        skip disk-full "needs root and a tmpfs mount"
    else
        # 16 KiB left, under any whole recording of t_threads (300 to 780 KB)
        head -c 114688 /dev/zero >"$M/filler"
        "$HL" record -o "$M/full.heapline" -- "$T/t_threads" >"$W/disk-full.log" 2>&1 </dev/null
        rc=$?
        if [ "$rc" != 0 ]; then
            fail disk-full "heapline record exited $rc on a full disk: $(tail -2 "$W/disk-full.log" | tr '\n' ' ')"
        else
            full_check disk-full "$M/full.heapline" "$W/disk-full.log" disk_full \
                "No space left on device" 0
        fi
        umount "$M"
    fi
fi

# ---- the demo services of assets/: their figures are known too ----
if want demo; then
    for s in leaky fixed; do
        cc -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -o "$T/${s}_service" \
            "$PWD/assets/${s}_service.c" 2>"$W/build-$s.log" || { fail "demo-$s" "build: $(head -3 "$W/build-$s.log")"; continue; }
        rec "demo-$s" -- "$T/${s}_service" --apps 2 --pause 50 --quiet
        recorded "demo-$s" 0 && reported "demo-$s" end || continue
        judge "$(python3 - "$W/demo-$s.end.json" "demo-$s-markers" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
want = ["load kwik_e_mart", "unload kwik_e_mart", "load video_discovery", "unload video_discovery"]
got = [m.get("label") for m in d.get("markers") or []]
print(f"PASS {sys.argv[2]}" if got == want else f"FAIL {sys.argv[2]}: markers expected {want} got {got}")
PYEOF
)"
    done
    # 2 apps x 3 processors, loaders of 2 and 3 MiB in 4 tables: 15 MiB in 24 blocks stay
    # live in the leaky one; the fixed one holds at most one app's 9 MiB, and nothing at the end
    [ -s "$W/demo-leaky.end.json" ] && expect demo-leaky "$W/demo-leaky.end.json" \
        loader_load_table.allocations=24 loader_load_table.live_blocks=24 \
        loader_load_table.live_bytes=15728640 loader_create.live_blocks=6 \
        processor_create.live_blocks=6 nonneg consistent
    [ -s "$W/demo-fixed.end.json" ] && expect demo-fixed "$W/demo-fixed.end.json" \
        loader_load_table.allocations=24 loader_load_table.live_blocks=0 \
        loader_load_table.peak_bytes=9437184 loader_create.live_blocks=0 \
        processor_create.live_blocks=0 nonneg consistent
fi

# the committed sample recording still reads (3 apps: 3 x 3 loaders of 2, 3, 2 MiB)
if want demo-sample; then
    reported demo-sample end "$PWD/assets/sample.heapline" && expect demo-sample \
        "$W/demo-sample.end.json" loader_load_table.live_blocks=36 \
        loader_load_table.live_bytes=22020096 processor_create.live_blocks=9 nonneg consistent
fi

# ---- real programs nobody here wrote: sqlite3, python3 ----
# heaptrack_count OUT ENVS CMD...: prints "CALLS PEAK_LO PEAK_HI LEAK_LO LEAK_HI" from heaptrack's
# summary, or nothing. ENVS (VAR=VAL ...) go into heaptrack's environment: `heaptrack env
# VAR=VAL cmd` would profile env(1), since heaptrack does not follow exec. heaptrack prints
# sizes rounded (619.83K: 1000-based, 2 decimals), hence a range. Its figures include its
# own libstdc++'s emergency pool (one allocation at start-up, live at the peak) when the
# program does not link libstdc++ itself: that is subtracted. Its "leaked" excludes the
# leaks it suppresses (glibc's own); ours counts every byte live at exit: they are added.
heaptrack_count() {
    local out=$1 henv=$2
    shift 2
    rm -f "$out".*
    # shellcheck disable=SC2086
    (ulimit -v 8000000; env $henv timeout "$TMO" heaptrack -o "$out" "$@") >"$out.log" 2>&1 </dev/null || return 1
    local f
    f=$(ls "$out".*st "$out".zst "$out".gz 2>/dev/null | head -1)
    [ -n "$f" ] || return 1
    local own=0
    if ! ldd "$(command -v "$1")" 2>/dev/null | grep -q libstdc++; then own=1; fi
    heaptrack_print -f "$f" -p 0 -l 0 -t 0 -s 0 -n 1000000 2>/dev/null | python3 -c '
import re, sys
own = int(sys.argv[1])
units = {"": 1, "B": 1, "K": 1e3, "M": 1e6, "G": 1e9}
def size(txt):
    m = re.fullmatch(r"([\d.]+)([KMG]?)B?", txt)
    v, u = float(m.group(1)), units[m.group(2)]
    return v * u - 0.005 * u, v * u + 0.005 * u
lines = sys.stdin.read().split("\n")
total, pool_calls, pool = None, 0, (0.0, 0.0)
peak = leak = supp = None
for i, l in enumerate(lines):
    m = re.match(r"calls to allocation functions: (\d+)", l)
    if m:
        total = int(m.group(1))
    m = re.match(r"peak heap memory consumption: (\S+)", l)
    if m:
        peak = size(m.group(1))
    m = re.match(r"total memory leaked: (\S+)", l)
    if m:
        leak = size(m.group(1))
    m = re.match(r"suppressed leaks: (\S+)", l)
    if m:
        supp = size(m.group(1))
    m = re.match(r"(\d+) calls to allocation functions with (\S+) peak consumption from$", l)
    if m and own:
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("in "):
            j += 1
        if j < len(lines) and "libstdc++" in lines[j]:
            pool_calls += int(m.group(1))
            lo, hi = size(m.group(2))
            pool = (pool[0] + lo, pool[1] + hi)
if total is not None and peak and leak:
    supp = supp or (0.0, 0.0)
    print(total - pool_calls, int(peak[0] - pool[1]), int(peak[1] - pool[0]) + 1,
          int(leak[0] + supp[0]), int(leak[1] + supp[1]) + 1)
' "$own"
}
# compare_heaptrack NAME OURS_JSON RESET_CMD TOL ENVS CMD...: our allocation count, peak and
# leaked bytes against heaptrack's (2 runs) for the same command; TOL > 0 allows that many
# allocations of difference (said in the PASS line), for programs whose allocations depend
# on the environment (then peak and leaked are compared within 1%)
compare_heaptrack() {
    local name=$1 json=$2 reset=$3 tol=$4 henv=$5
    shift 5
    if ! command -v heaptrack >/dev/null || ! command -v heaptrack_print >/dev/null; then
        skip "$name-vs-heaptrack" "heaptrack is not installed"
        return
    fi
    local a b
    eval "$reset"
    a=$(heaptrack_count "$W/ht-$name-1" "$henv" "$@")
    eval "$reset"
    b=$(heaptrack_count "$W/ht-$name-2" "$henv" "$@")
    if [ -z "$a" ] || [ -z "$b" ]; then
        skip "$name-vs-heaptrack" "heaptrack did not produce a summary: $(tail -2 "$W/ht-$name-1.log" | tr '\n' ' ')"
        return
    fi
    judge "$(python3 - "$name-vs-heaptrack" "$json" "$tol" "$a" "$b" <<'PYEOF'
import json, sys
name, d, tol = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
runs = [list(map(int, x.split())) for x in sys.argv[4:6]]
errs, notes = [], []
calls = [r[0] for r in runs]
ours = d["allocations"]
if calls[0] == calls[1]:
    if abs(ours - calls[0]) > tol:
        errs.append(f"allocations expected {calls[0]} (heaptrack) got {ours}")
    elif ours != calls[0]:
        notes.append(f"allocations {ours}, heaptrack's {calls[0]}: {ours - calls[0]} apart, within the {tol} allowed (environment)")
    else:
        notes.append(f"allocations {ours} = heaptrack's")
elif not min(calls) - tol <= ours <= max(calls) + tol:
    errs.append(f"allocations expected {calls[0]}..{calls[1]} (heaptrack's two runs) got {ours}")
else:
    notes.append(f"allocations {ours} within heaptrack's runs {calls}")
slack = 0.01 if tol else 0.0
for field, lo_i, what in (("peak_bytes", 1, "peak"), ("leaked_bytes", 3, "leaked")):
    lo = min(r[lo_i] for r in runs) * (1 - slack)
    hi = max(r[lo_i + 1] for r in runs) * (1 + slack)
    got = d.get(field)
    if got is None or not lo <= got <= hi:
        errs.append(f"{field} expected {int(lo)}..{int(hi)} (heaptrack, rounded) got {got}")
    else:
        notes.append(f"{what} {got} B in heaptrack's {int(lo)}..{int(hi)}")
print(f"FAIL {name}: " + "; ".join(errs) if errs else f"PASS {name}: " + "; ".join(notes))
PYEOF
)"
}

# frames_named NAME FILE REGEX: the recording names a frame matching REGEX (its definitions
# are strings in the zstd-compressed msgpack stream after the 16-byte header)
frames_named() {
    if ! command -v zstd >/dev/null; then
        skip "$1" "zstd(1) is not installed"
    elif tail -c +17 "$2" | zstd -dcq 2>/dev/null | grep -aEq "$3"; then
        pass "$1" "a frame matching /$3/ is in the recording"
    else
        fail "$1" "no frame matching /$3/ in the recording (symbolization)"
    fi
}
# unnamed_note NAME JSON: say (not fail) how many allocations sit at unnamed leaf sites
unnamed_note() {
    python3 - "$@" <<'PYEOF'
import json, re, sys
d = json.load(open(sys.argv[2]))
tot = sum(s["allocations"] for s in d["sites"]) or 1
un = [s for s in d["sites"] if re.fullmatch(r"(\S+\+)?0x[0-9a-f]+", s["function"] or "0x0")]
n = sum(s["allocations"] for s in un)
if n:
    top = max(un, key=lambda s: s["allocations"])
    print(f"NOTE {sys.argv[1]}: {100.0 * n / tot:.1f}% of allocations are at sites the report "
          f"cannot name (largest: {top['function']} in {top['module']}, {top['allocations']} "
          "allocations): the leaf is a static function of a stripped library")
PYEOF
}

# inlined frames: the site is the innermost inlined function, and every
# level of the chain is a frame of its own in the site's stack, in order, each
# at its own line, as addr2line -i names them (the middle one too)
if want inline; then
    rec inline -- "$T/t_inline"
    recorded inline 0 && reported inline end && expect inline "$W/inline.end.json" \
        t_inline_inner@14.allocations=7 t_inline_inner.live_blocks=7 t_inline_inner.live_bytes=280 \
        .allocations=7 nonneg consistent \
        't_inline_inner@14.stack~^t_inline_inner@14>t_inline_middle@19>site_inline_outer@24>main@30>' \
        "a2l=$T/t_inline" &&
        frames_named inline-chain "$W/inline.heapline" 't_inline_middle'
fi

# C++ at -O2: std::map and std::vector allocate through libstdc++ code inlined
# into the program; each site is the program's own line (the inlined library
# frames are plumbing), and its stack has every inlined level, as addr2line -i
if want map; then
    rec map -- "$T/t_map"
    recorded map 0 && reported map end && expect map "$W/map.end.json" \
        fill_map@20.allocations=1000 fill_map@20.live_blocks=1000 fill_map@20.live_bytes=48000 \
        main@29.allocations=11 main@29.bytes_allocated=8188 main@29.live_blocks=1 \
        main@29.live_bytes=4096 main@25.live_bytes=48 main@26.live_bytes=24 \
        'fill_map@20.stack~^operator new@0>std::__new_allocator<[^@]*::allocate@137>[^@]*::allocate@464>[^@]*::_M_get_node@561>[^@]*::_M_create_node<[^@]*@611>[^@]*@1636>[^@]*::_M_emplace_hint_unique<[^@]*@2461>std::map<[^@]*::operator\[\]@530>fill_map@20>main@27>__libc_start_call_main@' \
        'main@29.stack~^operator new@0>std::__new_allocator<int>::allocate@137>[^@]*@464>[^@]*::_M_allocate@378>void std::vector<[^@]*::_M_realloc_insert<int const&>@453>std::vector<[^@]*::push_back@1287>main@29>__libc_start_call_main@' \
        "a2l=$T/t_map" nonneg consistent
fi
# the same built by clang, which writes no .debug_aranges: libdwfl then found
# no CU for any address (no file, no line, no inlined frame); and binutils'
# addr2line misreads clang's DWARF 5 inlining, so llvm-symbolizer judges
# (clang elides main's `new std::vector`, which never escapes: no main@26)
if want map-clang; then
    rec map-clang -- "$T/t_map_clang"
    recorded map-clang 0 && reported map-clang end && expect map-clang "$W/map-clang.end.json" \
        fill_map@20.allocations=1000 fill_map@20.live_bytes=48000 \
        main@29.allocations=11 main@29.bytes_allocated=8188 main@29.live_bytes=4096 \
        main@25.live_bytes=48 \
        'fill_map@20.stack~^operator new@0>std::__new_allocator<[^@]*::allocate@137>.*std::map<[^@]*::operator\[\]@530>fill_map@20>main@27>' \
        "llvm=$T/t_map_clang" nonneg consistent
fi

# a frame's line is its own: an assembler function placed inside a C file's
# code has no line (the line table would lend it the closing brace before it)
if want asmfn; then
    rec asmfn -- "$T/t_asmfn"
    recorded asmfn 0 && reported asmfn end && expect asmfn "$W/asmfn.end.json" \
        asm_alloc@0.allocations=3 asm_alloc@0.live_bytes=60 site_before@20.allocations=3 \
        site_before@20.live_bytes=30 \
        'asm_alloc@0.stack~^asm_alloc@0>site_after@40>main@47>__libc_start_call_main@[0-9]+>__libc_start_main\w*@[0-9]+>_start@0$' \
        nonneg consistent
fi

# a shared library's debug file under /usr/lib/debug (libc6-dbg) gives names
# only: libc's static functions are named from its symbol table, without a
# line; HEAPLINE_DEBUG_DIR=/usr/lib/debug has libc's DWARF read, lines and all
if want libc-names; then
    LIBC=$(ldd "$T/t_asmfn" | awk '/libc\.so/ { print $3 }')
    LIBC_BID=$(readelf -n "$LIBC" 2>/dev/null | awk '/Build ID/ { print $3 }')
    if [ -z "$LIBC_BID" ] || [ ! -e "/usr/lib/debug/.build-id/${LIBC_BID:0:2}/${LIBC_BID:2}.debug" ]; then
        skip libc-names "no debug file for libc $LIBC (apt-get install libc6-dbg)"
    else
        rec libc-names -- "$T/t_asmfn"
        recorded libc-names 0 && reported libc-names end && expect libc-names \
            "$W/libc-names.end.json" asm_alloc@0.allocations=3 \
            'asm_alloc@0.stack~^asm_alloc@0>site_after@40>main@47>__libc_start_call_main@0>__libc_start_main\w*@0>_start@0$'
        rec libc-lines HEAPLINE_DEBUG_DIR=/usr/lib/debug -- "$T/t_asmfn"
        recorded libc-lines 0 && reported libc-lines end && expect libc-lines \
            "$W/libc-lines.end.json" asm_alloc@0.allocations=3 \
            'asm_alloc@0.stack~^asm_alloc@0>site_after@40>main@47>__libc_start_call_main@[1-9][0-9]*>__libc_start_main\w*@[1-9][0-9]*>_start@0$'
    fi
fi
if want sqlite; then
    if ! command -v sqlite3 >/dev/null; then
        skip sqlite "sqlite3 is not installed (apt-get install -y sqlite3)"
    else
        python3 - "$W/inserts.sql" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);\nBEGIN;\n")
    for i in range(5000):
        f.write(f"INSERT INTO t(name, v) VALUES('name-{i * 7919 % 10007}', {i * 0.5});\n")
    f.write("COMMIT;\nCREATE INDEX t_name ON t(name);\n")
    f.write("SELECT count(*), sum(v), max(name) FROM t;\n")
EOF
        SQL=(sqlite3 -batch "$W/db.sqlite" ".read $W/inserts.sql")
        rm -f "$W/db.sqlite"
        rec sqlite -- "${SQL[@]}"
        if recorded sqlite 0 && reported sqlite end; then
            expect sqlite "$W/sqlite.end.json" .allocations'>='5000 .live_bytes'>='0 nonneg consistent
            frames_named sqlite-names "$W/sqlite.heapline" 'sqlite3Malloc|sqlite3_malloc'
            unnamed_note sqlite "$W/sqlite.end.json"
            compare_heaptrack sqlite "$W/sqlite.end.json" "rm -f $W/db.sqlite" 0 "" "${SQL[@]}"
            compare_valgrind sqlite "$W/sqlite.end.json" "rm -f $W/db.sqlite" "${SQL[@]}"
        fi
    fi
fi

PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
PYCODE='d = {i: str(i) * 3 for i in range(20000)}
import json
s = json.dumps(d)
l = [list(range(i % 50)) for i in range(5000)]
print(len(s), sum(map(len, l)))'
if want python; then
    if [ -z "$PY" ]; then
        skip python "python3 is not installed"
    else
        rec python PYTHONMALLOC=malloc PYTHONHASHSEED=0 -- "$PY" -B -S -c "$PYCODE"
        if recorded python 0 && reported python end; then
            expect python "$W/python.end.json" .allocations'>='20000 nonneg consistent \
                named'>='90 '~PyMem_|_PyObject_|PyObject_'
            # python copies its environment into os.environ: each variable is a few
            # allocations. Under heapline it sees the environment it would see bare
            # (collector/env.c), as under heaptrack. heaptrack also counts one allocation of
            # its own (libstdc++'s emergency pool): hence 4 allowed.
            compare_heaptrack python "$W/python.end.json" ":" 4 \
                "PYTHONMALLOC=malloc PYTHONHASHSEED=0" \
                "$PY" -B -S -c "$PYCODE"
        fi
        # `python3` as a shell-script wrapper that execs the interpreter (pyenv's shim)
        P3=$(command -v python3)
        if head -c 2 "$P3" | grep -q '#!'; then
            rec python-wrapper PYTHONMALLOC=malloc PYTHONHASHSEED=0 -- python3 -B -S -c "$PYCODE"
            recorded python-wrapper 0 && reported python-wrapper end && expect python-wrapper \
                "$W/python-wrapper.end.json" .allocations'>='20000 '~PyMem_|_PyObject_|PyObject_'
        else
            skip python-wrapper "python3 ($P3) is not a script here"
        fi
    fi
fi

# ---- the table walk (collector/cfitab.h, the default for code without frame pointers) ----
# HEAPLINE_UNWIND=check walks every allocation's stack both ways, the table walk and
# unw_backtrace, and HEAPLINE_STATS counts the stacks that are equal and different: on
# Debian's own binaries (built without frame pointers) every stack must be libunwind's,
# and at least half must come from the table walk (the rest: before the collector compiled the
# modules the first walks asked for, or a frame it hands to libunwind), and among them both
# stacks replayed whole from a thread's traces and replays that met a different word
# unwind_check NAME MIN_STACKS CMD...
unwind_check() {
    local name=$1 min=$2
    shift 2
    if [ ! -x "$1" ]; then
        skip "$name" "$1 is not installed"
        return
    fi
    rec "$name" HEAPLINE_UNWIND=check HEAPLINE_STATS=1 -- "$@"
    if [ "$RC" != 0 ]; then
        fail "$name" "heapline record exited $RC: $(tail -2 "$W/$name.log" | tr '\n' ' ')"
        return
    fi
    judge "$(python3 - "$name" "$min" "$W/$name.log" <<'PY'
import re, sys
name, want, text = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
m = re.search(r"(\d+) checked against unw_backtrace: (\d+) equal, (\d+) different", text)
if not m:
    print(f"FAIL {name}: no check counts in the stats line: {text.strip()[-300:]!r}")
    sys.exit()
walks, equal, differ = map(int, m.groups())
first = re.search(r"unwind check: .*", text)
r = re.search(r"\((\d+) replayed whole from a thread's traces, (\d+) replays stepped on\)", text)
if differ:
    print(f"FAIL {name}: {differ} of {walks} stacks differ from unw_backtrace's: {first.group(0)[:400] if first else ''}")
elif equal < want or equal < 0.5 * walks:
    print(f"FAIL {name}: only {equal} of {walks} stacks walked by the table (expected >= {want} and >= 50%)")
elif not r or int(r.group(1)) == 0 or int(r.group(2)) == 0:
    # both ways of the traces' replay must be among the stacks compared
    print(f"FAIL {name}: the traces' replays are not both in the check: {r.group(0) if r else 'no counts'}")
else:
    print(f"PASS {name}: {equal} of {walks} stacks walked by the table, all equal to unw_backtrace's "
          f"({r.group(1)} replayed whole, {r.group(2)} replays stepped on)")
PY
)"
}
# a program with frame pointers allocating through libc (no frame pointers): the stacks the
# frame-pointer walk cannot finish go to the table walk (HEAPLINE_STATS counts them), and
# every site's stack and figures equal those of HEAPLINE_UNWIND=libunwind
if want unwind-fp-libc; then
    rec unwind-fp-libc HEAPLINE_UNWIND=fp HEAPLINE_STATS=1 -- "$T/t_libcdup"
    rec unwind-fp-libc-unw HEAPLINE_UNWIND=libunwind -- "$T/t_libcdup"
    if recorded unwind-fp-libc 0 && reported unwind-fp-libc end &&
        recorded unwind-fp-libc-unw 0 && reported unwind-fp-libc-unw end; then
        judge "$(python3 - "$W/unwind-fp-libc.end.json" "$W/unwind-fp-libc-unw.end.json" \
            "$W/unwind-fp-libc.log" <<'PY'
import json, re, sys
def sites(path):
    d = json.load(open(path))
    return sorted((s["function"], s.get("stack"), s["allocations"], s["bytes_allocated"],
                   s["live_blocks"], s["live_bytes"]) for s in d["sites"]), d
a, da = sites(sys.argv[1])
b, db = sites(sys.argv[2])
log = open(sys.argv[3]).read()
m = re.search(r"(\d+) frame-pointer fallbacks \((\d+) more finished by the table walk", log)
errs = []
if a != b:
    diff = [x for x in a if x not in b][:2]
    errs.append(f"sites differ from libunwind's: {diff}")
ours = {s["function"]: s for s in da["sites"]}
s = ours.get("site_strdup")
if not s or (s["allocations"], s["bytes_allocated"], s["live_blocks"]) != (100000, 800000, 1000):
    errs.append(f"site_strdup: expected 100000 allocations of 800000 B, 1000 live, got {s and (s['allocations'], s['bytes_allocated'], s['live_blocks'])}")
s = ours.get("site_asprintf")
if not s or s["live_blocks"] != 0 or s["allocations"] < 100000:
    errs.append(f"site_asprintf: expected >= 100000 allocations, none live, got {s and (s['allocations'], s['live_blocks'])}")
if not m:
    errs.append("no frame-pointer counts in the stats line")
elif int(m.group(2)) < 100000:  # of 200000+: the rules are compiled when the first walks ask
    errs.append(f"only {m.group(2)} stacks finished by the table walk ({m.group(1)} to libunwind)")
print(f"FAIL unwind-fp-libc: " + "; ".join(errs) if errs else
      f"PASS unwind-fp-libc: {len(a)} sites equal libunwind's; {m.group(2)} stacks finished by the table walk, {m.group(1)} to libunwind")
PY
)"
    fi
fi
# a program built with frame pointers, left to choose its walk (auto): the frame-pointer walk
# from the collector's own frames (built with frame pointers, in a module whose bundled code
# mostly is not) to the thread's start, with the table only where a thread's roots are learned.
# Every walk of t_threads went to the table walk from its first frame (800,008 of 800,008)
# while the collector's module was not trusted for its own frames.
if want unwind-fp-own; then
    rec unwind-fp-own HEAPLINE_STATS=1 -- "$T/t_threads"
    rec unwind-fp-own-cfi HEAPLINE_UNWIND=cfi -- "$T/t_threads"
    if recorded unwind-fp-own 0 && reported unwind-fp-own end &&
        recorded unwind-fp-own-cfi 0 && reported unwind-fp-own-cfi end; then
        judge "$(python3 - "$W/unwind-fp-own.end.json" "$W/unwind-fp-own-cfi.end.json" \
            "$W/unwind-fp-own.log" <<'PY'
import json, re, sys
def sites(path):
    d = json.load(open(path))
    return sorted((s["function"], s.get("stack"), s["allocations"], s["bytes_allocated"],
                   s["live_blocks"], s["live_bytes"]) for s in d["sites"]), d
a, da = sites(sys.argv[1])
b, _ = sites(sys.argv[2])
log = open(sys.argv[3]).read()
m = re.search(r"(\d+) frame-pointer fallbacks \((\d+) more finished by the table walk", log)
errs = []
if a != b:
    errs.append(f"sites differ from the table walk's: {[x for x in a if x not in b][:2]}")
s = {x["function"]: x for x in da["sites"]}.get("site_thread_alloc")
if not s or s["allocations"] != 800000:
    errs.append(f"site_thread_alloc: expected 800000 allocations, got {s and s['allocations']}")
if not m:
    errs.append("no frame-pointer counts in the stats line (the walk chosen was not the frame-pointer walk)")
elif int(m.group(1)) or int(m.group(2)) > 100:
    errs.append(f"{m.group(2)} stacks finished by the table walk, {m.group(1)} by libunwind (expected 0 and a few)")
print("FAIL unwind-fp-own: " + "; ".join(errs) if errs else
      f"PASS unwind-fp-own: {len(a)} sites equal the table walk's; {m.group(2)} of 800000+ stacks finished by the table walk")
PY
)"
    fi
fi
if want unwind-check; then
    if ! command -v sqlite3 >/dev/null; then
        skip unwind-check-sqlite3 "sqlite3 is not installed"
    else
        [ -e "$W/inserts.sql" ] || python3 -c 'import sys
f = open(sys.argv[1], "w")
f.write("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);\nBEGIN;\n")
for i in range(5000):
    f.write(f"INSERT INTO t(name, v) VALUES(\x27name-{i * 7919 % 10007}\x27, {i * 0.5});\n")
f.write("COMMIT;\nCREATE INDEX t_name ON t(name);\nSELECT count(*), sum(v), max(name) FROM t;\n")' \
            "$W/inserts.sql"
        rm -f "$W/unwind.sqlite"
        unwind_check unwind-check-sqlite3 5000 "$(command -v sqlite3)" -batch "$W/unwind.sqlite" \
            ".read $W/inserts.sql"
        # and without asking, the table walk is what a program without frame pointers gets
        rm -f "$W/unwind.sqlite"
        rec unwind-default HEAPLINE_STATS=1 -- "$(command -v sqlite3)" -batch "$W/unwind.sqlite" \
            ".read $W/inserts.sql"
        if [ "$RC" = 0 ] && grep -q "stats: .* table walks: " "$W/unwind-default.log"; then
            pass unwind-default "$(grep -o 'table walks: [^)]*)' "$W/unwind-default.log")"
        else
            fail unwind-default "exit $RC, no table walks in: $(grep stats: "$W/unwind-default.log")"
        fi
    fi
    unwind_check unwind-check-python3 20000 /usr/bin/python3 -B -S -c "$PYCODE"
    if ! command -v git >/dev/null; then
        skip unwind-check-git "git is not installed"
    else
        G=$W/unwind-repo
        rm -rf "$G"
        git init -q "$G" && for i in $(seq 200); do seq "$i" >"$G/f$i"; done &&
            git -C "$G" add -A && git -C "$G" -c user.name=t -c user.email=t@t commit -qm one &&
            for i in $(seq 1 3 200); do echo "$i" >>"$G/f$i"; done &&
            git -C "$G" -c user.name=t -c user.email=t@t commit -qam two
        unwind_check unwind-check-git 2000 "$(command -v git)" -C "$G" log -p --stat
    fi
fi

# ---- no file is clobbered: links are not followed, only regular files of ours written ----
# clobber_state FILE...: type, mode, size and checksum of each (links not followed)
clobber_state() {
    local f
    for f in "$@"; do
        stat -c '%F %a %s %t:%T' "$f" 2>/dev/null || echo missing
        [ -f "$f" ] && [ ! -L "$f" ] && md5sum <"$f"
    done | tr '\n' ' '
}
if want no-clobber; then
    C=$W/clobber
    rm -rf "$C"
    mkdir -p "$C"
    printf 'precious\n' >"$C/victim"
    mkfifo "$C/fifo"
    ln -s "$C/victim" "$C/link"
    ln -s "$C/nowhere" "$C/dangling"
    printf 'my notes, not a recording\n' >"$C/notes.txt"
    targets=(fifo link dangling notes.txt)
    if [ "$(id -u)" = 0 ]; then
        mknod "$C/null" c 1 3 && targets+=(null)
    fi
    for t in "${targets[@]}"; do
        before=$(clobber_state "$C/$t" "$C/victim" "$C/nowhere")
        timeout 10 "$HL" record -o "$C/$t" -- "$T/t_alloc" >"$C/$t.out" 2>"$C/$t.err"
        rc=$?
        after=$(clobber_state "$C/$t" "$C/victim" "$C/nowhere")
        lines=$(wc -l <"$C/$t.err")
        if [ "$rc" = 1 ] && [ "$lines" = 1 ] && [ "$before" = "$after" ]; then
            pass "no-clobber-$t" "exit 1, untouched: $(cut -c1-110 "$C/$t.err")"
        else
            fail "no-clobber-$t" "record -o $t: exit $rc (expected 1, 124 is a hang), $lines stderr lines ($(head -2 "$C/$t.err" | tr '\n' ' ')), before '$before' after '$after'"
        fi
    done
    # the collector's own open, without the launcher: the program runs on, untouched files
    before=$(clobber_state "$C/link" "$C/victim" "$C/fifo")
    timeout 10 env LD_PRELOAD="$LIB" HEAPLINE_RECORD="$C/link" HEAPLINE_SOCKET=off "$T/t_alloc" \
        >"$C/preload.out" 2>&1 </dev/null
    rc=$?
    timeout 10 env LD_PRELOAD="$LIB" HEAPLINE_RECORD="$C/fifo" HEAPLINE_SOCKET=off "$T/t_alloc" \
        >>"$C/preload.out" 2>&1 </dev/null
    rc2=$?
    after=$(clobber_state "$C/link" "$C/victim" "$C/fifo")
    if [ "$rc$rc2" = 00 ] && [ "$before" = "$after" ] &&
        [ "$(grep -c "cannot create the record file $C/" "$C/preload.out")" = 2 ]; then
        pass no-clobber-collector "HEAPLINE_RECORD=link, =FIFO: program exit 0, untouched, said: $(head -1 "$C/preload.out" | cut -c1-100)"
    else
        fail no-clobber-collector "exit $rc/$rc2, before '$before' after '$after', said: $(head -3 "$C/preload.out" | tr '\n' ' ')"
    fi
    # an earlier recording is overwritten, as a user expects
    cp "$W/alloc.heapline" "$C/old.heapline" 2>/dev/null || "$HL" record -o "$C/old.heapline" -- true
    "$HL" record -o "$C/old.heapline" -- sh -c 'exit 0' >"$C/old.out" 2>&1
    rc=$?
    if [ "$rc" = 0 ] && "$HL" report "$C/old.heapline" --json 2>/dev/null | grep -q '"exe": "[^"]*sh"'; then
        pass no-clobber-own "an earlier recording is overwritten by the new one"
    else
        fail no-clobber-own "record over an earlier recording: exit $rc, $(head -2 "$C/old.out" | tr '\n' ' '); report: $("$HL" report "$C/old.heapline" 2>&1 | head -1)"
    fi
    # fork children write FILE.<pid>: links planted for the next 400 pids are not followed
    last=$(cat /proc/sys/kernel/ns_last_pid 2>/dev/null)
    if [ -z "$last" ]; then
        skip no-clobber-fork "no /proc/sys/kernel/ns_last_pid"
    else
        python3 -c 'import os, sys
for p in range(int(sys.argv[2]) + 1, int(sys.argv[2]) + 401):
    os.symlink(sys.argv[1] + "/victim", "%s/forked.heapline.%d" % (sys.argv[1], p))' "$C" "$last"
        before=$(clobber_state "$C/victim")
        "$HL" record -o "$C/forked.heapline" -- "$T/t_fork" "$C/forked.childpid" >"$C/forked.out" 2>&1
        rc=$?
        after=$(clobber_state "$C/victim")
        cpid=$(cat "$C/forked.childpid" 2>/dev/null)
        if [ -z "$cpid" ] || [ "$cpid" -le "$last" ] || [ "$cpid" -gt $((last + 400)) ]; then
            skip no-clobber-fork "the child's pid '$cpid' fell outside the planted $((last + 1))..$((last + 400))"
        elif [ "$rc" = 0 ] && [ "$before" = "$after" ] && [ -L "$C/forked.heapline.$cpid" ] &&
            grep -q "cannot create the record file $C/forked.heapline.$cpid: is a symbolic link" "$C/forked.out"; then
            pass no-clobber-fork "child $cpid: link left alone, victim untouched, parent recorded (exit 0)"
        else
            fail no-clobber-fork "exit $rc, victim before '$before' after '$after', said: $(head -3 "$C/forked.out" | tr '\n' ' ')"
        fi
    fi
fi

# ---- Python frames and sites (CPython 3.11) ----
. "$SRC/python.sh"

# ---- security: socket directory 0700, socket 0600, other users refused ----
# wait_socket DIR PID: print the socket of process PID in DIR (PID.sock, or a socket whose
# name holds PID) within 5 s; other processes' sockets may be there too
wait_socket() {
    local s
    for _ in $(seq 50); do
        s=$(find "$1" -maxdepth 1 -type s \( -name "$2.sock" -o -name "*[!0-9]$2.sock" \) 2>/dev/null | head -1)
        [ -n "$s" ] && { echo "$s"; return 0; }
        sleep 0.1
    done
    return 1
}
# as UID CMD...: run CMD as UID (group the same), no supplementary groups
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
if want security; then
    if ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
        skip security "needs root and setpriv (util-linux)"
    else
        # 1. the collector of root: default directory, modes, another user refused by the modes
        dir=/tmp/heapline-0
        env -u XDG_RUNTIME_DIR -u HEAPLINE_SOCKET LD_PRELOAD="$LIB" "$T/t_sleeper" 4000 \
            >"$W/sec1.log" 2>&1 &
        tpid=$!
        if ! sock=$(wait_socket "$dir" "$tpid"); then
            fail security-socket "no socket in $dir within 5 s ($(tail -2 "$W/sec1.log" | tr '\n' ' '))"
        else
            dm=$(stat -c '%a %u' "$dir")
            sm=$(stat -c '%a %u' "$sock")
            if [ "$dm" = "700 0" ] && [ "$sm" = "600 0" ]; then
                pass security-modes "$dir 0700, $(basename "$sock") 0600, owned by uid 0"
            else
                fail security-modes "expected dir '700 0' socket '600 0', got dir '$dm' socket '$sm'"
            fi
            own=$("$T/t_sockclient" "$sock")
            # any number of clients at once: two more, concurrently
            "$T/t_sockclient" "$sock" >"$W/sec1-a.out" &
            c1=$!
            "$T/t_sockclient" "$sock" >"$W/sec1-b.out" &
            wait "$c1" $!
            two="$(cat "$W/sec1-a.out") / $(cat "$W/sec1-b.out")"
            case "$two" in
            accepted*" / accepted"*) pass socket-two-clients "$two" ;;
            *) fail socket-two-clients "expected two concurrent clients accepted, got '$two'" ;;
            esac
            other=$(as 65534 "$T/t_sockclient" "$sock")
            case "$own|$other" in
            accepted*"|refused"*) pass security-other-user "same user: $own; uid 65534: $other" ;;
            *) fail security-other-user "expected same user accepted, uid 65534 refused; got '$own', '$other'" ;;
            esac
        fi
        wait "$tpid"
        if [ -n "${sock:-}" ] && [ -e "$sock" ]; then
            fail socket-removed "$sock is left behind after the program exited"
        elif [ -n "${sock:-}" ]; then
            pass socket-removed "the socket is gone when the program exits"
        fi

        # 2. SO_PEERCRED: a client that may pass the file modes (CAP_DAC_OVERRIDE) but is
        #    another user is still refused by the peer uid check
        rm -rf /tmp/heapline-65533
        # setpriv, env and t_sleeper exec each other: $! is t_sleeper's pid
        setpriv --reuid=65533 --regid=65533 --clear-groups env -u XDG_RUNTIME_DIR -u HEAPLINE_SOCKET \
            LD_PRELOAD="$LIB" "$T/t_sleeper" 4000 >"$W/sec2.log" 2>&1 &
        tpid=$!
        if ! sock=$(wait_socket /tmp/heapline-65533 "$tpid"); then
            fail security-peercred "no socket in /tmp/heapline-65533 within 5 s ($(tail -2 "$W/sec2.log" | tr '\n' ' '))"
        else
            own=$(as 65533 "$T/t_sockclient" "$sock")
            other=$(as 65534 --inh-caps=+dac_override --ambient-caps=+dac_override \
                "$T/t_sockclient" "$sock" 2>&1)
            case "$own|$other" in
            accepted*"|refused-closed"*) pass security-peercred "uid 65533: $own; uid 65534 with CAP_DAC_OVERRIDE: $other" ;;
            accepted*"|refused-connect"*)
                skip security-peercred "could not bypass the file modes to test SO_PEERCRED ($other)" ;;
            *) fail security-peercred "expected uid 65533 accepted, uid 65534 (CAP_DAC_OVERRIDE) refused after connect; got '$own', '$other'" ;;
            esac
        fi
        wait "$tpid"

        # 3. a socket directory writable by others, or owned by another user, is refused
        for v in "65532:65532:777" "65531:0:700"; do
            IFS=: read -r u owner mode <<<"$v"
            d=/tmp/heapline-$u
            rm -rf "$d"
            mkdir -m "$mode" "$d"
            chown "$owner" "$d"
            chmod "$mode" "$d"
            as "$u" env -u XDG_RUNTIME_DIR -u HEAPLINE_SOCKET LD_PRELOAD="$LIB" "$T/t_sleeper" 1000 \
                >"$W/sec3-$u.log" 2>&1
            rc=$?
            s=$(find "$d" -maxdepth 1 -type s 2>/dev/null | head -1)
            if [ "$rc" != 0 ]; then
                fail "security-baddir-$mode-owner$owner" "the program exited $rc: $(tail -2 "$W/sec3-$u.log" | tr '\n' ' ')"
            elif [ -n "$s" ]; then
                fail "security-baddir-$mode-owner$owner" "socket created in $d (mode $mode, owner $owner): $s"
            else
                pass "security-baddir-$mode-owner$owner" "no socket; said: $(head -1 "$W/sec3-$u.log" | cut -c1-90)"
            fi
            rm -rf "$d"
        done
        rm -rf /tmp/heapline-65533
    fi
fi

echo "collector tests: $PASSED passed, $FAILED failed, $SKIPPED skipped${KNOWN_FAIL:+, $XFAILED known failures (KNOWN_FAIL)}${FAILS:+ (failed:$FAILS)}"
[ "${KEEP:-0}" = 1 ] || [ "$FAILED" != 0 ] || rm -rf "$W"
[ "$FAILED" = 0 ]
