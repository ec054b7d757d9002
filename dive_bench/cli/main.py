"""``dive-bench`` command line. Progress goes to stderr, results to files, a summary to stdout.

Errors a user can fix print one line and exit with status 2 (see ``errors.DiveBenchError``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from dive_bench.cli.compare import add_compare_parser
from dive_bench.cli.demo import add_demo_parser
from dive_bench.cli.diagnostics import add_diagnostics_parsers
from dive_bench.cli.options import (LazySubparsers, add_declared, add_method_options, declared_values, method_config,
                                   skipped)
from dive_bench.cli.plot import add_plot_parser
from dive_bench.cli.report import add_report_parser
from dive_bench.cli.sweep import add_sweep_parser
from dive_bench.cli.train import add_train_parser, parse_class_sizes  # noqa: F401  (parse_class_sizes re-exported)
from dive_bench.util.version import __version__
from dive_bench.errors import EXIT_INTERRUPTED, EXIT_ITEMS_FAILED, EXIT_OK, EXIT_USAGE, DiveBenchError

if TYPE_CHECKING:  # run.json's reader loads with the commands that read one, not with --help
    from dive_bench.spec.result import RunResult


def _quiet_libraries() -> None:
    """diffusers' info and warning logs off, without importing diffusers (seconds, with torch):
    diffusers reads DIFFUSERS_VERBOSITY when a command first imports it. A user's own setting is
    kept; a caller that already imported diffusers gets the same level set directly."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    if "diffusers" in sys.modules:
        from diffusers.utils import logging as dlog

        dlog.set_verbosity_error()


def cmd_list(args: argparse.Namespace) -> int:
    # registries of names and descriptions: nothing here imports torch (tests/test_startup.py)
    from dive_bench.adapters import ADAPTERS, CHECKPOINTS
    from dive_bench.spec.configs import CONFIGS as METHODS
    from dive_bench.data import DATASETS
    from dive_bench.tasks import TASKS

    for title, reg in (("Adapters", ADAPTERS), ("Bundled checkpoints", CHECKPOINTS), ("Tasks", TASKS),
                       ("Datasets", DATASETS)):
        print(f"{title}:")
        for name in reg.names():
            print(f"  {name:<18} {reg.describe(name)}")
        for usage, description in reg.prefixes().items():  # tasks from a path: folder:DIR, coco:...
            print(f"  {usage}\n  {'':<18} {description}")
    print("Methods:")
    for name in METHODS:
        print(f"  {name}")
    return 0


def _summary(run: RunResult) -> str:
    m = run.metrics
    name = next((k for k in ("accuracy", "ap") if k in m), None)
    if name is None:
        score = "no items"
    else:
        v = m[name]
        score = f"{name} {v['value']:.4f}" + (f" [{v['ci_low']:.4f}, {v['ci_high']:.4f}]" if "ci_low" in v else "")
        if name == "ap":
            score += f", ap50 {m['ap50']['value']:.4f}, ap75 {m['ap75']['value']:.4f}"
    per = f"{run.seconds_per_item:.3f} s/item" if run.seconds_per_item is not None else "-"
    return (f"{run.model} | {run.task} | {run.method} | {score} | n={run.n_done}/{run.n_items} ({run.status}) | "
            f"{run.evaluations_per_item or 0:.0f} evals/item | {per}")


def _safe(text: str) -> str:
    """A spec as a folder name for the default --out: folder:/data/x -> folder_data_x,
    dit:./m.pt?heads=4 -> dit_._m.pt_heads_4."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def cmd_score(args: argparse.Namespace) -> int:
    """``evaluate`` with the command line's options: the CLI and the API run the same code."""
    from dive_bench.api import evaluate

    from dive_bench.spec.run_options import GateOptions, RunOptions

    from dive_bench.run.sequential import default_method

    args.method = default_method(args.method, args.sequential, args.baseline)
    out = Path(args.out or f"runs/{_safe(args.model)}-{_safe(args.task)}-{args.method}")
    result = evaluate(args.model, args.task, args.method, out=out, progress=not args.quiet,
                      **declared_values(args, RunOptions), **declared_values(args, GateOptions), **method_config(args))
    print(_summary(result))
    print(f"results: {out / 'run.json'}")
    if result.sequential is not None:  # the gate's verdict table and exit code, as check's
        from dive_bench.run.sequential import verdict_of

        verdict = verdict_of(result.sequential)
        print(verdict.markdown().replace("dive-bench check:", "dive-bench score --sequential:", 1))
        return verdict.status
    return _failed_items_status(result)


