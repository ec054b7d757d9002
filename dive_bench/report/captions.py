"""The words around a model-comparison table: its heading and its caption.

Why apart from the table: a caption states the protocol a reader needs to trust the numbers --
task, images, probes, seed, precision, method, and the fidelity protocol (reference, N, sampler,
extractor) -- and a heading names what sets a table apart from the others of its task. Both are
read from the table's runs alone, and change for reasons (wording) the rows never do.
"""

from __future__ import annotations

import json

from dive_bench.report.comparison_table import ComparisonTable, score_metric, score_metric_of
from dive_bench.report.cost_vs_k import row_name
from dive_bench.spec.configs import num_probes
from dive_bench.spec.runspec import generated_task_parts


def table_caption(table: ComparisonTable) -> str:
    """The table's protocols in words: task, images, probes, seed, precision, method; then the fidelity protocol."""
    run = next(iter(table.score.values()))
    p = run.protocol
    interval, noise, loss, weighting = p.probes
    weight = "" if weighting in (None, "none") else f", {weighting}-weighted"
    probes = (f"{num_probes(interval)} probes (timestep interval {interval}, noise seed {noise}, {loss} "
              f"error{weight})" if interval else "no probes")
    what = ("Accuracy in % with Wilson 95% intervals" if score_metric(table)[0] == "accuracy"
            else "COCO AP in % with bootstrap 95% intervals over images")
    return (f"**{p.task}** (v{p.task_version}), {run.n_items} images (item set {p.items_sha256[:10]}), "
            f"{probes}, seed {run.seed}, {run.precision}: {row_name(run)}. {what}. {_fidelity_caption(table)}"
            + _consistency_caption(table))


def _fidelity_caption(table: ComparisonTable) -> str:
    fid = next(iter(table.fidelity.values()), None)
    if fid is None:
        return "No fidelity run of these models under one protocol was given."
    cfg, ref = fid.method_config, fid.reference
    replicates = any(f.bootstrap(m) is not None for f in table.fidelity.values() for m in f.metrics)
    return (f"Fidelity: N = {fid.n_items} samples per model ({cfg.get('sampler')}, {cfg.get('steps')} steps, "
            f"guidance {cfg.get('guidance_scale', 1.0):g}, {cfg.get('dtype')}) against {ref.get('n', '?')} images of "
            f"{fid.task} (sha256 {fid.protocol.items_sha256[:10]}), extractor "
            f"`{fid.feature_extractor}` (weights sha256 {str(cfg.get('extractor_weights_sha256'))[:10]}); IS "
            "and KID as mean ± std over splits/subsets"
            + ("; [...] after a fidelity value: 95% bootstrap interval over its generated samples (reference fixed)."
               if replicates else "."))


def _consistency_caption(table: ComparisonTable) -> str:
    if not table.consistency:
        return ""
    parts = []
    for label, runs in table.consistency.items():
        r = next(iter(runs.values()))
        digest = generated_task_parts(r.task)[1]
        if score_metric_of(r) == "accuracy":
            drawn, metric = "class i mod K for sample i", "accuracy with Wilson 95% intervals"
        else:  # a layout model's samples: the ground truth is the layout each was drawn from
            drawn = "sample i drawn from the layout of the fidelity reference's image i"
            metric = "COCO AP against those layouts with bootstrap 95% intervals over samples"
        parts.append(f"{label}: each model scored on the first {r.n_items} of its own samples, {drawn} "
                     f"(task `generated:`, sample configuration {digest[:10]}), seed {r.seed}, "
                     f"{r.precision}; {metric}")
    return " " + "; ".join(parts) + "."


def _settings(table: ComparisonTable) -> dict:
    run = next(iter(table.score.values()))
    return {**run.protocol.config, "images": run.n_items, "seed": run.seed, "precision": run.precision}


def table_titles(tables: list[ComparisonTable]) -> list[str]:
    """A heading per table: task and score method, the settings that set it apart from the other
    tables of its task (as the leaderboard labels its columns), and the fidelity protocol."""
    settings = [_settings(t) for t in tables]
    tasks = [next(iter(t.score.values())).task for t in tables]
    titles = []
    for table, mine, task in zip(tables, settings, tasks):
        others = [s for s, t in zip(settings, tasks) if t == task]
        varying = [k for k in sorted(mine) if len({json.dumps(s.get(k), default=str) for s in others}) > 1]
        shown = ", ".join(f"{k}={mine.get(k) if isinstance(mine.get(k), str) else json.dumps(mine.get(k))}"
                          for k in varying)
        fid = next(iter(table.fidelity.values()), None)
        tail = (f" vs {fid.task}, {fid.feature_extractor}, N={fid.n_items}"
                if fid else "")
        titles.append(f"{task}, {table.score_label}" + (f" ({shown})" if shown else "") + tail)
    return titles
