"""How a run is carried out, declared once: the options of ``score`` (and the API's ``evaluate``,
and ``sweep``), of ``fidelity`` (and the API's ``fidelity``, and ``sweep --fidelity``), and of
``--method auto``'s accuracy guard, and of ``score --sequential``'s gate.

Each option is a dataclass field declared with :func:`~dive_bench.spec.options.option`: its type,
range or choices, its command-line flag (earlier flags kept as aliases) and its help. The CLI
generates its flags and help from these declarations (``cli.options.add_declared``), the request
objects of the run layer inherit them, and :func:`~dive_bench.spec.options.validate` refuses the
same values for every caller. Before, the same options were written out four times (request,
API signature, argparse, sweep) and drifted: ``fidelity --sampler euler`` was offered by argparse
and refused by the request, and ``--items-per-batch`` was called "memory, not results" in one
place and "keep it fixed for identical results" in another.

Field names are what run.json stores (``steps``, ``batch_size`` for fidelity), so renaming a
*flag* (``--sampler-steps``, ``--sample-batch``) never changes a stored key. This module imports
no torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from dive_bench.errors import DiveBenchError
from dive_bench.spec.configs import MAX_BATCH, MAX_SEED
from dive_bench.spec.options import allowed_of, option

#: Upper bounds of the numeric run options (see ``configs.MAX_STEPS``): far beyond any sensible
#: setting, small enough that a typo (``--num-samples 1e12``) is refused before anything runs.
#: ImageNet's train split has 1.28M images; FID protocols sample 50k; samplers run 1-1000 steps.
MAX_ITEMS = 100_000_000
MAX_SAMPLES = 10_000_000
MAX_SAMPLER_STEPS = 10_000
MAX_GUIDANCE = 100.0
MAX_BOOTSTRAP = 100_000

#: every sampler name a fidelity run can ask for; which of them runs a given model is decided by
#: its parameterization (``adapters.parameterization.check_sampler``): euler and heun are the flow
#: and EDM families' samplers, ddpm is refused on a flow model, and so on
SAMPLERS = ("ddim", "ddpm", "dpm", "euler", "heun")
DTYPES = ("fp32", "bf16", "fp16")


def shard_option():
    """``--shard K/N``, declared once for every job that splits across workers (score, fidelity,
    sweep): None reads torchrun's RANK/WORLD_SIZE or a SLURM array's task id/count, else 0/1."""
    return option(None, value_type="str", optional=True, flag="--shard",
                  help="K/N: this worker's share (default: RANK/WORLD_SIZE or SLURM array, else 0/1)")


@dataclass(kw_only=True)
class RunOptions:
    """How a scoring run executes: which items, where, at what precision, on which worker."""

    limit: int | None = option(None, value_type="int", low=1, high=MAX_ITEMS, optional=True, flag="--limit",
                               help="score only the first N items")
    #: "300:400", "0:10,20", or (API) a range / list of ids: ``spec.items.select_items``
    items: Any = option(None, optional=True, flag="--items",
                        help="score these items: A:B (items A to B-1), or ids and ranges, e.g. 0:10,20; results "
                             "stored in --out for the same protocol are reused, so a run grows without recomputing")
    item_ids: str | None = option(None, value_type="str", optional=True, flag="--item-ids",
                                  help="score the item ids listed in this text file (whitespace- or comma-separated)")
    seed: int = option(0, value_type="int", low=0, high=MAX_SEED, flag="--seed",
                       help="global seed: each item's seed derives from (seed, task, item id)")
    device: str = option("cpu", value_type="str", flag="--device",
                         help="cpu, cuda, cuda:1 (LOCAL_RANK picks the GPU under torchrun)")
    dtype: str = option("fp32", choices=DTYPES, flag="--dtype", help="autocast precision (part of the run key)")
    tf32: bool = option(False, value_type="bool", flag="--tf32",
                        help="allow TF32 matmuls on Ampere+ GPUs (the paper's setting)")
    #: images processed together; also the unit of sharding, so keep it fixed across a run's
    #: workers and resumes for bit-identical results
    items_per_batch: int = option(16, value_type="int", low=1, high=MAX_BATCH, flag="--items-per-batch",
                                  help="images optimised together (memory); also the unit of sharding and of "
                                       "DIVE's batched search: keep it fixed across a run's workers and resumes "
                                       "for identical results")
    data_root: str | None = option(None, value_type="str", optional=True, flag="--data-root",
                                   help="dataset folder (Fashion-MNIST IDX files, ImageNet val)")
    #: "K/N"; None reads RANK/WORLD_SIZE (torchrun) or SLURM_ARRAY_TASK_ID/COUNT, else 0/1
    shard: str | None = shard_option()
    retry_failed: bool = option(False, value_type="bool", flag="--retry-failed",
                                help="recompute items whose earlier attempt raised")


@dataclass(kw_only=True)
class SampleOptions:
    """How a fidelity run samples a model and scores the samples against a reference set."""

    reference: str = option("fmnist", value_type="str", flag="--reference",
                            help="DATASET[:SPLIT] (default split test), e.g. fmnist; a detection task "
                                 "(canvas-det) for layout models")
    #: at least 2: FID needs a covariance
    num_samples: int = option(5000, value_type="int", low=2, high=MAX_SAMPLES, flag="--num-samples",
                              help="samples to generate and score (FID is biased below the feature "
                                   "dimension: 2048 for Inception)")
    feature_extractor: str = option("inception-v3-compat", value_type="str", flag="--feature-extractor",
                                    help="inception-v3-compat (fid/is/kid/precision/recall), fmnist-classifier "
                                         "(in-domain; fd_fmnist/...), canvas-classifier (fd_canvas/...), "
                                         "dinov2-vit-l14 / -b14 (fd_dinov2, EDM2's protocol), or classifier:DIR "
                                         "from `train feature-extractor`")
    steps: int = option(50, value_type="int", low=1, high=MAX_SAMPLER_STEPS, flag="--sampler-steps",
                        old_flags=("--steps", "--sample-steps"),
                        help="sampler steps")
    #: 1 = no guidance; > 1 needs the model's classifier-free null row
    guidance_scale: float = option(1.0, value_type="float", low=0, high=MAX_GUIDANCE, flag="--guidance",
                                   help="classifier-free guidance scale (1 = none)")
    sampler: str = option("ddim", choices=SAMPLERS, flag="--sampler",
                          help="ddim (eta 0; on flow and EDM models their Euler step, which is the same), ddpm "
                               "(ancestral), dpm (DPM-Solver++ 2M; EDM's for EDM models), euler (flow, EDM), "
                               "heun (flow); a sampler the model's family cannot run is refused before sampling")
    seed: int = option(0, value_type="int", low=0, high=MAX_SEED, flag="--seed", help="sample i uses a seed derived from (seed, i)")
    batch_size: int = option(250, value_type="int", low=1, high=MAX_BATCH, flag="--sample-batch",
                             old_flags=("--batch-size", "--sample-batch-size"),
                             help="samples per sampling batch (memory only: sample i is the same at any batch)")
    feature_batch_size: int = option(64, value_type="int", low=1, high=MAX_BATCH, flag="--feature-batch-size",
                                     help="images per feature-extractor batch (memory only)")
    inception_weights: str | None = option(None, value_type="str", optional=True, flag="--inception-weights",
                                           help="local inception-v3-compat weights file (offline); default "
                                                "$DIVE_BENCH_INCEPTION_WEIGHTS, then torch-fidelity's cache")
    #: DINOv2 weights file and an optional sha256 pin (``--feature-extractor dinov2-vit-l14``)
    dinov2_weights: str | None = option(None, value_type="str", optional=True, flag="--dinov2-weights",
                                        help="local DINOv2 weights (timm model.safetensors or Meta's .pth) for "
                                             "dinov2-vit-*; default $DIVE_BENCH_DINOV2_WEIGHTS, then the Hugging "
                                             "Face cache")
    dinov2_sha256: str | None = option(None, value_type="str", optional=True, flag="--dinov2-sha256",
                                       help="refuse DINOv2 weights whose sha256 differs (default "
                                            "$DIVE_BENCH_DINOV2_SHA256)")
    device: str = option("cpu", value_type="str", flag="--device", help="cpu, cuda, cuda:1")
    dtype: str = option("fp32", choices=DTYPES, flag="--dtype", help="autocast precision for sampling")
    data_root: str | None = option(None, value_type="str", optional=True, flag="--data-root",
                                   help="reference dataset folder")
    cache_dir: str | None = option(None, value_type="str", optional=True, flag="--cache-dir",
                                   help="reference-statistics cache (default $DIVE_BENCH_CACHE or "
                                        "~/.cache/dive_bench)")
    #: paired replicates of every fidelity metric over the generated samples, for ``compare``'s
    #: intervals and ``check``'s fidelity gate (0: none). Not keyed: they leave every value unchanged
    bootstrap: int = option(0, value_type="int", low=0, high=MAX_BOOTSTRAP, flag="--bootstrap",
                            help="store B paired replicates of every metric (compare's intervals, check's fidelity gate: 200+)")
    #: sample i is the same whichever worker makes it: workers split the indices, and the one that
    #: finds every sample present computes the metrics (``run.fidelity``)
    shard: str | None = shard_option()


@dataclass(kw_only=True)
class GuardOptions:
    """``--method auto``'s own options: the accuracy guard that keeps a DIVE pick honest."""

    guard: int = option(30, value_type="int", low=0, high=MAX_ITEMS, flag="--guard",
                        help="if DIVE is the cheapest, run it and adaptive enumeration on the first N images "
                             "(the task's dev split when it has one) and keep DIVE only within --guard-misses; "
                             "0 switches the accuracy guard off")
    guard_misses: int = option(1, value_type="int", low=0, high=MAX_ITEMS, flag="--guard-misses",
                               help="DIVE is kept with at most this many misses (net of wins on a dev split)")


