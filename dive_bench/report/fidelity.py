"""Leaderboard tables for fidelity runs (called by ``dive_bench.report.leaderboard``).

One table per (reference set, extractor and its weights, N, metric options): Inception FID and
in-domain FD never share a column, and numbers at different N (FID is biased in N) or from
different weights never share a table (the key: ``report.grouping.fidelity_table_key``). Rows are
models x sampler configurations.
"""

from __future__ import annotations

import json
from collections import defaultdict

from dive_bench.report.grouping import fidelity_table_key
from dive_bench.report.tables import Column, best_of, markdown_table
from dive_bench.spec.result import RunResult, higher_is_better

#: the column order of metric families (each metric's direction: ``RunResult.higher_is_better``)
ORDER = ("fid", "fd", "is", "kid", "precision", "recall")


def _base(metric: str) -> str:
    return metric.split("_", 1)[0]


def _fmt(m: dict) -> str:
    v = m["value"]
    digits = 4 if abs(v) < 0.1 else 3 if abs(v) < 10 else 2
    text = f"{v:.{digits}f}"
    return text + (f" ± {m['std']:.{digits}f}" if "std" in m else "")


def _higher(runs: list[RunResult | dict], metric: str) -> bool:
    """The direction the runs' tasks declared (``metric_info``), else the default (older files)."""
    return higher_is_better([RunResult.of(r) for r in runs], metric)


def fidelity_table(key: tuple, runs: list[RunResult]) -> str:
    task, extractor, sha, n, _, ref_sha = key
    metrics = sorted({m for r in runs for m in r.metrics}, key=lambda m: (ORDER.index(_base(m)) if _base(m) in ORDER else 99, m))
    rows = []
    for r in sorted(runs, key=lambda r: (r.params, r.model, json.dumps(r.method_config, sort_keys=True))):
        cfg = r.method_config
        per = r.seconds_per_1000_samples
        row = {"Model": f"`{r.model}`",
               "Sampler": f"{cfg.get('sampler')} {cfg.get('steps')} steps, guidance {cfg.get('guidance_scale'):g}, seed {cfg.get('seed')}",
               **{m: (_fmt(r.metric(m)), r.value(m)) for m in metrics if m in r.metrics},
               "s / 1000 samples": f"{per:.1f}" if per else "-",
               "Device": r.device or "-"}
        rows.append(row)
    # a lone row is not "best" of anything: bold only when there is something to compare
    metric_columns = [Column(m, best_of(higher_is_better(runs, m)) if len(rows) > 1 else None) for m in metrics]
    columns = ["Model", "Sampler", *metric_columns, "s / 1000 samples", "Device"]
    ref_n = next((r.reference.get("n") for r in runs), None)
    caption = (f"**{task}** ({ref_n} reference images, content sha256 {ref_sha[:10]}), extractor `{extractor}` "
               f"(weights sha256 {str(sha)[:10]}), N = {n} samples per model. FID/FD and KID: lower is better; "
               "IS, precision and recall (k=3): higher; IS and KID as mean ± std over splits/subsets; best in bold.")
    return caption + "\n\n" + markdown_table(columns, rows)


def fidelity_sections(runs: list[RunResult], first_table: int) -> list[str]:
    """Markdown lines for all fidelity runs, tables numbered from ``first_table``."""
    groups: dict[tuple, list[RunResult]] = defaultdict(list)
    for r in runs:
        groups[fidelity_table_key(r)].append(r)
    parts: list[str] = []
    for n, key in enumerate(sorted(groups, key=lambda k: json.dumps(k, default=str)), first_table):
        parts += [f"## Table {n}: generative metrics, {key[0]}, {key[1]}", "", fidelity_table(key, groups[key]), ""]
    return parts
