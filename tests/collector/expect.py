#!/usr/bin/env python3
"""expect.py - check a `heapline report --json` output against expected figures.

usage: expect.py NAME REPORT.json EXPR...

EXPR (site figures are summed over every site whose function is FUNC; C++
names match without their parameter list; a missing site counts as zeros):
  FUNC.FIELD=N     exact     (FIELD: allocations bytes_allocated live_blocks live_bytes peak_bytes)
                   (FUNC@LINE.FIELD=N: only the sites of FUNC at that line)
  FUNC.FIELD>=N    at least; FUNC.FIELD<=N at most
  .FIELD=N         a total of the report (.FIELD>=N, .FIELD<=N too)
  FUNC.module~SUB  every site of FUNC has SUB in its module
  FUNC!            no site of FUNC allocated anything
  ~REGEX           some site's function matches REGEX (re.search)
  named>=P         at least P% of the allocations are at sites with a function name
                   (Python's <module>, <listcomp>... are names)
  sites<=N         at most N sites listed (--top N)
  sorted           sites are listed largest live bytes first
  FUNC@LINE.stack~REGEX  the site's stack, written leaf first as "function@line>..."
                   (functions without their parameter list), matches REGEX (re.search)
  a2l=EXE          every frame of EXE in the sites' stacks is what `addr2line -f -i -C`
                   says of its address: the inlined functions one frame each, in order,
                   each with its own file (base name) and line
  llvm=EXE         the same against llvm-symbolizer (for clang's DWARF 5, which binutils
                   2.40's addr2line misreads)
  nonneg           no live figure is negative, anywhere
  consistent       totals equal the sum over sites (allocations, bytes_allocated,
                   live_blocks, live_bytes), and each site's figures the sum over its
                   callers when all are listed; needs every site in the report. Also:
                   the sites' live_at_peak add up to peak_bytes, and no tick's totals or
                   exact peak disagreed with the events (tick_mismatches 0)
Prints "PASS NAME" or "FAIL NAME: what differed, expected vs got"; exits 1 on FAIL.
"""
import json
import os
import re
import subprocess
import sys


def base(fn):
    fn = fn or ""
    i = fn.find("(")
    return fn[:i] if i > 0 else fn


def symbolize(tool, exe, addr):
    """[(function, file base name, line)] of addr, innermost first."""
    if tool == "llvm":
        cmd = ["llvm-symbolizer", "--inlines", "--demangle", f"--obj={exe}", hex(addr)]
    else:
        cmd = ["addr2line", "-f", "-i", "-C", "-e", exe, hex(addr)]
    out = [x for x in subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines() if x]
    frames = []
    for k in range(0, len(out) - 1, 2):
        loc = out[k + 1].partition(" ")[0].split(":")
        fl, ln = loc[0], loc[1] if len(loc) > 1 else "0"
        frames.append((base(out[k]), os.path.basename(fl) if fl not in ("??", "") else "",
                       int(ln) if ln.isdigit() else 0))
    return frames


def a2l_check(tool, exe, sites):
    """The frames of exe in the sites' stacks against addr2line -f -i -C (or
    llvm-symbolizer): one run of frames at one offset is one address,
    innermost first."""
    errs, seen = [], set()
    mod = os.path.basename(exe)
    for s in sites:
        st = s.get("stack", [])
        i = 0
        while i < len(st):
            j = i
            while j + 1 < len(st) and st[j].get("inlined") and st[j + 1].get("offset") == st[i].get("offset"):
                j += 1
            run, i = st[i:j + 1], j + 1
            off = run[0].get("offset")
            if run[0].get("module") != mod or off in seen or not off:
                continue
            seen.add(off)
            want = symbolize(tool, exe, off - 1)
            got = [(base(f.get("function")), os.path.basename(f.get("file") or ""), f.get("line"))
                   for f in run]
            if got != want:
                errs.append(f"{mod}+{off - 1:#x}: {tool} says {want}, the stack has {got}")
    if not seen:
        errs.append(f"no frame of {mod} in any stack")
    return errs