@dataclass(kw_only=True)
class GateOptions:
    """``score --sequential``: score the items in a baseline's order and stop as soon as an
    anytime-valid paired test settles pass or regression (``run.sequential``). The margin defines
    the test, so it has no default; the level is ``check``'s fixed alpha."""

    sequential: bool = option(False, value_type="bool", flag="--sequential",
                              help="stop as soon as an anytime-valid paired test against --baseline settles pass "
                                   "or regression beyond --margin (exit 0 pass, 1 regression, as check)")
    baseline: str | None = option(None, value_type="str", optional=True, flag="--baseline",
                                  help="run.json (or its folder) of the baseline the sequential gate pairs with; "
                                       "its items, in its order, are scored")
    #: ``{"accuracy": 0.01}`` from the API; the CLI's repeated ``METRIC=VALUE`` strings are parsed
    #: by ``report.check.parse_margins`` (one syntax for check and score)
    margins: Any = option(None, value_type="metric=value", optional=True, flag="--margin",
                          help="METRIC=VALUE: the tolerated drop the sequential gate tests, e.g. accuracy=0.01 "
                               "(required with --sequential: the margin defines the test)")
    mode: str = option("regression", choices=("regression", "noninferiority"), flag="--mode",
                       help="what an unsettled gate concludes once every item is scored: regression mode passes "
                            "(no regression shown), noninferiority fails (non-inferiority not shown)")

    def check(self) -> None:
        """The gate's options belong together: --baseline, --margin and --mode only with --sequential."""
        if not self.sequential:
            given = [flag for flag, value in (("--baseline", self.baseline), ("--margin", self.margins),
                                              ("--mode", None if self.mode == "regression" else self.mode))
                     if value is not None]
            if given:
                raise DiveBenchError(f"{' and '.join(given)} set the sequential gate; add --sequential, or drop "
                                     f"{'them' if len(given) > 1 else 'it'} and gate the finished run with "
                                     "`dive-bench check`")


#: fidelity options that leave the numbers unchanged (where files are, memory): a sweep's rerun
#: may change them, and they are not part of a fidelity run's key
SAMPLE_RUNTIME = ("cache_dir", "batch_size", "feature_batch_size", "inception_weights", "dinov2_weights")


def declared(cls: type) -> dict[str, dataclasses.Field]:
    """Field name -> field for every declared option of ``cls`` (those with a flag)."""
    return {f.name: f for f in dataclasses.fields(cls) if (a := allowed_of(f)) is not None and a.flag}


def defaults(cls: type) -> dict:
    """Field name -> declared default of every option of ``cls``."""
    return {name: f.default for name, f in declared(cls).items()}
