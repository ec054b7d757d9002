"""Diffusion Classifier (Li et al., ICCV 2023): score every class on the same probes.

Exhaustive mode evaluates K classes x P probes per image. Adaptive mode runs stages: each stage
scores the surviving classes on more probes and keeps the best ``keep``; errors already computed
for a (class, probe) pair are reused, so a stage only pays for new probes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from dive_bench.adapters.base import Adapter
from dive_bench.spec.configs import EnumerationConfig, check_stages  # noqa: F401  (re-exported)
from dive_bench.inversion.probes import ProbeSet, chunked_errors


@dataclass
class EnumerationResult:
    prediction: int
    #: mean error per class on the probes of the last stage that class reached (None if never scored)
    scores: list[float | None]
    evaluations: int


def enumerate_classes(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, config: EnumerationConfig,
                      progress: bool = False, candidates: list[list[int]] | None = None) -> list[EnumerationResult]:
    """Classify each image of ``x0`` (N, ...) by the class with the lowest mean denoising error
    among all classes, or among each image's ``candidates`` (DIVE's verify step).

    A non-finite error stays in the image's scores as NaN/inf (never ranked as a number): the
    runner records such an image as failed rather than storing a prediction made from junk."""
    n_img = len(x0)
    vocab = adapter.vocabulary["class"]
    k = len(vocab)
    p = len(probes)
    stages = config.stages or ((p, 1),)
    check_stages(config.stages, p)
    errors = torch.zeros((n_img, k, p), device="cpu", dtype=torch.float64)
    computed = torch.zeros((n_img, k, p), dtype=torch.bool)  # which (image, class, probe) errors exist
    evals = torch.zeros(n_img, dtype=torch.long)
    candidates = [list(c) for c in candidates] if candidates is not None else [list(range(k)) for _ in range(n_img)]
    scores = torch.full((n_img, k), float("nan"), dtype=torch.float64)
    scored = torch.zeros((n_img, k), dtype=torch.bool)
    for n_probes, keep in stages:
        idx = probes.subset(n_probes)
        todo = [(i, c, j) for i in range(n_img) for c in candidates[i] for j in idx.tolist()
                if not computed[i, c, j]]
        triples = torch.tensor(todo, dtype=torch.long).view(-1, 3)
        chunks = chunked_errors(adapter, x0, vocab.unsqueeze(1), triples, probes, config.eval_batch, config.probes.loss,
                                config.probes.weighting)
        for part, err in tqdm(chunks, disable=not progress, desc="enumerate", leave=False):
            ii, cc, jj = part.unbind(1)
            errors[ii, cc, jj] = err
            computed[ii, cc, jj] = True
            evals += torch.bincount(ii, minlength=n_img)
        for i in range(n_img):
            cand = torch.tensor(candidates[i])
            s = errors[i][cand][:, idx].mean(1)
            scores[i, cand] = s
            scored[i, cand] = True
            # non-finite scores sort last here, but the image is failed by the runner anyway
            order = torch.argsort(torch.nan_to_num(s, nan=float("inf")), stable=True)
            candidates[i] = cand[order[: max(1, keep)]].tolist()
    results = []
    for i in range(n_img):
        row = [float(v) if ok else None for v, ok in zip(scores[i].tolist(), scored[i].tolist())]
        results.append(EnumerationResult(prediction=int(candidates[i][0]), scores=row,
                                         evaluations=int(evals[i])))
    return results
