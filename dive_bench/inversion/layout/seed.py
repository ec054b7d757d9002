"""A starting layout for detection from a coarse enumeration of single objects.

Why: from the all-[none] layout the straight-through gradient almost never flips a slot, and
DIVE finds nothing (AP 0 after 200 steps on the canvas set, even with a model that uses box
positions). Scoring every class at a coarse grid of boxes, one object at a time, and keeping the
best non-overlapping few gives the gradient search a start near the answer. Each candidate is
scored by its mean denoising error on a few high-noise probes, where the layout decides the image.

The seed is a deterministic function of (model, image, probes, search grid), and the same seed
starts every ablation row of a detection table (with or without prior, snapping, ...), so
``seed_layouts`` keeps it in the cache (``$DIVE_BENCH_CACHE/layout-seeds``) keyed by a hash of
all of those. A cached seed still counts its evaluations: the cost per image in run.json is the
method's cost, not this machine's luck.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import torch

from dive_bench.util.cache import cache_root, content_hash
from dive_bench.labels import SLOTS_PER_OBJECT, LayoutTokenizer
from dive_bench.inversion.layout.scoring import mean_error
from dive_bench.inversion.probes import ProbeSet


def single_object_candidates(tok: LayoutTokenizer, sizes: tuple[int, ...], stride: int) -> torch.Tensor:
    """(V, L) layouts of one object: every class x box of ``sizes`` cells on a ``stride`` grid."""
    rows = []
    for c, w, h in itertools.product(range(tok.num_classes), sizes, sizes):
        for x0 in range(0, tok.grid - w, stride):
            for y0 in range(0, tok.grid - h, stride):
                t = tok.empty()
                t[:5] = torch.tensor([c, x0, y0, x0 + w, y0 + h])
                rows.append(t)
    return torch.stack(rows)


def _overlap(a: list[int], b: list[int]) -> bool:
    return not (a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2])


@torch.no_grad()
def coarse_seed(adapter, x0: torch.Tensor, probes: ProbeSet, *, sizes: tuple[int, ...] = (4, 6, 8), stride: int = 2,
                num_probes: int = 6, loss: str = "l2", weighting: str = "none") -> tuple[torch.Tensor, int]:
    """Seed layout (L,) for one image ``x0`` and the model evaluations spent."""
    tok = adapter.tokenizer
    sub = ProbeSet(probes.timesteps[-num_probes:], probes.noise[-num_probes:])  # the noisiest probes
    cands = single_object_candidates(tok, sizes, stride).to(x0.device)
    errs = mean_error(adapter, x0, torch.cat([tok.empty()[None].to(x0.device), cands]), sub, loss, weighting)
    empty, errs = errs[0], errs[1:]
    chosen: list[list[int]] = []
    for v in torch.argsort(errs).tolist():
        if errs[v] >= empty or len(chosen) == tok.max_objects:
            break
        obj = cands[v, :5].tolist()
        if all(not _overlap(obj, o) for o in chosen):
            chosen.append(obj)
    seed = tok.empty()
    for k, obj in enumerate(chosen):
        seed[SLOTS_PER_OBJECT * k: SLOTS_PER_OBJECT * (k + 1)] = torch.tensor(obj)
    return seed, (len(cands) + 1) * len(sub)


def seed_layouts(adapter, x0: torch.Tensor, probes: ProbeSet, *, loss: str = "l2", weighting: str = "none",
                 use_cache: bool = True, **search) -> tuple[torch.Tensor, list[dict]]:
    """Seed layouts (N, L) for a batch of images, read from / written to the seed cache, and per
    image its cost: ``{"evaluations", "seconds" (when it was computed), "cached"}``."""
    folder = cache_root() / "layout-seeds" if use_cache else None
    # the seed never looks at the priors, so only the image model keys it
    model_key = (getattr(adapter, "image_model_sha256", None) or adapter.info()["sha256"]) if use_cache else None
    # a seed computed under bf16/fp16 autocast is not reused by an fp32 run, nor the other way round
    # (fp32 adds nothing to the key, so seeds cached before this distinction stay valid)
    precision = ([str(torch.get_autocast_dtype(x0.device.type))]
                 if torch.is_autocast_enabled(x0.device.type) else [])
    seeds, costs = [], []
    for x in x0:
        path = None
        if use_cache:
            key = content_hash("coarse-seed-v1", model_key, x, probes.timesteps, probes.noise, loss, weighting,
                               sorted(search.items()), *precision)
            path = folder / f"{key}.json"
            if path.is_file():
                try:
                    entry = json.loads(path.read_text())
                    seeds.append(torch.tensor(entry["seed"], dtype=torch.long))
                    costs.append({"evaluations": int(entry["evaluations"]), "seconds": float(entry["seconds"]),
                                  "cached": True})
                    continue
                except (ValueError, KeyError):  # a damaged entry is recomputed, never trusted
                    pass
        t0 = time.perf_counter()
        seed, evaluations = coarse_seed(adapter, x, probes, loss=loss, weighting=weighting, **search)
        cost = {"evaluations": evaluations, "seconds": time.perf_counter() - t0, "cached": False}
        if path is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _write_entry(path, {"seed": seed.tolist(), "evaluations": evaluations, "seconds": cost["seconds"]})
            except Exception:  # a read-only or full cache costs time, never the run
                pass
        seeds.append(seed)
        costs.append(cost)
    return torch.stack(seeds), costs


def _write_entry(path: Path, entry: dict) -> None:
    """Replace ``path`` at once, so a concurrent reader sees the old entry or the whole new one.
    (Derived data: a damaged entry is recomputed, so no fsync and no error advice are needed.)"""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(entry))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
