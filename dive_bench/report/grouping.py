"""Which runs share a table, a column or a sweep: every grouping key of the reports, in one place.

Why one module: a report is only as honest as its grouping. Two runs in one table are read as one
measurement under one protocol, so the rule that puts them there must be the same wherever it
applies -- the comparison (``report.comparison``), the per-protocol and fidelity tables of the
leaderboard (``report.leaderboard``, ``report.fidelity``) and a checkpoint sweep (``run.sweep``).
When the rules lived beside the code that drew each table, the precision rule existed twice and a
fix to one would have left the other table grouping runs differently.

Each key is a pure function of a run (a ``spec.result.RunResult``, or its payload dict), read through
``RunResult``'s accessors (or of a sweep's settings): no model, task or torch.
``spec.Protocol`` says what a protocol is; the keys here say which part of it (plus seed and
precision) a given table holds fixed, and which part becomes its columns.
"""

from __future__ import annotations

import json
from typing import Any

from dive_bench.spec.configs import comparable_config
from dive_bench.spec.result import RunResult
from dive_bench.spec.runspec import generated_task_parts
from dive_bench.spec.run_options import SAMPLE_RUNTIME

#: fidelity options that leave the numbers unchanged (where files are, memory): free to change on a
#: rerun of a sweep, so they are no part of its protocol (declared beside the options themselves)
SWEEP_FREE_FIDELITY_OPTIONS = SAMPLE_RUNTIME


# -- what a run is: its model, its kind, its precision --------------------------------------------

def model_id(run: RunResult | dict) -> str:
    """A model is its checkpoint: the sha256 in model_info (the name only for files without one)."""
    return RunResult.of(run).model_id


def model_kind(run: RunResult | dict) -> str:
    """"layout" for a layout-conditional model, else "class": the label space the run recorded (or,
    for files written before it did, ``RunResult.label_space``'s inference)."""
    return RunResult.of(run).label_space.kind


def precision_of(run: RunResult | dict) -> str:
    """The arithmetic a run's numbers came from: its dtype, with fp32 under TF32 matmuls as "tf32".
    A bf16 and an fp32 run of one config are two measurements, so every key below holds it."""
    return RunResult.of(run).precision


# -- the leaderboard: one table per protocol, a column per method config ----------------------------

def protocol_key(run: RunResult | dict) -> tuple:
    """One table per (protocol's task, version, items, probes) and seed: ``spec.Protocol`` defines
    the protocol; its method and config are the table's columns, so they are left out here."""
    run = RunResult.of(run)
    p = run.protocol
    return (p.task, p.task_version, p.items_sha256, run.n_items, p.probes, run.seed)


def _rank(run: RunResult) -> tuple:
    return (run.complete, run.n_done or 0, run.created)


def best_of_duplicates(runs: list[RunResult]) -> list[RunResult]:
    """One run per (protocol, model, method config, precision): a complete run before a partial one,
    then the one with more items done, then the newer. Two runs of one cell used to overwrite each
    other in file order, so a partial rerun could hide the complete run."""
    runs = [RunResult.of(r) for r in runs]
    best: dict[str, RunResult] = {}
    for r in runs:
        if r.kind == "fidelity":
            best[f"fidelity:{r.path or id(r)}"] = r
            continue
        cell = json.dumps([protocol_key(r), r.model, r.method, comparable_config(r.method, r.method_config),
                           r.precision], sort_keys=True, default=str)
        if cell not in best or _rank(r) > _rank(best[cell]):
            best[cell] = r
    return [r for r in runs if any(r is b for b in best.values())]


def fidelity_table_key(run: RunResult | dict) -> tuple:
    """One leaderboard fidelity table per (reference set and its hash, extractor and its weights, N,
    metric options): Inception FID and an in-domain FD never share a column, nor do numbers at two N
    (FID is biased in N) or from two weights. The sampler is a row, not part of the key."""
    run = RunResult.of(run)
    cfg = run.method_config
    options = {k: v for k, v in cfg.items() if k.startswith("metric_")}
    return (run.task, run.feature_extractor, cfg.get("extractor_weights_sha256"), cfg.get("num_samples"),
            json.dumps(options, sort_keys=True), run.protocol.items_sha256)


# -- the comparison (the paper's Table VI): a row per model ----------------------------------------

def score_key(run: RunResult | dict) -> str:
    """One table per DIVE (or stand-alone enumeration) protocol, seed and precision."""
    run = RunResult.of(run)
    return json.dumps([run.protocol.as_dict(), run.seed, run.precision], sort_keys=True, default=str)


def probes_key(run: RunResult | dict) -> str:
    """What an enumeration column shares with the DIVE runs of its table: task, items and probes."""
    p = RunResult.of(run).protocol
    return json.dumps([p.task, p.task_version, p.items_sha256, p.probes], default=str)


def fidelity_key(run: RunResult | dict) -> str:
    """A fidelity protocol: reference set and hash, and every method setting but the sampling seed
    (so, unlike :func:`fidelity_table_key`, the sampler too: a comparison row is one sampler)."""
    run = RunResult.of(run)
    p = run.protocol
    cfg = {k: v for k, v in run.method_config.items() if k != "seed"}
    return json.dumps([p.task, p.task_version, p.items_sha256, cfg], sort_keys=True, default=str)


def is_self_consistency(run: RunResult | dict) -> bool:
    """A score run on samples its own model generated (a ``generated:`` task of that checkpoint)."""
    run = RunResult.of(run)
    parts = generated_task_parts(run.task)
    return parts is not None and run.model_id.startswith(parts[0])


def self_consistency_key(run: RunResult | dict) -> str:
    """What self-consistency runs of different models share when comparable: the sample
    configuration (the name's second part), task version, item set, method and its config, seed
    and precision -- everything but the model and so the samples."""
    run = RunResult.of(run)
    p = run.protocol.as_dict()
    p["task"] = generated_task_parts(run.task)[1]
    return json.dumps([p, run.seed, run.precision], sort_keys=True, default=str)


# -- a checkpoint sweep: one protocol for every checkpoint and every rerun -------------------------

def sweep_protocol(*, task: str, method: str, method_config: dict, adapter: str, limit: int | None, seed: int,
                   dtype: str, fidelity: dict | None) -> dict[str, Any]:
    """What must be equal across a sweep's checkpoints (and its reruns), as JSON would store it:
    every setting that changes a number; fidelity options that only say where files are or how
    much memory to use (:data:`SWEEP_FREE_FIDELITY_OPTIONS`) are left out."""
    kept = None if fidelity is None else {k: v for k, v in fidelity.items() if k not in SWEEP_FREE_FIDELITY_OPTIONS}
    proto = {"task": task, "method": method, "method_config": method_config, "adapter": adapter,
             "limit": limit, "seed": seed, "dtype": dtype, "fidelity": kept}
    return json.loads(json.dumps(proto, sort_keys=True, default=str))
