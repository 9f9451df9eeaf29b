# tests/bench/real_json.py N - the python3 workload of run.sh's "real programs": build a dict of
# N small records, dump it to JSON and load it back (about 50 allocation calls per record under
# PYTHONMALLOC=malloc).
import json
import random
import sys

N = int(sys.argv[1])
random.seed(1)
d = {str(i): {"id": i, "name": "x" * (i % 50), "tags": [random.random() for _ in range(3)]} for i in range(N)}
s = json.dumps(d)
e = json.loads(s)
print(len(s), len(e))
