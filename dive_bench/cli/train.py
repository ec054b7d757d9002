"""``dive-bench train``: the reference checkpoints (class-dit, class-unet, layout, layout-prior,
feature-extractor).

The flags are generated from the recipes' declarations (``training/configs.py``): a recipe's
option with a flag becomes a flag, with its type, choices, help and each kind's default, and the
parsed flags build the recipe generically. Plumbing each option by hand let the CLI drift from the
recipe (a help that named an old default, an option only Python could set). Torch and the
trainers load inside ``cmd_train`` only, so building the parser (``--help``, ``list``, ``check``)
stays torch-free (tests/test_startup.py).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from functools import lru_cache

from dive_bench.cli.options import skipped
from dive_bench.errors import DiveBenchError
from dive_bench.spec.options import Allowed, allowed_of


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


#: flags of tuple-valued options: their text is parsed after argparse, so that a malformed value
#: gets the one-line message above (argparse would print its own and drop ours)
_PARSERS = {"--class-sizes": parse_class_sizes, "--widths": parse_widths}


def parse_number(flag: str, value_type: str, text: str) -> int | float:
    """A numeric flag's text as its declared type, refused in one line when it is not one (argparse's
    own refusal is a usage block). ``nan`` and ``inf`` parse as floats and are then refused by the
    declared range (``spec.options.validate``); an int flag takes whole numbers only, so ``1e30``
    steps is not silently read as some other number."""
    try:
        return int(text) if value_type == "int" else float(text)
    except ValueError:
        what, example = ("a whole number", "2000") if value_type == "int" else ("a number", "0.001")
        raise DiveBenchError(f"{flag} {text!r} is not {what}; give one, e.g. {flag} {example}") from None


@dataclass(frozen=True)
class Kind:
    """One kind of checkpoint: its recipe, the fields the kind itself decides, and the kind's own
    defaults where they differ from the recipe's (class-unet is the class recipe with a UNet)."""

    config: type
    fixed: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)


#: the kinds, in order (their recipes load with ``kinds()``: a command other than ``train`` needs
#: the names only)
KIND_NAMES = ("class-dit", "class-unet", "layout", "layout-prior", "feature-extractor")


@lru_cache(maxsize=1)
def kinds() -> dict[str, Kind]:
    """Each kind's recipe (``training/configs.py``, imported on first use)."""
    from dive_bench.training.configs import (ClassDiTTrainConfig, FeatureExtractorTrainConfig, LayoutTrainConfig,
                                             PriorTrainConfig)

    table = {"class-dit": Kind(ClassDiTTrainConfig, fixed={"architecture": "dit"}),
             "class-unet": Kind(ClassDiTTrainConfig, fixed={"architecture": "unet"}, defaults={"preset": "s"}),
             "layout": Kind(LayoutTrainConfig),
             "layout-prior": Kind(PriorTrainConfig),
             "feature-extractor": Kind(FeatureExtractorTrainConfig)}
    assert tuple(table) == KIND_NAMES
    return table


def __getattr__(name: str):
    if name == "KINDS":  # the table as a module attribute, built on first use
        return kinds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def recipe_flags() -> dict[str, tuple[Allowed, list[tuple[str, str, Any]]]]:
    """flag -> (its declaration, [(kind, field name, kind's default), ...]) for every recipe option
    with a flag, in declaration order. A flag shared by several recipes must be declared alike
    (``training/configs.py`` declares each through one helper); only its default may differ."""
    out: dict[str, tuple[Allowed, list]] = {}
    for kind, k in kinds().items():
        for f in fields(k.config):
            spec = allowed_of(f)
            if spec is None or not spec.flag:
                continue
            spec_seen, uses = out.setdefault(spec.flag, (spec, []))
            if spec_seen != spec:
                raise TypeError(f"{spec.flag} is declared differently by the {kind} recipe: declare it once")
            uses.append((kind, f.name, k.defaults.get(f.name, f.default)))
    return out


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _help(spec: Allowed, uses: list[tuple[str, str, Any]]) -> str:
    """The declared help, prefixed by the kinds it applies to (unless all) and followed by each
    kind's default (one value if they agree; none for an option unset by default)."""
    applies = list(dict.fromkeys(kind for kind, _, _ in uses))
    text = ("" if len(applies) == len(KIND_NAMES) else ", ".join(applies) + ": ") + spec.help
    defaults: dict[str, list[str]] = {}
    for kind, _, default in uses:
        if default is not None:
            defaults.setdefault(_shown(default), []).append(kind)
    if spec.value_type == "bool" or not defaults:
        return text
    if len(defaults) == 1:
        return f"{text} (default {next(iter(defaults))})"
    return f"{text} (default " + "; ".join(f"{', '.join(ks)} {d}" for d, ks in defaults.items()) + ")"


