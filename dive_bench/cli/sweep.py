"""``dive-bench sweep CKPT_DIR``: score every checkpoint of a training run, then SWEEP.md and sweep.png.

Why its own module: ``cli.py`` stays a list of sub-commands; the sweep takes the score command's
method flags (generated from the config declarations, as ``score``'s) and a few fidelity flags.
Torch loads inside ``cmd_sweep`` only, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dive_bench.cli.options import add_method_options, method_config


def _fidelity_options(args: argparse.Namespace) -> dict | None:
    """FidelityRequest fields from the --fidelity flags, or None without --fidelity."""
    if not args.fidelity:
        return None
    from dive_bench.errors import DiveBenchError

    if not args.reference:
        raise DiveBenchError("--fidelity needs --reference DATASET[:SPLIT] (e.g. fmnist), the real images to compare with")
    opts = {"reference": args.reference, "num_samples": args.num_samples, "feature_extractor": args.feature_extractor,
            "steps": args.sample_steps, "guidance_scale": args.guidance, "sampler": args.sampler, "seed": args.seed,
            "batch_size": args.sample_batch_size, "cache_dir": args.cache_dir,
            "inception_weights": args.inception_weights, "dinov2_weights": args.dinov2_weights}
    return {k: v for k, v in opts.items() if v is not None}


def cmd_sweep(args: argparse.Namespace) -> int:
    from dive_bench.util.environment import set_threads
    from dive_bench.run.sweep import SweepRequest, run_sweep
    from dive_bench.report.sweep import write_report

    set_threads(args.threads)
    req = SweepRequest(ckpt_dir=Path(args.ckpt_dir), task=args.task, out=Path(args.out), method=args.method,
                       method_config=method_config(args), adapter=args.adapter, limit=args.limit, seed=args.seed,
                       device=args.device, dtype=args.dtype, items_per_batch=args.items_per_batch,
                       data_root=args.data_root, progress=not args.quiet, fidelity=_fidelity_options(args))
    checkpoints = run_sweep(req)
    md, png = write_report(req.out, title=args.title)
    print(f"swept {len(checkpoints)} checkpoints (steps {checkpoints[0][0]}..{checkpoints[-1][0]}); wrote {md} and {png}")
    return 0


def add_sweep_parser(sub) -> None:
    """The ``sweep`` sub-command of ``sub`` (argparse sub-parsers)."""
    s = sub.add_parser("sweep", help="score every checkpoint a training run kept (train --save-every) and plot "
                       "DIVE (and FD) against training step")
    s.add_argument("ckpt_dir", help="the training --out folder (or its checkpoints/): step-NNNNNN model folders")
    s.add_argument("--task", required=True)
    s.add_argument("--out", required=True, help="sweep folder: score/step-N/ and fidelity/step-N/ run folders, "
                   "SWEEP.md, sweep.png; rerun to resume (finished checkpoints are skipped)")
    s.add_argument("--method", choices=["dive", "enumerate", "auto"], default="dive")
    s.add_argument("--adapter", default="dit", help="how to load each checkpoint folder (ADAPTER:PATH; default dit)")
    s.add_argument("--limit", type=int, help="score only the first N items (the same ones at every checkpoint)")
    s.add_argument("--seed", type=int, default=0, help="item and sample seeds (the same at every checkpoint)")
    s.add_argument("--device", default="cpu")
    s.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    s.add_argument("--items-per-batch", type=int, default=16)
    s.add_argument("--data-root")
    s.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    s.add_argument("--title", default="Checkpoint sweep")
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--stages", help="enumeration: adaptive schedule, as for score")
    s.add_argument("--no-prior", action="store_true", help=argparse.SUPPRESS)
    add_method_options(s)
    f = s.add_argument_group("fidelity (--fidelity)")
    f.add_argument("--fidelity", action="store_true", help="also sample each checkpoint and compute FD/FID")
    f.add_argument("--reference", help="DATASET[:SPLIT], as for `dive-bench fidelity`")
    f.add_argument("--num-samples", type=int, help="samples per checkpoint (default 5000)")
    f.add_argument("--feature-extractor", help="as for `dive-bench fidelity` (default inception-v3-compat)")
    f.add_argument("--sample-steps", type=int, help="sampler steps (default 50)")
    f.add_argument("--guidance", type=float, help="classifier-free guidance scale (default 1)")
    f.add_argument("--sampler", choices=["ddim", "ddpm", "dpm"])
    f.add_argument("--sample-batch-size", type=int, help="samples per sampling batch (memory, not results)")
    f.add_argument("--cache-dir", help="reference-statistics cache (computed once, read by every checkpoint)")
    f.add_argument("--inception-weights")
    f.add_argument("--dinov2-weights")
    s.set_defaults(func=cmd_sweep)
