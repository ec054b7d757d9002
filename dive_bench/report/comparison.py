"""The paper's Table VI from run.json files: one row per model, its generative metrics beside its DIVE score.

``dive-bench compare RUN...`` (:func:`compare_files`) reads run.json files only -- never weights, a
model or a task's code -- and writes one table per protocol pairing: #Params, FD/FID (with its
extractor and N), IS, KID, precision, recall, the DIVE score with its 95% interval, the enumeration
score where there is one, and DIVE's cost per image; below each table, how well DIVE orders the
models as each fidelity metric does, and each pair of models' paired test (``agreement``).

Which runs share a table (rows of different protocols never do):

- a DIVE run's *score protocol* is ``spec.Protocol`` (task and version, item set, method and its
  result-changing config, probes included) with its seed and precision;
- enumeration runs with the same task, version, item set and probes add a column per enumeration
  config; enumeration runs of a task no DIVE run scored make tables of their own;
- a fidelity run's *fidelity protocol* is its reference set (with content hash) and its method
  config less the sampling seed: extractor and its weights, N, sampler, steps, guidance, precision
  and metric options. Inception FID and an in-domain FD are two protocols, so they never share a
  column, and neither do numbers at two N;
- a table pairs one score protocol with one fidelity protocol that has a model in common with it:
  one table per such pair; a score protocol with no partner stands alone, and a fidelity protocol
  with none is named in a note.

Class-conditional models (classification, accuracy) and layout-conditional models (detection,
COCO AP) get separate sections, as in the paper; a table that would hold both is refused. A model is
its checkpoint (``model_info.sha256``); a model with two runs of one protocol shows the complete
one with most items (a note names the other). Every table goes through ``tables.markdown_table``.
This module imports no torch.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dive_bench.report.agreement import agreement_section, pairwise_section, percentile_interval
from dive_bench.spec.configs import num_probes
from dive_bench.errors import DiveBenchError
from dive_bench.report.fidelity import DIRECTION as FIDELITY_DIRECTION, ORDER as FIDELITY_ORDER
from dive_bench.report.per_class import ClassRecall, class_recall, per_class_rows
from dive_bench.report.grouping import (best_of_duplicates, fidelity_key, is_self_consistency, model_id, model_kind,
                                        precision_of, probes_key, score_key, self_consistency_key)
from dive_bench.report.leaderboard import _seconds as seconds_text, leaderboard_markdown, load_runs
from dive_bench.report.cost_vs_k import row_name
from dive_bench.spec.runspec import Protocol, RunResult, generated_task_parts
from dive_bench.report.tables import Column, best_of, markdown_table

SCORE_METHODS = ("dive", "enumerate")
SECTIONS = {"class": "Class-conditional models", "layout": "Layout-conditional models"}
SCORE_NAMES = {"accuracy": "top-1 (%)", "ap": "AP (%)"}


def _rank(run: dict) -> tuple:
    return (run.get("status") == "complete", run.get("n_done") or 0, run.get("created") or "", run.get("_path", ""))


def _one_per_model(runs: list[dict], notes: list[str]) -> dict[str, dict]:
    """model id -> its best run (complete, most items, newest); a note names each run left out."""
    chosen: dict[str, dict] = {}
    for r in sorted(runs, key=_rank, reverse=True):
        kept = chosen.setdefault(model_id(r), r)
        if kept is not r:
            notes.append(f"`{r['model']}` has two runs of this protocol: the table shows {kept.get('_path', '?')} "
                         f"and leaves out {r.get('_path', '?')}.")
    return chosen


@dataclass
class ComparisonTable:
    """One table: a score protocol's runs (DIVE, or enumeration alone), its enumeration columns and
    one fidelity protocol's runs, each keyed by model id."""

    kind: str
    score: dict[str, dict]
    extra: dict[str, dict[str, dict]] = field(default_factory=dict)
    fidelity: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: self-consistency columns: label -> model id -> run (the model scored on its own samples)
    consistency: dict[str, dict[str, dict]] = field(default_factory=dict)

    def runs(self) -> list[dict]:
        """The runs whose models are rows (self-consistency runs add columns, never rows)."""
        return [*self.score.values(), *(r for col in self.extra.values() for r in col.values()),
                *self.fidelity.values()]

    def models(self) -> list[str]:
        """Model ids in row order: parameter count, then name (a regenerated file diffs cleanly)."""
        first: dict[str, dict] = {}
        for r in self.runs():
            first.setdefault(model_id(r), r)
        return sorted(first, key=lambda m: (int((first[m].get("model_info") or {}).get("params") or 0),
                                            first[m]["model"], m))

    def run_of(self, mid: str) -> dict:
        """A run of the model, for its name and parameter count: the score run first."""
        return self.score.get(mid) or self.fidelity.get(mid) or next(c[mid] for c in self.extra.values() if mid in c)

    def name(self, mid: str) -> str:
        return f"`{self.run_of(mid)['model']}`"

    @property
    def score_label(self) -> str:
        """The score column's short name: DIVE, or the enumeration config of a table without DIVE."""
        run = next(iter(self.score.values()))
        return "DIVE" if run["method"] == "dive" else row_name(run)


