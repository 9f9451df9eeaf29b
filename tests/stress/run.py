#!/usr/bin/env python3
"""tests/stress/run.py - misbehaving clients against a program under the collector.

    BUILD=build tests/stress/run.py [--full] [--only GROUP,...]

The short form (make test) holds 300k blocks and asserts what the design
promises strictly (what the clients hold <= 64 MB, every request answered or
refused with its status, the scan cap, tracking never off, a newcomer served
past 64 idle clients, answers ahead of the stream, the CPU time of a turn of
request work) and the time figures with a margin for a loaded machine (throughput per CPU second of the program, best of
two interleaved runs, >= 50%: one build's runs move by +-30% on a shared
machine); --full (make stress) holds 2M blocks and asserts issue 12's figures
exactly. Each figure is printed as measured. --only runs the named groups of
checks alone (mix, stalls, scans, priority, lockout, backrefs, address-space;
mix and stalls with their runs without clients), to measure one
figure again and again.
"""
import os, resource, subprocess, sys, time

FULL = "--full" in sys.argv
GROUPS = ["mix", "stalls", "scans", "priority", "lockout", "backrefs", "address-space"]
ONLY = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv[:-1] else GROUPS
if set(ONLY) - set(GROUPS):
    raise SystemExit(f"run.py: --only takes some of {','.join(GROUPS)}")
BUILD = os.environ.get("BUILD", "build")
ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
os.chdir(ROOT)
OUT = f"{BUILD}/tests/stress"
os.makedirs(OUT, exist_ok=True)
LIB = os.path.realpath(f"{BUILD}/libheapline.so")
HL = f"{BUILD}/heapline"
HOLD = 2000000 if FULL else 300000
SECS = 5 if FULL else 3
# time figures: exact in --full, with margin in the short form
WAIT_MS = 50 if FULL else 5000
THROUGHPUT = 0.95 if FULL else 0.5
BACKREFS_S = 3 if FULL else 10
# CPU time of the longest turn of request work: a request waits for the
# collector to catch up with its time in the collector's own drain passes,
# never inside a turn (that took 82 ms of CPU a turn here, against 6.5-8.9
# ms since; the rest is mostly a scan's fork)
TURN_MS = 80 if FULL else 40
MEM_MB = 64

fails = 0


def check(ok, name, detail):
    global fails
    print(("PASS " if ok else "FAIL ") + name + ": " + detail, flush=True)
    if not ok:
        fails += 1
    return ok


def build():
    cc = os.environ.get("CC", "cc")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "msgpack"], capture_output=True,
                           text=True).stdout.split() or ["-lmsgpackc"]
    subprocess.run([cc, "-O1", "-g", "-fno-omit-frame-pointer", "-o", f"{OUT}/target",
                    "tests/stress/target.c", "-lpthread"], check=True)
    subprocess.run([cc, "-O2", "-g", "-std=c11", "-D_GNU_SOURCE", "-Iprotocol", "-o",
                    f"{OUT}/hammer", "tests/stress/hammer.c", f"{BUILD}/libhlproto.a", "-lzstd"]
                   + flags, check=True)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_s(pid):
    """User + system CPU seconds of the whole process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def collector_cpu_s(pid):
    """CPU seconds of the collector's thread (named heapline)."""
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/stat") as f:
                text = f.read()
            if "(heapline)" in text:
                fields = text.rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return 0.0


def children(pid):
    n = 0
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                n += len(f.read().split())
    except OSError:
        pass
    return n


