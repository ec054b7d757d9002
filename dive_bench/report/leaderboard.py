"""Leaderboard Markdown from run.json files, in the spirit of the paper's Table VI (quality) and
Table IV (cost). Every table is drawn by ``tables.markdown_table`` (pandas + tabulate), the one
builder that bolds, pads and marks missing cells the same way in all dive_bench tables.

Runs are grouped by protocol -- task and version, item set, probes, seed -- and never mixed
across protocols; each group is one table whose caption states the protocol. Within a group,
each method configuration is a column, each model a row. Rows are ordered by parameter count,
then name, so a regenerated file diffs cleanly.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from dive_bench.spec.configs import PROBE_FIELDS, comparable_config, num_probes
from dive_bench.errors import DiveBenchError
from dive_bench.spec.result import RunResult, higher_is_better
from dive_bench.report.grouping import best_of_duplicates, protocol_key
from dive_bench.report.tables import Column, best_of, markdown_table

METHOD_NAMES = {"dive": "DIVE", "enumerate": "Diffusion Classifier"}
PROBE_KEYS = PROBE_FIELDS


def load_runs(paths: list[str | Path]) -> list[RunResult]:
    """run.json files, or folders searched recursively for them (sorted, deduplicated)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # every entry named run.json: rglob("run.json") silently skips a broken link or a link loop
            files.extend(sorted(f for f in p.rglob("*") if f.name == "run.json"))
        elif p.exists():
            files.append(p)
        else:
            raise DiveBenchError(f"{p} does not exist; pass run.json files or folders containing them")
    runs = []
    for f in sorted(set(files)):
        runs.append(RunResult.load(f))  # one line for a binary file, a JSON list, missing keys, wrong types
    if not runs:
        raise DiveBenchError(f"no run.json files under {', '.join(map(str, paths))}; pass the --out folders of "
                             "score or fidelity runs (or their run.json files)")
    return runs


def write_leaderboard(path: str | Path, text: str) -> None:
    """Write the leaderboard Markdown to ``path`` (``leaderboard --out``), or one DiveBenchError
    naming the path (a folder, /proc, a read-only or immutable place)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise DiveBenchError(f"cannot write the leaderboard to {path} ({exc.strerror or exc}); pass --out a file "
                             "path in a folder you can write to (or leave --out out to print it)") from exc


def _config_label(method: str, cfg: dict, varying: list[str]) -> str:
    name = METHOD_NAMES.get(method, method)
    if method == "enumerate" and cfg.get("stages"):
        name += " (adaptive)"
    extra = [f"{k}={'off' if cfg.get(k) is None else cfg.get(k)}" for k in varying
             if k in cfg and not (method == "enumerate" and k == "stages")]
    return f"{name} ({', '.join(extra)})" if extra else name


def _effective(cfg: dict) -> dict:
    """The config without settings that have no effect in it: which prior, and how many draws of
    its loss, do not matter when its weight is 0, and no optimiser setting matters at 0 steps
    (rows would otherwise differ by words that change nothing)."""
    prior_only = ("prior_structure", "prior_probes", "prior_in_monitor", "prior_repairs")
    if cfg.get("steps") == 0 and not (cfg.get("prior_repairs") or cfg.get("neighbour_repairs")):  # the start itself (e.g. the coarse seed)
        return {k: v for k, v in cfg.items() if k not in (*prior_only, "prior_weight", "snap", "neighbour_repairs")}
    if cfg.get("prior_weight") == 0:
        return {k: v for k, v in cfg.items() if k not in prior_only}
    if cfg.get("snap") is False:  # repairs act on snapped layouts only
        return {k: v for k, v in cfg.items() if k not in ("prior_repairs", "neighbour_repairs")}
    return cfg


def _method_columns(runs: list[RunResult]) -> dict[int, str]:
    """Column label per run: the method name, plus the config keys that differ within the method.

    Precision counts as such a key (``precision=bf16``) for methods whose config does not already
    hold a dtype: a bf16 row and an fp32 row of one method are different measurements."""
    by_method: dict[str, list[RunResult]] = defaultdict(list)
    for r in runs:
        by_method[r.method].append(r)
    labels = {}
    for method, rs in by_method.items():
        configs = [_effective({k: v for k, v in comparable_config(method, r.method_config).items()
                               if k not in PROBE_KEYS}) for r in rs]
        configs = [c if "dtype" in c else {**c, "precision": r.precision} for c, r in zip(configs, rs)]
        keys = sorted({k for c in configs for k in c})
        varying = [k for k in keys if len({json.dumps(c[k]) for c in configs if k in c}) > 1]
        for r, c in zip(rs, configs):
            labels[id(r)] = _config_label(method, c, varying)
    return labels


def _primary(run: RunResult) -> tuple[str, dict] | None:
    """(name, metric) of the run's headline metric, as its task declared it in ``metric_info``."""
    return run.primary


def _measured(m: dict) -> bool:
    """Whether the metric holds a number (NaN: the run scored no item; run.json refuses other junk)."""
    value = m.get("value")
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fmt(m: dict) -> str:
    if not _measured(m):
        return "- (no item scored)"
    if m.get("ci_low") is not None and m.get("ci_high") is not None:
        return f"{100 * m['value']:.1f} [{100 * m['ci_low']:.1f}, {100 * m['ci_high']:.1f}]"
    return f"{100 * m['value']:.1f}"