def add_recipe_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per recipe option (``recipe_flags``), defaulting to None: :func:`train_config`
    takes only the flags given, and the recipe (or the kind) fills the rest."""
    if skipped(parser):
        return
    for flag, (spec, uses) in recipe_flags().items():
        kwargs: dict = {"dest": _dest(flag), "default": None, "help": _help(spec, uses)}
        if spec.value_type == "bool":
            if any(default is not False for _, _, default in uses):
                raise TypeError(f"{flag}: a switch can only turn on an option that is off by default")
            kwargs["action"] = "store_true"
        elif spec.choices is not None:  # checked by validate(), in one line; shown in --help as argparse would
            kwargs["metavar"] = "{" + ",".join(map(str, spec.choices)) + "}"
        elif spec.value_type in ("int", "float"):  # parsed by train_config (parse_number), in one line
            kwargs["metavar"] = spec.value_type.upper()
        parser.add_argument(flag, *spec.old_flags, **kwargs)


def _not_for(kind: str, flag: str, uses: list[tuple[str, str, Any]]) -> DiveBenchError:
    """Why ``flag`` does not apply to ``kind``: its preset fixes it, or it belongs to other kinds."""
    owners = ", ".join(dict.fromkeys(k for k, _, _ in uses))
    names = {name for _, name, _ in uses}
    if names & set(getattr(kinds()[kind].config, "PRESET_FIXES", ())):
        return DiveBenchError(f"{flag} does not apply to {kind}: its --preset fixes the {'/'.join(sorted(names))} "
                              f"({flag} is a flag of {owners}); drop {flag} and choose the size with --preset")
    return DiveBenchError(f"{flag} does not apply to {kind}: it is a flag of {owners}; drop it, or train one of those")


def train_config(kind: str, args: argparse.Namespace) -> Any:
    """The recipe of ``kind`` with the flags given: the recipe's defaults (the bundled models')
    fill the rest, so Python and the CLI train the same default model. A flag of another kind's
    recipe is refused (it used to be ignored silently: ``--width`` on a class-dit trained the
    preset's width while the user believed otherwise)."""
    k = kinds()[kind]
    values = dict(k.defaults)
    for flag, (spec, uses) in recipe_flags().items():
        value = getattr(args, _dest(flag), None)
        if value is None or value is False:  # not given (a switch left off)
            continue
        mine = [name for use_kind, name, _ in uses if use_kind == kind]
        if not mine:
            raise _not_for(kind, flag, uses)
        if flag in _PARSERS:
            value = _PARSERS[flag](value)
        elif spec.value_type in ("int", "float") and isinstance(value, str):
            value = parse_number(flag, spec.value_type, value)
        for name in mine:
            values[name] = value
    return k.config(**{**values, **k.fixed})


def _train(kind: str, cfg: Any, out: Path, resume: bool, changes: bool = False) -> str:
    """Train ``cfg`` into ``out``; the line that says where the model went and how to use it."""
    if kind in ("class-dit", "class-unet"):
        from dive_bench.training.class_dit import train_class_dit

        dest = train_class_dit(cfg, out, resume=resume, resume_with_changes=changes)
        return f"model written to {dest} (use it as {cfg.architecture}:{dest})"
    if kind == "layout":
        from dive_bench.training.layout import train_layout

        dest = train_layout(cfg, out, resume=resume, resume_with_changes=changes)
        return f"model written to {dest} (use it as layout:{dest})"
    if kind == "layout-prior":
        from dive_bench.training.layout_prior import train_layout_prior

        return f"prior written to {train_layout_prior(out, cfg)}"
    from dive_bench.training.feature_extractor import train_feature_extractor

    dest = train_feature_extractor(cfg, out, resume=resume, resume_with_changes=changes)
    return f"feature extractor written to {dest} (use it as --feature-extractor classifier:{dest})"


def cmd_train(args: argparse.Namespace) -> int:
    from dive_bench.util.environment import set_threads

    set_threads(args.threads)
    if args.kind not in KIND_NAMES:
        raise DiveBenchError(f"unknown training kind {args.kind!r}; available: {', '.join(KIND_NAMES)}")
    if args.kind == "layout-prior" and (args.no_resume or args.resume_with_changes):
        flag = "--no-resume" if args.no_resume else "--resume-with-changes"
        raise DiveBenchError(f"{flag} does not apply to layout-prior: a prior is trained from scratch every time; "
                             f"drop {flag}")
    print(_train(args.kind, train_config(args.kind, args), Path(args.out), resume=not args.no_resume,
                 changes=args.resume_with_changes))
    return 0


def add_train_parser(sub) -> None:
    """The ``train`` sub-command of ``sub`` (argparse sub-parsers)."""
    t = sub.add_parser("train", help="train a reference checkpoint")
    t.add_argument("kind", help=", ".join(KIND_NAMES))
    t.add_argument("--out", required=True, help="output folder (layout-prior: the layout model's folder)")
    add_recipe_flags(t)
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.add_argument("--no-resume", action="store_true", help="ignore an existing train_state.pt in --out")
    t.add_argument("--resume-with-changes", action="store_true",
                   help="resume a run in --out under settings that differ from those it was trained with (refused "
                        "otherwise); the model card then lists which steps ran under which settings")
    t.set_defaults(func=cmd_train)
