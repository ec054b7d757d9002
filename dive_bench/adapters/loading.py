"""Loading diffusers components from a local folder or a hub id, with errors a user can act on."""

from __future__ import annotations

import importlib.util

import json
import os
from pathlib import Path
from typing import Any

import torch

from dive_bench.errors import DiveBenchError
from dive_bench.adapters.base import NoiseSchedule
from dive_bench.adapters.parameterization import DDPM, EDM, Flow, Parameterization, from_name


def looks_local(spec: str) -> bool:
    """A spec is a local path if it exists or is written like one; otherwise it is a hub id."""
    return (os.path.exists(spec) or os.path.exists(spec.partition("?")[0]) or spec.startswith((".", "/", "~"))
            or spec.count("/") > 1)


#: what to do with a folder whose config.json names another model class, by that class
OTHER_CLASS_FIX = {
    "DiTTransformer2DModel": "load it with dit:DIR", "Transformer2DModel": "load it with dit:DIR",
    "UNet2DModel": "load it with unet:DIR", "LayoutDiT": "load it with layout:DIR",
    "LayoutPrior": "it is a layout prior: load the layout model's folder (the one above it) with layout:DIR",
    "AutoencoderKL": "it is a VAE: give it to an original checkpoint as dit:FILE.pt?vae=DIR, or put it in a "
                     "pipeline folder's vae/",
    "ClassifierNet": "it is a feature extractor for fidelity (--feature-extractor), not a diffusion model",
}
#: what the user wrote that loads each class (for messages)
TAKEN_BY = {"DiTTransformer2DModel": "dit:", "UNet2DModel": "unet:", "LayoutDiT": "layout:",
            "AutoencoderKL": "the vae= option"}
#: config class names each loadable class accepts (diffusers' older DiT pipelines say Transformer2DModel)
ACCEPTS = {"DiTTransformer2DModel": ("DiTTransformer2DModel", "Transformer2DModel")}


def local_folder(source: str, subfolder: str | None, cls: Any) -> Path:
    """The folder a local ``source`` names, refused in one line when it is a file or absent.

    A single weights file is an original DiT/SiT checkpoint, which only dit:/sit: convert; the
    ``?key=value`` options exist only for those files, so a folder spec carrying them is one too."""
    raw = Path(source).expanduser()
    base, _, query = source.partition("?")
    if raw.is_file() or (query and not raw.exists() and Path(base).expanduser().is_file()):
        takes = TAKEN_BY.get(cls.__name__, "this loader")
        raise DiveBenchError(f"{Path(base).expanduser() if query else raw} is a single file, but {takes} takes a "
                             f"diffusers {cls.__name__} folder (config.json + diffusion_pytorch_model.safetensors) or "
                             "a hub id; an original DiT or SiT .pt/.safetensors file loads with dit:FILE or sit:FILE")
    if query and not raw.exists() and Path(base).expanduser().is_dir():
        raise DiveBenchError(f"options ?{query} apply only to original DiT/SiT checkpoint files (dit:FILE.pt?..., "
                             f"sit:FILE.pt?...); {cls.__name__} folders take none: drop ?{query}")
    path = raw / (subfolder or "")
    if not path.exists():
        raise DiveBenchError(f"checkpoint folder {path} does not exist")
    return path


def load_component(cls: Any, source: str, subfolder: str | None = None, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` with one clear error for offline hubs and corrupt files; a local
    folder's config and tensors are checked first (``models.checkpoint.check_folder``)."""
    where = f"{source}/{subfolder}" if subfolder else source
    if importlib.util.find_spec("accelerate") is None:
        # what diffusers falls back to anyway, said explicitly: without it every load prints a
        # multi-line "install accelerate" warning into the user's output (the CLI's and the API's)
        kwargs.setdefault("low_cpu_mem_usage", False)
    if looks_local(source):
        from dive_bench.models.checkpoint import check_folder

        path = local_folder(source, subfolder, cls)
        check_folder(cls, path, accepts=ACCEPTS.get(cls.__name__), fixes=OTHER_CLASS_FIX)
        try:
            return cls.from_pretrained(str(path), **kwargs)
        except Exception as exc:  # diffusers raises OSError, ValueError, SafetensorError...
            raise DiveBenchError(
                f"could not load {cls.__name__} from {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}. "
                "The weights may be corrupt or truncated; re-export or retrain the checkpoint") from exc
    try:
        return cls.from_pretrained(source, subfolder=subfolder, **kwargs)
    except Exception as exc:
        from dive_bench.util.offline import offline_reason

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


def _scheduler_config(source: str, subfolder: str | None) -> dict:
    """The checkpoint's scheduler_config.json as a dict ({} when there is none)."""
    if looks_local(source):
        path = Path(source).expanduser() / (subfolder or "") / "scheduler_config.json"
        return json.loads(path.read_text()) if path.exists() else {}
    try:
        from diffusers import DDPMScheduler

        return dict(DDPMScheduler.load_config(source, subfolder=subfolder))
    except Exception:
        return {}


def load_parameterization(source: str, subfolder: str | None, schedule: NoiseSchedule,
                          metadata: dict | None = None) -> Parameterization | None:
    """The parameterization a checkpoint declares, or None for an eps-DDPM (the default).

    ``dive_bench.json`` may say it (``"parameterization": {"kind": "flow", ...options}``); else the
    diffusers scheduler config does: a FlowMatch scheduler means flow (network time
    ``num_train_timesteps`` x t), an EDM scheduler means EDM (its sigma_data / sigma range), and
    ``prediction_type`` v_prediction or sample a v or x0 DDPM. Without this a v or flow pipeline
    would be scored as eps: plausible, meaningless numbers."""
    declared = (metadata or {}).get("parameterization")
    if declared:
        options = {k: v for k, v in declared.items() if k not in ("kind", "num_train_timesteps")}
        return from_name(declared["kind"], schedule, **options)
    cfg = _scheduler_config(source, subfolder)
    name = str(cfg.get("_class_name", ""))
    if name.startswith("FlowMatch"):
        return Flow(time_scale=float(cfg.get("num_train_timesteps", 1000)))
    if name.startswith("EDM"):
        if cfg.get("prediction_type", "epsilon") != "epsilon":
            raise DiveBenchError(f"{source}: EDM with prediction_type {cfg['prediction_type']!r} is not supported; "
                                 "dive_bench scores EDM models with the standard (epsilon) preconditioning")
        return EDM(sigma_data=float(cfg.get("sigma_data", 0.5)), sigma_min=float(cfg.get("sigma_min", 0.002)),
                   sigma_max=float(cfg.get("sigma_max", 80.0)))
    prediction = cfg.get("prediction_type", "epsilon")
    return None if prediction == "epsilon" else DDPM(schedule, prediction)


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