def run(name, threads, hammer=None, hammer_secs=None, during=None, hold=None):
    """Runs the target; returns its figures (and the hammer's lines)."""
    sock = f"{OUT}/{name}.sock"
    if os.path.exists(sock):
        os.unlink(sock)
    env = dict(os.environ, LD_PRELOAD=LIB, HEAPLINE_SOCKET=sock, HEAPLINE_STATS="1")
    err = open(f"{OUT}/{name}.err", "w")
    p = subprocess.Popen([f"{OUT}/target", str(hold or HOLD), str(threads), str(SECS)], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
    r = {"name": name, "hammer": {}, "peak_kb": 0, "max_children": 0}
    line = p.stdout.readline()
    if not line.startswith("ready"):
        p.kill()
        raise SystemExit(f"FAIL {name}: the target did not get ready")
    for _ in range(400):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    h = None
    if hammer:
        h = subprocess.Popen([f"{OUT}/hammer", sock, hammer, str(hammer_secs or SECS + 2)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        started = h.stdout.readline()
        if not started.startswith("started"):
            print(started + h.stdout.read())
            raise SystemExit(f"FAIL {name}: the hammer did not start")
    cpu0, coll0 = cpu_s(p.pid), collector_cpu_s(p.pid)
    p.stdin.write("go\n")
    p.stdin.flush()
    extra = during(sock) if during else None
    os.set_blocking(p.stdout.fileno(), False)
    buf = ""
    while "ops" not in buf:
        r["peak_kb"] = max(r["peak_kb"], rss_kb(p.pid))
        r["max_children"] = max(r["max_children"], children(p.pid))
        try:
            buf += p.stdout.read() or ""
        except TypeError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.02)
    r["cpu_s"] = cpu_s(p.pid) - cpu0
    r["collector_s"] = collector_cpu_s(p.pid) - coll0
    f = buf.split()
    r["ops"] = int(f[f.index("ops") + 1])
    r["wait_ms"] = float(f[f.index("maxwait_us") + 1]) / 1000
    r["p9999_ms"] = float(f[f.index("p9999_us") + 1]) / 1000
    if h:
        while h.poll() is None:
            r["peak_kb"] = max(r["peak_kb"], rss_kb(p.pid))
            r["max_children"] = max(r["max_children"], children(p.pid))
            time.sleep(0.02)
        for line in h.stdout.read().splitlines():
            w = line.split()
            if w:
                r["hammer"][w[0]] = w[1:]
    p.stdin.close()
    p.wait(timeout=60)
    err.close()
    text = open(f"{OUT}/{name}.err").read()
    r["tracking_off"] = "tracking off" in text
    r["long_waits"] = [l for l in text.splitlines() if l.startswith("target: malloc waited")]
    held = [l for l in text.splitlines() if "clients held at most" in l]
    # the collector's own account (HEAPLINE_STATS); -1 when it gave none
    r["held_mb"] = int(held[-1].split()[-2]) / 2**20 if held else -1
    backlog = [l for l in text.splitlines() if "events waiting to be applied held at most" in l]
    # the collector's copies of events it has not applied yet: load makes it
    # lag, and its lag, not the clients, then grows these (-1: not said)
    r["backlog_mb"] = int(backlog[-1].split()[-2]) / 2**20 if backlog else -1
    turn = [l for l in text.splitlines() if "request work took at most" in l]
    r["turn_ms"] = int(turn[-1].split()[-7]) / 1000 if turn else -1
    r["extra"] = extra() if callable(extra) else extra
    print(f"  {name}: {r['ops']} ops in {r['cpu_s']:.2f} s of CPU ({r['collector_s']:.2f} s the "
          f"collector's), longest malloc {r['wait_ms']:.1f} ms "
          f"(99.99% under {r['p9999_ms']:.2f} ms), peak RSS {r['peak_kb'] // 1024} MB, "
          f"scan children at once {r['max_children']}, clients held at most "
          f"{r['held_mb']:.1f} MB, events waiting at most {r['backlog_mb']:.1f} MB, request work at most {r['turn_ms']:.1f} ms of CPU a turn, "
          f"hammer {r['hammer']}", flush=True)
    return r


def hv(r, key, i):
    try:
        return int(r["hammer"][key][i])
    except (KeyError, IndexError, ValueError):
        return -1


def memory_check(name, r, base, who):
    """The clients' memory in run r against base, the run without clients: what they held, and
    the peak RSS less what the collector's own lag took more in one run than in the other (a run
    that lagged more under the machine's load held more events waiting, with or without clients:
    114 and 162 MB peaks for two runs without clients; 84 to 133 MB over four, against a mix
    steady at 148-150 MB)."""
    added = (r["peak_kb"] - base["peak_kb"]) / 1024
    lag = r["backlog_mb"] - base["backlog_mb"]
    check(0 <= r["held_mb"] <= MEM_MB and added - lag <= MEM_MB and r["backlog_mb"] >= 0, name,
          f"{who} held at most {r['held_mb']:.1f} MB; peak RSS {added:+.1f} MB against no clients, "
          f"{added - lag:+.1f} MB less the collector's own lag ({lag:+.1f} MB of events waiting); "
          f"both <= {MEM_MB} MB")


build()
print(f"stress ({'full' if FULL else 'short'}): {HOLD} live blocks, {SECS} s per run", flush=True)
if "mix" in ONLY or "stalls" in ONLY:
    base = run("baseline", 4)
    check(not base["tracking_off"], "baseline", "tracking stays on")

if "mix" in ONLY:
    mix = run("mix", 4, "mix", 8)
    check(not mix["tracking_off"], "mix-tracking", "tracking stays on under 64 hostile clients")
    if not check(mix["wait_ms"] < WAIT_MS, "mix-wait",
                 f"longest malloc {mix['wait_ms']:.1f} ms (no clients {base['wait_ms']:.1f} ms) < "
                 f"{WAIT_MS} ms"):
        print("  " + "\n  ".join(sorted(mix["long_waits"])), flush=True)
    memory_check("mix-memory", mix, base, "the clients")
    check(0 <= mix["turn_ms"] < TURN_MS, "mix-turn",
          f"request work took at most {mix['turn_ms']:.1f} ms of CPU in one collector turn < {TURN_MS} ms "
          "(objects and scans wait for the collector to catch up with their time)")
    check(hv(mix, "objects", 9) == 8 and hv(mix, "objects", 5) == 0 and hv(mix, "scans", 1) > 0 and
          hv(mix, "scans", 5) == 0, "mix-answers",
          "objects asked %d answered %d failed %d, every reader answered (%d of 8); scans ok %d "
          "busy %d failed %d" % (hv(mix, "objects", 1), hv(mix, "objects", 3), hv(mix, "objects", 5),
                                 hv(mix, "objects", 9), hv(mix, "scans", 1), hv(mix, "scans", 3),
                                 hv(mix, "scans", 5)))
    check(hv(mix, "connected", 0) == 64 and hv(mix, "connected", 2) == 0, "mix-connect",
          "64 clients connected, none refused")

if "stalls" in ONLY:
    stalls = run("stalls", 4, "stalls")
    # best of two, interleaved: bursts of other work on a shared machine
    # move either run by tens of percent, even a quiet one (one run of each in
    # --full on a quiet machine: 91% to 120% in six tries, around 102%)
    base2 = run("baseline2", 4)
    stalls2 = run("stalls2", 4, "stalls")
    key = (lambda r: r["ops"]) if FULL else (lambda r: r["ops"] / max(r["cpu_s"], 0.01))
    base = max(base, base2, key=key)
    stalls = max(stalls, stalls2, key=key)
    ratio = stalls["ops"] / base["ops"]
    # what the program gets done per CPU second (its threads and the collector's)
    # does not depend on how much of the machine others take: the short form
    # checks it; --full checks operations per second, the figure
    cpu_ratio = (stalls["ops"] / stalls["cpu_s"]) / (base["ops"] / base["cpu_s"])
    check(not stalls["tracking_off"], "stalls-tracking", "tracking stays on")
    got = ratio if FULL else cpu_ratio
    check(got >= THROUGHPUT, "stalls-throughput",
          f"{ratio * 100:.0f}% of the operations per second without clients, {cpu_ratio * 100:.0f}% "
          f"per CPU second; {'per second' if FULL else 'per CPU second'} >= {THROUGHPUT * 100:.0f}%")
    memory_check("stalls-memory", stalls, base, "60 stalled/trickling clients")

if "scans" in ONLY:
    scans = run("scans", 4, "scans", 40 if FULL else 25)
    ok, busy, failed = hv(scans, "scans", 1), hv(scans, "scans", 3), hv(scans, "scans", 5)
    cap = 2 if os.cpu_count() >= 4 else 1  # the collector's cap: a scan takes a CPU
    check(scans["max_children"] <= cap, "scans-children",
          f"{scans['max_children']} scan children at once <= {cap} ({os.cpu_count()} CPUs)")
    pending = hv(scans, "scans", 7)
    check(ok == cap + 30 and busy == 63 - cap - 30 and failed == 0 and pending == 0, "scans-answers",
          f"63 scans: {ok} answered, {busy} refused busy ({cap} running + 30 waiting taken), "
          f"{failed} failed, {pending} unanswered")
    check(scans["wait_ms"] < WAIT_MS, "scans-wait", f"longest malloc {scans['wait_ms']:.1f} ms < {WAIT_MS} ms")

if "priority" in ONLY:
    prio = run("priority", 4, "priority", 4)
    pr = prio["hammer"].get("priority", ["?", "?", "-1", "?", "-1"])
    check(pr[0] == "answered" and 0 <= int(pr[2]) < (1 << 20), "priority",
          f"an answer to a client 1.5 s behind the stream came after {pr[2]} B of it "
          f"(< 1 MB: what the socket holds and the message being sent), in {pr[4]} ms")

if "lockout" in ONLY:
    lock = run("lockout", 1, "lockout", 5)
    check(lock["hammer"].get("newcomer") == ["served"], "lockout",
          f"after 64 idle clients a newcomer is {lock['hammer'].get('newcomer')}")


def backrefs(sock):
    """20 concurrent `heapline backrefs --site hold_block` on the 8-thread run."""
    # at once: the clients attach while the 8 threads start (3 of 20 were once
    # dropped there, when the stream budget left no room for clients behind)
    t0 = time.time()
    ps = [subprocess.Popen([HL, "backrefs", sock, "--site", "hold_block"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for _ in range(20)]
    res = []
    for q in ps:
        o, e = q.communicate(timeout=120)
        res.append((q.returncode, time.time() - t0, o, e))
    return res


if "backrefs" in ONLY:
    br = run("backrefs", 8, during=backrefs, hold=100000)
    okn = sum(1 for rc, _, o, _ in br["extra"] if rc == 0 and "hold_block" in o)
    slow = max(t for _, t, _, _ in br["extra"])
    errs = sorted(set(e.strip() for rc, _, _, e in br["extra"] if rc != 0))
    check(okn == 20, "backrefs-answered", f"{okn} of 20 concurrent backrefs answered {errs if errs else ''}")
    check(slow < BACKREFS_S, "backrefs-time", f"slowest {slow:.2f} s < {BACKREFS_S} s")
    check(not br["tracking_off"], "backrefs-tracking", "tracking stays on")


# ---- address space: the collector starts in 250 MB (it needed 350-400 MB) ----
# MALLOC_ARENA_MAX=1: glibc reserves 64 MB of address space for each thread
# that allocates, in an order that varies from run to run (one run in three
# then found no room for the new thread's ring at 300 MB)
def limit_as():
    resource.setrlimit(resource.RLIMIT_AS, (250 << 20, 250 << 20))


if "address-space" in ONLY:
    q = subprocess.run([f"{OUT}/target", "1000", "1", "0.2"], input="go\n", capture_output=True,
                       text=True, preexec_fn=limit_as, timeout=60,
                       env=dict(os.environ, LD_PRELOAD=LIB, MALLOC_ARENA_MAX="1",
                                HEAPLINE_SOCKET=f"{OUT}/as.sock",
                                HEAPLINE_RECORD=f"{OUT}/as.heapline"))
    check(q.returncode == 0 and "tracking off" not in q.stderr and "ops" in q.stdout, "address-space",
          f"under ulimit -v 250 MB the program runs tracked (exit {q.returncode}"
          f"{', said: ' + q.stderr.strip() if q.stderr.strip() else ''})")

print("stress: all passed" if not fails else f"stress: {fails} failed", flush=True)
sys.exit(1 if fails else 0)
