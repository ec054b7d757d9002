"""The sampling loop through the Adapter interface, seeded per sample.

Every sample draws its initial noise and any stochastic sampler noise from its own CPU
``torch.Generator`` seeded from ``(seed, sample index)``. A sample therefore depends only on its
own seed and label, never on which batch, worker or device ran it, which is what lets the sample
cache resume and lets two machines split a run. The scheduler is rebuilt per batch from the
adapter's ``alphas_cumprod`` (so any adapter's training schedule is honoured) and the model is
driven through ``predict_noise`` with condition embeddings, the same entry point DIVE uses, so
guidance can use the model's own classifier-free null row.

``Adapter.sample`` runs this loop; the fidelity metrics (``generative/sampling.py``: sample cache,
labels, configuration) sit above it, so adapters never import the fidelity package.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dive_bench.util.seeding import sample_seed  # noqa: F401  (re-exported)

from dive_bench.errors import DiveBenchError
from dive_bench.spec.run_options import SAMPLERS  # noqa: F401  (every sampler name, declared once)

#: bump when the sampling code changes what a given seed produces (part of the sample cache's config)
SAMPLER_VERSION = 1


def build_scheduler(kind: str, alphas_cumprod: torch.Tensor, *, clip_sample: bool):
    """A fresh diffusers scheduler for the model's own training schedule.

    The betas are recovered from ``alphas_cumprod`` so a non-linear or custom schedule is kept.
    Timesteps use "trailing" spacing, which starts at the last training step (t = T-1) and so
    really starts from pure noise at small step counts (Lin et al. 2024).
    """
    from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

    a = alphas_cumprod.detach().double().cpu()
    betas = (1 - a / torch.cat([a.new_ones(1), a[:-1]])).clamp(0, 0.999).float().numpy()
    common = dict(num_train_timesteps=len(a), trained_betas=betas, prediction_type="epsilon",
                  timestep_spacing="trailing")
    if kind == "ddim":
        return DDIMScheduler(**common, clip_sample=clip_sample, set_alpha_to_one=True)
    if kind == "ddpm":
        return DDPMScheduler(**common, clip_sample=clip_sample, variance_type="fixed_small")
    if kind == "dpm":
        return DPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2)
    raise DiveBenchError(f"unknown sampler {kind!r}; use one of {', '.join(SAMPLERS)}")


def build_continuous_scheduler(kind: str, parameterization):
    """A diffusers scheduler for a flow or EDM model.

    Flow: FlowMatchEuler (``ddim``/``euler``: on x_t = (1 - t) x0 + t eps a DDIM step *is* an
    Euler step in t, exactly) or FlowMatchHeun, shift 1, t from 1 to 0. EDM: EDMEuler (``ddim``/
    ``euler``: DDIM on x = x0 + sigma eps is Euler in sigma) or EDM DPM-Solver++ 2M, Karras sigmas
    between the model's sigma_min and sigma_max, its sigma_data."""
    from diffusers import (EDMDPMSolverMultistepScheduler, EDMEulerScheduler, FlowMatchEulerDiscreteScheduler,
                           FlowMatchHeunDiscreteScheduler)

    parameterization.check_sampler(kind)
    if parameterization.kind == "flow":
        if kind == "heun":
            return FlowMatchHeunDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    p = parameterization
    common = dict(sigma_min=p.sigma_min, sigma_max=p.sigma_max, sigma_data=p.sigma_data, prediction_type="epsilon")
    if kind == "dpm":
        return EDMDPMSolverMultistepScheduler(**common, algorithm_type="dpmsolver++", solver_order=2)
    return EDMEulerScheduler(**common)


