"""The report's figures, from run.json files alone: each function takes runs and returns a Figure.

Why functions that return figures: ``dive-bench report`` embeds them in one HTML page and
``dive-bench plot KIND`` writes each one as a PNG, SVG or PDF for a paper; both draw the same
figure, and :func:`save` writes it without dates or versions so a figure of unchanged runs is an
unchanged file. A run that lacks what a figure needs raises one :class:`DiveBenchError` naming the
run and what is missing. No torch, no model: the runs' ``metrics``, ``timings`` and ``items``.

- :func:`accuracy_vs_evaluations`: accuracy (Wilson 95%) against model evaluations per image;
- :func:`accuracy_vs_k`: accuracy and cost against the label-space size (``cost_vs_k``);
- :func:`monitor_curves`: how DIVE's monitor value falls over the steps (``items.trace``);
- :func:`sweep_figure`: score and fidelity against the training step (``sweep``);
- :func:`per_class_recall`: recall per class on real images and on the model's own samples;
- :func:`detection_ap`: AP, AP50 and AP75 with their bootstrap intervals per layout run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from dive_bench.errors import DiveBenchError
from dive_bench.report import cost_vs_k, sweep
from dive_bench.report.figures_items import monitor_curves, per_class_recall, run_label
from dive_bench.report.plotting import new_figure, place_labels, save
from dive_bench.spec.result import RunResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["accuracy_vs_evaluations", "accuracy_vs_k", "detection_ap", "method_family", "monitor_curves",
           "per_class_recall", "run_label", "save", "sweep_figure"]

#: colour and marker of each method family, the same in every panel and figure
METHOD_STYLE = {"DIVE": ("C0", "o"), "adaptive enumeration": ("C2", "s"), "exhaustive enumeration": ("C1", "^")}
#: the detection metrics drawn per run, with their names on the figure
AP_METRICS = (("ap", "AP"), ("ap50", "AP50"), ("ap75", "AP75"))


def method_family(run: RunResult) -> str:
    """DIVE, adaptive enumeration (enumeration with stages) or exhaustive enumeration."""
    if run.method == "dive":
        return "DIVE"
    return "adaptive enumeration" if run.method_config.get("stages") else "exhaustive enumeration"


def _where(run: RunResult) -> str:
    return run.path or f"the run of {run.model} on {run.task}"


def _accuracy(run: RunResult) -> tuple[float, float, float]:
    """(accuracy, low, high) of a classification run: the stored Wilson interval, else one from
    the stored counts; one DiveBenchError naming the run when it has neither."""
    m = run.metric("accuracy")
    if m is None or not isinstance(m.get("value"), (int, float)) or not math.isfinite(m["value"]):
        raise DiveBenchError(f"{_where(run)} has no metrics.accuracy: the figure draws classification runs; "
                             "leave this run out")
    if m.get("ci_low") is not None and m.get("ci_high") is not None:
        return float(m["value"]), float(m["ci_low"]), float(m["ci_high"])
    if m.get("correct") is not None and m.get("n"):
        from dive_bench.metrics.stats import wilson_interval

        low, high = wilson_interval(int(m["correct"]), int(m["n"]))
        return float(m["value"]), low, high
    raise DiveBenchError(f"{_where(run)} stores no interval for its accuracy (metrics.accuracy.ci_low/ci_high or "
                         "correct/n); rerun `dive-bench merge` on its folder with this version, or leave it out")


def _grid(fig: "Figure", n: int, ncols: int = 3) -> list:
    """``n`` axes in rows of at most ``ncols``; the unused cells of the last row are removed."""
    cols = min(n, ncols)
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.remove()
    return axes[:n]


def _points(runs: Sequence[RunResult], names: Mapping[str, str] | None) -> list[dict]:
    points = []
    for run in map(RunResult.of, runs):
        acc, low, high = _accuracy(run)
        evals = run.evaluations_per_item
        if not evals or not math.isfinite(evals):
            raise DiveBenchError(f"{_where(run)} has no timings.evaluations_per_item: accuracy vs evaluations needs "
                                 "each run's cost; leave this run out or rerun it with this version")
        points.append({"run": run, "task": run.task, "family": method_family(run), "acc": acc, "low": low,
                       "high": high, "evals": float(evals)})
    if not points:
        raise DiveBenchError("no classification runs to draw; pass run.json files of score runs (dive or enumerate)")
    for task in {p["task"] for p in points}:  # models name the points unless two share a model and method
        mine = [p for p in points if p["task"] == task]
        keys = [(p["run"].model, p["family"]) for p in mine]
        shared = [keys.count(k) > 1 for k in keys]
        for p, dup in zip(mine, shared):  # most points of one model (numbers-K rows): row names throughout
            explicit = bool(names) and p["run"].path in names
            by_row = explicit or dup or 2 * sum(shared) > len(mine)
            p["label"] = run_label(p["run"], names) if by_row else p["run"].model
    return points


def accuracy_vs_evaluations(runs: Sequence[RunResult], names: Mapping[str, str] | None = None) -> "Figure":
    """Top-1 accuracy (Wilson 95% interval as error bars) against model evaluations per image (log
    x), one panel per task, one colour and marker per method family, each point named by its model
    (or, where a panel holds two runs of one model and method, by its row name). Why: what a
    method's accuracy costs is the question a user choosing DIVE or enumeration asks."""
    points = _points(runs, names)
    tasks = sorted({p["task"] for p in points})
    cols = min(len(tasks), 3)
    rows = math.ceil(len(tasks) / cols)
    fig = new_figure(4.6 * cols + 0.4, 3.8 * rows + 0.5)
    for ax, task in zip(_grid(fig, len(tasks)), tasks):
        mine = sorted((p for p in points if p["task"] == task), key=lambda p: (p["evals"], p["acc"]))
        for family, (colour, marker) in METHOD_STYLE.items():
            sel = [p for p in mine if p["family"] == family]
            if not sel:
                continue
            ax.errorbar([p["evals"] for p in sel], [100 * p["acc"] for p in sel], capsize=3, linestyle="none",
                        yerr=[[max(0.0, 100 * (p["acc"] - p["low"])) for p in sel],
                              [max(0.0, 100 * (p["high"] - p["acc"])) for p in sel]],
                        color=colour, marker=marker, markersize=6, label=family)
        low, high = min(p["evals"] for p in mine), max(p["evals"] for p in mine)
        _log_axis(ax, low / 3, high * 3)  # room for the names beside the outer points
        bottom, top = min(100 * p["low"] for p in mine), max(100 * p["high"] for p in mine)
        ax.set_ylim(max(0.0, bottom - 0.15 * (top - bottom) - 3), min(105.0, top + 0.15 * (top - bottom) + 3))
        ax.set_title(task if len(task) <= 40 else task[:37] + "...", fontsize=10)
        ax.set_xlabel("model evaluations / image (log)")
        ax.set_ylabel("top-1 accuracy (%), Wilson 95%")
        ax.grid(True, which="both", alpha=0.3)
    seen = {p["family"] for p in points}
    from matplotlib.lines import Line2D  # legend entries only: nothing drawn on an axis

    handles = [Line2D([], [], color=c, marker=m, linestyle="none") for f, (c, m) in METHOD_STYLE.items() if f in seen]
    fig.legend(handles, [f for f in METHOD_STYLE if f in seen], loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.35 / (3.8 * rows + 0.5), 1, 1))
    for ax, task in zip(fig.axes, tasks):  # names last: placed in the final layout
        mine = [p for p in points if p["task"] == task]
        bars = [ax.transData.transform([(p["evals"], 100 * p["low"]), (p["evals"], 100 * p["high"])]) for p in mine]
        place_labels(ax, [(p["evals"], 100 * p["acc"]) for p in mine], [_short(p["label"], task) for p in mine],
                     obstacles=[(lo[0] - 3, lo[1], hi[0] + 3, hi[1]) for lo, hi in bars])
    return fig


