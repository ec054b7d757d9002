"""``score --sequential``: score items in the baseline's order, batch by batch, and stop as soon
as the anytime-valid paired test of ``metrics.sequential`` settles pass or regression at
``check``'s fixed level (``report.check.ALPHA``).

The run stays an ordinary resumable run: its items are the baseline's, its key is the key of a
full run over them, and the decision is a function of the stored outcomes in item order, checked
at the end of each block (``score.item_blocks``). A rerun after a kill replays the stored blocks
and reaches the same decision at the same block; a later run without ``--sequential`` (same
``--out``, same items) scores the rest and writes an ordinary full run.json.

What is refused, each in one line before the model loads: several workers (one process decides
when to stop), ``--method auto`` (its method is chosen after a guard run, so the protocol is not
known up front), no ``--baseline`` or ``--margin`` (the margin defines the test: no default), a
metric other than accuracy, a detection task (COCO AP is not a mean of per-image statistics, so
no per-batch test on it is sound), a fidelity baseline (no per-item outcomes; FD over a growing
sample has no known anytime-valid scheme), and a baseline of another protocol, partial or with
failed items. This module imports no torch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError
from dive_bench.metrics.sequential import BET_FRACTIONS, Decision, decide
from dive_bench.report.check import (ALPHA, PASS, REGRESSION, MetricVerdict, Verdict, incomparable_reason, load_run,
                                     parse_margins)
from dive_bench.spec.metric_specs import check_margin
from dive_bench.spec.result import RunResult

#: the one metric the gate tests (per-item outcomes; see the module docstring for the others)
METRIC = "accuracy"
#: each mode's conclusion when every item is scored and neither side crossed
FALLBACK = {"regression": ("pass", "no regression beyond the margin was shown"),
            "noninferiority": ("regression", "non-inferiority within the margin was not shown")}


def default_method(method: str | None, sequential: bool, baseline: str | Path | None) -> str:
    """The method a request scores with: the one given; else, for a sequential run, its baseline's
    (the baseline fixes the protocol, as it fixes the items and the method options); else DIVE."""
    if method is not None:
        return method
    if sequential and baseline:
        return load_run(baseline).method
    return "dive"


def baseline_of(req, task, shard: tuple[int, int]) -> RunResult | None:
    """The baseline of a sequential request (None without ``--sequential``), after every check that
    needs neither the model nor the data; ``shard``: this worker's (K, N) (``util.shard.resolve_shard``)."""
    if not req.sequential:
        return None
    if req.shard is not None or shard != (0, 1):
        raise DiveBenchError("--sequential decides when to stop from every item scored so far, so one worker runs "
                             "it; drop --shard (and RANK/WORLD_SIZE or the SLURM array variables)")
    if req.method == "auto":
        raise DiveBenchError("--sequential pairs the run with its baseline's method, and --method auto chooses one "
                             "only after a guard run; pass the baseline's method (--method dive or enumerate)")
    if not req.baseline:
        raise DiveBenchError("--sequential needs --baseline RUN: the run.json (or its folder) it is paired with")
    margin_of(req.margins)
    primary = (getattr(task, "metric_info", None) or {}).get("primary")
    if primary != METRIC:
        raise DiveBenchError(f"--sequential tests accuracy on per-image outcomes, and task {task.name} reports "
                             f"{primary}: AP is not a mean of per-image statistics, so no per-batch test of it is "
                             "sound; score every item and gate with `dive-bench check`")
    baseline = load_run(req.baseline)
    _check_baseline(baseline, req, task)
    return baseline


def margin_of(margins) -> float:
    """The accuracy margin of ``--margin`` (CLI: ``["accuracy=0.01"]``; API: ``{"accuracy": 0.01}``)."""
    if isinstance(margins, (list, tuple)) and all(isinstance(m, str) for m in margins):
        margins = parse_margins(list(margins))
    if margins is not None and not isinstance(margins, dict):
        raise DiveBenchError(f"margins must be a dict of metric -> tolerated drop, not {type(margins).__name__}; "
                             'e.g. {"accuracy": 0.01}')
    if not margins:
        raise DiveBenchError("--sequential needs --margin accuracy=VALUE: the margin defines the test (accuracy=0 "
                             "tolerates no drop)")
    other = next((name for name in margins if name != METRIC), None)
    if other is not None:
        raise DiveBenchError(f"--margin {other}=...: the sequential gate tests accuracy only; give --margin "
                             "accuracy=VALUE, and gate other metrics with `dive-bench check` on a full run")
    return check_margin(METRIC, margins[METRIC])


