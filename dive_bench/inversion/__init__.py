"""Scoring a frozen conditional diffusion model on fixed (timestep, noise) probes: DIVE and enumeration."""

from dive_bench.inversion.dive import DiveConfig, InversionResult, invert
from dive_bench.inversion.enumerate import EnumerationConfig, EnumerationResult, enumerate_classes
from dive_bench.inversion.probes import ProbeSet, denoising_error

__all__ = ["DiveConfig", "EnumerationConfig", "EnumerationResult", "InversionResult", "ProbeSet",
           "denoising_error", "enumerate_classes", "invert"]
