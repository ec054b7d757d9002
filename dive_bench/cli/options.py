"""Command-line flags generated from the option declarations of :mod:`dive_bench.spec`.

Every DIVE and enumeration option is declared once in ``spec/configs.py``, and every run option
(score, fidelity, ``--method auto``'s guard) once in ``spec/run_options.py``, with
``spec.options.option``: type, range, choices, flag, earlier flags, help. This module turns those
declarations into argparse options and the parsed flags back into the keyword arguments the API
and the run requests take, so the CLI, ``dive_bench.evaluate`` and ``dive_bench.generative`` accept
exactly the same options with the same help. It imports no torch.
"""

from __future__ import annotations

import argparse

from dive_bench.errors import DiveBenchError


class SkippedParser:
    """Stands in for the sub-parser of a command this invocation does not run. ``dive-bench list``
    has no use for the generated flags of score, fidelity, sweep and train, whose declarations
    import ~10 ms of modules (a tenth of its start-up); the command is still listed, with its
    help, by the real sub-parser behind it. Every call on it is accepted and ignored."""

    def __getattr__(self, name: str):
        return self._ignore

    def _ignore(self, *args, **kwargs) -> "SkippedParser":
        return self


class LazySubparsers:
    """argparse's sub-parsers, building only the flags of ``only`` (None: of every command)."""

    def __init__(self, sub, only: str | None) -> None:
        self.sub, self.only = sub, only

    def add_parser(self, name: str, **kwargs):
        parser = self.sub.add_parser(name, **kwargs)
        return parser if self.only is None or name == self.only else SkippedParser()


def skipped(parser) -> bool:
    """Whether ``parser`` belongs to a command this invocation does not run (see :class:`SkippedParser`)."""
    return isinstance(parser, SkippedParser)


def _parse_stages(text: str | None) -> tuple[tuple[int, int], ...] | None:
    """'25:2,250:1' -> ((25, 2), (250, 1)): probes in each stage, classes kept after it; 'dc' is
    Diffusion Classifier's ImageNet schedule scaled to the model's K and the probe count."""
    if text is None:
        return None
    if text == "dc":
        return "dc"  # type: ignore[return-value]  (resolved once K and P are known)
    try:
        return tuple((int(a), int(b)) for a, b in (part.split(":") for part in text.split(",")))
    except ValueError as exc:
        raise DiveBenchError(f"--stages {text!r} must look like '25:2,250:1' (probes:kept per stage)") from exc


def _integer(text: str) -> int | float:
    """An integer flag's value: an int, or (``1e30``, ``2.5``) the number as written, so that the
    option's declaration refuses it with its allowed range (``spec.options.validate``) instead of
    argparse's bare "invalid int value"; text that is no number is argparse's to refuse."""
    try:
        return int(text)
    except ValueError:
        return float(text)


_integer.__name__ = "int"  # argparse names the type in "invalid int value: 'abc'"


#: flags whose value is not the field's own type: (argparse keyword arguments, value when given)
#: choices only the library itself uses (a start layout handed over in code)
_INTERNAL_CHOICES = ("labels",)
_SPECIAL_FLAGS = {"--no-snap": ({"action": "store_true"}, False),
                  "--decoupled-prior": ({"action": "store_true"}, "decoupled")}


def _method_fields():
    """(flag, group, [(method, field name), ...], declaration, default) for every method option,
    in declaration order; a flag shared by both methods (the probes, --eval-batch) appears once."""
    from dive_bench.spec.configs import CONFIGS, PROBE_FIELDS
    from dive_bench.spec.options import allowed_of, leaves

    out: dict[str, list] = {}
    for method, cls in CONFIGS.items():
        for name, _, f in leaves(cls):
            spec = allowed_of(f)
            if spec is None or not spec.flag:
                continue
            group = "probes (both methods)" if name in PROBE_FIELDS or spec.flag == "--eval-batch" else \
                {"dive": "DIVE", "enumerate": "enumeration"}[method]
            entry = out.setdefault(spec.flag, [spec.flag, group, [], spec, {}])
            entry[2].append((method, name))
            entry[4][method] = f.default
    return [tuple(v) for v in out.values()]


