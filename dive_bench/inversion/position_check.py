"""Moved to :mod:`dive_bench.diagnostics.position_check` (a gate before inversion, not part of
it); this module keeps the old import path."""

from ..diagnostics.position_check import PERTURBATIONS, perturb, position_sensitivity  # noqa: F401

__all__ = ["PERTURBATIONS", "perturb", "position_sensitivity"]
