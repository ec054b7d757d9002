"""Figures from what run.json keeps per item: DIVE's monitor curves (``items.trace``) and the
recall of each class (``items.labels`` / ``predictions``). ``report.figures`` exports both.

Why per item: an overall accuracy hides how the search behaved on each image (does the monitor
value still fall at the last step, so more steps would help? is the answer kept from an early
step?) and which classes a model fails on. Both are read off the per-item records; no model runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dive_bench.errors import DiveBenchError
from dive_bench.report.per_class import class_recall
from dive_bench.report.plotting import new_figure
from dive_bench.spec.result import RunResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the band drawn around the median monitor curve, as percentiles over images
BAND = (10, 90)
#: at most this many classes get a group of bars each
MAX_CLASSES = 40


def run_label(run: RunResult, names: Mapping[str, str] | None = None) -> str:
    """What a figure calls a run: the name given for its path (``PATH=NAME``), else its folder's
    name (``leaderboards/runs/numbers-10-dive``), else its model."""
    names = names or {}
    if run.path and run.path in names:
        return names[run.path]
    return Path(run.path).parent.name if run.path else run.model


def _curves(run: RunResult) -> tuple[list[dict[int, float]], list[int]]:
    """Each traced image's monitor curve as {step: value / the image's first value}, and the best
    steps; images whose first value is 0 or not finite (nothing to divide by) are left out."""
    curves, best = [], []
    for t in run.traces:
        if not isinstance(t, dict) or not t.get("monitor"):
            continue
        pairs = [(int(s), float(v)) for s, v in t["monitor"] if isinstance(v, (int, float)) and math.isfinite(v)]
        if not pairs or pairs[0][1] <= 0:
            continue
        first = pairs[0][1]
        curves.append({s: v / first for s, v in pairs})
        if isinstance(t.get("best_step"), int):
            best.append(t["best_step"])
    return curves, best


def monitor_summary(run: RunResult) -> dict | None:
    """Per monitored step: the median and the :data:`BAND` percentiles of the normalised monitor
    value over the images that reached it, and how many did; the best steps' median and share of
    images per step. None when the run kept no monitor curves."""
    curves, best = _curves(RunResult.of(run))
    if not curves:
        return None
    steps = sorted({s for c in curves for s in c})
    at = [np.array([c[s] for c in curves if s in c]) for s in steps]
    best_steps = sorted(set(best))
    return {"steps": steps, "median": [float(np.median(a)) for a in at],
            "low": [float(np.percentile(a, BAND[0])) for a in at], "high": [float(np.percentile(a, BAND[1])) for a in at],
            "n": [len(a) for a in at], "images": len(curves), "best_median": float(np.median(best)) if best else None,
            "best_steps": best_steps, "best_share": [best.count(s) / len(best) for s in best_steps]}


def monitor_curves(run: RunResult) -> "Figure | None":
    """DIVE's monitor curves over a run's images: the median and 10-90% band of each image's
    monitor value relative to its first monitored value, the median best step marked, and below
    it the share of images whose answer was kept from each step. None when the run stores no
    monitor curves (``items.trace``), so a caller can say "no traces stored"."""
    run = RunResult.of(run)
    s = monitor_summary(run)
    if s is None:
        return None
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(7, 5.2)
    ax, ax_best = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1.2)})
    ax.fill_between(s["steps"], s["low"], s["high"], color="C0", alpha=0.2, gid="band",
                    label=f"{BAND[0]}-{BAND[1]}% of images")
    ax.plot(s["steps"], s["median"], color="C0", marker="o", markersize=3, gid="median", label="median")
    if s["best_median"] is not None:
        ax.axvline(s["best_median"], color="C3", linestyle="--", linewidth=1.2, gid="best-step",
                   label=f"median best step ({s['best_median']:g})")
    ax.set_ylabel("monitor value / the image's\nfirst monitored value")
    ax.set_title(f"DIVE monitor: {run.model} on {run.task}, {s['images']} images", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    if len(s["steps"]) == 1:  # e.g. monitor_every = steps: one value per image, so no curve
        ax.text(0.5, 0.1, f"one monitored step per image ({s['steps'][0]}): no curve to draw",
                transform=ax.transAxes, ha="center", fontsize=9, color="0.3")
        ax.set_xlim(0, 2 * max(s["steps"][0], 1))
    if s["best_steps"]:
        gap = float(min(np.diff(s["steps"]))) if len(s["steps"]) > 1 else max(s["steps"][0] / 10, 1.0)
        ax_best.bar(s["best_steps"], [100 * v for v in s["best_share"]], width=0.7 * gap, color="C3", alpha=0.7,
                    gid="best-share")
    ax_best.set_ylabel("answer kept\nfrom step (%)")
    ax_best.set_xlabel("DIVE step")
    ax_best.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    ax_best.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _recalls(runs: Sequence[RunResult], k: int | None) -> list:
    out = []
    for run in runs:
        r = class_recall(run, k)
        if r is None:
            raise DiveBenchError(f"{run.path or run.model} holds no per-item class labels and predictions "
                                 "(items.labels / items.predictions): per-class recall needs a classification run")
        out.append(r)
    return out


def _class_count(runs: Sequence[RunResult], class_names: Sequence[str] | None) -> int:
    k = max([len(class_names or ())] + [r.label_space.num_classes or 0 for r in runs])
    if k > MAX_CLASSES:
        raise DiveBenchError(f"per-class bars draw at most {MAX_CLASSES} classes and these runs have {k}; "
                             "use `dive-bench compare` for the per-class summary of a large label space")
    return k


def per_class_recall(real_runs: Sequence[RunResult], self_runs: Sequence[RunResult],
                     class_names: Sequence[str] | None = None) -> "Figure":
    """Per model, one panel: the recall of each class on real test images (``real_runs``) beside
    the recall on the model's own samples (``self_runs``, self-consistency runs). Why side by side:
    a class recognised on real images but not on its own samples is one the model does not draw;
    one missed on both is one it cannot recognise. Models are matched by name; a model with two
    runs on one side (e.g. dive and enumerate) gets a bar for each."""
    real_runs, self_runs = [RunResult.of(r) for r in real_runs], [RunResult.of(r) for r in self_runs]
    everything = real_runs + self_runs
    if not everything:
        raise DiveBenchError("no classification runs to draw per class; pass score and self-consistency runs")
    k = _class_count(everything, class_names)
    recalls = dict(zip(map(id, everything), _recalls(everything, k or None)))
    k = max(r.num_classes for r in recalls.values())
    names = list(class_names or []) or next((list(r.label_space.names) for r in everything if r.label_space.names),
                                            [])
    names = names + [str(c) for c in range(len(names), k)]
    models = list(dict.fromkeys(r.model for r in everything))
    fig = new_figure(max(7.0, 0.55 * k + 2), 2.7 * len(models) + 0.9)
    axes = fig.subplots(len(models), 1, squeeze=False, sharex=True).ravel()
    for ax, model in zip(axes, models):
        bars = [(r, "real images") for r in real_runs if r.model == model] + \
               [(r, "own samples") for r in self_runs if r.model == model]
        width = 0.8 / len(bars)
        kinds = [(what, run.method) for run, what in bars]
        for j, (run, what) in enumerate(bars):
            rec = recalls[id(run)]
            which = run.method if kinds.count((what, run.method)) == 1 else run_label(run)
            shown = f"{what} ({which}), {100 * rec.overall:.0f}% overall"
            colour = ("C0", "C1")[what == "own samples"] if len(bars) <= 2 else f"C{j}"
            ax.bar(np.arange(k) + (j - (len(bars) - 1) / 2) * width, 100 * np.nan_to_num(rec.recall), width=width,
                   color=colour, label=shown, gid=f"{model}:{j}")
        ax.set_title(model, fontsize=10)
        ax.set_ylim(0, 105)
        ax.set_ylabel("recall (%)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[-1].set_xticks(range(k), names, rotation=30 if max(map(len, names)) > 3 else 0, ha="right"
                        if max(map(len, names)) > 3 else "center", fontsize=8)
    axes[-1].set_xlabel("class")
    fig.tight_layout()
    return fig
