"""``dive-bench sweep CKPT_DIR``: score every checkpoint of a training run, then SWEEP.md and sweep.png.

Why its own module: ``cli.py`` stays a list of sub-commands; the sweep takes the score command's
method flags (generated from the config declarations, as ``score``'s) and a few fidelity flags.
Torch loads inside ``cmd_sweep`` only, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dive_bench.cli.options import add_declared, add_method_options, declared_values, method_config, skipped


def _fidelity_options(args: argparse.Namespace) -> dict | None:
    """FidelityRequest fields from the --fidelity flags, or None without --fidelity."""
    if not args.fidelity:
        return None
    from dive_bench.errors import DiveBenchError

    if not args.sample_reference:
        raise DiveBenchError("--fidelity needs --reference DATASET[:SPLIT] (e.g. fmnist), the real images to compare with")
    from dive_bench.spec.run_options import SampleOptions

    opts = {**declared_values(args, SampleOptions, dest_prefix="sample_"), "seed": args.seed}
    return {k: v for k, v in opts.items() if v is not None}


def cmd_sweep(args: argparse.Namespace) -> int:
    """Score this worker's share; the page is written once every checkpoint is done (by whichever
    worker sees that last), or always by a single worker, which had every checkpoint (as before)."""
    from dive_bench.run.sweep import SweepRequest, run_sweep
    from dive_bench.spec.run_options import RunOptions
    from dive_bench.util.environment import set_threads
    from dive_bench.report.sweep import write_report

    set_threads(args.threads)
    req = SweepRequest(ckpt_dir=Path(args.ckpt_dir), task=args.task, out=Path(args.out), method=args.method,
                       method_config=method_config(args), adapter=args.adapter, progress=not args.quiet,
                       fidelity=_fidelity_options(args), **declared_values(args, RunOptions))
    done = run_sweep(req)
    (k, n), total = done.shard, len(done.checkpoints)
    if done.pending and n > 1:
        print(f"worker {k}/{n} scored its {len(done.mine)} checkpoints; {total - len(done.pending)} of {total} are "
              f"done, so the worker that finishes last writes SWEEP.md and sweep.png (or `dive-bench plot sweep "
              f"{req.out}` once all are done)")
        return 0
    md, png = write_report(req.out, title=args.title)
    steps = f"steps {done.checkpoints[0][0]}..{done.checkpoints[-1][0]}"
    who = f"worker {k}/{n} found all {total} checkpoints done ({steps})" if n > 1 else f"swept {total} checkpoints ({steps})"
    print(f"{who}; wrote {md} and {png}")
    return 0


def add_sweep_parser(sub) -> None:
    """The ``sweep`` sub-command of ``sub`` (argparse sub-parsers)."""
    s = sub.add_parser("sweep", help="score every checkpoint a training run kept (train --save-every) and plot "
                       "DIVE (and FD) against training step")
    if skipped(s):
        return
    from dive_bench.spec.run_options import RunOptions, SampleOptions

    s.add_argument("ckpt_dir", help="the training --out folder (or its checkpoints/): step-NNNNNN model folders")
    s.add_argument("--task", required=True)
    s.add_argument("--out", required=True, help="sweep folder: score/step-N/ and fidelity/step-N/ run folders, "
                   "SWEEP.md, sweep.png; rerun to resume (finished checkpoints are skipped)")
    s.add_argument("--method", choices=["dive", "enumerate", "auto"], default="dive")
    s.add_argument("--adapter", default="dit", help="how to load each checkpoint folder (ADAPTER:PATH; default dit)")
    add_declared(s, RunOptions, only=("limit", "seed", "device", "dtype", "items_per_batch", "data_root", "shard"))
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.add_argument("--title", default="Checkpoint sweep")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--stages", help="enumeration: adaptive schedule, as for score")
    s.add_argument("--no-prior", action="store_true", help=argparse.SUPPRESS)
    add_method_options(s)
    f = s.add_argument_group("fidelity (--fidelity)")
    f.add_argument("--fidelity", action="store_true", help="also sample each checkpoint and compute FD/FID")
    add_declared(f, SampleOptions, dest_prefix="sample_",
                 only=("reference", "num_samples", "feature_extractor", "steps", "guidance_scale", "sampler",
                       "batch_size", "cache_dir", "inception_weights", "dinov2_weights"))
    s.set_defaults(func=cmd_sweep)
