"""For tests/e2e: three Doomed objects (tuples of 2000 items, 16 KB blocks) kept
in a list until a line "drop" on stdin frees them; prints "ready PID", then
"dropped" after each drop; ends when stdin closes."""
import os
import sys


class Doomed(tuple):
    pass


keep = [Doomed(range(2000)) for _ in range(3)]
print("ready %d" % os.getpid(), flush=True)
for line in sys.stdin:
    if line.strip() == "drop":
        keep.clear()
        print("dropped", flush=True)
