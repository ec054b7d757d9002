"""Per-item seeds that depend only on (global seed, task, item id).

Deriving each item's randomness from its identity, not from a running generator, is what makes a
result independent of worker count, batch composition and processing order.
"""

from __future__ import annotations

import hashlib


def item_seed(global_seed: int, task: str, item_id: int | str) -> int:
    digest = hashlib.sha256(f"{global_seed}/{task}/{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def sample_seed(seed: int, index: int) -> int:
    """The seed of generated sample ``index`` in a run with global ``seed`` (63-bit, order-free)."""
    # the tag names this function's first home: changing it would change every cached sample
    digest = hashlib.sha256(f"dive_bench.fidelity/{seed}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)