def _check_one_kind(table: ComparisonTable) -> ComparisonTable:
    kinds: dict[str, set[str]] = defaultdict(set)
    for r in table.runs():
        kinds[model_kind(r)].add(r["model"])
    if len(kinds) > 1:
        task = next(iter(table.score.values()))["task"]
        raise DiveBenchError(f"one comparison table ({task}) would hold class-conditional model(s) "
                             f"{', '.join(sorted(kinds['class']))} and layout-conditional model(s) "
                             f"{', '.join(sorted(kinds['layout']))}; the paper's Table VI keeps them apart: pass "
                             "their run.json files to separate `dive-bench compare` calls")
    return table


def build_tables(runs: list[dict]) -> tuple[list[ComparisonTable], list[str]]:
    """Group runs into tables (see the module docstring); notes for the runs no table shows."""
    runs = best_of_duplicates(runs)
    notes = [f"{r.get('_path', r['model'])}: method {r.get('method')!r} is neither a score nor a fidelity run; "
             "left out." for r in runs if r.get("method") not in (*SCORE_METHODS, "fidelity")]
    generated = [r for r in runs if r.get("method") in SCORE_METHODS and generated_task_parts(r.get("task", ""))]
    notes += [f"{r.get('_path', r['model'])}: `{r['model']}` scored on another model's samples ({r['task']}); only "
              "self-consistency (a model on its own samples) has a column; left out."
              for r in generated if not is_self_consistency(r)]
    by_consistency: dict[str, list[dict]] = defaultdict(list)
    for r in generated:
        if is_self_consistency(r):
            by_consistency[self_consistency_key(r)].append(r)
    score = [r for r in runs if r.get("method") in SCORE_METHODS and not generated_task_parts(r.get("task", ""))]
    if not score:
        raise DiveBenchError("no DIVE or enumeration run.json among the given files: a comparison table needs a "
                             "discriminative score per model (fidelity runs alone: `dive-bench leaderboard`)")
    by_score: dict[str, list[dict]] = defaultdict(list)
    for r in score:
        by_score[score_key(r)].append(r)
    dive_probes = {probes_key(r) for r in score if r["method"] == "dive"}
    columns: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    primaries = []
    for key in sorted(by_score):
        rs = by_score[key]
        if rs[0]["method"] == "enumerate" and probes_key(rs[0]) in dive_probes:
            columns[probes_key(rs[0])][row_name(rs[0])].extend(rs)
        else:
            primaries.append(rs)
    by_fidelity: dict[str, list[dict]] = defaultdict(list)
    for r in runs:
        if r.get("method") == "fidelity":
            by_fidelity[fidelity_key(r)].append(r)
    tables, paired = [], set()
    for rs in primaries:
        table_notes: list[str] = []
        main = _one_per_model(rs, table_notes)
        extra = ({label: _one_per_model(e, table_notes) for label, e in sorted(columns[probes_key(rs[0])].items())}
                 if rs[0]["method"] == "dive" else {})
        partners = [k for k in sorted(by_fidelity) if {model_id(f) for f in by_fidelity[k]} & set(main)]
        for key in partners or [None]:
            paired.add(key)
            fidelity = _one_per_model(by_fidelity[key], table_notes) if key else {}
            table = ComparisonTable(model_kind(rs[0]), main, extra, fidelity, list(table_notes))
            rows = set(main) | set(fidelity)
            groups = [cs for _, cs in sorted(by_consistency.items()) if {model_id(r) for r in cs} & rows]
            plain = [_consistency_label(cs) for cs in groups]
            # two sample configurations under one label would overwrite a column: name each one's
            labels = [label[:-1] + f", samples {generated_task_parts(cs[0]['task'])[1][:8]})"
                      if plain.count(label) > 1 else label for label, cs in zip(plain, groups)]
            table.consistency = {label: _one_per_model(cs, table.notes) for label, cs in zip(labels, groups)}
            tables.append(_check_one_kind(table))
    for key in sorted(set(by_fidelity) - paired):
        fs = by_fidelity[key]
        models = ", ".join(sorted(f"`{f['model']}`" for f in fs))
        notes.append(f"fidelity runs of {models} ({fs[0]['task']}, "
                     f"{fs[0]['method_config'].get('feature_extractor')}) share no model with any DIVE or enumeration "
                     "run given: no table shows them.")
    return tables, notes


