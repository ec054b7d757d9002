"""The report's figures (dive_bench.report.figures) and `dive-bench plot accuracy|k|monitor|per-class|detection`.

Runs are written by hand, so every plotted number below is known: the tests read the drawn
artists back (points, bars, lines) and compare them with the stored values.
"""

import json

import numpy as np
import pytest

from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.report import figures
from dive_bench.spec.result import RunResult

from cli_checks import cli_error
from factories import run_json

DIVE = {"steps": 30, "probes_per_step": 1, "monitor_every": 10, "lr": 0.1}
EXH = {"stages": None, "interval": 100}
ADA = {"stages": [[1, 5], [10, 1]], "interval": 100}


def _cls(model="m", task="t", method="dive", config=DIVE, acc=0.5, low=None, high=None, evals=100.0, k=10,
         items=None, traces=None, path=None):
    low, high = acc - 0.1 if low is None else low, acc + 0.1 if high is None else high
    items = dict(items or {"ids": [0, 1], "labels": [0, 1], "predictions": [0, 0]})
    if traces is not None:
        items["trace"] = traces
    payload = run_json(model=model, task=task, method=method, method_config=config, n_items=len(items["ids"]),
                       metrics={"accuracy": {"value": acc, "ci_low": low, "ci_high": high, "n": 2}},
                       model_info={"num_classes": k}, timings={"evaluations_per_item": evals}, items=items)
    return RunResult(payload, path)


def _points(ax):
    """(x, y) of every errorbar series drawn on ``ax``."""
    out = []
    for c in ax.containers:
        line = c.lines[0]
        out += list(zip(line.get_xdata(), line.get_ydata()))
    return sorted(out)


def test_accuracy_vs_evaluations_draws_each_run_in_its_tasks_panel_on_a_log_axis():
    runs = [_cls(model="a", acc=0.9, low=0.8, high=0.95, evals=300), _cls(model="a", method="enumerate", config=EXH,
            acc=0.7, evals=1000), _cls(model="a", method="enumerate", config=ADA, acc=0.6, evals=150),
            _cls(model="b", task="u", acc=0.25, low=0.1, high=0.5, evals=40)]
    fig = figures.accuracy_vs_evaluations(runs)
    axes = sorted(fig.axes, key=lambda a: a.get_title())
    assert [a.get_title() for a in axes] == ["t", "u"]
    assert _points(axes[0]) == [(150, 60.0), (300, 90.0), (1000, 70.0)]
    assert _points(axes[1]) == [(40, 25.0)]
    assert all(a.get_xscale() == "log" for a in axes)
    assert {c.get_label() for c in axes[0].containers} == {"DIVE", "exhaustive enumeration", "adaptive enumeration"}
    segments = axes[1].containers[0].lines[2][0].get_segments()  # the error bar spans the Wilson interval
    assert np.allclose(segments[0], [[40, 10.0], [40, 50.0]])
    assert {t.get_text() for t in axes[1].texts} == {"b"}


def test_accuracy_names_a_run_missing_its_cost():
    run = _cls(evals=None, path="somewhere/run.json")
    with pytest.raises(DiveBenchError, match="somewhere/run.json has no timings.evaluations_per_item"):
        figures.accuracy_vs_evaluations([run])


def test_accuracy_vs_k_draws_one_line_per_method_and_needs_two_sizes():
    runs = [_cls(task=f"numbers-{k}", k=k, method=m, config=c, evals=e, model=f"m{k}")
            for k in (10, 100) for m, c, e in (("dive", DIVE, 200), ("enumerate", EXH, k * 10))]
    fig = figures.accuracy_vs_k(runs)
    cost = fig.axes[0]
    assert len(cost.lines) == 2 and cost.get_xscale() == "log"
    assert sorted(list(line.get_xdata()) for line in cost.lines) == [[10, 100], [10, 100]]
    with pytest.raises(DiveBenchError, match="at least two label-space sizes"):
        figures.accuracy_vs_k(runs[:2])


TRACES = [{"best_step": 20, "monitor": [[10, 2.0], [20, 1.0], [30, 1.0]]},
          {"best_step": 30, "monitor": [[10, 4.0], [20, 4.0], [30, 2.0]]},
          {"best_step": 30, "monitor": [[10, 1.0], [20, 0.5], [30, 0.25]]}, None]


def _gid(ax, gid):
    return next(a for a in ax.get_children() if a.get_gid() == gid)


def test_monitor_curves_median_band_and_best_step():
    run = _cls(items={"ids": [0, 1, 2, 3], "labels": [0] * 4, "predictions": [0] * 4}, traces=TRACES)
    fig = figures.monitor_curves(run)
    top, bottom = fig.axes
    median = _gid(top, "median")
    assert list(median.get_xdata()) == [10, 20, 30]
    assert np.allclose(median.get_ydata(), [1.0, 0.5, 0.5])  # relative to each image's first value
    assert list(_gid(top, "best-step").get_xdata()) == [30, 30]  # median of best steps 20, 30, 30
    shares = sorted((round(b.get_x() + b.get_width() / 2), round(b.get_height(), 1)) for b in bottom.patches)
    assert shares == [(20, 33.3), (30, 66.7)]
    assert "first" in top.get_ylabel()


