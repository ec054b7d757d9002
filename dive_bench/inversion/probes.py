"""Fixed (timestep, noise) probes and the one scoring primitive, ``denoising_error``.

DIVE's objective, DIVE's monitor and Diffusion Classifier's class scores are all the same
quantity: the noise-prediction error of the model at fixed probes. Keeping one function for it is
what makes the identity "monitor value of a snapped class == enumeration score of that class"
hold by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dive_bench.adapters.base import Adapter
from dive_bench.adapters.parameterization import Parameterization, grid_positions

from dive_bench.spec.configs import LOSSES, WEIGHTINGS  # noqa: F401  (re-exported)


@dataclass
class ProbeSet:
    """Timesteps ``interval/2 + k*interval`` and one seeded noise per timestep.

    The noise bank is shared by all images (as in the released DIVE code and Diffusion
    Classifier), so scores of different images are comparable and a result does not depend on
    which images were processed together.
    """

    timesteps: torch.Tensor  # (P,) the model's own time: long DDPM steps, float flow t or EDM sigma
    noise: torch.Tensor      # (P, *x0_shape) float32

    @classmethod
    def build(cls, x0_shape: tuple[int, ...], *, num_train_timesteps: int = 1000, interval: int = 4,
              seed: int = 42, device: torch.device | str = "cpu",
              parameterization: Parameterization | None = None) -> "ProbeSet":
        """The probes of ``interval`` in ``parameterization``'s time domain (DDPM steps, flow t,
        EDM sigma: ``Parameterization.probe_times``); without one, DDPM steps below
        ``num_train_timesteps``. The noise bank depends only on the shape, count and seed."""
        if parameterization is not None:
            timesteps = parameterization.probe_times(interval)
        else:
            timesteps = grid_positions(interval, num_train_timesteps)
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn((len(timesteps), *x0_shape), generator=g)
        return cls(timesteps.to(device), noise.to(device))

    @classmethod
    def for_adapter(cls, adapter: Adapter, x0_shape: tuple[int, ...], *, interval: int = 4, seed: int = 42,
                    device: torch.device | str = "cpu") -> "ProbeSet":
        """The probes a run scores ``adapter`` on: its own parameterization's time domain."""
        return cls.build(x0_shape, interval=interval, seed=seed, device=device,
                         parameterization=adapter.parameterization)

    def __len__(self) -> int:
        return int(self.timesteps.numel())

    def subset(self, n: int) -> torch.Tensor:
        """Indices of ``n`` probes spread evenly over the timestep range, each the middle of its
        share (one probe is the middle timestep, not the least noised one, which says almost
        nothing about the class); ``n`` = all gives every probe. Nested for growing n is not
        required: callers cache per-probe errors by index."""
        p = len(self)
        n = max(1, min(n, p))
        return ((torch.arange(n, dtype=torch.float64) + 0.5) * p / n).floor().long().clamp(max=p - 1).unique()


def per_sample_loss(pred: torch.Tensor, target: torch.Tensor, loss: str = "l2") -> torch.Tensor:
    pred, target = pred.float(), target.float()
    if loss == "l2":
        err = (pred - target) ** 2
    elif loss == "l1":
        err = (pred - target).abs()
    elif loss == "huber":
        err = F.huber_loss(pred, target, reduction="none")
    else:
        raise ValueError(f"unknown loss {loss!r}; use l2, l1 or huber")
    return err.flatten(1).mean(1)


#: cap of the x0-space weight (1 - a_t) / a_t, which grows without bound as t -> T
MAX_X0_WEIGHT = 20.0


def timestep_weight(adapter: Adapter, t: torch.Tensor, weighting: str) -> torch.Tensor | None:
    """None for plain eps error; for "x0", min(sigma_t^2 / alpha_t^2, 20) (DDPM: (1 - a_t) / a_t;
    flow: t^2 / (1 - t)^2; EDM: sigma^2): the error in x0 space, which puts the weight on
    high-noise timesteps where a layout decides the image."""
    if weighting == "none":
        return None
    if weighting == "x0":
        return adapter.parameterization.inverse_snr(t).clamp(max=MAX_X0_WEIGHT)
    raise ValueError(f"unknown weighting {weighting!r}; use none or x0")


def denoising_error(adapter: Adapter, x0: torch.Tensor, cond: torch.Tensor, t: torch.Tensor,
                    noise: torch.Tensor, loss: str = "l2", weighting: str = "none") -> torch.Tensor:
    """Per-sample noise-prediction error (B,) of ``adapter`` at x0 noised with (t, noise).

    One space for every model family: the error of the eps estimate (``Adapter.predict_noise``,
    which maps a v, x0, flow-velocity or EDM output to eps) against the probe's noise, with ``t``
    in the model's own time domain (see ``adapters/parameterization.py`` for why eps)."""
    x_t = adapter.parameterization.add_noise(x0, noise.to(x0.dtype), t)
    eps = adapter.predict_noise(x_t, t, cond)
    err = per_sample_loss(eps, noise, loss)
    w = timestep_weight(adapter, t, weighting)
    return err if w is None else err * w


def chunked_errors(adapter: Adapter, x0: torch.Tensor, conds: torch.Tensor, triples: torch.Tensor, probes: ProbeSet,
                   chunk: int, loss: str = "l2", weighting: str = "none"):
    """No-grad ``denoising_error`` of many (image, condition, probe) triples, ``chunk`` samples per
    forward pass: yields ``(triples of the chunk, their errors)`` on the CPU in float64, in order.

    The one loop behind enumeration, DIVE's monitor and the layout scores, which differ only in
    which images, conditions and probes they pair: ``triples`` (M, 3) indexes ``x0`` (N, ...),
    ``conds`` (V, L, D) and ``probes``."""
    dev = x0.device
    for start in range(0, len(triples), chunk):
        part = triples[start:start + chunk]
        ii, cc, jj = part.to(dev).unbind(1)
        with torch.no_grad():
            err = denoising_error(adapter, x0[ii], conds[cc], probes.timesteps[jj], probes.noise[jj], loss, weighting)
        yield part, err.double().cpu()
