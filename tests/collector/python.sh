# tests/collector/python.sh - Python frames and Python sites, on Debian's CPython 3.11
# (/usr/bin/python3: never the python3 first on PATH, which may be another version).
# Sourced by run.sh (its helpers: rec, reported, pass, fail, skip, judge, want).

PY311=/usr/bin/python3
# py_lines JSON FILE: "line live_bytes live_blocks allocations function" of FILE's sites
py_lines() {
    python3 -c '
import json, sys
for s in json.load(open(sys.argv[1]))["sites"]:
    if s["file"].endswith("/" + sys.argv[2]) and s["allocations"]:
        print(s["line"], s["live_bytes"], s["live_blocks"], s["allocations"], s["function"])
' "$1" "$2"
}

if want python && [ ! -x "$PY311" ]; then
    skip python-frames "$PY311 is not installed"
elif want python && ! "$PY311" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    skip python-frames "$PY311 is not CPython 3.11"
elif want python; then
    # 1. per-line live bytes against tracemalloc's, twin runs (t_pyalloc.py says why): on
    #    Debian's 3.11, and on pyenv's 3.12 and 3.13 where they are (3.13's offsets read from
    #    _Py_DebugOffsets; 3.13's python3 is linked with libpython3.13.so)
    for py in "$PY311" "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
        [ -x "$py" ] || continue
        v=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        name=pyframes-vs-tracemalloc-$v
        rec "pyalloc-tm-$v" PYTHONHASHSEED=0 -- "$py" "$SRC/t_pyalloc.py" "$W/pyalloc-tm-$v.json"
        rec "pyalloc-$v" PYTHONHASHSEED=0 -- "$py" "$SRC/t_pyalloc.py"
        recorded "pyalloc-$v" 0 && [ -s "$W/pyalloc-tm-$v.json" ] && reported "pyalloc-$v" end || continue
        py_lines "$W/pyalloc-$v.end.json" t_pyalloc.py >"$W/pyalloc-$v.lines"
        judge "$(python3 - "$W/pyalloc-tm-$v.json" "$W/pyalloc-$v.lines" "$SRC/t_pyalloc.py" "$name" <<'PYEOF'
import json, sys
tm = {int(k): v for k, v in json.load(open(sys.argv[1])).items()}
ours = {}
for l in open(sys.argv[2]):
    line, live, blocks = map(int, l.split()[:3])
    a = ours.setdefault(line, [0, 0])
    a[0] += live
    a[1] += blocks
src = open(sys.argv[3]).read().split("\n")
measured = [i + 1 for i, t in enumerate(src) if t.rstrip().endswith("# measured")]
errs = [f"line {n}: tracemalloc {tm.get(n)} heapline {ours.get(n)}"
        for n in measured if tm.get(n) != ours.get(n) or not tm.get(n)]
got = ", ".join(f"{n}: {tm[n][0]} B/{tm[n][1]}" for n in measured if n in tm)
print(f"FAIL {sys.argv[4]}: " + "; ".join(errs) if errs else
      f"PASS {sys.argv[4]}: live bytes/blocks per line equal tracemalloc's ({got})")
PYEOF
)"
    done

    # 2. threads: each thread's blocks under its own lines, one thread without the GIL
    rec pythreads -- "$PY311" "$SRC/t_pythreads.py" "$W/pythreads-expect.json"
    if recorded pythreads 0 && reported pythreads end; then
        py_lines "$W/pythreads.end.json" t_pythreads.py >"$W/pythreads.lines"
        judge "$(python3 - "$W/pythreads-expect.json" "$W/pythreads.lines" <<'PYEOF'
import json, sys
exp = json.load(open(sys.argv[1]))
lister = exp.pop("lister")
ours = {}
for l in open(sys.argv[2]):
    f = l.split()
    ours[int(f[0])] = list(map(int, f[1:4]))
errs = []
for line, (b, n) in exp.items():
    got = ours.get(int(line), [0, 0, 0])
    if got != [b, n, n]:
        errs.append(f"line {line}: expected {b} B in {n} blocks ({n} allocations), got {got}")
