#!/usr/bin/env python3
"""sampled.py - check a sampled recording's report against an exact one of the same program.

usage: sampled.py NAME EXACT.json SAMPLED.json RATE USABLE [SITE...]

- the sampled report says sampled=true, sample_rate=RATE, and every site estimated=true with
  a live_bytes_error; the exact one sampled=false, sample_rate=0, estimated=false
- totals are exact: allocations, frees, bytes_allocated and live_blocks equal the exact run's
  (but for the worker thread's DTV, below);
  live_bytes are usable bytes: USABLE (what the program summed with malloc_usable_size over
  its blocks) plus glibc's usable size of each block outside SITE... (the C library's own)
- every site of the exact run holding at least 400 RATE intervals live (the estimator's own
  standard error is then at most 5%) is estimated within 10% (live_bytes), and its live_bytes
  error bound is at most 10% of its estimate; at least one such site exists
- a site with nothing live in the exact run has nothing live in the sampled one (all its
  samples freed), and a site of blocks of RATE bytes or more is exact
Prints "PASS NAME: ..." or "FAIL NAME: what differed"; exits 1 on FAIL.
"""
import json
import sys


def glibc_usable(n):
    chunk = max(32, (n + 8 + 15) & ~15)
    return chunk - 8


def main():
    name, ej, sj, rate, usable = sys.argv[1:6]
    own = set(sys.argv[6:])
    rate, usable = int(rate), int(usable)
    e, s = json.load(open(ej)), json.load(open(sj))
    bad = []
    if e.get("sampled") is not False or e.get("sample_rate") != 0:
        bad.append(f"exact run: sampled={e.get('sampled')} sample_rate={e.get('sample_rate')}")
    if s.get("sampled") is not True or s.get("sample_rate") != rate:
        bad.append(f"sampled run: sampled={s.get('sampled')} sample_rate={s.get('sample_rate')}")
    # glibc sizes a new thread's DTV (calloc'd by pthread_create) by the TLS modules loaded
    # then: the collector loads libdw and libelf (two such modules) before main in exact mode,
    # when it first names a frame in sampling mode, so the worker's DTV may be 16 bytes a
    # module smaller in the sampled run (live at the end: glibc keeps the stack)
    dtv = e["bytes_allocated"] - s["bytes_allocated"]
    if dtv not in (0, 16, 32):
        dtv = 0
    for k in ("allocations", "frees", "bytes_allocated", "live_blocks"):
        if e[k] != s[k] + (dtv if k == "bytes_allocated" else 0):
            bad.append(f"total {k}: exact {e[k]}, sampled {s[k]}")
    other = sum(glibc_usable(x["live_bytes"] // max(1, x["live_blocks"])) * x["live_blocks"]
                for x in e["sites"] if x["function"] not in own and x["live_blocks"] > 0) - dtv
    if s["live_bytes"] != usable + other:
        bad.append(f"live_bytes (usable): expected {usable} + {other}, got {s['live_bytes']}")
    est = {x["function"]: x for x in s["sites"]}
    for x in s["sites"]:
        if x.get("estimated") is not True or "live_bytes_error" not in x:
            bad.append(f"site {x['function']}: estimated={x.get('estimated')}")
    checked = []
    for x in e["sites"]:
        f = x["function"]
        got = est.get(f, {"live_bytes": 0, "live_bytes_error": 0})
        if x.get("estimated") is not False:
            bad.append(f"exact site {f}: estimated={x.get('estimated')}")
        if x["live_bytes"] >= 400 * rate:
            rel = abs(got["live_bytes"] - x["live_bytes"]) / x["live_bytes"]
            checked.append(f"{f} {100 * rel:.1f}%")
            if rel > 0.10:
                bad.append(f"site {f}: estimate {got['live_bytes']}, exact {x['live_bytes']} "
                           f"({100 * rel:.1f}% off)")
            if got["live_bytes_error"] > 0.10 * got["live_bytes"]:
                bad.append(f"site {f}: bound {got['live_bytes_error']} over 10% of "
                           f"{got['live_bytes']}")
        elif x["live_bytes"] == 0 and got["live_bytes"] != 0:
            bad.append(f"site {f}: nothing live, estimate {got['live_bytes']}")
        elif x["live_blocks"] and x["live_bytes"] // x["live_blocks"] >= rate and \
                got["live_bytes"] != x["live_bytes"]:
            bad.append(f"site {f}: blocks >= rate, exact {x['live_bytes']}, got {got['live_bytes']}")
    if not checked:
        bad.append(f"no site holds 400 intervals of {rate} bytes")
    if bad:
        print(f"FAIL {name}: " + "; ".join(bad))
        sys.exit(1)
    print(f"PASS {name}: totals exact, estimates off by {', '.join(checked)}")


main()
