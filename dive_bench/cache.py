"""Where dive_bench keeps derived data it can always recompute (datasets, seeds, statistics).

Everything under the cache root is keyed by a content hash of what produced it, so deleting
the folder only costs time, and a stale entry can never be mistaken for a fresh one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

CACHE_ENV = "DIVE_BENCH_CACHE"


def cache_root() -> Path:
    """``$DIVE_BENCH_CACHE``, else ``~/.cache/dive_bench``."""
    base = os.environ.get(CACHE_ENV)
    return Path(base) if base else Path.home() / ".cache" / "dive_bench"


def content_hash(*parts: object) -> str:
    """sha256 over tensors (exact bytes, dtype and shape) and JSON-able values, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(f"tensor{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()
