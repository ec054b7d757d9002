"""Run a method over a task's items: batching, per-item seeds, device/precision, resume, run.json."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dive_bench.adapters import load_model
from dive_bench.adapters.base import Adapter
from dive_bench.data.base import to_model_range
from dive_bench.spec.configs import canonical, check_names, from_flat, to_flat
from dive_bench.spec.options import validate
from dive_bench.spec.run_options import GateOptions, RunOptions
from dive_bench.util.environment import DTYPES, autocast, environment, git_sha, resolve_device  # noqa: F401  (re-exported)
from dive_bench.errors import DiveBenchError, NonFiniteError
from dive_bench.inversion import ProbeSet
from dive_bench.inversion.preflight import check_finite
from dive_bench.run.identity import Identity, identify
from dive_bench.run import sequential
from dive_bench.run.methods import METHODS
from dive_bench.spec.run_json import write_json_atomic
from dive_bench.util.seeding import item_seed
from dive_bench.util.shard import resolve_shard  # noqa: F401  (re-exported: its old home)
from dive_bench.labels import class_count, label_space_record
from dive_bench.spec.defaults import method_defaults
from dive_bench.spec.item_trace import traces
from dive_bench.spec.items import select_items
from dive_bench.spec.result import RunResult
from dive_bench.spec.runspec import RunSpec
from dive_bench.store.shards import ShardStore, check_out_dir, collect, done_in_other_shards, shard_path
from dive_bench.tasks import TASKS




@dataclass(kw_only=True)
class ScoreRequest(RunOptions, GateOptions):
    """One scoring run: what to score and where the results go, plus the run options declared
    once in :class:`~dive_bench.spec.run_options.RunOptions` and the sequential gate's in
    :class:`~dive_bench.spec.run_options.GateOptions` (the API and the CLI fill the same ones)."""

    model: str
    task: str
    method: str = "dive"
    method_config: dict = field(default_factory=dict)
    out: Path = Path("runs/latest")
    progress: bool = True
    #: the training checkpoint scored (``{"step", "folder"}``, set by ``dive-bench sweep``): stored with
    #: the shards' spec, so run.json records it whether ``score`` or a later ``merge`` writes it
    checkpoint: dict | None = None


def run_key(task, item_ids: list[int], model_sha: str, method: str, config: dict, seed: int,
            dtype: str = "fp32", tf32: bool = False) -> str:
    """The run key of these settings (``RunSpec.key``; kept for callers of the earlier API)."""
    return RunSpec(task.name, str(task.version), tuple(item_ids), model_sha, method, config, seed, dtype, tf32).key()


@dataclass
class _Prepared:
    """Everything a worker needs, checked before anything is stored."""

    spec: RunSpec
    task: object
    method: object
    cfg: object
    adapter: Adapter
    data: object
    probes: ProbeSet
    device: torch.device
    autocast: object
    #: ``--method auto``'s record of its choice (None for a run of a named method)
    choice: dict | None = None
    #: where each option that the user did not give came from (``spec.defaults.method_defaults``)
    defaults_from: dict = field(default_factory=dict)
    #: what the shards store as the model's record; its sha256 is the one keyed (``run.identity``)
    model_info: dict = field(default_factory=dict)
    #: ``--sequential``'s test against the baseline (``run.sequential``), else None
    gate: sequential.Gate | None = None


def prepare(req: ScoreRequest, adapter: Adapter | None = None, identity: Identity | None = None) -> _Prepared:
    """Validate the request, load model and data, build the probes and refuse junk models: every
    error a user can fix surfaces here, before a shard is opened. ``identity``: how a live
    ``adapter`` is keyed (``run.identity.identify``); a model loaded here from ``req.model`` is its file."""
    if req.method not in (*METHODS, "auto"):
        raise DiveBenchError(f"unknown method {req.method!r}; use one of {', '.join((*METHODS, 'auto'))}")
    validate(req)
    task = TASKS.get(req.task)
    baseline = sequential.baseline_of(req, task, resolve_shard(req.shard))  # refusals before the model loads
    req = sequential.with_baseline_items(req, baseline)
    task_defaults = getattr(task, "method_defaults", {})
    if req.method != "auto":  # the user's options, checked before the model loads
        _config(req.method, task_defaults.get(req.method, {}), req.method_config)
    resolve_shard(req.shard)
    check_out_dir(req.out, create=False)  # a file, /proc or a read-only place fails before the model loads
    device = resolve_device(req.device)
    if req.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if adapter is None:
        adapter = load_model(req.model)
        identity = identify(adapter, live=False)
    elif identity is None:
        identity = identify(adapter, live=True)
    adapter.to(device)
    data = task.load(req.data_root)
    adapter.check_images(data.images[:1])
    task.check_compatible(adapter, data)
    ids = select_items(len(data), limit=req.limit, items=req.items, item_ids=req.item_ids, task=f"task {task.name}")
    method_name, given, choice = req.method, req.method_config, None
    if req.method == "auto":  # becomes a run of the chosen method, on the model and data loaded here
        method_name, given, choice = _resolve_auto(req, adapter, device, data)
    defaults, sources = method_defaults(method_name, class_count(adapter.label_space), task_defaults, task.name)
    if baseline is not None:  # a sequential run is paired with its baseline: its options are the defaults
        defaults, sources = {**defaults, **baseline.method_config}, {
            **sources, **{name: f"baseline {req.baseline}" for name in baseline.method_config}}
    cfg = _config(method_name, defaults, given)
    method = METHODS[method_name]
    precision = autocast(device, req.dtype)
    with precision:
        first = adapter.encode(to_model_range(data.images[ids[:1]]).to(device))
        probes = ProbeSet.for_adapter(adapter, tuple(first.shape[1:]), interval=cfg.probes.interval, seed=cfg.probes.probe_seed,
                                      device=device)
        if method.resolve is not None:
            cfg = method.resolve(cfg, probes, adapter)
        if method.check is not None:
            method.check(cfg, probes, adapter)
        # before any item is stored: a model with NaN/inf weights or outputs would give junk scores
        check_finite(adapter, first, probes, req.model, cfg.probes.loss, cfg.probes.weighting)
    param = adapter.parameterization
    spec = RunSpec(task.name, str(task.version), tuple(ids), identity.sha256, method_name,
                   to_flat(cfg), req.seed, req.dtype, req.tf32, model=req.model,
                   parameterization=None if param.kind == "ddpm-eps" else param.describe())
    given_names = set(canonical(method_name, given))
    defaults_from = {name: src for name, src in sources.items() if name not in given_names}
    gate = sequential.Gate(spec, baseline, req, req.out) if baseline is not None else None
    return _Prepared(spec, task, method, cfg, adapter, data, probes, device, precision, choice, defaults_from,
                     model_info=identity.model_info, gate=gate)


def _config(method: str, defaults: dict, given: dict):
    """The method's config from its defaults and the options given, validated by their declarations
    (the names given are checked as given, before the defaults could hide a name given twice)."""
    check_names(method, given)
    cfg = from_flat(method, {**canonical(method, defaults), **canonical(method, given)})
    validate(cfg)
    return cfg


def score(req: ScoreRequest, adapter: Adapter | None = None) -> dict:
    """Score this worker's share of ``req.task``; returns the run.json payload (also written).

    A live ``adapter`` is keyed by the weights it holds now, and its run lives in
    ``req.out/weights-<sha256[:16]>`` unless they are still a checkpoint's (``run.identity``)."""
    identity = None
    if adapter is not None:
        identity = identify(adapter, live=True)
        req = dataclasses.replace(req, out=identity.out_for(req.out))
    p = prepare(req, adapter, identity)
    k, n = resolve_shard(req.shard)
    out = Path(req.out)
    # where the items were computed (`merge` has no request, and timings mean little without it),
    # and what `merge` writes beside the results: the model's label space, a sweep's checkpoint
    stored = {**p.spec.to_json(), "items_per_batch": req.items_per_batch, "device": str(p.device),
              **({"method_choice": p.choice} if p.choice else {}),
              **({"defaults_from": p.defaults_from} if p.defaults_from else {}),
              **_record("label_space", label_space_record(getattr(p.adapter, "label_space", None))),
              **_record("checkpoint", req.checkpoint),
              # the task as resolved here knows its files (a folder: task rebuilt by `merge` from its
              # stored name does not): where a report finds the items' pixels
              **_record("item_source", p.task.item_source())}
    stored.pop("model_sha256")  # in model_info, as shards have always kept it
    # results are stored per item under the protocol: a run over other items of it reuses them
    store = ShardStore(shard_path(out, k, n), p.spec.protocol_key(), stored, p.model_info)
    blocks = item_blocks(list(p.spec.item_ids), req.items_per_batch, k, n)
    done = store.done_ids() | done_in_other_shards(out, p.spec.protocol_key(), store.path)
    skip = done | (set() if req.retry_failed else store.failed_ids())
    t_start = time.time()
    bar = tqdm(total=sum(len(b) for b in blocks), initial=sum(1 for b in blocks for i in b if i in skip),
               desc=f"{p.spec.method} {req.model} on {p.task.name} [{k}/{n}]", disable=not req.progress, file=sys.stderr)
    try:
        for block in blocks:
            todo = [i for i in block if i not in skip]
            rows = _score_block(p, store, todo) if todo else []
            bar.update(len(todo))
            if p.gate is not None and p.gate.settled(block, rows, store.failed_ids()):
                break  # the sequential test settled: the items left are not needed
    finally:
        bar.close()
        store.close()
    extra = {"sequential": p.gate.record()} if p.gate is not None else None
    return merge(out, req, wall=time.time() - t_start, extra=extra)


