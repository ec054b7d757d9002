"""Does a layout prior prefer real layouts? The prior's counterpart of the position check.

DIVE adds the prior's denoising error to the image loss, so the prior is only worth its weight
if real layouts get a lower error than implausible ones. For held-out layouts this compares the
prior's mean error (over fixed (t, noise) draws) on the true layout with the same layout after
one implausible edit: a box with x1 < x0 (``illegal``), shrunk to one grid cell (``tiny``),
grown to the whole canvas (``huge``), or all slots replaced by random tokens (``random``).
Canvas boxes are 4-8 cells wide and never overlap, so a prior that learned the training
layouts should win each comparison far more often than by chance (0.5).

``resized`` (the first box one cell wider or narrower) is the error DIVE makes most; it is only
implausible where each class has one size (canvas-det-sized), so it is checked there alone.
"""

from __future__ import annotations

import torch

from dive_bench.labels import LayoutTokenizer

EDITS = ("illegal", "tiny", "huge", "random")
SIZED_EDITS = EDITS + ("resized",)


def implausible(tokens: torch.Tensor, tok: LayoutTokenizer, kind: str, generator: torch.Generator) -> torch.Tensor:
    """A copy of one layout ``tokens`` (L,) with its first object (or everything) made implausible."""
    out = tokens.clone()
    if kind == "illegal":
        out[1], out[3] = tokens[3], tokens[1]
    elif kind == "tiny":
        out[3], out[4] = min(int(tokens[1]) + 1, tok.grid - 1), min(int(tokens[2]) + 1, tok.grid - 1)
    elif kind == "huge":
        out[1:5] = torch.tensor([0, 0, tok.grid - 1, tok.grid - 1])
    elif kind == "resized":
        x0, x1 = int(tokens[1]), int(tokens[3])
        wider = x1 + 1 <= tok.grid - 1 and (x1 - 1 <= x0 or bool(torch.randint(0, 2, (), generator=generator)))
        out[3] = x1 + 1 if wider else x1 - 1
    elif kind == "random":
        for s, slot in enumerate(tok.slot_kinds):
            high = tok.num_classes if slot == "class" else tok.grid
            out[s] = torch.randint(0, high, (), generator=generator)
    else:
        raise ValueError(f"unknown edit {kind!r}; use one of {', '.join(EDITS)}")
    return out


@torch.no_grad()
def prior_plausibility(adapter, dataset, variant: str = "joint", num_images: int = 100, draws: int = 64,
                       seed: int = 0, edits: tuple[str, ...] = EDITS) -> dict[str, float]:
    """Fraction of layouts whose true version has a lower prior error than each edit (ties lose)."""
    tok = adapter.tokenizer
    ids = [i for i in range(len(dataset)) if dataset.annotations[i]][:num_images]
    g = torch.Generator().manual_seed(seed)
    truth = torch.stack([tok.encode(dataset.annotations[i]) for i in ids])
    layouts = torch.stack([truth] + [torch.stack([implausible(t, tok, kind, g) for t in truth]) for kind in edits])
    v, n, length = layouts.shape
    cond = adapter.embed(layouts.view(-1, length).to(adapter.device))
    errs = torch.zeros(v * n)
    for _ in range(draws):  # the same (t, noise) draw for a true layout and its edits
        t = torch.randint(0, adapter.schedule.num_train_timesteps, (n,), generator=g).repeat(v)
        noise = torch.randn((n, *cond.shape[1:]), generator=g).repeat(v, 1, 1)
        masks = [adapter.prior_mask(variant, g) for _ in range(n)]
        extra = {} if masks[0] is None else {"mask": torch.stack(masks).repeat(v, 1).to(cond.device)}
        errs += adapter.prior_loss(cond, t.to(cond.device), noise.to(cond.device), variant, **extra).float().cpu()
    errs = errs.view(v, n)
    return {kind: float((errs[0] < errs[1 + k]).float().mean()) for k, kind in enumerate(edits)}
