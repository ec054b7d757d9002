"""A model family's parameterization: its forward process, time domain and prediction target.

Scoring asks three things of a model family, and nothing else:

1. how a probe noises an image: ``x_t = add_noise(x0, eps, time)`` in the model's own time domain;
2. what the network is fed: ``model_inputs(x_t, time) -> (x_in, t_in)`` (EDM scales the input by
   c_in and embeds c_noise = ln(sigma)/4; a diffusers-style flow model embeds 1000 t; SiT embeds
   the reversed time 1 - t);
3. how the network's raw output reads as a noise estimate: ``to_eps(x_t, time, out) -> eps_hat``.

**The error space is eps for every family**: a probe's error is ``loss(eps_hat, eps)`` with ``eps``
the probe's own noise. Why eps: for an eps-DDPM it *is* Diffusion Classifier's and DIVE's score,
bit for bit (``to_eps`` returns the output tensor itself), and for any family
``|eps_hat - eps|^2 = SNR(time) |x0_hat - x0|^2``, the per-noise-level term of the eps-form ELBO.
Averaged over probes laid out like the model's own training distribution of noise levels (uniform
steps for DDPM, uniform t for flow, EDM's log-normal sigma), the score is the model's own
"simple" eps objective: a weighted ELBO (Kingma & Gao 2023), i.e. a likelihood-style score per
class, whatever the family. Optional weighting "x0" multiplies by ``inverse_snr`` (sigma^2/alpha^2,
capped at 20 in ``probes``), which turns the eps error into the x0 error, again for every family.

Time domains (``probe_times(interval)``, the probes' fixed times):
- ``DDPM``: integer steps ``interval/2 + k*interval`` below T (the paper's grid);
- ``Flow``: x_t = (1 - t) x0 + t eps, v = eps - x0 (diffusers' FlowMatchEuler sign), t on the
  same grid divided by 1000, so t in (0, 1), uniform, noise at t = 1;
- ``EDM``: x = x0 + sigma eps, sigma = exp(P_mean + P_std * Phi^-1(u)) at the same grid's u in (0, 1):
  the quantiles of EDM's training log-normal.
The same ``--interval`` therefore gives the same number of probes in every family.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch

from dive_bench.errors import DiveBenchError


@dataclass
class NoiseSchedule:
    """DDPM forward process: x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps, with a_t = alphas_cumprod[t]."""

    alphas_cumprod: torch.Tensor
    num_train_timesteps: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_train_timesteps = int(self.alphas_cumprod.numel())

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t at integer steps ``t`` (B,)."""
        a = self.alphas_cumprod.to(x0.device)[t].to(x0.dtype).view(-1, *([1] * (x0.ndim - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise


#: the nominal grid ``--interval`` divides for continuous-time families (as DDPM's T = 1000)
GRID = 1000


def grid_positions(interval: int, size: int = GRID) -> torch.Tensor:
    """Integer positions ``interval/2 + k*interval`` below ``size``: the paper's probe grid."""
    if interval < 1 or interval > size:
        raise DiveBenchError(f"--interval (interval) must be in [1, {size}] for a model with {size} timesteps "
                             f"(probes at interval/2 + k*interval), got {interval}")
    return torch.arange(interval // 2, size, interval, dtype=torch.long)


def _col(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-sample (B,) tensor shaped to broadcast over ``like`` (B, ...), in its dtype."""
    return v.to(like.device, like.dtype).view(-1, *([1] * (like.ndim - 1)))


class Parameterization(ABC):
    """What a model predicts and in which time domain (see the module docstring)."""

    #: "ddpm-eps", "ddpm-v", "ddpm-x0", "flow" or "edm"
    kind: str
    #: size of the grid ``--interval`` divides (DDPM: T; continuous families: 1000)
    num_train_timesteps: int = GRID
    #: sampler names this family runs (``sampling.py``); "ddim" is the first-order deterministic one
    samplers: tuple[str, ...] = ()

    @abstractmethod
    def probe_times(self, interval: int) -> torch.Tensor:
        """The probes' fixed times (P,) in this model's time domain."""

    @abstractmethod
    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t of the forward process at times ``t`` (B,)."""

    def model_inputs(self, x_t: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(network input, network time) for a state x_t at time t; identity unless preconditioned."""
        return x_t, t

    @abstractmethod
    def to_eps(self, x_t: torch.Tensor, t: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The network's raw output read as an estimate of the noise in x_t."""

    @abstractmethod
    def inverse_snr(self, t: torch.Tensor) -> torch.Tensor:
        """sigma_t^2 / alpha_t^2 (B,): the factor that turns an eps error into an x0 error."""

    @abstractmethod
    def train_times(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` times drawn from this family's usual training distribution (for training tiny
        models in tests and reference checkpoints; the probes follow the same distribution)."""

    @abstractmethod
    def train_target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the raw network output regresses onto (plain MSE) at ``add_noise(x0, noise, t)``."""

    def describe(self) -> dict:
        """What is recorded in ``info()`` and, for every family but eps-DDPM, in the run key."""
        return {"kind": self.kind}

    def check_sampler(self, name: str) -> None:
        if name not in self.samplers:
            raise DiveBenchError(f"sampler {name!r} does not run a {self.kind} model; use one of "
                                 f"{', '.join(self.samplers)}")


@dataclass
class DDPM(Parameterization):
    """Discrete DDPM time; the network predicts eps, v (= alpha eps - sigma x0) or x0."""

    schedule: NoiseSchedule
    prediction: str = "epsilon"
    samplers = ("ddim", "ddpm", "dpm")

    PREDICTIONS = {"epsilon": "ddpm-eps", "v_prediction": "ddpm-v", "sample": "ddpm-x0"}

    def __post_init__(self) -> None:
        if self.prediction not in self.PREDICTIONS:
            raise DiveBenchError(f"unknown DDPM prediction {self.prediction!r}; use one of "
                                 f"{', '.join(self.PREDICTIONS)} (diffusers' prediction_type names)")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.PREDICTIONS[self.prediction]

    @property
    def num_train_timesteps(self) -> int:  # type: ignore[override]
        return self.schedule.num_train_timesteps

    def probe_times(self, interval: int) -> torch.Tensor:
        return grid_positions(interval, self.num_train_timesteps)

    def add_noise(self, x0, noise, t):
        return self.schedule.add_noise(x0, noise, t)

    def _alpha_sigma(self, t: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = _col(self.schedule.alphas_cumprod.to(like.device)[t], like)
        return a.sqrt(), (1 - a).sqrt()

    def to_eps(self, x_t, t, out):
        if self.prediction == "epsilon":
            return out  # the output itself: eps-DDPM scores stay bit-identical
        alpha, sigma = self._alpha_sigma(t, out)
        if self.prediction == "v_prediction":
            return sigma * x_t.to(out.dtype) + alpha * out
        return (x_t.to(out.dtype) - alpha * out) / sigma

    def inverse_snr(self, t):
        a = self.schedule.alphas_cumprod.to(t.device)[t]
        return (1 - a) / a

    def train_times(self, n, generator):
        return torch.randint(0, self.num_train_timesteps, (n,), generator=generator)

    def train_target(self, x0, noise, t):
        if self.prediction == "epsilon":
            return noise
        if self.prediction == "sample":
            return x0
        alpha, sigma = self._alpha_sigma(t, x0)
        return alpha * noise - sigma * x0

    def describe(self) -> dict:
        return {"kind": self.kind, "num_train_timesteps": self.num_train_timesteps}


@dataclass
class Flow(Parameterization):
    """Rectified flow: x_t = (1 - t) x0 + t eps, t in [0, 1]; the network predicts the velocity.

    ``data_at_one``: the SiT convention (x_t = t x_data + (1 - t) noise, network time t, velocity
    data - noise); dive_bench's own time and velocity are then 1 - t and minus the output.
    ``time_scale``: what the network embeds per unit of time (1000 in diffusers/SD3, 1 in SiT)."""

    time_scale: float = 1000.0
    data_at_one: bool = False
    kind = "flow"
    samplers = ("ddim", "euler", "heun")

    def probe_times(self, interval: int) -> torch.Tensor:
        return grid_positions(interval).double().div(GRID).float()

    def add_noise(self, x0, noise, t):
        tt = _col(t, x0)
        return (1 - tt) * x0 + tt * noise

    def model_inputs(self, x_t, t):
        return x_t, ((1 - t) if self.data_at_one else t) * self.time_scale

    def velocity(self, out: torch.Tensor) -> torch.Tensor:
        """The output as v = eps - x0 (diffusers' FlowMatch sign)."""
        return -out if self.data_at_one else out

    def to_eps(self, x_t, t, out):
        # x_t = (1 - t) x0 + t eps and v = eps - x0 give eps = x_t + (1 - t) v
        return x_t.to(out.dtype) + (1 - _col(t, out)) * self.velocity(out)

    def inverse_snr(self, t):
        return (t / (1 - t)) ** 2

    def train_times(self, n, generator):
        return torch.rand(n, generator=generator)

    def train_target(self, x0, noise, t):
        return self.velocity(noise - x0)  # the output that reads as v = eps - x0 (sign flip is its own inverse)

    def describe(self) -> dict:
        return {"kind": self.kind, "time_scale": self.time_scale, "data_at_one": self.data_at_one}


@dataclass
class EDM(Parameterization):
    """Karras et al. 2022: x = x0 + sigma eps; the network F is preconditioned,
    D(x; sigma) = c_skip x + c_out F(c_in x; ln(sigma)/4), with diffusers' EDM coefficients."""

    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    kind = "edm"
    samplers = ("ddim", "euler", "dpm")

    def probe_times(self, interval: int) -> torch.Tensor:
        u = grid_positions(interval).double() / GRID
        # u = 0 at interval 1: the first quantile is then taken half a grid cell in
        u = u.clamp(min=0.5 / GRID)
        return torch.exp(self.p_mean + self.p_std * torch.special.ndtri(u)).float()

    def add_noise(self, x0, noise, t):
        return x0 + _col(t, x0) * noise

    def _c(self, sigma: torch.Tensor, like: torch.Tensor):
        s = _col(sigma, like)
        sd2 = self.sigma_data ** 2
        return sd2 / (s ** 2 + sd2), s * self.sigma_data / (s ** 2 + sd2).sqrt(), 1 / (s ** 2 + sd2).sqrt(), s

    def model_inputs(self, x_t, t):
        _, _, c_in, _ = self._c(t, x_t)
        return c_in * x_t, 0.25 * torch.log(t)

    def to_eps(self, x_t, t, out):
        c_skip, c_out, _, s = self._c(t, out)
        x = x_t.to(out.dtype)
        return (x - (c_skip * x + c_out * out)) / s

    def inverse_snr(self, t):
        return t ** 2

    def train_times(self, n, generator):
        return torch.exp(self.p_mean + self.p_std * torch.randn(n, generator=generator))

    def train_target(self, x0, noise, t):
        # D = c_skip x + c_out F = x0  <=>  F = (x0 - c_skip x) / c_out (EDM's effective target;
        # its loss weight times c_out^2 is 1, so plain MSE on F is EDM's loss)
        c_skip, c_out, _, _ = self._c(t, x0)
        return (x0 - c_skip * self.add_noise(x0, noise, t)) / c_out

    def describe(self) -> dict:
        return {"kind": self.kind, "sigma_data": self.sigma_data, "p_mean": self.p_mean, "p_std": self.p_std,
                "sigma_min": self.sigma_min, "sigma_max": self.sigma_max}


def from_name(kind: str, schedule=None, **options) -> Parameterization:
    """A parameterization by its kind name (``ddpm-eps``, ``ddpm-v``, ``ddpm-x0``, ``flow``, ``edm``)."""
    ddpm = {v: k for k, v in DDPM.PREDICTIONS.items()}
    if kind in ddpm:
        if schedule is None:
            raise DiveBenchError(f"a {kind} parameterization needs the model's DDPM schedule")
        return DDPM(schedule, ddpm[kind])
    if kind == "flow":
        return Flow(**options)
    if kind == "edm":
        return EDM(**options)
    raise DiveBenchError(f"unknown parameterization {kind!r}; use one of "
                         f"{', '.join([*ddpm, 'flow', 'edm'])}")


__all__ = ["DDPM", "EDM", "Flow", "GRID", "Parameterization", "from_name", "grid_positions"]