def _consistency_label(runs: list[dict]) -> str:
    """The column's name: the recovering method and how many samples per model."""
    r = runs[0]
    return f"Self-consistency ({row_name(r)}, {r.get('n_items')} samples)"


# -- Markdown ----------------------------------------------------------------------------------

def _metric_order(metric: str) -> tuple:
    family = metric.split("_", 1)[0]
    return (FIDELITY_ORDER.index(family) if family in FIDELITY_ORDER else 99, metric)


def fidelity_metrics(runs: Sequence[dict]) -> dict[str, bool]:
    """Fidelity metric name -> higher is better (``metric_info`` of the runs, else the family's direction)."""
    names = sorted({m for r in runs for m in r.get("metrics", {})}, key=_metric_order)
    out = {}
    for name in names:
        declared = [(r.get("metric_info") or {}).get("higher_is_better", {}).get(name) for r in runs]
        known = [d for d in declared if d is not None]
        out[name] = bool(known[0]) if known else FIDELITY_DIRECTION.get(name.split("_", 1)[0], True)
    return out


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


def _score_cell(run: dict) -> tuple[str, float] | None:
    primary = RunResult(run).primary
    if primary is None:
        return None
    m = primary[1]
    text = f"{100 * m['value']:.1f}"
    if "ci_low" in m:
        text += f" [{100 * m['ci_low']:.1f}, {100 * m['ci_high']:.1f}]"
    return text + ("" if run.get("status") == "complete" else " (partial)"), m["value"]


def _score_metric_of(run: dict) -> str:
    primary = RunResult(run).primary
    return primary[0] if primary else "accuracy"


def _score_metric(table: ComparisonTable) -> tuple[str, bool]:
    """(primary metric name, higher is better) of the table's score runs."""
    run = next(iter(table.score.values()))
    primary = RunResult(run).primary
    name = primary[0] if primary else "accuracy"
    return name, bool((run.get("metric_info") or {}).get("higher_is_better", {}).get(name, True))


