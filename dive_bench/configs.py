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

from dataclasses import asdict, dataclass, fields
from typing import Any

from .constraints import option
from .errors import DiveBenchError

#: per-sample error of the noise prediction, and the per-probe weightings (see probes.timestep_weight)
LOSSES = ("l2", "l1", "huber")
WEIGHTINGS = ("none", "x0")
#: the fields that define the probe set (the same names in every method's config)
PROBE_FIELDS = ("interval", "probe_seed", "loss", "weighting")


@dataclass(frozen=True)
class ProbeSpec:
    """Which fixed (timestep, noise) pairs score a model: timesteps interval/2 + k*interval, one
    ``probe_seed`` noise per timestep, the error ``loss`` and its per-probe ``weighting``."""

    interval: int = option(4, kind="int", low=1, flag="--interval", help="timestep interval: probes at interval/2 + k*interval (4 is the paper's)")
    probe_seed: int = option(42, kind="int", low=0, flag="--probe-seed", help="seed of the one noise per probe timestep, shared by all images")
    loss: str = option("l2", choices=LOSSES, flag="--loss", help="per-sample error of the noise prediction")
    weighting: str = option("none", choices=WEIGHTINGS, flag="--weighting", help="per-probe weight: none (classification) or x0 = min((1-a_t)/a_t, 20) (layouts)")


