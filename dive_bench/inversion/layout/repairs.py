"""One-slot repairs of a layout: the discrete moves DIVE's layout search scores at each monitor pass.

Both are our additions to the paper's search. The straight-through gradient rarely flips a snapped
coordinate to its neighbour, and DIVE's typical error on the canvas tasks is a box side one grid
cell off, so each monitor pass also scores a few one-slot edits of the current layout like any
visited layout and continues from the best if it beats the current one (``dive._repair``).

- :func:`prior_repairs`: the edits the layout prior proposes (each slot of a present object
  hidden and read back from the others).
- :func:`neighbour_repairs`: every one-cell move of a box side, no prior needed: the control that
  tells the prior's gain from the search's, and a search step of its own.
"""

from __future__ import annotations

import torch

from dive_bench.labels import SLOTS_PER_OBJECT, layout_tokenizer

#: slots of one object: class, x0, y0, x1, y1
S = SLOTS_PER_OBJECT


@torch.no_grad()
def prior_repairs(adapter, labels: torch.Tensor, variant: str = "joint") -> list[torch.Tensor]:
    """One-slot edits of ``labels`` (L,) that the prior proposes: each slot of a present object is
    hidden (fully noised, noise 0, the other slots clean) and replaced by the vocabulary entry
    nearest to the prior's estimate of it. Edits equal to ``labels`` are left out."""
    tok = layout_tokenizer(adapter)
    slots = [S * k + j for k in range(tok.max_objects) if int(labels[S * k]) != tok.none_class for j in range(S)]
    if not slots:
        return []
    device = adapter.vocabulary["class"].device
    cond = adapter.embed(labels[None].to(device)).repeat(len(slots), 1, 1)
    mask = torch.zeros(len(slots), len(labels), dtype=torch.bool, device=device)
    mask[torch.arange(len(slots)), torch.tensor(slots)] = True
    t = torch.full((len(slots),), adapter.schedule.num_train_timesteps - 1, device=device)
    est = adapter.priors[variant].clean_estimate(cond, t, torch.zeros_like(cond), adapter.schedule, mask)
    out = []
    for r, s in enumerate(slots):
        table = adapter.vocabulary[adapter.slot_kinds[s]]
        token = int(((table - est[r, s]) ** 2).sum(-1).argmin())
        if token != int(labels[s]):
            edit = labels.clone()
            edit[s] = token
            out.append(edit)
    return out


def neighbour_repairs(adapter, labels: torch.Tensor) -> list[torch.Tensor]:
    """One-slot edits of ``labels`` (L,) that need no prior: each box side of a present object
    moved one grid value in or out, keeping the box legal (x0 < x1, y0 < y1, on the grid)."""
    tok = layout_tokenizer(adapter)
    out = []
    for k in range(tok.max_objects):
        box = labels[S * k + 1: S * k + S]
        if int(labels[S * k]) == tok.none_class or bool((box == tok.none_coord).any()):
            continue
        for j in range(4):
            for step in (-1, 1):
                v = int(box[j]) + step
                lo, hi = (0, int(box[j + 2]) - 1) if j < 2 else (int(box[j - 2]) + 1, tok.grid - 1)
                if lo <= v <= hi:
                    edit = labels.clone()
                    edit[S * k + 1 + j] = v
                    out.append(edit)
    return out