def table_markdown(table: ComparisonTable) -> str:
    """The model rows: #Params, fidelity columns, score columns (DIVE, enumeration), DIVE's cost."""
    metrics = fidelity_metrics(list(table.fidelity.values()))
    fid = next(iter(table.fidelity.values()), None)
    metric, higher = _score_metric(table)
    unit = SCORE_NAMES.get(metric, metric)
    label = table.score_label
    headers = {}
    for name, better in metrics.items():  # FD/FID: the extractor and N in the header
        where = f" ({fid['method_config'].get('feature_extractor')}, N={fid['n_items']})"
        headers[name] = f"{name}{where if _metric_order(name)[0] < 2 else ''} {'↑' if better else '↓'}"
    score_columns = {label: table.score, **table.extra}
    rows = []
    consistency_headers = {c: f"{c}: {unit} [95% CI]" for c in table.consistency}
    for mid in table.models():
        params = int((table.run_of(mid).get("model_info") or {}).get("params") or 0)
        row = {"Model": table.name(mid), "#Params": f"{params / 1e6:.2f}M" if params else None}
        if mid in table.fidelity:
            ms = table.fidelity[mid]["metrics"]
            row.update({headers[n]: _fidelity_cell(ms[n]) for n in metrics
                        if (ms.get(n) or {}).get("value") is not None})
        for col, runs in score_columns.items():
            if mid in runs:
                row[f"{col}: {unit} [95% CI]"] = _score_cell(runs[mid])
        for col, runs in table.consistency.items():
            if mid in runs:
                row[consistency_headers[col]] = _score_cell(runs[mid])
        timings = (table.score.get(mid) or {}).get("timings") or {}
        if timings.get("evaluations_per_item"):
            row[f"{label}: evaluations / image"] = f"{timings['evaluations_per_item']:,.0f}"
        if timings.get("seconds_per_item"):  # + the seconds of work read from a cache (layout seeds)
            row[f"{label}: s / image"] = seconds_text(timings)
        rows.append(row)
    bold = len(rows) > 1  # a lone row is not "best" of anything
    columns = ["Model", "#Params",
               *(Column(headers[n], best_of(b) if bold else None) for n, b in metrics.items()),
               *(Column(f"{c}: {unit} [95% CI]", best_of(higher) if bold else None) for c in score_columns),
               *(Column(h, best_of(higher) if bold else None) for h in consistency_headers.values()),
               f"{label}: evaluations / image", f"{label}: s / image"]
    return markdown_table(columns, rows)


def _caption(table: ComparisonTable) -> str:
    """The table's protocols in words: task, images, probes, seed, precision, method; then the fidelity protocol."""
    run = next(iter(table.score.values()))
    p = Protocol.of_run(run)
    interval, noise, loss, weighting = p.probes
    weight = "" if weighting in (None, "none") else f", {weighting}-weighted"
    probes = (f"{num_probes(interval)} probes (timestep interval {interval}, noise seed {noise}, {loss} "
              f"error{weight})" if interval else "no probes")
    what = ("Accuracy in % with Wilson 95% intervals" if _score_metric(table)[0] == "accuracy"
            else "COCO AP in % with bootstrap 95% intervals over images")
    return (f"**{p.task}** (v{p.task_version}), {run.get('n_items')} images (item set {p.items_sha256[:10]}), "
            f"{probes}, seed {run.get('seed')}, {precision_of(run)}: {row_name(run)}. {what}. {_fidelity_caption(table)}"
            + _consistency_caption(table))


def _fidelity_caption(table: ComparisonTable) -> str:
    fid = next(iter(table.fidelity.values()), None)
    if fid is None:
        return "No fidelity run of these models under one protocol was given."
    cfg, ref = fid["method_config"], fid.get("reference") or {}
    replicates = any(isinstance(m.get("bootstrap"), list)
                     for f in table.fidelity.values() for m in f["metrics"].values())
    return (f"Fidelity: N = {fid['n_items']} samples per model ({cfg.get('sampler')}, {cfg.get('steps')} steps, "
            f"guidance {cfg.get('guidance_scale', 1.0):g}, {cfg.get('dtype')}) against {ref.get('n', '?')} images of "
            f"{fid['task']} (sha256 {Protocol.of_run(fid).items_sha256[:10]}), extractor "
            f"`{cfg.get('feature_extractor')}` (weights sha256 {str(cfg.get('extractor_weights_sha256'))[:10]}); IS "
            "and KID as mean ± std over splits/subsets"
            + ("; [...] after a fidelity value: 95% bootstrap interval over its generated samples (reference fixed)."
               if replicates else "."))


