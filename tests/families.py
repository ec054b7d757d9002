"""The parameterization of each model family under test, shared by adapters/test_families.py and
inversion/test_inversion.py (which checks invariant 1 in every family)."""

from __future__ import annotations

from dive_bench.adapters.base import NoiseSchedule
from dive_bench.adapters.parameterization import DDPM, EDM, Flow


def ddpm_schedule() -> NoiseSchedule:
    """diffusers' linear DDPM schedule (1000 steps), the one the eps/v/x0 families use here."""
    from diffusers import DDPMScheduler

    return NoiseSchedule(DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").alphas_cumprod.float())


def family(name: str):
    """The parameterization of each family under test (``sit`` = SiT's reversed-time flow)."""
    return {"ddpm-eps": lambda: DDPM(ddpm_schedule(), "epsilon"),
            "ddpm-v": lambda: DDPM(ddpm_schedule(), "v_prediction"),
            "ddpm-x0": lambda: DDPM(ddpm_schedule(), "sample"), "flow": Flow, "sit": lambda: Flow(1.0, True),
            "edm": EDM}[name]()


FAMILIES = ("ddpm-eps", "ddpm-v", "ddpm-x0", "flow", "sit", "edm")
