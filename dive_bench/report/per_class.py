"""Per-class recovery of a classification run, from the per-item outcomes its run.json stores.

Why: an overall self-consistency of 45% can mean every class is recovered about half the time, or
that the samples of half the classes are recognised and the rest are all read as one "sink"
class. The two call for different fixes (a weak model vs. classes the model never learned to draw),
and the overall number cannot tell them apart. ``compare`` prints, below a table with a
self-consistency column, each model's recall per class (the fraction of samples generated for
class y that the model recovers as y) and the class its answers pile onto.

Reads ``items`` (``labels``, ``predictions``) only: no model, task or torch. Class indices are the
task's label indices; run.json carries no class names, so the columns are numbered (the README
names Fashion-MNIST's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dive_bench.report.comparison_table import ComparisonTable
from dive_bench.report.tables import markdown_table
from dive_bench.spec.result import RunResult

#: at most this many classes get a column each; a larger label space (ImageNet's 1,000) is summarised
MAX_CLASS_COLUMNS = 20
#: how many of the worst-recovered classes a summary row names
WORST_SHOWN = 5


@dataclass(frozen=True)
class ClassRecall:
    """One run's per-class outcome: ``recall[c]`` is correct / n for class c (NaN where n is 0),
    ``predicted[c]`` how many items of any class were answered c."""

    n: np.ndarray
    correct: np.ndarray
    predicted: np.ndarray

    @property
    def recall(self) -> np.ndarray:
        return np.where(self.n > 0, self.correct / np.maximum(self.n, 1), np.nan)

    @property
    def overall(self) -> float:
        return float(self.correct.sum() / self.n.sum()) if self.n.sum() else float("nan")

    @property
    def num_classes(self) -> int:
        return len(self.n)

    def sink(self) -> tuple[int, float]:
        """The class most answers went to, and its share of all answers (1/K when spread evenly)."""
        c = int(np.argmax(self.predicted))
        total = self.predicted.sum()
        return c, float(self.predicted[c] / total) if total else float("nan")


def class_labels(run: RunResult | dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels, predictions) as int arrays for a classification run, or None when its items are
    not class indices (a detection run stores per-image boxes) or hold nothing."""
    run = RunResult.of(run)
    labels, predictions = run.labels, run.predictions
    if not labels or len(labels) != len(predictions):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (*labels, *predictions)):
        return None
    return np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)


def class_recall(run: RunResult | dict, num_classes: int | None = None) -> ClassRecall | None:
    """Per-class counts of a classification run (None for one whose items are not class indices).
    ``num_classes`` defaults to the run's label space (K), else the largest index seen + 1."""
    pair = class_labels(run)
    if pair is None:
        return None
    labels, predictions = pair
    if labels.min() < 0:
        return None
    k = num_classes or RunResult.of(run).label_space.num_classes or 0
    k = max(k, int(labels.max()) + 1, int(predictions.max()) + 1)
    n = np.bincount(labels, minlength=k)
    correct = np.bincount(labels[labels == predictions], minlength=k)
    predicted = np.bincount(predictions[predictions >= 0], minlength=k)
    return ClassRecall(n=n, correct=correct, predicted=predicted)


def _pct(v: float) -> str:
    return "-" if np.isnan(v) else f"{100 * v:.0f}"


def per_class_rows(names: Sequence[str], recalls: Sequence[ClassRecall]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the per-class table: a column per class when every run has at most
    ``MAX_CLASS_COLUMNS`` classes, else a summary (classes never recovered, median and worst
    classes); then overall and where the answers pile up."""
    k = max(r.num_classes for r in recalls)
    wide = k <= MAX_CLASS_COLUMNS
    columns = ["Model", "overall (%)"]
    columns += [str(c) for c in range(k)] if wide else ["classes never recovered", "median class (%)",
                                                         f"{WORST_SHOWN} worst classes (class: %)"]
    columns += ["most answered class (share of answers)"]
    rows = []
    for name, r in zip(names, recalls):
        recall = r.recall
        row = {"Model": name, "overall (%)": "-" if np.isnan(r.overall) else f"{100 * r.overall:.1f}"}
        if wide:
            row.update({str(c): _pct(recall[c]) if c < len(recall) else None for c in range(k)})
        else:
            seen = np.flatnonzero(r.n > 0)
            worst = seen[np.argsort(recall[seen], kind="stable")][:WORST_SHOWN]
            row.update({"classes never recovered": f"{int(((r.correct == 0) & (r.n > 0)).sum())} of {len(seen)}",
                        "median class (%)": _pct(float(np.median(recall[seen]))) if len(seen) else None,
                        f"{WORST_SHOWN} worst classes (class: %)": ", ".join(f"{c}: {_pct(recall[c])}"
                                                                              for c in worst)})
        c, share = r.sink()
        row["most answered class (share of answers)"] = f"{c} ({_pct(share)}%)"
        rows.append(row)
    return columns, rows


def _per_class_span(recalls: Sequence[ClassRecall]) -> str:
    """How many items each class has across ``recalls``: "30", or "24 to 39"."""
    sizes = sorted({int(n) for r in recalls for n in r.n if n})
    return "" if not sizes else f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]} to {sizes[-1]}"


def per_class_section(table: ComparisonTable, label: str) -> list[str]:
    """Below a table with a self-consistency column of accuracy: for each model, its recall per
    class on the table's real images (the score column) and on its own samples, and the class its
    answers pile onto (``per_class``). The pair shows whether a class the model fails on its own
    samples is one it cannot recognise at all, or one it does not draw. Nothing for AP columns."""
    own = table.consistency[label]
    task = next(iter(table.score.values())).task
    entries = []  # (model id, scored on, recall), real images first
    for m in (m for m in table.models() if m in own):
        if m in table.score:
            entries.append((m, f"{table.score_label}, {task}", class_recall(table.score[m])))
        entries.append((m, "own samples", class_recall(own[m])))
    if not entries or any(r is None for _, _, r in entries):
        return []
    columns, rows = per_class_rows([table.name(m) for m, _, _ in entries], [r for _, _, r in entries])
    for row, (_, what, _) in zip(rows, entries):
        row["scored on"] = what
    real = _per_class_span([r for _, what, r in entries if what != "own samples"])
    drawn = _per_class_span([r for _, what, r in entries if what == "own samples"])
    k = max(r.num_classes for _, _, r in entries)
    return [f"Per class, {label}: the % of each class's items a model recovers, on the real images of the "
            f"{table.score_label} column" + (f" ({real} per class)" if real else "") + f" and on its own samples "
            f"({drawn} drawn per class); columns are class indices of the task. Last column: the class the "
            f"model's answers pile onto and its share of all answers ({100 / k:.0f}% if spread evenly).", "",
            markdown_table([columns[0], "scored on", *columns[1:]], rows)]
