"""Where dive_bench keeps derived data it can always recompute (datasets, seeds, statistics).

Everything under the cache root is keyed by a content hash of what produced it, so deleting
the folder only costs time, and a stale entry can never be mistaken for a fresh one.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

CACHE_ENV = "DIVE_BENCH_CACHE"


_CHECKED: set[Path] = set()


def cache_root(override: str | Path | None = None) -> Path:
    """``override`` (``--cache-dir``), else ``$DIVE_BENCH_CACHE``, else ``~/.cache/dive_bench``:
    created if missing and checked to be a writable folder (once per process), or one
    DiveBenchError naming where the path came from and the fix. Every user of the cache goes
    through here, so a cache that points at a file fails before any compute, not deep inside it."""
    from dive_bench.errors import DiveBenchError
    from dive_bench.util.files import dir_problem

    base = os.environ.get(CACHE_ENV)
    if override:
        root, source = Path(override).expanduser(), "--cache-dir"
    elif base:
        root, source = Path(base).expanduser(), f"${CACHE_ENV}"
    else:
        root, source = Path.home() / ".cache" / "dive_bench", f"the default cache folder (${CACHE_ENV} is unset)"
    if root not in _CHECKED:
        problem = dir_problem(root)
        if problem:
            fix = ("pass --cache-dir a writable folder" if override else
                   f"set {CACHE_ENV} to a writable folder" + ("" if base else " (e.g. under /tmp)")
                   + (f" or unset it to use {Path.home() / '.cache' / 'dive_bench'}" if base else ""))
            raise DiveBenchError(f"{source} is {root}, which {problem}; the cache holds derived data dive_bench can "
                                 f"always recompute, and needs a writable folder: {fix}")
        _CHECKED.add(root)
    return root


def content_hash(*parts: object) -> str:
    """sha256 over tensors (exact bytes, dtype and shape) and JSON-able values, in order."""
    # torch is looked up, not imported: this module stays torch-free (the canvas cache root serves
    # torch-free reports), and a tensor can only exist once torch is loaded
    torch = sys.modules.get("torch")
    h = hashlib.sha256()
    for part in parts:
        if torch is not None and isinstance(part, torch.Tensor):
            t = part.detach().cpu().contiguous()
            h.update(f"tensor{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
        else:
            h.update(repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()
