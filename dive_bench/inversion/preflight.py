"""Refuse a model whose scores would be junk before any item is stored.

A checkpoint with NaN or inf in its weights (a diverged run, a damaged file) does not crash: its
denoising errors are NaN, and NaN scores used to be ranked as if they were numbers (accuracy 0.25
with exit status 0, and ``check`` passed the run). Two checks, both cheap next to a run:

1. every parameter, buffer and vocabulary table is finite (names the first tensor that is not);
2. one image's denoising error at a few probes is finite (names the first module whose output is
   not, found with forward hooks), which catches overflow from finite weights, e.g. under fp16.
"""

from __future__ import annotations

import torch

from dive_bench.adapters.base import Adapter
from dive_bench.errors import DiveBenchError
from dive_bench.inversion.probes import ProbeSet, denoising_error

#: probes of the forward check, spread over the timestep range
CHECK_PROBES = 4


def _first_nonfinite_tensor(adapter: Adapter) -> str | None:
    for kind, table in adapter.vocabulary.items():
        if not torch.isfinite(table).all():
            return f"vocabulary table {kind!r} ({int((~torch.isfinite(table)).sum())} non-finite values)"
    for mname, module in adapter.modules().items():
        for pname, t in [*module.named_parameters(), *module.named_buffers()]:
            if t.is_floating_point() and not torch.isfinite(t).all():
                bad = ~torch.isfinite(t)
                where = f", row {int(bad.nonzero()[0, 0])}" if t.ndim == 2 else ""
                return f"{mname}.{pname} ({int(bad.sum())} non-finite values{where})"
    return None


def _first_nonfinite_module(adapter: Adapter, run) -> str | None:
    """Run ``run()`` with hooks on every submodule; the first (in execution order) whose output
    holds a non-finite value."""
    hit: list[str] = []
    handles = []

    def hook(name):
        def fn(_module, _inputs, output):
            outs = output if isinstance(output, (tuple, list)) else (getattr(output, "sample", output),)
            if not hit and any(isinstance(o, torch.Tensor) and o.is_floating_point() and not torch.isfinite(o).all()
                               for o in outs):
                hit.append(name)
        return fn

    for mname, module in adapter.modules().items():
        for sub, m in module.named_modules():
            handles.append(m.register_forward_hook(hook(f"{mname}.{sub}" if sub else mname)))
    try:
        run()
    finally:
        for h in handles:
            h.remove()
    return hit[0] if hit else None


@torch.no_grad()
def check_finite(adapter: Adapter, x0: torch.Tensor, probes: ProbeSet, model: str, loss: str = "l2",
                 weighting: str = "none") -> None:
    """Raise :class:`DiveBenchError` if ``adapter`` cannot give finite scores; ``x0`` is one
    encoded image (1, ...), scored with the first entry of each slot's vocabulary."""
    bad = _first_nonfinite_tensor(adapter)
    if bad:
        raise DiveBenchError(f"model {model!r} has NaN/inf weights in {bad}: its scores would be junk. The "
                             "checkpoint is damaged or its training diverged; use another checkpoint")
    if not torch.isfinite(x0).all():
        raise DiveBenchError(f"encoding an image with model {model!r} gives NaN/inf; check its VAE and --dtype")
    cond = torch.stack([adapter.vocabulary[kind][0] for kind in adapter.slot_kinds]).unsqueeze(0)
    idx = probes.subset(CHECK_PROBES).to(probes.timesteps.device)
    k = len(idx)

    def run():
        return denoising_error(adapter, x0[:1].expand(k, *x0.shape[1:]), cond.expand(k, *cond.shape[1:]),
                               probes.timesteps[idx], probes.noise[idx], loss, weighting)

    err = run()
    if not torch.isfinite(err).all():
        where = _first_nonfinite_module(adapter, run)
        raise DiveBenchError(f"model {model!r} gives NaN/inf denoising errors on finite weights (first non-finite "
                             f"output: {where or 'after the network, in the error'}); try --dtype fp32, or check "
                             "the checkpoint")
