"""The training recipes of the reference checkpoints: every option, its default and, for those the
``train`` command exposes, its flag and help.

The configs live apart from their trainers because the trainers import torch and the CLI builds
``dive-bench train``'s flags from these declarations (``cli/train.py``): ``--help`` must stay
torch-free. A flag shared by several recipes (``--steps``, ``--batch-size``, ...) is declared by
one helper below, so its help and range are written once while each recipe keeps its own default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from dive_bench.spec.options import option

#: what a class-conditional model regresses onto (see ``class_dit.OBJECTIVES``)
OBJECTIVE_CHOICES = ("eps", "v", "x0", "flow", "edm")
#: the feature extractor's training augmentations (see ``feature_extractor._augment``)
AUGMENTATIONS = ("flip-shift", "flip", "none")
#: the feature extractor's default conv widths: ``generative.classifier_net.ClassifierConfig.widths``,
#: repeated here because that module imports torch (tests/training checks that the two agree)
EXTRACTOR_WIDTHS = (32, 64, 128)


#: upper bounds of the shared numeric flags: far above any recipe, low enough that an absurd value
#: is refused up front instead of overflowing the per-step generator seed (seed x 1,000,003 + step
#: must stay below 2**63), allocating an impossible batch, or diverging to NaN weights (AdamW lr)
MAX_STEPS, MAX_BATCH, MAX_LR, MAX_SEED = 10**9, 65536, 1.0, 2**32 - 1


def _steps(default: int = 2000) -> Any:
    return option(default, value_type="int", low=1, high=MAX_STEPS, flag="--steps", help="optimiser steps")


def _batch_size(default: int) -> Any:
    return option(default, value_type="int", low=1, high=MAX_BATCH, flag="--batch-size",
                  help="training batch: examples per optimiser step")


def _lr(default: float) -> Any:
    return option(default, value_type="float", low=0, low_open=True, high=MAX_LR, flag="--lr",
                  help="AdamW learning rate")


def _seed() -> Any:
    return option(0, value_type="int", low=0, high=MAX_SEED, flag="--seed",
                  help="seed of the initialisation and of every step's draws (a resumed run continues exactly)")


def _width() -> Any:
    return option(128, value_type="int", low=1, flag="--width", help="transformer width")


def _data_root() -> Any:
    return option(None, optional=True, flag="--data-root", help="folder of the downloaded datasets")


def _dataset(default: str) -> Any:
    return option(default, flag="--dataset", help="the training set (a registered dataset name)")


def _save_dtype() -> Any:
    return option("fp32", choices=("fp32", "fp16"), flag="--save-dtype",
                  help="precision of the exported weights (fp16 halves the file; loading upcasts)")


#: settings a resumed class-dit / layout run may change without changing its weights: the total
#: ``steps`` (the lr schedule is constant after warmup and every step's draws depend on (seed, step)
#: only, so a longer run continues exactly; fewer steps than done is refused), how often the state
#: and kept models are written, the export precision (the export is rewritten from the state, and
#: its card states the precision), where the dataset files are, and the layout position check
_RESUME_FREE = frozenset({"steps", "checkpoint_every", "save_every", "save_dtype", "data_root", "check_every",
                          "check_images"})


@dataclass
class ClassDiTTrainConfig:
    #: see ``_RESUME_FREE``; every other field is compared on resume (``training/checkpointing.py``)
    RESUME_FREE: ClassVar[frozenset[str]] = _RESUME_FREE
    #: architecture flags of other kinds that a preset decides here (``dive-bench train`` refuses them
    #: naming --preset, rather than ignoring them)
    PRESET_FIXES: ClassVar[tuple[str, ...]] = ("width", "widths", "patch")
    dataset: str = _dataset("digits")
    preset: str = option("xs", flag="--preset",
                         help="model size: dive_bench/models/class_dit.py (xs, s, b, m) or class_unet.py (s) presets")
    #: ``dit`` (models/class_dit.py presets) or ``unet`` (models/class_unet.py presets)
    architecture: str = option("dit", choices=("dit", "unet"))
    #: what the network regresses onto (adapters/parameterization.py): eps (DDPM, the default and
    #: every bundled eps model's recipe), v (DDPM v-prediction), x0, flow (rectified flow velocity,
    #: t uniform in [0, 1]) or edm (preconditioned denoiser, log-normal sigma)
    objective: str = option("eps", choices=OBJECTIVE_CHOICES, flag="--objective",
                            help="the training target; the export declares it in dive_bench.json, so scoring and "
                                 "sampling use the matching parameterization")
    steps: int = _steps()
    batch_size: int = _batch_size(64)
    lr: float = _lr(1e-3)
    weight_decay: float = 0.0
    warmup: int = 100
    ema_decay: float = 0.999
    class_dropout: float = 0.1
    seed: int = _seed()
    checkpoint_every: int = 500
    #: keep a scorable model (EMA weights, like ``out/model``) in ``out/checkpoints/step-NNNNNN``
    #: every N steps (0: none), for ``dive-bench sweep``; unlike ``train_state.pt`` each is kept
    save_every: int = option(0, value_type="int", low=0, flag="--save-every",
                             help="also keep the EMA model every N steps in OUT/checkpoints/step-NNNNNN (a dit:PATH "
                                  "folder each, for `dive-bench sweep OUT`; 0: none)")
    data_root: str | None = _data_root()
    #: fp16 halves the bundled file; loading upcasts to float32 (the EMA weights lose ~1e-3 relative)
    save_dtype: str = _save_dtype()


@dataclass
class LayoutTrainConfig:
    RESUME_FREE: ClassVar[frozenset[str]] = _RESUME_FREE
    train_images: int = 4000
    val_images: int = 200
    data_seed: int = 0
    max_objects: int = 3
    grid: int = 17
    width: int = _width()
    depth: int = 6
    steps: int = _steps()
    batch_size: int = _batch_size(32)
    lr: float = _lr(3e-4)
    warmup: int = 100
    ema_decay: float = 0.995
    object_dropout: float = 0.1
    layout_dropout: float = 0.1
    high_noise_fraction: float = 0.7
    max_weight: float = 20.0
    seed: int = _seed()
    checkpoint_every: int = 250
    check_every: int = 500
    check_images: int = 40
    #: storage precision of the exported weights: "fp16" halves the file (the bundled model);
    #: loading always upcasts to float32
    save_dtype: str = _save_dtype()
    #: None: pixel space. Otherwise an AutoencoderKL (local folder or hub id, e.g.
    #: stabilityai/sd-vae-ft-ema at paper scale): the model is trained on its latents (posterior
    #: mean x scaling factor) and the VAE is exported beside it in ``vae/``
    vae: str | None = option(None, optional=True, flag="--vae",
                             help="train in the latent space of this AutoencoderKL (local folder or hub id, e.g. "
                                  "stabilityai/sd-vae-ft-ema); it is exported with the model")
    #: patch size of the transformer; a latent of side 8 wants 2 rather than the pixel model's 4
    patch: int = option(4, value_type="int", low=1, flag="--patch", help="transformer patch size")


@dataclass
class PriorTrainConfig:
    train_images: int = 4000
    data_seed: int = 0
    steps: int = _steps()
    batch_size: int = _batch_size(128)
    lr: float = _lr(3e-4)
    width: int = _width()
    depth: int = 4
    seed: int = _seed()
    decoupled: bool = option(False, value_type="bool", flag="--decoupled", help="separate class and box priors")
    device: str = option("cpu", flag="--device",
                         help="cpu or cuda (results differ from CPU only by float rounding)")
    #: < 1: each query noises only this share of the slots (see LayoutPrior); 1: all (Eq. 3)
    noised_fraction: float = option(1.0, value_type="float", low=0, low_open=True, high=1, flag="--noised-fraction",
                                    help="noise only this share of the slots per query, the rest clean (1: all, "
                                         "the paper's Eq. 3)")
    #: predict the clean slot embedding as a mixture of its vocabulary (see LayoutPrior), not the noise
    predict_embedding: bool = option(False, value_type="bool", flag="--predict-embedding",
                                     help="predict each slot's clean embedding as a mixture of its vocabulary, "
                                          "not the noise")
    #: write into ``model_dir/prior_set/`` (a prior set beside the default one, see LayoutAdapter)
    prior_set: str | None = option(None, optional=True, flag="--prior-set",
                                   help="write into OUT/PRIOR_SET/ (e.g. sized), beside the default priors")
    #: train on canvases whose classes have these fixed sizes (grid cells); None: uniform sizes
    class_sizes: tuple[tuple[int, int], ...] | None = option(
        None, optional=True, flag="--class-sizes",
        help="train on canvases with one size per class, WxH in grid cells in class order, e.g. 4x4,6x6,8x6 "
             "(the canvas-det-sized layouts)")


@dataclass
class FeatureExtractorTrainConfig:
    #: not ``steps``: the learning rate decays on a cosine over the total steps, so another total
    #: changes every step's rate, and with it the weights
    RESUME_FREE: ClassVar[frozenset[str]] = frozenset({"checkpoint_every", "data_root"})
    dataset: str = _dataset("fmnist")
    steps: int = _steps()
    batch_size: int = _batch_size(128)
    lr: float = _lr(3e-3)
    weight_decay: float = 5e-4
    warmup: int = 100
    seed: int = _seed()
    checkpoint_every: int = 500
    data_root: str | None = _data_root()
    #: "flip-shift" (Fashion-MNIST: garments sit centred on black, a 2-px shift is label-safe),
    #: "flip" (canvases: a shift would push shapes at the border off the canvas and paint a
    #: border in a colour the canvas background never has), or "none"
    augment: str = option("flip-shift", choices=AUGMENTATIONS, flag="--augment",
                          help="training augmentation (canvas: flip, as a shift would push shapes off the canvas)")
    #: conv widths of the three stages; the last is the feature dimension (FD needs well more
    #: reference images than that: the canvas extractor uses 16,32,64 against 2,000 references)
    widths: tuple[int, ...] = option(EXTRACTOR_WIDTHS, flag="--widths",
                                     help="conv widths of its three stages, e.g. 16,32,64 (the last is the feature "
                                          "dimension)")
