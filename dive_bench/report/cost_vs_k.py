"""Large label spaces from run.json files: the paper's Table IV and cost against the number of classes.

``dive-bench plot cost RUN...`` reads classification runs of one model family over label spaces of
several sizes K (e.g. numbers-10/100/1000) and writes

- Table IV at the largest K: accuracy with its 95% interval, evaluations and seconds per image,
  and the exact two-sided McNemar test of each row against exhaustive enumeration on the same
  images (paired by item id: run.json keeps every prediction);
- cost vs K: accuracy and evaluations per image of every method at every K, and where DIVE
  becomes cheaper than exhaustive and than adaptive enumeration (interpolated in log-log between
  the measured K);
- a plot of both (:func:`figure`; matplotlib is imported only inside it).

A row's name is its method and the settings that set it apart (``PATH=NAME`` on the command line
overrides it). Runs are matched across K by that name. Both tables are drawn by
``tables.markdown_table``, like the leaderboard's. This module imports no torch.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

from dive_bench.spec.configs import canonical
from dive_bench.errors import DiveBenchError
from dive_bench.metrics.stats import mcnemar_exact, wilson_interval
from dive_bench.report.tables import markdown_table
from dive_bench.spec.result import RunResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EXHAUSTIVE = "Exhaustive enumeration"


def row_name(run: RunResult | dict) -> str:
    """A run's default row name: exhaustive / adaptive enumeration (its stages) or DIVE (budget)."""
    run = RunResult.of(run)
    cfg = canonical(run.method, run.method_config)
    prefix = "auto: " if run.method_choice else ""
    if run.method == "enumerate":
        stages = cfg.get("stages")
        if not stages:
            return prefix + EXHAUSTIVE
        return prefix + "Adaptive enumeration (" + ",".join(f"{p}:{k}" for p, k in stages) + ")"
    parts = [f"{cfg.get('steps')} steps x {cfg.get('probes_per_step')} probes", f"monitor /{cfg.get('monitor_every')}"]
    if cfg.get("lr") is not None:
        parts.append(f"lr {cfg['lr']:g}")
    if cfg.get("patience") is not None:
        parts.append(f"patience {cfg['patience']}")
    if cfg.get("verify"):
        parts.append(f"verify {cfg['verify']}")
    if cfg.get("init", "gaussian") != "gaussian":
        parts.append(f"init {cfg['init']}")
    return prefix + "DIVE (" + ", ".join(parts) + ")"


def num_classes(run: RunResult) -> int:
    """K of the run's label space (recorded, or inferred from model_info for older files)."""
    k = run.label_space.num_classes
    if not k:
        raise DiveBenchError(f"{run.path or 'a run'} has no model_info.num_classes: cost vs K needs "
                             "classification runs")
    return int(k)


def _correct(run: RunResult) -> dict:
    return {i: p == y for i, (p, y) in run.outcomes().items()}


def _row(run: RunResult, name: str, reference: RunResult | None) -> dict:
    correct = _correct(run)
    n, right = len(correct), sum(correct.values())
    if not n:
        raise DiveBenchError(f"{run.path or 'a run'} holds no per-item predictions (items): rerun "
                             "`dive-bench merge DIR` with this version, or leave the run out")
    low, high = wilson_interval(right, n)
    row = {"name": name, "k": num_classes(run), "task": run.task, "n": n, "accuracy": right / n,
           "ci": (low, high), "evaluations": run.evaluations_per_item, "seconds": run.seconds_per_item,
           "choice": run.method_choice}
    if reference is not None and reference is not run:
        ref = _correct(reference)
        shared = sorted(set(ref) & set(correct))
        only_ref = sum(ref[i] and not correct[i] for i in shared)
        only_row = sum(correct[i] and not ref[i] for i in shared)
        row["mcnemar"] = {"n": len(shared), "only_exhaustive": only_ref, "only_this": only_row,
                          "p": mcnemar_exact(only_ref, only_row)}
    return row


