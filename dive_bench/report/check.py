"""Regression verdicts for CI: is the current run's score worse than the baseline's beyond noise?

Shared by ``dive-bench check`` and the pytest plugin. Works from run.json files alone.

- Runs must share the protocol (task and version, item set, method and its configuration);
  otherwise the comparison is refused ("incomparable", exit 2) rather than guessed.
- With per-item outcomes in both files, the test is paired: exact one-sided McNemar on the
  discordant images (regression mode), or a paired bootstrap interval of the drop
  (non-inferiority mode). Pairing removes the between-image variance that makes two
  independent accuracies look noisier than they are.
- Without per-item outcomes it falls back to the stored Wilson interval of the current run.
- Fidelity runs pair sample by sample through their stored paired replicates
  (``report.check_fidelity``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError
from dive_bench.spec.metric_specs import check_margin
from dive_bench.spec.result import RunResult, default_higher_is_better

# the verdict's vocabulary lives in report.verdicts, shared with the fidelity judge (report.check_fidelity)
from dive_bench.report.verdicts import (ALPHA, INCOMPARABLE, MIN_BOOT, PASS, REGRESSION, MetricVerdict,
                                        Verdict)

__all__ = ["ALPHA", "INCOMPARABLE", "MIN_BOOT", "PASS", "REGRESSION", "MetricVerdict", "Verdict",
           "incomparable_reason", "load_run", "parse_margins", "verdict"]


def load_run(path: str | Path) -> RunResult:
    p = Path(path)
    if p.is_dir():
        p = p / "run.json"
    if not p.exists():
        raise DiveBenchError(f"{p} does not exist; pass a run.json or the --out folder of a score run")
    return RunResult.load(p)  # one line for a binary file, a JSON list, missing keys, wrong types


def incomparable_reason(current: RunResult | dict, baseline: RunResult | dict, across_configs: bool = False) -> str | None:
    """Why two runs cannot be paired, or None (``spec.Protocol`` is the one definition of "same
    protocol"; another seed is another sample of the same protocol). ``across_configs`` allows
    another method configuration on the same task and images (an ablation row against the full
    method)."""
    return RunResult.of(current).protocol.differs_from(RunResult.of(baseline).protocol, across_configs=across_configs)


def _paired_outcomes(current: RunResult, baseline: RunResult) -> tuple[np.ndarray, np.ndarray] | None:
    cur = {i: int(p == y) for i, (p, y) in current.outcomes().items()}
    base = {i: int(p == y) for i, (p, y) in baseline.outcomes().items()}
    shared = sorted(cur.keys() & base.keys())
    if not shared:
        return None
    return np.array([base[i] for i in shared]), np.array([cur[i] for i in shared])


def _paired_detections(current: RunResult, baseline: RunResult):
    """(gt, baseline detections, current detections) over the images both runs scored, or None.
    Built from the per-item targets stored in run.json, never from the live task."""
    labels = current.labels
    if not labels or not baseline.item_ids or not isinstance(labels[0], dict):
        return None
    from dive_bench.metrics.coco import detections_of, ground_truth_of

    cur = current.outcomes()
    base = {i: p for i, (p, _) in baseline.outcomes().items()}
    shared = sorted(cur.keys() & base.keys())
    if not shared:
        return None
    labels = [cur[i][1] for i in shared]
    base_p, cur_p = [base[i] for i in shared], [cur[i][0] for i in shared]
    return ground_truth_of(labels, base_p, cur_p), detections_of(base_p, labels), detections_of(cur_p, labels)


def _mcnemar_one_sided(base_only: int, cur_only: int) -> float:
    """P(at least ``base_only`` of the discordant images favour the baseline | no difference):
    the exact binomial tail with p = 1/2 (integers, so no scipy import on CI's start-up path)."""
    n = base_only + cur_only
    if n == 0:
        return 1.0
    return sum(math.comb(n, k) for k in range(base_only, n + 1)) / 2 ** n


def verdict(current: RunResult | dict, baseline: RunResult | dict, margins: dict[str, float] | None = None, mode: str = "regression",
            n_boot: int = 2000, seed: int = 0, across_configs: bool = False, allow_failed: bool = False,
            allow_partial: bool = False) -> Verdict:
    """The verdict on ``current`` against ``baseline``. A run whose items failed (errors, NaN scores)
    is a regression unless ``allow_failed``; an unfinished run is incomparable unless
    ``allow_partial``: neither may ever pass silently. Two fidelity runs are judged from the paired
    replicates they store (``report.check_fidelity``; ``n_boot`` and ``seed`` do not apply). (Named
    ``verdict``, not ``compare``: the comparison table of ``dive-bench compare`` is
    ``report.comparison``.)"""
    current, baseline = RunResult.of(current), RunResult.of(baseline)
    _check_settings(mode, n_boot)
    refused = _refusal(current, baseline, across_configs, allow_failed, allow_partial)
    if refused is not None:
        return refused
    margins = _margins(margins, baseline, current)
    if "fidelity" in (current.kind, baseline.kind):
        from dive_bench.report.check_fidelity import fidelity_verdict

        return fidelity_verdict(current, baseline, margins, mode)
    verdicts = []
    judge_detection = _detection_judge(current, baseline, n_boot, seed)
    for metric, base_m in sorted(baseline.metrics.items()):
        cur_m = current.metric(metric)
        if cur_m is None:
            return Verdict(INCOMPARABLE, f"current run has no {metric}")
        if not isinstance(base_m, dict) or base_m.get("value") is None or base_m["value"] < 0:
            continue  # e.g. AP of a size slice with no ground truth (-1)
        if not isinstance(cur_m, dict) or cur_m.get("value") is None:
            return Verdict(REGRESSION, f"current run has no value of {metric} (no item scored)")
        margin = margins.get(metric, 0.0)
        paired = _paired_outcomes(current, baseline) if metric == "accuracy" else None
        if judge_detection is not None and metric in judge_detection.drops:
            verdict = judge_detection(metric, margin, mode)
        elif paired is not None:
            verdict = _judge_paired_accuracy(metric, *paired, margin, mode, n_boot, seed)
        else:
            verdict = _judge_interval(metric, base_m, cur_m, margin, mode)
        if verdict is not None:
            verdicts.append(verdict)
    unjudged = [v for v in verdicts if v.test == "none" and _drop(v) > v.margin]
    if unjudged:
        v = unjudged[0]
        return Verdict(INCOMPARABLE, f"{v.metric} dropped from {v.baseline:.4f} to {v.current:.4f}, but the runs store "
                                     "neither per-item outcomes nor an interval, so the drop cannot be told from "
                                     "noise; rescore both with this version (run.json then keeps both)", verdicts)
    status = REGRESSION if any(v.regressed for v in verdicts) else PASS
    return Verdict(status, "" if status == PASS else "score dropped beyond noise and margin", verdicts)


def _drop(v: MetricVerdict) -> float:
    """How much worse the current value is, in the metric's better direction."""
    higher = default_higher_is_better(v.metric)
    return (v.baseline - v.current) if higher else (v.current - v.baseline)


def _margins(margins: dict[str, float] | None, baseline: RunResult, current: RunResult) -> dict[str, float]:
    """``margins`` validated against the metric declarations (``spec.metric_specs.check_margin``): a
    margin is a finite drop >= 0, below its metric's range, for a metric both runs have."""
    if margins is not None and not isinstance(margins, dict):
        raise DiveBenchError(f"margins must be a dict of metric -> tolerated drop, not {type(margins).__name__}; "
                             'e.g. {"accuracy": 0.01}')
    available = sorted(set(baseline.metrics) & set(current.metrics))
    return {name: check_margin(name, value, available=available) for name, value in (margins or {}).items()}


def _check_settings(mode: str, n_boot: object) -> None:
    """The settings that could switch the gate off: the mode, and bootstrap replicates too few for a
    95% bound (one replicate makes its own 95% quantile)."""
    if mode not in ("regression", "noninferiority"):
        raise DiveBenchError(f"--mode must be regression or noninferiority, not {mode!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < MIN_BOOT:
        raise DiveBenchError(f"n_boot={n_boot!r}: a 95% bootstrap bound needs an integer of at least {MIN_BOOT} "
                             "replicates; leave it at its default (2000)")


def _refusal(current: RunResult, baseline: RunResult, across_configs: bool, allow_failed: bool,
             allow_partial: bool) -> Verdict | None:
    """The verdict when the runs cannot be judged on their scores at all, else None."""
    if "fidelity" in (current.kind, baseline.kind):
        from dive_bench.report.check_fidelity import protocol_difference

        reason = protocol_difference(current, baseline)
        return Verdict(INCOMPARABLE, reason) if reason else _nonfinite_refusal(current, baseline)
    reason = incomparable_reason(current, baseline, across_configs)
    if reason:
        return Verdict(INCOMPARABLE, reason)
    refused = _nonfinite_refusal(current, baseline)
    if refused is not None:
        return refused
    failed = current.n_failed
    if failed and not allow_failed:
        return Verdict(REGRESSION, f"{failed} of {current.n_items} items of the current run failed (errors or "
                                   "non-finite scores, see failed_items in its run.json); --allow-failed judges the rest")
    for name, run in (("current", current), ("baseline", baseline)):
        done, total = run.n_done, run.n_items
        if done is not None and total is not None and done + (run.n_failed if allow_failed else 0) < total \
                and not allow_partial:
            return Verdict(INCOMPARABLE, f"the {name} run is partial ({done} of {total} items scored); finish it by "
                                         "rerunning its score command, or pass --allow-partial to judge the shared items")
    return None


def _nonfinite_refusal(current: RunResult, baseline: RunResult) -> Verdict | None:
    """A junk current run is a regression, a junk baseline incomparable."""
    junk = _nonfinite_metrics(current)
    if junk:
        return Verdict(REGRESSION, f"current run has non-finite metrics ({', '.join(junk)})")
    if _nonfinite_metrics(baseline):
        return Verdict(INCOMPARABLE, f"baseline has non-finite metrics ({', '.join(_nonfinite_metrics(baseline))}); "
                                     "rescore the baseline")
    return None


class _DetectionJudge:
    """One paired image bootstrap (``n_boot / 10`` replicates: each is two COCOeval runs) serving
    every COCO stat the runs report, the size slices and recalls included."""

    def __init__(self, dets, stats: list[str], n_boot: int, seed: int) -> None:
        from dive_bench.metrics.coco import coco_ap, paired_ap_drops

        self.drops = paired_ap_drops(dets[0], dets[1], dets[2], n_boot=max(n_boot // 10, 20), seed=seed, stats=stats)
        self.points = coco_ap(dets[0], dets[1]), coco_ap(dets[0], dets[2])

    def __call__(self, metric: str, margin: float, mode: str) -> MetricVerdict | None:
        drops = self.drops[metric][~np.isnan(self.drops[metric])]  # replicates without that size slice
        if not len(drops):
            return None
        base_v, cur_v = self.points[0][metric], self.points[1][metric]
        if mode == "regression":
            p = float((drops <= 0).mean())  # one-sided bootstrap p-value for "no drop"
            regressed = base_v - cur_v > margin and p < ALPHA
            detail = f"paired image bootstrap ({len(drops)}), one-sided p={p:.3g}"
        else:
            hi = float(np.quantile(drops, 0.95))
            regressed = hi > margin
            detail = f"paired image bootstrap ({len(drops)}), 95% upper bound of the drop {hi:.4f}"
        return MetricVerdict(metric, base_v, cur_v, margin, "paired", detail, regressed)


def _detection_judge(current: RunResult, baseline: RunResult, n_boot: int, seed: int) -> _DetectionJudge | None:
    dets = _paired_detections(current, baseline)
    if dets is None:
        return None
    from dive_bench.metrics.coco import STAT_NAMES

    return _DetectionJudge(dets, [m for m in STAT_NAMES if m in baseline.metrics], n_boot, seed)


def _judge_paired_accuracy(metric: str, b: np.ndarray, c: np.ndarray, margin: float, mode: str, n_boot: int,
                           seed: int) -> MetricVerdict:
    """Exact one-sided McNemar on the discordant images, or a paired bootstrap bound on the drop."""
    base_only, cur_only = int(((b == 1) & (c == 0)).sum()), int(((b == 0) & (c == 1)).sum())
    drop = (base_only - cur_only) / len(b)
    if mode == "regression":
        p = _mcnemar_one_sided(base_only, cur_only)
        regressed = drop > margin and p < ALPHA
        detail = f"McNemar exact, {base_only} vs {cur_only} discordant of {len(b)}, one-sided p={p:.3g}"
    else:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(b), size=(n_boot, len(b)))
        drops = (b[idx] - c[idx]).mean(1)
        hi = float(np.quantile(drops, 0.95))
        regressed = hi > margin
        detail = f"paired bootstrap ({n_boot}), 95% upper bound of the drop {hi:.4f}"
    return MetricVerdict(metric, float(np.mean(b)), float(np.mean(c)), margin, "paired", detail, regressed)


def _judge_interval(metric: str, base_m: dict, cur_m: dict, margin: float, mode: str) -> MetricVerdict:
    """Without per-item outcomes: the current run's stored 95% interval against the baseline's
    value; a point value alone cannot separate a drop from noise (reported, never a failure)."""
    base_v, cur_v = float(base_m["value"]), float(cur_m["value"])
    if "ci_low" not in cur_m:
        return MetricVerdict(metric, base_v, cur_v, margin, "none",
                             "no interval or per-item outcomes stored; not judged", False)
    if mode == "regression":
        regressed = cur_m.get("ci_high", cur_v) < base_v - margin
        detail = f"current 95% interval [{cur_m.get('ci_low', cur_v):.4f}, {cur_m.get('ci_high', cur_v):.4f}]"
    else:
        regressed = cur_m.get("ci_low", cur_v) < base_v - margin
        detail = f"current 95% lower bound {cur_m.get('ci_low', cur_v):.4f}"
    return MetricVerdict(metric, base_v, cur_v, margin, "unpaired (stored 95% interval)", detail, regressed)


def _nonfinite_metrics(run: RunResult) -> list[str]:
    """Names of the run's metrics whose value is NaN/inf (a junk run must never pass)."""
    bad = []
    for name, m in run.metrics.items():
        value = m.get("value") if isinstance(m, dict) else m
        if isinstance(value, (int, float)) and not math.isfinite(value):
            bad.append(name)
    return bad


def parse_margins(items: list[str] | None) -> dict[str, float]:
    """``["accuracy=0.01"]`` -> ``{"accuracy": 0.01}``: the syntax only (a metric named twice is
    refused, not the last one kept); what a margin may be is checked by :func:`verdict` against the
    metric's declaration, for the CLI and the pytest plugin alike."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise DiveBenchError(f"--margin {item!r} must look like METRIC=VALUE, e.g. accuracy=0.01")
        if name in out:
            raise DiveBenchError(f"--margin names {name} twice ({name}={out[name]:g} and {item}); give one margin per metric")
        out[name] = number
    return out
