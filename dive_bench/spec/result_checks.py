"""The checks of a run.json payload as it is loaded: types, ranges, counts, nesting (``RunResult.load``).

Why apart from ``spec.result``: the reader's accessors say what a run.json holds; these say what it
may hold, and grow with every hostile file found. A value a report would print as an impossible
number (NaN, an accuracy of 7.5, an FD below 0: ranges from ``spec.metric_specs``), or trip on (a
list where a count goes, an interval of "ten", 100 000 nested brackets), is refused here in one line
naming the file and the key, so every report inherits the refusal. This module imports no torch.
"""

from __future__ import annotations

import math
from typing import Any

from dive_bench.errors import DiveBenchError
from dive_bench.spec.metric_specs import metric_spec

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
                         "failed_items", "defaults_from", "sequential", "item_source")}}
ITEM_LISTS = ("ids", "predictions", "labels", "trace")
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
    #: ``score --sequential``'s record (``run.sequential``)
    "sequential": {"verdict": str, "settled": bool, "reason": str, "metric": str, "margin": (int, float),
                   "mode": str, "alpha": float, "items_used": int, "items_available": int, "checked_every": int,
                   "boundary": dict, "log_wealth": dict, "crossing": dict},
}
#: a fidelity run's method_config fields that reports print or group by
FIDELITY_CONFIG: dict[str, type | tuple[type, ...]] = {
    "sampler": str, "steps": int, "guidance_scale": (int, float), "seed": int, "num_samples": int, "dtype": str,
    "labels": str, "feature_extractor": str, "extractor_weights_sha256": str}


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


def check_payload(payload: dict, path: str | None) -> None:
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
    _check_sequential(payload.get("sequential"), path)
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


def _check_sequential(record: dict | None, path: str | None) -> None:
    """``sequential``: a verdict the gate gives, a level in (0, 1), items used within the items."""
    if not record:
        return
    if record.get("verdict") not in ("pass", "regression"):
        raise _refuse(path, "sequential.verdict", f"is {record.get('verdict')!r}, neither 'pass' nor 'regression'")
    alpha = record.get("alpha")
    if alpha is not None and not 0 < alpha < 1:
        raise _refuse(path, "sequential.alpha", f"is {alpha!r}, not a level in (0, 1)")
    used, available = record.get("items_used"), record.get("items_available")
    if used is not None and available is not None and used > available:
        raise _refuse(path, "sequential.items_used", f"is {used}, more than the {available} items available")


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
        seed = m.get("bootstrap_seed")
        if seed is not None and not _is_int(seed):
            raise _refuse(path, f"{key}.bootstrap_seed", f"is {seed!r}, not an integer seed (the replicates' resampling seed)")
        scheme = m.get("bootstrap_scheme")
        if scheme is not None and not isinstance(scheme, str):
            raise _refuse(path, f"{key}.bootstrap_scheme", f"holds {json_type(scheme)}, not the name of a resampling scheme")


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
    wrong = next((t for t in lists.get("trace", []) if t is not None and not isinstance(t, dict)), None)
    if wrong is not None:
        raise _refuse(path, "items.trace", f"holds {json_type(wrong)}, not an item's trace (an object or null)")
    allowed = {"predictions": (int, list, type(None)), "labels": (int, dict)}
    for key, kinds in allowed.items():
        wrong = next((v for v in lists.get(key, []) if isinstance(v, bool) or not isinstance(v, kinds)), None)
        if wrong is not None:
            raise _refuse(path, f"items.{key}", f"holds {json_type(wrong)}, not a class index "
                                                f"{'or a list of boxes' if key == 'predictions' else 'or a box target'}")


def json_type(value: Any) -> str:
    return f"a JSON {type(value).__name__}" if not isinstance(value, (int, float, str)) else repr(value)[:40]
