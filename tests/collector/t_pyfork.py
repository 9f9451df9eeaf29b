"""t_pyfork.py - Python frames across os.fork().

usage: t_pyfork.py EXPECT.json

The parent allocates at its line, forks; the child allocates at its own line,
marks "child" and leaves with os._exit(0); the parent waits for it, marks
"parent" and leaves the same way: the state at the end of each recording is
the state at its marker. EXPECT.json: {"parent": [line, bytes, blocks], "child": [...]}.
"""
import ctypes
import json
import os
import sys

N = 200
OBJ = bytearray.__basicsize__


def mark(label):
    try:
        fn = ctypes.CDLL(None).heapline_mark
    except AttributeError:
        return
    fn.argtypes = [ctypes.c_char_p]
    fn(label.encode())


def in_parent(keep):
    for i in range(N):
        b = bytearray(700)
        keep.append(b)


def in_child(keep):
    for i in range(N):
        b = bytearray(900)
        keep.append(b)


def main():
    code = in_parent.__code__
    parent_line = code.co_firstlineno + 2
    child_line = in_child.__code__.co_firstlineno + 2
    keep = []
    in_parent(keep)
    pid = os.fork()
    if pid == 0:
        mine = []
        in_child(mine)
        mark("child")
        os._exit(len(mine) - N)
    _, status = os.waitpid(pid, 0)
    mark("parent")
    with open(sys.argv[1], "w") as f:
        json.dump({"parent": [parent_line, N * (OBJ + 701), 2 * N],
                   "child": [child_line, N * (OBJ + 901), 2 * N], "status": status}, f)
    os._exit(len(keep) - N)


if __name__ == "__main__":
    main()
