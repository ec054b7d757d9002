"""``dive-bench position-check`` and ``prior-check``: win-rate gates on a layout model before any
inversion. Torch and the models load inside the command functions only, so building the parser
(``--help``, ``list``, ``check``) stays torch-free (tests/test_startup.py).
"""

from __future__ import annotations

import argparse

from dive_bench.errors import DiveBenchError


def _detection_images(task_name: str, num_images: int, threshold: float):
    """The first ``num_images`` of a detection task's split (the checks' held-out images)."""
    from dive_bench.tasks import TASKS

    if not 0 <= threshold <= 1:  # also refuses nan
        raise DiveBenchError(f"--threshold is a win rate and must be in [0, 1], got {threshold}")
    if num_images < 1:
        raise DiveBenchError(f"--num-images must be at least 1, got {num_images}")
    task = TASKS.get(task_name)
    if getattr(task, "kind", None) != "detection":
        raise DiveBenchError(f"task {task_name!r} is not a detection task; use canvas-det or canvas-det-sized")
    if num_images > task.num_images:
        raise DiveBenchError(f"--num-images {num_images} is more than the {task.num_images} images of {task_name}")
    return task.load()


def cmd_position_check(args: argparse.Namespace) -> int:
    from dive_bench.adapters import load_model
    from dive_bench.diagnostics.position_check import position_sensitivity
    from dive_bench.labels import LayoutLabels

    adapter = load_model(args.model)
    if not isinstance(getattr(adapter, "label_space", None), LayoutLabels):
        raise DiveBenchError(f"{args.model!r} is not a layout model; position-check needs a layout adapter")
    tok = adapter.tokenizer
    val = _detection_images(args.task, args.num_images, args.threshold)
    rates = position_sensitivity(adapter, val, tok, num_images=args.num_images)
    return _report_gate(rates, args.threshold, f"true layout must win in >= {args.threshold:.0%} of "
                                               f"{args.num_images} val images")


def _report_gate(rates: dict[str, float], threshold: float, rule: str) -> int:
    """Print a win-rate gate (position-check, prior-check) on one line; exit 0 if every rate passes."""
    passed = all(v >= threshold for v in rates.values())
    print(" | ".join(f"{k}: {v:.3f}" for k, v in rates.items()) + f" -> {'PASS' if passed else 'FAIL'} ({rule})")
    return 0 if passed else 1


def cmd_prior_check(args: argparse.Namespace) -> int:
    from dive_bench.adapters import load_model
    from dive_bench.diagnostics.prior_check import EDITS, SIZED_EDITS, prior_plausibility
    from dive_bench.labels import LayoutLabels
    from dive_bench.tasks import TASKS

    adapter = load_model(args.model)
    if not isinstance(getattr(adapter, "label_space", None), LayoutLabels):
        raise DiveBenchError(f"{args.model!r} is not a layout model; prior-check needs a layout adapter with a prior")
    if not getattr(adapter, "priors", None):
        raise DiveBenchError(f"{args.model!r} has no layout prior; train one with `dive-bench train layout-prior`")
    if args.variant not in adapter.priors:
        raise DiveBenchError(f"{args.model!r} has no {args.variant} prior (has: {', '.join(sorted(adapter.priors))})")
    val = _detection_images(args.task, args.num_images, args.threshold)
    edits = SIZED_EDITS if TASKS.get(args.task).class_sizes else EDITS
    rates = prior_plausibility(adapter, val, args.variant, num_images=args.num_images, edits=edits)
    return _report_gate(rates, args.threshold, f"{args.variant} prior: true layout must win in >= "
                                               f"{args.threshold:.0%} of {args.num_images} val layouts")


def add_diagnostics_parsers(sub) -> None:
    """The ``position-check`` and ``prior-check`` sub-commands of ``sub`` (argparse sub-parsers)."""
    pc = sub.add_parser("position-check", help="does a layout model use box positions? (exit 1 if not)")
    pc.add_argument("model")
    pc.add_argument("--task", default="canvas-det", help="detection task whose images are used (canvas-det, canvas-det-sized)")
    pc.add_argument("--num-images", type=int, default=100)
    pc.add_argument("--threshold", type=float, default=0.9)
    pc.set_defaults(func=cmd_position_check)
    pr = sub.add_parser("prior-check", help="does a layout prior prefer real layouts to implausible ones? (exit 1 if not)")
    pr.add_argument("model")
    pr.add_argument("--task", default="canvas-det",
                    help="detection task whose layouts are used; canvas-det-sized adds the 'resized' edit")
    pr.add_argument("--variant", choices=["joint", "decoupled"], default="joint")
    pr.add_argument("--num-images", type=int, default=100)
    pr.add_argument("--threshold", type=float, default=0.9)
    pr.set_defaults(func=cmd_prior_check)