def _failed_items_status(run: RunResult) -> int:
    """Exit 3 when items failed: the run finished, but its metrics cover only part of the items."""
    if not run.n_failed:
        return EXIT_OK
    first = next(iter(run.failed_items.items()))
    covered = "metrics cover the others only" if run.n_done else "no item was scored, so there are no metrics"
    print(f"dive-bench: {run.n_failed} of {run.n_items} items failed (first: item {first[0]}: "
          f"{first[1]}); {covered}. Fix the cause and rerun with --retry-failed",
          file=sys.stderr)
    return EXIT_ITEMS_FAILED


def cmd_merge(args: argparse.Namespace) -> int:
    from dive_bench.run.fidelity_workers import is_fidelity_folder
    from dive_bench.run.score import merge
    from dive_bench.spec.result import RunResult

    if is_fidelity_folder(Path(args.dir)):  # a sharded fidelity run: the metrics of all its samples
        from dive_bench.run.fidelity import merge_fidelity, summary

        print(summary(merge_fidelity(Path(args.dir))))
        print(f"results: {Path(args.dir) / 'run.json'}")
        return 0
    run = RunResult(merge(Path(args.dir)))
    print(_summary(run))
    print(f"results: {Path(args.dir) / 'run.json'}")
    return _failed_items_status(run)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from dive_bench.report.leaderboard_page import leaderboard_page
    from dive_bench.report.leaderboard import load_runs

    runs = load_runs(args.runs)
    text = leaderboard_page(runs, title=args.title, sources=args.runs)
    if args.out:
        from dive_bench.report.leaderboard import write_leaderboard

        write_leaderboard(args.out, text)
        print(f"wrote {args.out} ({len(runs)} runs)")
    else:
        print(text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from dive_bench.report.check import load_run, parse_margins, verdict

    result = verdict(load_run(args.current), load_run(args.baseline), parse_margins(args.margin), args.mode,
                     across_configs=args.across_configs, allow_failed=args.allow_failed,
                     allow_partial=args.allow_partial)
    print(result.markdown())
    return result.status


def cmd_fidelity(args: argparse.Namespace) -> int:
    from dive_bench.run.fidelity import FidelityRequest, run_fidelity, summary
    from dive_bench.spec.run_options import SampleOptions
    from dive_bench.util.environment import set_threads

    set_threads(args.threads)
    out = Path(args.out or f"runs/{_safe(args.model)}-fidelity")
    req = FidelityRequest(model=args.model, out=out, progress=not args.quiet, **declared_values(args, SampleOptions))
    payload = run_fidelity(req)
    if payload is None:  # a worker of a sharded run, done with its share
        from dive_bench.run.fidelity_workers import waiting_line

        print(waiting_line(req.out, req.num_samples))
        return 0
    print(summary(payload))
    print(f"results: {req.out / 'run.json'}")
    return 0


def _add_score_parser(sub) -> None:
    s = sub.add_parser("score", help="score a model on a task with DIVE or enumeration")
    if skipped(s):
        return
    from dive_bench.spec.run_options import GateOptions, GuardOptions, RunOptions

    s.add_argument("model", help="bundled name (dit-fmnist-s), ADAPTER:PATH_OR_HUB_ID, or a plugin name")
    s.add_argument("--task", required=True)
    s.add_argument("--method", choices=["dive", "enumerate", "auto"], default=None,
                   help="default dive (with --sequential: the baseline's method); auto: the cheapest of exhaustive enumeration, adaptive enumeration (--stages, default dc) "
                        "and DIVE by a cost model with measured forward/backward times; run.json records why")
    s.add_argument("--out", help="output folder (default runs/MODEL-TASK-METHOD); rerun to resume")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    add_declared(s, RunOptions)
    add_method_options(s)
    e = s.add_argument_group("enumeration")
    e.add_argument("--stages", help="adaptive Diffusion Classifier, e.g. '25:2,250:1' (probes:kept), or dc: its "
                   "ImageNet schedule (50/100/500/1000 samples, keep 500/50/10/1) scaled to K and the probes")
    add_declared(s, GuardOptions, title="--method auto")
    add_declared(s, GateOptions, title="sequential gate (exit 0 pass, 1 regression)")
    d = s.add_argument_group("DIVE on layouts (ablations)")
    d.add_argument("--no-prior", action="store_true", help="image loss only (also switches prior repairs off)")
    s.set_defaults(func=cmd_score)


def _add_fidelity_parser(sub) -> None:
    fi = sub.add_parser("fidelity", help="FID / IS / KID / precision-recall of a model's samples vs a reference set")
    if skipped(fi):
        return
    from dive_bench.spec.run_options import SampleOptions

    fi.add_argument("model", help="bundled name (dit-fmnist-b), ADAPTER:PATH_OR_HUB_ID, or a plugin name")
    fi.add_argument("--out", help="output folder (default runs/MODEL-fidelity); samples are cached in OUT/samples "
                    "and a rerun generates only the missing ones")
    fi.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    fi.add_argument("--quiet", action="store_true", help="no progress bars")
    add_declared(fi, SampleOptions, required=("reference",))
    fi.set_defaults(func=cmd_fidelity)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command, listed with its help; the flags of ``only`` (None: of every command), so a
    run of one command does not generate the others' (see ``cli.options.SkippedParser``)."""
    p = argparse.ArgumentParser(prog="dive-bench", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"dive-bench {__version__}")
    sub = LazySubparsers(p.add_subparsers(dest="command", required=True), only)

    sub.add_parser("list", help="adapters, bundled checkpoints, tasks, datasets, methods").set_defaults(func=cmd_list)

    _add_score_parser(sub)

    m = sub.add_parser("merge", help="union the shards of a run folder and write its run.json")
    m.add_argument("dir")
    m.set_defaults(func=cmd_merge)

    lb = sub.add_parser("leaderboard", help="Markdown tables from run.json files (one table per protocol)")
    lb.add_argument("runs", nargs="+", help="run.json files or folders containing them")
    lb.add_argument("--out", help="write to FILE.md instead of stdout")
    lb.add_argument("--title", default="dive_bench leaderboard")
    lb.set_defaults(func=cmd_leaderboard)

    ck = sub.add_parser("check", help="CI gate: exit 0 pass, 1 regression, 2 incomparable")
    ck.add_argument("current", help="run.json (or its folder) of the checkpoint under test")
    ck.add_argument("--baseline", required=True)
    ck.add_argument("--margin", action="append", help="METRIC=VALUE drop tolerated, e.g. accuracy=0.01")
    ck.add_argument("--mode", choices=["regression", "noninferiority"], default="regression")
    ck.add_argument("--across-configs", action="store_true",
                    help="pair runs of different method configs on the same task and images (ablations)")
    ck.add_argument("--allow-failed", action="store_true",
                    help="judge a run whose items partly failed on the items it finished (default: regression)")
    ck.add_argument("--allow-partial", action="store_true",
                    help="judge an unfinished run on the items it has (default: refused as incomparable)")
    ck.set_defaults(func=cmd_check)

    _add_fidelity_parser(sub)
    add_diagnostics_parsers(sub)
    add_plot_parser(sub)
    add_report_parser(sub)
    add_compare_parser(sub)
    add_sweep_parser(sub)

    add_demo_parser(sub)

    add_train_parser(sub)
    return p


def _command(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word that is no option), or None (then every
    command's flags are built, so argparse can say what is wrong)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


#: every command's name, for :func:`_command` (tests/cli check it against the parser)
COMMANDS = ("list", "score", "merge", "leaderboard", "check", "fidelity", "position-check", "prior-check", "plot", "report",
            "compare", "sweep", "demo", "train")


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command(argv)).parse_args(argv)
    try:
        return args.func(args)
    except DiveBenchError as exc:
        print(f"dive-bench: error: {_one_line(str(exc))}", file=sys.stderr)
        return getattr(exc, "exit_code", EXIT_USAGE)  # every item failed: 3, as for some
    except BrokenPipeError:  # `dive-bench list | head`: the reader left; nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:
        # the environment, not a bug: a full disk, a read-only or missing path. Results already
        # committed are kept (shards commit per block; run.json is replaced atomically)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"dive-bench: error: {exc.strerror or exc}{where}; fix the path or free space and rerun "
              "(finished items are kept)", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dive-bench: interrupted; finished items are saved, rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(text: str) -> str:
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