def _consistency_caption(table: ComparisonTable) -> str:
    if not table.consistency:
        return ""
    parts = []
    for label, runs in table.consistency.items():
        r = next(iter(runs.values()))
        digest = generated_task_parts(r["task"])[1]
        if _score_metric_of(r) == "accuracy":
            drawn, metric = "class i mod K for sample i", "accuracy with Wilson 95% intervals"
        else:  # a layout model's samples: the ground truth is the layout each was drawn from
            drawn = "sample i drawn from the layout of the fidelity reference's image i"
            metric = "COCO AP against those layouts with bootstrap 95% intervals over samples"
        parts.append(f"{label}: each model scored on the first {r.get('n_items')} of its own samples, {drawn} "
                     f"(task `generated:`, sample configuration {digest[:10]}), seed {r.get('seed')}, "
                     f"{precision_of(r)}; {metric}")
    return " " + "; ".join(parts) + "."


def _settings(table: ComparisonTable) -> dict:
    run = next(iter(table.score.values()))
    return {**Protocol.of_run(run).config, "images": run.get("n_items"), "seed": run.get("seed"),
            "precision": precision_of(run)}


def _titles(tables: list[ComparisonTable]) -> list[str]:
    """A heading per table: task and score method, the settings that set it apart from the other
    tables of its task (as the leaderboard labels its columns), and the fidelity protocol."""
    settings = [_settings(t) for t in tables]
    tasks = [next(iter(t.score.values()))["task"] for t in tables]
    titles = []
    for table, mine, task in zip(tables, settings, tasks):
        others = [s for s, t in zip(settings, tasks) if t == task]
        varying = [k for k in sorted(mine) if len({json.dumps(s.get(k), default=str) for s in others}) > 1]
        shown = ", ".join(f"{k}={mine.get(k) if isinstance(mine.get(k), str) else json.dumps(mine.get(k))}"
                          for k in varying)
        fid = next(iter(table.fidelity.values()), None)
        tail = (f" vs {fid['task']}, {fid['method_config'].get('feature_extractor')}, N={fid['n_items']}"
                if fid else "")
        titles.append(f"{task}, {table.score_label}" + (f" ({shown})" if shown else "") + tail)
    return titles


def _table_blocks(tables: list[ComparisonTable], n_boot: int, seed: int, level: str, label: str) -> list[str]:
    """A section per model kind (heading ``level``), each table captioned, with its agreement
    statistics and pairwise tests below it."""
    parts: list[str] = []
    number = 0
    titles = dict(zip(map(id, tables), _titles(tables)))
    for kind, heading in SECTIONS.items():
        chosen = [t for t in tables if t.kind == kind]
        if not chosen:
            continue
        parts += [f"{level} {heading}", ""]
        for table in chosen:
            number += 1
            parts += [f"{level}# {label} {number}: {titles[id(table)]}", "", _caption(table), "",
                      table_markdown(table), ""]
            parts += _below(table, n_boot, seed)
    return parts


def comparison_markdown(runs: list[dict], title: str = "Model comparison", sources: Sequence[str] | None = None,
                        n_boot: int = 1000, seed: int = 0) -> str:
    """The whole Markdown file: a section per model kind, each table with its agreement and
    pairwise tests below it, then notes on the runs no table shows. Deterministic for a seed."""
    if n_boot < 1:
        raise DiveBenchError(f"--bootstrap must be >= 1 replicate, got {n_boot}")
    tables, notes = build_tables(runs)
    parts = [f"# {title}", "",
             f"Generated by `dive-bench compare` from {len(runs)} run.json files"
             + (f" ({', '.join(sources)})" if sources else "") + "; do not edit by hand. One row per model "
             "(checkpoint); rows of different protocols never share a table; the paper's Table VI. Bootstrap: "
             f"{n_boot} replicates (COCO AP: at most 200), seed {seed}.", ""]
    parts += _table_blocks(tables, n_boot, seed, "##", "Table")
    if notes:
        parts += ["## Runs not shown", "", *(f"- {n}" for n in notes), ""]
    return "\n".join(parts)


