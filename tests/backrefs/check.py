#!/usr/bin/env python3
"""check.py SCENARIO READY_LINE JSON_FILE [MODULE_DIR]: asserts the exact chains
`heapline backrefs --json` printed for a scenario of graphs.c."""
import json
import os
import sys

scenario, ready, path = sys.argv[1], sys.argv[2], sys.argv[3]
fields = dict(kv.split("=", 1) for kv in ready.split()[1:])
p = [fields.get("p%d" % i) for i in range(4)]
r = json.load(open(path))


def fail(msg):
    print("FAIL %s: %s\n%s" % (scenario, msg, json.dumps(r, indent=1)))
    sys.exit(1)


def eq(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def hop_global(h, symbol, module, interior=0):
    eq("kind", h["kind"], "global")
    eq("symbol", h["symbol"], symbol)
    eq("module", os.path.basename(h["module"]), module)
    eq("offset", h["offset"], 0)
    eq("interior", h["interior"], interior)


def hop_heap(h, addr, size, function, offset, inbound=1):
    eq("kind", h["kind"], "heap")
    eq("address", int(h["address"], 16), int(addr, 16))
    eq("size", h["size"], size)
    eq("function", h["function"], function)
    eq("offset", h["offset"], offset)
    eq("inbound", h["inbound"], inbound)
    eq("interior", h["interior"], 0)


t = r["target"]
eq("target address", int(t["address"], 16), int(p[2 if scenario == "site" else 0], 16))
chains = r["chains"]
if scenario == "global":
    eq("target", (t["size"], t["function"], t["inbound"]), (100, "alloc_target", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    hop_global(chains[0][0], "g_holder", "graphs")
elif scenario == "static":
    eq("target", (t["size"], t["function"], t["inbound"]), (200, "alloc_target", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    hop_global(chains[0][0], "s_holder", "graphs")
elif scenario == "dlopen":
    eq("target", (t["size"], t["function"], t["inbound"]), (300, "alloc_target", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    hop_global(chains[0][0], "brlib_holder", "libbrlib.so")
elif scenario == "stack":
    eq("target", (t["size"], t["function"], t["inbound"]), (72, "alloc_target", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    h = chains[0][0]
    eq("kind", h["kind"], "stack")
    eq("thread", h["thread"], 2)
    eq("tid known", h.get("tid", 0) > 0, True)
    # the thread is blocked in pause(): its stack was scanned from its sp
    eq("live_frame", h["live_frame"], True)
elif scenario in ("chain", "threads"):
    eq("target", (t["size"], t["function"], t["inbound"]), (128, "alloc_target", 1))
    eq("chains", len(chains), 1)
    c = chains[0]
    eq("hops", len(c), 4)
    hop_heap(c[0], p[1], 64, "alloc_link_a", 16)
    hop_heap(c[1], p[2], 48, "alloc_link_b", 8)
    hop_heap(c[2], p[3], 96, "alloc_link_c", 24)
    hop_global(c[3], "g_chain", "graphs")
    eq("unreachable", r["unreachable"], False)
elif scenario == "interior":
    eq("target", (t["size"], t["function"], t["inbound"]), (256, "alloc_target", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    hop_global(chains[0][0], "g_interior", "graphs", interior=40)
elif scenario == "cycle":
    eq("target", (t["size"], t["function"], t["inbound"]), (64, "alloc_link_a", 1))
    eq("chains", chains, [])
    eq("unreachable", r["unreachable"], True)
    eq("holders", len(r["holders"]), 1)
    hop_heap(r["holders"][0], p[1], 48, "alloc_link_b", 40)
    eq("points_to", int(r["holders"][0]["points_to"], 16), int(p[0], 16))
elif scenario == "deadframe":
    # the only copies are in dead frames of a thread blocked in read()
    eq("target", (t["size"], t["function"], t["inbound"]), (88, "alloc_target", 0))
    eq("chains", chains, [])
    eq("unreachable", r["unreachable"], True)
elif scenario == "exited":
    # the only copy is in the stack of a thread that has ended, kept mapped in glibc's
    # stack cache: no reference (it was "held" by "[anon LO-HI]" once such a stack
    # was read as the program's memory)
    eq("target", (t["size"], t["function"], t["inbound"]), (56, "alloc_target", 0))
    eq("chains", chains, [])
    eq("unreachable", r["unreachable"], True)
elif scenario == "arena":
    eq("target", (t["size"], t["function"], t["inbound"]), (24, "alloc_target", 0))
    eq("chains", chains, [])
    eq("unreachable", r["unreachable"], True)
elif scenario == "pool":
    # held from an anonymous mapping the program made: a root named by its range
    eq("target", (t["size"], t["function"], t["inbound"]), (120, "alloc_target", 1))
    eq("unreachable", r["unreachable"], False)
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 1)
    h = chains[0][0]
    pool = int(p[1], 16)
    eq("kind", h["kind"], "global")
    eq("symbol", h.get("symbol"), None)
    m = h["module"]
    if not (m.startswith("[anon 0x") and m.endswith("]")):
        fail("module: got %r, want [anon LO-HI]" % m)
    lo, hi = (int(x, 16) for x in m[6:-1].split("-"))
    if not (lo <= pool and pool + 65536 <= hi):
        fail("the range %s does not hold the pool at %#x" % (m, pool))
    eq("address", int(h["address"], 16), pool + 4112)
    eq("offset", h["offset"], pool + 4112 - lo)
elif scenario == "fiber":
    # held only by a suspended fiber's stack under its guard page: a root named by its
    # range (it was "unreachable: leaked" while a mapping with a guard below was taken
    # for some thread's stack and left out)
    eq("target", (t["size"], t["function"]), (40, "alloc_target"))
    eq("unreachable", r["unreachable"], False)
    stk = int(p[1], 16)
    ends = []
    for c in chains:
        m = c[-1].get("module") or ""
        if c[-1]["kind"] == "global" and m.startswith("[anon 0x"):
            lo, hi = (int(x, 16) for x in m[6:-1].split("-"))
            ends.append(lo <= stk and stk + 256 * 1024 - 4096 <= hi)
    eq("a chain ends at the fiber's stack", any(ends), True)
elif scenario == "site":
    # --site alloc_link_b on the chain: b <- c (+24) <- g_chain
    eq("target", (t["size"], t["function"], t["inbound"]), (48, "alloc_link_b", 1))
    eq("chains", len(chains), 1)
    eq("hops", len(chains[0]), 2)
    hop_heap(chains[0][0], p[3], 96, "alloc_link_c", 24)
    hop_global(chains[0][1], "g_chain", "graphs")
else:
    fail("unknown scenario")
print("ok   %s" % scenario)