def rows(runs: list[RunResult | dict], names: dict[str, str] | None = None) -> list[dict]:
    """One row per run, with McNemar against the exhaustive run of the same task."""
    names = names or {}
    runs = [RunResult.of(r) for r in runs]
    tasks: dict[int, str] = {}
    for r in runs:
        other = tasks.setdefault(num_classes(r), r.task)
        if other != r.task:
            raise DiveBenchError(f"runs of tasks {other!r} and {r.task!r} both have K = {num_classes(r)}: "
                                 "a cost-vs-K figure compares one task per label-space size; pass runs of one of them")
    named = [(names.get(r.path or "") or row_name(r), r) for r in runs]
    exhaustive = {r.task: r for n, r in named if n == EXHAUSTIVE}
    return [_row(r, n, exhaustive.get(r.task)) for n, r in named]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _count(v: float | None) -> str | None:
    """Evaluations per image with thousands separators; None (a "-" cell) when the run has none."""
    return None if v is None else f"{v:,.0f}"


def table_iv(all_rows: list[dict]) -> str:
    """Markdown Table IV for the largest K among ``all_rows``."""
    k = max(r["k"] for r in all_rows)
    sel = sorted((r for r in all_rows if r["k"] == k), key=lambda r: -(r["evaluations"] or 0))
    ref = next((r for r in sel if r["name"] == EXHAUSTIVE), None)
    method = f"Method (K = {k})"
    columns = [method, "Top-1 (%) [95% CI]", "Evaluations / image", "x fewer than exhaustive", "Seconds / image",
               "McNemar vs exhaustive"]
    table = []
    for r in sel:
        m = r.get("mcnemar")
        table.append({
            method: r["name"],
            "Top-1 (%) [95% CI]": f"{_pct(r['accuracy'])} [{_pct(r['ci'][0])}, {_pct(r['ci'][1])}] (n={r['n']})",
            "Evaluations / image": _count(r["evaluations"]),
            "x fewer than exhaustive": f"{ref['evaluations'] / r['evaluations']:.1f}" if ref and r["evaluations"] else "-",
            "Seconds / image": None if r["seconds"] is None else f"{r['seconds']:.2f}",
            "McNemar vs exhaustive": "-" if m is None else
            f"{m['only_exhaustive']} vs {m['only_this']} discordant, p = {m['p']:.2g}"})
    return markdown_table(columns, table)


def cost_vs_k(all_rows: list[dict]) -> str:
    """Markdown: accuracy and evaluations per image of each method at each K, then crossovers.

    Each K has two columns, "K = k: top-1 (%)" and "K = k: evals"; a method not run at a K shows "-"."""
    ks = sorted({r["k"] for r in all_rows})
    by_name: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in all_rows:
        by_name[r["name"]][r["k"]] = r
    columns = ["Method", *(f"K = {k}: {what}" for k in ks for what in ("top-1 (%)", "evals"))]
    table = []
    for name, per_k in sorted(by_name.items()):
        row = {"Method": name}
        for k, r in per_k.items():
            row[f"K = {k}: top-1 (%)"] = _pct(r["accuracy"])
            row[f"K = {k}: evals"] = _count(r["evaluations"])
        table.append(row)
    lines = crossovers(by_name) + choice_notes(all_rows)
    return "\n".join([markdown_table(columns, table)] + ([""] + lines if lines else []))


def choice_notes(all_rows: list[dict]) -> list[str]:
    """What each ``--method auto`` run chose and what choosing cost: its accuracy guard's
    evaluations are spent once per run, so the table's per-image cost leaves them out; here they
    are, and per image of the run."""
    lines = []
    for r in sorted((r for r in all_rows if r.get("choice")), key=lambda r: r["k"]):
        guard = r["choice"].get("guard") or {}
        spent = guard.get("evaluations") or 0
        cost = (f"its accuracy guard spent {spent:,} evaluations once ({spent / r['n']:,.0f} per image of these "
                f"{r['n']}; {guard.get('decision', '')})" if spent else "no guard ran (" +
                (guard.get("reason") or "none recorded").rstrip(".").replace("Not run: ", "") + ")")
        lines.append(f"- {r['name']} at K = {r['k']} ran {r['choice'].get('chosen')}; {cost}.")
    return lines


def _log_cross(a: dict[int, float], b: dict[int, float]) -> float | None:
    """The K where cost curve ``a`` falls below ``b`` (log-log interpolation between measured K)."""
    ks = sorted(set(a) & set(b))
    for k0, k1 in zip(ks, ks[1:]):
        d0, d1 = math.log(a[k0] / b[k0]), math.log(a[k1] / b[k1])
        if d0 >= 0 > d1:
            f = d0 / (d0 - d1)
            return math.exp(math.log(k0) + f * (math.log(k1) - math.log(k0)))
    return None