def main():
    name, path, exprs = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        with open(path) as f:
            text = f.read()
        rep = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        snippet = text[:160].replace("\n", " ") if "text" in locals() else ""
        print(f"FAIL {name}: report is not JSON ({e}): {snippet!r}")
        return 1
    sites = rep.get("sites") or []
    errs = []

    def of(func):
        func, _, line = func.partition("@")
        return [s for s in sites if base(s.get("function")) == func
                and (not line or s.get("line") == int(line))]

    def fig(func, field):
        if func == "":
            return rep.get(field)
        return sum(s.get(field) or 0 for s in of(func))

    for e in exprs:
        m = re.fullmatch(r"([\w:~]*(?:@\d+)?)\.stack~(.+)", e)
        if m:
            stacks = [">".join(f"{base(f.get('function'))}@{f.get('line')}" for f in s.get("stack", []))
                      for s in of(m.group(1))]
            if not any(re.search(m.group(2), st) for st in stacks):
                errs.append(f"{m.group(1)}.stack expected /{m.group(2)}/ got {stacks or '(no such site)'}")
            continue
        m = re.fullmatch(r"(a2l|llvm)=(.+)", e)
        if m:
            errs += a2l_check(m.group(1), m.group(2), sites)
            continue
        m = re.fullmatch(r"([\w:~]*(?:@\d+)?)\.(\w+)(=|>=|<=)(-?\d+)", e)
        if m:
            func, field, op, want = m.group(1), m.group(2), m.group(3), int(m.group(4))
            got = fig(func, field)
            ok = got is not None and (
                (op == "=" and got == want) or (op == ">=" and got >= want) or (op == "<=" and got <= want))
            if not ok:
                where = func or "total"
                more = "" if (func == "" or of(func)) else " (no such site)"
                errs.append(f"{where}.{field} expected {op if op != '=' else ''}{want} got {got}{more}")
            continue
        m = re.fullmatch(r"(\w+)\.module~(.+)", e)
        if m:
            func, sub = m.group(1), m.group(2)
            mods = [s.get("module") for s in of(func)]
            if not mods or any(sub not in (x or "") for x in mods):
                errs.append(f"{func}.module expected *{sub}* got {mods or '(no such site)'}")
            continue
        m = re.fullmatch(r"(\w+)!", e)
        if m:
            func = m.group(1)
            if fig(func, "allocations"):
                errs.append(f"{func} expected absent got {fig(func, 'allocations')} allocations")
            continue
        if e.startswith("~"):
            rx = re.compile(e[1:])
            if not any(rx.search(s.get("function") or "") for s in sites):
                names = sorted({s.get("function") or "?" for s in sites})[:8]
                errs.append(f"no site function matches /{e[1:]}/ (some are: {names})")
            continue
        m = re.fullmatch(r"named>=(\d+)", e)
        if m:
            tot = sum(s.get("allocations") or 0 for s in sites)
            named = sum(s.get("allocations") or 0 for s in sites
                        if re.match(r"[A-Za-z_<]", s.get("function") or "")
                        and not re.match(r"\?\?|0x", s.get("function") or ""))
            pct = 100.0 * named / tot if tot else 0.0
            if pct < int(m.group(1)):
                errs.append(f"allocations at named sites expected >={m.group(1)}% got {pct:.1f}%")
            continue
        m = re.fullmatch(r"sites<=(\d+)", e)
        if m:
            if len(sites) > int(m.group(1)):
                errs.append(f"{len(sites)} sites listed, expected at most {m.group(1)} (--top)")
            continue
        if e == "sorted":
            lb = [s.get("live_bytes") or 0 for s in sites]
            if lb != sorted(lb, reverse=True):
                errs.append(f"sites not sorted by live bytes, largest first: {lb[:8]}")
            continue
        if e == "nonneg":
            for s in sites + [rep]:
                for field in ("live_blocks", "live_bytes"):
                    if (s.get(field) or 0) < 0:
                        errs.append(f"{s.get('function', 'total')}.{field} negative: {s.get(field)}")
            continue
        if e == "consistent":
            for field in ("allocations", "bytes_allocated", "live_blocks", "live_bytes"):
                tot, ssum = rep.get(field), sum(s.get(field) or 0 for s in sites)
                if tot != ssum:
                    errs.append(f"total {field} {tot} != sum over {len(sites)} sites {ssum}")
                # a site's callers, when all are listed, add up to the site
                for s in sites:
                    if "callers" in s and "more_callers" not in s:
                        csum = sum(c.get(field) or 0 for c in s["callers"])
                        if csum != (s.get(field) or 0):
                            errs.append(f"{s.get('function')}: {field} {s.get(field)} != "
                                        f"sum over its callers {csum}")
            # the sites' bytes at the global peak add up to the peak
            psum = sum(s.get("live_at_peak") or 0 for s in sites)
            if psum != rep.get("peak_bytes"):
                errs.append(f"peak_bytes {rep.get('peak_bytes')} != sum of live_at_peak {psum}")
            # every tick's totals and exact peak agree with the events before it
            if rep.get("tick_mismatches"):
                errs.append(f"{rep.get('tick_mismatches')} ticks disagree with the events")
            continue
        errs.append(f"bad expression {e!r}")

    if errs:
        print(f"FAIL {name}: " + "; ".join(errs))
        return 1
    print(f"PASS {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