def _check_baseline(baseline: RunResult, req, task) -> None:
    name = req.baseline
    if baseline.kind == "fidelity":
        raise DiveBenchError(f"--baseline {name} is a fidelity run: it has no per-item outcomes, and FD over a "
                             "growing sample has no known anytime-valid test; pass a score run of this task")
    if baseline.task != task.name or baseline.task_version != str(task.version):
        raise DiveBenchError(f"--baseline {name} scored task {baseline.task} (version {baseline.task_version}), "
                             f"not {task.name} (version {task.version}); pass a baseline of this task")
    if baseline.method != req.method:
        raise DiveBenchError(f"--baseline {name} was scored with --method {baseline.method} and this is --method {req.method}; "
                             f"pass --method {baseline.method} or a {req.method} baseline")
    if baseline.n_failed or not baseline.complete:
        raise DiveBenchError(f"--baseline {name} is {'partial' if not baseline.complete else 'incomplete'} "
                             f"({baseline.n_done} of {baseline.n_items} items scored, {baseline.n_failed} failed); "
                             "finish it by rerunning its score command")
    if not baseline.item_ids:
        raise DiveBenchError(f"--baseline {name} stores no per-item outcomes (an older run.json); rescore it with "
                             "this version")


def with_baseline_items(req, baseline: RunResult | None):
    """``req`` scoring the baseline's items when it selects none itself (a selection it gives must
    then name the same items: the protocol check refuses another set)."""
    import dataclasses

    if baseline is None or any(v is not None for v in (req.limit, req.items, req.item_ids)):
        return req
    return dataclasses.replace(req, items=list(baseline.item_ids))


