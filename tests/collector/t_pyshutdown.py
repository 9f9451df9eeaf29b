"""t_pyshutdown.py - interpreter shutdown while daemon threads allocate, with
and without the GIL (os.listdir), and a subinterpreter's allocations (native
frames only: subinterpreters are not walked).

usage: t_pyshutdown.py
Exits 0 if nothing went wrong; the collector must neither crash nor hang.
"""
import os
import threading
import time

import _xxsubinterpreters as interpreters


def churn(k):
    keep = []
    while True:
        keep.append(bytearray(100 + k))
        if len(keep) > 1000:
            keep.clear()
        os.listdir("/")


def main():
    for k in range(4):
        threading.Thread(target=churn, args=(k,), daemon=True).start()
    sub = interpreters.create()
    interpreters.run_string(sub, "blocks = [bytearray(4321) for i in range(100)]")
    interpreters.destroy(sub)
    time.sleep(0.2)
    print("exiting with daemon threads running", flush=True)


if __name__ == "__main__":
    main()
