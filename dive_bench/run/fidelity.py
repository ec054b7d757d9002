"""``dive-bench fidelity``: sample through the adapter (cached, resumable), extract features,
compute FID/FD, IS, KID, precision/recall and write run.json in the format ``score`` writes.

The run key hashes what changes the numbers (model sha256, sample config, N, reference content
hash, extractor weights sha256, metric options); batch size, device and host go to ``env``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dive_bench.spec.options import validate
from dive_bench.spec.fidelity_spec import TASK_VERSION, FidelitySpec
from dive_bench.spec.run_options import SampleOptions
from dive_bench.errors import DiveBenchError
from dive_bench.spec.result import RunResult, default_higher_is_better
from dive_bench.spec.run_json import write_json_atomic
from dive_bench.generative.resolve import resolve_extractor
from dive_bench.generative.metrics import MetricOptions, cache_dir, compute_metrics, images_sha256
from dive_bench.generative.sample_cache import SampleCache
from dive_bench.generative.sampling import balanced_labels, generate_samples, sample_config
from dive_bench.labels import label_space_record, layout_tokenizer
from dive_bench.run.fidelity_workers import claim_protocol, metrics_turn
from dive_bench.run.identity import identify
from dive_bench.util.shard import resolve_shard



def metric_info(metrics: dict) -> dict:
    """Stored in run.json, so reports read each metric's direction instead of hard-coding it:
    names carry the extractor (``fd_fmnist``), the family is the part before it, and its direction
    is ``spec.result.HIGHER_IS_BETTER`` (torchmetrics' ``higher_is_better``), the table readers
    fall back on for files without this record."""
    family = {name: name.split("_")[0] for name in metrics}
    primary = next((n for n, f in family.items() if f in ("fid", "fd")), next(iter(metrics), None))
    return {"primary": primary, "higher_is_better": {n: default_higher_is_better(n) for n in metrics}}


@dataclass(kw_only=True)
class FidelityRequest(SampleOptions):
    """One fidelity run: which model, where its samples and run.json go, plus the sampling and
    metric options declared once in :class:`~dive_bench.spec.run_options.SampleOptions`."""

    model: str
    out: Path = Path("runs/latest-fidelity")
    progress: bool = True
    metric_options: MetricOptions | None = None
    #: the training checkpoint sampled (``{"step", "folder"}``, set by ``dive-bench sweep``): run.json records it
    checkpoint: dict | None = None


@dataclass
class Reference:
    """The real images the samples are compared with (and, for layout models, their layouts)."""

    name: str
    images: torch.Tensor
    layouts: torch.Tensor | None = None


def load_reference(spec: str, data_root: str | None = None, adapter=None) -> Reference:
    """``DATASET`` or ``DATASET:SPLIT`` (default split: test) for class-conditional models; a
    detection task name (``canvas-det``) for layout models, whose layouts condition the samples."""
    from dive_bench.data import DATASETS
    from dive_bench.tasks import TASKS

    name, _, split = spec.partition(":")
    tokenizer = layout_tokenizer(adapter)
    if name in DATASETS and tokenizer is None:
        try:
            data = DATASETS.get(name)(split=split or "test", root=data_root)
        except ValueError as exc:
            raise DiveBenchError(f"reference {spec!r}: {exc}") from exc
        return Reference(f"{name}-{data.split}", data.images)
    if name in TASKS and getattr(TASKS.get(name), "kind", None) == "detection":
        if tokenizer is None:
            raise DiveBenchError(f"reference {spec!r} is a layout set; it needs a layout model, and "
                                 f"{getattr(adapter, 'name', 'this model')!r} is class-conditional")
        task = TASKS.get(name)
        data = task.load(data_root)
        layouts = torch.stack([tokenizer.encode(a) for a in data.annotations])
        return Reference(f"{task.name}", data.images, layouts)
    if tokenizer is not None:
        raise DiveBenchError(f"layout models sample from the layouts of a detection set; --reference {spec!r} is not one "
                             "(use e.g. --reference canvas-det)")
    from dive_bench.util.suggest import did_you_mean

    hint = did_you_mean(name, DATASETS.names(), n=2)
    raise DiveBenchError(f"unknown reference dataset {spec!r}.{hint} Use DATASET[:SPLIT], one of: {', '.join(DATASETS.names())}")


def _labels_fn(adapter, ref: Reference):
    if ref.layouts is not None:
        layouts = ref.layouts
        return lambda idx: layouts[torch.tensor([i % len(layouts) for i in idx])]
    k = adapter.label_space.num_classes
    return lambda idx: balanced_labels(idx, k)


def run_fidelity(req: FidelityRequest, adapter=None, *, sample: bool = True) -> dict | None:
    """Sample this worker's share (resuming from ``req.out/samples``), then, if every sample is
    present, score them and write ``req.out/run.json`` (returned). ``--shard K/N`` (or torchrun's /
    a SLURM array's variables) splits the samples across workers (``run.fidelity_workers``); a
    worker that finishes while others still sample, or while another computes the metrics, returns
    None. ``sample=False`` (``merge``) computes the metrics from the samples present, or refuses. A
    live ``adapter`` is keyed by its weights, in ``req.out/weights-<sha256[:16]>`` (``run.identity``)."""
    validate(req)
    shard = resolve_shard(req.shard)
    run = _prepare(req, adapter)
    claim_protocol(run.out, run.key, run.method_config, req)
    t_start = time.time()
    made = 0
    if sample:
        made = generate_samples(run.adapter, run.cache, req.num_samples, labels_for=_labels_fn(run.adapter, run.ref),
                                batch_size=req.batch_size, progress=req.progress, autocast=run.precision, shard=shard)
    missing = run.cache.missing(req.num_samples)
    if missing:
        if sample:
            return None  # this worker's share is done; another worker (or merge) computes the metrics
        raise DiveBenchError(f"{len(missing)} of {req.num_samples} samples are missing from {run.cache.folder} (first: "
                             f"{missing[0]}); finish the workers' `dive-bench fidelity ... --shard K/N` commands (each "
                             "resumes its share), then merge")
    with metrics_turn(run.out) as mine:
        return _finish(req, run, made, t_start) if mine else None


@dataclass
class _Prepared:
    """Everything a fidelity worker checks and loads before it samples."""

    adapter: object
    identity: object
    extractor: object
    ref: Reference
    ref_sha: str
    config: dict
    cache: SampleCache
    out: Path
    device: object
    precision: object
    options: MetricOptions
    method_config: dict
    task: str
    key: str


def _prepare(req: FidelityRequest, adapter) -> _Prepared:
    from dive_bench.adapters import load_model
    from dive_bench.util.environment import autocast, resolve_device

    cache_dir(req.cache_dir)  # an unusable cache fails now, not after sampling
    device = resolve_device(req.device)
    # resolve the extractor (and its weights) before sampling: a missing weights file should fail in
    # seconds, not after an hour of sampling
    extractor = resolve_extractor(req.feature_extractor, req.inception_weights, req.dinov2_weights,
                                  req.dinov2_sha256)
    if adapter is None:
        adapter = load_model(req.model)
        identity = identify(adapter, live=False)
    else:
        identity = identify(adapter, live=True)
    adapter.to(device)
    if req.guidance_scale != 1.0 and adapter.null_condition() is None:
        raise DiveBenchError(f"--guidance {req.guidance_scale:g} needs a classifier-free null condition, and model "
                             f"{req.model!r} has none (or was trained without label dropout); use --guidance 1")
    ref = load_reference(req.reference, req.data_root, adapter)
    if tuple(ref.images.shape[1:]) != tuple(adapter.image_shape):
        raise DiveBenchError(f"reference {req.reference!r} images are {'x'.join(map(str, ref.images.shape[1:]))} but model "
                             f"{adapter.name!r} makes {'x'.join(map(str, adapter.image_shape))}; pick a reference at the model's resolution")
    ref_sha = images_sha256(ref.images)
    labels = "balanced" if ref.layouts is None else f"reference-layouts:{ref.name}:{ref_sha[:16]}"
    config = sample_config(adapter, sampler=req.sampler, steps=req.steps, guidance_scale=req.guidance_scale,
                           seed=req.seed, dtype=req.dtype, labels=labels)
    config["model_sha256"] = identity.sha256  # the weights sampled, not the file a live model came from
    out = identity.out_for(Path(req.out))
    options = req.metric_options or MetricOptions()
    method_config = {"sampler": req.sampler, "steps": req.steps, "guidance_scale": float(req.guidance_scale),
                     "seed": req.seed, "num_samples": req.num_samples, "dtype": req.dtype, "labels": labels,
                     "timestep_spacing": config["timestep_spacing"], "sampler_version": config["sampler_version"],
                     "feature_extractor": extractor.name, "extractor_weights_sha256": extractor.weights_sha256,
                     **{f"metric_{k}": v for k, v in asdict(options).items()}}
    task = f"fidelity:{ref.name}"
    key = FidelitySpec(task, identity.model_info["sha256"], ref_sha, method_config).key()
    return _Prepared(adapter, identity, extractor, ref, ref_sha, config, SampleCache(out / "samples", config), out,
                     device, autocast(device, req.dtype), options, method_config, task, key)


def _finish(req: FidelityRequest, run: _Prepared, made: int, t_start: float) -> dict:
    """Score every sample against the reference and write run.json (one worker, all samples present)."""
    from dive_bench.util.environment import environment

    samples = run.cache.load(req.num_samples)
    metrics = compute_metrics(samples, run.ref.images, run.extractor, options=run.options, cache=req.cache_dir,
                              batch_size=req.feature_batch_size, device=run.device, progress=req.progress,
                              bootstrap=req.bootstrap)
    timing, ref_info = metrics.pop("_timing"), metrics.pop("_reference")
    sps = run.cache.seconds_per_sample
    # beside the numbers, what reports would otherwise guess: the model's label space (K, class or
    # layout), and the training checkpoint a sweep sampled
    recorded = {k: v for k, v in (("label_space", label_space_record(getattr(run.adapter, "label_space", None))),
                                  ("checkpoint", req.checkpoint)) if v is not None}
    evals = req.steps * (2 if req.guidance_scale != 1.0 else 1)
    payload = RunResult.build(
        run_key=run.key, model=req.model, task=run.task, task_version=TASK_VERSION, method="fidelity",
        method_config=run.method_config, items_sha256=run.ref_sha, seed=req.seed, status="complete",
        n_items=req.num_samples, n_done=req.num_samples, failed_items={}, metrics=metrics,
        metric_info=metric_info(metrics), model_info=run.identity.model_info,
        timings={"seconds_per_item": sps, "seconds_per_1000_samples": 1000 * sps if sps is not None else None,
                 "evaluations_per_item": evals, "generated_this_invocation": made,
                 "feature_images_per_second": timing["feature_images_per_second"],
                 "feature_seconds_reference": timing["feature_seconds_reference"],
                 "reference_from_cache": timing["reference_from_cache"],
                 "fd_statistics_seconds": timing["fd_statistics_seconds"],
                 "wall_seconds_this_invocation": time.time() - t_start},
        env={**environment(), "batch_size": req.batch_size, "feature_batch_size": req.feature_batch_size,
             "device": req.device, "dtype": req.dtype, "threads": torch.get_num_threads()},
        kind="fidelity",
        reference={"spec": req.reference, "name": run.ref.name, "n": ref_info["n"], "images_sha256": run.ref_sha},
        feature_extractor=run.extractor.record(), samples={"folder": str(run.cache.folder), "config": run.config},
        **recorded).payload
    run.out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run.out / "run.json", payload, intact="the cached samples are kept; rerun the same command")
    return payload


def merge_fidelity(out: Path) -> dict:
    """``dive-bench merge OUT`` on a sharded fidelity run: the metrics of all its samples, with the
    request its workers recorded (``OUT/fidelity.json``); refused while samples are missing."""
    from dive_bench.run.fidelity_workers import stored_request

    payload = run_fidelity(stored_request(Path(out), FidelityRequest), sample=False)
    if payload is None:
        raise DiveBenchError(f"a worker is computing the metrics of {out} right now; wait for it (its run.json is "
                             "the result)")
    return payload


def summary(payload: RunResult | dict) -> str:
    """One line for stdout: every metric with its std, N, extractor, cost."""
    run = RunResult.of(payload)
    parts = []
    for name, m in run.metrics.items():
        parts.append(f"{name} {m['value']:.4g}" + (f"±{m['std']:.2g}" if "std" in m else ""))
    cfg = run.method_config
    per = run.seconds_per_1000_samples
    cost = f"{per:.1f} s/1000 samples" if per else "-"
    return (f"{run.model} | {run.task} | {cfg['sampler']} {cfg['steps']} steps, guidance "
            f"{cfg['guidance_scale']:g}, seed {cfg['seed']} | {' | '.join(parts)} | N={run.n_items} vs "
            f"{run.reference['n']} ({run.feature_extractor}) | {cost}")