def comparison_tables(runs: list[dict], min_models: int = 2) -> list[ComparisonTable]:
    """The tables a leaderboard opens with: those in which at least ``min_models`` models have
    both a score and fidelity metrics -- the pairings that compare models. A folder of runs also
    holds ablations (one model, many DIVE configs), each of which would otherwise make a one-row
    table per fidelity protocol. No fidelity run: no table."""
    if not any(r.get("method") == "fidelity" for r in runs):
        return []
    return [t for t in build_tables(runs)[0] if len(set(t.score) & set(t.fidelity)) >= min_models]


def comparison_sections(tables: list[ComparisonTable], n_boot: int = 1000, seed: int = 0,
                        min_models: int = 2) -> list[str]:
    """The leaderboard's model-comparison section for ``tables`` (:func:`comparison_tables`)."""
    if not tables:
        return []
    return ["## Model comparison (the paper's Table VI)", "",
            f"Models compared on a discriminative score and on generative metrics, one row per checkpoint: every "
            f"table in which at least {min_models} models have both (rows of different protocols never share a "
            f"table). Agreement: Kendall's tau-b and Spearman's rho between the DIVE ordering and each fidelity "
            f"metric's, with {n_boot}-replicate bootstrap intervals (COCO AP: at most 200), seed {seed}. "
            "Self-consistency columns (a model scored on its own samples, `--task generated:DIR`) are shown here "
            "and not again in the protocol tables below.", "",
            *_table_blocks(tables, n_boot, seed, "###", "Comparison")]


def leaderboard_page(runs: list[dict], title: str = "dive_bench leaderboard", sources: list[str] | None = None,
                     n_boot: int = 1000, seed: int = 0) -> str:
    """``dive-bench leaderboard``: the model comparison first (the suite's main table), then
    every protocol's method table and the fidelity tables (``report.leaderboard_markdown``)."""
    runs = best_of_duplicates(runs)
    tables = comparison_tables(runs)
    shown = {run_path(r) for t in tables for col in t.consistency.values() for r in col.values()}
    return leaderboard_markdown(runs, title=title, sources=sources, lead=comparison_sections(tables, n_boot, seed),
                                shown_in_lead=lambda r: run_path(r) in shown)


def run_path(run: dict) -> str:
    """Where a loaded run came from (``load_runs`` keeps it), else its key: an identity that
    survives ``best_of_duplicates`` copying or re-selecting runs."""
    return run.get("_path") or run.get("run_key") or f"object:{id(run)}"


def _below(table: ComparisonTable, n_boot: int, seed: int) -> list[str]:
    """Agreement statistics, pairwise tests and the table's notes, each block followed by a blank line."""
    models = table.models()
    names = [table.name(m) for m in models]
    score_runs = [table.score.get(m) for m in models]
    fidelity_runs = [table.fidelity.get(m) for m in models]
    metrics = fidelity_metrics(list(table.fidelity.values()))
    higher = _score_metric(table)[1]
    out: list[str] = []
    for block in (agreement_section(score_runs, fidelity_runs, metrics, higher, n_boot, seed, table.score_label),
                  pairwise_section(names, score_runs, n_boot, seed, table.score_label),
                  *(per_class_section(table, label) for label in table.consistency),
                  [f"- {n}" for n in table.notes]):
        if block:
            out += [*block, ""]
    return out


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
    task = next(iter(table.score.values()))["task"]
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


def compare_files(paths: Sequence[str | Path], title: str = "Model comparison", n_boot: int = 1000,
                  seed: int = 0) -> str:
    """:func:`comparison_markdown` of the run.json files (or folders searched for them) at ``paths``."""
    return comparison_markdown(load_runs(list(paths)), title=title, sources=[str(p) for p in paths],
                               n_boot=n_boot, seed=seed)
