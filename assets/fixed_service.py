"""fixed_service.py - leaky_service.py with the seed's fix.

The same service, run from the same code (leaky_service.py, as __main__), with
`instance_map` a weakref.WeakValueDictionary: it holds no reference to the
Processors, so an unloaded app's Processors and their ResourceLoaders are
freed and memory falls back after each unload.

Usage: fixed_service.py [--apps N] [--pause MS] [--forever] [--quiet]
"""

import os
import runpy

runpy.run_path(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "leaky_service.py"),
    init_globals={"WEAK_MAP": True},
    run_name="__main__",
)