def num_probes(interval: int, num_train_timesteps: int = 1000) -> int:
    """How many probes ``interval`` gives: timesteps interval/2, interval/2 + interval, ... below
    ``num_train_timesteps`` (``inversion.probes.ProbeSet.build`` makes exactly these)."""
    return len(range(interval // 2, num_train_timesteps, interval))


class _HasProbes:
    @property
    def probes(self) -> ProbeSpec:
        return ProbeSpec(**{k: getattr(self, k) for k in PROBE_FIELDS})


#: slot initialisations (see DiveConfig.init)
INITS = ("gaussian", "mean", "none", "labels", "coarse")


@dataclass
class DiveConfig(_HasProbes):
    steps: int = option(200, kind="int", low=0, flag="--steps", help="AdamW steps per image (0 only with --init coarse: score the start alone)")
    #: probes per image per optimiser step
    batch_size: int = option(25, kind="int", low=1, flag="--batch-size", help="probes per image per optimiser step")
    #: optimiser steps per loop; the monitor runs after each loop
    monitor_every: int = option(10, kind="int", low=1, flag="--monitor-every", help="optimiser steps between monitor passes over all probes")
    #: None: 0.5 x the vocabulary's std (= the released 1e-2 for DiT's 0.02-std tables)
    lr: float | None = option(None, kind="float", low=0, low_open=True, optional=True, flag="--lr", help="AdamW learning rate; unset: 0.5 x the vocabulary std (0.01 is the paper's)")
    weight_decay: float = option(0.01, kind="float", low=0, flag="--weight-decay", help="AdamW weight decay")
    #: nearest-neighbour metric for snapping: "l2" (released code) or "cosine" (paper's detection)
    metric: str = option("l2", choices=("l2", "cosine"), flag="--metric", help="nearest-neighbour snapping distance")
    #: False = ablation "w/o in-vocabulary optimisation": optimise the continuous embedding
    snap: bool = option(True, kind="bool", flag="--no-snap", help="ablation: optimise the continuous embedding (no in-vocabulary snapping)")
    #: "gaussian": N(table mean, table std) per element (released code); "mean": the table mean
    #: row; "none": each slot's [none] entry (the paper's detection init; needs adapter.none_index);
    #: "labels": the ``init_labels`` given to ``invert`` (e.g. a seed layout), monitored at step 0;
    #: "coarse" (layouts, handled by the dive method): labels from ``inversion.layout.seed.coarse_seed``
    init: str = option("gaussian", choices=INITS, flag="--init", help="slot init; coarse = layouts seeded from a coarse single-object enumeration")
    #: stop an image after this many monitor passes without improvement (None: never)
    patience: int | None = option(None, kind="int", low=1, optional=True, flag="--patience", help="early stop after N monitor passes without improvement")
    interval: int = option(4, kind="int", low=1, flag="--interval", help="timestep interval: probes at interval/2 + k*interval (4 is the paper's)")
    probe_seed: int = option(42, kind="int", low=0, flag="--probe-seed", help="seed of the one noise per probe timestep, shared by all images")
    loss: str = option("l2", choices=LOSSES, flag="--loss", help="per-sample error of the noise prediction")
    #: per-probe weight of the error: "none" (DIVE, Diffusion Classifier) or "x0" (layouts)
    weighting: str = option("none", choices=WEIGHTINGS, flag="--weighting", help="per-probe weight: none (classification) or x0 = min((1-a_t)/a_t, 20) (layouts)")
    #: max samples in one forward pass of the monitor
    monitor_batch: int = option(500, kind="int", low=1, flag="--eval-batch", help="samples per no-grad forward pass (memory only, not part of the run key)")
    #: weight of the layout prior's denoising loss (0: no prior); "joint" or "decoupled" prior
    prior_weight: float = option(0.0, kind="float", low=0, flag="--prior-weight", help="layouts: weight of the layout prior's loss")
    prior: str = option("joint", choices=("joint", "decoupled"), flag="--decoupled-prior", help="layouts ablation: separate class and box priors")
    #: (t, noise) draws of the prior loss per image and step, averaged: one draw gives a gradient
    #: whose noise is larger than its mean (measured at true layouts of the canvas set)
    prior_probes: int = option(1, kind="int", low=1, flag="--prior-probes", help="layouts: (t, noise) draws of the prior loss per step")
    #: add the prior's error (weight x its mean over fixed (t, noise) draws) to the monitor value,
    #: so that the answer is the visited layout best under the whole objective, not the image term
    #: alone (the paper does not say which; off keeps the earlier behaviour)
    prior_in_monitor: bool = option(False, kind="bool", flag="--prior-in-monitor", help="layouts: add the weighted prior error to the monitor value that picks the answer")
    #: layouts: at each monitor pass also score the prior's one-slot repairs of the current layout
    #: (``LayoutAdapter.prior_repairs``) and continue from the best if it beats the current one.
    #: Our addition, not the paper's: the prior's gradient barely moves snapped slots
    prior_repairs: bool = option(False, kind="bool", flag="--prior-repairs", help="layouts: also score the prior's one-slot repairs at each monitor pass (our addition)")
    #: layouts: the same repair search over a blind neighbourhood (each box side moved one grid
    #: value, ``LayoutAdapter.neighbour_repairs``), no prior needed. Built as the control that tells
    #: the prior's proposals from the search itself; on by default for the canvas tasks, because
    #: the gradient rarely flips a snapped coordinate to its neighbour (our addition)
    neighbour_repairs: bool = option(False, kind="bool", flag="--neighbour-repairs", help="layouts: also score every one-cell move of a box side at each monitor pass (our addition)")

    #: classes: after the search, also score the ``verify`` vocabulary entries nearest to each
    #: image's final embedding on all probes (already-scored ones are free) and answer with the best
    #: monitor value overall. Our addition: at K = 1000 the embedding often ends near the true class
    #: without ever snapping to it (README, "Large label spaces")
    verify: int = option(0, kind="int", low=0, flag="--verify", help="classes: also score the N entries nearest the final embedding on all probes (our addition)")

    def check(self) -> None:
        """Rules across fields (ranges of single fields are declared above)."""
        if self.init == "labels":
            raise DiveBenchError("--init (init) 'labels' starts from layouts handed to inversion.invert in code; "
                                 "for a scored run use coarse (seeded layouts), gaussian, mean or none")
        if self.verify and not self.snap:
            raise DiveBenchError("--verify (verify) scores vocabulary entries near the final embedding, which only "
                                 "snapped runs compare by their monitor value; drop --verify or --no-snap")
        if self.steps == 0 and self.init not in ("labels", "coarse"):
            raise DiveBenchError(f"--steps (steps) 0 leaves nothing to predict from init {self.init!r}: the "
                                 "prediction is the best monitor value and a random start is never monitored. Use "
                                 "--steps >= 1 (0 is meaningful only with --init coarse, to score the start alone)")


@dataclass
class EnumerationConfig(_HasProbes):
    interval: int = option(4, kind="int", low=1, flag="--interval", help="timestep interval: probes at interval/2 + k*interval (4 is the paper's)")
    probe_seed: int = option(42, kind="int", low=0, flag="--probe-seed", help="seed of the one noise per probe timestep, shared by all images")
    #: ((probes in this stage, classes kept after it), ...); None = exhaustive on all probes;
    #: "dc" = Diffusion Classifier's ImageNet schedule scaled to the model's K and the probe count
    #: (``cost.scaled_stages``; the run stores the resolved stages)
    stages: tuple[tuple[int, int], ...] | str | None = None
    #: samples per no-grad forward pass (memory, not results)
    batch_size: int = option(250, kind="int", low=1, flag="--eval-batch", help="samples per no-grad forward pass (memory only, not part of the run key)")
    loss: str = option("l2", choices=LOSSES, flag="--loss", help="per-sample error of the noise prediction")
    #: per-probe weight of the error: "none" or "x0" (see probes.timestep_weight)
    weighting: str = option("none", choices=WEIGHTINGS, flag="--weighting", help="per-probe weight: none (classification) or x0 = min((1-a_t)/a_t, 20) (layouts)")

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

#: memory/speed knobs: they never change a result, so a run's key leaves them out (runs stored
#: before this rule keep resuming: see ``spec.RunSpec.legacy_keys``)
RUNTIME_FIELDS: dict[str, tuple[str, ...]] = {"dive": ("monitor_batch",), "enumerate": ("batch_size",)}

#: Config fields added after runs were stored, each with the value that reproduces the behaviour
#: from before it existed. While a field has that value it is left out of the run key, so a run
#: (or one shard of it) started before the field existed resumes and merges with one started after.
LATER_FIELDS: dict[str, dict[str, Any]] = {"dive": {"prior_probes": 1, "prior_in_monitor": False, "prior_repairs": False,
                                                      "neighbour_repairs": False, "verify": 0}}


def defaults(method: str) -> dict:
    """The default config of ``method`` as a plain dict ({} for a method without a config class)."""
    cls = CONFIGS.get(method)
    return asdict(cls()) if cls else {}


def normalized_config(method: str, config: dict) -> dict:
    """A stored method config with fields added after it was written filled in with their
    defaults. New fields get defaults that reproduce the earlier behaviour, so old run.json
    files stay comparable with new ones."""
    return {**defaults(method), **config}


def key_config(method: str, config: dict, *, legacy: bool = False) -> dict:
    """``config`` as the run key sees it: runtime knobs dropped (``legacy`` keeps them, as keys
    made before that rule did) and later fields at their behaviour-preserving value dropped."""
    later = LATER_FIELDS.get(method, {})
    runtime = () if legacy else RUNTIME_FIELDS.get(method, ())
    return {k: v for k, v in config.items() if k not in runtime and not (k in later and v == later[k])}


def comparable_config(method: str, config: dict) -> dict:
    """What decides whether two runs of ``method`` measured the same thing: the normalized config
    without runtime knobs."""
    runtime = RUNTIME_FIELDS.get(method, ())
    return {k: v for k, v in normalized_config(method, config).items() if k not in runtime}


def config_fields(method: str) -> list:
    return list(fields(CONFIGS[method]))
