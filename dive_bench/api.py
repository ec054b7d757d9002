"""The Python API: ``evaluate`` a model on a task, or measure its samples' ``fidelity``, from a
notebook or a script.

    import dive_bench as db
    result = db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=20)
    result.metrics["accuracy"]          # {"value": ..., "ci_low": ..., "ci_high": ..., ...}
    fid = db.fidelity("dit-fmnist-b", "fmnist", num_samples=500, feature_extractor="fmnist-classifier")
    fid.metrics["fd_fmnist"]            # {"value": ..., "std": ...}

``model`` is what the CLI takes (a bundled name, ``ADAPTER:PATH_OR_HUB_ID``, a plugin's name) or a
live ``Adapter`` (``dive_bench.adapters.base``). Method options are keyword arguments named as the
config fields (``steps=50``, ``interval=10``; see ``dive_bench.spec.configs``); they are validated by
the same declarations as the CLI's flags. Without ``out`` the run uses a temporary folder that is
removed afterwards; with ``out`` it is resumable exactly as ``dive-bench score --out`` (same
shards, same run key), and the CLI is this function behind argparse.
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
from pathlib import Path
from typing import Any

from dive_bench.errors import DiveBenchError, ItemsFailedError
from dive_bench.spec.configs import CONFIGS, check_names
from dive_bench.spec.run_options import GateOptions, RunOptions, SampleOptions, declared
from dive_bench.spec.result import RunResult
from dive_bench.util.suggest import did_you_mean

#: names of ``evaluate``'s own keyword arguments that are not method options (the run options of
#: ``spec.run_options.RunOptions``, where they are declared, plus where results go)
RUN_OPTIONS = ("out", "progress", *declared(RunOptions), *declared(GateOptions))


def _method_options(method: str, config: dict[str, Any]) -> dict[str, Any]:
    """Refuse option names the method would not use: a typo (with a suggestion), another method's
    option, an option given under its current and its earlier name (``configs.check_names``)."""
    if method == "auto":  # options per method (auto.split_options checks them once the model is known)
        return config
    if not isinstance(method, str) or method not in CONFIGS:
        raise DiveBenchError(f"unknown method {method!r}; use one of {', '.join((*CONFIGS, 'auto'))}")
    check_names(method, config, extra=RUN_OPTIONS)
    return config


def _live_or_spec(model: Any) -> tuple[Any, str]:
    """(the live adapter or None, the model's name) for ``model``: a MODEL spec string or an
    ``Adapter``; anything else (a path object, a module, a number) is refused here rather than
    failing deep inside the run with an AttributeError."""
    if isinstance(model, str):
        return None, model
    from dive_bench.adapters.base import Adapter

    if not isinstance(model, Adapter):
        raise DiveBenchError(f"model must be a MODEL spec string (e.g. 'dit-digits-xs', 'dit:PATH') or a dive_bench "
                             f"Adapter, got {type(model).__name__} {model!r:.80}; wrap a network in an Adapter "
                             "(dive_bench.adapters.base) or pass its spec")
    return model, getattr(model, "name", type(model).__name__)


def _check_call(out: Any, progress: Any, **names: Any) -> None:
    """The API's own arguments (the options have their declarations): names are non-empty
    strings, ``out`` a folder path (``""`` would be the working directory), ``progress`` a bool."""
    for arg, value in names.items():
        if not isinstance(value, str) or not value.strip():
            raise DiveBenchError(f"{arg} must be a non-empty string naming the {arg}, got {value!r:.80}")
    if out is not None and (not isinstance(out, (str, os.PathLike)) or not str(out).strip()):
        raise DiveBenchError(f"out must be a folder path (str or Path), got {out!r:.80}; leave it unset for a "
                             "temporary folder")
    if not isinstance(progress, bool):
        raise DiveBenchError(f"progress must be True or False, got {progress!r:.80}")


def evaluate(model: Any, task: str, method: str | None = None, *, out: str | Path | None = None, limit: int | None = None,
             items: Any = None, item_ids: str | None = None, seed: int = 0, device: str = "cpu", dtype: str = "fp32",
             tf32: bool = False, items_per_batch: int = 16, data_root: str | None = None, progress: bool = False,
             shard: str | None = None, retry_failed: bool = False, sequential: bool = False,
             baseline: str | Path | None = None, margins: dict[str, float] | None = None, mode: str = "regression",
             **config: Any) -> RunResult:
    """Score ``model`` on ``task`` with ``method`` ("dive", the default, "enumerate" or "auto": the cheapest of
    exhaustive enumeration, adaptive enumeration and DIVE, see ``dive_bench.run.auto``); returns the run's
    ``RunResult`` from ``dive_bench.spec.result``: ``.metrics``, ``.run_key``, ``.payload`` = run.json.

    Which items: all, the first ``limit``, ``items`` (``"300:400"``, a range or a list of ids) or the
    ids in the file ``item_ids``. Results are kept per item under the run's protocol in ``out``, so a
    call over more items computes only the new ones. The run options (``limit`` to ``retry_failed``)
    are declared in ``RunOptions`` (``dive_bench.spec.run_options``), method options in
    ``dive_bench.spec.configs``.

    ``sequential=True`` with ``baseline`` (a run.json or its folder) and ``margins``
    (``{"accuracy": 0.01}``; required: the margin defines the test) scores the baseline's items in
    its order and stops once an anytime-valid paired test settles (``dive_bench.run.sequential``);
    ``result.sequential`` holds the verdict, the items used and the boundary crossed. ``mode``
    ("regression" or "noninferiority") decides what an unsettled test concludes."""
    from dive_bench.run.score import ScoreRequest, score

    _check_call(out, progress, task=task)
    from dive_bench.run.sequential import default_method

    method = default_method(method, sequential, baseline)
    config = _method_options(method, config)
    adapter, model = _live_or_spec(model)
    request = dict(model=model, task=task, method=method, method_config=config, limit=limit, items=items,
                   item_ids=item_ids, seed=seed, device=device, dtype=dtype, tf32=tf32,
                   items_per_batch=items_per_batch, data_root=data_root, progress=progress, shard=shard,
                   retry_failed=retry_failed, sequential=sequential,
                   baseline=None if baseline is None else str(baseline), margins=margins, mode=mode)
    if out is not None:
        return _scored(RunResult(score(ScoreRequest(out=Path(out), **request), adapter=adapter)), out)
    with tempfile.TemporaryDirectory(prefix="dive_bench-") as tmp:
        # the shards went with the temporary folder
        return _scored(RunResult(score(ScoreRequest(out=Path(tmp) / "run", **request), adapter=adapter)),
                       None).without("shards")


def _scored(run: RunResult, out: str | Path | None) -> RunResult:
    """``run``, unless every item failed: then there are no metrics, and a result with status
    "partial" and empty metrics would pass for one in a script that does not check them, so it is
    refused with the first failure (the failures stay recorded in ``out``; the CLI exits 3)."""
    if run.n_done or not run.n_failed:
        return run
    item, message = next(iter(run.failed_items.items()))
    where = f"; they are recorded in {out}" if out is not None else ""
    raise ItemsFailedError(f"all {run.n_failed} items failed, so there are no metrics (first: item {item}: "
                           f"{' '.join(str(message).split())[:300]}){where}. Fix the cause and rerun with "
                           "--retry-failed (retry_failed=True)")


def list_models(pattern: str = "*") -> list[str]:
    """Bundled checkpoint names matching ``pattern`` (fnmatch, e.g. ``"dit-*"``), sorted. Any
    diffusers folder or hub id also loads, as ``dit:PATH`` / ``unet:PATH``."""
    from dive_bench.adapters import CHECKPOINTS

    return sorted(n for n in CHECKPOINTS.names() if fnmatch.fnmatchcase(n, pattern))


def load_model(spec: str) -> Any:
    """A ready ``Adapter`` (``dive_bench.adapters.base``) on the CPU for a MODEL spec. Runs of it
    are keyed by the checkpoint file until its weights change, then by the weights in memory."""
    from dive_bench.adapters import load_model as _load
    from dive_bench.run.identity import remember_loaded

    # its weights are hashed once now: while they stay the same, ``evaluate`` and ``fidelity`` key
    # its runs by the checkpoint file, as for the spec string (``run.identity``)
    return remember_loaded(_load(spec))


def fidelity(model: Any, reference: str, *, out: str | Path | None = None, progress: bool = False,
             **options: Any) -> RunResult | None:
    """Sample ``model`` and score the samples against ``reference`` (``DATASET[:SPLIT]``, e.g.
    ``"fmnist"``; a detection task such as ``"canvas-det"`` for layout models): FID/FD, IS, KID and
    precision/recall with the chosen feature extractor, exactly as ``dive-bench fidelity``.

    ``options`` are the fidelity options declared in ``SampleOptions`` (``dive_bench.spec.run_options``)
    (``num_samples``, ``feature_extractor``, ``sampler``, ``steps``, ``guidance_scale``, ``seed``,
    ``batch_size``, ``bootstrap``, ...), validated by the same declarations as the CLI's flags; a
    misspelt one is refused with a suggestion. ``model`` is a MODEL spec or a live adapter. Without
    ``out`` the samples live in a temporary folder that is removed; with it they are cached and the
    run resumes as ``fidelity --out`` does. Returns the run's ``RunResult`` (``dive_bench.spec.result``);
    with ``shard="K/N"`` (one worker of several, sharing ``out``), None while other workers' samples
    are missing: the last worker to finish returns the result."""
    from dive_bench.run.fidelity import FidelityRequest, run_fidelity

    known = list(declared(SampleOptions))
    for name in options:
        if name not in known or name == "reference":
            hint = did_you_mean(name, known, n=1, cutoff=0.6)
            raise DiveBenchError(f"fidelity has no option {name!r}.{hint} Options: {', '.join(known)}")
    _check_call(out, progress, reference=reference)
    adapter, model = _live_or_spec(model)
    request = dict(model=model, reference=reference, progress=progress, **options)
    if out is not None:
        payload = run_fidelity(FidelityRequest(out=Path(out), **request), adapter=adapter)
        return RunResult(payload) if payload is not None else None
    with tempfile.TemporaryDirectory(prefix="dive_bench-") as tmp:
        # the cached samples went with the temporary folder
        return RunResult(run_fidelity(FidelityRequest(out=Path(tmp) / "run", **request),
                                      adapter=adapter)).without("samples")
