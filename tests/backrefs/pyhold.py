# pyhold.py - holds a JSON document, its parse, buffers and an instance, then
# prints "ready ADDR" (the instance) and waits for its stdin to close.
import json
import sys

data = {"k%d" % i: [i, str(i) * 3, {"x": i}] for i in range(20000)}
text = json.dumps(data)
parsed = json.loads(text)
buffers = [bytearray(100 + i % 500) for i in range(3000)]
big = [bytearray(300000) for i in range(3)]


class Holder:
    pass


holder = Holder()
holder.items = buffers
print("ready", hex(id(holder)), flush=True)
sys.stdin.read()
