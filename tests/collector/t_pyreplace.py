"""t_pyreplace.py - new code objects at a dead one's address, between two walks.

usage: t_pyreplace.py N

Makes N functions f_00000 ... f_{N-1} one after another with code.replace()
(file <code-i>, first line 1 + i % 7), each a new code object of the same
size built in one allocation, which malloc gives the address of the one just
freed; each is called once and allocates a bytearray of 100000 bytes, then is
dropped. Recorded with HEAPLINE_SAMPLE=64K, the allocations between two of
those blocks are seldom sampled, so the walk that names a block often finds
the last sampled walk's frame, at the same depth, reading the same code
address and instruction: every block must still be named by its own
function, file and line.
"""
import sys
import types


def base():
    return bytearray(100000)


N = int(sys.argv[1])
NAMES = [f"f_{i:05d}" for i in range(N)]
FILES = [f"<code-{i:05d}>" for i in range(N)]


def main():
    for i in range(N):
        code = base.__code__.replace(co_name=NAMES[i], co_qualname=NAMES[i],
                                     co_filename=FILES[i], co_firstlineno=1 + i % 7)
        f = types.FunctionType(code, {"bytearray": bytearray})
        del code
        f()
        del f


main()
