"""``dive-bench leaderboard``'s page (LEADERBOARD.md): the model comparison first, then every
protocol's method table and the fidelity tables.

Why a module of its own: the page is neither the comparison of ``dive-bench compare``
(``report.comparison``) nor the per-protocol tables (``report.leaderboard``) but their join. In
``report.leaderboard`` it would close an import circle, since the comparison reads run files and
formats cost cells through ``report.leaderboard``; above both, it imports each once.
"""

from __future__ import annotations

from dive_bench.report.comparison import comparison_sections, comparison_tables
from dive_bench.report.grouping import best_of_duplicates
from dive_bench.report.leaderboard import leaderboard_markdown
from dive_bench.spec.result import RunResult


def leaderboard_page(runs: list[RunResult | dict], title: str = "dive_bench leaderboard", sources: list[str] | None = None,
                     n_boot: int = 1000, seed: int = 0) -> str:
    """``dive-bench leaderboard``: the model comparison first (the suite's main table), then
    every protocol's method table and the fidelity tables (``report.leaderboard_markdown``)."""
    runs = best_of_duplicates(runs)
    tables = comparison_tables(runs)
    shown = {run_path(r) for t in tables for col in t.consistency.values() for r in col.values()}
    return leaderboard_markdown(runs, title=title, sources=sources, lead=comparison_sections(tables, n_boot, seed),
                                shown_in_lead=lambda r: run_path(r) in shown)


def run_path(run: RunResult) -> str:
    """Where a loaded run came from (``load_runs`` keeps it), else its key: an identity that
    survives ``best_of_duplicates`` copying or re-selecting runs."""
    return run.path or run.run_key or f"object:{id(run)}"
