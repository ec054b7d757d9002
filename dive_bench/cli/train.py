"""``dive-bench train``: the reference checkpoints (class-dit, layout, layout-prior,
feature-extractor). Torch and the trainers load inside ``cmd_train`` only, so building the parser
(``--help``, ``list``, ``check``) stays torch-free (tests/test_startup.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dive_bench.errors import DiveBenchError


def parse_class_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``"4x4,6x6,8x6"`` -> ((4, 4), (6, 6), (8, 6))."""
    try:
        return tuple((int(w), int(h)) for w, h in (part.lower().split("x") for part in text.split(",")))
    except ValueError:
        raise DiveBenchError(f"--class-sizes {text!r}: give WxH per class, comma-separated, e.g. 4x4,6x6,8x6") from None


def parse_widths(text: str) -> tuple[int, ...]:
    """``"16,32,64"`` -> (16, 32, 64): the feature extractor's three stage widths."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise DiveBenchError(f"--widths {text!r}: give three positive integers, comma-separated, e.g. 16,32,64")
    return widths


def cmd_train(args: argparse.Namespace) -> int:
    from dive_bench.util.environment import set_threads

    set_threads(args.threads)
    if args.kind == "layout":
        from dive_bench.training.layout import LayoutTrainConfig, train_layout

        opts = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr),
                                  ("width", args.width), ("vae", args.vae), ("patch", args.patch)) if v is not None}
        cfg = LayoutTrainConfig(seed=args.seed, save_dtype=args.save_dtype, **opts)
        dest = train_layout(cfg, Path(args.out), resume=not args.no_resume)
        print(f"model written to {dest} (use it as layout:{dest})")
        return 0
    if args.kind == "layout-prior":
        from dive_bench.training.layout_prior import PriorTrainConfig, train_layout_prior

        opts = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr),
                                  ("width", args.width)) if v is not None}
        opts["device"] = args.device
        if args.noised_fraction is not None:
            opts["noised_fraction"] = args.noised_fraction
        if args.prior_set:
            opts["prior_set"] = args.prior_set
        if args.predict_embedding:
            opts["predict_embedding"] = True
        if args.class_sizes:
            opts["class_sizes"] = parse_class_sizes(args.class_sizes)
        dest = train_layout_prior(Path(args.out), PriorTrainConfig(seed=args.seed, decoupled=args.decoupled, **opts))
        print(f"prior written to {dest}")
        return 0
    if args.kind == "feature-extractor":
        from dive_bench.training.feature_extractor import FeatureExtractorTrainConfig, train_feature_extractor

        opts = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr),
                                  ("augment", args.augment)) if v is not None}
        if args.widths:
            opts["widths"] = parse_widths(args.widths)
        cfg = FeatureExtractorTrainConfig(dataset=args.dataset or "fmnist", seed=args.seed, data_root=args.data_root, **opts)
        dest = train_feature_extractor(cfg, Path(args.out), resume=not args.no_resume)
        print(f"feature extractor written to {dest} (use it as --feature-extractor classifier:{dest})")
        return 0
    if args.kind not in ("class-dit", "class-unet"):
        raise DiveBenchError(f"unknown training kind {args.kind!r}; available: class-dit, class-unet, layout, "
                             "layout-prior, feature-extractor")
    from dive_bench.training.class_dit import ClassDiTTrainConfig, train_class_dit

    # only the options given: the config's defaults (the bundled models' recipe) fill the rest, so
    # Python and the CLI train the same default model; --steps 0 is refused by the config
    opts = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr)) if v is not None}
    architecture = args.kind.removeprefix("class-")
    preset = args.preset or ("s" if architecture == "unet" else "xs")
    cfg = ClassDiTTrainConfig(dataset=args.dataset or "digits", preset=preset, architecture=architecture,
                              objective=args.objective, seed=args.seed,
                              data_root=args.data_root, save_dtype=args.save_dtype, save_every=args.save_every, **opts)
    dest = train_class_dit(cfg, Path(args.out), resume=not args.no_resume)
    print(f"model written to {dest} (use it as {architecture}:{dest})")
    return 0


def add_train_parser(sub) -> None:
    """The ``train`` sub-command of ``sub`` (argparse sub-parsers)."""
    t = sub.add_parser("train", help="train a reference checkpoint")
    t.add_argument("kind", help="class-dit, class-unet, layout, layout-prior, feature-extractor")
    t.add_argument("--out", required=True, help="output folder (layout-prior: the layout model's folder)")
    t.add_argument("--decoupled", action="store_true", help="layout-prior: separate class and box priors")
    t.add_argument("--dataset", default=None, help="class-dit default digits; feature-extractor default fmnist")
    t.add_argument("--preset", default=None, help="class-dit: xs (default), s, b, m (dive_bench/models/class_dit.py); "
                                                   "class-unet: s (default; dive_bench/models/class_unet.py)")
    t.add_argument("--steps", type=int, default=None, help="class-dit default 2000")
    t.add_argument("--batch-size", type=int, default=None, help="class-dit default 64")
    t.add_argument("--lr", type=float, default=None, help="class-dit default 1e-3; layout 3e-4")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--width", type=int, default=None, help="layout / layout-prior: transformer width (default 128)")
    t.add_argument("--save-dtype", choices=["fp32", "fp16"], default="fp32",
                   help="class-dit, class-unet, layout: precision of the exported weights (fp16 halves the file; loading upcasts)")
    t.add_argument("--save-every", type=int, default=0, metavar="N",
                   help="class-dit, class-unet: also keep the EMA model every N steps in OUT/checkpoints/step-NNNNNN (a dit:PATH "
                        "folder each, for `dive-bench sweep OUT`; 0: none)")
    t.add_argument("--objective", choices=["eps", "v", "x0", "flow", "edm"], default="eps",
                   help="class-dit, class-unet: the training target (default eps); the export declares it in "
                        "dive_bench.json, so scoring and sampling use the matching parameterization")
    t.add_argument("--data-root")
    t.add_argument("--device", default="cpu", help="layout-prior: cpu or cuda (results differ from CPU only by float rounding)")
    t.add_argument("--noised-fraction", type=float, default=None,
                   help="layout-prior: noise only this share of the slots per query, the rest clean (default 1: all, "
                        "the paper's Eq. 3)")
    t.add_argument("--vae", help="layout: train in the latent space of this AutoencoderKL (local folder or hub id, "
                                 "e.g. stabilityai/sd-vae-ft-ema); it is exported with the model")
    t.add_argument("--patch", type=int, default=None, help="layout: transformer patch size (default 4)")
    t.add_argument("--prior-set", help="layout-prior: write into OUT/PRIOR_SET/ (e.g. sized), beside the default priors")
    t.add_argument("--predict-embedding", action="store_true",
                   help="layout-prior: predict each slot's clean embedding as a mixture of its vocabulary, not the noise")
    t.add_argument("--class-sizes", help="layout-prior: train on canvases with one size per class, WxH in grid cells "
                                         "in class order, e.g. 4x4,6x6,8x6 (the canvas-det-sized layouts)")
    t.add_argument("--augment", choices=["flip-shift", "flip", "none"], default=None,
                   help="feature-extractor: training augmentation (default flip-shift; canvas: flip, as a shift would "
                        "push shapes off the canvas)")
    t.add_argument("--widths", help="feature-extractor: conv widths of its three stages, e.g. 16,32,64 (default "
                                    "32,64,128; the last is the feature dimension)")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing train_state.pt in --out")
    t.set_defaults(func=cmd_train)
