"""Reading an original-format DiT / SiT checkpoint file: tensors only, never arbitrary code.

A ``.pt``/``.pth``/``.ckpt`` is read with ``torch.load(weights_only=True, mmap=True)`` (the
training ``args`` Namespace allowed, as DiT/SiT training checkpoints store them), a
``.safetensors`` (by name or by content) once its header is checked against the file's length, so
a damaged or hostile file is one line before any tensor is read into memory. Converting the state
dict into a diffusers model is ``dit_original``'s job; this module only reads the file.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import torch

from dive_bench.errors import DiveBenchError


def _is_safetensors(path: Path) -> bool:
    """By name, or by content: an 8-byte header length, then the JSON header's ``{``."""
    if path.suffix == ".safetensors":
        return True
    with path.open("rb") as f:
        return f.read(9)[8:9] == b"{"


def _torch_load(path: Path):
    """``torch.load`` of tensors only, memory-mapped where the format allows (the zip format), so a
    file is not read into memory before its tensors are checked."""
    allowed = getattr(torch.serialization, "safe_globals", None)
    with (allowed([argparse.Namespace]) if allowed is not None else contextlib.nullcontext()):
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # the legacy format has no mmap


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], object]:
    """The state dict and the training ``args`` stored beside it (None when absent).

    Tensors only: ``weights_only=True`` (argparse.Namespace allowed, as DiT/SiT training
    checkpoints store their args beside the weights), or a .safetensors file whose header is
    checked against its length first. A training checkpoint gives its ``ema``."""
    if not path.is_file():
        raise DiveBenchError(f"checkpoint file {path} does not exist")
    if _is_safetensors(path):
        from safetensors.torch import load_file

        from dive_bench.models.checkpoint import safetensors_shapes

        safetensors_shapes(path)  # one line for a truncated file or a header claiming huge tensors
        try:
            return {k.removeprefix("module."): v for k, v in load_file(path).items()}, None
        except Exception as exc:  # SafetensorError for what the header check cannot see
            raise DiveBenchError(f"could not read {path} as safetensors ({type(exc).__name__}: "
                                 f"{(str(exc).strip().splitlines() or [''])[0][:160]}); re-download the file") from exc
    try:
        obj = _torch_load(path)
    except Exception as exc:  # UnpicklingError for code in the pickle; RuntimeError/EOFError for corrupt files
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "Unpickl" in type(exc).__name__:
            raise DiveBenchError(
                f"refused to load {path}: it is not a weights-only checkpoint ({first}); dive_bench loads "
                "tensors only, never arbitrary pickled code. If you trust the file, re-save its state dict: "
                "torch.save(torch.load(PATH, weights_only=False)['ema'], 'weights.pt')") from exc
        raise DiveBenchError(f"could not read {path} as a torch checkpoint ({type(exc).__name__}: {first}); "
                             "the file may be truncated or not a PyTorch .pt file") from exc
    args = obj.get("args") if isinstance(obj, dict) else None
    if isinstance(obj, dict):
        for key in ("ema", "model", "state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DiveBenchError(f"{path} holds no state dict of tensors (a dict name -> tensor, or a training "
                             "checkpoint with an 'ema' or 'model' entry); save model.state_dict() instead")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}, args


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of an original checkpoint (see ``read_checkpoint``)."""
    return read_checkpoint(path)[0]
