"""t_pyalloc.py - known Python allocations at known lines, for heapline's
per-line live bytes against the interpreter's own tracemalloc.

usage: t_pyalloc.py [STATS.json]

Builds a few structures (lines marked "# measured"), keeps them, puts the
marker "snapshot" on heapline's timeline and leaves with os._exit(0), so the
state at the end of the recording is the state at the marker (exact per
event, whatever the load). With STATS.json, tracemalloc runs from before the
measured lines and its statistics('lineno') for this file at the marker go to
STATS.json as {line: [bytes, blocks]}.

tracemalloc keeps its own tables with malloc, inside the traced calls (about
two blocks a traced block, at the traced line): under heapline they would be
counted at the same lines. So the figures come from twin runs that differ only
by tracemalloc.start() (a C call that makes no Python object): run it once
with STATS.json and once without, under heapline.
"""
import ctypes
import json
import os
import sys
import tracemalloc


def mark(label):
    try:
        fn = ctypes.CDLL(None).heapline_mark
    except AttributeError:
        return
    fn.argtypes = [ctypes.c_char_p]
    fn(label.encode())


class Node:
    def __init__(self, i):
        self.payload = bytearray(100 + i)  # measured
        self.name = "node-%d" % i  # measured


def build():
    nodes = [Node(i) for i in range(300)]  # measured
    table = {i: [i] * (i % 17) for i in range(500)}  # measured
    blobs = [bytes(1000 + i) for i in range(64)]  # measured
    text = ["line %d of the text" % i for i in range(200)]  # measured
    return nodes, table, blobs, text


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else None
    if out:
        tracemalloc.start()
    kept = build()
    if out:
        snap = tracemalloc.take_snapshot()
    mark("snapshot")
    if out:
        stats = {}
        for s in snap.statistics("lineno"):
            if s.traceback[0].filename == __file__:
                stats[s.traceback[0].lineno] = [s.size, s.count]
        with open(out, "w") as f:
            json.dump(stats, f)
    sys.stdout.flush()
    os._exit(len(kept) - 4)


if __name__ == "__main__":
    main()