if ours.get(lister, [0, 0, 0])[2] < 300:
    errs.append(f"os.listdir line {lister}: expected >= 300 allocations (opendir), got {ours.get(lister)}")
print("FAIL pyframes-threads: " + "; ".join(errs) if errs else
      f"PASS pyframes-threads: 4 threads' lines exact ({', '.join(f'{k}: {v[0]} B' for k, v in exp.items())}), "
      f"{ours[lister][2]} allocations of os.listdir without the GIL at its own line {lister}")
PYEOF
)"
    fi

    # 3. fork: the child's recording has its own lines, the parent's its own
    rec pyfork -- "$PY311" "$SRC/t_pyfork.py" "$W/pyfork-expect.json"
    child=$(ls "$W"/pyfork.heapline.* 2>/dev/null | head -1)
    if recorded pyfork 0 && [ -n "$child" ] && reported pyfork end && reported pyfork-child end "$child"; then
        py_lines "$W/pyfork.end.json" t_pyfork.py >"$W/pyfork.lines"
        py_lines "$W/pyfork-child.end.json" t_pyfork.py >"$W/pyfork-child.lines"
        judge "$(python3 - "$W/pyfork-expect.json" "$W/pyfork.lines" "$W/pyfork-child.lines" <<'PYEOF'
import json, sys
exp = json.load(open(sys.argv[1]))
def lines(p):
    return {int(l.split()[0]): list(map(int, l.split()[1:3])) for l in open(p)}
par, chi = lines(sys.argv[2]), lines(sys.argv[3])
errs = []
for who, got in (("parent", par), ("child", chi)):
    line, b, n = exp[who]
    if got.get(line) != [b, n]:
        errs.append(f"{who} line {line}: expected {b} B in {n} blocks, got {got.get(line)}")
if exp["child"][0] in par:
    errs.append(f"the parent's recording has the child's line {exp['child'][0]}")
if exp["status"] != 0:
    errs.append(f"the child exited with status {exp['status']}")
print("FAIL pyframes-fork: " + "; ".join(errs) if errs else
      f"PASS pyframes-fork: parent line {exp['parent'][0]} {exp['parent'][1]} B, "
      f"child line {exp['child'][0]} {exp['child'][1]} B, each in its own recording")
PYEOF
)"
    fi

    # 4. interpreter shutdown with daemon threads allocating (with and without the GIL),
    #    and a subinterpreter (native frames only): three runs, no crash, no hang
    ok=0
    for i in 1 2 3; do
        rec pyshutdown -- "$PY311" "$SRC/t_pyshutdown.py"
        recorded pyshutdown 0 || break
        if grep -q "tracking off" "$W/pyshutdown.log"; then
            fail pyshutdown "$(grep "tracking off" "$W/pyshutdown.log")"
            break
        fi
        ok=$((ok + 1))
    done
    if [ "$ok" = 3 ] && reported pyshutdown end; then
        judge "$(python3 - "$W/pyshutdown.end.json" <<'PYEOF'
import json, sys
sites = json.load(open(sys.argv[1]))["sites"]
walked = [s for s in sites if s["file"] == "<string>" and s["function"] == "<listcomp>"]
native = sum(s["bytes_allocated"] for s in sites if s["function"] == "PyByteArray_Resize")
if walked:
    print("FAIL pyshutdown: the subinterpreter's frames were walked: <listcomp> <string> is a site")
elif native < 100 * 4322:
    print(f"FAIL pyshutdown: expected the subinterpreter's 100 x 4322 B at PyByteArray_Resize "
          f"(native frames only), got {native} B there")
else:
    print("PASS pyshutdown: 3 runs exit 0 with 4 daemon threads allocating at exit; the "
          "subinterpreter's blocks have native frames only")
PYEOF
)"
    fi

    # 4b. code objects that die and whose addresses are reused (3000 functions on about
    #     1400 addresses here): every block keeps the name, file and line of its own
    rec pycodes -- "$PY311" "$SRC/t_pycodes.py" 3000
    if recorded pycodes 0 && reported pycodes end; then
        judge "$(python3 - "$W/pycodes.end.json" 3000 "$SRC" <<'PYEOF'
