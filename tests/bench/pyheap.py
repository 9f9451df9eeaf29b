"""A large Python heap for the Python backreference figure (tests/bench/pyscan.sh).

N apps (argv[1], default 150000), each a Processor owning a ResourceLoader
whose table holds a 1 KB bytearray and a dict of ten small strings, kept by a
module-global instance_map: about 2.3 KB and 40 blocks an app under
PYTHONMALLOC=malloc. Prints "ready app=0xADDR" (the bytearray of the middle
app) and waits for stdin to close.
"""
import sys


class ResourceLoader:
    def __init__(self, i):
        self.table = [bytearray(1024)]
        self.words = {"w%d" % k: "v%d-%d" % (k, i) for k in range(10)}


class Processor:
    def __init__(self, i):
        self.name = "app-%d" % i
        self.loader = ResourceLoader(i)


instance_map = {}
n = int(sys.argv[1]) if len(sys.argv) > 1 else 150000
for i in range(n):
    instance_map["app-%d" % i] = Processor(i)
print("ready app=0x%x" % id(instance_map["app-%d" % (n // 2)].loader.table[0]), flush=True)
sys.stdin.read()