def _continuous_loop(adapter, x: torch.Tensor, cond: torch.Tensor, gens, *, steps: int, scheduler: str,
                     guidance_scale: float, both: torch.Tensor | None) -> torch.Tensor:
    """Flow / EDM sampling: the scheduler's sigma is dive_bench's time (flow t, EDM sigma); the
    network runs at ``parameterization.model_inputs`` and its raw output goes to the scheduler
    (flow: as v = eps - x0; EDM: as F, which the scheduler preconditions with the same c_skip,
    c_out). Guidance mixes raw outputs, which is the same as mixing eps at a fixed x_t."""
    p = adapter.parameterization
    sched = build_continuous_scheduler(scheduler, p)
    sched.set_timesteps(steps)
    x = x * getattr(sched, "init_noise_sigma", 1.0)  # flow-matching schedulers start at x = eps
    for t in sched.timesteps:
        if hasattr(sched, "precondition_inputs"):
            sched.scale_model_input(x, t)  # EDM schedulers track whether the input was scaled
        # the schedulers' timesteps encode sigma: 1000 sigma (flow), ln(sigma) / 4 (EDM)
        sigma = t.double() / 1000 if p.kind == "flow" else torch.exp(4 * t.double())
        time = sigma.float().to(x.device).expand(len(x))
        x_in, t_in = p.model_inputs(x, time)
        if both is not None:
            out_c, out_u = adapter.model_output(torch.cat([x_in, x_in]), torch.cat([t_in, t_in]), both).chunk(2)
            out = out_u + guidance_scale * (out_c - out_u)
        else:
            out = adapter.model_output(x_in, t_in, cond)
        out = p.velocity(out) if p.kind == "flow" else out
        x = sched.step(out.float(), t, x.float(), generator=gens if len(gens) > 1 else gens[0]).prev_sample
    return x


def to_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 [0, 255] (the same rounding as diffusers' numpy_to_pil)."""
    return ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


@torch.no_grad()
def sample_from_condition(adapter, cond: torch.Tensor, seeds: Sequence[int], *, steps: int = 50,
                          guidance_scale: float = 1.0, scheduler: str = "ddim",
                          null_cond: torch.Tensor | None = None) -> torch.Tensor:
    """Images (B, C, H, W) uint8 from condition embeddings ``cond`` (B, L, D).

    ``null_cond`` (1, L, D) is the unconditional condition for classifier-free guidance
    eps = eps_null + g (eps_cond - eps_null); it is required when ``guidance_scale != 1``.
    """
    if len(seeds) != len(cond):
        raise DiveBenchError(f"{len(cond)} conditions but {len(seeds)} seeds: give one seed per sample")
    if steps < 1:
        raise DiveBenchError(f"--steps must be at least 1, not {steps}")
    guided = guidance_scale != 1.0
    if guided and null_cond is None:
        raise DiveBenchError(
            f"guidance scale {guidance_scale} needs an unconditional (null) condition, but model "
            f"{getattr(adapter, 'name', '?')!r} has no classifier-free null row; sample with --guidance 1")
    device = cond.device
    shape = tuple(adapter.sample_shape())
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    x = torch.cat([torch.randn((1, *shape), generator=g) for g in gens]).to(device)
    p = getattr(adapter, "parameterization", None)
    if p is not None and p.kind in ("flow", "edm"):
        both = None
        if guided:
            both = torch.cat([cond, null_cond.to(cond.dtype).expand(len(cond), *null_cond.shape[1:])])
        x = _continuous_loop(adapter, x, cond, gens, steps=steps, scheduler=scheduler,
                             guidance_scale=guidance_scale, both=both)
        return to_uint8(adapter.decode(x))
    if p is not None:
        p.check_sampler(scheduler)
    sched = build_scheduler(scheduler, adapter.schedule.alphas_cumprod,
                            clip_sample=adapter.sample_shape() == tuple(adapter.image_shape))
    sched.set_timesteps(steps)
    x = x * sched.init_noise_sigma
    if guided:
        both = torch.cat([cond, null_cond.to(cond.dtype).expand(len(cond), *null_cond.shape[1:])])
    for t in sched.timesteps:
        inp = sched.scale_model_input(x, t)
        tt = torch.full((len(x),), int(t), dtype=torch.long, device=device)
        if guided:
            eps_c, eps_u = adapter.predict_noise(torch.cat([inp, inp]), torch.cat([tt, tt]), both).chunk(2)
            eps = eps_u + guidance_scale * (eps_c - eps_u)
        else:
            eps = adapter.predict_noise(inp, tt, cond)
        # per-sample generators: a stochastic sampler's noise for sample i comes from its own stream
        x = sched.step(eps.float(), t, x.float(), generator=gens if len(gens) > 1 else gens[0]).prev_sample
    return to_uint8(adapter.decode(x))
