"""One model-comparison table (the paper's Table VI): the runs it holds, and its rows and cells.

Why a module of its own: the table is what the page (``report.comparison``), its captions
(``report.captions``) and the per-class block under it (``report.per_class``) all read. Here it
sits below all three, so each imports it and none imports another to reach it. Which runs go into
which table is decided by ``report.comparison.build_tables`` under the keys of ``report.grouping``.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dive_bench.report.agreement import percentile_interval
from dive_bench.report.cost_vs_k import row_name
from dive_bench.report.fidelity import ORDER as FIDELITY_ORDER
from dive_bench.report.leaderboard import seconds_text
from dive_bench.report.tables import Column, best_of, markdown_table
from dive_bench.spec.result import RunResult, higher_is_better

SCORE_NAMES = {"accuracy": "top-1 (%)", "ap": "AP (%)"}


@dataclass
class ComparisonTable:
    """One table: a score protocol's runs (DIVE, or enumeration alone), its enumeration columns and
    one fidelity protocol's runs, each keyed by model id."""

    kind: str
    score: dict[str, RunResult]
    extra: dict[str, dict[str, RunResult]] = field(default_factory=dict)
    fidelity: dict[str, RunResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: self-consistency columns: label -> model id -> run (the model scored on its own samples)
    consistency: dict[str, dict[str, RunResult]] = field(default_factory=dict)

    def runs(self) -> list[RunResult]:
        """The runs whose models are rows (self-consistency runs add columns, never rows)."""
        return [*self.score.values(), *(r for col in self.extra.values() for r in col.values()),
                *self.fidelity.values()]

    def models(self) -> list[str]:
        """Model ids in row order: parameter count, then name (a regenerated file diffs cleanly)."""
        first: dict[str, RunResult] = {}
        for r in self.runs():
            first.setdefault(r.model_id, r)
        return sorted(first, key=lambda m: (first[m].params, first[m].model, m))

    def run_of(self, mid: str) -> RunResult:
        """A run of the model, for its name and parameter count: the score run first."""
        return self.score.get(mid) or self.fidelity.get(mid) or next(c[mid] for c in self.extra.values() if mid in c)

    def name(self, mid: str) -> str:
        return f"`{self.run_of(mid).model}`"

    @property
    def score_label(self) -> str:
        """The score column's short name: DIVE, or the enumeration config of a table without DIVE."""
        run = next(iter(self.score.values()))
        return "DIVE" if run.method == "dive" else row_name(run)


def _metric_order(metric: str) -> tuple:
    family = metric.split("_", 1)[0]
    return (FIDELITY_ORDER.index(family) if family in FIDELITY_ORDER else 99, metric)


def fidelity_metrics(runs: Sequence[RunResult | dict]) -> dict[str, bool]:
    """Fidelity metric name -> higher is better (``metric_info`` of the runs, else the family's direction)."""
    runs = [RunResult.of(r) for r in runs]
    names = sorted({m for r in runs for m in r.metrics}, key=_metric_order)
    return {name: higher_is_better(runs, name) for name in names}


def _fidelity_cell(m: dict) -> tuple[str, float]:
    """Value (± std over splits/subsets), and for a metric with stored bootstrap replicates their
    95% interval, re-centred on the value as ``agreement`` uses them."""
    v = m["value"]
    digits = 4 if abs(v) < 0.1 else 3 if abs(v) < 10 else 2
    text = f"{v:.{digits}f}" + (f" ± {m['std']:.{digits}f}" if "std" in m else "")
    reps = m.get("bootstrap")
    if isinstance(reps, list) and len(reps) >= 2:
        ci = percentile_interval(np.asarray(reps, dtype=float) - float(np.mean(reps)) + v)
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""
    return text, v


def _score_cell(run: RunResult) -> tuple[str, float] | None:
    primary = run.primary
    if primary is None:
        return None
    m = primary[1]
    text = f"{100 * m['value']:.1f}"
    if "ci_low" in m:
        text += f" [{100 * m['ci_low']:.1f}, {100 * m['ci_high']:.1f}]"
    return text + ("" if run.complete else " (partial)"), m["value"]


def score_metric_of(run: RunResult) -> str:
    primary = run.primary
    return primary[0] if primary else "accuracy"


def score_metric(table: ComparisonTable) -> tuple[str, bool]:
    """(primary metric name, higher is better) of the table's score runs."""
    run = next(iter(table.score.values()))
    name = score_metric_of(run)
    return name, run.higher_is_better(name)


def table_markdown(table: ComparisonTable) -> str:
    """The model rows: #Params, fidelity columns, score columns (DIVE, enumeration), DIVE's cost."""
    metrics = fidelity_metrics(list(table.fidelity.values()))
    fid = next(iter(table.fidelity.values()), None)
    metric, higher = score_metric(table)
    unit = SCORE_NAMES.get(metric, metric)
    label = table.score_label
    headers = {}
    for name, better in metrics.items():  # FD/FID: the extractor and N in the header
        where = f" ({fid.feature_extractor}, N={fid.n_items})"
        headers[name] = f"{name}{where if _metric_order(name)[0] < 2 else ''} {'↑' if better else '↓'}"
    score_columns = {label: table.score, **table.extra}
    rows = []
    consistency_headers = {c: f"{c}: {unit} [95% CI]" for c in table.consistency}
    for mid in table.models():
        params = table.run_of(mid).params
        row = {"Model": table.name(mid), "#Params": f"{params / 1e6:.2f}M" if params else None}
        if mid in table.fidelity:
            fid_run = table.fidelity[mid]
            row.update({headers[n]: _fidelity_cell(fid_run.metric(n)) for n in metrics
                        if fid_run.value(n) is not None})
        for col, runs in score_columns.items():
            if mid in runs:
                row[f"{col}: {unit} [95% CI]"] = _score_cell(runs[mid])
        for col, runs in table.consistency.items():
            if mid in runs:
                row[consistency_headers[col]] = _score_cell(runs[mid])
        scored = table.score.get(mid)
        if scored is not None and scored.evaluations_per_item:
            row[f"{label}: evaluations / image"] = f"{scored.evaluations_per_item:,.0f}"
        if scored is not None and scored.seconds_per_item:  # + the seconds of work read from a cache (layout seeds)
            row[f"{label}: s / image"] = seconds_text(scored)
        rows.append(row)
    bold = len(rows) > 1  # a lone row is not "best" of anything
    columns = ["Model", "#Params",
               *(Column(headers[n], best_of(b) if bold else None) for n, b in metrics.items()),
               *(Column(f"{c}: {unit} [95% CI]", best_of(higher) if bold else None) for c in score_columns),
               *(Column(h, best_of(higher) if bold else None) for h in consistency_headers.values()),
               f"{label}: evaluations / image", f"{label}: s / image"]
    return markdown_table(columns, rows)
