"""The table and plot of a checkpoint sweep (``OUT/SWEEP.md``, ``OUT/sweep.png``), from run.json files only.

Why torch-free and separate from ``sweep``: the report must render from stored results alone (a
sweep copied off a GPU machine, or one whose checkpoints were deleted), and start fast. It reads
``OUT/score/*/run.json`` (and ``OUT/fidelity/*/run.json``), each carrying its training step in
``checkpoint.step``, and states where DIVE and the fidelity metric disagree: Kendall's tau-b of
each against the training step, and the intervals between consecutive checkpoints where one
improves while the other worsens (each read in its better direction).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from dive_bench.report.agreement import kendall_tau_b
from dive_bench.errors import DiveBenchError
from dive_bench.report.grouping import fidelity_key
from dive_bench.report.tables import Column, markdown_table
from dive_bench.spec.result import RunResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCORE_METRICS = ("accuracy", "ap")


def _runs(folder: Path) -> dict[int, RunResult]:
    """step -> run.json of the run folders under ``folder`` that record their step; two folders of
    one step are refused (keeping either would silently drop the other)."""
    runs: dict[int, RunResult] = {}
    for path in sorted(Path(folder).glob("*/run.json")):
        run = RunResult.load(path)
        step = run.checkpoint_step
        if step is None:
            continue
        if step in runs:
            raise DiveBenchError(f"{runs[step].path} and {path} both hold step {step}; a sweep has one run per "
                                 f"checkpoint: move one of the two folders out of {folder}")
        runs[step] = run
    return runs


def _same_protocol(runs: dict[int, RunResult], what: str) -> None:
    """One DiveBenchError naming the first checkpoint measured another way than the earliest: the page
    says every checkpoint was scored on the same images, probes and seed (or sampled and measured
    the same way), and a run of another task or item set would make that caption false."""
    if len(runs) < 2:
        return
    first_step, first = min(runs.items())
    for step, run in sorted(runs.items()):
        if what == "score":
            reason = run.protocol.differs_from(first.protocol)
            if reason is None and (run.seed, run.precision) != (first.seed, first.precision):
                reason = f"different seed or precision ({first.seed}, {first.precision} vs {run.seed}, {run.precision})"
        else:
            reason = None if fidelity_key(run) == fidelity_key(first) else "a different fidelity protocol (reference, " \
                "extractor, N or sampler)"
        if reason is not None:
            raise DiveBenchError(f"{run.path} (step {step}) was measured on {reason} than {first.path} (step "
                                 f"{first_step}); a sweep compares checkpoints on the same images and settings: "
                                 f"move the odd run folder out of its {what}/ folder, or rerun `dive-bench sweep`")


def sweep_rows(out: str | Path) -> list[dict]:
    """One row per step: the DIVE score with its interval, evaluations per image, the fidelity metric.
    Checkpoints measured under different protocols are refused (:func:`_same_protocol`)."""
    out = Path(out)
    if not out.is_dir():
        raise DiveBenchError(f"{out} is not a folder; pass the --out folder of `dive-bench sweep`")
    scores, fids = _runs(out / "score"), _runs(out / "fidelity")
    if not scores and not fids:
        raise DiveBenchError(f"no sweep runs under {out}: run `dive-bench sweep CKPT_DIR --task T --out {out}` first")
    _same_protocol(scores, "score")
    _same_protocol(fids, "fidelity")
    rows = []
    for step in sorted(set(scores) | set(fids)):
        row: dict = {"step": step}
        run = scores.get(step)
        if run is not None:
            name = next((k for k in SCORE_METRICS if k in run.metrics), None)
            m = run.metric(name) if name is not None else None
            if m is not None and math.isfinite(m["value"]):  # NaN: the checkpoint scored no item
                row.update(score_name=name, score=m["value"], ci_low=m.get("ci_low"), ci_high=m.get("ci_high"),
                           n=run.n_done, method=run.method)
            row["evaluations"] = run.evaluations_per_item
        fid = fids.get(step)
        if fid is not None:
            name = fid.primary_name or next(iter(fid.metrics), None)
            if name is not None:
                row.update(fd_name=name, fd=fid.value(name), fd_higher=fid.higher_is_better(name))
        rows.append(row)
    return rows


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def table(rows: list[dict]) -> str:
    """The Markdown table: step, DIVE score [95% CI], evaluations/image, FD (best values bolded)."""
    name = next((r["score_name"] for r in rows if "score_name" in r), "accuracy")
    fd_name = next((r["fd_name"] for r in rows if "fd_name" in r), None)
    fd_higher = next((r["fd_higher"] for r in rows if "fd_name" in r), False)
    cols = [Column("step"), Column(f"{name} (%)", "max"), Column("95% CI"), Column("evaluations / image")]
    if fd_name:
        cols.append(Column(fd_name, "max" if fd_higher else "min"))
    cells = []
    for r in rows:
        c = {"step": str(r["step"])}
        if "score" in r:
            c[cols[1].name] = (_pct(r["score"]), r["score"])
            if r.get("ci_low") is not None:
                c["95% CI"] = f"[{_pct(r['ci_low'])}, {_pct(r['ci_high'])}]"
        if r.get("evaluations") is not None:
            c["evaluations / image"] = f"{r['evaluations']:.0f}"
        if fd_name and "fd" in r:
            c[fd_name] = (f"{r['fd']:.2f}", r["fd"])
        cells.append(c)
    return markdown_table(cols, cells)


def disagreement(rows: list[dict]) -> str:
    """Where DIVE and the fidelity metric disagree, in words: tau-b of each against the step, and
    the intervals where one improves while the other worsens. Empty without both metrics."""
    both = [r for r in rows if "score" in r and "fd" in r]
    lines = []
    if len(both) >= 2:
        steps = [r["step"] for r in both]
        sign = 1.0 if both[0]["fd_higher"] else -1.0  # oriented: larger = better for both
        tau_s = float(kendall_tau_b(steps, [r["score"] for r in both]))
        tau_f = float(kendall_tau_b(steps, [sign * r["fd"] for r in both]))
        tau_sf = float(kendall_tau_b([r["score"] for r in both], [sign * r["fd"] for r in both]))
        fmt = lambda t: "n/a" if math.isnan(t) else f"{t:+.2f}"  # noqa: E731
        fd = both[0]["fd_name"]
        lines.append(f"Kendall's tau-b against the training step (+1: improves at every checkpoint; each metric in "
                     f"its better direction): DIVE {fmt(tau_s)}, {fd} {fmt(tau_f)}; DIVE vs {fd}: {fmt(tau_sf)}.")
        opposite = []
        for a, b in zip(both, both[1:]):
            ds, df = b["score"] - a["score"], sign * (b["fd"] - a["fd"])
            if ds * df < 0:
                who = "DIVE improves, " + fd + " worsens" if ds > 0 else fd + " improves, DIVE worsens"
                opposite.append(f"{a['step']}->{b['step']} ({who})")
        lines.append("They disagree between steps " + "; ".join(opposite) + "." if opposite else
                     "They never move in opposite directions between consecutive checkpoints.")
    return "\n\n".join(lines)


def markdown(rows: list[dict], title: str = "Checkpoint sweep") -> str:
    """SWEEP.md: the table, what the numbers are, and the disagreement statement."""
    method = next((row.get("method") for row in rows if row.get("method")), "dive")
    n = next((row.get("n") for row in rows if row.get("n")), None)
    text = (f"# {title}\n\nGenerated by `dive-bench sweep` from the run.json files of {len(rows)} checkpoints; do not "
            f"edit by hand. Score: {method} on the same {n or '?'} images, probes and seeds at every checkpoint "
            "(95% interval: the run's own); evaluations count a backward pass as two forwards.\n\n" + table(rows) + "\n")
    agree = disagreement(rows)
    return text + (f"\n## DIVE vs fidelity\n\n{agree}\n" if agree else "")


def figure(rows: list[dict]) -> "Figure":
    """The score with its interval band against the training step; the fidelity metric in a panel
    below, so a checkpoint where one improves while the other worsens is seen at a glance."""
    from matplotlib.ticker import MaxNLocator

    from dive_bench.report.plotting import new_figure

    scored = [r for r in rows if "score" in r]
    fids = [r for r in rows if "fd" in r]
    fig = new_figure(7, 6.4 if fids else 3.6)
    axes = fig.subplots(2 if fids else 1, 1, sharex=True, squeeze=False)
    ax = axes[0][0]
    if scored:
        steps = [r["step"] for r in scored]
        ax.plot(steps, [100 * r["score"] for r in scored], marker="o", color="C0", label=scored[0]["score_name"])
        if all(r.get("ci_low") is not None for r in scored):
            ax.fill_between(steps, [100 * r["ci_low"] for r in scored], [100 * r["ci_high"] for r in scored],
                            color="C0", alpha=0.2, label="95% interval")
        ax.set_ylabel(f"{scored[0]['score_name']} (%)")
        ax.legend(fontsize=8, frameon=False)
    method = next((row.get("method") for row in scored if row.get("method")), "dive")
    ax.set_title(f"Score ({'DIVE' if method == 'dive' else method}) against training step")
    if fids:
        ax_f = axes[1][0]
        ax_f.plot([r["step"] for r in fids], [r["fd"] for r in fids], marker="s", color="C3")
        ax_f.set_ylabel(fids[0]["fd_name"] + (" (higher is better)" if fids[0]["fd_higher"] else " (lower is better)"))
        ax_f.set_title("Fidelity against training step")
    for (a,) in axes:
        a.grid(True, alpha=0.3)
        a.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    axes[-1][0].set_xlabel("training step")
    fig.tight_layout()
    return fig


def plot(rows: list[dict], path: str | Path) -> None:
    """:func:`figure` as ``sweep.png``: 120 dpi and matplotlib's default metadata, as it always was,
    so a stored sweep page regenerates byte for byte."""
    figure(rows).savefig(path, dpi=120)


def write_report(out: str | Path, title: str = "Checkpoint sweep") -> tuple[Path, Path]:
    """Write OUT/SWEEP.md and OUT/sweep.png from the sweep's run.json files; returns their paths."""
    from dive_bench.report.output import check_output, write_output

    out = Path(out)
    rows = sweep_rows(out)
    md, png = out / "SWEEP.md", out / "sweep.png"
    for path in (md, png):  # both checked before either is written
        check_output(path, what="sweep page", flag="sweep output")
    # atomic: the last two workers of a sharded sweep may both write the page (the same one)
    write_output(md, lambda p: p.write_text(markdown(rows, title)), what="sweep page", flag="the sweep folder",
                 atomic=True)
    write_output(png, lambda p: plot(rows, p), what="sweep plot", flag="the sweep folder", atomic=True)
    return md, png
