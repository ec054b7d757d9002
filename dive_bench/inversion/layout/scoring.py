"""From an inverted layout to scored detections.

A box's confidence is how much the monitor loss rises when that object is removed from the
found layout: an object the image really contains explains pixels, and removing it costs more
than removing a spurious one. (A constant score would make AP depend on slot order alone.)
"""

from __future__ import annotations

import torch

from dive_bench.labels import SLOTS_PER_OBJECT
from dive_bench.inversion.probes import ProbeSet, chunked_errors


@torch.no_grad()
def mean_error(adapter, x0: torch.Tensor, tokens: torch.Tensor, probes: ProbeSet, loss: str = "l2",
               weighting: str = "none", chunk: int = 500) -> torch.Tensor:
    """Mean denoising error over all probes of one image ``x0`` (C, H, W) for each layout in
    ``tokens`` (V, L): the monitor value of those snapped layouts."""
    v, p = len(tokens), len(probes)
    cond = adapter.embed(tokens)
    total = torch.zeros(v, dtype=torch.float64)
    pairs = torch.cartesian_prod(torch.arange(v), torch.arange(p))
    triples = torch.cat([torch.zeros(len(pairs), 1, dtype=torch.long), pairs], 1)  # (image 0, layout, probe)
    for part, err in chunked_errors(adapter, x0[None], cond, triples, probes, chunk, loss, weighting):
        total.index_add_(0, part[:, 1], err)
    return total / p


def scored_detections(adapter, x0: torch.Tensor, tokens: list[int], probes: ProbeSet, loss: str = "l2",
                      weighting: str = "none") -> tuple[list[dict], int]:
    """Decoded boxes of ``tokens`` with removal-based scores; returns (detections, evaluations)."""
    tok = adapter.tokenizer
    layout = torch.tensor(tokens)
    objects = tok.decode(layout)
    if not objects:
        return [], 0
    variants = [layout]
    for obj in objects:
        removed = layout.clone()
        sl = slice(SLOTS_PER_OBJECT * obj["slot"], SLOTS_PER_OBJECT * (obj["slot"] + 1))
        removed[sl] = tok.empty()[sl]
        variants.append(removed)
    errs = mean_error(adapter, x0, torch.stack(variants).to(x0.device), probes, loss, weighting)
    dets = [{"category_id": o["category_id"], "bbox": o["bbox"], "score": float(errs[1 + k] - errs[0])}
            for k, o in enumerate(objects)]
    return dets, len(variants) * len(probes)
