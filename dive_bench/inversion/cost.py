"""The cost model behind ``--method auto`` and ``--stages dc``: evaluations per image of each method.

One *evaluation* is one sample through the denoiser; a backward pass counts as two (the paper's
and our runs' convention, ``InversionResult.evaluations``). For K classes and P probes:

- exhaustive enumeration (Diffusion Classifier): K * P forward evaluations;
- adaptive enumeration: stages (probes, kept) score the survivors of the previous stage on the new
  probes only: K * p1 + k1 * (p2 - p1) + k2 * (p3 - p2) + ...;
- DIVE: ``steps`` optimiser steps of ``batch`` probes (forward + backward: 3 * batch) plus one
  monitor pass over all P probes every ``monitor_every`` steps, plus P per ``verify`` class. It is
  flat in K. With ``patience``
  an image may stop early, so this is an upper bound; the monitor's cache of already-scored classes
  makes it lower too.

Evaluations are the unit of the paper's and our tables; seconds differ by machine, so ``choose``
weighs forward-only and training evaluations by their measured time per sample. This module
imports no torch: the measurement is ``inversion.timing``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Diffusion Classifier's adaptive schedule for ImageNet (K = 1000; Li et al. 2023, zero-shot
#: Stable Diffusion): after 50, 100, 500 and 1000 cumulative (t, noise) samples keep the best 500,
#: 50, 10 and 1 classes. ``scaled_stages`` maps it onto another probe count and label space.
DC_IMAGENET_STAGES: tuple[tuple[int, int], ...] = ((50, 500), (100, 50), (500, 10), (1000, 1))
DC_SAMPLES, DC_CLASSES = 1000, 1000


def scaled_stages(k: int, p: int) -> tuple[tuple[int, int], ...]:
    """Diffusion Classifier's ImageNet schedule for ``k`` classes and ``p`` probes: the probe
    fractions (5, 10, 50, 100%) of ``p`` rounded up, the kept fractions (50, 5, 1%) of ``k`` rounded,
    at least 1; a stage that keeps as many classes as the next one is dropped (its probes would
    only be paid for again), and the last stage always ranks the survivors on all ``p`` probes.

    At k = 1000 and p = 10 this is ((1, 500), (1, 50), (5, 10), (10, 1))."""
    if k < 1 or p < 1:
        raise ValueError(f"need k >= 1 classes and p >= 1 probes, got k={k}, p={p}")
    stages = []
    for samples, kept in DC_IMAGENET_STAGES:
        probes = min(p, max(1, math.ceil(p * samples / DC_SAMPLES)))
        keep = 1 if kept == 1 else min(k, max(1, round(k * kept / DC_CLASSES)))
        stages.append((probes, keep))
    out: list[tuple[int, int]] = []
    for (probes, keep), nxt in zip(stages, stages[1:] + [None]):
        if nxt is not None and nxt[1] == keep:
            continue  # the next stage keeps as many: this one's pruning is a no-op
        if out and out[-1][1] == keep:
            continue
        out.append((probes, keep))
    return tuple(out)


def enumeration_evaluations(k: int, p: int, stages: tuple[tuple[int, int], ...] | None) -> int:
    """Forward evaluations per image of enumeration (exact: kept counts are fixed by the stages)."""
    if not stages:
        return k * p
    total, alive, done = 0, k, 0
    for probes, keep in stages:
        probes = min(probes, p)
        total += alive * max(0, probes - done)
        done = max(done, probes)
        alive = min(alive, keep)
    return total


def dive_evaluations(p: int, steps: int, batch: int, monitor_every: int, verify: int = 0,
                     verify_schedule: str = "all") -> tuple[int, int]:
    """DIVE's (forward-only, training) evaluations per image without early stopping: the
    monitor's P probes per pass plus the verify step (P per class, or the staged sum of
    ``scaled_stages(verify, p)`` with ``verify_schedule="dc"``), and 3 x batch per optimiser step
    (a backward counts as two)."""
    b = min(batch, p)
    monitors = steps // monitor_every + (1 if steps % monitor_every else 0)
    if verify and verify_schedule == "dc":
        checked = enumeration_evaluations(verify, p, scaled_stages(verify, p))
    else:
        checked = verify * p
    return monitors * p + checked, 3 * b * steps


@dataclass(frozen=True)
class Candidate:
    """One way to score the task: a method with its config and its cost per image."""

    name: str
    method: str
    config: dict = field(hash=False)
    forward_evals: int = 0
    #: evaluations spent in forward+backward passes (DIVE's optimiser steps), already x3
    train_evals: int = 0

    @property
    def evaluations(self) -> int:
        return self.forward_evals + self.train_evals

    def seconds(self, fwd_s: float, train_s: float) -> float:
        """Predicted seconds per image from measured seconds per forward-only evaluation and per
        training evaluation (one sample's forward+backward over 3)."""
        return self.forward_evals * fwd_s + self.train_evals * train_s


def choose(candidates: list[Candidate], fwd_s: float, train_s: float) -> tuple[Candidate, dict]:
    """The candidate with the fewest predicted seconds per image, and the record of why (stored in
    run.json as ``method_choice``). Ties go to the earlier candidate (enumeration before DIVE:
    it has no optimiser state and no early-stopping variance)."""
    if not candidates:
        raise ValueError("no candidate methods")
    predicted = [(c.seconds(fwd_s, train_s), i, c) for i, c in enumerate(candidates)]
    best_s, _, best = min(predicted)
    others = ", ".join(f"{c.name} {c.evaluations} evals ~{s:.3g} s" for s, _, c in predicted if c is not best)
    reason = (f"{best.name}: {best.evaluations} evaluations ~{best_s:.3g} s per image, the cheapest predicted "
              f"(measured {fwd_s * 1e3:.3g} ms per forward evaluation, {train_s * 1e3:.3g} ms per training "
              f"evaluation); {others}")
    record = {"chosen": best.name, "method": best.method, "reason": reason,
              "measured": {"seconds_per_forward_eval": fwd_s, "seconds_per_train_eval": train_s},
              "candidates": [{"name": c.name, "method": c.method, "forward_evals": c.forward_evals,
                              "train_evals": c.train_evals, "predicted_seconds": s}
                             for s, _, c in predicted]}
    return best, record
