"""Test inputs in the formats the package reads, built by the package's own writers where it has one.

- run.json payloads for tests that read runs without making them (compare, per-class, scaling,
  check, self-consistency): :func:`run_json` goes through ``RunResult.build``, the writer that
  ``score`` and ``fidelity`` use, so a payload here has the layout a real run.json has. The runs
  are small (4 models, 40 images) and their outcomes chosen by hand, so every number can be
  checked on paper. Tests that need a damaged or legacy run.json build that dict themselves.
- result shards through ``ShardStore``; Fashion-MNIST IDX folders.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dive_bench.metrics.stats import wilson_interval
from dive_bench.spec.result import RunResult
from dive_bench.store.shards import ShardStore, shard_path

if TYPE_CHECKING:
    import torch

#: every payload here was "created" at the same moment: reports that break ties by ``created``
#: (newest of duplicates) see ties, as they would between runs that carry no date
CREATED = "2026-01-01T00:00:00Z"


def run_json(*, model: str, task: str, method: str, method_config: dict, metrics: dict, n_items: int,
             task_version: str = "1", items_sha256: str = "items", seed: int | None = 0, status: str = "complete",
             n_done: int | None = None, failed_items: dict | None = None, model_info: dict | None = None,
             timings: dict | None = None, env: dict | None = None, metric_info: dict | None = None,
             run_key: str | None = None, **extra) -> dict:
    """A run.json payload written by ``RunResult.build`` (``extra``: items, reference, samples, ...).

    Its run key, unless given, is a digest of everything passed, so two different runs never share
    one (reports use the key as a run's identity when it has no file)."""
    fields = dict(model=model, task=task, task_version=task_version, method=method, method_config=method_config,
                  items_sha256=items_sha256, seed=seed, status=status, n_items=n_items,
                  n_done=n_items if n_done is None else n_done, failed_items=failed_items or {}, metrics=metrics,
                  model_info=model_info or {}, timings=timings or {}, env=env or {}, metric_info=metric_info)
    if run_key is None:
        blob = json.dumps([fields, extra], sort_keys=True, default=str).encode()
        run_key = hashlib.sha256(blob).hexdigest()[:16]
    return RunResult.build(run_key=run_key, **fields, **{"created": CREATED, **extra}).payload


N_ITEMS = 40
DIVE_CONFIG = {"steps": 100, "probes_per_step": 10, "monitor_every": 10, "interval": 10, "probe_seed": 42, "loss": "l2"}
FID_CONFIG = {"sampler": "ddim", "steps": 50, "guidance_scale": 1.0, "seed": 0, "num_samples": 100, "dtype": "fp32",
              "labels": "balanced", "feature_extractor": "fmnist-classifier", "extractor_weights_sha256": "ab" * 32,
              "metric_isc_splits": 10, "metric_kid_subsets": 100, "metric_kid_subset_size": 1000,
              "metric_prc_neighborhood": 3, "metric_rng_seed": 2020}
#: name, parameters, images right of 40 (DIVE), FD, precision
MODELS = [("m-xs", 10_000, 20, 40.0, 0.2), ("m-s", 20_000, 24, 30.0, 0.3), ("m-b", 40_000, 28, 20.0, 0.4),
          ("m-l", 80_000, 32, 25.0, 0.5)]


def model_info(name: str, params: int, adapter: str = "dit") -> dict:
    return {"name": name, "params": params, "sha256": f"sha-{name}", "num_classes": 10, "adapter": adapter}


def score_run(name: str, params: int, right: int, *, method: str = "dive", config: dict | None = None,
              seed: int = 0) -> dict:
    """A classification run: the first ``right`` of N_ITEMS images correct (label 0, wrong answer 1)."""
    config = dict(DIVE_CONFIG if config is None else config)
    ids = list(range(N_ITEMS))
    low, high = wilson_interval(right, N_ITEMS)
    return run_json(model=name, task="fmnist", method=method, method_config=config, seed=seed,
                    items_sha256="items-0-39", n_items=N_ITEMS,
                    metrics={"accuracy": {"value": right / N_ITEMS, "ci_low": low, "ci_high": high, "n": N_ITEMS}},
                    metric_info={"primary": "accuracy", "higher_is_better": {"accuracy": True}},
                    model_info=model_info(name, params),
                    timings={"evaluations_per_item": 1000.0, "seconds_per_item": 0.5}, env={"dtype": "fp32"},
                    items={"ids": ids, "labels": [0] * N_ITEMS,
                           "predictions": [0] * right + [1] * (N_ITEMS - right)})


def fidelity_run(name: str, params: int, fd: float, precision: float, *, extractor: str = "fmnist-classifier",
                 num_samples: int = 100, replicates: list[float] | None = None, seed: int = 0) -> dict:
    cfg = {**FID_CONFIG, "feature_extractor": extractor, "num_samples": num_samples, "seed": seed}
    suffix = "" if extractor == "inception-v3-compat" else "_fmnist"
    fd_name = "fid" if extractor == "inception-v3-compat" else "fd_fmnist"
    metrics = {fd_name: {"value": fd, **({"bootstrap": replicates} if replicates else {})},
               f"precision{suffix}": {"value": precision}}
    return run_json(model=name, task="fidelity:fmnist-test", method="fidelity", method_config=cfg, seed=seed,
                    items_sha256="reference-sha", n_items=num_samples, metrics=metrics,
                    metric_info={"primary": fd_name, "higher_is_better": {fd_name: False, f"precision{suffix}": True}},
                    model_info=model_info(name, params), timings={"seconds_per_1000_samples": 10.0},
                    reference={"n": 1000, "name": "fmnist-test"})


def four_models(replicates: bool = False) -> list[dict]:
    runs = [score_run(n, p, r) for n, p, r, _, _ in MODELS]
    rng = np.random.default_rng(1)
    runs += [fidelity_run(n, p, fd, prec, replicates=list(fd + 3 + rng.normal(0, 2, 50)) if replicates else None)
             for n, p, _, fd, prec in MODELS]
    return runs


def layout_outcomes(hits: int) -> tuple[list[dict], list[list[dict]]]:
    """Per-image targets and predictions of 6 images with one box each: the first ``hits`` exact, the rest missed."""
    labels, predictions = [], []
    for i in range(6):
        box = [2.0 + i, 3.0, 8.0, 8.0]
        labels.append({"image_id": i + 1, "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1,
                                                           "bbox": box, "area": 64.0, "iscrowd": 0}]})
        predictions.append([{"bbox": box if i < hits else [20.0, 20.0, 4.0, 4.0], "category_id": 1, "score": 0.9}])
    return labels, predictions


