"""FD_DINOv2: Frechet distance on DINOv2 ViT CLS features, EDM2's / dgm-eval's protocol.

Why a protocol of our own instead of torch-fidelity 0.4's ``dinov2-vit-*-14`` extractors: those
resize with TF1-style bilinear interpolation (no antialiasing) and raise NotImplementedError for a
local weights file (they only ``torch.hub.load`` from GitHub), so they can neither run offline nor
reproduce the published FD_DINOv2 numbers. EDM2 (``calculate_metrics.py``, DINOv2Detector, modelled
after dgm-eval) resizes uint8 RGB images to 224x224 with ``interpolate(mode="bicubic",
antialias=True)`` on 0..255 floats, divides by 255, normalises with ImageNet mean/std and takes
the ViT's output: the CLS token after the final LayerNorm. :func:`preprocess` does exactly that;
grey images are replicated to 3 channels first (as for every extractor here).

The network is timm's DINOv2 ViT built at ``img_size=224`` (its CLS output is the hub model's
``x_norm_clstoken``). Checkpoints hold the 518x518 (37x37) position grid; it is resampled once to
16x16 the way DINOv2's hub model resamples it at a 224 input (bicubic, scale factor (16 + 0.1) / 37,
no antialiasing) rather than with timm's default (antialiased, exact size), so the features are
those of EDM2's model. Weights: ``--dinov2-weights PATH`` / ``$DIVE_BENCH_DINOV2_WEIGHTS`` (timm's
``model.safetensors`` or Meta's ``dinov2_vit*14_pretrain.pth``), else the Hugging Face cache /
download of timm's checkpoint; offline with none, one error that says how to get the file. The
file's sha256 is recorded with every number, keys the reference cache, and may be pinned with
``--dinov2-sha256`` / ``$DIVE_BENCH_DINOV2_SHA256``. Files load without running code
(safetensors, or ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import file_sha256
from dive_bench.util.offline import is_offline, offline_reason
from dive_bench.generative.extractors import Extractor

WEIGHTS_ENV = "DIVE_BENCH_DINOV2_WEIGHTS"
SHA256_ENV = "DIVE_BENCH_DINOV2_SHA256"
INPUT_SIZE = 224
PATCH = 14
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
#: the hub model's position-embedding resampling offset ("interpolate_offset")
HUB_INTERPOLATE_OFFSET = 0.1
#: metric names: one FD, named apart from Inception's ``fid`` (the extractor is recorded beside it)
METRIC_NAMES = {"fid": "fd_dinov2"}
FEATURE = "cls"


@dataclass(frozen=True)
class Variant:
    """One DINOv2 backbone: the timm architecture and the hub checkpoint it is published as."""

    timm_name: str
    hf_repo: str
    meta_url: str
    dim: int
    #: extra ``timm.create_model`` arguments (tests register small variants, e.g. depth=2)
    overrides: dict = field(default_factory=dict)


def _variant(size: str, dim: int) -> Variant:
    arch = {"s": "small", "b": "base", "l": "large"}[size]
    return Variant(f"vit_{arch}_patch14_dinov2", f"timm/vit_{arch}_patch14_dinov2.lvd142m",
                   f"https://dl.fbaipublicfiles.com/dinov2/dinov2_vit{size}14/dinov2_vit{size}14_pretrain.pth", dim)


VARIANTS: dict[str, Variant] = {"dinov2-vit-l14": _variant("l", 1024), "dinov2-vit-b14": _variant("b", 768),
                                "dinov2-vit-s14": _variant("s", 384)}
ALIASES = {"dinov2": "dinov2-vit-l14", "dinov2-vit-l-14": "dinov2-vit-l14", "dinov2-vit-b-14": "dinov2-vit-b14",
           "dinov2-vit-s-14": "dinov2-vit-s14"}


def canonical(name: str) -> str | None:
    """The variant name for ``name`` (aliases included), or None when it is no DINOv2 extractor."""
    name = ALIASES.get(name, name)
    return name if name in VARIANTS else None


# -- preprocessing (EDM2's protocol) ------------------------------------------------------------------------

def preprocess(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 1|3, H, W) -> float32 (B, 3, 224, 224): grey replicated, bicubic antialiased resize
    of 0..255 values (always, as EDM2 does, even at 224), then /255 and ImageNet mean/std."""
    if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 (B, 1|3, H, W) images, got {x.dtype} {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = torch.nn.functional.interpolate(x.to(torch.float32), size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic",
                                        antialias=True)
    mean = torch.tensor(MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x / 255 - mean) / std


# -- weights --------------------------------------------------------------------------------------------------

def _how_to_get(variant: Variant) -> str:
    return (f"download https://huggingface.co/{variant.hf_repo}/resolve/main/model.safetensors (or Meta's "
            f"{variant.meta_url}) on a machine with internet and pass --dinov2-weights PATH (or set "
            f"${WEIGHTS_ENV}=PATH); or score with an in-domain extractor, e.g. --feature-extractor fmnist-classifier")


def _load_state(data: bytes, path: Path, variant: Variant) -> dict:
    """A tensor state dict from a safetensors or torch file's bytes, loaded without running code."""
    try:
        if len(data) > 8 and data[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
            from safetensors.torch import load as load_safetensors

            return load_safetensors(data)
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means an unusable weights file
        if not data:
            why = "the file is empty"
        elif isinstance(exc, pickle.UnpicklingError):
            why = "it is not a plain tensor state dict (a pickle that needs code to load, or not a torch file)"
        else:
            why = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
        raise DiveBenchError(f"DINOv2 weights {path} cannot be loaded as a plain state dict ({why}); "
                             f"{_how_to_get(variant)}") from exc
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DiveBenchError(f"DINOv2 weights {path} is not a tensor state dict; {_how_to_get(variant)}")
    return state


def _check_architecture(state: dict, path: Path, name: str, variant: Variant) -> None:
    """Fail now (before sampling) when the file is no DINOv2 ViT of this size."""
    patch = state.get("patch_embed.proj.weight")
    expected = (variant.dim, 3, PATCH, PATCH)
    if patch is None or "cls_token" not in state or "pos_embed" not in state or tuple(patch.shape) != expected:
        got = "no patch_embed/cls_token/pos_embed" if patch is None else f"patch embedding {tuple(patch.shape)}"
        raise DiveBenchError(f"{path} is not a {name} state dict ({got}, expected patch embedding {expected}); "
                             f"{_how_to_get(variant)}")


def read_verified(path: Path, name: str, sha256: str) -> dict:
    """The state dict of ``path`` if its bytes hash to ``sha256``. Read once: the bytes hashed are the
    bytes loaded, so the file the run records is the file that computed its numbers."""
    variant = VARIANTS[name]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DiveBenchError(f"cannot read the DINOv2 weights {path} ({exc.strerror or exc}); "
                             f"{_how_to_get(variant)}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise DiveBenchError(f"DINOv2 weights {path} have sha256 {actual[:16]}..., expected {sha256[:16]}...; "
                             f"this is not the file that was asked for. {_how_to_get(variant)}")
    state = _load_state(data, path, variant)
    _check_architecture(state, path, name, variant)
    return state


def _hub_file(variant: Variant) -> Path | None:
    """timm's checkpoint from the Hugging Face cache (offline) or hub (online: the normal download)."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(variant.hf_repo, "model.safetensors", local_files_only=is_offline()))
    except Exception as exc:  # noqa: BLE001 - offline misses and network errors come in many types
        if is_offline():
            return None
        detail = str(exc).splitlines()[0][:120] if str(exc) else "no detail"
        raise DiveBenchError(f"could not download the DINOv2 weights ({type(exc).__name__}: {detail}); "
                             f"{_how_to_get(variant)}") from exc


def resolve_weights(name: str, path: str | Path | None = None, sha256: str | None = None) -> tuple[Path, str]:
    """(weights file, its sha256) for variant ``name``, checked; else one clear DiveBenchError."""
    variant = VARIANTS[name]
    given = path or os.environ.get(WEIGHTS_ENV)
    pin = (sha256 or os.environ.get(SHA256_ENV) or "").strip().lower() or None
    if given:
        p = Path(given).expanduser()
        if not p.is_file():
            source = "--dinov2-weights" if path else f"${WEIGHTS_ENV}"
            raise DiveBenchError(f"{source} points at {p}, which does not exist; {_how_to_get(variant)}")
    else:
        p = _hub_file(variant)
        if p is None:
            raise DiveBenchError(f"no {name} weights available offline ({offline_reason()} and the Hugging Face "
                                 f"cache has no {variant.hf_repo}); {_how_to_get(variant)}")
    digest = file_sha256(p)
    if pin is not None and digest != pin:
        raise DiveBenchError(f"DINOv2 weights {p} have sha256 {digest[:16]}..., not the pinned {pin[:16]}... "
                             f"(--dinov2-sha256 / ${SHA256_ENV}); refusing a different file")
    read_verified(p, name, digest)  # loads safely and checks the architecture before any sampling
    return p, digest


# -- the network ----------------------------------------------------------------------------------------------

def hub_resample_pos_embed(pos_embed: torch.Tensor, grid: int = INPUT_SIZE // PATCH) -> torch.Tensor:
    """(1, 1 + M*M, D) -> (1, 1 + grid*grid, D), as DINOv2's hub model resamples it at forward time
    (bicubic, scale factor (grid + 0.1) / M, no antialiasing), so our 224 model sees its grid."""
    n = pos_embed.shape[1] - 1
    m = int(round(n ** 0.5))
    if m * m != n or m == grid:
        return pos_embed
    cls, patches = pos_embed[:, :1], pos_embed[:, 1:]
    dim = patches.shape[-1]
    scale = (grid + HUB_INTERPOLATE_OFFSET) / m
    patches = torch.nn.functional.interpolate(patches.float().reshape(1, m, m, dim).permute(0, 3, 1, 2),
                                              scale_factor=(scale, scale), mode="bicubic", antialias=False)
    if patches.shape[-2:] != (grid, grid):
        raise DiveBenchError(f"position grid {m}x{m} resampled to {tuple(patches.shape[-2:])}, not {grid}x{grid}")
    patches = patches.permute(0, 2, 3, 1).reshape(1, grid * grid, dim).to(pos_embed.dtype)
    return torch.cat([cls, patches], dim=1)


def build_model(name: str, state: dict | None = None) -> torch.nn.Module:
    """timm's DINOv2 ViT at 224 whose output is the normed CLS token; ``state`` loaded strictly."""
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    variant = VARIANTS[name]
    model = timm.create_model(variant.timm_name, pretrained=False, img_size=INPUT_SIZE, num_classes=0,
                              global_pool="token", **variant.overrides)
    if state is not None:
        state = dict(state)
        state["pos_embed"] = hub_resample_pos_embed(state["pos_embed"])
        try:
            model.load_state_dict(checkpoint_filter_fn(state, model), strict=True)
        except (RuntimeError, KeyError, ValueError) as exc:
            detail = " ".join(str(exc).split())[:160]
            raise DiveBenchError(f"the DINOv2 weights do not fit {name} ({detail}); "
                                 f"{_how_to_get(variant)}") from exc
    return model.eval().requires_grad_(False)


def _feature_extractor_class():
    from torch_fidelity import FeatureExtractorBase

    class DinoV2FeatureExtractor(FeatureExtractorBase):
        """A DINOv2 ViT behind torch-fidelity's extractor interface (uint8 in, CLS features out)."""

        def __init__(self, name, features_list, model: torch.nn.Module | None = None):
            super().__init__(name, features_list)
            self.model = model

        @staticmethod
        def get_provided_features_list():
            return (FEATURE,)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return FEATURE

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE, dtype=torch.uint8)

        def forward(self, x):
            return (self.model(preprocess(x)).to(torch.float32),)

    return DinoV2FeatureExtractor


def _create(extractor: Extractor, device: torch.device):
    name = extractor.name
    state = read_verified(extractor.weights_path, name, extractor.weights_sha256)
    model = build_model(name, state)
    return _feature_extractor_class()(name, [FEATURE], model=model).to(device).eval()


def resolve_dinov2(name: str, weights: str | Path | None = None, sha256: str | None = None) -> Extractor:
    """The resolved extractor for variant ``name``: weights checked now, the network built on use."""
    path, digest = resolve_weights(name, weights, sha256)
    return Extractor(name=name, weights_path=path, weights_sha256=digest, feature_layer=FEATURE,
                     logits_layer=None, metric_names=dict(METRIC_NAMES), builder=_create)


def build_random_dinov2_weights(path: str | Path, name: str, seed: int = 0) -> Path:
    """Write a seeded random-init state dict of variant ``name`` as safetensors, for tests only.

    No DINOv2 weights ship offline, yet the whole path (file hash, safe load, strict load, EDM2's
    preprocessing, CLS features) should run in tests. timm's init sets every layer scale to 1e-5,
    which makes the CLS output the same for all images (FD = 0); layer scales of 1 keep the
    features image-dependent. Numbers from such a file mean nothing beyond the tests."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = build_model(name)
    with torch.no_grad():
        for key, param in model.named_parameters():
            if key.endswith(".gamma"):
                param.fill_(1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path