import json, re, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[3])
from t_pycodes import file, name
n, seen, bad = int(sys.argv[2]), set(), []
for s in json.load(open(sys.argv[1]))["sites"]:
    m = re.match(r"f_(\d+)", s["function"])
    if not m or not s["live_blocks"]:
        continue
    i = int(m.group(1))
    seen.add(i)
    want = [name(i), 56 + 1000 + i + 1, 2, file(i), 2 + i % 7]
    got = [s["function"], s["live_bytes"], s["live_blocks"], s["file"], s["line"]]
    if got != want:
        bad.append(f"f_{i}: expected {want} got {got}")
missing = n - len(seen)
print(f"FAIL pycodes: {missing} functions missing; " + "; ".join(bad[:3]) if bad or missing else
      f"PASS pycodes: {n} short-lived functions (names and files in 1-, 2- and 4-byte characters), "
      "each block named by its own (name, file, line)")
PYEOF
)"
    fi

    # 4b'. new code objects at the address of the one just freed, with no walk in between
    #     that would replace the last walk's frames (sampled: most allocations are not
    #     walked): 300 functions, each block named by its own name, file and line
    rec pyreplace HEAPLINE_SAMPLE=64K -- "$PY311" "$SRC/t_pyreplace.py" 300
    if recorded pyreplace 0 && reported pyreplace end; then
        judge "$(python3 - "$W/pyreplace.end.json" 300 <<'PYEOF'
import json, re, sys
n, got = int(sys.argv[2]), {}
for s in json.load(open(sys.argv[1]))["sites"]:
    m = re.fullmatch(r"f_(\d{5})", s["function"] or "")
    if m:
        got.setdefault(int(m.group(1)), []).append((s["file"], s["line"]))
bad = [f"f_{i:05d}: {got.get(i)}" for i in range(n) if got.get(i) != [(f"<code-{i:05d}>", 2 + i % 7)]]
print(f"FAIL pyreplace: {len(bad)} of {n} functions not one site at their own file and line: "
      + "; ".join(bad[:3]) if bad else
      f"PASS pyreplace: {n} code objects made at a freed one's address: each block at its own "
      "function, file and line")