class Gate:
    """The sequential test over one run's blocks: fed each block's outcomes in order, it says when
    to stop, and writes the ``sequential`` record of run.json."""

    def __init__(self, spec, baseline: RunResult, req, out: Path) -> None:
        current = RunResult({"protocol": {**spec.protocol().as_dict(), "method_config": dict(spec.config),
                                          "seed": spec.seed}})
        reason = incomparable_reason(current, baseline)
        if reason:
            raise DiveBenchError(f"--baseline {req.baseline} measured another protocol: {reason}; pass a baseline "
                                 "scored with the same items and method options")
        self.base = {i: int(p == y) for i, (p, y) in baseline.outcomes().items()}
        self.margin, self.mode, self.out = margin_of(req.margins), req.mode, Path(out)
        self.baseline_name, self.baseline_key = str(req.baseline), baseline.run_key
        self.order: list[int] = []
        self.current: dict[int, int] = {}
        self.stored: dict | None = None
        self.failed: list[int] = []
        self.checked_every = req.items_per_batch
        self.n_available = len(spec.item_ids)
        self.decision = Decision(None, 0, {"regression": 0.0, "pass": 0.0})

    def settled(self, block: list[int], rows: list[tuple[int, dict]], failed: set[int]) -> bool:
        """Add a finished block (``rows``: the items computed now; the others were stored before);
        True when the test has settled (or an item failed, which fails the gate as in ``check``)."""
        fresh = dict(rows)
        for i in block:
            if i in failed and i not in fresh:
                self.failed.append(i)
                continue
            if i not in fresh:
                if self.stored is None:  # items a killed or earlier run stored: read once
                    from dive_bench.store.shards import collect

                    self.stored = {k: r for k, (r, _) in collect(self.out).results.items()}
                fresh[i] = self.stored[i]
            self.current[i] = int(fresh[i]["prediction"] == fresh[i]["label"])
            self.order.append(i)
        if self.failed:
            return True
        self.decision = decide(self.differences(), self.margin, ALPHA, [len(self.order)])
        return self.decision.verdict is not None

    def differences(self) -> np.ndarray:
        return np.array([self.current[i] - self.base[i] for i in self.order], dtype=float)

    def record(self) -> dict:
        """run.json's ``sequential``: the verdict, the items used, the boundary and what crossed it."""
        d, n, dec = self.differences(), len(self.order), self.decision
        if self.failed:
            verdict, settled = "regression", True
            reason = f"{len(self.failed)} items failed (first: item {self.failed[0]}); a run with failed items fails"
        elif dec.verdict is not None:
            verdict, settled = dec.verdict, True
            reason = (f"the {dec.verdict} e-process reached 1/alpha = {1 / ALPHA:g} after {n} of "
                      f"{self.n_available} items")
        else:
            verdict, why = FALLBACK[self.mode]
            settled = False
            reason = f"not settled after {n} of {self.n_available} items: {self.mode} mode concludes {verdict} ({why})"
        record = {"verdict": verdict, "settled": settled, "reason": reason, "metric": METRIC, "margin": self.margin,
                  "mode": self.mode, "alpha": ALPHA, "items_used": n, "items_available": self.n_available,
                  "checked_every": self.checked_every,
                  "boundary": {"wealth": 1 / ALPHA, "log_wealth": math.log(1 / ALPHA)},
                  "log_wealth": {side: round(v, 6) for side, v in dec.log_wealth.items()},
                  "discordant": {"baseline_only": int((d == -1).sum()), "current_only": int((d == 1).sum())},
                  "accuracy": {"baseline": float(np.mean([self.base[i] for i in self.order])) if n else 0.0,
                               "current": float(np.mean([self.current[i] for i in self.order])) if n else 0.0},
                  "test": "two one-sided betting e-processes on D = correct_current - correct_baseline, bets "
                          f"averaged over lambda = {list(BET_FRACTIONS)} x the largest; Ville's inequality",
                  "baseline": {"path": self.baseline_name, "run_key": self.baseline_key}}
        if dec.verdict is not None and not self.failed:
            null = f"E[D] >= -{self.margin:g}" if dec.verdict == "regression" else f"E[D] <= -{self.margin:g}"
            record["crossing"] = {"e_process": dec.verdict, "null_rejected": null,
                                  "log_wealth": round(dec.log_wealth[dec.verdict], 6), "at_item": n}
        if self.failed:
            record["failed_items"] = self.failed
        return record


def replay(current: RunResult, baseline: RunResult, margin: float, items_per_batch: int = 16) -> Decision:
    """What the gate decides on two stored runs: the current run's outcomes in the baseline's
    order, checked at the end of each block of ``items_per_batch`` ids (as ``score`` checks)."""
    base = {i: int(p == y) for i, (p, y) in baseline.outcomes().items()}
    cur = {i: int(p == y) for i, (p, y) in current.outcomes().items()}
    ids = [i for i in sorted(base) if i in cur]
    d = [cur[i] - base[i] for i in ids]
    ends = [k + 1 for k in range(len(ids)) if k + 1 == len(ids) or ids[k + 1] // items_per_batch
            != ids[k] // items_per_batch]
    return decide(d, margin, ALPHA, ends)


def verdict_of(record: dict) -> Verdict:
    """The check-shaped verdict table of a ``sequential`` record."""
    regressed = record["verdict"] == "regression"
    acc = record["accuracy"]
    crossing = record.get("crossing")
    detail = (f"{crossing['e_process']} e-process crossed 1/alpha={record['boundary']['wealth']:g} "
              f"(log {crossing['log_wealth']:.3f} >= {record['boundary']['log_wealth']:.3f}) at item "
              f"{crossing['at_item']} of {record['items_available']}" if crossing else record["reason"])
    detail += f"; {record['discordant']['baseline_only']} vs {record['discordant']['current_only']} discordant"
    row = MetricVerdict(record["metric"], acc["baseline"], acc["current"], record["margin"], "sequential", detail,
                        regressed)
    return Verdict(REGRESSION if regressed else PASS, "" if not regressed else record["reason"], [row])
