"""The worker's heap, settled once it has started.

Every batch leaves tens of thousands of objects alive until it is written (its rows, records,
keys), so the collector runs full collections often, and each walks everything the process
imported and built at start (about 100,000 objects that never die). Frozen, those are left out
of every collection: 2.5 us a canonical row of the worker's Python (bench/worker_python.py).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Leaves what exists now out of every later collection; call once set up, before work."""
    gc.collect()  # what is garbage already is not kept for ever
    gc.freeze()
