"""``--method auto``: pick exhaustive enumeration, adaptive enumeration or DIVE for a model and task.

The choice is the cheapest by ``cost.choose``: the evaluations per image of each candidate
(``cost``: K x P, the staged sum, DIVE's flat budget) weighed by the measured seconds of a
forward-only and of a training evaluation on this model (``inversion.timing``). The candidates use
the task's defaults and the user's options (the probe options go to all three, the others to the
method that has them: ``split_options``; ``--stages`` replaces adaptive enumeration's scaled
Diffusion Classifier schedule). Accuracy is not predicted: each candidate's default is the setting that held the
exhaustive accuracy on the dev splits (README, "Large label spaces").

Accuracy guard (``accuracy_guard``): DIVE is cheapest because it scores few classes, and its search
can miss the class enumeration would pick. So when DIVE is the cheapest, DIVE and adaptive
enumeration are run on ``guard`` images (default 30): the task's dev split when it has one, judged
by accuracy (DIVE is kept while its losses exceed its wins by at most ``guard_misses``, default
1), else the run's own first images with no labels, where an image on which enumeration's answer
scores strictly lower on the full probe set than DIVE's is a *search miss* (at most
``guard_misses`` allowed). Both scores are mean errors over the same probes, so they compare
directly (a snapped label's monitor value is its enumeration score).

A run of ``auto`` *is* a run of the chosen method and config (same key, resumable and comparable
with an explicit run); run.json adds ``method_choice`` with the reason. The choice is made once
per output folder (``OUT/method_choice.json``), so a resumed or second worker continues the same
run even if its timing would differ.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from dive_bench.adapters import load_model
from dive_bench.adapters.base import Adapter
from dive_bench.spec.configs import PROBE_FIELDS, STORED_NAMES, canonical, flat_names, DiveConfig, EnumerationConfig, check_stages, num_probes, to_flat
from dive_bench.spec.options import validate
from dive_bench.inversion.cost import Candidate, choose, dive_evaluations, enumeration_evaluations, scaled_stages
from dive_bench.data.base import to_model_range
from dive_bench.util.environment import autocast
from dive_bench.errors import DiveBenchError
from dive_bench.util.suggest import did_you_mean
from dive_bench.inversion import ProbeSet
from dive_bench.inversion.timing import seconds_per_evaluation
from dive_bench.labels import class_count, layout_tokenizer
from dive_bench.run.methods import METHODS
from dive_bench.spec.run_json import write_json_atomic
from dive_bench.util.seeding import item_seed
from dive_bench.tasks import TASKS
from dive_bench.spec.defaults import method_defaults
from dive_bench.spec.run_options import GuardOptions, declared

CHOICE_FILE = "method_choice.json"
#: auto's own options (not a method's), declared in spec.run_options.GuardOptions
GUARD_OPTIONS = tuple(declared(GuardOptions))
#: relative tolerance below which enumeration's score does not count as beating DIVE's
MISS_TOLERANCE = 1e-6
GUARD_RULE = ("search miss: adaptive enumeration's answer scores strictly lower than DIVE's answer on all probes "
              f"(relative tolerance {MISS_TOLERANCE:g}); DIVE is kept if misses <= guard_misses, else the cheapest "
              "enumeration is taken")
GUARD_RULE_DEV = ("on the task's dev split (labelled): a miss is an image DIVE gets wrong and adaptive enumeration "
                  "right, a win the reverse; DIVE is kept if misses - wins <= guard_misses (net losses), else the "
                  "cheapest enumeration is taken")


def split_options(options: dict) -> dict[str, dict]:
    """Auto's options per method: a flat option goes to every method that has it (the probe
    options and ``eval_batch`` to both, ``steps`` to DIVE, ``stages`` to adaptive enumeration);
    ``dive={...}`` and ``enumerate={...}`` set one method's only. ``batch_size`` (before the rename,
    DIVE's probes per step but enumeration's forward chunk) is refused as ambiguous. ``guard`` and
    ``guard_misses`` are auto's own: under ``"auto"``."""
    per = {"dive": dict(options.get("dive") or {}), "enumerate": dict(options.get("enumerate") or {}), "auto": {}}
    guard = GuardOptions(**{name: options[name] for name in GUARD_OPTIONS if name in options})
    validate(guard)
    per["auto"] = {name: getattr(guard, name) for name in GUARD_OPTIONS}
    for name, value in options.items():
        if name in PROBE_FIELDS:
            for m in ("dive", "enumerate"):
                per[m].setdefault(name, value)
        elif name == "stages":
            per["enumerate"]["stages"] = value
        elif name in ("dive", "enumerate", *GUARD_OPTIONS):
            continue
        elif name in STORED_NAMES["dive"].values() and name in STORED_NAMES["enumerate"].values():
            meant = " or ".join(f"{canonical(m, {name: 0}).popitem()[0]} ({m})" for m in ("dive", "enumerate"))
            raise DiveBenchError(f"{name!r} meant different things for DIVE and enumeration; under --method auto "
                                 f"name {meant}")
        else:
            owners = [m for m in ("dive", "enumerate") if canonical(m, {name: 0}).popitem()[0] in flat_names(m)]
            if not owners:
                known = sorted(set(flat_names("dive")) | set(flat_names("enumerate")) | {"stages", *GUARD_OPTIONS})
                raise DiveBenchError(f"--method auto has no option {name!r}.{did_you_mean(name, known, n=1, cutoff=0.6)} "
                                     f"Options: {', '.join(known)}")
            for m in owners:
                per[m].setdefault(name, value)
    return per


