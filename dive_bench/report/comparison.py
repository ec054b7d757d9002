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
The keys behind these rules are in ``report.grouping``; this module groups the runs into tables
(:func:`build_tables`) and lays out the page. One table's rows and cells are
``report.comparison_table``, its heading and caption ``report.captions``, the per-class block
below a self-consistency column ``report.per_class``; the leaderboard page that opens with these
tables is ``report.leaderboard_page``. This module imports no torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from dive_bench.errors import DiveBenchError
from dive_bench.report.agreement import agreement_section, pairwise_section
from dive_bench.report.captions import table_caption, table_titles
from dive_bench.report.comparison_table import ComparisonTable, fidelity_metrics, score_metric, table_markdown
from dive_bench.report.cost_vs_k import row_name
from dive_bench.report.grouping import (best_of_duplicates, fidelity_key, is_self_consistency, model_id, model_kind,
                                        probes_key, score_key, self_consistency_key)
from dive_bench.report.leaderboard import load_runs
from dive_bench.report.per_class import per_class_section
from dive_bench.spec.result import RunResult
from dive_bench.spec.runspec import generated_task_parts

SCORE_METHODS = ("dive", "enumerate")
SECTIONS = {"class": "Class-conditional models", "layout": "Layout-conditional models"}


def _rank(run: RunResult) -> tuple:
    return (run.complete, run.n_done or 0, run.created, run.path or "")


def _one_per_model(runs: list[RunResult], notes: list[str]) -> dict[str, RunResult]:
    """model id -> its best run (complete, most items, newest); a note names each run left out."""
    chosen: dict[str, RunResult] = {}
    for r in sorted(runs, key=_rank, reverse=True):
        kept = chosen.setdefault(r.model_id, r)
        if kept is not r:
            notes.append(f"`{r.model}` has two runs of this protocol: the table shows {kept.path or '?'} "
                         f"and leaves out {r.path or '?'}.")
    return chosen


def _check_one_kind(table: ComparisonTable) -> ComparisonTable:
    kinds: dict[str, set[str]] = defaultdict(set)
    for r in table.runs():
        kinds[model_kind(r)].add(r.model)
    if len(kinds) > 1:
        task = next(iter(table.score.values())).task
        raise DiveBenchError(f"one comparison table ({task}) would hold class-conditional model(s) "
                             f"{', '.join(sorted(kinds['class']))} and layout-conditional model(s) "
                             f"{', '.join(sorted(kinds['layout']))}; the paper's Table VI keeps them apart: pass "
                             "their run.json files to separate `dive-bench compare` calls")
    return table


def build_tables(runs: list[RunResult | dict]) -> tuple[list[ComparisonTable], list[str]]:
    """Group runs into tables (see the module docstring); notes for the runs no table shows."""
    runs = best_of_duplicates(runs)
    notes = [f"{r.name}: method {r.method!r} is neither a score nor a fidelity run; "
             "left out." for r in runs if r.method not in (*SCORE_METHODS, "fidelity")]
    generated = [r for r in runs if r.method in SCORE_METHODS and generated_task_parts(r.task)]
    notes += [f"{r.name}: `{r.model}` scored on another model's samples ({r.task}); only "
              "self-consistency (a model on its own samples) has a column; left out."
              for r in generated if not is_self_consistency(r)]
    by_consistency: dict[str, list[RunResult]] = defaultdict(list)
    for r in generated:
        if is_self_consistency(r):
            by_consistency[self_consistency_key(r)].append(r)
    score = [r for r in runs if r.method in SCORE_METHODS and not generated_task_parts(r.task)]
    if not score:
        raise DiveBenchError("no DIVE or enumeration run.json among the given files: a comparison table needs a "
                             "discriminative score per model (fidelity runs alone: `dive-bench leaderboard`)")
    by_score: dict[str, list[RunResult]] = defaultdict(list)
    for r in score:
        by_score[score_key(r)].append(r)
    dive_probes = {probes_key(r) for r in score if r.method == "dive"}
    columns: dict[str, dict[str, list[RunResult]]] = defaultdict(lambda: defaultdict(list))
    primaries = []
    for key in sorted(by_score):
        rs = by_score[key]
        if rs[0].method == "enumerate" and probes_key(rs[0]) in dive_probes:
            columns[probes_key(rs[0])][row_name(rs[0])].extend(rs)
        else:
            primaries.append(rs)
    by_fidelity: dict[str, list[RunResult]] = defaultdict(list)
    for r in runs:
        if r.kind == "fidelity":
            by_fidelity[fidelity_key(r)].append(r)
    tables, paired = [], set()
    for rs in primaries:
        table_notes: list[str] = []
        main = _one_per_model(rs, table_notes)
        extra = ({label: _one_per_model(e, table_notes) for label, e in sorted(columns[probes_key(rs[0])].items())}
                 if rs[0].method == "dive" else {})
        partners = [k for k in sorted(by_fidelity) if {model_id(f) for f in by_fidelity[k]} & set(main)]
        for key in partners or [None]:
            paired.add(key)
            fidelity = _one_per_model(by_fidelity[key], table_notes) if key else {}
            table = ComparisonTable(model_kind(rs[0]), main, extra, fidelity, list(table_notes))
            rows = set(main) | set(fidelity)
            groups = [cs for _, cs in sorted(by_consistency.items()) if {model_id(r) for r in cs} & rows]
            plain = [_consistency_label(cs) for cs in groups]
            # two sample configurations under one label would overwrite a column: name each one's
            labels = [label[:-1] + f", samples {generated_task_parts(cs[0].task)[1][:8]})"
                      if plain.count(label) > 1 else label for label, cs in zip(plain, groups)]
            table.consistency = {label: _one_per_model(cs, table.notes) for label, cs in zip(labels, groups)}
            tables.append(_check_one_kind(table))
    for key in sorted(set(by_fidelity) - paired):
        fs = by_fidelity[key]
        models = ", ".join(sorted(f"`{f.model}`" for f in fs))
        notes.append(f"fidelity runs of {models} ({fs[0].task}, "
                     f"{fs[0].feature_extractor}) share no model with any DIVE or enumeration "
                     "run given: no table shows them.")
    return tables, notes


