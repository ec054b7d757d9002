"""Where a run executes: device, precision (autocast), and the environment recorded with results.

None of this enters a run's key except precision (it changes predictions; see spec.RunSpec).
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
from pathlib import Path

import torch

from dive_bench.util.version import __version__
from dive_bench.errors import DiveBenchError

#: --dtype -> autocast dtype (fp32: no autocast)
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, dtype: str):
    """The autocast context of ``--dtype`` on ``device`` (a no-op for fp32)."""
    return torch.autocast(device.type, dtype=DTYPES[dtype]) if DTYPES.get(dtype) else contextlib.nullcontext()


def git_sha() -> str | None:
    try:
        proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=5)
        return proc.stdout.strip() if proc.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def resolve_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise DiveBenchError(f"--device {device!r} is not a device torch knows; use cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise DiveBenchError(f"--device {device!r} is not supported; use cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DiveBenchError(f"--device {device} requested but CUDA is not available on this machine; use --device cpu")
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        dev = torch.device(f"cuda:{int(os.environ['LOCAL_RANK'])}")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DiveBenchError(f"--device {dev} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DiveBenchError("--device mps requested but MPS is not available on this machine; use --device cpu")
    return dev


def environment() -> dict:
    """Where a result was computed (never part of its key)."""
    return {"dive_bench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "host": socket.gethostname(), "git_sha": git_sha(),
            "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def set_threads(n: int) -> None:
    """``--threads N`` (0: torch's default). One place for every command that computes, so
    several processes on a small box can each be pinned to one thread (FACTS: 1 thread per
    process beat 2 under load)."""
    if n < 0:
        raise DiveBenchError(f"--threads must be >= 0 (0: torch's default), got {n}")
    if n:
        torch.set_num_threads(n)
