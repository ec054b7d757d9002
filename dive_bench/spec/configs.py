"""Method configurations: every option of DIVE and enumeration, its default and its allowed values.

This module is the one table of method defaults. It imports no torch, so the CLI's help, the
leaderboard and ``check`` read it without loading a deep-learning stack; the API, the CLI and
``validate`` all see the same declarations (``constraints.option``).

Fields fall in three groups (``PROBE_FIELDS``, ``RUNTIME_FIELDS``, the rest): the probes, shared by
both methods, say on which fixed (timestep, noise) pairs a model is scored, and so which runs can
be compared at all; runtime fields only trade memory for speed and never change a number, so they
are not part of a run's key; the rest are the method's own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from dive_bench.spec.options import allowed_of, leaves, nested, option
from dive_bench.errors import DiveBenchError
from dive_bench.util.suggest import did_you_mean

#: Upper bounds of the numeric options. A finite but absurd value (``--steps 1e30``, ``--lr 1e308``)
#: used to pass validation and then fail every item, or overflow a tensor size; each bound is far
#: beyond any setting that makes sense and small enough to fit memory and time. Timesteps: the
#: longest DDPM schedules have 1000-4000; probes per step cannot usefully exceed the probe set;
#: DIVE's learning rate is 0.5 x the vocabulary std (1e-2 for DiT), so 10 is a thousand times that.
MAX_STEPS = 100_000
MAX_TIMESTEPS = 10_000
MAX_PROBES = 10_000
MAX_CLASSES = 1_000_000
MAX_BATCH = 1_000_000
MAX_LR = 10.0
MAX_WEIGHT = 1e4
MAX_SEED = 2 ** 63 - 1

#: per-sample error of the noise prediction, and the per-probe weightings (see probes.timestep_weight)
LOSSES = ("l2", "l1", "huber")
WEIGHTINGS = ("none", "x0")


@dataclass(frozen=True)
class ProbeSpec:
    """Which fixed (timestep, noise) pairs score a model: timesteps interval/2 + k*interval, one
    ``probe_seed`` noise per timestep, the error ``loss`` and its per-probe ``weighting``.

    Declared once and nested in both methods' configs (``config.probes``) under the same flat
    names, so DIVE and enumeration cannot drift apart in a default, a range or a help line: the
    probes decide which runs of the two methods can be compared at all."""

    interval: int = option(4, value_type="int", low=1, high=MAX_TIMESTEPS, flag="--interval", help="timestep interval: probes at interval/2 + k*interval (4 is the paper's)")
    probe_seed: int = option(42, value_type="int", low=0, high=MAX_SEED, flag="--probe-seed", help="seed of the one noise per probe timestep, shared by all images")
    loss: str = option("l2", choices=LOSSES, flag="--loss", help="per-sample error of the noise prediction")
    #: per-probe weight of the error: "none" (DIVE, Diffusion Classifier) or "x0" (layouts)
    weighting: str = option("none", choices=WEIGHTINGS, flag="--weighting", help="per-probe weight: none (classification) or x0 = min((1-a_t)/a_t, 20) (layouts)")


#: the flat names of the fields that define the probe set (the same in every method's config)
PROBE_FIELDS = tuple(f.name for f in fields(ProbeSpec))


def num_probes(interval: int, num_train_timesteps: int = 1000) -> int:
    """How many probes ``interval`` gives: timesteps interval/2, interval/2 + interval, ... below
    ``num_train_timesteps`` (``inversion.probes.ProbeSet.build`` makes exactly these)."""
    return len(range(interval // 2, num_train_timesteps, interval))


class _MethodConfig:
    #: the method this config belongs to (``CONFIGS``)
    method: ClassVar[str] = ""

    @classmethod
    def of(cls, **flat: Any) -> Any:
        """The config from flat keyword names, current or stored: ``DiveConfig.of(steps=50,
        interval=50, prior_weight=0.1)`` (see :func:`from_flat`); the constructor itself takes
        sub-configs (``probes=ProbeSpec(...)``)."""
        return from_flat(cls.method, flat)


#: how DIVE's verify step scores its candidates (see DiveConfig.verify_schedule)
VERIFY_SCHEDULES = ("all", "dc")
#: slot initialisations (see DiveConfig.init)
INITS = ("gaussian", "mean", "none", "labels", "coarse")


@dataclass(frozen=True)
class PriorConfig:
    """Layouts: the layout prior's denoising loss added to DIVE's objective (the paper's Eq. 6).
    Its flat names (API keywords, run.json) are ``prior_`` + the field name."""

    #: weight of the prior's loss (0: no prior)
    weight: float = option(0.0, value_type="float", low=0, high=MAX_WEIGHT, flag="--prior-weight", help="layouts: weight of the layout prior's loss")
    #: "joint" (one prior over class and box slots) or "decoupled" (separate class and box priors)
    structure: str = option("joint", choices=("joint", "decoupled"), flag="--decoupled-prior", help="layouts ablation: separate class and box priors")
    #: (t, noise) draws of the prior loss per image and step, averaged: one draw gives a gradient
    #: whose noise is larger than its mean (measured at true layouts of the canvas set)
    probes: int = option(1, value_type="int", low=1, high=MAX_PROBES, flag="--prior-probes", help="layouts: (t, noise) draws of the prior loss per step")
    #: add the prior's error (weight x its mean over fixed (t, noise) draws) to the monitor value,
    #: so that the answer is the visited layout best under the whole objective, not the image term
    #: alone (the paper does not say which; off keeps the earlier behaviour)
    in_monitor: bool = option(False, value_type="bool", flag="--prior-in-monitor", help="layouts: add the weighted prior error to the monitor value that picks the answer")


@dataclass(frozen=True)
class LayoutSearchConfig:
    """Layouts: discrete moves tried at each monitor pass beside the gradient (our additions, not
    the paper's: the gradient rarely flips a snapped slot to a better neighbour)."""

    #: score the prior's one-slot repairs of the current layout (``inversion.layout.repairs``) and
    #: continue from the best if it beats the current one (needs a prior weight > 0)
    prior_repairs: bool = option(False, value_type="bool", flag="--prior-repairs", help="layouts: also score the prior's one-slot repairs at each monitor pass (our addition)")
    #: the same over a blind neighbourhood (each box side moved one grid value), no prior needed:
    #: the control that tells the prior's proposals from the search itself; on by default for the
    #: canvas tasks
    neighbour_repairs: bool = option(False, value_type="bool", flag="--neighbour-repairs", help="layouts: also score every one-cell move of a box side at each monitor pass (our addition)")


@dataclass
class DiveConfig(_MethodConfig):
    """DIVE's settings: the optimiser and snapping (core), the probes, a memory knob, and for
    layouts the prior (:class:`PriorConfig`) and the discrete search (:class:`LayoutSearchConfig`).

    Build one from flat names (API keywords, run.json) with :func:`from_flat`; ``to_flat`` gives
    them back. Run keys hash the flat config under its stored names (``STORED_NAMES``)."""

    method: ClassVar[str] = "dive"

    steps: int = option(200, value_type="int", low=0, high=MAX_STEPS, flag="--steps", help="AdamW steps per image (0 only with --init coarse: score the start alone)")
    #: probes per image per optimiser step (was ``batch_size``)
    probes_per_step: int = option(25, value_type="int", low=1, high=MAX_PROBES, flag="--probes-per-step", old_flags=("--batch-size",), help="probes per image per optimiser step")
    #: optimiser steps per loop; the monitor runs after each loop
    monitor_every: int = option(10, value_type="int", low=1, high=MAX_STEPS, flag="--monitor-every", help="optimiser steps between monitor passes over all probes")
    #: None: 0.5 x the vocabulary's std (= the released 1e-2 for DiT's 0.02-std tables)
    lr: float | None = option(None, value_type="float", low=0, low_open=True, high=MAX_LR, optional=True, flag="--lr", help="AdamW learning rate; unset: 0.5 x the vocabulary std (0.01 is the paper's)")
    weight_decay: float = option(0.01, value_type="float", low=0, high=MAX_WEIGHT, flag="--weight-decay", help="AdamW weight decay")
    #: nearest-entry distance for snapping: "l2" (released code) or "cosine" (paper's detection)
    #: (was ``metric``, a word every table uses for accuracy and AP)
    snap_distance: str = option("l2", choices=("l2", "cosine"), flag="--snap-distance", old_flags=("--metric",), help="nearest-neighbour snapping distance")
    #: False = ablation "w/o in-vocabulary optimisation": optimise the continuous embedding
    snap: bool = option(True, value_type="bool", flag="--no-snap", help="ablation: optimise the continuous embedding (no in-vocabulary snapping)")
    #: "gaussian": N(table mean, table std) per element (released code); "mean": the table mean
    #: row; "none": each slot's [none] entry (the paper's detection init; needs adapter.none_index);
    #: "labels": the ``init_labels`` given to ``invert`` (e.g. a seed layout), monitored at step 0;
    #: "coarse" (layouts, handled by the dive method): labels from ``inversion.layout.seed.coarse_seed``
    init: str = option("gaussian", choices=INITS, flag="--init", help="slot init; coarse = layouts seeded from a coarse single-object enumeration")
    #: stop an image after this many monitor passes without improvement (None: never)
    patience: int | None = option(None, value_type="int", low=1, high=MAX_STEPS, optional=True, flag="--patience", help="early stop after N monitor passes without improvement")
    #: classes: after the search, also score the ``verify`` vocabulary entries nearest to each
    #: image's final embedding on all probes (already-scored ones are free) and answer with the best
    #: monitor value overall. Our addition: at K = 1000 the embedding often ends near the true class
    #: without ever snapping to it (README, "Large label spaces")
    verify: int = option(0, value_type="int", low=0, high=MAX_CLASSES, flag="--verify", help="classes: also score the N entries nearest the final embedding on all probes (our addition)")
    #: how the ``verify`` entries are scored: "all" probes each, or "dc": Diffusion Classifier's
    #: staged pruning scaled to N entries and P probes (``cost.scaled_stages``), so a wide
    #: neighbourhood costs little more than a narrow one (our addition; README, "Large label spaces")
    verify_schedule: str = option("all", choices=VERIFY_SCHEDULES, flag="--verify-schedule", help="classes: score the --verify entries on all probes, or prune them in Diffusion Classifier's stages (dc)")
    #: interval, probe_seed, loss, weighting (flat names, as every method has them)
    probes: ProbeSpec = nested(ProbeSpec)
    #: max samples in one no-grad forward pass of the monitor (was ``monitor_batch``)
    eval_batch: int = option(500, value_type="int", low=1, high=MAX_BATCH, flag="--eval-batch", help="samples per no-grad forward pass (memory only, not part of the run key)")
    prior: PriorConfig = nested(PriorConfig, prefix="prior_")
    search: LayoutSearchConfig = nested(LayoutSearchConfig)

    def check(self) -> None:
        """Rules across fields (ranges of single fields are declared above)."""
        if self.init == "labels":
            raise DiveBenchError("--init (init) 'labels' starts from layouts handed to inversion.invert in code; "
                                 "for a scored run use coarse (seeded layouts), gaussian, mean or none")
        if self.verify_schedule != "all" and not self.verify:
            raise DiveBenchError("--verify-schedule (verify_schedule) says how the --verify entries are scored; "
                                 "give --verify N (N >= 1) or drop --verify-schedule")
        if self.verify and not self.snap:
            raise DiveBenchError("--verify (verify) scores vocabulary entries near the final embedding, which only "
                                 "snapped runs compare by their monitor value; drop --verify or --no-snap")
        if self.steps == 0 and self.init not in ("labels", "coarse"):
            raise DiveBenchError(f"--steps (steps) 0 leaves nothing to predict from init {self.init!r}: the "
                                 "prediction is the best monitor value and a random start is never monitored. Use "
                                 "--steps >= 1 (0 is meaningful only with --init coarse, to score the start alone)")


@dataclass
class EnumerationConfig(_MethodConfig):
    method: ClassVar[str] = "enumerate"

    #: interval, probe_seed, loss, weighting (flat names, as every method has them)
    probes: ProbeSpec = nested(ProbeSpec)
    #: ((probes in this stage, classes kept after it), ...); None = exhaustive on all probes;
    #: "dc" = Diffusion Classifier's ImageNet schedule scaled to the model's K and the probe count
    #: (``cost.scaled_stages``; the run stores the resolved stages)
    stages: tuple[tuple[int, int], ...] | str | None = None
    #: samples per no-grad forward pass (memory, not results; was ``batch_size``)
    eval_batch: int = option(250, value_type="int", low=1, high=MAX_BATCH, flag="--eval-batch", help="samples per no-grad forward pass (memory only, not part of the run key)")

    def check(self) -> None:
        """Stages: probes >= 1 and growing, kept classes >= 1 and shrinking (probe counts are
        checked against the probe set when it exists, in ``check_stages``)."""
        if self.stages is None or self.stages == "dc":
            return
        what = "--stages must be PROBES:KEPT pairs with PROBES >= 1 growing and KEPT >= 1 shrinking, e.g. 25:3,250:1"
        try:
            pairs = [(int(a), int(b)) for a, b in self.stages]
        except (TypeError, ValueError):
            raise DiveBenchError(f"{what}; got {self.stages!r}") from None
        if not pairs or any(a < 1 or b < 1 for a, b in pairs) or \
                any(a2 < a1 or b2 > b1 for (a1, b1), (a2, b2) in zip(pairs, pairs[1:])):
            raise DiveBenchError(f"{what}; got {','.join(f'{a}:{b}' for a, b in pairs) or 'nothing'}")


def check_stages(stages: tuple[tuple[int, int], ...] | None, num_probes: int) -> None:
    """A stage cannot use more probes than the probe set has (it would silently use fewer)."""
    for n_probes, _ in stages or ():
        if n_probes > num_probes:
            raise DiveBenchError(f"--stages asks for {n_probes} probes but the probe set has {num_probes} "
                                 "(timestep interval); use at most that many")


#: the config class of each method
CONFIGS: dict[str, type] = {"dive": DiveConfig, "enumerate": EnumerationConfig}

#: Options renamed since runs were first stored: current flat name -> stored name. run.json files of
#: schema 1 (and every shard written before the rename) hold the stored names, and run keys hash
#: the config under them, so every stored key stays valid; readers map them back (``canonical``).
STORED_NAMES: dict[str, dict[str, str]] = {
    "dive": {"probes_per_step": "batch_size", "snap_distance": "metric", "eval_batch": "monitor_batch",
             "prior_structure": "prior"},
    "enumerate": {"eval_batch": "batch_size"},
}

#: memory/speed knobs: they never change a result, so a run's key leaves them out (runs stored
#: before this rule keep resuming: see ``spec.RunSpec.legacy_keys``)
RUNTIME_FIELDS: dict[str, tuple[str, ...]] = {"dive": ("eval_batch",), "enumerate": ("eval_batch",)}

#: Config fields added after runs were stored, each with the value that reproduces the behaviour
#: from before it existed. While a field has that value it is left out of the run key, so a run
#: (or one shard of it) started before the field existed resumes and merges with one started after.
LATER_FIELDS: dict[str, dict[str, Any]] = {"dive": {"prior_probes": 1, "prior_in_monitor": False, "prior_repairs": False,
                                                      "neighbour_repairs": False, "verify": 0,
                                                      "verify_schedule": "all"}}


#: Fields added before ``LATER_FIELDS`` existed, newest group first, each at the value that
#: reproduces the behaviour from before it: the first stored runs (Fashion-MNIST) have keys without
#: them, so ``spec.RunSpec.legacy_keys`` also tries the key with the newest 1, 2, ... groups left out.
EARLY_FIELDS: dict[str, tuple[dict[str, Any], ...]] = {
    "dive": ({"weighting": "none"}, {"prior_weight": 0.0, "prior_structure": "joint"}),
    "enumerate": ({"weighting": "none"},),
}


def flat_names(method: str) -> list[str]:
    """The option names of ``method`` as keywords, run.json keys and (dashed) flags."""
    return [name for name, _, _ in leaves(CONFIGS[method])]


def canonical(method: str, config: dict) -> dict:
    """``config`` (flat; current or stored names) with current names."""
    old = {v: k for k, v in STORED_NAMES.get(method, {}).items()}
    return {old.get(k, k): v for k, v in config.items()}


def to_flat(config: Any) -> dict:
    """A config object as its flat dict of current names (what run.json stores since schema 2)."""
    out = {}
    for name, path, _ in leaves(type(config)):
        value = config
        for attr in path:
            value = getattr(value, attr)
        out[name] = value
    return out


def check_names(method: str, config: dict, *, extra: tuple[str, ...] = ()) -> None:
    """Refuse option names ``method`` would not use, in one place for the API, the CLI and stored
    configs: a name given twice (current and earlier name, ``probes_per_step`` and ``batch_size``),
    another method's option (``verify`` for enumerate, ``stages`` for DIVE: it would be dropped
    silently), or a typo (with a suggestion; ``extra`` are other names the caller accepts, offered
    as suggestions too)."""
    stored = STORED_NAMES.get(method, {})
    seen: dict[str, str] = {}
    for given in config:
        name = stored_to_current(method, given)
        if name in seen:
            raise DiveBenchError(f"{method} options {seen[name]!r} and {given!r} name one option "
                                 f"({_flag_and_name(method, name)}); give it once")
        seen[name] = given
    known = flat_names(method)
    for given, name in ((g, stored_to_current(method, g)) for g in config):
        if name in known:
            continue
        owners = [m for m in CONFIGS if m != method and stored_to_current(m, given) in flat_names(m)]
        if owners:
            other = owners[0]
            label = _flag_and_name(other, stored_to_current(other, given))
            raise DiveBenchError(f"{label} is an option of --method {other}, which {method} would ignore; "
                                 f"drop it or use --method {other}")
        hint = did_you_mean(given, known + list(extra), n=1, cutoff=0.6)
        raise DiveBenchError(f"{method} has no option {given!r}.{hint} Options: {', '.join(known)}")


def stored_to_current(method: str, name: str) -> str:
    """The current flat name of ``name`` (itself, or the option it was stored as before a rename)."""
    return {v: k for k, v in STORED_NAMES.get(method, {}).items()}.get(name, name)


def _flag_and_name(method: str, name: str) -> str:
    """``--flag (name)`` of an option, as every message names it; ``--stages (stages)`` for the
    fields without a declaration."""
    for flat, _, f in leaves(CONFIGS[method]):
        if flat == name:
            spec = allowed_of(f)
            flag = spec.flag if spec is not None and spec.flag else "--" + name.replace("_", "-")
            return f"{flag} ({name})"
    return name


def from_flat(method: str, config: dict) -> Any:
    """The config object of ``method`` from flat names (current or stored); an unknown name, one
    of another method or one given twice is refused (:func:`check_names`), so an option is never
    silently ignored."""
    cls = CONFIGS[method]
    check_names(method, config)
    flat = canonical(method, config)
    obj = cls()
    for name, path, _ in leaves(cls):
        if name in flat:
            obj = _set(obj, path, flat[name])
    return obj


def _set(obj: Any, path: tuple[str, ...], value: Any) -> Any:
    if len(path) == 1:
        return replace(obj, **{path[0]: value})
    return replace(obj, **{path[0]: _set(getattr(obj, path[0]), path[1:], value)})


def defaults(method: str) -> dict:
    """The default config of ``method`` as a flat dict ({} for a method without a config class)."""
    cls = CONFIGS.get(method)
    return to_flat(cls()) if cls else {}


def normalized_config(method: str, config: dict) -> dict:
    """A stored method config with current names, and fields added after it was written filled
    in with their defaults. New fields get defaults that reproduce the earlier behaviour, so old
    run.json files stay comparable with new ones."""
    return {**defaults(method), **canonical(method, config)}


def key_config(method: str, config: dict, *, legacy: bool = False, early: int = 0) -> dict:
    """``config`` as the run key sees it, under its stored names: runtime knobs dropped
    (``legacy`` keeps them, as keys made before that rule did) and later fields at their
    behaviour-preserving value dropped (``early`` drops the newest ``early`` groups of
    ``EARLY_FIELDS`` too, as the first runs' keys did)."""
    later = dict(LATER_FIELDS.get(method, {}))
    for group in EARLY_FIELDS.get(method, ())[:early]:
        later.update(group)
    runtime = () if legacy else RUNTIME_FIELDS.get(method, ())
    stored = STORED_NAMES.get(method, {})
    return {stored.get(k, k): v for k, v in canonical(method, config).items()
            if k not in runtime and not (k in later and v == later[k])}


def comparable_config(method: str, config: dict) -> dict:
    """What decides whether two runs of ``method`` measured the same thing: the normalized config
    without runtime knobs."""
    runtime = RUNTIME_FIELDS.get(method, ())
    return {k: v for k, v in normalized_config(method, config).items() if k not in runtime}