def add_method_options(parser: argparse.ArgumentParser) -> None:
    """Method flags generated from the config declarations (``configs.py``): one table of names,
    types, ranges, defaults and help for the API and the CLI."""
    if skipped(parser):
        return
    groups: dict[str, argparse._ArgumentGroup] = {}
    for flag, group, targets, spec, default in _method_fields():
        g = groups.setdefault(group, parser.add_argument_group(group))
        shown = {m: "unset" if v is None else v for m, v in default.items()}
        if len(set(map(str, shown.values()))) == 1:
            help_text = f"{spec.help} (default {next(iter(shown.values()))}"
        else:
            help_text = f"{spec.help} (default " + ", ".join(f"{m} {v}" for m, v in shown.items())
        help_text += ("" if len(shown) > 1 else "; tasks may set their own") + ")"
        # a renamed option keeps its earlier flag as an alias (e.g. --batch-size for --probes-per-step)
        names = (flag, *spec.old_flags)
        if spec.old_flags:
            help_text += f"; also {', '.join(spec.old_flags)}"
        if flag in _SPECIAL_FLAGS:
            g.add_argument(*names, help=spec.help, **_SPECIAL_FLAGS[flag][0])
        elif spec.value_type == "bool":
            g.add_argument(*names, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif spec.choices is not None:
            choices = [c for c in spec.choices if c not in _INTERNAL_CHOICES]
            g.add_argument(*names, choices=choices, default=None, help=help_text)
        else:
            g.add_argument(*names, type=_integer if spec.value_type == "int" else float, default=None, help=help_text)


def method_config(args: argparse.Namespace) -> dict:
    """Only the options given on the command line: the task's and the method's defaults fill the rest."""
    given: dict = {}
    for flag, _, targets, _, _ in _method_fields():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is None or value is False and flag in _SPECIAL_FLAGS:
            continue
        if flag in _SPECIAL_FLAGS:
            value = _SPECIAL_FLAGS[flag][1]
        # auto: each option goes to the methods that have it (auto.split_options); an option only
        # another method has is passed on under its name, for the config to refuse
        # (configs.check_names): dropping it here would ignore it silently
        mine = [name for method, name in targets if method == args.method or args.method == "auto"]
        given.update({name: value for name in (mine or [targets[0][1]])})
    if args.stages is not None:  # "" is a malformed schedule, not "no --stages"
        given["stages"] = _parse_stages(args.stages)
    for name in ("guard", "guard_misses"):  # auto's own options (auto.split_options checks them)
        if getattr(args, name, None) is not None:
            if args.method != "auto":
                flag = "--" + name.replace("_", "-")
                raise DiveBenchError(f"{flag} checks --method auto's choice; add --method auto or drop {flag}")
            given[name] = getattr(args, name)
    if args.no_prior and args.method != "dive":
        raise DiveBenchError(f"--no-prior switches DIVE's layout prior off, and --method {args.method} has none; "
                             "drop --no-prior or use --method dive")
    if args.method == "dive" and args.no_prior:
        given["prior_weight"] = 0.0
        given["prior_repairs"] = False  # repairs come from the prior too
    return given


def add_declared(parser, cls: type, *, only: tuple[str, ...] | None = None, skip: tuple[str, ...] = (),
                 title: str | None = None, required: tuple[str, ...] = (), dest_prefix: str = "") -> None:
    """One flag per declared option of ``cls`` (``spec.run_options``), with its help, type, choices
    and declared default in the help. Flags default to None, so :func:`declared_values` returns only
    what was given and the request's declaration fills the rest. An earlier flag kept as an alias
    (``--steps`` for ``--sampler-steps``) is added unless the parser already uses that string for
    another option (``sweep``'s ``--steps`` is DIVE's). ``dest_prefix`` keeps two declarations
    with a field of the same name apart in one parser (``sweep``: DIVE's ``steps``, the sampler's)."""
    if skipped(parser):
        return
    from dive_bench.spec.options import allowed_of
    from dive_bench.spec.run_options import declared

    target = parser.add_argument_group(title) if title else parser
    for name, f in declared(cls).items():
        if (only is not None and name not in only) or name in skip:
            continue
        spec = allowed_of(f)
        aliases = [a for a in spec.old_flags if a not in parser._option_string_actions]
        shown = "unset" if f.default is None else f.default
        help_text = spec.help + ("" if spec.value_type == "bool" or name in required else f" (default {shown})")
        if aliases:
            help_text += f"; also {', '.join(aliases)}"
        kwargs: dict = {"dest": dest_prefix + name, "default": None, "help": help_text}
        if name in required:
            kwargs["required"] = True
        if spec.value_type == "bool":
            kwargs["action"] = "store_true"
        elif spec.choices is not None:
            kwargs["choices"] = list(spec.choices)
        elif spec.value_type == "metric=value":  # repeatable, as check's --margin
            kwargs.update(action="append", metavar="METRIC=VALUE")
        else:
            kwargs["type"] = {"int": _integer, "float": float}.get(spec.value_type, str)
            kwargs["metavar"] = spec.flag.lstrip("-").replace("-", "_").upper()
        target.add_argument(spec.flag, *aliases, **kwargs)


def declared_values(args: argparse.Namespace, cls: type, dest_prefix: str = "") -> dict:
    """The options of ``cls`` given on the command line, by field name (the request's keywords)."""
    from dive_bench.spec.run_options import declared

    values = {name: getattr(args, dest_prefix + name, None) for name in declared(cls)}
    return {name: v for name, v in values.items() if v is not None}
