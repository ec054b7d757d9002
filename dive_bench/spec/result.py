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

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dive_bench.errors import DiveBenchError
from dive_bench.spec.configs import comparable_config
from dive_bench.spec.metric_specs import METRICS, metric_spec
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
#: the run.json layouts a reader understands (a file without ``schema`` predates the field: 1)
KNOWN_SCHEMAS = (1, 2)
#: deeper nesting than any run.json has (about 5 levels) is damage, refused before a report recurses into it
MAX_DEPTH = 32
#: the timings reports print, each a finite number >= 0 when present
TIMINGS = ("seconds_per_item", "evaluations_per_item", "cached_seconds_per_item", "seconds_per_1000_samples")
#: fields of a metric's dict that are values of the metric itself (range-checked like ``value``)
METRIC_VALUES = ("value", "ci_low", "ci_high")

#: key -> the JSON type it has when present (null counts as absent): a file whose value has another
#: type is refused in one line naming the file and key, instead of a traceback in some report
TYPES: dict[str, type | tuple[type, ...]] = {
    "model": str, "task": str, "method": str, "status": str, "run_key": str, "created": str,
    "task_version": (str, int), "seed": int, "n_items": int, "n_done": int, "n_failed": int,
    **{k: dict for k in ("metrics", "method_config", "items", "model_info", "timings", "env", "metric_info",
                         "protocol", "checkpoint", "label_space", "reference", "samples", "method_choice",
                         "failed_items", "defaults_from")}}
ITEM_LISTS = ("ids", "predictions", "labels")
#: object key -> {field: JSON type} of the fields inside run.json's objects that reports read (null
#: counts as absent; counts are also >= 0): a list where a name goes is refused here, not met as a
#: traceback in a caption
FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "protocol": {"task": str, "task_version": (str, int), "method": str, "method_config": dict, "items_sha256": str,
                 "seed": int},
    "model_info": {"name": str, "params": int, "sha256": str, "num_classes": int, "adapter": str},
    "label_space": {"kind": str, "num_classes": int, "names": list},
    "reference": {"n": int, "name": str, "images_sha256": str, "spec": str},
    "env": {"dtype": str, "tf32": bool, "device": str, "cuda_device": str},
    "checkpoint": {"step": int},
    "samples": {"folder": str, "config": dict},
}
#: a fidelity run's method_config fields that reports print or group by
FIDELITY_CONFIG: dict[str, type | tuple[type, ...]] = {
    "sampler": str, "steps": int, "guidance_scale": (int, float), "seed": int, "num_samples": int, "dtype": str,
    "labels": str, "feature_extractor": str, "extractor_weights_sha256": str}


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


def _where(path: str | None) -> str:
    return str(path) if path else "a run.json payload"


FIX = "rerun `dive-bench merge` on its folder (or the command that wrote it)"


