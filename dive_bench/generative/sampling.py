"""Samples for the fidelity metrics: which labels, under which configuration, into the cache.

The sampling loop itself (per-sample seeds, schedulers, guidance) is ``adapters/sampling.py``,
behind ``Adapter.sample``; its names are re-exported here for older imports.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dive_bench.adapters.sampling import (SAMPLER_VERSION, SAMPLERS, build_scheduler, sample_from_condition,  # noqa: F401
                                 sample_seed, to_uint8)
from dive_bench.errors import DiveBenchError


def balanced_labels(indices: Sequence[int], num_classes: int) -> torch.Tensor:
    """Label of sample i = i mod K: balanced for any N that is a multiple of K, and a sample's
    label never changes when N grows (so an extended run reuses the samples it has)."""
    return torch.tensor([i % num_classes for i in indices], dtype=torch.long)


def sample_config(adapter, *, sampler: str, steps: int, guidance_scale: float, seed: int, dtype: str = "fp32",
                  labels: str = "balanced") -> dict:
    """What makes the samples, and nothing else (not N, batch size, device or worker count):
    the sample cache refuses a folder made under another config."""
    if sampler not in SAMPLERS:
        raise DiveBenchError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
    param = getattr(adapter, "parameterization", None)
    if param is not None:
        param.check_sampler(sampler)  # e.g. ddpm on a flow model: refused before any sample is made
    info = adapter.info()
    # a non-eps model's parameterization is part of what makes its samples (eps models: unchanged)
    extra = {"parameterization": info["parameterization"]} if "parameterization" in info else {}
    return {**extra, "model_sha256": info["sha256"], "model": info["name"], "sampler": sampler, "steps": int(steps),
            "guidance_scale": float(guidance_scale), "seed": int(seed), "dtype": dtype, "labels": labels,
            "timestep_spacing": "trailing", "image_shape": list(adapter.image_shape),
            # adapters/sampling.py bumps it when a given seed starts to produce other samples
            "sampler_version": SAMPLER_VERSION}


def shard_indices(n: int, shard: tuple[int, int] = (0, 1)) -> range:
    """The sample indices of worker K of N: every N-th index from K. Interleaved rather than
    contiguous so that every worker gets every class (sample i has class i mod K) and, when a run
    grows N, the new samples spread over all workers; any split gives the same samples, since
    sample i's seed and label depend on i alone."""
    k, workers = shard
    return range(k, n, workers)


def generate_samples(adapter, cache, n: int, *, labels_for, batch_size: int = 250, progress: bool = True,
                     autocast=None, shard: tuple[int, int] = (0, 1)) -> int:
    """Fill this worker's share (``shard`` = (K, N), :func:`shard_indices`) of ``cache``'s first
    ``n`` samples, generating only the missing indices; returns how many were generated.
    ``labels_for(indices)`` gives each index's labels ((B,) classes or (B, L) layout tokens);
    sample i's seed is ``sample_seed(config seed, i)``."""
    import contextlib
    import sys
    import time

    from tqdm.auto import tqdm

    cfg = cache.config
    mine = shard_indices(n, shard)
    have = cache.present()
    todo = [i for i in mine if i not in have]
    where = f", worker {shard[0]}/{shard[1]}" if shard[1] > 1 else ""
    bar = tqdm(total=len(mine), initial=len(mine) - len(todo),
               desc=f"sampling {cfg['model']} ({cfg['sampler']} {cfg['steps']}{where})",
               unit="img", disable=not progress, file=sys.stderr)
    try:
        for start in range(0, len(todo), batch_size):
            idx = todo[start:start + batch_size]
            t0 = time.perf_counter()
            with autocast if autocast is not None else contextlib.nullcontext():
                images = adapter.sample(labels_for(idx), steps=cfg["steps"], guidance_scale=cfg["guidance_scale"],
                                        seeds=[sample_seed(cfg["seed"], i) for i in idx], scheduler=cfg["sampler"])
            cache.write(idx, images, time.perf_counter() - t0)
            bar.update(len(idx))
    finally:
        bar.close()
    return len(todo)
