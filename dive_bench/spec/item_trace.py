"""What a run keeps of each item's search, beside its prediction: run.json ``items.trace``.

The shards hold everything a method returned per item (DIVE's monitor curve and every visited
label, enumeration's score for every class), but shards are per-machine working files and are not
committed; run.json is what travels. A report that shows *why* an image was misread (which classes
DIVE visited, how its monitor value moved, which classes enumeration ranked next) needs a compact
copy of that record in run.json. One entry per item, ``None`` where the method kept nothing:

- ``evaluations``: model evaluations spent on the item;
- ``best_step``: the DIVE step whose snapped answer was kept;
- ``monitor``: DIVE's monitor curve, ``[[step, value], ...]`` (6 significant digits);
- ``top``: up to :data:`TOP` classes, most likely first: for DIVE the classes it snapped to,
  ordered by how many monitor passes ended there (ties: first visited first); for enumeration the
  classes with the lowest denoising error.

Torch-free, so the merge that writes it and the report that reads it share one definition.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

#: how many candidate classes a trace keeps per item
TOP = 3


def _round(value: float) -> float | None:
    return float(f"{value:.6g}") if isinstance(value, (int, float)) and math.isfinite(value) else None


def _top_visited(visited: list) -> list[int]:
    """Classes by how often DIVE's snapped label sat on them; only single-class labels count."""
    flat = [v for v in visited if isinstance(v, int) and not isinstance(v, bool)]
    counts = Counter(flat)
    first = {c: i for i, c in reversed(list(enumerate(flat)))}
    return sorted(counts, key=lambda c: (-counts[c], first[c]))[:TOP]


def _top_scored(scores: list) -> list[int]:
    """Classes with the lowest finite error (enumeration's ranking)."""
    ranked = [(s, c) for c, s in enumerate(scores) if isinstance(s, (int, float)) and math.isfinite(s)]
    return [c for _, c in sorted(ranked)[:TOP]]


def trace_of(result: dict[str, Any]) -> dict[str, Any] | None:
    """The compact trace of one stored item result (a shard row), None when it holds nothing to keep."""
    trace: dict[str, Any] = {}
    if isinstance(result.get("evaluations"), (int, float)):
        trace["evaluations"] = int(result["evaluations"])
    if isinstance(result.get("best_step"), int):
        trace["best_step"] = result["best_step"]
    curve = result.get("monitor_curve")
    if isinstance(curve, list) and curve:
        trace["monitor"] = [[int(step), _round(value)] for step, value in curve]
    if isinstance(result.get("visited"), list):
        top = _top_visited(result["visited"])
        if top:
            trace["top"] = top
    elif isinstance(result.get("scores"), list):
        top = _top_scored(result["scores"])
        if top:
            trace["top"] = top
    return trace or None


def traces(results: list[dict[str, Any]]) -> dict[str, list]:
    """``{"trace": [...]}`` for run.json's ``items`` (one entry per item), {} when no item kept one."""
    found = [trace_of(r) for r in results]
    return {"trace": found} if any(t is not None for t in found) else {}