def _consistency_label(runs: list[RunResult]) -> str:
    """The column's name: the recovering method and how many samples per model."""
    return f"Self-consistency ({row_name(runs[0])}, {runs[0].n_items} samples)"


def _table_blocks(tables: list[ComparisonTable], n_boot: int, seed: int, level: str, label: str) -> list[str]:
    """A section per model kind (heading ``level``), each table captioned, with its agreement
    statistics and pairwise tests below it."""
    parts: list[str] = []
    number = 0
    titles = dict(zip(map(id, tables), table_titles(tables)))
    for kind, heading in SECTIONS.items():
        chosen = [t for t in tables if t.kind == kind]
        if not chosen:
            continue
        parts += [f"{level} {heading}", ""]
        for table in chosen:
            number += 1
            parts += [f"{level}# {label} {number}: {titles[id(table)]}", "", table_caption(table), "",
                      table_markdown(table), ""]
            parts += _below(table, n_boot, seed)
    return parts


def comparison_markdown(runs: list[RunResult | dict], title: str = "Model comparison", sources: Sequence[str] | None = None,
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


def comparison_tables(runs: list[RunResult | dict], min_models: int = 2) -> list[ComparisonTable]:
    """The tables a leaderboard opens with: those in which at least ``min_models`` models have
    both a score and fidelity metrics -- the pairings that compare models. A folder of runs also
    holds ablations (one model, many DIVE configs), each of which would otherwise make a one-row
    table per fidelity protocol. No fidelity run: no table."""
    if not any(RunResult.of(r).kind == "fidelity" for r in runs):
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


def _below(table: ComparisonTable, n_boot: int, seed: int) -> list[str]:
    """Agreement statistics, pairwise tests and the table's notes, each block followed by a blank line."""
    models = table.models()
    names = [table.name(m) for m in models]
    score_runs = [table.score.get(m) for m in models]
    fidelity_runs = [table.fidelity.get(m) for m in models]
    metrics = fidelity_metrics(list(table.fidelity.values()))
    higher = score_metric(table)[1]
    out: list[str] = []
    for block in (agreement_section(score_runs, fidelity_runs, metrics, higher, n_boot, seed, table.score_label),
                  pairwise_section(names, score_runs, n_boot, seed, table.score_label),
                  *(per_class_section(table, label) for label in table.consistency),
                  [f"- {n}" for n in table.notes]):
        if block:
            out += [*block, ""]
    return out


def compare_files(paths: Sequence[str | Path], title: str = "Model comparison", n_boot: int = 1000,
                  seed: int = 0) -> str:
    """:func:`comparison_markdown` of the run.json files (or folders searched for them) at ``paths``."""
    return comparison_markdown(load_runs(list(paths)), title=title, sources=[str(p) for p in paths],
                               n_boot=n_boot, seed=seed)
