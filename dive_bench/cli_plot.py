"""``dive-bench plot cost RUN...``: Table IV and cost against K from run.json files, plus a PNG.

Reads run.json files only (no torch, no model): ``scaling`` builds the tables, matplotlib draws.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import DiveBenchError


def cmd_plot_cost(args: argparse.Namespace) -> int:
    from .report import load_runs, write_leaderboard
    from .scaling import cost_vs_k, parse_run_args, plot, rows, table_iv

    paths, names = parse_run_args(args.runs)
    runs = [r for r in load_runs(paths) if r.get("method") in ("enumerate", "dive")]
    if not runs:
        raise DiveBenchError("no classification runs (method enumerate or dive) among the given run.json files")
    table = rows(runs, names)
    if args.png:
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        plot(table, args.png)
    text = (f"## Table IV at K = {max(r['k'] for r in table)}\n\n{table_iv(table)}\n\n"
            f"## Cost vs K\n\n{cost_vs_k(table)}\n")
    if args.out:
        write_leaderboard(args.out, text)
        print(f"wrote {args.out}" + (f" and {args.png}" if args.png else ""))
    else:
        print(text)
    return 0


def add_plot_parser(sub) -> None:
    pl = sub.add_parser("plot", help="figures from run.json files (cost: Table IV and cost vs classes K)")
    kinds = pl.add_subparsers(dest="kind", required=True)
    c = kinds.add_parser("cost", help="Table IV at the largest K and cost vs K, as Markdown and a PNG plot")
    c.add_argument("runs", nargs="+", help="run.json files or folders; PATH=NAME names a row (matched across K)")
    c.add_argument("--png", help="write the plot here (PNG)")
    c.add_argument("--out", help="write the Markdown here instead of stdout")
    c.set_defaults(func=cmd_plot_cost)
