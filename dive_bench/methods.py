"""Scoring methods behind ``dive-bench score --method``: each maps encoded images to item results.

A method sees the adapter only through its interface and returns, per image, a JSON-able dict
with a ``prediction`` plus whatever it wants to keep (cost, curves, visited labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from .adapters.base import Adapter
from .inversion import DiveConfig, EnumerationConfig, ProbeSet, enumerate_classes, invert


@dataclass(frozen=True)
class Method:
    name: str
    config_cls: type
    run: Callable[[Adapter, torch.Tensor, ProbeSet, Any, list[int]], list[dict]]


def _run_dive(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, cfg: DiveConfig, seeds: list[int]) -> list[dict]:
    results = invert(adapter, x0, probes, cfg, seeds)
    return [{"prediction": r.labels[0] if len(r.labels) == 1 else r.labels, "best_monitor": r.best_monitor,
             "best_step": r.best_step, "steps_run": r.steps_run, "evaluations": r.evaluations,
             "stopped_early": r.stopped_early, "monitor_curve": r.monitor_curve,
             "visited": [v[0] if len(v) == 1 else v for v in r.visited]} for r in results]


def _run_enumerate(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, cfg: EnumerationConfig,
                   seeds: list[int]) -> list[dict]:
    results = enumerate_classes(adapter, x0, probes, cfg)
    return [{"prediction": r.prediction, "scores": r.scores, "evaluations": r.evaluations} for r in results]


METHODS: dict[str, Method] = {
    "dive": Method("dive", DiveConfig, _run_dive),
    "enumerate": Method("enumerate", EnumerationConfig, _run_enumerate),
}