def _refuse(path: str | None, key: str, problem: str, fix: str = FIX) -> DiveBenchError:
    return DiveBenchError(f"{_where(path)}: key {key!r} {problem}; {fix}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests (lists and objects), counted without recursion up to ``limit`` + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _check_types(payload: dict, path: str | None) -> None:
    """One DiveBenchError naming the file and key for a value a run.json cannot hold: a value of the
    wrong JSON type (the keys of :data:`TYPES`), an unknown ``schema``, counts that are negative or
    disagree, timings that are not finite numbers >= 0, nesting no writer makes (:data:`MAX_DEPTH`),
    each metric (:func:`_check_metrics`) and the per-item lists (:func:`_check_items`). Every report
    reads through here, so none of them meets a NaN, an accuracy of 750 or a list where a number goes."""
    if _depth(payload, MAX_DEPTH) > MAX_DEPTH:
        raise DiveBenchError(f"{_where(path)} nests lists/objects deeper than {MAX_DEPTH} levels, which no run.json "
                             f"does (a damaged or foreign file); {FIX}")
    schema = payload.get("schema", 1)
    if not _is_int(schema) or schema not in KNOWN_SCHEMAS:
        raise _refuse(path, "schema", f"is {schema!r}, not a run.json layout this version reads "
                                      f"({', '.join(map(str, KNOWN_SCHEMAS))})",
                      "read it with the dive_bench version that wrote it, or rerun that run's command")
    for key, kind in TYPES.items():
        value = payload.get(key)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise _refuse(path, key, f"holds a JSON {type(value).__name__}, not the "
                                     f"{getattr(kind, '__name__', 'string')} a run.json has there")
    for key in ("n_items", "n_done", "n_failed"):
        if payload.get(key) is not None and payload[key] < 0:
            raise _refuse(path, key, f"is {payload[key]}, a negative count")
    if payload.get("n_items") is not None and (payload.get("n_done") or 0) > payload["n_items"]:
        raise _refuse(path, "n_done", f"is {payload['n_done']}, more items done than the run's n_items "
                                      f"({payload['n_items']})")
    for key in TIMINGS:
        value = (payload.get("timings") or {}).get(key)
        if value is not None and not (_is_number(value) and math.isfinite(value) and value >= 0):
            raise _refuse(path, f"timings.{key}", f"is {value!r}, not a finite number >= 0")
    _check_fields(payload, path)
    _check_method_config(payload, path)
    _check_metrics(payload, path)
    _check_metric_info(payload, path)
    _check_items(payload.get("items") or {}, path)


def _kind_ok(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False  # JSON true is no count
    if isinstance(value, float) and float in kinds and not math.isfinite(value):
        return False
    return isinstance(value, kinds)


def _check_fields(payload: dict, path: str | None) -> None:
    """The fields of :data:`FIELDS` inside run.json's objects: their JSON type, counts >= 0, and a
    label space whose kind is one a run has."""
    for obj, fields in FIELDS.items():
        values = payload.get(obj) or {}
        for name, kind in fields.items():
            value = values.get(name)
            if value is None:
                continue
            if not _kind_ok(value, kind):
                raise _refuse(path, f"{obj}.{name}", f"holds {json_type(value)}, not the "
                                                     f"{getattr(kind, '__name__', 'string')} a run.json has there")
            if kind is int and value < 0:
                raise _refuse(path, f"{obj}.{name}", f"is {value}, a negative count")
    kind = (payload.get("label_space") or {}).get("kind")
    if kind is not None and kind not in ("class", "layout"):
        raise _refuse(path, "label_space.kind", f"is {kind!r}, neither 'class' nor 'layout'")


def _check_method_config(payload: dict, path: str | None) -> None:
    """A score run's method configuration (and its protocol's copy) against the option declarations
    (``spec.configs``: each option's type and range, as the API checks a new run's), so a report
    never divides by an interval of "ten"; a fidelity run's sampler fields by :data:`FIDELITY_CONFIG`."""
    from dive_bench.spec.configs import CONFIGS, from_flat
    from dive_bench.spec.options import validate

    method = payload.get("method")
    for key, config in (("method_config", payload.get("method_config")),
                        ("protocol.method_config", (payload.get("protocol") or {}).get("method_config"))):
        if not config:
            continue
        if method in CONFIGS:
            try:
                validate(from_flat(method, config))
            except (DiveBenchError, TypeError, ValueError) as exc:
                raise _refuse(path, key, f"is not a {method} configuration this version reads "
                                         f"({' '.join(str(exc).split())})") from None
        elif method == "fidelity":
            for name, kind in FIDELITY_CONFIG.items():
                value = config.get(name)
                if value is not None and not _kind_ok(value, kind):
                    raise _refuse(path, f"{key}.{name}", f"holds {json_type(value)}, not the "
                                                         f"{getattr(kind, '__name__', 'number')} a run.json has there")


def _check_metrics(payload: dict, path: str | None) -> None:
    """Each metric is an object whose value (and interval bounds, where stored) is a finite number in the
    metric's declared range (``spec.metric_specs``). NaN is read only where the metric says no item
    was scored (``n`` 0: what a run whose every item failed writes); a report shows it as no value."""
    for name, m in (payload.get("metrics") or {}).items():
        key = f"metrics.{name}"
        if not isinstance(m, dict):
            raise _refuse(path, key, f"holds a JSON {type(m).__name__}, not an object with a numeric value")
        n = m.get("n")
        if n is not None and not (_is_int(n) and n >= 0):
            raise _refuse(path, f"{key}.n", f"is {n!r}, not a count of items")
        spec = metric_spec(name)
        if m.get("value") is None:
            raise _refuse(path, f"{key}.value", "is missing (every metric a run stores has a value)")
        for field in METRIC_VALUES:
            value = m.get(field)
            if value is None:
                continue
            if not _is_number(value):
                raise _refuse(path, f"{key}.{field}", f"holds a JSON {type(value).__name__}, not a number")
            if math.isnan(value) and n == 0:
                continue  # the writer's "no item scored"
            if not math.isfinite(value):
                raise _refuse(path, f"{key}.{field}", f"is {value}, not a finite number (a run whose items "
                                                       "scored writes a finite value)")
            if spec is not None and not spec.holds(value):
                raise _refuse(path, f"{key}.{field}", f"is {value:g}, outside the range of {name}: "
                                                       f"{spec.describe()}")
        lo, hi = m.get("ci_low"), m.get("ci_high")
        if _is_number(lo) and _is_number(hi) and lo > hi:
            raise _refuse(path, f"{key}.ci_low", f"is {lo:g}, above ci_high {hi:g} (an interval runs low to high)")
        std = m.get("std")
        if std is not None and not (_is_number(std) and math.isfinite(std) and std >= 0):
            raise _refuse(path, f"{key}.std", f"is {std!r}, not a finite number >= 0")
        reps = m.get("bootstrap")
        if reps is not None and not (isinstance(reps, list) and all(_is_number(r) and math.isfinite(r) for r in reps)):
            raise _refuse(path, f"{key}.bootstrap", "must be a list of finite numbers (the stored replicates)")


def _check_metric_info(payload: dict, path: str | None) -> None:
    """``metric_info``: the primary is a name, each declared direction a boolean that agrees with the
    metric's declaration (a file saying accuracy is lower-is-better would bold the worst model)."""
    info = payload.get("metric_info") or {}
    if info.get("primary") is not None and not isinstance(info["primary"], str):
        raise _refuse(path, "metric_info.primary", f"holds a JSON {type(info['primary']).__name__}, not a metric name")
    directions = info.get("higher_is_better") or {}
    if not isinstance(directions, dict):
        raise _refuse(path, "metric_info.higher_is_better", f"holds a JSON {type(directions).__name__}, not an "
                                                            "object of metric -> true/false")
    for name, higher in directions.items():
        if not isinstance(higher, bool):
            raise _refuse(path, f"metric_info.higher_is_better.{name}", f"is {higher!r}, not true or false")
        spec = metric_spec(name)
        if spec is not None and higher != spec.higher_is_better:
            raise _refuse(path, f"metric_info.higher_is_better.{name}",
                          f"says {'higher' if higher else 'lower'} is better, but {spec.describe()}")


def _check_items(items: dict, path: str | None) -> None:
    """The per-item outcomes: lists of one length (a report pairs ids with predictions by position,
    so a shorter list would silently drop items), ids unique integers, classification predictions
    and labels integers (or null: an item without an answer), detection ones lists / objects."""
    bad = next((k for k in ITEM_LISTS if items.get(k) is not None and not isinstance(items[k], list)), None)
    if bad is not None:
        raise _refuse(path, f"items.{bad}", f"holds a JSON {type(items[bad]).__name__}, not a list")
    lists = {k: items[k] for k in ITEM_LISTS if items.get(k) is not None}
    if len({len(v) for v in lists.values()}) > 1:
        sizes = ", ".join(f"{k} {len(v)}" for k, v in lists.items())
        raise _refuse(path, "items", f"holds lists of different lengths ({sizes}), one entry per item each")
    ids = lists.get("ids", [])
    if not all(_is_int(i) for i in ids):
        wrong = next(i for i in ids if not _is_int(i))
        raise _refuse(path, "items.ids", f"holds {wrong!r}, not an integer item id")
    if len(set(ids)) != len(ids):
        raise _refuse(path, "items.ids", "lists an item twice")
    allowed = {"predictions": (int, list, type(None)), "labels": (int, dict)}
    for key, kinds in allowed.items():
        wrong = next((v for v in lists.get(key, []) if isinstance(v, bool) or not isinstance(v, kinds)), None)
        if wrong is not None:
            raise _refuse(path, f"items.{key}", f"holds {json_type(wrong)}, not a class index "
                                                f"{'or a list of boxes' if key == 'predictions' else 'or a box target'}")


def json_type(value: Any) -> str:
    return f"a JSON {type(value).__name__}" if not isinstance(value, (int, float, str)) else repr(value)[:40]


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
        JSON, missing model/task/method/metrics, a value of the wrong type: :func:`_check_types`)."""
        return cls.checked(read_run_json(Path(path)), str(path))

    @classmethod
    def checked(cls, payload: dict, path: str) -> "RunResult":
        """``payload`` read from the file at ``path``, its value types checked (:func:`_check_types`)."""
        _check_types(payload, path)
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
