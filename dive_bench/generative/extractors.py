"""Feature extractors for the fidelity metrics, and the honest handling of their weights.

Two kinds:

- ``inception-v3-compat`` (torch-fidelity's TF-ported Inception, the ADM evaluator's network),
  used for all four metrics so FID, IS, KID and precision/recall follow one convention. Its
  weights come from, in order: ``--inception-weights PATH`` / ``$DIVE_BENCH_INCEPTION_WEIGHTS``,
  the file torch-fidelity itself downloads into ``$TORCH_HOME/hub/checkpoints/``, or (online
  only) torch-fidelity's own download. Offline with none of them we stop with one message that
  says how to get the file, rather than run with other weights and print different numbers.
- in-domain classifiers (``fmnist-classifier`` and ``canvas-classifier``, bundled; ``classifier:DIR``
  for one trained by ``dive-bench train feature-extractor``), registered into torch-fidelity as
  custom extractors. Their scores carry the dataset in the metric name (``fd_fmnist``,
  ``fd_canvas``, ``is_fmnist``, ...) so they can never land in an Inception FID column.
- DINOv2 ViTs (``dinov2-vit-l14``, ``-b14``; ``generative.dinov2``): FD only, named ``fd_dinov2``,
  with EDM2's preprocessing through a timm model and local weights (``--dinov2-weights``).

The sha256 of the weights file is recorded with every number and keys the reference cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import ASSETS, file_sha256
from dive_bench.util.offline import is_offline as _offline

INCEPTION = "inception-v3-compat"
WEIGHTS_ENV = "DIVE_BENCH_INCEPTION_WEIGHTS"
#: bundled in-domain extractors: name -> folder under dive_bench/assets
BUNDLED = {"fmnist-classifier": "fmnist-classifier", "canvas-classifier": "canvas-classifier"}
ALIASES = {"inception": INCEPTION, "fmnist": "fmnist-classifier", "canvas": "canvas-classifier"}
#: metric names for Inception; in-domain extractors use the ``fd`` name and a dataset suffix
INCEPTION_METRICS = {"fid": "fid", "is": "is", "kid": "kid", "precision": "precision", "recall": "recall"}


def inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def hub_checkpoint_path() -> Path:
    """Where torch-fidelity's own download puts the file (``$TORCH_HOME/hub/checkpoints/``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / inception_url().rsplit("/", 1)[-1]


def _how_to_get() -> str:
    return (f"download {inception_url()} (92 MB) on a machine with internet and pass --inception-weights PATH "
            f"(or set ${WEIGHTS_ENV}=PATH, or copy it to {hub_checkpoint_path().parent}/); or score with an "
            "in-domain extractor, e.g. --feature-extractor fmnist-classifier")


def _load_inception_state(source, path: Path) -> dict:
    """The state dict in ``source`` (a path or a file object holding ``path``'s bytes), loaded the
    safe way (``weights_only=True``: no pickled code runs), and checked to be an Inception state
    dict; else one DiveBenchError naming ``path``."""
    import pickle

    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable weights file
        if isinstance(exc, EOFError) and path.is_file() and path.stat().st_size == 0:
            why = "the file is empty"
        elif isinstance(exc, pickle.UnpicklingError):
            # torch's own message suggests weights_only=False, i.e. running the file's code: never that
            why = "it is not a plain tensor state dict (a pickle that needs code to load, or not a torch file)"
        else:
            detail = " ".join(str(exc).split())[:120]
            why = f"{type(exc).__name__}{': ' + detail if detail else ''}; not a torch state dict file"
        raise DiveBenchError(f"Inception weights {path} cannot be loaded as a plain state dict ({why}); "
                             f"{_how_to_get()}") from exc
    if not isinstance(state, dict) or "Conv2d_1a_3x3.conv.weight" not in state or "fc.weight" not in state:
        raise DiveBenchError(f"{path} is not an inception-v3-compat state dict (missing Conv2d_1a_3x3 / fc); "
                             f"{_how_to_get()}")
    return state


def _check_inception_file(path: Path) -> None:
    """Open the file the safe way (no pickled code) and check it is an Inception state dict."""
    _load_inception_state(path, path)


def verified_inception_state(path: Path, sha256: str) -> dict:
    """The state dict of ``path`` if its bytes still hash to ``sha256`` (the hash the run records),
    loaded with ``weights_only=True``. Read once: the bytes that are hashed are the bytes loaded."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DiveBenchError(f"cannot read the Inception weights {path} ({exc.strerror or exc}); {_how_to_get()}") from exc
    if hashlib.sha256(data).hexdigest() != sha256:
        raise DiveBenchError(f"Inception weights {path} changed while this command ran (sha256 no longer "
                             f"{sha256[:12]}...); rerun the command with the file you mean to use")
    return _load_inception_state(io.BytesIO(data), path)


def resolve_inception_weights(path: str | Path | None = None) -> Path:
    """The Inception weights file to use (see module docstring), or one clear DiveBenchError."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        p = Path(given).expanduser()
        if not p.is_file():
            source = "--inception-weights" if path else f"${WEIGHTS_ENV}"
            raise DiveBenchError(f"{source} points at {p}, which does not exist; {_how_to_get()}")
        _check_inception_file(p)
        return p
    cached = hub_checkpoint_path()
    if cached.is_file():
        _check_inception_file(cached)
        return cached
    if _offline():
        raise DiveBenchError(f"no Inception-v3 weights available offline (HF_HUB_OFFLINE/DIVE_BENCH_OFFLINE is set "
                             f"and {cached} does not exist); {_how_to_get()}")
    try:  # torch-fidelity's own URL and location, so torch-fidelity finds the file afterwards
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(inception_url(), str(cached), progress=True)
    except Exception as exc:  # noqa: BLE001 - network errors come in many types
        raise DiveBenchError(f"could not download the Inception-v3 weights ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else 'no detail'}); {_how_to_get()}") from exc
    _check_inception_file(cached)
    return cached


