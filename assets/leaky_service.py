"""leaky_service.py - the story of ../shared/seed.md, in its own language.

A service loads "apps" one after another. Loading an app builds an
ApplicationManager whose NLP pipeline has a few Processors; each Processor owns
a ResourceLoader holding the app's big data: a table of bytearrays (gazetteers,
embeddings), a vocabulary dict and a list of floats (many small objects).
Every Processor registers itself in the module-global `instance_map` so that
worker code can find it by id (the seed's `Processor.instance_map`).

The bug: `instance_map` is a plain dict. It holds a strong reference to every
Processor and nothing ever removes the entry, so when an app is unloaded and
its manager is dropped, every Processor - and the ResourceLoader it owns -
stays alive. The heap grows by each app's loaders, forever.

fixed_service.py runs this same code with `instance_map` a
WeakValueDictionary, the seed's fix: memory falls back after each unload.

The chain that keeps a loader's bytearray alive, as objgraph shows it:
  bytearray <- list <- ResourceLoader.table <- Processor.loader
            <- dict <- module __main__, global instance_map

Markers ("load APP", "unload APP") and tags (the app's name) go to heapline
through its public API when the collector is loaded; without it the service
runs unchanged.

Usage: leaky_service.py [--apps N] [--pause MS] [--forever] [--quiet]
"""

import ctypes
import gc
import sys
import time
import weakref

# fixed_service.py sets WEAK_MAP before running this file.
WEAK_MAP = globals().get("WEAK_MAP", False)
SERVICE_NAME = "fixed_service" if WEAK_MAP else "leaky_service"


def _heapline_api():
    """heapline_mark, heapline_tag_push and heapline_tag_pop, or no-ops."""
    try:
        process = ctypes.CDLL(None)
        mark = process.heapline_mark
        push = process.heapline_tag_push
        pop = process.heapline_tag_pop
    except (AttributeError, OSError):
        return (lambda label: None), (lambda name: None), (lambda: None)
    mark.argtypes = [ctypes.c_char_p]
    push.argtypes = [ctypes.c_char_p]
    pop.argtypes = []
    return (lambda label: mark(label.encode())), (lambda name: push(name.encode())), pop


heapline_mark, heapline_tag_push, heapline_tag_pop = _heapline_api()

# The seed's Processor.instance_map: id -> Processor. Never lets go (unless weak).
instance_map = weakref.WeakValueDictionary() if WEAK_MAP else {}


class ResourceLoader:
    """The big data of one processor: about `mb` MB."""

    def __init__(self, app, mb):
        self.app = app
        size = mb << 20
        # Uneven tables: half, quarter and two eighths of the loader.
        self.table = [self.load_table(size // 2, 1), self.load_table(size // 4, 2)]
        self.table.append(self.load_table(size // 8, 3))
        self.table.append(self.load_table(size // 8, 4))
        self.vocab = {f"{app}-word-{i}": i for i in range(2000)}
        self.weights = [i * 0.5 for i in range(4000)]

    @staticmethod
    def load_table(nbytes, seed):
        table = bytearray(nbytes)
        table[::4096] = bytes([seed]) * len(table[::4096])  # touch every page
        return table

    def table_bytes(self):
        return sum(len(t) for t in self.table)


class Processor:
    """One step of an app's NLP pipeline; registered in instance_map by id."""

    def __init__(self, app, kind, loader_mb):
        self.kind = kind
        self.loader = ResourceLoader(app, loader_mb)
        instance_map[id(self)] = self  # BUG (unless weak): never removed

    def process(self, tokens):
        """Look the tokens up in the loader's vocabulary."""
        return sum(self.loader.vocab.get(t, len(t)) for t in tokens)


def subproc_call_instance_function(instance_id, func_name, *args):
    """Worker code finds its processor by id, as in the seed."""
    instance = instance_map[instance_id]
    return getattr(instance, func_name)(*args)


class ApplicationManager:
    """An app's NLP pipeline: a processor of each kind."""

    KINDS = ("domain_classifier", "intent_classifier", "entity_recognizer")

    def __init__(self, name, loader_mb):
        self.name = name
        self.processors = [Processor(name, kind, loader_mb) for kind in self.KINDS]

    def handle_request(self, n):
        """Short-lived work while the app serves: parse, tokenize, answer."""
        query = f"{self.name} query {n} " + "x" * (n % 256)
        tokens = [query[i : i + 8] for i in range(0, 128, 8)]
        proc = self.processors[n % len(self.processors)]
        return subproc_call_instance_function(id(proc), "process", tokens)


APP_SPECS = [
    ("kwik_e_mart", 2),
    ("video_discovery", 3),
    ("home_assistant", 2),
    ("food_ordering", 1),
    ("banking_assistant", 3),
    ("hr_assistant", 1),
    ("screening_bot", 2),
    ("weather_bot", 1),
]


def live_figures():
    """Live processors and the bytes their loaders' tables hold."""
    procs = list(instance_map.values())
    return len(procs), sum(p.loader.table_bytes() for p in procs)


def serve(app, pause_ms):
    """Serve for a while: many short-lived allocations, spread over the pause."""
    answered = 0
    steps = max(pause_ms // 10, 1)
    for s in range(steps):
        for r in range(20):
            answered += app.handle_request(s * 20 + r)
        if pause_ms:
            time.sleep(pause_ms / steps / 1000)
    return answered


def usage():
    sys.stderr.write(f"usage: {SERVICE_NAME}.py [--apps N] [--pause MS] [--forever] [--quiet]\n")
    sys.exit(2)


def parse_args(argv):
    opts = {"apps": 6, "pause": 1500, "forever": False, "quiet": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--apps", "--pause") and i + 1 < len(argv) and argv[i + 1].isdigit():
            opts[arg[2:]] = int(argv[i + 1])
            i += 1
        elif arg in ("--forever", "--quiet"):
            opts[arg[2:]] = True
        else:
            usage()
        i += 1
    return opts


def main(argv):
    opts = parse_args(argv)
    served = 0
    n = 0
    while opts["forever"] or n < opts["apps"]:
        name, loader_mb = APP_SPECS[n % len(APP_SPECS)]

        heapline_mark(f"load {name}")
        heapline_tag_push(name)
        app = ApplicationManager(name, loader_mb)
        served += serve(app, opts["pause"])
        heapline_tag_pop()

        heapline_mark(f"unload {name}")
        del app
        gc.collect()

        procs, nbytes = live_figures()
        if not opts["quiet"]:
            print(
                f"{SERVICE_NAME}: app {n + 1} {name:<18} loaded and unloaded; "
                f"live processors {procs}, loader memory {nbytes / (1 << 20):.1f} MB",
                flush=True,
            )
        if opts["forever"] and nbytes > 256 << 20:
            heapline_mark("restart")
            if not opts["quiet"]:
                print(f"{SERVICE_NAME}: {nbytes >> 20} MB held by unloaded apps: restarting")
            instance_map.clear()
            gc.collect()
        n += 1
    if not opts["quiet"]:
        print(f"{SERVICE_NAME}: done ({served} answers)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