def _log_axis(ax, low: float, high: float) -> None:
    """A log x-axis from ``low`` to ``high`` whose ticks read as plain numbers (200, 1k, 20k; 1, 2
    and 5 per decade over a short range): matplotlib's own labels minor ticks as 2x10^3 and, over
    less than a decade, prints them on top of each other."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_xlim(low, high)
    subs = (1.0, 2.0, 5.0) if math.log10(high / low) < 2.5 else (1.0,)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _short(label: str, task: str) -> str:
    """A row name without its panel's task in front (``numbers-10-dive-early`` -> ``dive-early``)."""
    return label[len(task) + 1:] if label.startswith(task + "-") and len(label) > len(task) + 1 else label


def accuracy_vs_k(runs: Sequence[RunResult], names: Mapping[str, str] | None = None) -> "Figure":
    """Accuracy and evaluations per image against the label-space size K, one line per method row
    (``cost_vs_k.rows``: rows matched across K by name). Needs runs of at least two K."""
    table = cost_vs_k.rows(list(runs), dict(names or {}))
    ks = sorted({r["k"] for r in table})
    if len(ks) < 2:
        raise DiveBenchError(f"accuracy vs K needs runs of at least two label-space sizes; all {len(table)} runs "
                             f"have K = {ks[0]}: add runs of e.g. numbers-10, numbers-100 and numbers-1000")
    return cost_vs_k.figure(table)


