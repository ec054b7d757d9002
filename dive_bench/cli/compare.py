"""``dive-bench compare RUN...``: the model-comparison table (the paper's Table VI) from run.json files.

Reads run.json files only (no torch, no model, no task code): ``compare`` groups and renders,
``agreement`` adds Kendall's tau / Spearman's rho with bootstrap intervals and pairwise tests.
"""

from __future__ import annotations

import argparse


def cmd_compare(args: argparse.Namespace) -> int:
    from dive_bench.report.comparison import compare_files
    from dive_bench.report.leaderboard import write_leaderboard

    text = compare_files(args.runs, title=args.title, n_boot=args.bootstrap, seed=args.seed)
    if args.out:
        write_leaderboard(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def add_compare_parser(sub) -> None:
    c = sub.add_parser("compare", help="model-comparison tables (the paper's Table VI): fidelity metrics beside the "
                       "DIVE score, one row per model, with rank agreement and paired tests")
    c.add_argument("runs", nargs="+", help="run.json files or folders containing them (DIVE, enumeration, fidelity)")
    c.add_argument("--out", help="write the Markdown to FILE.md instead of stdout")
    c.add_argument("--title", default="Model comparison")
    c.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="bootstrap replicates for the agreement intervals (COCO AP: at most 200; default 1000)")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed (the output is deterministic for a seed)")
    c.set_defaults(func=cmd_compare)
