"""Scoring a frozen conditional diffusion model on fixed (timestep, noise) probes: DIVE and enumeration."""

from .dive import DiveConfig, InversionResult, invert
from .enumerate import EnumerationConfig, EnumerationResult, enumerate_classes
from .probes import ProbeSet, denoising_error

__all__ = ["DiveConfig", "EnumerationConfig", "EnumerationResult", "InversionResult", "ProbeSet",
           "denoising_error", "enumerate_classes", "invert"]