def sweep_figure(rows: list[dict]) -> "Figure":
    """A checkpoint sweep's score (with its interval) and fidelity against the training step, from
    ``sweep.sweep_rows(OUT)``."""
    if not rows:
        raise DiveBenchError("a sweep figure needs at least one checkpoint; run `dive-bench sweep` first")
    return sweep.figure(rows)


def _ap(run: RunResult) -> list[tuple[str, float, float | None, float | None]]:
    """(name, value, low, high) of AP, AP50 and AP75; COCO's -1 (no such objects) is left out."""
    out = []
    for key, shown in AP_METRICS:
        m = run.metric(key)
        if m is None or not isinstance(m.get("value"), (int, float)) or not 0 <= m["value"] <= 1:
            continue
        out.append((shown, float(m["value"]), m.get("ci_low"), m.get("ci_high")))
    if not out:
        raise DiveBenchError(f"{_where(run)} has no metrics.ap / ap50 / ap75: the detection figure draws layout "
                             "(detection) runs; leave this run out")
    return out


def detection_ap(runs: Sequence[RunResult], names: Mapping[str, str] | None = None) -> "Figure":
    """AP, AP50 and AP75 per detection run as horizontal bars with their bootstrap 95% intervals
    (over images), in the order given. Why horizontal: run names (``layout-canvas-s-sized-dive-
    no-prior``) stay readable however many runs there are."""
    runs = [RunResult.of(r) for r in runs]
    if not runs:
        raise DiveBenchError("no detection runs to draw; pass run.json files of layout (detection) runs")
    values = [_ap(r) for r in runs]
    fig = new_figure(8, 0.9 + 0.62 * len(runs))
    ax = fig.subplots()
    height = 0.8 / len(AP_METRICS)
    for j, (_, shown) in enumerate(AP_METRICS):
        ys, xs, err = [], [], [[], []]
        for i, vs in enumerate(values):
            for name, v, low, high in vs:
                if name == shown:
                    ys.append(i + (j - 1) * height)
                    xs.append(100 * v)
                    err[0].append(max(0.0, 100 * (v - low)) if low is not None else 0.0)
                    err[1].append(max(0.0, 100 * (high - v)) if high is not None else 0.0)
        if xs:
            ax.barh(ys, xs, height=height, xerr=err, capsize=2, color=f"C{j}", label=shown,
                    error_kw={"elinewidth": 0.8, "ecolor": "0.2"})
    ax.set_yticks(range(len(runs)), [run_label(r, names) for r in runs], fontsize=8)
    ax.set_ylim(len(runs) - 0.5, -0.5)  # first run on top, no empty rows above or below
    ax.set_xlim(0, 100)
    ax.set_xlabel("COCO AP (%), bootstrap 95% interval over images")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, ncol=3, bbox_to_anchor=(1, 1), frameon=False)
    fig.tight_layout()
    return fig
