"""Checks `heapline backrefs --json` of tests/backrefs/pyservice.py.

usage: pycheck.py chain JSON WANT   (WANT: the one Python chain ending at a module
                                     global or class attribute, objgraph-style)
       pycheck.py cycle JSON
       pycheck.py census JSON READY (the program's own gc.get_objects() counts)
       pycheck.py growth JSON
"""
import json
import re
import sys


def fail(msg):
    print("FAIL %s: %s" % (sys.argv[1], msg))
    sys.exit(1)


def python_ends(r):
    """(line, hops) of chains ending at a module global or a class attribute."""
    out = []
    for line, chain in zip(r["python_chains"], r["chains"]):
        if chain and ("symbol" in chain[-1] and "type" in chain[-1]):
            out.append((line, chain))
    return out


def check_chain(r, want):
    ends = python_ends(r)
    if [line for line, _ in ends] != [want]:
        fail("python chains %r, want [%r]" % ([line for line, _ in ends], want))
    hops = [h for h in ends[0][1] if not h["part"]]
    end = hops[-1]
    if end["kind"] == "global":
        m = re.match(r".*<- module (\S+) global (\S+)$", want)
        if (end["symbol"], end["module"], end["type"]) != (m.group(2), m.group(1), "module"):
            fail("the end hop %r" % end)
    elif end["kind"] == "class":
        m = re.match(r".*<- class (\S+) attribute (\S+)$", want)
        if (end["symbol"], end["class"]) != (m.group(2), m.group(1)):
            fail("the end hop %r" % end)
    else:
        m = re.match(r".*<- (\S+) local (\S+)$", want)
        if (end["kind"], end["symbol"], end["frame"]) != ("stack", m.group(2), m.group(1)):
            fail("the end hop %r" % end)
    # every other shown hop: "TYPE VIA" as in the line
    named = ["%s %s" % (h["type"], h["via"]) if h["via"] else h["type"] for h in hops[:-1]]
    if " <- ".join(named) not in want:
        fail("hops %r do not spell %r" % (named, want))
    if r["unreachable"] or r["cycle"]:
        fail("flags %r" % r)


def main():
    r = json.load(open(sys.argv[2]))
    what = sys.argv[1]
    if what == "chain":
        check_chain(r, sys.argv[3])
    elif what == "cycle":
        if not (r["unreachable"] and r["cycle"] and r["chains"] == [] and r["python"]):
            fail("want unreachable by a cycle: %r" % r)
    elif what == "census":
        got = {t["type"]: (t["count"], t["bytes"]) for t in r["types"]}
        for name, n, size in re.findall(r"(\w+)=(\d+)/(\d+)", sys.argv[3]):
            if got.get(name) != (int(n), int(size)):
                fail("%s: census %r, gc.get_objects() %s/%s" % (name, got.get(name), n, size))
        if r["objects"] != sum(c for c, _ in got.values()):
            fail("objects %d != the sum of the rows" % r["objects"])
    elif what == "growth":
        rows = {t["type"]: t for t in r["growth"]}
        if "Tick" not in rows or rows["Tick"]["growth"] < 5:
            fail("Tick did not grow: %r" % r["growth"][:5])
        if any(t["growth"] <= 0 for t in r["growth"]):
            fail("a row that did not grow: %r" % r["growth"])
    print("ok   %s" % " ".join(sys.argv[1:2] + sys.argv[3:4]))


main()