def with_task(run: dict, task: str) -> dict:
    run = json.loads(json.dumps(run))
    run["task"] = run["protocol"]["task"] = task
    return run


def write_idx_split(folder: Path, images: torch.Tensor, labels: torch.Tensor, split: str = "test") -> Path:
    """A tiny Fashion-MNIST-format folder (gzipped IDX files) so CLI tests use a small reference."""
    stem = {"test": "t10k", "train": "train"}[split]
    folder.mkdir(parents=True, exist_ok=True)
    imgs = images[:, 0].numpy().astype(np.uint8)
    with gzip.open(folder / f"{stem}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", *imgs.shape) + imgs.tobytes())
    with gzip.open(folder / f"{stem}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">HBB", 0, 8, 1) + struct.pack(">I", len(labels)) + labels.numpy().astype(np.uint8).tobytes())
    return folder


# -- result shards --------------------------------------------------------------------------------

SHARD_ITEMS = 40
#: the run a shard in the store tests belongs to (dit-digits-xs, DIVE, digits items 0..39)
SHARD_SPEC = {"model": "dit-digits-xs", "task": "digits", "task_version": "1", "method": "dive", "method_config": {},
              "seed": 0, "n_items": SHARD_ITEMS, "item_ids": list(range(SHARD_ITEMS)), "items_per_batch": 4,
              "device": "cpu", "dtype": "fp32", "tf32": False}
SHARD_INFO = {"sha256": "x" * 64}


def shard_store(out: Path, k: int = 0, n: int = 1, key: str = "k1") -> ShardStore:
    """Worker ``k`` of ``n``'s result shard in run folder ``out``, opened through the real ShardStore."""
    return ShardStore(shard_path(out, k, n), key, SHARD_SPEC, SHARD_INFO)


def degraded_checkpoint(name: str, noise: float, dest: Path, seed: int = 0) -> Path:
    """A copy of the bundled class DiT ``name`` with Gaussian noise of ``noise`` x each tensor's
    std added to every weight, saved as a diffusers folder (load it as ``dit:DEST``): a checkpoint
    that is clearly worse, for tests of the regression gates."""
    import copy

    import torch

    from dive_bench.adapters import load_model
    from dive_bench.models.class_dit import untie

    model = copy.deepcopy(load_model(name).transformer)
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * noise * p.std().nan_to_num(0.0))
    untie(model)
    model.save_pretrained(dest)
    return dest