def _caption(key: tuple, runs: list[RunResult]) -> str:
    task, version, items, n, (interval, seed_noise, loss, weighting), seed = key
    weight = "" if weighting in (None, "none") else f", {weighting}-weighted"
    probes = (f"{num_probes(interval)} probes (timestep interval {interval}, noise seed {seed_noise}, "
              f"{loss} error{weight})" if interval else "no probes")
    metric = next((p[0] for p in map(_primary, runs) if p), "accuracy")
    what = ("Accuracy in % with Wilson 95% intervals" if metric == "accuracy"
            else "COCO AP in % with bootstrap 95% intervals over images")
    return f"**{task}** (v{version}), {n} images (item set {items[:10]}), {probes}, seed {seed}. {what}; best per column in bold."


def quality_table(key: tuple, runs: list[RunResult]) -> str:
    labels = _method_columns(runs)
    columns = sorted(set(labels.values()), key=lambda c: (not c.startswith("DIVE"), c))
    metric = next((p[0] for p in map(_primary, runs) if p), "accuracy")
    best = best_of(higher_is_better(runs, metric))
    rows = []
    for params, model in sorted({(r.params, r.model) for r in runs}):
        row = {"Model": f"`{model}`", "#Params": f"{params / 1e6:.2f}M" if params else "-"}
        for r in runs:
            primary = _primary(r)
            if r.model == model and primary:
                partial = "" if r.complete else " (partial)"
                row[labels[id(r)]] = (_fmt(primary[1]) + partial,
                                      primary[1]["value"] if _measured(primary[1]) else None)
        rows.append(row)
    table = markdown_table(["Model", "#Params", *(Column(c, best) for c in columns)], rows)
    return _caption(key, runs) + "\n\n" + table


#: COCO columns of a detection table (the paper's Tables II and III); -1 from pycocotools means
#: "no ground-truth object of that size" and shows as "-"
DETECTION_COLUMNS = {"ap": "AP", "ap50": "AP50", "ap75": "AP75", "aps": "APs", "apm": "APm", "apl": "APl"}


def detection_table(key: tuple, runs: list[RunResult]) -> str:
    """One row per (model, method config), one column per COCO metric: an ablation reads across a
    row, which a method-per-column table of AP alone cannot show."""
    labels = _method_columns(runs)
    ordered = sorted(runs, key=lambda r: (r.params, r.model, not labels[id(r)].startswith("DIVE"), labels[id(r)]))
    rows = []
    for r in ordered:
        row = {"Model": f"`{r.model}`", "Method": labels[id(r)] + ("" if r.complete else " (partial)")}
        for metric, name in DETECTION_COLUMNS.items():
            m = r.metric(metric)
            if m is not None and m.get("value") is not None and m["value"] >= 0:  # else "-"
                row[name] = (_fmt(m), m["value"])
        rows.append(row)
    columns = ["Model", "Method", *(Column(name, "max") for name in DETECTION_COLUMNS.values())]
    return _caption(key, runs) + "\n\n" + markdown_table(columns, rows)


def seconds_text(run: RunResult) -> str:
    """Seconds per image, plus the seconds of work read from a cache (layout seeds), or "-"."""
    if not run.seconds_per_item:
        return "-"
    out = f"{run.seconds_per_item:.2f}"
    if run.cached_seconds_per_item:  # work reused from a cache still costs its first run
        out += f" + {run.cached_seconds_per_item:.1f} cached"
    return out


SPEED_COLUMNS = ("Model", "Method", "Evaluations / image", "Seconds / image", "Device", "Score (%)")


def speed_table(key: tuple, runs: list[RunResult]) -> str:
    labels = _method_columns(runs)
    rows = []
    for r in sorted(runs, key=lambda r: (r.params, r.model, labels[id(r)])):
        primary = _primary(r)
        rows.append({"Model": f"`{r.model}`", "Method": labels[id(r)],
                     "Evaluations / image": f"{r.evaluations_per_item or 0:,.0f}",
                     "Seconds / image": seconds_text(r), "Device": r.device or "-",
                     "Score (%)": f"{primary[0]} {100 * primary[1]['value']:.1f}"
                     if primary and _measured(primary[1]) else "-"})
    return markdown_table(SPEED_COLUMNS, rows)


def leaderboard_markdown(runs: list[RunResult | dict], title: str = "dive_bench leaderboard", sources: list[str] | None = None,
                         lead: list[str] | None = None, shown_in_lead: Callable[[RunResult], bool] | None = None) -> str:
    """The per-protocol tables; ``lead``: Markdown lines placed first, after the header (the model
    comparison, ``report.leaderboard_page``); runs for which ``shown_in_lead`` is true get no
    protocol table (they are counted in the header all the same)."""
    runs = best_of_duplicates(runs)
    groups: dict[tuple, list[RunResult]] = defaultdict(list)
    fidelity = [r for r in runs if r.kind == "fidelity"]  # FID/IS/...: own tables (report/fidelity.py)
    for r in runs:
        if r.kind != "fidelity" and not (shown_in_lead and shown_in_lead(r)):
            groups[protocol_key(r)].append(r)
    parts = [f"# {title}", "",
             f"Generated by `dive-bench leaderboard` from {len(runs)} run.json files"
             + (f" ({', '.join(sources)})" if sources else "") + "; do not edit by hand.", ""]
    parts += lead or []
    for n, key in enumerate(sorted(groups, key=lambda k: json.dumps(k, default=str)), 1):
        rs = groups[key]
        is_detection = any((_primary(r) or ("",))[0] == "ap" for r in rs)
        table = detection_table(key, rs) if is_detection else quality_table(key, rs)
        parts += [f"## Table {n}: {key[0]}", "", table, "",
                  "Cost per image (the paper's Table IV), same protocol:", "", speed_table(key, rs), ""]
    if fidelity:
        from dive_bench.report.fidelity import fidelity_sections

        parts += fidelity_sections(fidelity, len(groups) + 1)
    return "\n".join(parts)