@dataclass(frozen=True)
class Extractor:
    """A resolved feature extractor: what to ask torch-fidelity for, and how to name its scores."""

    name: str                 #: name registered in torch-fidelity
    weights_path: Path
    weights_sha256: str
    feature_layer: str        #: FD / KID / precision-recall
    logits_layer: str | None  #: Inception Score (None: no logits, no IS)
    metric_names: dict = field(default_factory=dict)  #: fid/is/kid/precision/recall -> reported name
    #: builds the torch-fidelity extractor itself (DINOv2: a timm model, not a registry entry)
    builder: Callable | None = field(default=None, compare=False, repr=False)

    def create(self, device: torch.device):
        from torch_fidelity.utils import create_feature_extractor

        if self.builder is not None:
            return self.builder(self, device)
        weights = str(self.weights_path)
        if self.name == INCEPTION:
            # torch-fidelity 0.4 loads this argument with torch.load(weights_only=False), which runs any
            # code pickled into a file. So it never gets the user's file: it gets a copy in memory,
            # written by torch.save from the state dict loaded here with weights_only=True (tensors
            # only), from the same bytes whose sha256 the run records.
            state = verified_inception_state(self.weights_path, self.weights_sha256)
            weights = io.BytesIO()
            torch.save(state, weights)
            weights.seek(0)
        return create_feature_extractor(self.name, [self.feature_layer, self.logits_layer],
                                        cuda=device.type == "cuda", verbose=False,
                                        feature_extractor_weights_path=weights,
                                        feature_extractor_compile=False)

    def record(self) -> dict:
        """What run.json stores about the extractor."""
        return {"name": self.name, "weights_sha256": self.weights_sha256, "weights_file": self.weights_path.name,
                "feature_layer": self.feature_layer, "logits_layer": self.logits_layer}


# -- in-domain classifiers as torch-fidelity feature extractors ---------------------------------------------

def _classifier_extractor_class():
    from torch_fidelity import FeatureExtractorBase

    from dive_bench.generative.classifier_net import SmallClassifier

    class ClassifierFeatureExtractor(FeatureExtractorBase):
        """A dive_bench ``SmallClassifier`` behind torch-fidelity's extractor interface: uint8
        (B, 3 or 1, H, W) in; global-average-pooled penultimate features and logits out."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            folder = feature_extractor_weights_path or (ASSETS / BUNDLED[name])
            folder = Path(folder)
            self.net = SmallClassifier.load(folder.parent if folder.is_file() else folder)
            self.requires_grad_(False)
            self.eval()

        @staticmethod
        def get_provided_features_list():
            return ("penultimate", "logits")

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits"}.get(metric, "penultimate")

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 28, 28, dtype=torch.uint8)

        def forward(self, x):
            if x.dtype != torch.uint8 or x.dim() != 4:
                raise ValueError(f"expected uint8 (B, C, H, W) images, got {x.dtype} {tuple(x.shape)}")
            cfg = self.net.config
            x = x.float() / 255.0
            if x.shape[1] != cfg.in_channels:
                if cfg.in_channels != 1:
                    raise ValueError(f"extractor expects {cfg.in_channels} channels, got {x.shape[1]}")
                x = x.mean(1, keepdim=True)  # grayscale repeated to RGB comes back exactly
            if x.shape[-1] != cfg.image_size or x.shape[-2] != cfg.image_size:
                x = torch.nn.functional.interpolate(x, size=(cfg.image_size, cfg.image_size), mode="bilinear",
                                                    antialias=True, align_corners=False)
            feats, logits = self.net.features_and_logits(x)
            out = {"penultimate": feats, "logits": logits}
            return tuple(out[f] for f in self.features_list)

    return ClassifierFeatureExtractor


def register_classifier_extractor(name: str) -> None:
    """Register ``name`` in torch-fidelity's extractor registry (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, _classifier_extractor_class())


def classifier_extractor(name: str, folder: Path) -> Extractor:
    weights = folder / "model.safetensors"
    if not weights.is_file():
        hint = "reinstall dive_bench" if name in BUNDLED else "train one with `dive-bench train feature-extractor --out DIR`"
        raise DiveBenchError(f"feature extractor {name!r} has no weights at {weights}; {hint}")
    meta = {}
    if (folder / "dive_bench.json").is_file():
        meta = json.loads((folder / "dive_bench.json").read_text())
    dataset = str(meta.get("dataset") or name.split("-")[0]).replace("-", "_")
    register_classifier_extractor(name)
    return Extractor(name=name, weights_path=weights, weights_sha256=file_sha256(weights),
                     feature_layer="penultimate", logits_layer="logits",
                     metric_names={"fid": f"fd_{dataset}", "is": f"is_{dataset}", "kid": f"kid_{dataset}",
                                   "precision": f"precision_{dataset}", "recall": f"recall_{dataset}"})


#: the last extractor network built, by (name, weights sha256, feature layer, device): a run extracts
#: the generated set and (without a cached reference) the reference through the same network, and
#: building it means reading and hashing its weights (Inception: 100 MB), which at small N costs
#: more than the forward passes (benchmarks/test_bench_feature_rate.py)
_NETWORK: dict[tuple, object] = {}


def network(extractor: Extractor, device):
    """``extractor.create(device)``, built once while the same extractor is asked for again."""
    key = (extractor.name, extractor.weights_sha256, extractor.feature_layer, str(device))
    if key not in _NETWORK:
        _NETWORK.clear()  # one network at a time: a sweep over extractors does not pile them up
        _NETWORK[key] = extractor.create(device)
    return _NETWORK[key]