def _config(cls: type, defaults: dict, options: dict) -> Any:
    cfg = cls.of(**{**canonical(cls.method, defaults), **canonical(cls.method, options)})
    validate(cfg)
    return cfg


def candidates(adapter: Adapter, task: Any, options: dict[str, dict]) -> list[Candidate]:
    """Exhaustive and adaptive enumeration and DIVE with the task's defaults and per-method
    ``options`` (``split_options``)."""
    k = len(adapter.vocabulary["class"])  # the classes enumeration scores
    declared = getattr(task, "method_defaults", {})
    space = class_count(adapter.label_space)  # the defaults' key, as for a run of a named method
    defaults = {m: method_defaults(m, space, declared, task.name)[0] for m in ("dive", "enumerate")}
    enum_opts = dict(options.get("enumerate", {}))
    stages = enum_opts.pop("stages", None)
    enum = _config(EnumerationConfig, {**defaults.get("enumerate", {}), "stages": None}, enum_opts)
    dive = _config(DiveConfig, defaults.get("dive", {}), options.get("dive", {}))
    t = adapter.parameterization.num_train_timesteps
    p_enum, p_dive = num_probes(enum.probes.interval, t), num_probes(dive.probes.interval, t)
    stages = scaled_stages(k, p_enum) if stages in (None, "dc") else tuple(tuple(s) for s in stages)
    adaptive = dataclasses.replace(enum, stages=stages)
    adaptive.check()
    check_stages(adaptive.stages, p_enum)
    monitor, train = dive_evaluations(p_dive, dive.steps, dive.probes_per_step, dive.monitor_every, dive.verify,
                                    dive.verify_schedule)
    return [Candidate("exhaustive enumeration", "enumerate", to_flat(enum), k * p_enum),
            Candidate("adaptive enumeration", "enumerate", to_flat(adaptive),
                      enumeration_evaluations(k, p_enum, adaptive.stages)),
            Candidate("DIVE", "dive", to_flat(dive), monitor, train)]


def resolve(model: str, task_name: str, options: dict, *, out: Path | None, items_per_batch: int,
            device: torch.device, data_root: str | None = None, adapter: Adapter | None = None, seed: int = 0,
            limit: int | None = None, dtype: str = "fp32", data: Any = None) -> tuple[str, dict, dict, Adapter]:
    """(method, config, record of the choice, the loaded adapter) for ``--method auto``; ``seed``,
    ``limit`` and ``dtype`` are the run's, so the guard scores the run's first images as the run will."""
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
    split = split_options(options)
    cands = candidates(adapter, task, split)
    data = data if data is not None else task.load(data_root)  # the run's own data when it has it
    x0 = adapter.encode(to_model_range(data.images[:1]).to(device))
    dive = next(c for c in cands if c.method == "dive")
    probes = ProbeSet.for_adapter(adapter, tuple(x0.shape[1:]), interval=dive.config["interval"],
                                  seed=dive.config["probe_seed"], device=device)
    enum_batch = next(c for c in cands if c.method == "enumerate").config["eval_batch"]
    fwd_s, train_s = seconds_per_evaluation(adapter, x0, probes, forward_batch=enum_batch,
                                            train_batch=items_per_batch * min(dive.config["probes_per_step"], len(probes)))
    best, record = choose(cands, fwd_s, train_s)
    # the guard's images: the task's dev split when it has one (labels judge accuracy), else the
    # run's own first images (no labels: judged by score, as the run will be)
    guard_task, labels = task, None
    if getattr(task, "dev", None):
        guard_task = TASKS.get(task.dev)
        data = guard_task.load(data_root)
    available = min(len(data), limit or len(data)) if guard_task is task else len(data)  # --limit: the run's items
    ids = list(range(min(available, split["auto"]["guard"])))
    if guard_task is not task:
        labels = [guard_task.target(data, i) for i in ids]
    seeds = [item_seed(seed, guard_task.name, i) for i in ids]
    best, record = accuracy_guard(adapter, data.images[ids], seeds, probes, cands, best, record, fwd_s, train_s,
                                  max_misses=split["auto"]["guard_misses"], items_per_batch=items_per_batch,
                                  dtype=dtype, labels=labels)
    if "guard" in record and guard_task is not task:
        record["guard"]["images_from"] = guard_task.name
    record = {**record, "config": best.config, "request": request}
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(out) / CHOICE_FILE, record)
    return best.method, best.config, record, adapter


