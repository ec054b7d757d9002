"""``dive-bench demo``: where DIVE pays and where it does not, in a few minutes on a CPU.

DIVE's cost is flat in the number of classes K; Diffusion Classifier's enumeration grows with K.
A demo at K = 10 alone (the bundled digits model) shows DIVE spending more than enumeration, the
opposite of why anyone would use it. So the demo scores the two bundled numbers models side by
side, K = 10 and K = 1000, on the same first images of their test splits with the same 10 probes:

- ``--method auto`` (guard off, so its pick is the cost model's alone), which records the
  predicted cost of every candidate from forward and backward times measured on this machine;
- the other candidates that are cheap enough to run here: exhaustive enumeration and DIVE at
  K = 10, adaptive enumeration at K = 1000. Exhaustive enumeration at K = 1000 (10,000 evaluations
  per image, ~23 s per image on one core) is quoted from auto's prediction instead of run.

Every number is a real run through the public API (``dive_bench.evaluate``), resumable under
``--out``; accuracies on a few dozen images are indicative only (their intervals are printed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: (K, what to run besides auto): the methods named by the candidate names auto records
ROWS = ((10, ("exhaustive enumeration", "DIVE")), (1000, ("adaptive enumeration",)))
#: the candidates as ``evaluate`` arguments (method, options): the task's own defaults otherwise
METHODS = {"exhaustive enumeration": ("enumerate", {}), "adaptive enumeration": ("enumerate", {"stages": "dc"}),
           "DIVE": ("dive", {})}
#: 10 probes (timesteps 50, 150, ..., 950): the protocol of the stored numbers runs (NUMBERS.md)
PROTOCOL = {"interval": 100}


def _accuracy(run) -> str:
    a = run.metric("accuracy")
    return f"{100 * a['value']:5.1f} [{100 * a['ci_low']:.0f}, {100 * a['ci_high']:.0f}]"


def _rows_for(k: int, extra: tuple[str, ...], limit: int, out: Path, progress: bool) -> list[str]:
    import dive_bench as db

    model, task = f"dit-numbers-{k}", f"numbers-{k}"
    auto = db.evaluate(model, task, "auto", guard=0, limit=limit, out=out / f"k{k}" / "auto", progress=progress,
                       **PROTOCOL)
    choice = auto.method_choice
    runs = {choice["chosen"]: auto}
    for name in extra:
        method, options = METHODS[name]
        folder = out / f"k{k}" / name.split()[0].lower()
        runs[name] = db.evaluate(model, task, method, limit=limit, out=folder, progress=progress, **PROTOCOL,
                                 **options)
    lines = [f"K = {k}  ({model} on the first {limit} {task} test images, 10 probes)",
             f"  {'method':<24} {'top-1 % [95% CI]':<18} {'evals/image':>11} {'s/image':>9}  (predicted)"]
    for cand in choice["candidates"]:
        evals = cand["forward_evals"] + cand["train_evals"]
        run = runs.get(cand["name"])
        acc = _accuracy(run) if run else "not run"
        seconds = f"{run.seconds_per_item:9.3f}" if run else f"{'-':>9}"
        lines.append(f"  {cand['name']:<24} {acc:<18} {evals:>11,} {seconds}  ({cand['predicted_seconds']:.3f})")
    chosen = next(c for c in choice["candidates"] if c["name"] == choice["chosen"])
    lines.append(f"  --method auto picks {choice['chosen']}: the cheapest predicted, "
                 f"{chosen['forward_evals'] + chosen['train_evals']:,} evaluations ~{chosen['predicted_seconds']:.3g} s "
                 "per image")
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    print("DIVE vs Diffusion Classifier (enumeration): cost grows with the number of classes K for "
          "enumeration, not for DIVE")
    blocks = [_rows_for(k, extra, args.limit, out, not args.quiet) for k, extra in ROWS]
    for block in blocks:
        print("\n".join(block))
    print("evals/image counts a backward pass as two forwards; s/image measured here, (predicted) by auto's cost "
          "model from measured forward/backward times; exhaustive enumeration at K = 1000 is predicted, not run")
    print(f"results: {out}/k*/*/run.json")
    return 0


def add_demo_parser(sub) -> None:
    """The ``demo`` sub-command of ``sub`` (argparse sub-parsers)."""
    dm = sub.add_parser("demo", help="DIVE and enumeration at K = 10 and K = 1000 on the bundled numbers models "
                        "(about 3 minutes on a CPU)")
    dm.add_argument("--limit", type=int, default=50, help="test images per label space (default 50)")
    dm.add_argument("--out", default="runs/demo")
    dm.add_argument("--quiet", action="store_true")
    dm.set_defaults(func=cmd_demo)