def item_blocks(ids: list[int], items_per_batch: int, k: int, n: int) -> list[list[int]]:
    """Worker ``k`` of ``n``'s blocks. A block is the unit of work and of sharding: the selected
    items whose id // items_per_batch is the same, and block b goes to worker b mod n. Blocks are
    fixed by the item ids, not by the selection or the worker count, so an image is processed
    with the same neighbours in a run of the first N items, on any number of workers, and in a
    later run that adds items (a selection that starts mid-block computes that block's new items
    together: equal up to float rounding)."""
    by_block: dict[int, list[int]] = {}
    for i in ids:
        by_block.setdefault(i // items_per_batch, []).append(i)
    return [block for b, block in sorted(by_block.items()) if b % n == k]


def _resolve_auto(req: ScoreRequest, adapter: Adapter, device: torch.device, data) -> tuple[str, dict, dict]:
    """(method, its options, the record of the choice) for ``--method auto``, on the model and
    data the run has loaded already."""
    from dive_bench.run import auto

    method, config, choice, _ = auto.resolve(req.model, req.task, req.method_config, out=Path(req.out),
                                             items_per_batch=req.items_per_batch, device=device,
                                             data_root=req.data_root, adapter=adapter, seed=req.seed,
                                             limit=req.limit, dtype=req.dtype, data=data)
    return method, config, choice


def _run_items(p: _Prepared, items: list[int]) -> list[dict]:
    with p.autocast:
        x0 = p.adapter.encode(to_model_range(p.data.images[items]).to(p.device))
        results = p.method.run(p.adapter, x0, p.probes, p.cfg, [item_seed(p.spec.seed, p.task.name, i) for i in items])
    for i, r in zip(items, results):
        where = first_nonfinite(r)
        if where is not None:  # never rank NaN: the item fails, the others of the block stand
            raise NonFiniteError(f"item {i}: non-finite value in {where}")
    return results


def _score_block(p: _Prepared, store: ShardStore, todo: list[int]) -> list[tuple[int, dict]]:
    """Compute and commit one block; if it raises, retry its images one by one so that only the
    failing ones are recorded as failed (with their traceback). Returns the (id, result) stored."""
    t0 = time.time()
    try:
        results = _run_items(p, todo)
        per_item = (time.time() - t0) / len(todo)
        rows = [(i, {**r, "label": p.task.target(p.data, i)}) for i, r in zip(todo, results)]
        store.put_many([(i, r, per_item) for i, r in rows])
        return rows
    except (DiveBenchError, KeyboardInterrupt, MemoryError):
        raise
    except Exception:  # isolate the failing image(s); the others of the block still count
        pass
    rows = []
    for i in todo:
        t1 = time.time()
        try:
            (r,) = _run_items(p, [i])
            rows.append((i, {**r, "label": p.task.target(p.data, i)}))
            store.put_many([(i, rows[-1][1], time.time() - t1)])
        except (DiveBenchError, KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:
            store.put_error(i, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    return rows


def first_nonfinite(value, path: str = "result") -> str | None:
    """Where ``value`` (a JSON-able item result) holds NaN or inf, e.g. ``result.scores[3]``; None if nowhere."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for k, v in items:
        hit = first_nonfinite(v, f"{path}{k}" if str(k).startswith("[") else f"{path}.{k}")
        if hit is not None:
            return hit
    return None


def merge(out: Path, req: ScoreRequest | None = None, wall: float | None = None, extra: dict | None = None) -> dict:
    """``dive-bench merge``, and the last step of every score: the union of the shards under ``out``
    (``store.shards.collect``) into metrics, written to ``out/run.json``; ``extra`` adds fields of this
    invocation (``sequential``), which a later merge or score without them leaves out."""
    c = collect(out)
    spec = RunSpec.from_json(c.spec, c.model_info.get("sha256"))
    task = TASKS.get(spec.task)
    ids = [i for i in spec.item_ids if i in c.results]
    rows = [c.results[i] for i in ids]
    preds = [r["prediction"] for r, _ in rows]
    labels = [r["label"] for r, _ in rows]
    n = len(rows)
    result = RunResult.build(
        run_key=c.run_key, model=c.spec["model"], task=spec.task, task_version=c.spec["task_version"],
        method=spec.method, method_config=spec.config, items_sha256=spec.items_sha256, seed=spec.seed,
        status="complete" if n == len(spec.item_ids) else "partial", n_items=len(spec.item_ids), n_done=n,
        failed_items={str(i): m for i, m in sorted(c.errors.items())},
        metrics=task.metrics(preds, labels) if rows else {}, metric_info=getattr(task, "metric_info", None),
        model_info=c.model_info, timings=_timings(rows, wall), env=_env(c.spec, req), shards=c.shards,
        **{key: c.spec[key] for key in ("method_choice", "defaults_from", "label_space", "checkpoint")
           if c.spec.get(key)},
        # per-item outcomes, so paired regression checks need nothing but this file, and each
        # item's search trace (spec/item_trace.py), so a report can show why an item was misread
        items={"ids": ids, "predictions": preds, "labels": labels, **traces([r for r, _ in rows])},
        # where the items' pixels come from (report/item_images.py): as the scoring process resolved
        # the task, else as its stored name tells
        **_record("item_source", c.spec.get("item_source") or task.item_source()),
        **(extra or {}))
    write_json_atomic(Path(out) / "run.json", result.payload)
    return result.payload


def _record(key: str, value: dict | None) -> dict:
    """``{key: value}``, or nothing for None (shards and run.json hold no null fields)."""
    return {} if value is None else {key: value}


def _timings(rows: list[tuple[dict, float]], wall: float | None) -> dict:
    n = len(rows)
    seconds = [s for _, s in rows]
    evals = [r.get("evaluations", 0) for r, _ in rows]
    reused = [float(r["seed_cost"]["seconds"]) if (r.get("seed_cost") or {}).get("cached") else 0.0 for r, _ in rows]
    return {"seconds_per_item": sum(seconds) / n if n else None,
            "evaluations_per_item": sum(evals) / n if n else None,
            # work read from a cache (layout seeds) is counted in evaluations but not in
            # seconds; its seconds when it was computed are kept here, so the cost is visible
            "cached_seconds_per_item": (sum(reused) / n) if n and any(reused) else None,
            "wall_seconds_this_invocation": wall}


def _env(spec: dict, req: ScoreRequest | None) -> dict:
    return {**environment(), "items_per_batch": spec.get("items_per_batch"),
            "device": req.device if req else spec.get("device"), "dtype": req.dtype if req else spec.get("dtype"),
            "tf32": req.tf32 if req else spec.get("tf32")}
