"""``--method auto``: pick exhaustive enumeration, adaptive enumeration or DIVE for a model and task.

The choice is the cheapest by ``cost.choose``: the evaluations per image of each candidate
(``cost``: K x P, the staged sum, DIVE's flat budget) weighed by the measured seconds of a
forward-only and of a training evaluation on this model (``inversion.timing``). The candidates use
the task's defaults and the user's options (the probe options go to all three, the others to the
method that has them: ``split_options``; ``--stages`` replaces adaptive enumeration's scaled
Diffusion Classifier schedule). Accuracy is not predicted: each candidate's default is the setting that held the
exhaustive accuracy on the dev splits (README, "Large label spaces").

A run of ``auto`` *is* a run of the chosen method and config (same key, resumable and comparable
with an explicit run); run.json adds ``method_choice`` with the reason. The choice is made once
per output folder (``OUT/method_choice.json``), so a resumed or second worker continues the same
run even if its timing would differ.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from .adapters import load_model
from .adapters.base import Adapter
from .configs import PROBE_FIELDS, DiveConfig, EnumerationConfig, check_stages, num_probes
from .constraints import validate
from .cost import Candidate, choose, dive_evaluations, enumeration_evaluations, scaled_stages
from .data.base import to_model_range
from .errors import DiveBenchError
from .inversion import ProbeSet
from .inversion.timing import seconds_per_evaluation
from .labels import layout_tokenizer
from .run_json import write_json_atomic
from .tasks import TASKS

CHOICE_FILE = "method_choice.json"


def split_options(options: dict) -> dict[str, dict]:
    """Auto's options per method: ``dive={...}`` and ``enumerate={...}`` go to that method, the
    probe options (interval, probe_seed, loss, weighting) to both and ``stages`` to adaptive
    enumeration. Names are per method because they collide (``batch_size`` is DIVE's probes per step
    but enumeration's forward chunk)."""
    per = {"dive": dict(options.get("dive") or {}), "enumerate": dict(options.get("enumerate") or {})}
    for name, value in options.items():
        if name in PROBE_FIELDS:
            for m in per:
                per[m].setdefault(name, value)
        elif name == "stages":
            per["enumerate"]["stages"] = value
        elif name not in per:
            raise DiveBenchError(f"--method auto takes the probe options ({', '.join(PROBE_FIELDS)}), stages, and "
                                 f"dive={{...}} / enumerate={{...}} for the others; got {name!r}")
    return per


def _config(cls: type, defaults: dict, options: dict) -> Any:
    try:
        cfg = cls(**{**defaults, **options})
    except TypeError as exc:
        raise DiveBenchError(f"bad option for --method auto: {exc}") from None
    validate(cfg)
    return cfg


def candidates(adapter: Adapter, task: Any, options: dict[str, dict]) -> list[Candidate]:
    """Exhaustive and adaptive enumeration and DIVE with the task's defaults and per-method
    ``options`` (``split_options``)."""
    defaults = getattr(task, "method_defaults", {})
    enum_opts = dict(options.get("enumerate", {}))
    stages = enum_opts.pop("stages", None)
    enum = _config(EnumerationConfig, {**defaults.get("enumerate", {}), "stages": None}, enum_opts)
    dive = _config(DiveConfig, defaults.get("dive", {}), options.get("dive", {}))
    k = len(adapter.vocabulary["class"])
    t = adapter.schedule.num_train_timesteps
    p_enum, p_dive = num_probes(enum.interval, t), num_probes(dive.interval, t)
    stages = scaled_stages(k, p_enum) if stages in (None, "dc") else tuple(tuple(s) for s in stages)
    adaptive = dataclasses.replace(enum, stages=stages)
    adaptive.check()
    check_stages(adaptive.stages, p_enum)
    monitor, train = dive_evaluations(p_dive, dive.steps, dive.batch_size, dive.monitor_every, dive.verify)
    return [Candidate("exhaustive enumeration", "enumerate", dataclasses.asdict(enum), k * p_enum),
            Candidate("adaptive enumeration", "enumerate", dataclasses.asdict(adaptive),
                      enumeration_evaluations(k, p_enum, adaptive.stages)),
            Candidate("DIVE", "dive", dataclasses.asdict(dive), monitor, train)]


def resolve(model: str, task_name: str, options: dict, *, out: Path | None, items_per_batch: int,
            device: torch.device, data_root: str | None = None, adapter: Adapter | None = None) -> tuple[str, dict, dict, Adapter]:
    """(method, config, record of the choice, the loaded adapter) for ``--method auto``."""
    task = TASKS.get(task_name)
    adapter = adapter or load_model(model)
    adapter.to(device)
    if layout_tokenizer(adapter) is not None:
        raise DiveBenchError(f"--method auto chooses among classification methods; {model!r} is a layout model: "
                             "use --method dive (detection is scored by DIVE's layout search)")
    request = {"model_sha256": adapter.info()["sha256"], "task": task_name, "options": options}
    stored = _stored_choice(out, request)
    if stored is not None:
        return stored["method"], stored["config"], stored, adapter
    cands = candidates(adapter, task, split_options(options))
    data = task.load(data_root)
    x0 = adapter.encode(to_model_range(data.images[:1]).to(device))
    dive = next(c for c in cands if c.method == "dive")
    probes = ProbeSet.build(tuple(x0.shape[1:]), num_train_timesteps=adapter.schedule.num_train_timesteps,
                            interval=dive.config["interval"], seed=dive.config["probe_seed"], device=device)
    enum_batch = next(c for c in cands if c.method == "enumerate").config["batch_size"]
    fwd_s, train_s = seconds_per_evaluation(adapter, x0, probes, forward_batch=enum_batch,
                                            train_batch=items_per_batch * min(dive.config["batch_size"], len(probes)))
    best, record = choose(cands, fwd_s, train_s)
    record = {**record, "config": best.config, "request": request}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(out) / CHOICE_FILE, record)
    return best.method, best.config, record, adapter


def _stored_choice(out: Path | None, request: dict) -> dict | None:
    """An earlier choice for this folder, model, task and options (None if there is none)."""
    if out is None or not (Path(out) / CHOICE_FILE).is_file():
        return None
    try:
        stored = json.loads((Path(out) / CHOICE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise DiveBenchError(f"{Path(out) / CHOICE_FILE} is unreadable ({exc}); delete it to choose again") from None
    return stored if stored.get("request") == json.loads(json.dumps(request)) else None
