"""t_pythreads.py - each thread's allocations under its own Python lines.

usage: t_pythreads.py EXPECT.json

Three threads fill lists of bytearrays at their own lines while a fourth lists
a directory over and over (os.listdir releases the GIL around opendir(), whose
malloc is then made by a thread that does not hold the GIL), and the main
thread allocates at its own line meanwhile. Then the marker "done". A stack
built from the GIL holder's frames instead of the thread's own would put the
lister's blocks under another thread's line. It leaves with os._exit(0): the
state at the end of the recording is the state at the marker. EXPECT.json gets, for each
allocating line, [live bytes, live blocks] at the marker: a bytearray(n) is
two blocks, its object (bytearray.__basicsize__) and its buffer (n + 1).
"""
import ctypes
import json
import os
import sys
import threading
import time

N = 400
OBJ = bytearray.__basicsize__
go = threading.Barrier(5)
keep = {}


def mark(label):
    try:
        fn = ctypes.CDLL(None).heapline_mark
    except AttributeError:
        return
    fn.argtypes = [ctypes.c_char_p]
    fn(label.encode())


def fill_a():
    go.wait()
    mine = [None] * N
    for i in range(N):
        mine[i] = bytearray(1000)  # line a
        time.sleep(0) if i % 50 == 0 else None
    keep["a"] = mine


def fill_b():
    go.wait()
    mine = [None] * N
    for i in range(N):
        mine[i] = bytearray(2000)  # line b
        time.sleep(0) if i % 50 == 0 else None
    keep["b"] = mine


def fill_c():
    go.wait()
    mine = [None] * N
    for i in range(N):
        mine[i] = bytearray(3000)  # line c
        time.sleep(0) if i % 50 == 0 else None
    keep["c"] = mine


def lister():
    go.wait()
    for _ in range(300):
        os.listdir("/")  # line lister


def line_of(tag):
    with open(__file__) as f:
        for n, text in enumerate(f, 1):
            if text.rstrip().endswith("# line " + tag):
                return n
    raise SystemExit("no line " + tag)


def main():
    threads = [threading.Thread(target=f) for f in (fill_a, fill_b, fill_c, lister)]
    for t in threads:
        t.start()
    go.wait()
    mine = [None] * N
    for i in range(N):
        mine[i] = bytearray(500)  # line main
    for t in threads:
        t.join()
    mark("done")
    expect = {line_of(tag): [N * (OBJ + size + 1), 2 * N]
              for tag, size in (("a", 1000), ("b", 2000), ("c", 3000), ("main", 500))}
    expect["lister"] = line_of("lister")
    with open(sys.argv[1], "w") as f:
        json.dump(expect, f)
    os._exit(len(mine) - N)  # the state at the end is the state at the marker


if __name__ == "__main__":
    main()
