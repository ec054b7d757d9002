"""What a run keeps of each item's search, beside its prediction: run.json ``items.trace``.

The shards hold everything a method returned per item (DIVE's monitor curve and every visited
label, enumeration's score for every class), but shards are per-machine working files and are not
committed; run.json is what travels. A report that shows *why* an image was misread (which classes
DIVE visited, how its monitor value moved, which classes enumeration ranked next) needs a compact
copy of that record in run.json. One entry per item, ``None`` where the method kept nothing:

- ``evaluations``: model evaluations spent on the item;
- ``best_step``: the DIVE step whose snapped answer was kept;
- ``monitor``: DIVE's monitor curve, ``[[step, value], ...]`` (6 significant digits);
- ``visited`` (DIVE, class labels): the distinct classes its snapped label passed through, in the
  order it first reached them (the first :data:`VISITED`), and ``n_visited``, how many in all;
- ``top`` (enumeration): the :data:`TOP` classes with the lowest denoising error, best first.

Torch-free, so the merge that writes it and the report that reads it share one definition.
"""

from __future__ import annotations

import math
from typing import Any

#: how many ranked classes an enumeration trace keeps per item
TOP = 3
#: how many visited classes a DIVE trace keeps per item (in visiting order)
VISITED = 10


def _round(value: float) -> float | None:
    return float(f"{value:.6g}") if isinstance(value, (int, float)) and math.isfinite(value) else None


def _classes(visited: list) -> list[int]:
    """The single-class labels of DIVE's visited list (distinct, in first-visit order); a layout's
    visited token lists are not classes and are left out."""
    return list(dict.fromkeys(v for v in visited if isinstance(v, int) and not isinstance(v, bool)))


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
        classes = _classes(result["visited"])
        if classes:
            trace["visited"], trace["n_visited"] = classes[:VISITED], len(classes)
    elif isinstance(result.get("scores"), list):
        top = _top_scored(result["scores"])
        if top:
            trace["top"] = top
    return trace or None


def traces(results: list[dict[str, Any]]) -> dict[str, list]:
    """``{"trace": [...]}`` for run.json's ``items`` (one entry per item), {} when no item kept one."""
    found = [trace_of(r) for r in results]
    return {"trace": found} if any(t is not None for t in found) else {}
