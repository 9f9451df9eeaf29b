"""The seed's shape in Python, for tests/backrefs/run.sh (run with PYTHONMALLOC=malloc).

Five apps are loaded; each Processor owns a ResourceLoader whose table holds a
bytearray, and a module-global instance_map keeps every Processor alive. A
Cached class keeps one more Processor in a class attribute, and two Nodes hold
only each other (the gc is off, so the cycle stays). A module-global Stale's
values array keeps the address of app-3's table list in the unwritten part of
its prefix, as a chunk's earlier use leaves it (no reference: the scan must
not take it for one); so does the slot of a module-global deque that a Job
was popped from, the Job now held by a list in the module-global done.
Prints one line
"ready KEY=VALUE ..." with addresses, and the census of its own classes
counted by gc.get_objects() and sys.getsizeof() (and its functions), while a
thread adds a Tick to a list every 20 ms (the census's growth); then waits for
stdin to close.
"""
import collections
import ctypes
import gc
import sys
from abc import ABC
import threading
import time


class ResourceLoader:
    def __init__(self, size):
        self.table = [bytearray(size)]


class Processor(ABC):  # as the seed's: its class is an ABCMeta
    def __init__(self, name, size):
        self.name = name
        self.loader = ResourceLoader(size)


class Cached(ABC):
    keep = {}


class Node:
    def __init__(self):
        self.other = None


class Tick:
    pass


class Stale:
    pass


class Job:
    pass


def stale_prefix(obj, addr):
    """Writes addr in the first word of obj's values array's prefix (3.11:
    the values pointer is 4 words before the object; the prefix's last byte
    is its size, the bytes before it the insertion order, the first never
    written by CPython)."""
    values = ctypes.c_uint64.from_address(id(obj) - 32).value
    prefix = ctypes.c_uint8.from_address(values - 1).value
    assert prefix >= 16, prefix
    ctypes.c_uint64.from_address(values - prefix).value = addr


ticks = []


def tick():
    while True:
        ticks.append(Tick())
        time.sleep(0.02)


def main():
    gc.disable()
    for i in range(5):
        name = "app-%d" % i
        instance_map[name] = Processor(name, 100000 + i)
    Cached.keep["x"] = Processor("cached", 1000)
    cached = id(Cached.keep["x"])
    held = Processor("held", 2000)  # a local of this live frame only
    a, b = Node(), Node()
    a.other, b.other = b, a
    cycle = id(a)
    del a, b
    buf = instance_map["app-3"].loader.table[0]
    for i in range(3):  # a work queue: the popped job's slot keeps its address
        queue.append(Job())
    done["all"].append(queue.popleft())
    job = id(done["all"][0])
    stale.x = None
    stale_prefix(stale, id(instance_map["app-3"].loader.table))
    threading.Thread(target=tick, daemon=True).start()
    time.sleep(0.1)  # its start-up objects are made before the count
    counts = {}
    for o in gc.get_objects():
        t = type(o).__name__
        if t in ("Processor", "ResourceLoader", "Node", "function"):
            n, size = counts.get(t, (0, 0))
            counts[t] = (n + 1, size + sys.getsizeof(o))
    census = " ".join("%s=%d/%d" % (t, n, s) for t, (n, s) in sorted(counts.items()))
    print("ready app3=0x%x cycle=0x%x cached=0x%x local=0x%x job=0x%x %s"
          % (id(buf), cycle, cached, id(held), job, census), flush=True)
    del buf
    sys.stdin.read()


instance_map = {}
stale = Stale()
queue = collections.deque()
done = {"all": []}
main()
