"""Scoring methods behind ``dive-bench score --method``: each maps encoded images to item results.

A method sees the adapter only through its interface and returns, per image, a JSON-able dict
with a ``prediction`` plus whatever it wants to keep (cost, curves, visited labels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from dive_bench.adapters.base import Adapter
from dive_bench.spec.configs import LATER_FIELDS, DiveConfig, EnumerationConfig, check_stages, key_config, normalized_config  # noqa: F401
from dive_bench.inversion import ProbeSet, enumerate_classes, invert
from dive_bench.inversion.cost import scaled_stages
from dive_bench.inversion.dive import check_config
from dive_bench.labels import layout_tokenizer


@dataclass(frozen=True)
class Method:
    name: str
    config_cls: type
    run: Callable[[Adapter, torch.Tensor, ProbeSet, Any, list[int]], list[dict]]
    #: rules that need the probe set or the model (checked before any item is computed), or None
    check: Callable[[Any, ProbeSet, Adapter], None] | None = None
    #: the config with settings that depend on the model or the probes made concrete (e.g.
    #: ``--stages dc``), before the run key is formed; None: the config as given
    resolve: Callable[[Any, ProbeSet, Adapter], Any] | None = None


def _run_dive(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, cfg: DiveConfig, seeds: list[int]) -> list[dict]:
    if cfg.init == "coarse":  # layouts: start from a coarse enumeration of single objects
        from dive_bench.inversion.layout.seed import seed_layouts

        start, seed_costs = seed_layouts(adapter, x0, probes, loss=cfg.probes.loss, weighting=cfg.probes.weighting)
        results = invert(adapter, x0, probes, dataclasses.replace(cfg, init="labels"), seeds, init_labels=start)
        for r, cost in zip(results, seed_costs):
            r.evaluations += cost["evaluations"]
    else:
        results = invert(adapter, x0, probes, cfg, seeds)
        seed_costs = [None] * len(results)
    if layout_tokenizer(adapter) is not None:
        # the seed's own cost is kept per image: with a cached seed, wall time no longer includes it
        return [{**_layout_result(adapter, x, r, probes, cfg), **({"seed_cost": c} if c else {})}
                for x, r, c in zip(x0, results, seed_costs)]
    return [{"prediction": r.labels[0] if len(r.labels) == 1 else r.labels, "best_monitor": r.best_monitor,
             "best_step": r.best_step, "steps_run": r.steps_run, "evaluations": r.evaluations,
             "stopped_early": r.stopped_early, "monitor_curve": r.monitor_curve,
             "visited": [v[0] if len(v) == 1 else v for v in r.visited]} for r in results]


def _layout_result(adapter: Adapter, x0: torch.Tensor, r, probes: ProbeSet, cfg: DiveConfig) -> dict:
    from dive_bench.inversion.layout.scoring import scored_detections

    dets, evals = scored_detections(adapter, x0, r.labels, probes, cfg.probes.loss, cfg.probes.weighting)
    return {"prediction": dets, "tokens": r.labels, "best_monitor": r.best_monitor, "best_step": r.best_step,
            "steps_run": r.steps_run, "evaluations": r.evaluations + evals, "stopped_early": r.stopped_early,
            "monitor_curve": r.monitor_curve, "n_visited": len(r.visited)}


def _run_enumerate(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, cfg: EnumerationConfig,
                   seeds: list[int]) -> list[dict]:
    results = enumerate_classes(adapter, x0, probes, cfg)
    return [{"prediction": r.prediction, "scores": r.scores, "evaluations": r.evaluations} for r in results]


def _resolve_stages(cfg: EnumerationConfig, probes: ProbeSet, adapter: Adapter) -> EnumerationConfig:
    """``stages="dc"``: Diffusion Classifier's ImageNet schedule scaled to the model's K and P."""
    if cfg.stages != "dc":
        return cfg
    return dataclasses.replace(cfg, stages=scaled_stages(len(adapter.vocabulary["class"]), len(probes)))


METHODS: dict[str, Method] = {
    "dive": Method("dive", DiveConfig, _run_dive, check=lambda cfg, probes, adapter: check_config(adapter, cfg)),
    "enumerate": Method("enumerate", EnumerationConfig, _run_enumerate,
                        check=lambda cfg, probes, adapter: check_stages(cfg.stages, len(probes)),
                        resolve=_resolve_stages),
}