PYEOF
)"
    fi

    # 4c. a plugin host that loads libpython with dlopen(RTLD_LOCAL) after start-up: Python
    #     frames start within a tick; 40 bytearray(777) and their list on one line
    LIBPY=/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0
    if [ ! -e "$LIBPY" ]; then
        skip pyembed "$LIBPY is not installed (Debian package libpython3.11)"
    elif cc $CFLAGS -o "$T/t_pyembed" "$SRC/t_pyembed.c" -ldl 2>"$W/build-t_pyembed.log"; then
        # a program that dlopen's libpython is not CPython when the collector
        # starts, so the collector takes heapline's PYTHONMALLOC out of its
        # environment (env.c): such a program sets it itself (README)
        rec pyembed PYTHONMALLOC=malloc -- "$T/t_pyembed" "$LIBPY"
        if recorded pyembed 0 && reported pyembed end; then
            got=$(python3 -c '
import json, sys
print([(s["live_bytes"], s["live_blocks"]) for s in json.load(open(sys.argv[1]))["sites"]
       if s["module"] == "python" and s["file"] == "<string>" and s["line"] == 2 and s["live_blocks"]])' "$W/pyembed.end.json")
            # 40 objects and buffers (56 + 778 B) and the list's 40 item pointers
            if [ "$got" = "[(33680, 81)]" ]; then
                pass pyembed "dlopen'ed libpython3.11: <string>:2 holds 33680 B in 81 blocks"
            else
                fail pyembed "expected [(33680, 81)] at <string>:2, got $got"
            fi
        fi
    else
        fail pyembed "cannot build t_pyembed: $(head -3 "$W/build-t_pyembed.log")"
    fi

    # 5. HEAPLINE_PYTHON=off: native frames only
    rec pyoff HEAPLINE_PYTHON=off -- "$PY311" "$SRC/t_pyalloc.py"
    if recorded pyoff 0 && reported pyoff end; then
        n=$(python3 -c 'import json, sys; print(sum(s["module"] == "python" for s in json.load(open(sys.argv[1]))["sites"]))' "$W/pyoff.end.json")
        if [ "$n" = 0 ]; then
            pass pyframes-off "HEAPLINE_PYTHON=off: no Python site"
        else
            fail pyframes-off "HEAPLINE_PYTHON=off: $n Python sites"
        fi
    fi

    # 6. a version without a layout row: one line, native frames only (pyenv's, when there)
    other=""
    for v in "$HOME"/.pyenv/versions/3.10*/bin/python3 "$HOME"/.pyenv/versions/3.9*/bin/python3; do
        [ -x "$v" ] && { other=$v; break; }
    done
    if [ -z "$other" ]; then
        skip pyframes-unknown-version "no CPython 3.10 or 3.9 here"
    else
        ver=$("$other" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        rec pyother -- "$other" -c 'x = [bytearray(100) for i in range(10)]'
        if recorded pyother 0 && reported pyother end; then
            said=$(grep -c "^heapline: Python $ver is not supported: native frames only$" "$W/pyother.log")
            n=$(python3 -c 'import json, sys; print(sum(s["module"] == "python" for s in json.load(open(sys.argv[1]))["sites"]))' "$W/pyother.end.json")
            if [ "$said" = 1 ] && [ "$n" = 0 ]; then
                pass pyframes-unknown-version "Python $ver: one line, native frames only"
            else
                fail pyframes-unknown-version "Python $ver: said $said times, $n Python sites: $(head -3 "$W/pyother.log" | tr '\n' ' ')"
            fi
        fi
    fi

    # 7. the seed's story, at the heap's peak (exact per event): leaky_service.py's own lines
    #    are the top sites, the loaders of all four apps live at its table line (2, 3, 2 and
    #    1 MiB a processor, 3 processors an app, 4 tables a loader, each a bytearray: object
    #    and buffer + 1); its fixed twin peaks while the 2nd, largest app is loaded, with only
    #    that app's loaders
    for s in leaky fixed; do
        rec "py$s" -- "$PY311" "$PWD/assets/${s}_service.py" --apps 4 --pause 20 --quiet
        recorded "py$s" 0 && reported "py$s" peak || continue
        judge "$(python3 - "$W/py$s.peak.json" "$s" "$PWD/assets/leaky_service.py" <<'PYEOF'
import json, sys
d, which = json.load(open(sys.argv[1])), sys.argv[2]
src = open(sys.argv[3]).read().split("\n")
table = 1 + next(i for i, t in enumerate(src) if "table = bytearray(nbytes)" in t)
top = d["sites"][:3]
desc = ", ".join(f"{s['function']} {s['file'].split('/')[-1]}:{s['line']} {s['live_bytes']} B" for s in top)
at_table = sum(s["live_bytes"] for s in d["sites"]
               if s["file"].endswith("leaky_service.py") and s["line"] == table)
mib, obj = 1 << 20, 56 + 1
if which == "leaky":
    want = (2 + 3 + 2 + 1) * 3 * mib + 4 * 3 * 4 * obj
    ok = all(s["file"].endswith("leaky_service.py") for s in top) and top[0]["line"] == table
    ok = ok and at_table == want
    print(f"PASS pyleaky: top sites at the peak {desc}" if ok else
          f"FAIL pyleaky: expected leaky_service.py:{table} first with {want} B and leaky_service.py "
          f"lines on top, got {at_table} B there; top: {desc}")
else:
    want = 3 * 3 * mib + 3 * 4 * obj
    print(f"PASS pyfixed: {at_table} B live at leaky_service.py:{table} at the peak: one app's loaders"
          if at_table == want else
          f"FAIL pyfixed: expected {want} B at leaky_service.py:{table} at the peak (the 2nd app "
          f"only), got {at_table}")
PYEOF
)"
    done
fi
