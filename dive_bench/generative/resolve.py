"""Which feature extractor a fidelity run uses, by name: Inception (``inception-v3-compat``), a
bundled in-domain classifier, a DINOv2 ViT or ``classifier:DIR``.

The one place that knows every kind, so ``extractors`` (Inception and the classifiers) and
``dinov2`` (EDM2's FD_DINOv2) stay independent of each other and of the name a user typed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dive_bench.errors import DiveBenchError
from dive_bench.generative.dinov2 import canonical, resolve_dinov2
from dive_bench.generative.extractors import (ALIASES, ASSETS, BUNDLED, INCEPTION, INCEPTION_METRICS, Extractor,
                                            classifier_extractor, resolve_inception_weights)
from dive_bench.util.files import file_sha256
from dive_bench.util.suggest import did_you_mean


DINOV2_EXTRACTORS = ("dinov2-vit-l14", "dinov2-vit-b14", "dinov2-vit-s14")


def available_extractors() -> list[str]:
    return [INCEPTION, *BUNDLED, *DINOV2_EXTRACTORS, "classifier:DIR"]


def resolve_extractor(name: str = INCEPTION, inception_weights: str | Path | None = None,
                      dinov2_weights: str | Path | None = None, dinov2_sha256: str | None = None) -> Extractor:
    """``inception-v3-compat`` (alias ``inception``), a bundled classifier (``fmnist-classifier``,
    alias ``fmnist``; ``canvas-classifier``, alias ``canvas``), a DINOv2 ViT (``dinov2-vit-l14``, ``-b14``, ``-s14``) or ``classifier:DIR``
    (a folder written by ``train feature-extractor``)."""
    name = ALIASES.get(name, name)
    if name.startswith("dinov2"):
        variant = canonical(name)
        if variant is not None:
            return resolve_dinov2(variant, dinov2_weights, dinov2_sha256)
    if name == INCEPTION:
        path = resolve_inception_weights(inception_weights)
        return Extractor(name=INCEPTION, weights_path=path, weights_sha256=file_sha256(path),
                         feature_layer="2048", logits_layer="logits_unbiased", metric_names=dict(INCEPTION_METRICS))
    if name in BUNDLED:
        return classifier_extractor(name, ASSETS / BUNDLED[name])
    if name.startswith("classifier:"):
        folder = Path(name.split(":", 1)[1]).expanduser()
        if (folder / "model").is_dir():
            folder = folder / "model"
        # one torch-fidelity registry name per folder (the registry is global to the process)
        tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
        return classifier_extractor(f"dive-bench-classifier-{tag}", folder)
    hint = did_you_mean(name, [INCEPTION, *BUNDLED, *ALIASES, *DINOV2_EXTRACTORS], n=2)
    raise DiveBenchError(f"unknown feature extractor {name!r}.{hint} Available: {', '.join(available_extractors())}")
