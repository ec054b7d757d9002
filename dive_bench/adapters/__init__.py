"""Adapters registry and ``load_model``: turn a MODEL spec from the command line into an Adapter.

A spec is one of
- a bundled checkpoint name (``dit-fmnist-s``), see ``CHECKPOINTS``;
- ``ADAPTER:PATH_OR_HUB_ID`` (``dit:facebook/DiT-XL-2-256``, ``unet:./ckpt``); ``dit:FILE.pt?heads=16``
  converts an original-format DiT state dict (``adapters/dit_original.py``), ``sit:FILE.pt`` a SiT one;
- a plugin adapter's name, registered by another package under the entry-point group
  ``dive_bench.adapters`` (called with no argument, or with the part after ``:``).

This module imports no torch or diffusers: the registries are read by ``dive-bench list``, and
each adapter (and ``Adapter``, ``NoiseSchedule`` below) is imported when first used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dive_bench.errors import DiveBenchError
from dive_bench.util.suggest import did_you_mean
from dive_bench.registry import Registry, lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from dive_bench.labels import ClassLabels, LayoutLabels  # noqa: F401
    from dive_bench.adapters.base import Adapter  # noqa: F401
    from dive_bench.adapters.parameterization import NoiseSchedule  # noqa: F401

ADAPTERS: Registry = Registry("adapter", entry_point_group="dive_bench.adapters")
ADAPTERS.register("dit", "dive_bench.adapters.dit:DiTAdapter",
                  description="diffusers DiTTransformer2DModel (+ AutoencoderKL), tied or untied label tables")
ADAPTERS.register("sit", "dive_bench.adapters.sit:SiTAdapter",
                  description="original SiT .pt/.safetensors state dict, scored as a flow-matching model")
ADAPTERS.register("unet", "dive_bench.adapters.unet:UNetAdapter",
                  description="diffusers UNet2DModel with num_class_embeds")
ADAPTERS.register("layout", "dive_bench.adapters.layout:LayoutAdapter",
                  description="dive_bench LayoutDiT layout-to-image model (+ layout priors)")

from dive_bench.util.files import ASSETS  # noqa: E402


@dataclass(frozen=True)
class BundledCheckpoint:
    name: str
    adapter: str
    folder: str
    description: str
    #: extra keyword arguments for the adapter's ``from_pretrained`` (e.g. which prior set)
    options: tuple[tuple[str, object], ...] = ()

    @property
    def path(self) -> Path:
        return ASSETS / self.folder


CHECKPOINTS: Registry = Registry("bundled checkpoint")
for _ckpt in (
    BundledCheckpoint("dit-digits-xs", "dit", "dit-digits-xs", "tiny DiT on 8x8 digits (unit tests, demo)"),
    BundledCheckpoint("dit-fmnist-s", "dit", "dit-fmnist-s", "small DiT on Fashion-MNIST (patch 4, width 32, depth 2)"),
    BundledCheckpoint("dit-fmnist-b", "dit", "dit-fmnist-b", "larger DiT on Fashion-MNIST (patch 4, width 64, depth 4)"),
    BundledCheckpoint("dit-fmnist-s-1k", "dit", "dit-fmnist-s-1k",
                      "dit-fmnist-s's recipe stopped at 1,000 of 3,000 steps (a shorter-trained row for Table VI)"),
    BundledCheckpoint("dit-fmnist-b-flow", "dit", "dit-fmnist-b-flow",
                      "dit-fmnist-b's architecture and recipe trained as a rectified-flow (velocity) model "
                      "(--objective flow): the flow-matching row of the model comparison"),
    BundledCheckpoint("unet-fmnist-s", "unet", "unet-fmnist-s",
                      "class-conditional UNet2DModel on Fashion-MNIST (channels 8-16-32, attention at 7x7): the "
                      "second architecture family of the model comparison"),
    BundledCheckpoint("dit-numbers-10", "dit", "dit-numbers-10",
                      "DiT on numbers-10: 0-9 from digit glyphs, 16x16 (numbers-1000's architecture, fp16 file)"),
    BundledCheckpoint("dit-numbers-100", "dit", "dit-numbers-100",
                      "DiT on numbers-100: 00-99 from digit glyphs, 16x16 (numbers-1000's architecture, fp16 file)"),
    BundledCheckpoint("dit-numbers-1000", "dit", "dit-numbers-1000",
                      "DiT on numbers-1000: 000-999 from digit glyphs, 16x16 (patch 4, width 128, depth 4, fp16 file)"),
    BundledCheckpoint("layout-canvas-s", "layout", "layout-canvas-s",
                      "layout-to-image LayoutDiT on the canvas detection set, with joint and decoupled layout priors"),
    BundledCheckpoint("layout-canvas-xs", "layout", "layout-canvas-xs",
                      "layout-canvas-s's recipe at width 64 (a smaller layout-to-image row for Table VI; no priors)"),
    BundledCheckpoint("layout-canvas-s-sized", "layout", "layout-canvas-s",
                      "layout-canvas-s's image model with priors trained on canvas-det-sized layouts "
                      "(one size per class)", options=(("prior_set", "sized"),)),
    BundledCheckpoint("layout-canvas-s-masked", "layout", "layout-canvas-s",
                      "layout-canvas-s with priors that noise a quarter of the slots and predict their clean "
                      "embeddings (the masked priors of layout-canvas-s-sized, trained on canvas-det layouts)",
                      options=(("prior_set", "masked"),)),
):
    CHECKPOINTS.register(_ckpt.name, _ckpt, description=_ckpt.description)


def _construct(factory, argument: str | None, name: str, **options) -> Adapter:
    if argument is None:
        return factory()
    if hasattr(factory, "from_pretrained"):
        return factory.from_pretrained(argument, name=name, **options)
    return factory(argument)


def load_model(spec: str) -> Adapter:
    """Resolve a MODEL spec (see module docstring) to a ready adapter on the CPU."""
    if spec in CHECKPOINTS:
        ckpt: BundledCheckpoint = CHECKPOINTS.get(spec)
        if not ckpt.path.exists():
            raise DiveBenchError(f"bundled checkpoint {spec!r} is missing its files at {ckpt.path}; reinstall dive_bench")
        return _construct(ADAPTERS.get(ckpt.adapter), str(ckpt.path), spec, **dict(ckpt.options))
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in ADAPTERS:
        if not rest:
            raise DiveBenchError(f"model spec {spec!r} names no checkpoint after ':'; e.g. {prefix}:./my_ckpt")
        return _construct(ADAPTERS.get(prefix), rest, spec)
    if not sep and spec in ADAPTERS:
        return _construct(ADAPTERS.get(spec), None, spec)
    known = CHECKPOINTS.names() + [f"{a}:PATH" for a in ADAPTERS.names()]
    hint = did_you_mean(spec, CHECKPOINTS.names() + ADAPTERS.names())
    raise DiveBenchError(f"unknown model {spec!r}.{hint} Use a bundled checkpoint or ADAPTER:PATH_OR_HUB_ID; known: {', '.join(known)}.")


#: names re-exported from their modules on first use (importing them here would load torch)
_LAZY = {"Adapter": "dive_bench.adapters.base", "NoiseSchedule": "dive_bench.adapters.parameterization",
         "ClassLabels": "dive_bench.labels", "LayoutLabels": "dive_bench.labels"}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = ["ADAPTERS", "CHECKPOINTS", "Adapter", "BundledCheckpoint", "ClassLabels", "LayoutLabels",
           "NoiseSchedule", "load_model"]
