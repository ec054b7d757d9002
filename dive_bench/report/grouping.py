"""Which runs share a table, a column or a sweep: every grouping key of the reports, in one place.

Why one module: a report is only as honest as its grouping. Two runs in one table are read as one
measurement under one protocol, so the rule that puts them there must be the same wherever it
applies -- the comparison (``report.comparison``), the per-protocol and fidelity tables of the
leaderboard (``report.leaderboard``, ``report.fidelity``) and a checkpoint sweep (``run.sweep``).
When the rules lived beside the code that drew each table, the precision rule existed twice and a
fix to one would have left the other table grouping runs differently.

Each key is a pure function of a run.json dict (or of a sweep's settings): no model, task or torch.
``spec.Protocol`` says what a protocol is; the keys here say which part of it (plus seed and
precision) a given table holds fixed, and which part becomes its columns.
"""

from __future__ import annotations

import json
from typing import Any

from dive_bench.spec.configs import comparable_config
from dive_bench.spec.runspec import Protocol, RunResult, generated_task_parts
from dive_bench.spec.run_options import SAMPLE_RUNTIME

#: fidelity options that leave the numbers unchanged (where files are, memory): free to change on a
#: rerun of a sweep, so they are no part of its protocol (declared beside the options themselves)
SWEEP_FREE_FIDELITY_OPTIONS = SAMPLE_RUNTIME


# -- what a run is: its model, its kind, its precision --------------------------------------------

def model_id(run: dict) -> str:
    """A model is its checkpoint: the sha256 in model_info (the name only for files without one)."""
    return (run.get("model_info") or {}).get("sha256") or f"name:{run.get('model')}"


def model_kind(run: dict) -> str:
    """"layout" for a layout-conditional model (layout adapter, detection AP, per-image targets,
    samples drawn from reference layouts), else "class"."""
    info, cfg = run.get("model_info") or {}, run.get("method_config") or {}
    labels = (run.get("items") or {}).get("labels") or []
    primary = RunResult(run).primary
    layout = (info.get("adapter") == "layout" or str(cfg.get("labels", "")).startswith("reference-layouts")
              or (primary is not None and primary[0] == "ap") or (bool(labels) and isinstance(labels[0], dict)))
    return "layout" if layout else "class"


def precision_of(run: dict) -> str:
    """The arithmetic a run's numbers came from: its dtype, with fp32 under TF32 matmuls as "tf32".
    A bf16 and an fp32 run of one config are two measurements, so every key below holds it."""
    env = run.get("env") or {}
    dtype = env.get("dtype") or "fp32"
    return "tf32" if dtype == "fp32" and env.get("tf32") else dtype


# -- the leaderboard: one table per protocol, a column per method config ----------------------------

def protocol_key(run: dict) -> tuple:
    """One table per (protocol's task, version, items, probes) and seed: ``spec.Protocol`` defines
    the protocol; its method and config are the table's columns, so they are left out here."""
    p = Protocol.of_run(run)
    return (p.task, p.task_version, p.items_sha256, run.get("n_items"), p.probes, run.get("seed"))


def best_of_duplicates(runs: list[dict]) -> list[dict]:
    """One run per (protocol, model, method config, precision): a complete run before a partial one,
    then the one with more items done, then the newer. Two runs of one cell used to overwrite each
    other in file order, so a partial rerun could hide the complete run."""
    best: dict[str, dict] = {}
    for r in runs:
        if r.get("method") == "fidelity":
            best[f"fidelity:{r.get('_path', id(r))}"] = r
            continue
        cell = json.dumps([protocol_key(r), r["model"], r["method"],
                           comparable_config(r["method"], r.get("method_config", {})), precision_of(r)],
                          sort_keys=True, default=str)
        rank = (r.get("status") == "complete", r.get("n_done") or 0, r.get("created") or "")
        if cell not in best or rank > (best[cell].get("status") == "complete", best[cell].get("n_done") or 0,
                                       best[cell].get("created") or ""):
            best[cell] = r
    return [r for r in runs if any(r is b for b in best.values())]


def fidelity_table_key(run: dict) -> tuple:
    """One leaderboard fidelity table per (reference set and its hash, extractor and its weights, N,
    metric options): Inception FID and an in-domain FD never share a column, nor do numbers at two N
    (FID is biased in N) or from two weights. The sampler is a row, not part of the key."""
    cfg = run.get("method_config", {})
    options = {k: v for k, v in cfg.items() if k.startswith("metric_")}
    return (run["task"], cfg.get("feature_extractor"), cfg.get("extractor_weights_sha256"), cfg.get("num_samples"),
            json.dumps(options, sort_keys=True), run.get("protocol", {}).get("items_sha256", ""))


# -- the comparison (the paper's Table VI): a row per model ----------------------------------------

def score_key(run: dict) -> str:
    """One table per DIVE (or stand-alone enumeration) protocol, seed and precision."""
    return json.dumps([Protocol.of_run(run).as_dict(), run.get("seed"), precision_of(run)], sort_keys=True,
                      default=str)


def probes_key(run: dict) -> str:
    """What an enumeration column shares with the DIVE runs of its table: task, items and probes."""
    p = Protocol.of_run(run)
    return json.dumps([p.task, p.task_version, p.items_sha256, p.probes], default=str)


def fidelity_key(run: dict) -> str:
    """A fidelity protocol: reference set and hash, and every method setting but the sampling seed
    (so, unlike :func:`fidelity_table_key`, the sampler too: a comparison row is one sampler)."""
    p = Protocol.of_run(run)
    cfg = {k: v for k, v in (run.get("method_config") or {}).items() if k != "seed"}
    return json.dumps([p.task, p.task_version, p.items_sha256, cfg], sort_keys=True, default=str)


def is_self_consistency(run: dict) -> bool:
    """A score run on samples its own model generated (a ``generated:`` task of that checkpoint)."""
    parts = generated_task_parts(run.get("task", ""))
    return parts is not None and model_id(run).startswith(parts[0])


def self_consistency_key(run: dict) -> str:
    """What self-consistency runs of different models share when comparable: the sample
    configuration (the name's second part), task version, item set, method and its config, seed
    and precision -- everything but the model and so the samples."""
    p = Protocol.of_run(run).as_dict()
    p["task"] = generated_task_parts(run["task"])[1]
    return json.dumps([p, run.get("seed"), precision_of(run)], sort_keys=True, default=str)


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