def accuracy_guard(adapter: Adapter, images: torch.Tensor, seeds: list[int], probes: ProbeSet,
                   cands: list[Candidate], best: Candidate, record: dict, fwd_s: float, train_s: float, *,
                   max_misses: int, items_per_batch: int, dtype: str,
                   labels: list[int] | None = None) -> tuple[Candidate, dict]:
    """Keep DIVE, the cheapest, only if it answers as well as adaptive enumeration on these images.

    DIVE is cheap because it scores few classes; on a large label space its search can end without
    ever scoring the class enumeration would pick (the first numbers default: 57.7% against 64.3%
    on numbers-1000), which the cost model cannot see. With ``labels`` (a dev split) accuracy
    decides: DIVE is rejected when it loses more paired images to adaptive enumeration than it wins,
    beyond ``max_misses``. Without labels (the run's own first images, with its seeds and blocks, so
    DIVE's answers are the run's) an image is a *search miss* when adaptive enumeration's answer
    has a strictly lower mean error over all probes than DIVE's (the same ProbeSet: DIVE's monitor
    value of a snapped label *is* enumeration's score for it). Score is the stricter judge: on
    numbers-1000 the staged-verify default loses 4 of 30 images on score and none on accuracy
    (README, "Large label spaces"). Returns the candidate to run and ``record`` with a ``guard``
    entry saying what was done and why."""
    dive = next(c for c in cands if c.method == "dive")
    adaptive = next(c for c in cands if c.name == "adaptive enumeration")
    guard = {"images": len(images), "misses": 0, "max_misses": max_misses, "evaluations": 0,
             "rule": GUARD_RULE if labels is None else GUARD_RULE_DEV}
    same_probes = all(dive.config[f] == adaptive.config[f] for f in PROBE_FIELDS)
    if best is not dive or not len(images) or not dive.config["snap"] or not same_probes:
        why = ("the cheapest candidate is an enumeration" if best is not dive else
               "it is switched off (--guard 0)" if not len(images) else
               "DIVE's monitor values are not comparable with enumeration's scores (no snapping, or other probes)")
        return best, {**record, "guard": {**guard, "images": 0, "decision": "not run", "reason": f"Not run: {why}."}}
    p = len(probes)  # the answer's score must cover all probes: a last stage with fewer ends at 1 class
    stages = tuple(tuple(s) for s in adaptive.config["stages"] or ((p, 1),))
    if stages[-1][0] < p:
        stages = stages[:-1] + ((stages[-1][0], 1), (p, 1))
    configs = {"dive": _config(METHODS["dive"].config_cls, {}, dive.config),
               "enumerate": _config(METHODS["enumerate"].config_cls, adaptive.config, {"stages": stages})}
    missed, wins, t0 = [], [], time.perf_counter()
    for start in range(0, len(images), items_per_batch):  # the run's blocks: same neighbours, same results
        block = slice(start, start + items_per_batch)
        with autocast(probes.noise.device, dtype):
            x0 = adapter.encode(to_model_range(images[block]).to(probes.noise.device))
            found = METHODS["dive"].run(adapter, x0, probes, configs["dive"], seeds[block])
            enumerated = METHODS["enumerate"].run(adapter, x0, probes, configs["enumerate"], seeds[block])
        for i, (d, e) in enumerate(zip(found, enumerated), start):
            guard["evaluations"] += d["evaluations"] + e["evaluations"]
            score = e["scores"][e["prediction"]]
            entry = {"item": i, "dive": d["prediction"], "dive_score": d["best_monitor"],
                     "enumerate": e["prediction"], "enumerate_score": score}
            if labels is not None:
                right = (d["prediction"] == labels[i], e["prediction"] == labels[i])
                if right[0] != right[1]:
                    (wins if right[0] else missed).append({**entry, "label": labels[i]})
            elif score < d["best_monitor"] - MISS_TOLERANCE * abs(d["best_monitor"]):
                missed.append(entry)
    n, m, w = len(images), len(missed), len(wins)
    guard.update(misses=m, missed=missed, seconds=time.perf_counter() - t0,
                 **({"wins": w, "won": wins} if labels is not None else {}))
    what = (f"{m} dev images lost to adaptive enumeration and {w} won" if labels is not None
            else f"{m} search misses")
    if m - w <= max_misses:
        return best, {**record, "guard": {**guard, "decision": "DIVE kept", "reason": (
            f"DIVE kept: {what} on the first {n} images, at most {max_misses} net allowed.")}}
    best, redo = choose([c for c in cands if c.method == "enumerate"], fwd_s, train_s)
    reason = (f"DIVE rejected: {what} on the first {n} images (at most {max_misses} net allowed), so the cheapest "
              "enumeration is run.")
    return best, {**record, "chosen": best.name, "method": best.method, "reason": f"{reason} {redo['reason']}",
                  "guard": {**guard, "decision": f"DIVE rejected: {best.name}", "reason": reason}}


def _stored_choice(out: Path | None, request: dict) -> dict | None:
    """An earlier choice for this folder, model, task and options (None if there is none)."""
    if out is None or not (Path(out) / CHOICE_FILE).is_file():
        return None
    try:
        stored = json.loads((Path(out) / CHOICE_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise DiveBenchError(f"{Path(out) / CHOICE_FILE} is unreadable ({exc}); delete it to choose again") from None
    return stored if stored.get("request") == json.loads(json.dumps(request)) else None