def crossovers(by_name: dict[str, dict[int, dict]]) -> list[str]:
    """Sentences: from which K each DIVE row is cheaper than exhaustive / adaptive enumeration."""
    cost = {n: {k: r["evaluations"] for k, r in per.items() if r["evaluations"]} for n, per in by_name.items()}
    exhaustive = cost.get(EXHAUSTIVE, {})
    adaptive = next((c for n, c in cost.items() if n.startswith("Adaptive")), {})
    lines = []
    for name, c in sorted(cost.items()):
        if "DIVE" not in name or name.startswith("auto"):
            continue
        for other, label in ((exhaustive, "exhaustive"), (adaptive, "adaptive enumeration")):
            if not other:
                continue
            k = _log_cross(c, other)
            ks = sorted(set(c) & set(other))
            if k is not None:
                lines.append(f"- {name} is cheaper than {label} from K ~ {k:.0f} on (log-log interpolation "
                             "between the measured K).")
            elif len(ks) == 1:
                word = "cheaper" if c[ks[0]] < other[ks[0]] else "dearer"
                lines.append(f"- {name} is {word} than {label} at K = {ks[0]}, the only K where both were measured.")
            elif ks and all(c[x] < other[x] for x in ks):
                lines.append(f"- {name} is cheaper than {label} at every measured K.")
            elif ks:
                lines.append(f"- {name} is dearer than {label} at every measured K (up to {max(ks)}).")
    return lines


def figure(all_rows: list[dict]) -> "Figure":
    """Two panels against K (log): evaluations per image (log) and top-1 with its interval; one
    line per row name, so a method's cost and accuracy can be read across label-space sizes."""
    from dive_bench.report.plotting import new_figure

    by_name: dict[str, list[dict]] = defaultdict(list)
    for r in all_rows:
        by_name[r["name"]].append(r)
    fig = new_figure(12, 4.6)
    ax_cost, ax_acc = fig.subplots(1, 2)
    for j, (name, rs) in enumerate(sorted(by_name.items())):
        rs = sorted(rs, key=lambda r: r["k"])
        ks = [r["k"] for r in rs]
        ax_cost.plot(ks, [r["evaluations"] for r in rs], marker="o", label=name)
        acc = [100 * r["accuracy"] for r in rs]
        err = [[100 * (r["accuracy"] - r["ci"][0]) for r in rs], [100 * (r["ci"][1] - r["accuracy"]) for r in rs]]
        shift = 1.06 ** (j - (len(by_name) - 1) / 2)  # side by side, so overlapping intervals stay readable
        ax_acc.errorbar([k * shift for k in ks], acc, yerr=err, marker="o", capsize=3, label=name)
    for ax in (ax_cost, ax_acc):
        ax.set_xscale("log")
        ax.set_xlabel("classes K")
        ax.grid(True, which="both", alpha=0.3)
    ax_cost.set_yscale("log")
    ax_cost.set_ylabel("evaluations / image (backward = 2)")
    ax_cost.set_title("Cost per image")
    ax_acc.set_ylabel("top-1 (%), Wilson 95% interval")
    ax_acc.set_title("Accuracy")
    ax_acc.set_ylim(0, 100)
    handles, labels = ax_cost.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.02 + 0.042 * math.ceil(len(labels) / 2), 1, 1))
    return fig


def plot(all_rows: list[dict], path: str | Path) -> None:
    """:func:`figure` as a file (``plot cost --png``): saved at 120 dpi with matplotlib's default
    metadata, as leaderboards/numbers-cost.png always was, so the stored PNG regenerates unchanged."""
    figure(all_rows).savefig(path, dpi=120)


def parse_run_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """``PATH`` or ``PATH=NAME`` -> (paths, {run.json path: name})."""
    paths, names = [], {}
    for a in args:
        path, _, name = a.partition("=")
        p = Path(path)
        paths.append(path)
        if name:
            names[str(p / "run.json" if p.is_dir() else p)] = name
    return paths, names