def test_monitor_curves_is_none_without_traces():
    assert figures.monitor_curves(_cls()) is None
    assert figures.monitor_curves(_cls(method="enumerate", config=EXH, traces=[{"top": [1, 2]}, None])) is None


def test_per_class_recall_bars_real_beside_own_samples():
    real = _cls(model="m", items={"ids": [0, 1, 2, 3], "labels": [0, 0, 1, 2], "predictions": [0, 1, 1, 1]}, k=3)
    own = _cls(model="m", task="generated:x", method="enumerate", config=EXH, k=3,
               items={"ids": [0, 1, 2], "labels": [0, 1, 2], "predictions": [0, 0, 2]})
    fig = figures.per_class_recall([real], [own], ["cat", "dog", "cow"])
    (ax,) = fig.axes
    real_bars, own_bars = ax.containers
    assert [b.get_height() for b in real_bars] == [50.0, 100.0, 0.0]
    assert [b.get_height() for b in own_bars] == [100.0, 0.0, 100.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "cow"]
    assert ax.get_legend().get_texts()[1].get_text().startswith("own samples (enumerate)")


def _det(name, ap, ap50, ap75=-1.0):
    metrics = {"ap": {"value": ap, "ci_low": ap - 0.1, "ci_high": ap + 0.05}, "ap50": {"value": ap50},
               "ap75": {"value": ap75}}
    payload = run_json(model=name, task="canvas-det", method="dive", method_config=DIVE, n_items=1, metrics=metrics)
    return RunResult(payload, f"runs/{name}/run.json")


def test_detection_ap_bars_per_run_with_intervals():
    fig = figures.detection_ap([_det("one", 0.5, 0.9, 0.4), _det("two", 0.3, 0.8)])
    (ax,) = fig.axes
    widths = {c.get_label(): [round(b.get_width(), 6) for b in c] for c in ax.containers if hasattr(c, "patches")}
    assert widths == {"AP": [50.0, 30.0], "AP50": [90.0, 80.0], "AP75": [40.0]}  # COCO's -1 is not drawn
    assert [t.get_text() for t in ax.get_yticklabels()] == ["one", "two"]
    with pytest.raises(DiveBenchError, match="no metrics.ap"):
        figures.detection_ap([_cls(path="c/run.json")])


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_save_writes_the_same_bytes_for_the_same_runs(tmp_path, suffix):
    runs = [_cls(model="a"), _cls(model="b", acc=0.8, evals=1000)]
    a, b = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    figures.save(figures.accuracy_vs_evaluations(runs), a)
    figures.save(figures.accuracy_vs_evaluations(runs), b)
    assert a.read_bytes() == b.read_bytes()
    dated = {"png": b"Software", "svg": b"<dc:date>", "pdf": b"CreationDate"}[suffix]
    assert dated not in a.read_bytes()


def _write(tmp_path, name, run):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps(run.payload))
    return folder


def test_plot_accuracy_and_monitor_commands_write_figures(tmp_path):
    a = _write(tmp_path, "a", _cls(model="a"))
    b = _write(tmp_path, "b", _cls(model="b", items={"ids": [0, 1, 2, 3], "labels": [0] * 4, "predictions": [0] * 4},
                                   traces=TRACES))
    out = tmp_path / "figs" / "acc.png"
    assert main(["plot", "accuracy", str(a), f"{b}=B", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "monitor.svg"
    assert main(["plot", "monitor", str(b), "--out", str(svg)]) == 0
    assert svg.read_text().lstrip().startswith("<?xml")


def test_plot_refuses_a_bad_suffix_before_reading_runs(tmp_path, capsys):
    msg = cli_error(capsys, ["plot", "accuracy", str(tmp_path / "missing"), "--out", str(tmp_path / "fig.txt")])
    assert "'.txt' is not an image format" in msg and "fig.png" in msg
    assert not (tmp_path / "fig.txt").exists()


def test_plot_monitor_names_a_run_without_traces(tmp_path, capsys):
    a = _write(tmp_path, "plain", _cls())
    msg = cli_error(capsys, ["plot", "monitor", str(a), "--out", str(tmp_path / "m.png")])
    assert "plain/run.json: no traces stored" in msg
    assert not (tmp_path / "m.png").exists()


def test_plot_detection_refuses_classification_runs_only(tmp_path, capsys):
    a = _write(tmp_path, "cls", _cls())
    msg = cli_error(capsys, ["plot", "detection", str(a), "--out", str(tmp_path / "d.png")])
    assert "no detection runs among the 1 given (classification)" in msg
