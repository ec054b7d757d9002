"""Measured cost of one evaluation, for ``--method auto`` (the cost model is ``dive_bench.inversion.cost``).

Enumeration runs no-grad forwards in large chunks; DIVE runs forward+backward passes of a few
probes per image. Their cost per sample differs by machine and model (a backward is about two
forwards on a CPU, less on a GPU where small batches leave it idle), so auto measures both on the
model and the first image instead of assuming the 1:3 ratio.
"""

from __future__ import annotations

import time

import torch

from dive_bench.adapters.base import Adapter
from dive_bench.inversion.probes import ProbeSet, denoising_error


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, lazy init)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def seconds_per_evaluation(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, *, forward_batch: int,
                           train_batch: int, loss: str = "l2", weighting: str = "none",
                           repeats: int = 3) -> tuple[float, float]:
    """(seconds per forward-only evaluation at ``forward_batch`` samples per pass, seconds per
    training evaluation at ``train_batch`` samples per pass, a sample's forward+backward counted as
    three evaluations) on image ``x0[:1]`` with the first class of the vocabulary."""
    vocab = adapter.vocabulary["class"].unsqueeze(1)  # (K, 1, D): one condition slot
    x = x0[:1]
    p = len(probes)

    def batch(n: int):
        j = torch.arange(n, device=x.device) % p
        return x.expand(n, *x.shape[1:]), vocab[:1].expand(n, *vocab.shape[1:]), probes.timesteps[j], probes.noise[j]

    xf, cf, tf, nf = batch(forward_batch)

    def forward() -> None:
        with torch.no_grad():
            denoising_error(adapter, xf, cf, tf, nf, loss, weighting)

    xt, ct, tt, nt = batch(train_batch)
    learnable = ct.detach().clone().float().requires_grad_(True)

    def train() -> None:
        err = denoising_error(adapter, xt, learnable.to(ct.dtype), tt, nt, loss, weighting)
        err.sum().backward()
        learnable.grad = None

    fwd = _median_seconds(forward, repeats) / forward_batch
    trn = _median_seconds(train, repeats) / (3 * train_batch)
    return fwd, trn
