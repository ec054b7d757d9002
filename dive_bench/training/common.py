"""The optimiser step shared by every trainer: linear warmup, gradient clipping, EMA update; and the
divergence stop every trainer applies to its loss."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from dive_bench.errors import DiveBenchError


def optimizer_step(model: torch.nn.Module, ema: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, *,
                   step: int, lr: float, warmup: int, ema_decay: float, clip: float = 1.0) -> None:
    for group in opt.param_groups:
        group["lr"] = lr * min(1.0, (step + 1) / max(warmup, 1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    with torch.no_grad():
        # warm-started EMA: early averages are not dominated by the random initialisation
        decay = min(ema_decay, (1 + step) / (10 + step))
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - decay)


def diverged(loss: float, step: int, lr: float, state_path: Path) -> None:
    """Stop a run whose loss is no longer finite: its weights are NaN/inf from here on, and an export
    of them would score as silent junk. The last state written (before this step) is kept."""
    if not math.isfinite(loss):
        raise DiveBenchError(f"training diverged: the loss is {loss} at step {step + 1} (lr {lr}); the last checkpoint "
                             f"before it (if any) is kept in {state_path}; train into a new --out with a lower --lr")

