"""Loading diffusers components from a local folder or a hub id, with errors a user can act on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import DiveBenchError
from .base import NoiseSchedule


def looks_local(spec: str) -> bool:
    """A spec is a local path if it exists or is written like one; otherwise it is a hub id."""
    return os.path.exists(spec) or spec.startswith((".", "/", "~")) or spec.count("/") > 1


def load_component(cls: Any, source: str, subfolder: str | None = None, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with one clear error for offline hubs and corrupt files."""
    where = f"{source}/{subfolder}" if subfolder else source
    if looks_local(source):
        path = Path(source).expanduser() / (subfolder or "")
        if not path.exists():
            raise DiveBenchError(f"checkpoint folder {path} does not exist")
        try:
            return cls.from_pretrained(str(path), **kwargs)
        except Exception as exc:  # diffusers raises OSError, ValueError, SafetensorError...
            raise DiveBenchError(
                f"could not load {cls.__name__} from {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}. "
                "The weights may be corrupt or truncated; re-export or retrain the checkpoint") from exc
    try:
        return cls.from_pretrained(source, subfolder=subfolder, **kwargs)
    except Exception as exc:
        from ..offline import offline_reason

        reason = offline_reason() or "the Hugging Face Hub is unreachable or the repo is not in the local cache"
        raise DiveBenchError(
            f"cannot load {where!r} from the Hugging Face Hub ({reason}: {type(exc).__name__}). "
            f"On a machine with internet run `huggingface-cli download {source}` (or pass a local folder "
            f"as ADAPTER:/path/to/{source.split('/')[-1]})") from exc


def load_schedule(source: str, subfolder: str | None) -> NoiseSchedule:
    """The checkpoint's DDPM schedule, or DiT's default (linear betas, 1000 steps) when absent."""
    from diffusers import DDPMScheduler

    if looks_local(source):
        base = Path(source).expanduser() / (subfolder or "")
        if (base / "scheduler_config.json").exists():
            sched = DDPMScheduler.from_pretrained(str(base))
            return NoiseSchedule(sched.alphas_cumprod.float())
        return NoiseSchedule(DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())
    try:
        sched = DDPMScheduler.from_pretrained(source, subfolder=subfolder)
    except Exception:
        sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    return NoiseSchedule(sched.alphas_cumprod.float())


def read_metadata(source: str) -> dict:
    """dive_bench.json beside a checkpoint (class names, dataset), if present."""
    if looks_local(source):
        path = Path(source).expanduser() / "dive_bench.json"
        if path.exists():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise DiveBenchError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    return {}


def weight_files(source: str) -> list[Path]:
    if not looks_local(source):
        return []
    base = Path(source).expanduser()
    return sorted(p for p in base.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".ckpt"))


def param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
