"""t_pycodes.py - code objects that die, and whose addresses are reused.

usage: t_pycodes.py N

Compiles N functions one after another, f_0 ... f_{N-1}, each in its own file
name <code-i> and with its own line (1 + i % 7); names and file names are not
all ASCII (NAMES, FILES: Latin-1, other BMP and astral characters, which
CPython stores 1, 2 and 4 bytes a character); each returns one bytearray
of 1000 + i bytes, which is kept, and the function (and its code object) is
dropped at once, so the next one is often built at the same address. Then the
marker "done". Every block must stay named by the function that made it.
"""
import ctypes
import os
import sys


def mark(label):
    try:
        fn = ctypes.CDLL(None).heapline_mark
    except AttributeError:
        return
    fn.argtypes = [ctypes.c_char_p]
    fn(label.encode())


NAMES = ["", "_größe", "_名前"]
FILES = ["", "-é", "-😀"]


def name(i):
    return f"f_{i}{NAMES[i % 3]}"


def file(i):
    return f"<code-{i}{FILES[i % 5 if i % 5 < 3 else 0]}>"


def main():
    keep = []
    for i in range(int(sys.argv[1])):
        src = "\n" * (i % 7) + f"def {name(i)}():\n    return bytearray({1000 + i})\n"
        ns = {}
        exec(compile(src, file(i), "exec"), ns)
        keep.append(ns[name(i)]())
        del ns
    mark("done")
    os._exit(len(keep) - int(sys.argv[1]))  # the end of the recording is the marker's state


if __name__ == "__main__":
    main()
