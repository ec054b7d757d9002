"""run.json, written and read in one place: :class:`RunResult`.

Why one reader: readers of run.json (leaderboard, comparison, check, sweep report, cost vs K, the
``generated:`` task, the CLI's summaries) once read its keys directly, about two hundred times,
each with its own default for a missing key: the direction of a metric alone was read five ways.
A fix to one default (or a new key, a renamed one) then left the other readers behind. Here every
key has one accessor and one default, the file's types are checked once, when it is loaded, and
what older files lack (``metric_info``, ``label_space``) is inferred in one place.

``tests/spec/test_result.py`` checks that no module of ``report``, ``run``, ``cli`` (nor the
``generated:`` task, nor the API) reads a run.json key itself. This module imports no torch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dive_bench.errors import DiveBenchError
from dive_bench.spec.configs import comparable_config
from dive_bench.spec.metric_specs import METRICS, metric_spec
from dive_bench.spec.result_checks import ITEM_LISTS, KNOWN_SCHEMAS, TYPES, check_payload  # noqa: F401  (re-exported)
from dive_bench.spec.run_json import read_run_json, write_json_atomic
from dive_bench.spec.runspec import Protocol

#: version of the run.json layout written by :meth:`RunResult.build` (readers accept older files).
#: 2: ``method_config`` under the current option names; schema 1 used the stored names of
#: ``configs.STORED_NAMES`` (``batch_size``, ``metric``, ...), which readers map (``canonical``)
#: and run keys still hash, so every stored key stays valid.
SCHEMA = 2
#: the headline metric of files written before tasks declared ``metric_info``, in order
LEGACY_PRIMARY = ("accuracy", "ap")
#: whether larger is better, per metric: read from the metric declarations (``spec.metric_specs``),
#: the one place a metric's direction and range are stated; the default for files without
#: ``metric_info``, and what fidelity runs declare. A name not declared reads as higher-is-better.
HIGHER_IS_BETTER = {name: spec.higher_is_better for name, spec in METRICS.items()}
def default_higher_is_better(metric: str) -> bool:
    """The declared direction of ``metric`` (``spec.metric_specs``, whole name then family); True if undeclared."""
    spec = metric_spec(metric)
    return True if spec is None else spec.higher_is_better


def higher_is_better(runs: list["RunResult"], metric: str) -> bool:
    """The direction of ``metric`` in a table of ``runs``: as the first run that declares it in its
    ``metric_info`` says, else the default (a table has one direction per column)."""
    declared = (r.declared_higher_is_better(metric) for r in runs)
    return next((d for d in declared if d is not None), default_higher_is_better(metric))


@dataclass(frozen=True)
class LabelSpace:
    """What a run's conditions name: ``kind`` "class" or "layout", the number of classes (None where
    an older file does not say) and their names where known. ``inferred``: the file predates
    ``label_space`` and this was read from its model_info, metrics and outcomes."""

    kind: str
    num_classes: int | None
    names: tuple[str, ...] = ()
    inferred: bool = False


@dataclass(eq=False)
class RunResult:
    """A finished (or partial) run: the run.json payload, its schema owned here, every key read here.

    ``score`` and ``fidelity`` both build their payload through :meth:`build`, so the common
    fields (identity, protocol, status, metrics, timings, environment) have one layout. Compared by
    identity: reports key their columns by the run object."""

    payload: dict
    #: the file it was loaded from (None for a payload in memory)
    path: str | None = None

    @classmethod
    def of(cls, run: "RunResult | dict") -> "RunResult":
        """``run`` itself, or a payload dict wrapped (reports accept either)."""
        return run if isinstance(run, RunResult) else cls(run, run.get("_path"))

    @classmethod
    def load(cls, path: str | Path) -> "RunResult":
        """The run.json at ``path``, or one DiveBenchError saying why it is not one (unreadable, not
        JSON, missing model/task/method/metrics, a value of the wrong type: ``spec.result_checks``)."""
        return cls.checked(read_run_json(Path(path)), str(path))

    @classmethod
    def checked(cls, payload: dict, path: str) -> "RunResult":
        """``payload`` read from the file at ``path``, its value types checked (``spec.result_checks``)."""
        check_payload(payload, path)
        return cls(payload, path)

    @classmethod
    def build(cls, *, run_key: str, model: str, task: str, task_version: str, method: str, method_config: dict,
              items_sha256: str, seed: int | None, status: str, n_items: int, n_done: int, failed_items: dict,
              metrics: dict, model_info: dict, timings: dict, env: dict, metric_info: dict | None = None,
              **extra: Any) -> "RunResult":
        """The payload in the order and layout every run.json has; ``extra`` adds kind-specific
        fields (shards, per-item outcomes, label space and checkpoint for score runs; samples and
        reference for fidelity)."""
        protocol = {"task": task, "task_version": task_version, "method": method, "method_config": method_config,
                    "items_sha256": items_sha256, **({"seed": seed} if seed is not None else {})}
        payload = {"schema": SCHEMA, "run_key": run_key, "model": model, "task": task, "task_version": task_version,
                   "method": method, "method_config": method_config, **({"seed": seed} if seed is not None else {}),
                   "protocol": protocol, "status": status, "n_items": n_items, "n_done": n_done,
                   "n_failed": len(failed_items), "failed_items": failed_items, "metrics": metrics,
                   **({"metric_info": metric_info} if metric_info is not None else {}),
                   "model_info": model_info, "timings": timings, "env": env,
                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        payload.update(extra)
        return cls(payload)

    def write(self, path: Path) -> None:
        write_json_atomic(Path(path), self.payload)

    def without(self, *keys: str) -> "RunResult":
        """A copy without ``keys`` (the API drops what went with a temporary folder)."""
        return RunResult({k: v for k, v in self.payload.items() if k not in keys}, self.path)

    def __getitem__(self, key: str) -> Any:
        """The raw value (for users of the API; dive_bench's own readers use the accessors)."""
        return self.payload[key]

    def _dict(self, key: str) -> dict:
        return self.payload.get(key) or {}

    # -- identity -----------------------------------------------------------------------------
    run_key = property(lambda self: self.payload.get("run_key", ""), doc="the run's key ('' if none)")
    model = property(lambda self: self.payload.get("model", ""), doc="the model as the user named it")
    task = property(lambda self: self.payload.get("task", ""), doc="the task's stored name")
    method = property(lambda self: self.payload.get("method", ""), doc="dive, enumerate or fidelity")
    seed = property(lambda self: self.payload.get("seed"), doc="the run's seed (None: not stored)")
    created = property(lambda self: self.payload.get("created") or "", doc="when run.json was written ('' unknown)")
    method_choice = property(lambda self: self.payload.get("method_choice"), doc="why --method auto chose (or None)")

    @property
    def task_version(self) -> str:
        return str(self.payload.get("task_version", ""))

    @property
    def method_config(self) -> dict:
        return self._dict("method_config")

    @property
    def kind(self) -> str:
        """"fidelity" for a generative-metrics run, else "score"."""
        return self.payload.get("kind") or ("fidelity" if self.method == "fidelity" else "score")

    @property
    def name(self) -> str:
        """How notes name the run: its file, else its model."""
        return self.path or self.model

    @property
    def protocol(self) -> Protocol:
        """The protocol the run measured (files of every schema so far)."""
        stored = self._dict("protocol")
        method = stored.get("method", self.payload.get("method"))
        config = stored.get("method_config", self.payload.get("method_config")) or {}
        return Protocol(task=stored.get("task", self.payload.get("task")),
                        task_version=str(stored.get("task_version", self.payload.get("task_version", ""))),
                        items_sha256=stored.get("items_sha256", ""), method=method,
                        config=comparable_config(method, config) if method != "fidelity" else dict(config))

    # -- the model ----------------------------------------------------------------------------
    @property
    def model_info(self) -> dict:
        return self._dict("model_info")

    @property
    def model_sha256(self) -> str | None:
        return self.model_info.get("sha256") or None

    @property
    def model_id(self) -> str:
        """A model is its checkpoint: its sha256 (the name only for files without one)."""
        return self.model_sha256 or f"name:{self.payload.get('model')}"

    @property
    def adapter(self) -> str | None:
        return self.model_info.get("adapter")

    @property
    def params(self) -> int:
        """Parameter count (0: not recorded)."""
        return int(self.model_info.get("params") or 0)

    @property
    def label_space(self) -> LabelSpace:
        """The label space recorded at write time; for older files, inferred: a layout model by its
        adapter, reference-layout samples, a detection metric or per-image targets; K from model_info."""
        stored = self.payload.get("label_space")
        if stored:
            return LabelSpace(stored.get("kind", "class"), stored.get("num_classes"), tuple(stored.get("names") or ()))
        cfg, labels, primary = self.method_config, self.labels, self.primary
        layout = (self.adapter == "layout" or str(cfg.get("labels", "")).startswith("reference-layouts")
                  or (primary is not None and primary[0] == "ap") or (bool(labels) and isinstance(labels[0], dict)))
        k = self.model_info.get("num_classes")
        return LabelSpace("layout" if layout else "class", int(k) if k else None, inferred=True)

    # -- status -------------------------------------------------------------------------------
    status = property(lambda self: self.payload.get("status"), doc="complete or partial")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    n_items = property(lambda self: self.payload.get("n_items"), doc="items the run covers (None: not stored)")
    n_done = property(lambda self: self.payload.get("n_done"), doc="items scored (None: not stored)")

    @property
    def n_failed(self) -> int:
        return int(self.payload.get("n_failed") or 0)

    @property
    def failed_items(self) -> dict:
        """item id (a string) -> why it failed."""
        return self._dict("failed_items")

    # -- metrics ------------------------------------------------------------------------------
    @property
    def metrics(self) -> dict:
        return self._dict("metrics")

    def metric(self, name: str) -> dict | None:
        """The metric's dict (``value``, and ``ci_low``/``ci_high``, ``std``, ``bootstrap``...), or None."""
        return self.metrics.get(name)

    def value(self, name: str) -> float | None:
        return (self.metric(name) or {}).get("value")

    def bootstrap(self, name: str) -> list | None:
        """The metric's stored bootstrap replicates, or None."""
        reps = (self.metric(name) or {}).get("bootstrap")
        return reps if isinstance(reps, list) else None

    @property
    def metric_info(self) -> dict:
        return self._dict("metric_info")

    @property
    def primary(self) -> tuple[str, dict] | None:
        """(name, metric dict) of the headline metric: as declared by the task in ``metric_info``,
        else the first of accuracy / ap (files written before metric_info existed)."""
        info = self.metric_info
        names = [info["primary"]] if info.get("primary") else list(LEGACY_PRIMARY)
        return next(((n, self.metrics[n]) for n in names if n in self.metrics), None)

    @property
    def primary_name(self) -> str | None:
        """The declared headline metric, even where the run has no value of it."""
        return self.metric_info.get("primary")

    def declared_higher_is_better(self, metric: str) -> bool | None:
        """The direction the file's ``metric_info`` declares for ``metric`` (None: not declared)."""
        declared = (self.metric_info.get("higher_is_better") or {}).get(metric)
        return None if declared is None else bool(declared)

    def higher_is_better(self, metric: str) -> bool:
        """Whether larger values of ``metric`` are better: ``metric_info``, else :data:`HIGHER_IS_BETTER`."""
        declared = self.declared_higher_is_better(metric)
        return default_higher_is_better(metric) if declared is None else declared

    # -- cost and environment -----------------------------------------------------------------
    def timing(self, name: str) -> float | None:
        """A field of ``timings`` (``seconds_per_item``, ``evaluations_per_item``,
        ``cached_seconds_per_item``, ``seconds_per_1000_samples``, ...), None where absent."""
        return self._dict("timings").get(name)

    seconds_per_item = property(lambda self: self.timing("seconds_per_item"))
    evaluations_per_item = property(lambda self: self.timing("evaluations_per_item"))
    cached_seconds_per_item = property(lambda self: self.timing("cached_seconds_per_item"))
    seconds_per_1000_samples = property(lambda self: self.timing("seconds_per_1000_samples"))

    @property
    def env(self) -> dict:
        return self._dict("env")

    @property
    def precision(self) -> str:
        """The arithmetic the numbers came from: the dtype, with fp32 under TF32 matmuls as "tf32"."""
        dtype = self.env.get("dtype") or "fp32"
        return "tf32" if dtype == "fp32" and self.env.get("tf32") else dtype

    @property
    def device(self) -> str | None:
        """The GPU's name, else the device string (None: not recorded)."""
        return self.env.get("cuda_device") or self.env.get("device") or None

    # -- per-item outcomes --------------------------------------------------------------------
    def _items(self, key: str) -> list:
        return list(self._dict("items").get(key) or [])

    item_ids = property(lambda self: self._items("ids"), doc="ids of the items scored, in order")
    predictions = property(lambda self: self._items("predictions"), doc="each item's prediction")
    labels = property(lambda self: self._items("labels"), doc="each item's label (or target boxes)")
    traces = property(lambda self: self._items("trace"),
                      doc="each item's search trace (spec/item_trace.py), [] for a run that kept none")

    def outcomes(self) -> dict:
        """item id -> (prediction, label), {} for a run without per-item outcomes."""
        items = self._dict("items")
        return dict(zip(items.get("ids") or [], zip(items.get("predictions") or [], items.get("labels") or [])))

    # -- fidelity runs and sweeps -------------------------------------------------------------
    @property
    def reference(self) -> dict:
        """A fidelity run's reference set (``spec``, ``name``, ``n``, ``images_sha256``)."""
        return self._dict("reference")

    @property
    def item_source(self) -> dict:
        """Where a score run's items' pixels come from ({} when the file predates it): ``{"dataset",
        "split"}`` for registered datasets, the canvas parameters plus ``"dataset": "canvas"``,
        ``{"generated": "G.S"}`` for a model's samples, or the files of a folder:/coco: task."""
        return self._dict("item_source")

    @property
    def feature_extractor(self) -> str | None:
        """A fidelity run's extractor name (its record is :attr:`feature_extractor_record`)."""
        return self.method_config.get("feature_extractor")

    @property
    def feature_extractor_record(self) -> dict:
        return self._dict("feature_extractor")

    @property
    def samples(self) -> dict | None:
        """A fidelity run's sample cache (``folder``, ``config``), None where not stored."""
        samples = self.payload.get("samples")
        return samples if isinstance(samples, dict) else None

    @property
    def checkpoint_step(self) -> int | None:
        """The training step of a swept checkpoint (``dive-bench sweep``), else None."""
        step = self._dict("checkpoint").get("step")
        return None if step is None else int(step)

    @property
    def checkpoint(self) -> dict | None:
        return self.payload.get("checkpoint") or None

    @property
    def sequential(self) -> dict | None:
        """``score --sequential``'s record (verdict, items used, boundary, crossing), None for other runs."""
        record = self.payload.get("sequential")
        return record if isinstance(record, dict) else None
