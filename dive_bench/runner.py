"""Run a method over a task's items: batching, per-item seeds, device/precision, resume, run.json."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import __version__
from .adapters import load_model
from .adapters.base import Adapter
from .data.base import to_model_range
from .errors import DiveBenchError
from .inversion import ProbeSet
from .methods import METHODS
from .seeding import item_seed
from .store import ShardStore, iter_results, write_json_atomic
from .tasks import TASKS

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class ScoreRequest:
    model: str
    task: str
    method: str = "dive"
    method_config: dict = field(default_factory=dict)
    out: Path = Path("runs/latest")
    limit: int | None = None
    seed: int = 0
    device: str = "cpu"
    dtype: str = "fp32"
    tf32: bool = False
    items_per_batch: int = 16
    data_root: str | None = None
    progress: bool = True


def _git_sha() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5)
        return proc.stdout.strip() if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_device(device: str) -> torch.device:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DiveBenchError(f"--device {device} requested but CUDA is not available on this machine; use --device cpu")
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return torch.device(device)


def run_key(task, item_ids: list[int], model_sha: str, method: str, config: dict, seed: int) -> str:
    """Hash of what changes the numbers (and nothing else: not batch size, host or GPU count)."""
    payload = {"task": task.name, "task_version": task.version, "items": item_ids, "model_sha256": model_sha,
               "method": method, "config": config, "seed": seed}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def score(req: ScoreRequest, adapter: Adapter | None = None) -> dict:
    """Score ``req.model`` on ``req.task``; returns the run.json payload (also written to disk)."""
    if req.method not in METHODS:
        raise DiveBenchError(f"unknown method {req.method!r}; use one of {', '.join(METHODS)}")
    method = METHODS[req.method]
    try:
        cfg = method.config_cls(**req.method_config)
    except TypeError as exc:
        raise DiveBenchError(f"bad option for method {req.method}: {exc}") from exc
    task = TASKS.get(req.task)
    device = resolve_device(req.device)
    if req.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    adapter = adapter or load_model(req.model)
    adapter.to(device)
    data = task.load(req.data_root)
    adapter.check_images(data.images[:1])
    if data.num_classes != adapter.label_space.num_classes:
        raise DiveBenchError(f"task {task.name!r} has {data.num_classes} classes but model {req.model!r} "
                             f"has {adapter.label_space.num_classes}; pick a model trained on this dataset")
    ids = list(range(len(data)))[: req.limit] if req.limit else list(range(len(data)))
    info = adapter.info()
    config = dataclasses.asdict(cfg)
    key = run_key(task, ids, info["sha256"], req.method, config, req.seed)
    out = Path(req.out)
    spec = {"model": req.model, "task": task.name, "task_version": task.version, "method": req.method,
            "method_config": config, "seed": req.seed, "n_items": len(ids)}
    store = ShardStore(out / "shards" / "shard-0-of-1.sqlite", key, spec)
    done = store.done_ids()
    todo = [i for i in ids if i not in done]
    autocast = (torch.autocast(device.type, dtype=DTYPES[req.dtype]) if DTYPES.get(req.dtype)
                else contextlib.nullcontext())
    probes: ProbeSet | None = None
    t_start = time.time()
    bar = tqdm(total=len(ids), initial=len(ids) - len(todo), desc=f"{req.method} {req.model} on {task.name}",
               disable=not req.progress, file=sys.stderr)
    try:
        for start in range(0, len(todo), req.items_per_batch):
            batch = todo[start:start + req.items_per_batch]
            t0 = time.time()
            with autocast:
                x0 = adapter.encode(to_model_range(data.images[batch]).to(device))
                if probes is None:
                    probes = ProbeSet.build(tuple(x0.shape[1:]), num_train_timesteps=adapter.schedule.num_train_timesteps,
                                            interval=cfg.interval, seed=cfg.probe_seed, device=device)
                results = method.run(adapter, x0, probes, cfg, [item_seed(req.seed, task.name, i) for i in batch])
            per_item = (time.time() - t0) / len(batch)
            for item_id, res in zip(batch, results):
                res["label"] = int(data.labels[item_id])
                store.put(item_id, res, per_item)
            bar.update(len(batch))
    finally:
        bar.close()
        store.close()
    return finalize(out, key, spec, task, info, req, time.time() - t_start)


def finalize(out: Path, key: str, spec: dict, task, info: dict, req: ScoreRequest | None, wall: float) -> dict:
    """Collect all shards of ``key`` under ``out`` into metrics and write ``out/run.json``."""
    rows = list(iter_results(out, key))
    preds = [r["prediction"] for _, r, _ in rows]
    labels = [r["label"] for _, r, _ in rows]
    seconds = [s for _, _, s in rows]
    evals = [r.get("evaluations", 0) for _, r, _ in rows]
    metrics = task.metrics(preds, labels) if rows else {}
    n = len(rows)
    payload = {
        "schema": 1,
        "run_key": key,
        "model": spec["model"],
        "task": spec["task"],
        "task_version": spec["task_version"],
        "method": spec["method"],
        "method_config": spec["method_config"],
        "seed": spec["seed"],
        "status": "complete" if n == spec["n_items"] else "partial",
        "n_items": spec["n_items"],
        "n_done": n,
        "metrics": metrics,
        "model_info": info,
        "timings": {"seconds_per_item": sum(seconds) / n if n else None,
                    "evaluations_per_item": sum(evals) / n if n else None,
                    "wall_seconds_this_invocation": wall},
        "env": {"dive_bench": __version__, "python": platform.python_version(), "torch": torch.__version__,
                "host": socket.gethostname(), "git_sha": _git_sha(),
                "device": req.device if req else None, "dtype": req.dtype if req else None,
                "tf32": req.tf32 if req else None, "items_per_batch": req.items_per_batch if req else None,
                "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json_atomic(out / "run.json", payload)
    return payload
