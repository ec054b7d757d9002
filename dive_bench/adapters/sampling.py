"""The sampling loop through the Adapter interface, seeded per sample.

Every sample draws its initial noise and any stochastic sampler noise from its own CPU
``torch.Generator`` seeded from ``(seed, sample index)``. A sample therefore depends only on its
own seed and label, never on which batch, worker or device ran it, which is what lets the sample
cache resume and lets two machines split a run. The scheduler is rebuilt per batch from the
adapter's ``alphas_cumprod`` (so any adapter's training schedule is honoured) and the model is
driven through ``predict_noise`` with condition embeddings, the same entry point DIVE uses, so
guidance can use the model's own classifier-free null row.

``Adapter.sample`` runs this loop; the fidelity metrics (``fidelity/sampling.py``: sample cache,
labels, configuration) sit above it, so adapters never import the fidelity package.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..seeding import sample_seed  # noqa: F401  (re-exported)

from ..errors import DiveBenchError

SAMPLERS = ("ddim", "ddpm", "dpm")
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
