"""Which share of a job this worker takes: ``--shard K/N``, else the launcher's environment.

Why torch-free and here, below every job: scoring splits a task's item blocks and ``sweep`` splits
a training run's checkpoints by the same K/N, read the same way from the same launchers (torchrun
and accelerate set ``RANK``/``WORLD_SIZE``, a SLURM array ``SLURM_ARRAY_TASK_ID``/``COUNT``), so
one command line works for every job under every launcher.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dive_bench.errors import DiveBenchError


def _whole(env: Mapping[str, str], name: str) -> int:
    """``env[name]`` as an int, or one DiveBenchError naming the variable."""
    try:
        return int(env[name])
    except ValueError as exc:
        raise DiveBenchError(f"{name}={env[name]!r} is not a whole number; unset it or pass --shard K/N") from exc


def resolve_shard(text: str | None, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(K, N) from --shard K/N, else torchrun's RANK/WORLD_SIZE, else a SLURM array's task id/count,
    else 0/1; one DiveBenchError naming where an unusable value came from and the fix."""
    env = os.environ if env is None else env
    if text:
        try:
            k, n = (int(v) for v in text.split("/"))
        except ValueError as exc:
            raise DiveBenchError(f"--shard {text!r} must look like K/N, e.g. 0/4") from exc
        source = "--shard"
    elif "WORLD_SIZE" in env and "RANK" in env:
        k, n = _whole(env, "RANK"), _whole(env, "WORLD_SIZE")
        source = "RANK/WORLD_SIZE"
    elif "SLURM_ARRAY_TASK_COUNT" in env and "SLURM_ARRAY_TASK_ID" in env:
        first = _whole(env, "SLURM_ARRAY_TASK_MIN") if "SLURM_ARRAY_TASK_MIN" in env else 0
        k, n = _whole(env, "SLURM_ARRAY_TASK_ID") - first, _whole(env, "SLURM_ARRAY_TASK_COUNT")
        source = "the SLURM array variables"
    else:
        k, n = 0, 1
        source = "the default"  # never out of range
    if n < 1:
        raise DiveBenchError(f"shard {k}/{n} (from {source}) is out of range: N counts the workers, at least 1")
    if not 0 <= k < n:
        raise DiveBenchError(f"shard {k}/{n} (from {source}) is out of range: need 0 <= K < N, workers count from "
                             f"0 (the last of {n} is {n - 1}/{n})")
    return k, n
